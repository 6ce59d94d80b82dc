/* cmocka tests of the NVMe/TCP PDU codec (src/nvme/tcp_pdu.c): CRC32C and digests, encode/decode
 * round trips of every PDU type under every framing, data padding, names of PDU types and fields.
 * The header rejections are in test_tcp_pdu_reject.c. */
#include <errno.h>

#include "test_tcp_pdu.h"

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
	};

	return cmocka_run_group_tests_name("tcp_pdu", tests, NULL, NULL);
}
