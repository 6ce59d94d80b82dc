/* NVMe/TCP PDU framing: validation of received headers and encoding of the ones we send.
 * Every rule here answers with the TermReq fatal error status the transport spec names. */
#include "nvme/tcp_pdu.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <isa-l/crc.h>

uint32_t nvmf_tcp_digest_update(uint32_t running, const void *buf, size_t len)
{
	/* ISA-L's iSCSI CRC is CRC32C without the final inversion: exactly a running digest. */
	return crc32_iscsi((unsigned char *)buf, (int)len, running);
}

uint32_t nvmf_tcp_digest(const void *buf, size_t len)
{
	return nvmf_tcp_digest_final(nvmf_tcp_digest_update(NVMF_TCP_DIGEST_INIT, buf, len));
}

uint32_t nvmf_tcp_digest_iov(const struct iovec *iov, int iovcnt)
{
	uint32_t crc = NVMF_TCP_DIGEST_INIT;

	for (int i = 0; i < iovcnt; i++)
		crc = nvmf_tcp_digest_update(crc, iov[i].iov_base, iov[i].iov_len);
	return nvmf_tcp_digest_final(crc);
}

bool nvmf_tcp_hdgst_ok(const void *hdr, uint8_t hlen)
{
	uint32_t stored;

	memcpy(&stored, (const uint8_t *)hdr + hlen, sizeof(stored));
	return stored == nvmf_tcp_digest(hdr, hlen);
}

void nvmf_tcp_hdgst_set(void *hdr, uint8_t hlen)
{
	uint32_t crc = nvmf_tcp_digest(hdr, hlen);

	memcpy((uint8_t *)hdr + hlen, &crc, sizeof(crc));
}

uint32_t nvmf_tcp_data_pad(uint8_t pda, uint32_t hdr_total)
{
	uint32_t align = ((uint32_t)pda + 1) * NVME_TCP_PDA_UNIT;

	/* PDA 0 means no alignment (the kernel never asks for any). */
	if (pda == 0)
		return 0;
	return (align - hdr_total % align) % align;
}

static int fatal_at(struct nvmf_tcp_fatal *fatal, uint16_t fes, uint32_t fei)
{
	fatal->fes = fes;
	fatal->fei = fei;
	return -EPROTO;
}

/* The header length each PDU type must carry. */
static uint8_t pdu_expected_hlen(uint8_t type)
{
	switch (type) {
	case nvme_tcp_icreq:
		return sizeof(struct nvme_tcp_icreq_pdu);
	case nvme_tcp_icresp:
		return sizeof(struct nvme_tcp_icresp_pdu);
	case nvme_tcp_cmd:
		return sizeof(struct nvme_tcp_cmd_pdu);
	case nvme_tcp_h2c_term:
	case nvme_tcp_c2h_term:
		return sizeof(struct nvme_tcp_term_pdu);
	case nvme_tcp_rsp:
		return sizeof(struct nvme_tcp_rsp_pdu);
	case nvme_tcp_h2c_data:
	case nvme_tcp_c2h_data:
		return sizeof(struct nvme_tcp_data_pdu);
	case nvme_tcp_r2t:
		return sizeof(struct nvme_tcp_r2t_pdu);
	default:
		return 0;
	}
}

static bool pdu_type_for_side(uint8_t type, enum nvmf_tcp_side receiver)
{
	if (receiver == NVMF_TCP_SIDE_TARGET)
		return type == nvme_tcp_icreq || type == nvme_tcp_h2c_term || type == nvme_tcp_cmd ||
		       type == nvme_tcp_h2c_data;
	return type == nvme_tcp_icresp || type == nvme_tcp_c2h_term || type == nvme_tcp_rsp ||
	       type == nvme_tcp_c2h_data || type == nvme_tcp_r2t;
}

static bool pdu_type_has_digests(uint8_t type)
{
	return type == nvme_tcp_cmd || type == nvme_tcp_rsp || type == nvme_tcp_h2c_data ||
	       type == nvme_tcp_c2h_data || type == nvme_tcp_r2t;
}

static bool pdu_type_carries_data(uint8_t type)
{
	return type == nvme_tcp_cmd || type == nvme_tcp_h2c_data || type == nvme_tcp_c2h_data;
}

int nvmf_tcp_pdu_decode(const struct nvme_tcp_hdr *hdr, enum nvmf_tcp_side receiver,
			const struct nvmf_tcp_framing *framing, bool before_ic,
			struct nvmf_tcp_pdu_layout *layout, struct nvmf_tcp_fatal *fatal)
{
	const uint32_t off_type = offsetof(struct nvme_tcp_hdr, type);
	const uint32_t off_flags = offsetof(struct nvme_tcp_hdr, flags);
	const uint32_t off_hlen = offsetof(struct nvme_tcp_hdr, hlen);
	const uint32_t off_pdo = offsetof(struct nvme_tcp_hdr, pdo);
	const uint32_t off_plen = offsetof(struct nvme_tcp_hdr, plen);
	uint8_t type = hdr->type;
	uint32_t plen = hdr->plen;
	bool is_ic = type == nvme_tcp_icreq || type == nvme_tcp_icresp;
	bool is_term = type == nvme_tcp_h2c_term || type == nvme_tcp_c2h_term;

	memset(layout, 0, sizeof(*layout));
	if (!pdu_type_for_side(type, receiver))
		return fatal_at(fatal, NVME_TCP_FES_INVALID_PDU_HDR, off_type);
	/* Before initialization only the IC exchange (or giving up) is legal; after it, never again. */
	if (before_ic != is_ic && !is_term)
		return fatal_at(fatal, NVME_TCP_FES_PDU_SEQ_ERR, off_type);
	if (hdr->hlen != pdu_expected_hlen(type))
		return fatal_at(fatal, NVME_TCP_FES_INVALID_PDU_HDR, off_hlen);

	layout->type = type;
	layout->hlen = hdr->hlen;
	layout->plen = plen;

	if (is_ic) {
		if (hdr->flags != 0)
			return fatal_at(fatal, NVME_TCP_FES_INVALID_PDU_HDR, off_flags);
		if (hdr->pdo != 0)
			return fatal_at(fatal, NVME_TCP_FES_INVALID_PDU_HDR, off_pdo);
		if (plen != hdr->hlen)
			return fatal_at(fatal, NVME_TCP_FES_INVALID_PDU_HDR, off_plen);
		layout->hdr_total = hdr->hlen;
		return 0;
	}
	if (is_term) {
		/* The offending PDU's header follows, at most NVME_TCP_TERM_MAX_DATA bytes of it; no digests. */
		if (plen < hdr->hlen || plen > (uint32_t)hdr->hlen + NVME_TCP_TERM_MAX_DATA)
			return fatal_at(fatal, NVME_TCP_FES_INVALID_PDU_HDR, off_plen);
		layout->hdr_total = hdr->hlen;
		layout->data_len = plen - hdr->hlen;
		return 0;
	}

	/* Digest flags must match what the connection negotiated. */
	if (pdu_type_has_digests(type) && !!(hdr->flags & NVME_TCP_F_HDGST) != framing->hdgst)
		return fatal_at(fatal, NVME_TCP_FES_INVALID_PDU_HDR, off_flags);
	if ((hdr->flags & NVME_TCP_F_DDGST) && !framing->ddgst)
		return fatal_at(fatal, NVME_TCP_FES_INVALID_PDU_HDR, off_flags);
	if ((hdr->flags & NVME_TCP_F_DDGST) && !pdu_type_carries_data(type))
		return fatal_at(fatal, NVME_TCP_FES_INVALID_PDU_HDR, off_flags);
	if ((hdr->flags & NVME_TCP_F_DATA_SUCCESS) && type != nvme_tcp_c2h_data)
		return fatal_at(fatal, NVME_TCP_FES_INVALID_PDU_HDR, off_flags);
	/* SUCCESS stands in for the completion, so it may only ride on the last C2HData. */
	if ((hdr->flags & NVME_TCP_F_DATA_SUCCESS) && !(hdr->flags & NVME_TCP_F_DATA_LAST))
		return fatal_at(fatal, NVME_TCP_FES_INVALID_PDU_HDR, off_flags);

	layout->hdr_total = hdr->hlen + (framing->hdgst ? NVME_TCP_DIGEST_LEN : 0);
	if (plen < layout->hdr_total)
		return fatal_at(fatal, NVME_TCP_FES_INVALID_PDU_HDR, off_plen);

	if (!pdu_type_carries_data(type)) {
		if (hdr->pdo != 0)
			return fatal_at(fatal, NVME_TCP_FES_INVALID_PDU_HDR, off_pdo);
		if (plen != layout->hdr_total)
			return fatal_at(fatal, NVME_TCP_FES_INVALID_PDU_HDR, off_plen);
		return 0;
	}

	if (plen == layout->hdr_total) {
		/* No data: a data PDU must carry some, a command may carry none. */
		if (type != nvme_tcp_cmd)
			return fatal_at(fatal, NVME_TCP_FES_INVALID_PDU_HDR, off_plen);
		if (hdr->pdo != 0 && hdr->pdo != layout->hdr_total)
			return fatal_at(fatal, NVME_TCP_FES_INVALID_PDU_HDR, off_pdo);
		if (hdr->flags & NVME_TCP_F_DDGST)
			return fatal_at(fatal, NVME_TCP_FES_INVALID_PDU_HDR, off_flags);
		return 0;
	}

	/* Data present: pdo says where it starts, after the header, its digest and any padding. */
	if (hdr->pdo < layout->hdr_total || hdr->pdo > plen)
		return fatal_at(fatal, NVME_TCP_FES_INVALID_PDU_HDR, off_pdo);
	if ((uint32_t)(hdr->pdo - layout->hdr_total) != nvmf_tcp_data_pad(framing->pda, layout->hdr_total))
		return fatal_at(fatal, NVME_TCP_FES_INVALID_PDU_HDR, off_pdo);
	if (framing->ddgst != !!(hdr->flags & NVME_TCP_F_DDGST))
		return fatal_at(fatal, NVME_TCP_FES_INVALID_PDU_HDR, off_flags);
	layout->pad = hdr->pdo - layout->hdr_total;
	layout->ddgst_len = framing->ddgst ? NVME_TCP_DIGEST_LEN : 0;
	if (plen < (uint32_t)hdr->pdo + layout->ddgst_len + 1)
		return fatal_at(fatal, NVME_TCP_FES_INVALID_PDU_HDR, off_plen);
	layout->data_len = plen - hdr->pdo - layout->ddgst_len;

	if (type == nvme_tcp_cmd && layout->data_len > framing->max_incapsule)
		return fatal_at(fatal, NVME_TCP_FES_DATA_LIMIT_EXCEEDED, off_plen);
	if (type != nvme_tcp_cmd && layout->data_len > framing->max_data)
		return fatal_at(fatal, NVME_TCP_FES_DATA_LIMIT_EXCEEDED, off_plen);
	return 0;
}

int nvmf_tcp_icreq_validate(const struct nvme_tcp_icreq_pdu *icreq, struct nvmf_tcp_fatal *fatal)
{
	if (icreq->pfv != NVME_TCP_PFV_1_0)
		return fatal_at(fatal, NVME_TCP_FES_UNSUPPORTED_PARAM,
				offsetof(struct nvme_tcp_icreq_pdu, pfv));
	/* We honour any HPDA the spec allows by padding C2HData. */
	if (icreq->hpda > NVME_TCP_PDA_MAX)
		return fatal_at(fatal, NVME_TCP_FES_INVALID_PDU_HDR,
				offsetof(struct nvme_tcp_icreq_pdu, hpda));
	if (icreq->digest & ~(NVME_TCP_HDR_DIGEST_ENABLE | NVME_TCP_DATA_DIGEST_ENABLE))
		return fatal_at(fatal, NVME_TCP_FES_INVALID_PDU_HDR,
				offsetof(struct nvme_tcp_icreq_pdu, digest));
	return 0;
}

int nvmf_tcp_icresp_validate(const struct nvme_tcp_icresp_pdu *icresp, bool want_hdgst,
			     bool want_ddgst, struct nvmf_tcp_fatal *fatal)
{
	/* The same limits the Linux host enforces, so a target it rejects we reject too. */
	if (icresp->pfv != NVME_TCP_PFV_1_0)
		return fatal_at(fatal, NVME_TCP_FES_UNSUPPORTED_PARAM,
				offsetof(struct nvme_tcp_icresp_pdu, pfv));
	if (icresp->cpda != 0)
		return fatal_at(fatal, NVME_TCP_FES_UNSUPPORTED_PARAM,
				offsetof(struct nvme_tcp_icresp_pdu, cpda));
	if (!!(icresp->digest & NVME_TCP_HDR_DIGEST_ENABLE) != want_hdgst ||
	    !!(icresp->digest & NVME_TCP_DATA_DIGEST_ENABLE) != want_ddgst)
		return fatal_at(fatal, NVME_TCP_FES_INVALID_PDU_HDR,
				offsetof(struct nvme_tcp_icresp_pdu, digest));
	if (icresp->maxdata < NVME_TCP_MAXH2CDATA_MIN || icresp->maxdata % NVME_TCP_MAXH2CDATA_ALIGN)
		return fatal_at(fatal, NVME_TCP_FES_INVALID_PDU_HDR,
				offsetof(struct nvme_tcp_icresp_pdu, maxdata));
	return 0;
}

static void hdr_init(struct nvme_tcp_hdr *hdr, uint8_t type, uint8_t hlen)
{
	hdr->type = type;
	hdr->flags = 0;
	hdr->hlen = hlen;
	hdr->pdo = 0;
	hdr->plen = hlen;
}

/* Finish a header that carries no data: digest if negotiated; returns bytes to send. */
static size_t hdr_finish(struct nvme_tcp_hdr *hdr, bool hdgst)
{
	if (hdgst) {
		hdr->flags |= NVME_TCP_F_HDGST;
		hdr->plen += NVME_TCP_DIGEST_LEN;
		nvmf_tcp_hdgst_set(hdr, hdr->hlen);
		return hdr->hlen + NVME_TCP_DIGEST_LEN;
	}
	return hdr->hlen;
}

/* Finish a header followed by 'len' data bytes; the digest covers the final header. */
static size_t hdr_finish_with_data(struct nvme_tcp_hdr *hdr, const struct nvmf_tcp_framing *framing,
				   uint32_t len)
{
	uint32_t hdr_total = hdr->hlen + (framing->hdgst ? NVME_TCP_DIGEST_LEN : 0);
	uint32_t pad = nvmf_tcp_data_pad(framing->pda, hdr_total);

	if (framing->hdgst)
		hdr->flags |= NVME_TCP_F_HDGST;
	if (len == 0) {
		hdr->plen = hdr_total;
	} else {
		if (framing->ddgst)
			hdr->flags |= NVME_TCP_F_DDGST;
		hdr->pdo = (uint8_t)(hdr_total + pad);
		hdr->plen = hdr_total + pad + len + (framing->ddgst ? NVME_TCP_DIGEST_LEN : 0);
	}
	if (framing->hdgst)
		nvmf_tcp_hdgst_set(hdr, hdr->hlen);
	return hdr_total + (len ? pad : 0);
}

size_t nvmf_tcp_icreq_encode(struct nvme_tcp_icreq_pdu *pdu, bool hdgst, bool ddgst, uint32_t maxr2t)
{
	memset(pdu, 0, sizeof(*pdu));
	hdr_init(&pdu->hdr, nvme_tcp_icreq, sizeof(*pdu));
	pdu->pfv = NVME_TCP_PFV_1_0;
	pdu->digest = (hdgst ? NVME_TCP_HDR_DIGEST_ENABLE : 0) | (ddgst ? NVME_TCP_DATA_DIGEST_ENABLE : 0);
	pdu->maxr2t = maxr2t;
	return sizeof(*pdu);
}

size_t nvmf_tcp_icresp_encode(struct nvme_tcp_icresp_pdu *pdu, bool hdgst, bool ddgst, uint32_t maxdata)
{
	memset(pdu, 0, sizeof(*pdu));
	hdr_init(&pdu->hdr, nvme_tcp_icresp, sizeof(*pdu));
	pdu->pfv = NVME_TCP_PFV_1_0;
	pdu->digest = (hdgst ? NVME_TCP_HDR_DIGEST_ENABLE : 0) | (ddgst ? NVME_TCP_DATA_DIGEST_ENABLE : 0);
	pdu->maxdata = maxdata;
	return sizeof(*pdu);
}

size_t nvmf_tcp_term_encode(struct nvme_tcp_term_pdu *pdu, enum nvmf_tcp_side sender,
			    const struct nvmf_tcp_fatal *fatal, uint32_t offending_len)
{
	memset(pdu, 0, sizeof(*pdu));
	hdr_init(&pdu->hdr, sender == NVMF_TCP_SIDE_TARGET ? nvme_tcp_c2h_term : nvme_tcp_h2c_term,
		 sizeof(*pdu));
	if (offending_len > NVME_TCP_TERM_MAX_DATA)
		offending_len = NVME_TCP_TERM_MAX_DATA;
	pdu->hdr.plen = sizeof(*pdu) + offending_len;
	pdu->fes = fatal->fes;
	/* FEI means something only for these two; for every other status it is reserved. */
	if (fatal->fes == NVME_TCP_FES_INVALID_PDU_HDR || fatal->fes == NVME_TCP_FES_UNSUPPORTED_PARAM) {
		pdu->feil = (uint16_t)(fatal->fei & 0xffff);
		pdu->feiu = (uint16_t)(fatal->fei >> 16);
	}
	return sizeof(*pdu);
}

size_t nvmf_tcp_cmd_encode(struct nvme_tcp_cmd_pdu *pdu, const struct nvmf_tcp_framing *framing,
			   const struct nvme_command *cmd, uint32_t incapsule_len)
{
	hdr_init(&pdu->hdr, nvme_tcp_cmd, sizeof(*pdu));
	pdu->cmd = *cmd;
	return hdr_finish_with_data(&pdu->hdr, framing, incapsule_len);
}

size_t nvmf_tcp_rsp_encode(struct nvme_tcp_rsp_pdu *pdu, bool hdgst, const struct nvme_completion *cqe)
{
	hdr_init(&pdu->hdr, nvme_tcp_rsp, sizeof(*pdu));
	pdu->cqe = *cqe;
	return hdr_finish(&pdu->hdr, hdgst);
}

size_t nvmf_tcp_data_encode(struct nvme_tcp_data_pdu *pdu, enum nvmf_tcp_pdu_type type,
			    const struct nvmf_tcp_framing *framing, uint16_t command_id, uint16_t ttag,
			    uint32_t offset, uint32_t length, uint8_t extra_flags)
{
	hdr_init(&pdu->hdr, (uint8_t)type, sizeof(*pdu));
	pdu->hdr.flags = extra_flags & (NVME_TCP_F_DATA_LAST | NVME_TCP_F_DATA_SUCCESS);
	pdu->command_id = command_id;
	pdu->ttag = type == nvme_tcp_c2h_data ? 0 : ttag;
	pdu->data_offset = offset;
	pdu->data_length = length;
	memset(pdu->rsvd, 0, sizeof(pdu->rsvd));
	return hdr_finish_with_data(&pdu->hdr, framing, length);
}

size_t nvmf_tcp_r2t_encode(struct nvme_tcp_r2t_pdu *pdu, bool hdgst, uint16_t command_id,
			   uint16_t ttag, uint32_t offset, uint32_t length)
{
	hdr_init(&pdu->hdr, nvme_tcp_r2t, sizeof(*pdu));
	pdu->command_id = command_id;
	pdu->ttag = ttag;
	pdu->r2t_offset = offset;
	pdu->r2t_length = length;
	memset(pdu->rsvd, 0, sizeof(pdu->rsvd));
	return hdr_finish(&pdu->hdr, hdgst);
}

const char *nvmf_tcp_pdu_type_name(uint8_t type)
{
	switch (type) {
	case nvme_tcp_icreq: return "ICReq";
	case nvme_tcp_icresp: return "ICResp";
	case nvme_tcp_h2c_term: return "H2CTermReq";
	case nvme_tcp_c2h_term: return "C2HTermReq";
	case nvme_tcp_cmd: return "CapsuleCmd";
	case nvme_tcp_rsp: return "CapsuleResp";
	case nvme_tcp_h2c_data: return "H2CData";
	case nvme_tcp_c2h_data: return "C2HData";
	case nvme_tcp_r2t: return "R2T";
	default: return "unknown";
	}
}

const char *nvmf_tcp_fes_name(uint16_t fes)
{
	switch (fes) {
	case NVME_TCP_FES_INVALID_PDU_HDR: return "invalid PDU header field";
	case NVME_TCP_FES_PDU_SEQ_ERR: return "PDU sequence error";
	case NVME_TCP_FES_HDR_DIGEST_ERR: return "header digest error";
	case NVME_TCP_FES_DATA_OUT_OF_RANGE: return "data transfer out of range";
	case NVME_TCP_FES_DATA_LIMIT_EXCEEDED: return "data transfer limit exceeded";
	case NVME_TCP_FES_UNSUPPORTED_PARAM: return "unsupported parameter";
	default: return "unknown";
	}
}

/* The fields of one PDU-specific header: [first, last] byte ranges, offsets from the PDU start. */
struct pdu_field {
	uint8_t first, last;
	const char *name;
};

/* Byte 8 onwards; the common header (0..7) is the same for every type. */
static const struct pdu_field ic_req_fields[] = {
	{ 8, 9, "pfv" }, { 10, 10, "hpda" }, { 11, 11, "digest" }, { 12, 15, "maxr2t" }, { 0, 0, NULL } };
static const struct pdu_field ic_resp_fields[] = {
	{ 8, 9, "pfv" }, { 10, 10, "cpda" }, { 11, 11, "digest" }, { 12, 15, "maxdata" }, { 0, 0, NULL } };
static const struct pdu_field term_fields[] = { { 8, 9, "fes" }, { 10, 13, "fei" }, { 0, 0, NULL } };
/* The SQE as a CapsuleCmd carries it: 8 bytes of common header, then the 64-byte command. */
static const struct pdu_field cmd_fields[] = {
	{ 8, 8, "opcode" }, { 9, 9, "command flags" }, { 10, 11, "command id" },
	{ 12, 15, "nsid" }, { 16, 23, "cdw2-3" }, { 24, 31, "mptr" },
	{ 32, 39, "sgl address" }, { 40, 43, "sgl length" }, { 44, 46, "reserved" },
	{ 47, 47, "sgl type" }, { 48, 51, "cdw10" }, { 52, 55, "cdw11" },
	{ 56, 59, "cdw12" }, { 60, 63, "cdw13" }, { 64, 67, "cdw14" },
	{ 68, 71, "cdw15" }, { 0, 0, NULL } };
static const struct pdu_field rsp_fields[] = {
	{ 8, 15, "result" }, { 16, 17, "sq head" }, { 18, 19, "sq id" }, { 20, 21, "command id" },
	{ 22, 23, "status" }, { 0, 0, NULL } };
static const struct pdu_field data_fields[] = {
	{ 8, 9, "cccid" }, { 10, 11, "ttag" }, { 12, 15, "data offset" }, { 16, 19, "data length" },
	{ 0, 0, NULL } };
static const struct pdu_field r2t_fields[] = {
	{ 8, 9, "cccid" }, { 10, 11, "ttag" }, { 12, 15, "r2t offset" }, { 16, 19, "r2t length" },
	{ 0, 0, NULL } };

static const struct pdu_field *pdu_specific_fields(uint8_t type)
{
	switch (type) {
	case nvme_tcp_icreq: return ic_req_fields;
	case nvme_tcp_icresp: return ic_resp_fields;
	case nvme_tcp_h2c_term:
	case nvme_tcp_c2h_term: return term_fields;
	case nvme_tcp_cmd: return cmd_fields;
	case nvme_tcp_rsp: return rsp_fields;
	case nvme_tcp_h2c_data:
	case nvme_tcp_c2h_data: return data_fields;
	case nvme_tcp_r2t: return r2t_fields;
	default: return NULL;
	}
}

const char *nvmf_tcp_field_name(uint8_t pdu_type, uint32_t offset)
{
	const struct pdu_field *f = pdu_specific_fields(pdu_type);
	uint32_t hlen = pdu_expected_hlen(pdu_type);

	/* The common header means the same in every PDU, even one whose type we do not know. */
	if (offset == offsetof(struct nvme_tcp_hdr, type))
		return "type";
	if (offset == offsetof(struct nvme_tcp_hdr, flags))
		return "flags";
	if (offset == offsetof(struct nvme_tcp_hdr, hlen))
		return "hlen";
	if (offset == offsetof(struct nvme_tcp_hdr, pdo))
		return "pdo";
	if (offset < sizeof(struct nvme_tcp_hdr))
		return "plen";
	if (!f)
		return NULL;
	for (; f->name; f++) {
		if (offset >= f->first && offset <= f->last)
			return f->name;
	}
	if (offset < hlen)
		return "reserved";
	/* ICReq, ICResp and TermReqs never carry a header digest. */
	if (offset < hlen + NVME_TCP_DIGEST_LEN && pdu_type_has_digests(pdu_type))
		return "header digest";
	return NULL;
}
