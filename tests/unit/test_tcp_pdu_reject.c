/* cmocka tests of the NVMe/TCP PDU codec's refusals (src/nvme/tcp_pdu.c): every malformed header
 * rejected with the TermReq FES/FEI the NVMe/TCP transport spec names, and ICReq/ICResp checks. */
#include <errno.h>

#include "test_tcp_pdu.h"

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

	return cmocka_run_group_tests_name("tcp_pdu_reject", tests, NULL, NULL);
}
