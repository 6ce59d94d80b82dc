/* cmocka tests of the NVMe/TCP PDU codec (src/nvme/tcp_pdu.c): CRC32C, encode/decode round trips,
 * header rejections with the TermReq FES/FEI the NVMe/TCP transport spec names, ICReq/ICResp checks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "nvme/tcp_pdu.h"

/* Byte offsets and values below are the NVMe/TCP 1.0 spec's, written out by hand rather than taken
 * from the structs under test, so a layout mistake in tcp_pdu.h shows up as a failure here. */
enum {
	CH_TYPE = 0,
	CH_FLAGS = 1,
	CH_HLEN = 2,
	CH_PDO = 3,
	CH_PLEN = 4,
	F_HDGSTF = 0x01,
	F_DDGSTF = 0x02,
	F_LAST_PDU = 0x04,
	F_SUCCESS = 0x08,
	T_ICREQ = 0x00,
	T_ICRESP = 0x01,
	T_H2C_TERM = 0x02,
	T_C2H_TERM = 0x03,
	T_CMD = 0x04,
	T_RSP = 0x05,
	T_H2C_DATA = 0x06,
	T_C2H_DATA = 0x07,
	T_R2T = 0x09,
	HLEN_IC = 128,
	HLEN_CMD = 72, /* 8-byte common header + 64-byte SQE */
	HLEN_24 = 24, /* TermReq, CapsuleResp, H2CData, C2HData, R2T */
	TERM_MAX_PLEN = 152, /* 24-byte header + at most 128 bytes of the offending PDU header */
	FES_INVALID_HDR = 0x01,
	FES_SEQ = 0x02,
	FES_LIMIT = 0x05,
	FES_UNSUPPORTED = 0x06,
	DGST_HDR = 0x01, /* ICReq/ICResp DGST byte */
	DGST_DATA = 0x02,
};

#define BUF_LEN 9000

/* Encoders write through these, and the decoder reads received bytes through .hdr. */
union pdu {
	uint8_t b[BUF_LEN];
	struct nvme_tcp_hdr hdr;
	struct nvme_tcp_icreq_pdu icreq;
	struct nvme_tcp_icresp_pdu icresp;
	struct nvme_tcp_term_pdu term;
	struct nvme_tcp_cmd_pdu cmd;
	struct nvme_tcp_rsp_pdu rsp;
	struct nvme_tcp_data_pdu data;
	struct nvme_tcp_r2t_pdu r2t;
};

static uint16_t get16(const uint8_t *b, size_t off)
{
	return (uint16_t)(b[off] | b[off + 1] << 8);
}

static uint32_t get32(const uint8_t *b, size_t off)
{
	return (uint32_t)b[off] | (uint32_t)b[off + 1] << 8 | (uint32_t)b[off + 2] << 16 |
	       (uint32_t)b[off + 3] << 24;
}

static void put32(uint8_t *b, size_t off, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[off + i] = (uint8_t)(v >> (8 * i));
}

static void assert_zero_bytes(const uint8_t *b, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (b[i])
			fail_msg("byte %zu is 0x%02x, want 0 (reserved)", i, b[i]);
}

/* An independent bitwise CRC32C (Castagnoli, reflected 0x82F63B78, init and xorout all ones), so digests
 * in encoded PDUs are checked against something other than the function that wrote them. */
static uint32_t ref_crc32c(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t crc = 0xffffffffu;

	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
	}
	return ~crc;
}

/* Where data starts for a receiver that asked for PDA 'pda': the next multiple of (pda+1) dwords. */
static uint32_t spec_pdo(uint8_t pda, uint32_t hdr_total)
{
	uint32_t align = ((uint32_t)pda + 1) * 4;

	return (hdr_total + align - 1) / align * align;
}

/* ---- CRC32C ---- */

struct crc_vector {
	const char *what;
	uint8_t data[32];
	size_t len;
	uint32_t crc;
};

/* "123456789" is the CRC catalogue check value; the 32-byte ones are RFC 3720 appendix B.4. */
static void fill_vectors(struct crc_vector v[5])
{
	memset(v, 0, 5 * sizeof(*v));
	v[0].what = "123456789";
	memcpy(v[0].data, "123456789", 9);
	v[0].len = 9;
	v[0].crc = 0xE3069283u;
	v[1].what = "32 x 00";
	v[1].len = 32;
	v[1].crc = 0x8A9136AAu;
	v[2].what = "32 x FF";
	memset(v[2].data, 0xff, 32);
	v[2].len = 32;
	v[2].crc = 0x62A8AB43u;
	v[3].what = "00..1F";
	for (int i = 0; i < 32; i++)
		v[3].data[i] = (uint8_t)i;
	v[3].len = 32;
	v[3].crc = 0x46DD794Eu;
	v[4].what = "1F..00";
	for (int i = 0; i < 32; i++)
		v[4].data[i] = (uint8_t)(31 - i);
	v[4].len = 32;
	v[4].crc = 0x113FDB5Cu;
}

static void test_crc32c_vectors(void **state)
{
	struct crc_vector v[5];

	(void)state;
	fill_vectors(v);
	for (int i = 0; i < 5; i++) {
		uint32_t got = nvmf_tcp_digest(v[i].data, v[i].len);

		if (got != v[i].crc)
			fail_msg("nvmf_tcp_digest(%s) = 0x%08x, want 0x%08x", v[i].what, got, v[i].crc);
		/* The reference must agree too, or the digest checks further down prove nothing. */
		if (ref_crc32c(v[i].data, v[i].len) != v[i].crc)
			fail_msg("reference CRC32C(%s) is wrong", v[i].what);
	}
}

/* Data digests are computed as data streams in, in arbitrary pieces: every split must give the same result. */
static void test_crc32c_running_and_iov(void **state)
{
	static const char s[] = "123456789";

	(void)state;
	for (size_t cut = 0; cut <= 9; cut++) {
		uint32_t crc = nvmf_tcp_digest_update(NVMF_TCP_DIGEST_INIT, s, cut);

		crc = nvmf_tcp_digest_update(crc, s + cut, 9 - cut);
		assert_int_equal(nvmf_tcp_digest_final(crc), 0xE3069283u);

		struct iovec iov[3] = {
			{ .iov_base = (void *)s, .iov_len = cut },
			{ .iov_base = (void *)(s + cut), .iov_len = 0 },
			{ .iov_base = (void *)(s + cut), .iov_len = 9 - cut },
		};
		assert_int_equal(nvmf_tcp_digest_iov(iov, 3), 0xE3069283u);
	}
	/* CRC32C of nothing is 0: the init and final inversions cancel. */
	assert_int_equal(nvmf_tcp_digest(s, 0), 0);
}

/* HDGST is the CRC32C of the hlen header bytes, sent little-endian; any single flipped bit must be caught. */
static void test_header_digest(void **state)
{
	union pdu u;

	(void)state;
	memset(&u, 0, sizeof(u));
	for (int i = 0; i < HLEN_24; i++)
		u.b[i] = (uint8_t)(i * 37 + 1);
	nvmf_tcp_hdgst_set(u.b, HLEN_24);
	assert_int_equal(get32(u.b, HLEN_24), ref_crc32c(u.b, HLEN_24));
	assert_true(nvmf_tcp_hdgst_ok(u.b, HLEN_24));
	assert_int_equal(u.b[HLEN_24 + 4], 0); /* nothing written past the digest */

	for (int bit = 0; bit < (HLEN_24 + 4) * 8; bit++) {
		u.b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (nvmf_tcp_hdgst_ok(u.b, HLEN_24))
			fail_msg("header digest accepted with bit %d flipped", bit);
		u.b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	assert_true(nvmf_tcp_hdgst_ok(u.b, HLEN_24));
}

/* ---- Round trips ---- */

static void decode_ok(const union pdu *w, enum nvmf_tcp_side rx, const struct nvmf_tcp_framing *f, bool before_ic,
		      struct nvmf_tcp_pdu_layout *l)
{
	struct nvmf_tcp_fatal fatal = { 0 };
	int rc = nvmf_tcp_pdu_decode(&w->hdr, rx, f, before_ic, l, &fatal);

	if (rc)
		fail_msg("decode of type %u rejected: rc %d fes %u fei %u", w->b[CH_TYPE], rc, fatal.fes, fatal.fei);
}

/* An encoded ICReq or ICResp: IC PDUs never carry digests, whatever they negotiate; PFV 1.0, PDA 0,
 * the digests asked for or granted, then MAXR2T or MAXH2CDATA ('value') and zeros. It decodes on
 * the side that receives it as a bare 128-byte header. */
static void check_ic_pdu(const union pdu *u, uint8_t type, bool hd, bool dd, uint32_t value, enum nvmf_tcp_side rx)
{
	const struct nvmf_tcp_framing none = { 0 };
	struct nvmf_tcp_pdu_layout l;

	assert_int_equal(u->b[CH_TYPE], type);
	assert_int_equal(u->b[CH_FLAGS], 0);
	assert_int_equal(u->b[CH_HLEN], HLEN_IC);
	assert_int_equal(u->b[CH_PDO], 0);
	assert_int_equal(get32(u->b, CH_PLEN), HLEN_IC);
	assert_int_equal(get16(u->b, 8), 0); /* PFV 1.0 */
	assert_int_equal(u->b[10], 0); /* HPDA, CPDA */
	assert_int_equal(u->b[11], (hd ? DGST_HDR : 0) | (dd ? DGST_DATA : 0));
	assert_int_equal(get32(u->b, 12), value);
	assert_zero_bytes(u->b, 16, HLEN_IC);

	decode_ok(u, rx, &none, true, &l);
	assert_int_equal(l.type, type);
	assert_int_equal(l.hlen, HLEN_IC);
	assert_int_equal(l.hdr_total, HLEN_IC);
	assert_int_equal(l.plen, HLEN_IC);
	assert_int_equal(l.data_len, 0);
	assert_int_equal(l.pad, 0);
	assert_int_equal(l.ddgst_len, 0);
}

static void test_roundtrip_icreq(void **state)
{
	(void)state;
	for (int dg = 0; dg < 4; dg++) {
		bool hd = dg & 1, dd = dg & 2;
		const uint32_t maxr2t = 0x89abcdefu;
		struct nvmf_tcp_fatal fatal;
		union pdu u;

		memset(&u, 0xa5, sizeof(u));
		assert_int_equal(nvmf_tcp_icreq_encode(&u.icreq, hd, dd, maxr2t), HLEN_IC);
		check_ic_pdu(&u, T_ICREQ, hd, dd, maxr2t, NVMF_TCP_SIDE_TARGET);
		assert_int_equal(nvmf_tcp_icreq_validate(&u.icreq, &fatal), 0);
	}
}

static void test_roundtrip_icresp(void **state)
{
	(void)state;
	for (int dg = 0; dg < 4; dg++) {
		bool hd = dg & 1, dd = dg & 2;
		const uint32_t maxdata = 0x00400000u;
		struct nvmf_tcp_fatal fatal;
		union pdu u;

		memset(&u, 0xa5, sizeof(u));
		assert_int_equal(nvmf_tcp_icresp_encode(&u.icresp, hd, dd, maxdata), HLEN_IC);
		check_ic_pdu(&u, T_ICRESP, hd, dd, maxdata, NVMF_TCP_SIDE_HOST);
		assert_int_equal(nvmf_tcp_icresp_validate(&u.icresp, hd, dd, &fatal), 0);
	}
}

static void test_roundtrip_term(void **state)
{
	static const uint32_t offending[] = { 0, 8, 72, 128, 129, 4096 };
	/* TermReqs carry no digests even on a connection that negotiated them. */
	const struct nvmf_tcp_framing digests = { .hdgst = true, .ddgst = true };

	(void)state;
	for (int side = 0; side < 2; side++) {
		enum nvmf_tcp_side sender = side ? NVMF_TCP_SIDE_HOST : NVMF_TCP_SIDE_TARGET;
		enum nvmf_tcp_side receiver = side ? NVMF_TCP_SIDE_TARGET : NVMF_TCP_SIDE_HOST;

		for (size_t i = 0; i < sizeof(offending) / sizeof(offending[0]); i++) {
			const struct nvmf_tcp_fatal fatal = { .fes = FES_UNSUPPORTED, .fei = 0x12345678u };
			uint32_t carried = offending[i] > 128 ? 128 : offending[i];
			struct nvmf_tcp_pdu_layout l;
			union pdu u;

			memset(&u, 0xa5, sizeof(u));
			assert_int_equal(nvmf_tcp_term_encode(&u.term, sender, &fatal, offending[i]), HLEN_24);
			assert_int_equal(u.b[CH_TYPE], side ? T_H2C_TERM : T_C2H_TERM);
			assert_int_equal(u.b[CH_FLAGS], 0);
			assert_int_equal(u.b[CH_HLEN], HLEN_24);
			assert_int_equal(u.b[CH_PDO], 0);
			assert_int_equal(get32(u.b, CH_PLEN), HLEN_24 + carried);
			assert_true(get32(u.b, CH_PLEN) <= TERM_MAX_PLEN);
			assert_int_equal(get16(u.b, 8), FES_UNSUPPORTED);
			assert_int_equal(get32(u.b, 10), 0x12345678u); /* FEI, bytes 13:10 */
			assert_zero_bytes(u.b, 14, HLEN_24);

			/* A TermReq may end a connection at any point, before or after IC. */
			for (int before_ic = 0; before_ic < 2; before_ic++) {
				decode_ok(&u, receiver, &digests, before_ic, &l);
				assert_int_equal(l.type, u.b[CH_TYPE]);
				assert_int_equal(l.hdr_total, HLEN_24);
				assert_int_equal(l.data_len, carried);
				assert_int_equal(l.ddgst_len, 0);
			}
		}
	}
}

/* FEI carries a field offset only with FES 01h and 06h; for the other statuses it is reserved. */
static void test_term_fei_reserved(void **state)
{
	static const uint16_t reserved_fei[] = { 2, 3, 4, 5 };

	(void)state;
	for (size_t i = 0; i < sizeof(reserved_fei) / sizeof(reserved_fei[0]); i++) {
		const struct nvmf_tcp_fatal fatal = { .fes = reserved_fei[i], .fei = 12 };
		union pdu u;

		memset(&u, 0xa5, sizeof(u));
		nvmf_tcp_term_encode(&u.term, NVMF_TCP_SIDE_TARGET, &fatal, 24);
		assert_int_equal(get16(u.b, 8), reserved_fei[i]);
		assert_int_equal(get32(u.b, 10), 0);
	}
}

/* Lay out a received PDU as it travels: encoded header (+HDGST), zero pad up to PDO, data, DDGST. */
static size_t wire_assemble(union pdu *w, const union pdu *enc, size_t hdr_bytes, size_t data_at,
			    const uint8_t *data, uint32_t len, bool ddgst)
{
	size_t n = data_at;

	memset(w, 0, sizeof(*w));
	memcpy(w->b, enc->b, hdr_bytes);
	memcpy(w->b + n, data, len);
	n += len;
	if (ddgst && len) {
		put32(w->b, n, ref_crc32c(data, len));
		n += 4;
	}
	return n;
}

/* What a receiver must be able to do with the decoded layout: find the header digest, the data and
 * its digest at the right places, with PLEN covering exactly the bytes on the wire. */
static void check_received(const union pdu *w, size_t wire_len, const struct nvmf_tcp_pdu_layout *l,
			   uint8_t type, uint8_t hlen, const struct nvmf_tcp_framing *f, const uint8_t *data,
			   uint32_t len)
{
	uint32_t hdr_total = hlen + (f->hdgst ? 4u : 0u);
	uint32_t pdo = len ? spec_pdo(f->pda, hdr_total) : 0;

	assert_int_equal(l->type, type);
	assert_int_equal(l->hlen, hlen);
	assert_int_equal(l->hdr_total, hdr_total);
	assert_int_equal(l->plen, wire_len);
	assert_int_equal(get32(w->b, CH_PLEN), wire_len);
	assert_int_equal(w->b[CH_PDO], pdo);
	assert_int_equal(!!(w->b[CH_FLAGS] & F_HDGSTF), f->hdgst);
	assert_int_equal(!!(w->b[CH_FLAGS] & F_DDGSTF), f->ddgst && len);
	if (f->hdgst) {
		assert_int_equal(get32(w->b, hlen), ref_crc32c(w->b, hlen));
		assert_true(nvmf_tcp_hdgst_ok(w->b, hlen));
	}
	assert_int_equal(l->data_len, len);
	if (!len)
		return;
	assert_int_equal(l->hdr_total + l->pad, pdo);
	assert_true(pdo % (((uint32_t)f->pda + 1) * 4) == 0);
	assert_memory_equal(w->b + l->hdr_total + l->pad, data, len);
	assert_int_equal(l->ddgst_len, f->ddgst ? 4 : 0);
	if (f->ddgst)
		assert_int_equal(get32(w->b, pdo + len), ref_crc32c(data, len));
}

static const uint8_t pdas[] = { 0, 1, 3, 7, 31 };

static void fill_pattern(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 131 + seed);
}

static void test_roundtrip_capsule_cmd(void **state)
{
	static const uint32_t lens[] = { 0, 1, 512, 4096 };
	static uint8_t data[4096];
	union {
		struct nvme_command c;
		uint8_t raw[64];
	} sqe;

	(void)state;
	fill_pattern(data, sizeof(data), 7);
	fill_pattern(sqe.raw, sizeof(sqe.raw), 3);
	sqe.c.opcode = nvme_cmd_write;
	sqe.c.command_id = 0xbeef;
	sqe.c.nsid = 1;
	for (int dg = 0; dg < 4; dg++) {
		for (size_t p = 0; p < sizeof(pdas); p++) {
			for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
				struct nvmf_tcp_framing f = { .hdgst = dg & 1, .ddgst = dg & 2, .pda = pdas[p],
							      .max_data = 0, .max_incapsule = 4096 };
				uint32_t hdr_total = HLEN_CMD + (f.hdgst ? 4u : 0u);
				struct nvmf_tcp_pdu_layout l;
				size_t sent, n;
				union pdu u, w;

				memset(&u, 0xa5, sizeof(u));
				sqe.c.dptr.length = lens[i];
				sent = nvmf_tcp_cmd_encode(&u.cmd, &f, &sqe.c, lens[i]);
				/* Bytes to send before the data: header, its digest and the padding. */
				assert_int_equal(sent, lens[i] ? spec_pdo(f.pda, hdr_total) : hdr_total);
				assert_int_equal(u.b[CH_TYPE], T_CMD);
				assert_int_equal(u.b[CH_HLEN], HLEN_CMD);
				/* The SQE is bytes 71:08, untouched. */
				assert_memory_equal(u.b + 8, sqe.raw, 64);
				assert_int_equal(u.b[8], nvme_cmd_write);
				assert_int_equal(get16(u.b, 8 + 2), 0xbeef);
				assert_int_equal(get32(u.b, 8 + 24 + 8), lens[i]); /* SGL1 length */

				n = wire_assemble(&w, &u, hdr_total, sent, data, lens[i], f.ddgst);
				decode_ok(&w, NVMF_TCP_SIDE_TARGET, &f, false, &l);
				check_received(&w, n, &l, T_CMD, HLEN_CMD, &f, data, lens[i]);
			}
		}
	}
}

static void test_roundtrip_capsule_resp(void **state)
{
	union {
		struct nvme_completion c;
		uint8_t raw[16];
	} cqe;

	(void)state;
	fill_pattern(cqe.raw, sizeof(cqe.raw), 11);
	cqe.c.command_id = 0x1234;
	cqe.c.status = (uint16_t)(NVME_SC_INVALID_FIELD << 1);
	for (int hd = 0; hd < 2; hd++) {
		const struct nvmf_tcp_framing f = { .hdgst = hd, .ddgst = true };
		struct nvmf_tcp_pdu_layout l;
		union pdu u;

		memset(&u, 0xa5, sizeof(u));
		assert_int_equal(nvmf_tcp_rsp_encode(&u.rsp, hd, &cqe.c), HLEN_24 + (hd ? 4 : 0));
		assert_int_equal(u.b[CH_TYPE], T_RSP);
		assert_int_equal(u.b[CH_HLEN], HLEN_24);
		assert_memory_equal(u.b + 8, cqe.raw, 16); /* the CQE is bytes 23:08 */
		assert_int_equal(get16(u.b, 8 + 12), 0x1234);
		assert_int_equal(get16(u.b, 8 + 14) >> 1, NVME_SC_INVALID_FIELD);

		decode_ok(&u, NVMF_TCP_SIDE_HOST, &f, false, &l);
		check_received(&u, HLEN_24 + (hd ? 4u : 0u), &l, T_RSP, HLEN_24, &f, NULL, 0);
	}
}

static void roundtrip_data(uint8_t type, enum nvmf_tcp_side receiver, uint8_t flags_in, uint8_t flags_out)
{
	static const uint32_t lens[] = { 1, 1000, 4096 };
	static uint8_t data[4096];

	fill_pattern(data, sizeof(data), type);
	for (int dg = 0; dg < 4; dg++) {
		for (size_t p = 0; p < sizeof(pdas); p++) {
			for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
				struct nvmf_tcp_framing f = { .hdgst = dg & 1, .ddgst = dg & 2, .pda = pdas[p],
							      .max_data = 4096 };
				uint32_t hdr_total = HLEN_24 + (f.hdgst ? 4u : 0u);
				struct nvmf_tcp_pdu_layout l;
				size_t sent, n;
				union pdu u, w;

				memset(&u, 0xa5, sizeof(u));
				sent = nvmf_tcp_data_encode(&u.data, type, &f, 0xcafe, 0x0bad, 0x00012000u, lens[i],
							    flags_in);
				assert_int_equal(sent, spec_pdo(f.pda, hdr_total));
				assert_int_equal(u.b[CH_TYPE], type);
				assert_int_equal(u.b[CH_HLEN], HLEN_24);
				assert_int_equal(u.b[CH_FLAGS] & (F_LAST_PDU | F_SUCCESS), flags_out);
				assert_int_equal(get16(u.b, 8), 0xcafe); /* CCCID */
				/* TTAG in H2CData; reserved (so zero) in C2HData */
				assert_int_equal(get16(u.b, 10), type == T_H2C_DATA ? 0x0bad : 0);
				assert_int_equal(get32(u.b, 12), 0x00012000u); /* DATAO */
				assert_int_equal(get32(u.b, 16), lens[i]); /* DATAL */
				assert_zero_bytes(u.b, 20, HLEN_24);

				n = wire_assemble(&w, &u, hdr_total, sent, data, lens[i], f.ddgst);
				decode_ok(&w, receiver, &f, false, &l);
				check_received(&w, n, &l, type, HLEN_24, &f, data, lens[i]);
			}
		}
	}
}

static void test_roundtrip_h2c_data(void **state)
{
	(void)state;
	roundtrip_data(T_H2C_DATA, NVMF_TCP_SIDE_TARGET, F_LAST_PDU, F_LAST_PDU);
	roundtrip_data(T_H2C_DATA, NVMF_TCP_SIDE_TARGET, 0, 0);
}

static void test_roundtrip_c2h_data(void **state)
{
	(void)state;
	roundtrip_data(T_C2H_DATA, NVMF_TCP_SIDE_HOST, F_LAST_PDU | F_SUCCESS, F_LAST_PDU | F_SUCCESS);
	roundtrip_data(T_C2H_DATA, NVMF_TCP_SIDE_HOST, F_LAST_PDU, F_LAST_PDU);
	/* Only LAST_PDU and SUCCESS may be asked for: digest flags follow the framing alone. */
	roundtrip_data(T_C2H_DATA, NVMF_TCP_SIDE_HOST, 0xf7, F_LAST_PDU);
}

static void test_roundtrip_r2t(void **state)
{
	(void)state;
	for (int hd = 0; hd < 2; hd++) {
		const struct nvmf_tcp_framing f = { .hdgst = hd, .ddgst = true };
		struct nvmf_tcp_pdu_layout l;
		union pdu u;

		memset(&u, 0xa5, sizeof(u));
		assert_int_equal(nvmf_tcp_r2t_encode(&u.r2t, hd, 0x4321, 0x0007, 0x00100000u, 0x00020000u),
				 HLEN_24 + (hd ? 4 : 0));
		assert_int_equal(u.b[CH_TYPE], T_R2T);
		assert_int_equal(u.b[CH_HLEN], HLEN_24);
		assert_int_equal(get16(u.b, 8), 0x4321); /* CCCID */
		assert_int_equal(get16(u.b, 10), 0x0007); /* TTAG */
		assert_int_equal(get32(u.b, 12), 0x00100000u); /* R2TO */
		assert_int_equal(get32(u.b, 16), 0x00020000u); /* R2TL */
		assert_zero_bytes(u.b, 20, HLEN_24);

		decode_ok(&u, NVMF_TCP_SIDE_HOST, &f, false, &l);
		check_received(&u, HLEN_24 + (hd ? 4u : 0u), &l, T_R2T, HLEN_24, &f, NULL, 0);
	}
}

/* PDA is 0's based in dwords: data starts at the next multiple of (PDA+1)*4 bytes. */
static void test_data_pad(void **state)
{
	static const uint32_t totals[] = { 24, 28, 72, 76 };

	(void)state;
	for (uint32_t pda = 0; pda <= 31; pda++)
		for (size_t i = 0; i < 4; i++)
			assert_int_equal(nvmf_tcp_data_pad((uint8_t)pda, totals[i]),
					 spec_pdo((uint8_t)pda, totals[i]) - totals[i]);
}

static void test_names(void **state)
{
	static const uint8_t types[] = { T_ICREQ, T_ICRESP, T_H2C_TERM, T_C2H_TERM, T_CMD,
					 T_RSP, T_H2C_DATA, T_C2H_DATA, T_R2T };

	(void)state;
	/* Log lines must tell the PDU types apart. */
	for (size_t i = 0; i < sizeof(types); i++) {
		assert_string_not_equal(nvmf_tcp_pdu_type_name(types[i]), "unknown");
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(nvmf_tcp_pdu_type_name(types[i]), nvmf_tcp_pdu_type_name(types[j]));
	}
	assert_string_equal(nvmf_tcp_pdu_type_name(0x08), "unknown");
	for (uint16_t fes = 1; fes <= 6; fes++)
		assert_string_not_equal(nvmf_tcp_fes_name(fes), "unknown");
	assert_string_equal(nvmf_tcp_fes_name(0), "unknown");
}

/* Offsets are the spec's, written out by hand, as above: a name on the wrong byte is the bug this
 * catches, since log lines and TermReq reports name fields by these. */
static void test_field_names(void **state)
{
	static const struct {
		uint8_t type;
		uint32_t offset;
		const char *name;
	} cases[] = {
		/* The common header, whatever the type, even an unknown one. */
		{ T_C2H_DATA, CH_TYPE, "type" }, { T_RSP, CH_FLAGS, "flags" }, { T_R2T, CH_HLEN, "hlen" },
		{ T_C2H_DATA, CH_PDO, "pdo" }, { T_C2H_DATA, CH_PLEN, "plen" }, { T_RSP, CH_PLEN + 3, "plen" },
		{ 0x0b, CH_TYPE, "type" }, { 0x0b, CH_PLEN + 1, "plen" }, { 0x0b, 8, NULL },
		/* ICReq and ICResp: PFV at 8-9, HPDA/CPDA at 10, DGST at 11, MAXR2T/MAXH2CDATA at 12-15. */
		{ T_ICREQ, 8, "pfv" }, { T_ICREQ, 10, "hpda" }, { T_ICREQ, 11, "digest" },
		{ T_ICREQ, 12, "maxr2t" }, { T_ICRESP, 9, "pfv" }, { T_ICRESP, 10, "cpda" },
		{ T_ICRESP, 11, "digest" }, { T_ICRESP, 12, "maxdata" }, { T_ICRESP, 15, "maxdata" },
		{ T_ICRESP, 16, "reserved" }, { T_ICRESP, 127, "reserved" }, { T_ICRESP, 128, NULL },
		/* TermReqs: FES at 8-9, FEI at 10-13; no header digest ever. */
		{ T_C2H_TERM, 8, "fes" }, { T_H2C_TERM, 10, "fei" }, { T_C2H_TERM, 13, "fei" },
		{ T_C2H_TERM, 14, "reserved" }, { T_C2H_TERM, HLEN_24, NULL },
		/* CapsuleCmd: the SQE from byte 8; its SGL descriptor from SQE byte 24. */
		{ T_CMD, 8, "opcode" }, { T_CMD, 10, "command id" }, { T_CMD, 12, "nsid" },
		{ T_CMD, 8 + 32, "sgl length" }, { T_CMD, 8 + 39, "sgl type" }, { T_CMD, 8 + 40, "cdw10" },
		{ T_CMD, HLEN_CMD - 1, "cdw15" }, { T_CMD, HLEN_CMD, "header digest" }, { T_CMD, HLEN_CMD + 4, NULL },
		/* CapsuleResp: the CQE from byte 8, command id at CQE byte 12, status at 14. */
		{ T_RSP, 8, "result" }, { T_RSP, 8 + 12, "command id" }, { T_RSP, 8 + 14, "status" },
		{ T_RSP, HLEN_24, "header digest" },
		/* Data PDUs and R2T: CCCID 8-9, TTAG 10-11, offset 12-15, length 16-19, reserved 20-23. */
		{ T_C2H_DATA, 8, "cccid" }, { T_H2C_DATA, 10, "ttag" }, { T_C2H_DATA, 12, "data offset" },
		{ T_C2H_DATA, 16, "data length" }, { T_C2H_DATA, 19, "data length" }, { T_C2H_DATA, 20, "reserved" },
		{ T_C2H_DATA, HLEN_24 + 3, "header digest" },
		{ T_R2T, 8, "cccid" }, { T_R2T, 12, "r2t offset" }, { T_R2T, 16, "r2t length" },
		{ T_R2T, 0xffffffffu, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = nvmf_tcp_field_name(cases[i].type, cases[i].offset);

		if (cases[i].name == NULL ? got != NULL : got == NULL || strcmp(got, cases[i].name) != 0)
			fail_msg("type %#x offset %u: got \"%s\", want \"%s\"", cases[i].type, cases[i].offset,
				 got ? got : "(null)", cases[i].name ? cases[i].name : "(null)");
	}

	/* Every offset a validator reports must have a name, or the host's log line would fall back
	 * to a bare byte number. */
	for (uint32_t off = 0; off < HLEN_IC; off++)
		assert_non_null(nvmf_tcp_field_name(T_ICRESP, off));
	for (uint32_t off = 0; off < HLEN_CMD + 4; off++)
		assert_non_null(nvmf_tcp_field_name(T_CMD, off));
}

/* ---- Rejections ---- */

static void expect_fatal_at(int line, const union pdu *u, enum nvmf_tcp_side rx, const struct nvmf_tcp_framing *f,
			    bool before_ic, uint16_t fes, uint32_t fei)
{
	struct nvmf_tcp_fatal fatal = { .fes = 0xffff, .fei = 0xffffffffu };
	struct nvmf_tcp_pdu_layout l;
	int rc = nvmf_tcp_pdu_decode(&u->hdr, rx, f, before_ic, &l, &fatal);

	if (rc != -EPROTO || fatal.fes != fes || fatal.fei != fei)
		fail_msg("line %d: decode gave rc %d fes %u fei %u; want -EPROTO, fes %u, fei %u", line, rc,
			 rc ? fatal.fes : 0, rc ? fatal.fei : 0, fes, fei);
}
#define EXPECT_FATAL(u, rx, f, before_ic, fes, fei) expect_fatal_at(__LINE__, u, rx, f, before_ic, fes, fei)

/* FES 01h reports the byte offset of the offending header field. */
#define EXPECT_BAD_FIELD(u, rx, f, off) expect_fatal_at(__LINE__, u, rx, f, false, FES_INVALID_HDR, off)

static void expect_ok_at(int line, const union pdu *u, enum nvmf_tcp_side rx, const struct nvmf_tcp_framing *f,
			 bool before_ic)
{
	struct nvmf_tcp_fatal fatal = { 0 };
	struct nvmf_tcp_pdu_layout l;
	int rc = nvmf_tcp_pdu_decode(&u->hdr, rx, f, before_ic, &l, &fatal);

	if (rc)
		fail_msg("line %d: decode rejected a valid header: rc %d fes %u fei %u", line, rc, fatal.fes, fatal.fei);
}
#define EXPECT_OK(u, rx, f, before_ic) expect_ok_at(__LINE__, u, rx, f, before_ic)

/* A hand-made common header; fields past it stay zero. */
static void raw_hdr(union pdu *u, uint8_t type, uint8_t flags, uint8_t hlen, uint8_t pdo, uint32_t plen)
{
	memset(u, 0, sizeof(*u));
	u->b[CH_TYPE] = type;
	u->b[CH_FLAGS] = flags;
	u->b[CH_HLEN] = hlen;
	u->b[CH_PDO] = pdo;
	put32(u->b, CH_PLEN, plen);
}

static const struct nvmf_tcp_framing plain = { .max_data = 0x10000, .max_incapsule = 8192 };

static void test_reject_unknown_type(void **state)
{
	static const uint8_t unknown[] = { 0x08, 0x0a, 0x0b, 0x10, 0x7f, 0x80, 0xff };
	union pdu u;

	(void)state;
	for (size_t i = 0; i < sizeof(unknown); i++) {
		raw_hdr(&u, unknown[i], 0, HLEN_24, 0, HLEN_24);
		EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_TARGET, &plain, CH_TYPE);
		EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_HOST, &plain, CH_TYPE);
		expect_fatal_at(__LINE__, &u, NVMF_TCP_SIDE_TARGET, &plain, true, FES_INVALID_HDR, CH_TYPE);
	}
}

/* PDU types that only flow the other way are as invalid as unknown ones. */
static void test_reject_wrong_direction(void **state)
{
	static const struct {
		uint8_t type, hlen;
	} to_host[] = { { T_ICRESP, HLEN_IC }, { T_C2H_TERM, HLEN_24 }, { T_RSP, HLEN_24 },
			{ T_C2H_DATA, HLEN_24 }, { T_R2T, HLEN_24 } },
	  to_target[] = { { T_ICREQ, HLEN_IC }, { T_H2C_TERM, HLEN_24 }, { T_CMD, HLEN_CMD },
			  { T_H2C_DATA, HLEN_24 } };
	union pdu u;

	(void)state;
	for (size_t i = 0; i < sizeof(to_host) / sizeof(to_host[0]); i++) {
		raw_hdr(&u, to_host[i].type, 0, to_host[i].hlen, 0, to_host[i].hlen);
		EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_TARGET, &plain, CH_TYPE);
	}
	for (size_t i = 0; i < sizeof(to_target) / sizeof(to_target[0]); i++) {
		raw_hdr(&u, to_target[i].type, 0, to_target[i].hlen, 0, to_target[i].hlen);
		EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_HOST, &plain, CH_TYPE);
	}
}

static void test_reject_wrong_hlen(void **state)
{
	static const struct {
		uint8_t type, hlen;
		enum nvmf_tcp_side rx;
		bool before_ic;
	} t[] = {
		{ T_ICREQ, HLEN_IC, NVMF_TCP_SIDE_TARGET, true },   { T_ICRESP, HLEN_IC, NVMF_TCP_SIDE_HOST, true },
		{ T_H2C_TERM, HLEN_24, NVMF_TCP_SIDE_TARGET, false }, { T_C2H_TERM, HLEN_24, NVMF_TCP_SIDE_HOST, false },
		{ T_CMD, HLEN_CMD, NVMF_TCP_SIDE_TARGET, false },   { T_RSP, HLEN_24, NVMF_TCP_SIDE_HOST, false },
		{ T_H2C_DATA, HLEN_24, NVMF_TCP_SIDE_TARGET, false }, { T_C2H_DATA, HLEN_24, NVMF_TCP_SIDE_HOST, false },
		{ T_R2T, HLEN_24, NVMF_TCP_SIDE_HOST, false },
	};
	static const int delta[] = { -4, 4, -8, 8 };
	union pdu u;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		for (size_t d = 0; d < 4; d++) {
			uint8_t hlen = (uint8_t)(t[i].hlen + delta[d]);

			raw_hdr(&u, t[i].type, 0, hlen, 0, hlen);
			expect_fatal_at(__LINE__, &u, t[i].rx, &plain, t[i].before_ic, FES_INVALID_HDR, CH_HLEN);
		}
		raw_hdr(&u, t[i].type, 0, 0, 0, 0);
		expect_fatal_at(__LINE__, &u, t[i].rx, &plain, t[i].before_ic, FES_INVALID_HDR, CH_HLEN);
		raw_hdr(&u, t[i].type, 0, 255, 0, 255);
		expect_fatal_at(__LINE__, &u, t[i].rx, &plain, t[i].before_ic, FES_INVALID_HDR, CH_HLEN);
	}
}

static void test_reject_bad_plen(void **state)
{
	const struct nvmf_tcp_framing hd = { .hdgst = true, .max_data = 0x10000, .max_incapsule = 8192 };
	union pdu u;

	(void)state;
	/* Shorter than the header. */
	raw_hdr(&u, T_CMD, 0, HLEN_CMD, 0, HLEN_CMD - 1);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_TARGET, &plain, CH_PLEN);
	raw_hdr(&u, T_CMD, 0, HLEN_CMD, 0, 0);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_TARGET, &plain, CH_PLEN);
	raw_hdr(&u, T_H2C_DATA, 0, HLEN_24, 0, HLEN_24 - 1);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_TARGET, &plain, CH_PLEN);
	raw_hdr(&u, T_RSP, 0, HLEN_24, 0, 8);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_HOST, &plain, CH_PLEN);
	/* With header digests the header is hlen + 4: PLEN must cover the digest too. */
	raw_hdr(&u, T_CMD, F_HDGSTF, HLEN_CMD, 0, HLEN_CMD);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_TARGET, &hd, CH_PLEN);
	raw_hdr(&u, T_R2T, F_HDGSTF, HLEN_24, 0, HLEN_24);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_HOST, &hd, CH_PLEN);

	/* PDUs without data must be exactly their header (and digest) long. */
	raw_hdr(&u, T_RSP, 0, HLEN_24, 0, HLEN_24 + 4);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_HOST, &plain, CH_PLEN);
	raw_hdr(&u, T_R2T, F_HDGSTF, HLEN_24, 0, HLEN_24 + 8);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_HOST, &hd, CH_PLEN);
	raw_hdr(&u, T_ICREQ, 0, HLEN_IC, 0, HLEN_IC + 4);
	expect_fatal_at(__LINE__, &u, NVMF_TCP_SIDE_TARGET, &plain, true, FES_INVALID_HDR, CH_PLEN);
	raw_hdr(&u, T_ICRESP, 0, HLEN_IC, 0, HLEN_IC - 1);
	expect_fatal_at(__LINE__, &u, NVMF_TCP_SIDE_HOST, &plain, true, FES_INVALID_HDR, CH_PLEN);

	/* Data digest negotiated: a data PDU whose PLEN leaves no data before the digest. */
	{
		const struct nvmf_tcp_framing dd = { .ddgst = true, .max_data = 0x10000 };

		raw_hdr(&u, T_H2C_DATA, F_DDGSTF, HLEN_24, HLEN_24, HLEN_24 + 4);
		EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_TARGET, &dd, CH_PLEN);
		raw_hdr(&u, T_H2C_DATA, F_DDGSTF, HLEN_24, HLEN_24, HLEN_24 + 5);
		EXPECT_OK(&u, NVMF_TCP_SIDE_TARGET, &dd, false);
	}
}

/* TermReq length: 24-byte header plus at most 128 bytes, 152 in all. Out-of-range lengths must be
 * refused; the status is not pinned because the spec wants the connection dropped without a reply. */
static void test_term_plen_bounds(void **state)
{
	struct nvmf_tcp_pdu_layout l;
	struct nvmf_tcp_fatal fatal;
	union pdu u;

	(void)state;
	raw_hdr(&u, T_H2C_TERM, 0, HLEN_24, 0, HLEN_24);
	EXPECT_OK(&u, NVMF_TCP_SIDE_TARGET, &plain, false);
	raw_hdr(&u, T_H2C_TERM, 0, HLEN_24, 0, TERM_MAX_PLEN);
	EXPECT_OK(&u, NVMF_TCP_SIDE_TARGET, &plain, false);
	raw_hdr(&u, T_H2C_TERM, 0, HLEN_24, 0, TERM_MAX_PLEN + 1);
	assert_int_equal(nvmf_tcp_pdu_decode(&u.hdr, NVMF_TCP_SIDE_TARGET, &plain, false, &l, &fatal), -EPROTO);
	raw_hdr(&u, T_C2H_TERM, 0, HLEN_24, 0, HLEN_24 - 1);
	assert_int_equal(nvmf_tcp_pdu_decode(&u.hdr, NVMF_TCP_SIDE_HOST, &plain, false, &l, &fatal), -EPROTO);
}

/* HDGST mismatches are found by nvmf_tcp_hdgst_ok once the header is in (the decoder sees only the
 * 8-byte common header); the receiver then sends FES 03h. */
static void test_reject_bad_header_digest(void **state)
{
	const struct nvmf_tcp_framing f = { .hdgst = true, .ddgst = true, .max_data = 0x10000, .max_incapsule = 8192 };
	struct nvme_command sqe = { .opcode = nvme_cmd_read, .command_id = 9 };
	struct nvme_completion cqe = { .command_id = 9 };
	union pdu u;

	(void)state;
	/* Corrupting a field the common-header decoder does not look at: only the digest can tell. */
	nvmf_tcp_cmd_encode(&u.cmd, &f, &sqe, 0);
	EXPECT_OK(&u, NVMF_TCP_SIDE_TARGET, &f, false);
	assert_true(nvmf_tcp_hdgst_ok(u.b, HLEN_CMD));
	u.b[8 + 2] ^= 0x01; /* command id */
	EXPECT_OK(&u, NVMF_TCP_SIDE_TARGET, &f, false);
	assert_false(nvmf_tcp_hdgst_ok(u.b, HLEN_CMD));

	nvmf_tcp_rsp_encode(&u.rsp, true, &cqe);
	u.b[HLEN_24 + 3] ^= 0x80; /* the digest itself */
	EXPECT_OK(&u, NVMF_TCP_SIDE_HOST, &f, false);
	assert_false(nvmf_tcp_hdgst_ok(u.b, HLEN_24));

	nvmf_tcp_data_encode(&u.data, nvme_tcp_h2c_data, &f, 1, 2, 0, 512, F_LAST_PDU);
	u.b[12] ^= 0x10; /* DATAO */
	assert_false(nvmf_tcp_hdgst_ok(u.b, HLEN_24));
	/* The byte order on the wire is little-endian: a big-endian digest is a mismatch. */
	nvmf_tcp_r2t_encode(&u.r2t, true, 1, 2, 0, 4096);
	put32(u.b, HLEN_24, __builtin_bswap32(ref_crc32c(u.b, HLEN_24)));
	assert_false(nvmf_tcp_hdgst_ok(u.b, HLEN_24));
	put32(u.b, HLEN_24, ref_crc32c(u.b, HLEN_24));
	assert_true(nvmf_tcp_hdgst_ok(u.b, HLEN_24));
}

static void test_reject_bad_pdo(void **state)
{
	const struct nvmf_tcp_framing hd = { .hdgst = true, .max_data = 0x10000, .max_incapsule = 8192 };
	const struct nvmf_tcp_framing pda7 = { .pda = 7, .max_data = 0x10000, .max_incapsule = 8192 };
	union pdu u;

	(void)state;
	/* Data may not start inside the header ... */
	raw_hdr(&u, T_H2C_DATA, 0, HLEN_24, 16, HLEN_24 + 100);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_TARGET, &plain, CH_PDO);
	raw_hdr(&u, T_H2C_DATA, 0, HLEN_24, 0, HLEN_24 + 100);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_TARGET, &plain, CH_PDO);
	/* ... nor inside the header digest ... */
	raw_hdr(&u, T_H2C_DATA, F_HDGSTF, HLEN_24, HLEN_24, HLEN_24 + 4 + 100);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_TARGET, &hd, CH_PDO);
	raw_hdr(&u, T_CMD, F_HDGSTF, HLEN_CMD, HLEN_CMD, HLEN_CMD + 4 + 64);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_TARGET, &hd, CH_PDO);
	/* ... nor past the end of the PDU. */
	raw_hdr(&u, T_H2C_DATA, 0, HLEN_24, 200, HLEN_24 + 100);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_TARGET, &plain, CH_PDO);
	raw_hdr(&u, T_C2H_DATA, 0, HLEN_24, 200, HLEN_24 + 100);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_HOST, &plain, CH_PDO);

	/* PDA 7 asks for 32-byte aligned data: after a 24-byte header PDO must be 32. */
	raw_hdr(&u, T_H2C_DATA, 0, HLEN_24, HLEN_24, HLEN_24 + 100);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_TARGET, &pda7, CH_PDO);
	raw_hdr(&u, T_H2C_DATA, 0, HLEN_24, 40, 40 + 100);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_TARGET, &pda7, CH_PDO);
	raw_hdr(&u, T_H2C_DATA, 0, HLEN_24, 64, 64 + 100);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_TARGET, &pda7, CH_PDO);
	raw_hdr(&u, T_H2C_DATA, 0, HLEN_24, 32, 32 + 100);
	EXPECT_OK(&u, NVMF_TCP_SIDE_TARGET, &pda7, false);
	/* Properly aligned, but past a PLEN that ends inside the padding. */
	raw_hdr(&u, T_H2C_DATA, 0, HLEN_24, 32, 30);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_TARGET, &pda7, CH_PDO);
	/* No alignment asked for (PDA 0): data follows the header (and digest) with no gap. */
	raw_hdr(&u, T_H2C_DATA, 0, HLEN_24, HLEN_24 + 4, HLEN_24 + 4 + 100);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_TARGET, &plain, CH_PDO);
	raw_hdr(&u, T_CMD, F_HDGSTF, HLEN_CMD, HLEN_CMD + 8, HLEN_CMD + 8 + 64);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_TARGET, &hd, CH_PDO);
	raw_hdr(&u, T_CMD, 0, HLEN_CMD, HLEN_CMD, HLEN_CMD + 64);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_TARGET, &pda7, CH_PDO);
	raw_hdr(&u, T_CMD, 0, HLEN_CMD, 96, 96 + 64);
	EXPECT_OK(&u, NVMF_TCP_SIDE_TARGET, &pda7, false);

	/* PDUs that never carry data have PDO 0. */
	raw_hdr(&u, T_RSP, 0, HLEN_24, HLEN_24, HLEN_24);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_HOST, &plain, CH_PDO);
	raw_hdr(&u, T_R2T, 0, HLEN_24, 1, HLEN_24);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_HOST, &plain, CH_PDO);
	raw_hdr(&u, T_ICREQ, 0, HLEN_IC, 4, HLEN_IC);
	expect_fatal_at(__LINE__, &u, NVMF_TCP_SIDE_TARGET, &plain, true, FES_INVALID_HDR, CH_PDO);
	raw_hdr(&u, T_ICRESP, 0, HLEN_IC, HLEN_IC, HLEN_IC);
	expect_fatal_at(__LINE__, &u, NVMF_TCP_SIDE_HOST, &plain, true, FES_INVALID_HDR, CH_PDO);
	/* A command without in-capsule data has no data to point at. */
	raw_hdr(&u, T_CMD, 0, HLEN_CMD, 8, HLEN_CMD);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_TARGET, &plain, CH_PDO);
}

/* HDGSTF/DDGSTF must say exactly what the connection negotiated, on the PDU types that carry them. */
static void test_reject_digest_flags(void **state)
{
	const struct nvmf_tcp_framing hd = { .hdgst = true, .max_data = 0x10000, .max_incapsule = 8192 };
	const struct nvmf_tcp_framing dd = { .ddgst = true, .max_data = 0x10000, .max_incapsule = 8192 };
	union pdu u;

	(void)state;
	/* Header digest negotiated but the flag missing, and the reverse. */
	raw_hdr(&u, T_CMD, 0, HLEN_CMD, 0, HLEN_CMD + 4);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_TARGET, &hd, CH_FLAGS);
	raw_hdr(&u, T_CMD, F_HDGSTF, HLEN_CMD, 0, HLEN_CMD + 4);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_TARGET, &plain, CH_FLAGS);
	raw_hdr(&u, T_R2T, 0, HLEN_24, 0, HLEN_24 + 4);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_HOST, &hd, CH_FLAGS);
	raw_hdr(&u, T_RSP, F_HDGSTF, HLEN_24, 0, HLEN_24 + 4);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_HOST, &plain, CH_FLAGS);
	raw_hdr(&u, T_H2C_DATA, 0, HLEN_24, HLEN_24 + 4, HLEN_24 + 4 + 100);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_TARGET, &hd, CH_FLAGS);

	/* Data digest flag without data digests negotiated. */
	raw_hdr(&u, T_H2C_DATA, F_DDGSTF, HLEN_24, HLEN_24, HLEN_24 + 100 + 4);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_TARGET, &plain, CH_FLAGS);
	raw_hdr(&u, T_CMD, F_DDGSTF, HLEN_CMD, HLEN_CMD, HLEN_CMD + 64 + 4);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_TARGET, &plain, CH_FLAGS);
	/* Data digests negotiated, data present, flag missing. */
	raw_hdr(&u, T_H2C_DATA, 0, HLEN_24, HLEN_24, HLEN_24 + 100);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_TARGET, &dd, CH_FLAGS);
	raw_hdr(&u, T_C2H_DATA, F_LAST_PDU, HLEN_24, HLEN_24, HLEN_24 + 100);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_HOST, &dd, CH_FLAGS);
	raw_hdr(&u, T_CMD, 0, HLEN_CMD, HLEN_CMD, HLEN_CMD + 64);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_TARGET, &dd, CH_FLAGS);
	/* DDGSTF on a PDU that has no data: a data-less command, a response, an R2T. */
	raw_hdr(&u, T_CMD, F_DDGSTF, HLEN_CMD, 0, HLEN_CMD);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_TARGET, &dd, CH_FLAGS);
	raw_hdr(&u, T_RSP, F_DDGSTF, HLEN_24, 0, HLEN_24);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_HOST, &dd, CH_FLAGS);
	raw_hdr(&u, T_R2T, F_DDGSTF, HLEN_24, 0, HLEN_24);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_HOST, &dd, CH_FLAGS);
	/* Data-less command with data digests negotiated and no DDGSTF: fine. */
	raw_hdr(&u, T_CMD, 0, HLEN_CMD, 0, HLEN_CMD);
	EXPECT_OK(&u, NVMF_TCP_SIDE_TARGET, &dd, false);

	/* SUCCESS exists only in C2HData. */
	raw_hdr(&u, T_H2C_DATA, F_LAST_PDU | F_SUCCESS, HLEN_24, HLEN_24, HLEN_24 + 100);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_TARGET, &plain, CH_FLAGS);
	raw_hdr(&u, T_RSP, F_SUCCESS, HLEN_24, 0, HLEN_24);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_HOST, &plain, CH_FLAGS);
	/* SUCCESS replaces the completion, so only the last C2HData may carry it. */
	raw_hdr(&u, T_C2H_DATA, F_SUCCESS, HLEN_24, HLEN_24, HLEN_24 + 100);
	EXPECT_BAD_FIELD(&u, NVMF_TCP_SIDE_HOST, &plain, CH_FLAGS);
	raw_hdr(&u, T_C2H_DATA, F_LAST_PDU | F_SUCCESS, HLEN_24, HLEN_24, HLEN_24 + 100);
	EXPECT_OK(&u, NVMF_TCP_SIDE_HOST, &plain, false);

	/* IC PDUs have no flags at all, digests or not. */
	raw_hdr(&u, T_ICREQ, F_HDGSTF, HLEN_IC, 0, HLEN_IC);
	expect_fatal_at(__LINE__, &u, NVMF_TCP_SIDE_TARGET, &hd, true, FES_INVALID_HDR, CH_FLAGS);
	raw_hdr(&u, T_ICRESP, F_DDGSTF, HLEN_IC, 0, HLEN_IC);
	expect_fatal_at(__LINE__, &u, NVMF_TCP_SIDE_HOST, &dd, true, FES_INVALID_HDR, CH_FLAGS);
}

/* Only ICReq/ICResp (or a TermReq) before initialization, and never IC again after it. FEI is reserved
 * for FES 02h, so it must be 0. */
static void test_reject_sequence(void **state)
{
	union pdu u;

	(void)state;
	raw_hdr(&u, T_CMD, 0, HLEN_CMD, 0, HLEN_CMD);
	EXPECT_FATAL(&u, NVMF_TCP_SIDE_TARGET, &plain, true, FES_SEQ, 0);
	raw_hdr(&u, T_H2C_DATA, 0, HLEN_24, HLEN_24, HLEN_24 + 4);
	EXPECT_FATAL(&u, NVMF_TCP_SIDE_TARGET, &plain, true, FES_SEQ, 0);
	raw_hdr(&u, T_RSP, 0, HLEN_24, 0, HLEN_24);
	EXPECT_FATAL(&u, NVMF_TCP_SIDE_HOST, &plain, true, FES_SEQ, 0);
	raw_hdr(&u, T_R2T, 0, HLEN_24, 0, HLEN_24);
	EXPECT_FATAL(&u, NVMF_TCP_SIDE_HOST, &plain, true, FES_SEQ, 0);
	raw_hdr(&u, T_ICREQ, 0, HLEN_IC, 0, HLEN_IC);
	EXPECT_FATAL(&u, NVMF_TCP_SIDE_TARGET, &plain, false, FES_SEQ, 0);
	raw_hdr(&u, T_ICRESP, 0, HLEN_IC, 0, HLEN_IC);
	EXPECT_FATAL(&u, NVMF_TCP_SIDE_HOST, &plain, false, FES_SEQ, 0);
	raw_hdr(&u, T_H2C_TERM, 0, HLEN_24, 0, HLEN_24);
	EXPECT_OK(&u, NVMF_TCP_SIDE_TARGET, &plain, true);
}

/* More data in one PDU than the receiver allows (MAXH2CDATA, in-capsule size): FES 05h. The limit is on
 * PDU data alone, not on pad or digest. FEI is reserved for 05h and is not pinned here. */
static void expect_limit_at(int line, const union pdu *u, enum nvmf_tcp_side rx, const struct nvmf_tcp_framing *f)
{
	struct nvmf_tcp_fatal fatal = { 0 };
	struct nvmf_tcp_pdu_layout l;
	int rc = nvmf_tcp_pdu_decode(&u->hdr, rx, f, false, &l, &fatal);

	if (rc != -EPROTO || fatal.fes != FES_LIMIT)
		fail_msg("line %d: decode gave rc %d fes %u; want -EPROTO, fes %u", line, rc, rc ? fatal.fes : 0,
			 FES_LIMIT);
}

static void test_reject_data_limits(void **state)
{
	const struct nvmf_tcp_framing lim = { .max_data = 4096, .max_incapsule = 8192 };
	const struct nvmf_tcp_framing lim_dg = { .hdgst = true, .ddgst = true, .pda = 7, .max_data = 4096,
						 .max_incapsule = 8192 };
	union pdu u;

	(void)state;
	raw_hdr(&u, T_H2C_DATA, 0, HLEN_24, HLEN_24, HLEN_24 + 4096);
	EXPECT_OK(&u, NVMF_TCP_SIDE_TARGET, &lim, false);
	raw_hdr(&u, T_H2C_DATA, 0, HLEN_24, HLEN_24, HLEN_24 + 4097);
	expect_limit_at(__LINE__, &u, NVMF_TCP_SIDE_TARGET, &lim);
	raw_hdr(&u, T_C2H_DATA, 0, HLEN_24, HLEN_24, HLEN_24 + 4097);
	expect_limit_at(__LINE__, &u, NVMF_TCP_SIDE_HOST, &lim);
	raw_hdr(&u, T_CMD, 0, HLEN_CMD, HLEN_CMD, HLEN_CMD + 8192);
	EXPECT_OK(&u, NVMF_TCP_SIDE_TARGET, &lim, false);
	raw_hdr(&u, T_CMD, 0, HLEN_CMD, HLEN_CMD, HLEN_CMD + 8193);
	expect_limit_at(__LINE__, &u, NVMF_TCP_SIDE_TARGET, &lim);

	/* Header digest, padding to 32 bytes and data digest around exactly max_data bytes of data. */
	raw_hdr(&u, T_H2C_DATA, F_HDGSTF | F_DDGSTF, HLEN_24, 32, 32 + 4096 + 4);
	EXPECT_OK(&u, NVMF_TCP_SIDE_TARGET, &lim_dg, false);
	raw_hdr(&u, T_H2C_DATA, F_HDGSTF | F_DDGSTF, HLEN_24, 32, 32 + 4097 + 4);
	expect_limit_at(__LINE__, &u, NVMF_TCP_SIDE_TARGET, &lim_dg);
	raw_hdr(&u, T_CMD, F_HDGSTF | F_DDGSTF, HLEN_CMD, 96, 96 + 8192 + 4);
	EXPECT_OK(&u, NVMF_TCP_SIDE_TARGET, &lim_dg, false);
	raw_hdr(&u, T_CMD, F_HDGSTF | F_DDGSTF, HLEN_CMD, 96, 96 + 8193 + 4);
	expect_limit_at(__LINE__, &u, NVMF_TCP_SIDE_TARGET, &lim_dg);
	/* A PLEN near 4 GiB must not wrap around into something small. */
	raw_hdr(&u, T_H2C_DATA, 0, HLEN_24, HLEN_24, 0xffffffffu);
	expect_limit_at(__LINE__, &u, NVMF_TCP_SIDE_TARGET, &lim);
}

/* ---- ICReq / ICResp ---- */

static void expect_ic_fatal_at(int line, int rc, const struct nvmf_tcp_fatal *fatal, uint16_t fes, uint32_t fei)
{
	if (rc != -EPROTO || fatal->fes != fes || fatal->fei != fei)
		fail_msg("line %d: validator gave rc %d fes %u fei %u; want -EPROTO, fes %u, fei %u", line, rc,
			 rc ? fatal->fes : 0, rc ? fatal->fei : 0, fes, fei);
}
#define EXPECT_IC_FATAL(rc, fatal, fes, fei) expect_ic_fatal_at(__LINE__, rc, fatal, fes, fei)

static void test_icreq_validate(void **state)
{
	struct nvmf_tcp_fatal fatal;
	union pdu u;

	(void)state;
	/* PFV other than 1.0 is a parameter we cannot support: FES 06h at its offset, 8. */
	nvmf_tcp_icreq_encode(&u.icreq, false, false, 0);
	u.b[8] = 1;
	EXPECT_IC_FATAL(nvmf_tcp_icreq_validate(&u.icreq, &fatal), &fatal, FES_UNSUPPORTED, 8);
	nvmf_tcp_icreq_encode(&u.icreq, false, false, 0);
	u.b[9] = 1;
	EXPECT_IC_FATAL(nvmf_tcp_icreq_validate(&u.icreq, &fatal), &fatal, FES_UNSUPPORTED, 8);

	/* HPDA 0..31 are valid alignments; 32..255 are reserved values (offset 10). */
	for (unsigned hpda = 0; hpda <= 255; hpda++) {
		nvmf_tcp_icreq_encode(&u.icreq, false, false, 0);
		u.b[10] = (uint8_t)hpda;
		int rc = nvmf_tcp_icreq_validate(&u.icreq, &fatal);

		if (hpda <= 31)
			assert_int_equal(rc, 0);
		else
			EXPECT_IC_FATAL(rc, &fatal, FES_INVALID_HDR, 10);
	}

	/* DGST: bits 0 and 1 request digests, the rest are reserved (offset 11). */
	for (unsigned dgst = 0; dgst <= 255; dgst++) {
		nvmf_tcp_icreq_encode(&u.icreq, false, false, 0);
		u.b[11] = (uint8_t)dgst;
		int rc = nvmf_tcp_icreq_validate(&u.icreq, &fatal);

		if (dgst <= 3)
			assert_int_equal(rc, 0);
		else
			EXPECT_IC_FATAL(rc, &fatal, FES_INVALID_HDR, 11);
	}

	/* MAXR2T is 0's based with no reserved values: every one is acceptable. */
	static const uint32_t maxr2t[] = { 0, 1, 15, 0x7fffffffu, 0xffffffffu };
	for (size_t i = 0; i < sizeof(maxr2t) / sizeof(maxr2t[0]); i++) {
		nvmf_tcp_icreq_encode(&u.icreq, true, true, maxr2t[i]);
		assert_int_equal(get32(u.b, 12), maxr2t[i]);
		assert_int_equal(nvmf_tcp_icreq_validate(&u.icreq, &fatal), 0);
	}
}

static void test_icresp_validate(void **state)
{
	struct nvmf_tcp_fatal fatal;
	union pdu u;

	(void)state;
	nvmf_tcp_icresp_encode(&u.icresp, false, false, 4096);
	assert_int_equal(nvmf_tcp_icresp_validate(&u.icresp, false, false, &fatal), 0);

	nvmf_tcp_icresp_encode(&u.icresp, false, false, 4096);
	u.b[8] = 1;
	EXPECT_IC_FATAL(nvmf_tcp_icresp_validate(&u.icresp, false, false, &fatal), &fatal, FES_UNSUPPORTED, 8);

	/* The Linux host refuses any CPDA other than 0 as unsupported; so do we. */
	nvmf_tcp_icresp_encode(&u.icresp, false, false, 4096);
	u.b[10] = 3;
	EXPECT_IC_FATAL(nvmf_tcp_icresp_validate(&u.icresp, false, false, &fatal), &fatal, FES_UNSUPPORTED, 10);

	/* MAXH2CDATA: a multiple of dwords, at least 4096 (offset 12). */
	static const struct {
		uint32_t maxdata;
		bool ok;
	} md[] = { { 4096, true }, { 4100, true }, { 0x400000, true }, { 0xfffffffcu, true }, { 0, false },
		   { 4092, false }, { 4095, false }, { 4097, false }, { 4098, false }, { 0xffffffffu, false } };
	for (size_t i = 0; i < sizeof(md) / sizeof(md[0]); i++) {
		nvmf_tcp_icresp_encode(&u.icresp, false, false, md[i].maxdata);
		int rc = nvmf_tcp_icresp_validate(&u.icresp, false, false, &fatal);

		if (md[i].ok)
			assert_int_equal(rc, 0);
		else
			EXPECT_IC_FATAL(rc, &fatal, FES_INVALID_HDR, 12);
	}

	/* The controller must enable exactly the digests the host asked for (offset 11). */
	for (int asked = 0; asked < 4; asked++) {
		for (int granted = 0; granted < 4; granted++) {
			nvmf_tcp_icresp_encode(&u.icresp, granted & 1, granted & 2, 0x400000);
			int rc = nvmf_tcp_icresp_validate(&u.icresp, asked & 1, asked & 2, &fatal);

			if (asked == granted)
				assert_int_equal(rc, 0);
			else
				EXPECT_IC_FATAL(rc, &fatal, FES_INVALID_HDR, 11);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_vectors),
		cmocka_unit_test(test_crc32c_running_and_iov),
		cmocka_unit_test(test_header_digest),
		cmocka_unit_test(test_roundtrip_icreq),
		cmocka_unit_test(test_roundtrip_icresp),
		cmocka_unit_test(test_roundtrip_term),
		cmocka_unit_test(test_term_fei_reserved),
		cmocka_unit_test(test_roundtrip_capsule_cmd),
		cmocka_unit_test(test_roundtrip_capsule_resp),
		cmocka_unit_test(test_roundtrip_h2c_data),
		cmocka_unit_test(test_roundtrip_c2h_data),
		cmocka_unit_test(test_roundtrip_r2t),
		cmocka_unit_test(test_data_pad),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_field_names),
		cmocka_unit_test(test_reject_unknown_type),
		cmocka_unit_test(test_reject_wrong_direction),
		cmocka_unit_test(test_reject_wrong_hlen),
		cmocka_unit_test(test_reject_bad_plen),
		cmocka_unit_test(test_term_plen_bounds),
		cmocka_unit_test(test_reject_bad_header_digest),
		cmocka_unit_test(test_reject_bad_pdo),
		cmocka_unit_test(test_reject_digest_flags),
		cmocka_unit_test(test_reject_sequence),
		cmocka_unit_test(test_reject_data_limits),
		cmocka_unit_test(test_icreq_validate),
		cmocka_unit_test(test_icresp_validate),
	};

	return cmocka_run_group_tests_name("tcp_pdu", tests, NULL, NULL);
}
