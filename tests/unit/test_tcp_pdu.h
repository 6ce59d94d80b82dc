/* What the NVMe/TCP codec's unit tests share (test_tcp_pdu.c, test_tcp_pdu_reject.c): the spec's
 * byte offsets and values written out by hand, a PDU buffer, and small byte helpers. */
#ifndef TIGHTROPE_TEST_TCP_PDU_H
#define TIGHTROPE_TEST_TCP_PDU_H

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

static inline uint16_t get16(const uint8_t *b, size_t off)
{
	return (uint16_t)(b[off] | b[off + 1] << 8);
}

static inline uint32_t get32(const uint8_t *b, size_t off)
{
	return (uint32_t)b[off] | (uint32_t)b[off + 1] << 8 | (uint32_t)b[off + 2] << 16 |
	       (uint32_t)b[off + 3] << 24;
}

static inline void put32(uint8_t *b, size_t off, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[off + i] = (uint8_t)(v >> (8 * i));
}

static inline void assert_zero_bytes(const uint8_t *b, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (b[i])
			fail_msg("byte %zu is 0x%02x, want 0 (reserved)", i, b[i]);
}

/* An independent bitwise CRC32C (Castagnoli, reflected 0x82F63B78, init and xorout all ones), so digests
 * in encoded PDUs are checked against something other than the function that wrote them. */
static inline uint32_t ref_crc32c(const void *buf, size_t len)
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
static inline uint32_t spec_pdo(uint8_t pda, uint32_t hdr_total)
{
	uint32_t align = ((uint32_t)pda + 1) * 4;

	return (hdr_total + align - 1) / align * align;
}

#endif
