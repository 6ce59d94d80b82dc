/* NVMe/TCP PDU layouts (NVMe/TCP transport spec 1.0) and their pure encode/decode/validate functions.
 * No sockets here: callers hand in bytes and get back a verdict, a layout or an encoded header. */
#ifndef TIGHTROPE_NVME_TCP_PDU_H
#define TIGHTROPE_NVME_TCP_PDU_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "nvme/spec.h"

enum nvmf_tcp_pdu_type {
	nvme_tcp_icreq = 0x00,
	nvme_tcp_icresp = 0x01,
	nvme_tcp_h2c_term = 0x02,
	nvme_tcp_c2h_term = 0x03,
	nvme_tcp_cmd = 0x04,
	nvme_tcp_rsp = 0x05,
	nvme_tcp_h2c_data = 0x06,
	nvme_tcp_c2h_data = 0x07,
	nvme_tcp_r2t = 0x09,
};

enum {
	NVME_TCP_F_HDGST = (1 << 0),
	NVME_TCP_F_DDGST = (1 << 1),
	NVME_TCP_F_DATA_LAST = (1 << 2),
	NVME_TCP_F_DATA_SUCCESS = (1 << 3),
};

/* ICReq/ICResp digest byte. */
enum {
	NVME_TCP_HDR_DIGEST_ENABLE = (1 << 0),
	NVME_TCP_DATA_DIGEST_ENABLE = (1 << 1),
};

/* Fatal error status in a TermReq. */
enum nvmf_tcp_fes {
	NVME_TCP_FES_INVALID_PDU_HDR = 0x01,
	NVME_TCP_FES_PDU_SEQ_ERR = 0x02,
	NVME_TCP_FES_HDR_DIGEST_ERR = 0x03,
	NVME_TCP_FES_DATA_OUT_OF_RANGE = 0x04,
	NVME_TCP_FES_R2T_LIMIT_EXCEEDED = 0x05,
	NVME_TCP_FES_DATA_LIMIT_EXCEEDED = 0x05,
	NVME_TCP_FES_UNSUPPORTED_PARAM = 0x06,
};

#define NVME_TCP_DIGEST_LEN 4
#define NVME_TCP_PFV_1_0 0
#define NVME_TCP_TERM_MAX_DATA 128 /* bytes of the offending PDU copied into a TermReq */
#define NVME_TCP_MAX_HLEN 128
#define NVME_TCP_PDA_MAX 31 /* HPDA and CPDA are 0..31 */
#define NVME_TCP_PDA_UNIT 4 /* bytes: PDA N aligns data to (N + 1) x 4 */
/* The smallest MAXH2CDATA a target may grant and its granularity (the Linux host's limits). */
#define NVME_TCP_MAXH2CDATA_MIN 4096
#define NVME_TCP_MAXH2CDATA_ALIGN 4

struct nvme_tcp_hdr {
	uint8_t type;
	uint8_t flags;
	uint8_t hlen;
	uint8_t pdo;
	uint32_t plen;
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_tcp_hdr, 8);

struct nvme_tcp_icreq_pdu {
	struct nvme_tcp_hdr hdr;
	uint16_t pfv;
	uint8_t hpda;
	uint8_t digest;
	uint32_t maxr2t; /* 0-based */
	uint8_t rsvd2[112];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_tcp_icreq_pdu, 128);
NVME_STATIC_OFFSET(struct nvme_tcp_icreq_pdu, maxr2t, 12);

struct nvme_tcp_icresp_pdu {
	struct nvme_tcp_hdr hdr;
	uint16_t pfv;
	uint8_t cpda;
	uint8_t digest;
	uint32_t maxdata; /* MAXH2CDATA */
	uint8_t rsvd[112];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_tcp_icresp_pdu, 128);
NVME_STATIC_OFFSET(struct nvme_tcp_icresp_pdu, maxdata, 12);

struct nvme_tcp_term_pdu {
	struct nvme_tcp_hdr hdr;
	uint16_t fes;
	uint16_t feil;
	uint16_t feiu;
	uint8_t rsvd[10];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_tcp_term_pdu, 24);
NVME_STATIC_OFFSET(struct nvme_tcp_term_pdu, fes, 8);
NVME_STATIC_OFFSET(struct nvme_tcp_term_pdu, feil, 10);

struct nvme_tcp_cmd_pdu {
	struct nvme_tcp_hdr hdr;
	struct nvme_command cmd;
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_tcp_cmd_pdu, 72);

struct nvme_tcp_rsp_pdu {
	struct nvme_tcp_hdr hdr;
	struct nvme_completion cqe;
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_tcp_rsp_pdu, 24);

/* H2CData and C2HData share one layout; ttag is reserved in C2HData. */
struct nvme_tcp_data_pdu {
	struct nvme_tcp_hdr hdr;
	uint16_t command_id;
	uint16_t ttag;
	uint32_t data_offset;
	uint32_t data_length;
	uint8_t rsvd[4];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_tcp_data_pdu, 24);
NVME_STATIC_OFFSET(struct nvme_tcp_data_pdu, data_offset, 12);
NVME_STATIC_OFFSET(struct nvme_tcp_data_pdu, data_length, 16);

struct nvme_tcp_r2t_pdu {
	struct nvme_tcp_hdr hdr;
	uint16_t command_id;
	uint16_t ttag;
	uint32_t r2t_offset;
	uint32_t r2t_length;
	uint8_t rsvd[4];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_tcp_r2t_pdu, 24);

/* Who receives the PDU: decides which types are legal in this direction. */
enum nvmf_tcp_side { NVMF_TCP_SIDE_TARGET, NVMF_TCP_SIDE_HOST };

/* What a connection negotiated, as far as framing cares. */
struct nvmf_tcp_framing {
	bool hdgst;
	bool ddgst;
	uint8_t pda; /* data alignment the receiving side asked for (CPDA or HPDA), 4-byte units, 0 = none */
	uint32_t max_data; /* the most H2C/C2HData one PDU may carry (MAXH2CDATA, or MDTS for C2H) */
	uint32_t max_incapsule; /* the most in-capsule data a command PDU may carry */
};

/* Where each part of a PDU lies, from the common header alone. */
struct nvmf_tcp_pdu_layout {
	uint8_t type;
	uint8_t hlen;
	uint8_t hdr_total; /* hlen + header digest */
	uint32_t pad; /* bytes between the header (and its digest) and the data */
	uint32_t data_len;
	uint8_t ddgst_len;
	uint32_t plen;
};

/* A fatal framing error: what a TermReq must say. */
struct nvmf_tcp_fatal {
	uint16_t fes;
	uint32_t fei; /* byte offset of the bad field (FES 01h) or the bad value */
};

/* Validate the common header of a received PDU and derive its layout.
 * Returns 0, or -EPROTO with *fatal filled in. 'before_ic' is true until ICReq/ICResp is done. */
int nvmf_tcp_pdu_decode(const struct nvme_tcp_hdr *hdr, enum nvmf_tcp_side receiver,
			const struct nvmf_tcp_framing *framing, bool before_ic,
			struct nvmf_tcp_pdu_layout *layout, struct nvmf_tcp_fatal *fatal);

/* Type-specific header checks, once the whole header is in. 0 or -EPROTO with *fatal. */
int nvmf_tcp_icreq_validate(const struct nvme_tcp_icreq_pdu *icreq, struct nvmf_tcp_fatal *fatal);
int nvmf_tcp_icresp_validate(const struct nvme_tcp_icresp_pdu *icresp, bool want_hdgst,
			     bool want_ddgst, struct nvmf_tcp_fatal *fatal);

/* Header digest: CRC32C over the first hlen bytes, stored little-endian right after them. */
uint32_t nvmf_tcp_digest(const void *buf, size_t len);
uint32_t nvmf_tcp_digest_iov(const struct iovec *iov, int iovcnt);
uint32_t nvmf_tcp_digest_update(uint32_t running, const void *buf, size_t len);
#define NVMF_TCP_DIGEST_INIT 0xffffffffu
static inline uint32_t nvmf_tcp_digest_final(uint32_t running)
{
	return running ^ 0xffffffffu;
}
bool nvmf_tcp_hdgst_ok(const void *hdr, uint8_t hlen);
void nvmf_tcp_hdgst_set(void *hdr, uint8_t hlen);

/* Encoders: fill a PDU header (zeroing reserved bytes); return the bytes to send before data,
 * i.e. hlen + header digest (+ padding for data PDUs), with hlen+4 bytes of room in 'buf'. */
size_t nvmf_tcp_icreq_encode(struct nvme_tcp_icreq_pdu *pdu, bool hdgst, bool ddgst, uint32_t maxr2t);
size_t nvmf_tcp_icresp_encode(struct nvme_tcp_icresp_pdu *pdu, bool hdgst, bool ddgst, uint32_t maxdata);
size_t nvmf_tcp_term_encode(struct nvme_tcp_term_pdu *pdu, enum nvmf_tcp_side sender,
			    const struct nvmf_tcp_fatal *fatal, uint32_t offending_len);
size_t nvmf_tcp_cmd_encode(struct nvme_tcp_cmd_pdu *pdu, const struct nvmf_tcp_framing *framing,
			   const struct nvme_command *cmd, uint32_t incapsule_len);
size_t nvmf_tcp_rsp_encode(struct nvme_tcp_rsp_pdu *pdu, bool hdgst, const struct nvme_completion *cqe);
size_t nvmf_tcp_data_encode(struct nvme_tcp_data_pdu *pdu, enum nvmf_tcp_pdu_type type,
			    const struct nvmf_tcp_framing *framing, uint16_t command_id, uint16_t ttag,
			    uint32_t offset, uint32_t length, uint8_t extra_flags);
size_t nvmf_tcp_r2t_encode(struct nvme_tcp_r2t_pdu *pdu, bool hdgst, uint16_t command_id,
			   uint16_t ttag, uint32_t offset, uint32_t length);

/* Bytes of padding a receiver with this CPDA/HPDA expects before data that follows 'hdr_total'. */
uint32_t nvmf_tcp_data_pad(uint8_t pda, uint32_t hdr_total);

const char *nvmf_tcp_pdu_type_name(uint8_t type);
const char *nvmf_tcp_fes_name(uint16_t fes);
/* The name of the header field that covers byte 'offset' of a PDU of this type ("hlen", "pfv",
 * "data offset", ...): what a log line says instead of a TermReq's bare FEI. "reserved" for a
 * reserved byte, "header digest" for the 4 bytes after the header, NULL past that or when the type
 * is unknown and the byte lies beyond the common header. */
const char *nvmf_tcp_field_name(uint8_t pdu_type, uint32_t offset);

#endif
