/* Identify Controller/Namespace pages, NS descriptor lists and discovery entries, built from facts.
 * Values the Linux host depends on (OAES, SGLS, IOCCSZ, KAS, NUL-terminated NQN) are set here. */
#include "nvme/identify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

void nvme_strpad(char *dst, size_t size, const char *src, char pad)
{
	/* NUL padding means a C string: always leave room for its terminator. */
	size_t n = src ? strnlen(src, pad == '\0' ? size - 1 : size) : 0;

	memcpy(dst, src ? src : "", n);
	memset(dst + n, pad, size - n);
}

void nvme_copy_window(void *dst, size_t len, const void *page, size_t page_len, uint64_t offset)
{
	size_t take = 0;

	if (offset < page_len) {
		take = page_len - (size_t)offset;
		if (take > len)
			take = len;
		memcpy(dst, (const uint8_t *)page + offset, take);
	}
	memset((uint8_t *)dst + take, 0, len - take);
}

void nvme_id_ctrl_build(struct nvme_id_ctrl *id, const struct nvme_ctrl_facts *f)
{
	memset(id, 0, sizeof(*id));
	/* No PCI vendor: fabrics controllers report 0, as nvmet does. */
	nvme_strpad(id->sn, sizeof(id->sn), f->serial, ' ');
	nvme_strpad(id->mn, sizeof(id->mn), f->model, ' ');
	nvme_strpad(id->fr, sizeof(id->fr), f->firmware, ' ');
	id->rab = 6; /* recommended arbitration burst: 2^6 commands, as nvmet */
	id->cmic = NVME_CTRL_CMIC_MULTI_CTRL; /* dynamic model: many controllers per subsystem */
	id->mdts = f->mdts;
	id->cntlid = f->cntlid;
	id->ver = f->version;
	id->cntrltype = f->discovery ? NVME_CTRL_CNTRLTYPE_DISC : NVME_CTRL_CNTRLTYPE_IO;
	id->ctratt = NVME_CTRL_CTRATT_128_ID;
	id->acl = 3; /* 0-based: up to 4 Aborts at once */
	id->aerl = f->aerl;
	id->frmw = NVME_CTRL_FRMW_SLOTS(1) | NVME_CTRL_FRMW_SLOT1_RO;
	id->lpa = NVME_CTRL_LPA_SMART_PER_NS | NVME_CTRL_LPA_CMD_EFFECTS | NVME_CTRL_LPA_EXTENDED;
	id->elpe = 0; /* one error log entry, 0-based */
	id->npss = 0;
	id->kas = f->kas;
	id->sqes = NVME_CTRL_QES(NVME_SQES_LOG2, NVME_SQES_LOG2);
	id->cqes = NVME_CTRL_QES(NVME_CQES_LOG2, NVME_CQES_LOG2);
	id->maxcmd = f->maxcmd;
	nvme_strpad(id->subnqn, sizeof(id->subnqn), f->subnqn, '\0');

	if (f->discovery) {
		/* A discovery controller has no namespaces, no I/O and no namespace events; its only
		 * log page is the discovery log, so LPA promises nothing but offsets (SPDK's identify
		 * otherwise asks for the Commands Supported and Effects page and fails). */
		id->lpa = NVME_CTRL_LPA_EXTENDED;
		id->sgls = NVME_CTRL_SGLS_SUPPORTED | NVME_CTRL_SGLS_OFFSETS;
		id->ioccsz = sizeof(struct nvme_command) / NVME_CTRL_CAPSULE_UNIT;
		id->iorcsz = sizeof(struct nvme_completion) / NVME_CTRL_CAPSULE_UNIT;
		id->msdbd = 1;
		return;
	}
	id->oaes = NVME_CTRL_OAES_NS_ATTR;
	id->nn = f->max_nsid;
	id->mnan = f->max_nsid;
	if (f->ana) {
		/* As nvmet: several ports, several controllers, ANA reporting; every state can be
		 * reported, and a namespace's group is fixed while it is attached. */
		id->cmic = NVME_CTRL_CMIC_MULTI_PORT | NVME_CTRL_CMIC_MULTI_CTRL | NVME_CTRL_CMIC_ANA;
		id->oaes |= NVME_CTRL_OAES_ANA_CHANGE;
		id->anatt = f->anatt;
		id->anacap = NVME_CTRL_ANACAP_OPT | NVME_CTRL_ANACAP_NON_OPT | NVME_CTRL_ANACAP_INACCESSIBLE |
			     NVME_CTRL_ANACAP_PERSISTENT_LOSS | NVME_CTRL_ANACAP_CHANGE | NVME_CTRL_ANACAP_GRPID_NO_CHG;
		id->anagrpmax = f->anagrpmax;
		id->nanagrpid = f->anagrpmax;
	}
	id->oncs = NVME_CTRL_ONCS_COMPARE | NVME_CTRL_ONCS_DSM | NVME_CTRL_ONCS_WRITE_ZEROES | NVME_CTRL_ONCS_RESERVATIONS;
	id->vwc = f->volatile_write_cache ? NVME_CTRL_VWC_PRESENT : 0;
	/* Fused Compare and Write, atomic for any size a command may move: ACWU (0's based, logical blocks)
	 * says so for the smallest block (512 bytes) and MDTS bounds it for larger ones. */
	if (!f->discovery) {
		id->fuses = NVME_CTRL_FUSES_COMPARE_WRITE;
		id->acwu = f->mdts ? (uint16_t)(((4096u << f->mdts) >> 9) - 1) : 0xffff;
	}
	id->awun = 0;
	id->awupf = 0;
	id->sgls = NVME_CTRL_SGLS_SUPPORTED | NVME_CTRL_SGLS_OFFSETS;
	/* IOCCSZ counts the 64-byte SQE plus in-capsule data. */
	id->ioccsz = (uint32_t)(sizeof(struct nvme_command) + f->inline_data_size) / NVME_CTRL_CAPSULE_UNIT;
	id->iorcsz = sizeof(struct nvme_completion) / NVME_CTRL_CAPSULE_UNIT;
	id->icdoff = 0;
	id->msdbd = 1;
	/* One power state, the only one, to keep nvme-cli's id-ctrl tidy. */
	id->psd[0].max_power = 0x9c4; /* 25 W in 0.01 W units, like nvmet */
	id->psd[0].entry_lat = 0x10; /* microseconds, nvmet's figures */
	id->psd[0].exit_lat = 0x4;
}

void nvme_id_ns_build(struct nvme_id_ns *id, const struct nvme_ns_facts *f)
{
	memset(id, 0, sizeof(*id));
	id->nsze = f->nlbas;
	id->ncap = f->nlbas;
	id->nuse = f->nlbas;
	id->nlbaf = 0; /* one format, 0-based */
	id->flbas = 0;
	id->lbaf[0].ds = f->lba_shift;
	id->nmic = NVME_NS_NMIC_SHARED;
	/* Every reservation type, IEKEY as NVMe 1.3 and later define it (bit 7), PTPL where it is kept. */
	id->rescap = 0xfe | (f->ptpl ? 1 : 0);
	if (f->deallocate)
		id->dlfeat = NVME_NS_DLFEAT_WRITE_ZEROES | NVME_NS_DLFEAT_READ_ZEROES;
	id->nsfeat = NVME_NS_FEAT_IO_OPT;
	/* Preferred write granularity/alignment: one 4 KiB page, 0-based in LBAs. */
	uint16_t per_page = f->lba_shift < 12 ? (uint16_t)(1u << (12 - f->lba_shift)) : 1;
	id->npwg = id->npwa = id->npdg = id->npda = id->nows = per_page - 1;
	id->anagrpid = f->anagrpid;
	id->nsattr = f->readonly ? NVME_NS_NSATTR_WRITE_PROTECTED : 0;
	memcpy(id->nguid, f->nguid, sizeof(id->nguid));
	memcpy(id->eui64, f->eui64, sizeof(id->eui64));
}

static uint8_t *desc_put(uint8_t *p, uint8_t *end, uint8_t nidt, const void *id, uint8_t len)
{
	struct nvme_ns_id_desc d = { .nidt = nidt, .nidl = len };

	if (p + sizeof(d) + len > end)
		return p;
	memcpy(p, &d, sizeof(d));
	memcpy(p + sizeof(d), id, len);
	return p + sizeof(d) + len;
}

void nvme_ns_desc_list_build(uint8_t *buf, size_t len, const struct nvme_ns_facts *f)
{
	uint8_t *p = buf, *end = buf + len;
	uint8_t csi = NVME_CSI_NVM;

	memset(buf, 0, len);
	p = desc_put(p, end, NVME_NIDT_EUI64, f->eui64, sizeof(f->eui64));
	p = desc_put(p, end, NVME_NIDT_NGUID, f->nguid, sizeof(f->nguid));
	p = desc_put(p, end, NVME_NIDT_UUID, f->uuid, sizeof(f->uuid));
	desc_put(p, end, NVME_NIDT_CSI, &csi, sizeof(csi));
}

void nvmf_disc_entry_build(struct nvmf_disc_log_entry *e, const struct nvmf_disc_entry_facts *f)
{
	memset(e, 0, sizeof(*e));
	e->trtype = NVMF_TRTYPE_TCP;
	e->adrfam = f->ipv6 ? NVMF_ADRFAM_IP6 : NVMF_ADRFAM_IP4;
	e->subtype = f->subtype;
	e->treq = f->treq;
	e->portid = f->portid;
	e->cntlid = NVME_CNTLID_DYNAMIC;
	e->asqsz = f->asqsz;
	if (f->subtype == NVMF_SUBTYPE_CURRENT_DISCOVERY)
		e->eflags = NVMF_DISC_EFLAGS_DUPRETINFO;
	/* TRSVCID and TRADDR are ASCII strings padded with spaces (NVMe-oF 1.1, Figure 38). */
	nvme_strpad(e->trsvcid, sizeof(e->trsvcid), f->trsvcid, ' ');
	nvme_strpad(e->traddr, sizeof(e->traddr), f->traddr, ' ');
	nvme_strpad(e->subnqn, sizeof(e->subnqn), f->subnqn, '\0');
	e->tsas[0] = f->sectype;
}

void nvme_derive_id(uint8_t out[16], const char *name, uint32_t number, bool as_uuid)
{
	/* SHA-256 of the name and the number (little-endian): reproducible across restarts, and with
	 * all 128 bits independent, so two namespaces never share an NGUID/UUID in practice. */
	uint8_t le[4], digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	for (int i = 0; i < 4; i++)
		le[i] = (uint8_t)(number >> (8 * i));
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) || !EVP_DigestUpdate(ctx, name, strlen(name)) ||
	    !EVP_DigestUpdate(ctx, le, sizeof(le)) || !EVP_DigestFinal_ex(ctx, digest, &dlen) || dlen < 16)
		abort(); /* libcrypto without SHA-256 is not a configuration we can run on */
	EVP_MD_CTX_free(ctx);
	memcpy(out, digest, 16);
	if (as_uuid)
		nvme_uuid_set_version(out, NVME_UUID_V8_CUSTOM);
}

void nvme_uuid_set_version(uint8_t id[16], unsigned int version)
{
	id[6] = (uint8_t)((id[6] & 0x0f) | (version << 4));
	id[8] = (uint8_t)((id[8] & 0x3f) | 0x80); /* the RFC 4122 variant */
}

int nvme_uuid_parse(const char *s, uint8_t out[16])
{
	int n = 0;

	for (; *s && n < 32; s++) {
		int v;

		if (*s == '-')
			continue;
		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if ((*s | 0x20) >= 'a' && (*s | 0x20) <= 'f')
			v = (*s | 0x20) - 'a' + 10;
		else
			return -EINVAL;
		if (n % 2 == 0)
			out[n / 2] = (uint8_t)(v << 4);
		else
			out[n / 2] |= (uint8_t)v;
		n++;
	}
	return n == 32 && !*s ? 0 : -EINVAL;
}

void nvme_uuid_format(const uint8_t id[16], char *out)
{
	sprintf(out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", id[0], id[1],
		id[2], id[3], id[4], id[5], id[6], id[7], id[8], id[9], id[10], id[11], id[12], id[13], id[14],
		id[15]);
}
