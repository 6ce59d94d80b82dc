/* Seed inputs for fuzz_target_cmds: one input per action and command kind, in the record format of
 * fuzz_target_cmds.h, written into an empty corpus directory when the harness starts. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_target_cmds.h"
#include "nvme/resv.h"
#include "nvme/spec.h"

/* The input being built, and the data the builders draw on. */
struct seed {
	uint8_t buf[4096]; /* libFuzzer's default -max_len */
	size_t len;
	uint8_t pattern[256];
	struct nvme_dsm_range ranges[2];
	uint8_t hostid[16];
};

static void seed_start(struct seed *s, uint8_t b0, uint8_t b1)
{
	s->buf[0] = b0;
	s->buf[1] = b1;
	s->len = HDR_LEN;
}

static void seed_rec(struct seed *s, uint8_t kind, const void *sqe, const void *data, uint16_t len)
{
	if (s->len + REC_HDR + len > sizeof(s->buf))
		abort();
	s->buf[s->len] = kind;
	memset(s->buf + s->len + 1, 0, 64);
	if (sqe)
		memcpy(s->buf + s->len + 1, sqe, 64);
	s->buf[s->len + 65] = (uint8_t)len;
	s->buf[s->len + 66] = (uint8_t)(len >> 8);
	if (len)
		memcpy(s->buf + s->len + REC_HDR, data, len);
	s->len += REC_HDR + len;
}

#define KIND(action, slot, mode) ((uint8_t)((action) | (slot) << 3 | (mode) << 5))
#define NOWAIT 0x80

static void seed_cmd(struct seed *s, int slot, int mode, uint8_t opcode, uint32_t nsid, uint32_t cdw10,
		     uint32_t cdw11, uint32_t cdw12, const void *data, uint16_t len)
{
	struct nvme_command c = { .opcode = opcode, .nsid = nsid, .cdw10 = cdw10, .cdw11 = cdw11, .cdw12 = cdw12 };

	seed_rec(s, KIND(ACT_CMD, slot, mode), &c, data, len);
}

/* Connect on a slot: selectors as do_connect() reads them. */
static void seed_connect(struct seed *s, int slot, int mode, uint16_t qid, uint16_t sqsize, uint8_t cattr,
			 uint32_t kato, uint8_t subsel, uint8_t hostsel, uint8_t cntlid_sel, uint16_t cntlid)
{
	struct nvmf_connect_command c = { .qid = qid, .sqsize = sqsize, .cattr = cattr, .kato = kato };
	uint8_t d[21] = { subsel, hostsel, cntlid_sel, (uint8_t)cntlid, (uint8_t)(cntlid >> 8) };

	for (int i = 5; i < 21; i++)
		d[i] = (uint8_t)(0xa0 + i);
	seed_rec(s, KIND(ACT_CONNECT, slot, mode), &c, d, sizeof(d));
}

static void seed_fabrics(struct seed *s, int slot, uint8_t fctype, uint8_t attrib, uint32_t offset, uint64_t value)
{
	struct nvmf_property_command p = { .opcode = nvme_admin_fabrics, .fctype = fctype, .attrib = attrib,
					   .offset = offset, .value = value };

	seed_rec(s, KIND(ACT_CMD, slot, 0), &p, NULL, 0);
}

static void seed_write(const char *dir, const char *name, const struct seed *s)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/seed-%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, s->buf, s->len) != (ssize_t)s->len)
		abort();
	close(fd);
}

#define HB(hd, dd, setup, lsn) ((uint8_t)((hd) | (dd) << 1 | (setup) << 2 | (lsn) << 4))

/* I/O: every opcode on RAM, read-only and file namespaces, in-capsule and behind R2Ts. */
static void seeds_io(const char *dir, struct seed *s)
{
	seed_start(s, HB(0, 0, SETUP_IO, 0), 0);
	seed_connect(s, 1, 0, 1, 31, 0, 0, 0, 0, 0, 0);
	seed_cmd(s, 1, 0, nvme_cmd_write, 1, 0, 0, 7, s->pattern, 256);
	seed_cmd(s, 1, 0, nvme_cmd_read, 1, 0, 0, 7, NULL, 0);
	seed_cmd(s, 1, 0, nvme_cmd_compare, 1, 0, 0, 7, s->pattern, 256);
	seed_cmd(s, 1, 1, nvme_cmd_compare, 1, 0, 0, 7, NULL, 0);
	seed_cmd(s, 1, 0, nvme_cmd_flush, 1, 0, 0, 0, NULL, 0);
	seed_cmd(s, 1, 0, nvme_cmd_write_zeroes, 1, 8, 0, 15, NULL, 0);
	seed_cmd(s, 1, 0, nvme_cmd_dsm, 1, 1, NVME_DSMGMT_AD, 0, s->ranges, sizeof(s->ranges));
	seed_cmd(s, 1, 1, nvme_cmd_write, 1, 1792, 0, 255, s->pattern, 128);
	seed_cmd(s, 1, 0, nvme_cmd_read, 1, 0, 0, 2047, NULL, 0);
	seed_cmd(s, 1, 0, nvme_cmd_read, 1, 2047, 0, 1, NULL, 0);
	seed_cmd(s, 1, 0, nvme_cmd_write, 2, 0, 0, 0, s->pattern, 128);
	seed_cmd(s, 1, 0, nvme_cmd_read, 2, 0, 0, 0, NULL, 0);
	seed_cmd(s, 1, 1, nvme_cmd_write, 4, 1, 0, 1, s->pattern, 256);
	seed_cmd(s, 1, 0, nvme_cmd_read, 4, 1, 0, 1, NULL, 0);
	seed_cmd(s, 1, 0, nvme_cmd_flush, 4, 0, 0, 0, NULL, 0);
	seed_cmd(s, 1, 0, nvme_cmd_write_zeroes, 4, 0, 0, 3, NULL, 0);
	seed_cmd(s, 1, 0, nvme_cmd_dsm, 4, 0, NVME_DSMGMT_AD, 0, s->ranges, 16);
	seed_cmd(s, 1, 0, nvme_cmd_read, 1024, 0, 0, 0, NULL, 0);
	seed_cmd(s, 1, 0, nvme_cmd_read, 7, 0, 0, 0, NULL, 0);
	seed_cmd(s, 1, 0, 0x7e, 1, 0, 0, 0, NULL, 0);
	seed_fabrics(s, 1, nvmf_type_property_get, 0, NVME_REG_CSTS, 0);
	seed_fabrics(s, 1, nvmf_type_disconnect, 0, 0, 0);
	seed_write(dir, "io", s);
}

/* The same with digests, pipelined, a second worker, small H2CData PDUs, padded C2HData. */
static void seeds_io_digests_pipelined(const char *dir, struct seed *s)
{
	seed_start(s, HB(1, 1, SETUP_IO, 0) | 0x40, 2 | 1 << 2);
	seed_connect(s, 1, 1, 1, 3, 0, 0, 0, 0, 0, 0);
	seed_connect(s, 2, 0, 2, 127, 0, 0, 0, 0, 0, 0);
	seed_rec(s, KIND(ACT_CMD, 1, 1) | NOWAIT,
		 &(struct nvme_command){ .opcode = nvme_cmd_write, .nsid = 1, .cdw12 = 63 }, s->pattern, 256);
	seed_rec(s, KIND(ACT_CMD, 2, 0) | NOWAIT,
		 &(struct nvme_command){ .opcode = nvme_cmd_read, .nsid = 1, .cdw12 = 63 }, NULL, 0);
	seed_rec(s, KIND(ACT_CMD_BAD_DDGST, 1, 0),
		 &(struct nvme_command){ .opcode = nvme_cmd_write, .nsid = 1, .cdw12 = 0 }, s->pattern, 128);
	seed_rec(s, KIND(ACT_CMD_BAD_DDGST, 2, 1),
		 &(struct nvme_command){ .opcode = nvme_cmd_write, .nsid = 4, .cdw12 = 0 }, s->pattern, 128);
	seed_rec(s, KIND(ACT_SYNC, 0, 0), NULL, NULL, 0);
	seed_rec(s, KIND(ACT_CMD, 1, 0) | NOWAIT,
		 &(struct nvme_command){ .opcode = nvme_cmd_read, .nsid = 4, .cdw12 = 15 }, NULL, 0);
	seed_rec(s, KIND(ACT_CMD, 1, 0) | NOWAIT,
		 &(struct nvme_command){ .opcode = nvme_cmd_read, .nsid = 1, .cdw12 = 7 }, NULL, 0);
	seed_rec(s, KIND(ACT_CMD, 1, 0) | NOWAIT,
		 &(struct nvme_command){ .opcode = nvme_cmd_read, .nsid = 1, .cdw12 = 7 }, NULL, 0);
	seed_rec(s, KIND(ACT_CMD, 1, 0) | NOWAIT,
		 &(struct nvme_command){ .opcode = nvme_cmd_flush, .nsid = 1 }, NULL, 0);
	seed_write(dir, "io-digests-pipelined", s);
}

/* SQ flow control disabled: reads end with C2HData SUCCESS; the admin queue goes first. */
static void seeds_io_sqflow_off(const char *dir, struct seed *s)
{
	seed_start(s, HB(0, 1, SETUP_IO, 1), 0);
	seed_connect(s, 1, 0, 1, 31, NVMF_TREQ_DISABLE_SQFLOW, 0, 0, 0, 0, 0);
	seed_cmd(s, 1, 0, nvme_cmd_read, 1, 0, 0, 7, NULL, 0);
	seed_rec(s, KIND(ACT_CMD, 1, 0) | NOWAIT,
		 &(struct nvme_command){ .opcode = nvme_cmd_read, .nsid = 4, .cdw12 = 255 }, NULL, 0);
	seed_rec(s, KIND(ACT_CLOSE, 0, 0), NULL, NULL, 0);
	seed_cmd(s, 1, 0, nvme_cmd_read, 1, 0, 0, 7, NULL, 0);
	seed_write(dir, "io-sqflow-admin-closed", s);
}

/* The I/O queue Connect that crashed the target before 4fc3255, and its neighbours. */
static void seeds_io_connect_bad(const char *dir, struct seed *s)
{
	seed_start(s, HB(0, 0, SETUP_IO, 0), 0);
	seed_connect(s, 1, 0, 0xffff, 31, 0, 0, 0, 0, 0, 0);
	seed_write(dir, "io-connect-qid-ffff", s);
	seed_start(s, HB(0, 0, SETUP_IO, 0), 0);
	seed_connect(s, 1, 0, 129, 31, 0, 0, 0, 0, 0, 0);
	seed_connect(s, 2, 0, 5, 31, 0, 0, 0, 0, 0, 0);
	seed_connect(s, 3, 1, 4, 1023, 0, 0, 0, 0, 0, 0);
	seed_connect(s, 1, 0, 4, 31, 0, 0, 0, 0, 0, 0); /* taken by slot 3 */
	seed_connect(s, 2, 0, 1, 31, 0, 0, 0, 1, 0, 0); /* another host */
	seed_connect(s, 2, 0, 1, 31, 0, 0, 0, 0, 3, 0x7777); /* unknown controller */
	seed_connect(s, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0); /* sqsize 0 */
	seed_connect(s, 2, 0, 1, 1024, 0, 0, 0, 0, 0, 0); /* beyond MQES */
	seed_connect(s, 2, 0, 0, 31, 0, 0, 0, 0, 0, 0); /* a second admin queue: a second controller */
	seed_connect(s, 1, 0, 1, 31, 0, 0, 0, 0, 4, 0xff); /* the first controller again */
	seed_connect(s, 0, 0, 2, 31, 0, 0, 0, 0, 0, 0); /* Connect on a live admin queue */
	seed_write(dir, "io-connect-bad", s);
}

/* Admin and I/O Connects with every NQN choice, on every listener. */
static void seeds_connect_nqns(const char *dir, struct seed *s)
{
	for (int l = 0; l < 4; l++) {
		char name[32];

		seed_start(s, HB(0, 0, SETUP_NONE, l), 0);
		seed_rec(s, KIND(ACT_OPEN, 0, 0), NULL, NULL, 0);
		seed_cmd(s, 0, 0, nvme_admin_identify, 0, NVME_ID_CNS_CTRL, 0, 0, NULL, 0); /* before Connect */
		for (uint8_t sub = 0; sub < 8; sub++) {
			seed_rec(s, KIND(ACT_OPEN, 0, 0), NULL, NULL, 0);
			seed_connect(s, 0, 0, 0, 31, 0, 0, sub, 0, 0, 0);
		}
		for (uint8_t host = 0; host < 6; host++) {
			seed_rec(s, KIND(ACT_OPEN, 1, 0), NULL, NULL, 0);
			seed_connect(s, 1, 0, 0, 31, 0, 0, 2, host, 0, 0);
		}
		seed_connect(s, 2, 0, 0, 31, 0, 0, 0, 0, 3, 1); /* static controller */
		seed_connect(s, 2, 2, 0, 31, 0, 0, 0, 0, 0, 0); /* SGL from the SQE: none */
		seed_connect(s, 2, 3, 0, 31, 0, 0, 0, 0, 0, 0);
		seed_connect(s, 3, 1, 0, 31, 0, 5000, 3, 0, 0, 0);
		seed_connect(s, 3, 0, 1, 31, 0, 0, 3, 0, 0, 0);
		seed_connect(s, 2, 0, 1, 31, 0, 0, 1, 0, 1, 0); /* I/O queue of a discovery controller */
		snprintf(name, sizeof(name), "connect-nqns-port%d", l);
		seed_write(dir, name, s);
	}
}

/* The subsystem that allows one host: RECFMT 1, another host, then the allowed one through to I/O. */
static void seeds_connect_locked(const char *dir, struct seed *s)
{
	struct nvmf_connect_command recfmt1 = { .qid = 0, .sqsize = 31, .recfmt = 1 };

	seed_start(s, HB(0, 0, SETUP_NONE, 0), 0);
	seed_rec(s, KIND(ACT_CONNECT, 0, 0), &recfmt1, NULL, 0);
	seed_connect(s, 0, 0, 0, 31, 0, 0, 2, 1, 0, 0);
	seed_connect(s, 0, 0, 0, 31, 0, 0, 2, 0, 0, 0);
	seed_fabrics(s, 0, nvmf_type_property_set, 0, NVME_REG_CC, NVME_CC_ENABLE | 6 << 16 | 4 << 20);
	seed_cmd(s, 0, 0, nvme_admin_set_features, 0, NVME_FEAT_NUM_QUEUES, 0, 0, NULL, 0);
	seed_connect(s, 1, 0, 1, 31, 0, 0, 2, 0, 0, 0);
	seed_cmd(s, 1, 0, nvme_cmd_write, 1, 0, 0, 0, s->pattern, 128);
	seed_cmd(s, 0, 0, nvme_admin_get_log_page, 0, NVME_LOG_SMART | 127 << 16, 0, 0, NULL, 0);
	seed_write(dir, "connect-locked", s);
}

/* Properties: every register in both sizes, enable, bad CC, shutdown, disable; commands around it. */
static void seeds_properties(const char *dir, struct seed *s)
{
	seed_start(s, HB(0, 0, SETUP_DISABLED, 0), 0);
	seed_cmd(s, 0, 0, nvme_admin_identify, 0, NVME_ID_CNS_CTRL, 0, 0, NULL, 0);
	for (uint32_t reg = 0; reg <= 0x20; reg += 4) {
		seed_fabrics(s, 0, nvmf_type_property_get, 0, reg, 0);
		seed_fabrics(s, 0, nvmf_type_property_get, 1, reg, 0);
	}
	seed_fabrics(s, 0, nvmf_type_property_set, 1, NVME_REG_CC, 1);
	seed_fabrics(s, 0, nvmf_type_property_set, 0, NVME_REG_CSTS, 1);
	seed_fabrics(s, 0, nvmf_type_property_set, 0, NVME_REG_CC, NVME_CC_ENABLE | 7 << 16 | 4 << 20);
	seed_fabrics(s, 0, nvmf_type_property_set, 0, NVME_REG_CC, 0);
	seed_fabrics(s, 0, nvmf_type_property_set, 0, NVME_REG_CC, NVME_CC_ENABLE | 6 << 16 | 4 << 20);
	seed_cmd(s, 0, 0, nvme_admin_identify, 0, NVME_ID_CNS_CTRL, 0, 0, NULL, 0);
	seed_fabrics(s, 0, nvmf_type_property_set, 0, NVME_REG_CC,
		     NVME_CC_ENABLE | 6 << 16 | 4 << 20 | 1 << 14);
	seed_fabrics(s, 0, nvmf_type_property_get, 0, NVME_REG_CSTS, 0);
	seed_fabrics(s, 0, nvmf_type_property_set, 0, NVME_REG_CC, 6 << 16 | 4 << 20);
	seed_fabrics(s, 0, 0x05, 0, 0, 0); /* authentication send: unsupported */
	seed_fabrics(s, 0, 0x7f, 0, 0, 0);
	seed_fabrics(s, 0, nvmf_type_connect, 0, 0, 0); /* a second Connect */
	seed_fabrics(s, 0, nvmf_type_disconnect, 0, 0, 0);
	seed_write(dir, "properties", s);
}

/* Identify: every CNS, NSID edge cases, CSI. */
static void seeds_admin_identify(const char *dir, struct seed *s)
{
	seed_start(s, HB(0, 0, SETUP_IO, 0), 0);
	for (uint32_t cns = 0; cns <= 9; cns++) {
		static const uint32_t nsids[] = { 0, 1, 3, 4, 1023, 1024, 1025, 0xfffffffe, 0xffffffff };

		for (size_t i = 0; i < sizeof(nsids) / sizeof(nsids[0]); i++) {
			if (cns != 0 && cns != 2 && cns != 3 && cns != 5 && i > 1)
				continue;
			seed_cmd(s, 0, 0, nvme_admin_identify, nsids[i], cns, 0, 0, NULL, 0);
		}
	}
	seed_cmd(s, 0, 0, nvme_admin_identify, 1, NVME_ID_CNS_CS_NS, 1u << 24, 0, NULL, 0);
	seed_cmd(s, 0, 0, nvme_admin_identify, 0, NVME_ID_CNS_CS_CTRL, 2u << 24, 0, NULL, 0);
	seed_rec(s, KIND(ACT_CMD, 0, 2), &(struct nvme_command){ .opcode = nvme_admin_identify, .cdw10 = 1 },
		 NULL, 0); /* no SGL */
	seed_rec(s, KIND(ACT_CMD, 0, 2),
		 &(struct nvme_command){ .opcode = nvme_admin_identify, .flags = NVME_CMD_PSDT_SGL, .cdw10 = 1,
					 .dptr = { .type = NVME_SGL_TRANSPORT_DATA_BLOCK, .length = 100 } },
		 NULL, 0);
	seed_rec(s, KIND(ACT_CMD, 0, 3),
		 &(struct nvme_command){ .opcode = nvme_admin_identify, .flags = NVME_CMD_PSDT_SGL, .cdw10 = 1,
					 .dptr = { .type = NVME_SGL_DATA_BLOCK_OFFSET, .length = 64 } },
		 s->pattern, 64);
	seed_write(dir, "admin-identify", s);
}

/* Get Log Page: every log, offsets and lengths, RAE; Get/Set Features: every FID. */
static void seeds_admin_logs_features(const char *dir, struct seed *s)
{
	seed_start(s, HB(0, 0, SETUP_IO, 2), 0);
	for (uint32_t lid = 0; lid <= 6; lid++) {
		seed_cmd(s, 0, 0, nvme_admin_get_log_page, 0, lid | 1023u << 16, 0, 0, NULL, 0);
		seed_cmd(s, 0, 0, nvme_admin_get_log_page, 0, lid | 3u << 16 | NVME_LOG_RAE, 0, 512, NULL, 0);
	}
	seed_cmd(s, 0, 0, nvme_admin_get_log_page, 0, NVME_LOG_SMART | 127u << 16, 0, 2, NULL, 0);
	seed_cmd(s, 0, 0, nvme_admin_get_log_page, 0, NVME_LOG_SMART | 0xffffu << 16, 0xffff, 0, NULL, 0);
	seed_cmd(s, 0, 0, nvme_admin_get_log_page, 0, NVME_LOG_DISC | 255u << 16, 0, 0, NULL, 0);
	seed_cmd(s, 0, 0, nvme_admin_get_log_page, 0, 0xc0 | 255u << 16, 0, 0, NULL, 0);
	for (uint32_t fid = 0; fid <= 0x10; fid++) {
		seed_cmd(s, 0, 0, nvme_admin_get_features, 0, fid, 0, 0, NULL, 0);
		seed_cmd(s, 0, 0, nvme_admin_set_features, 0, fid, 0x100, 0, NULL, 0);
	}
	seed_cmd(s, 0, 0, nvme_admin_get_features, 0, NVME_FEAT_HOST_BEHAVIOR, 0, 0, NULL, 0);
	seed_cmd(s, 0, 0, nvme_admin_get_features, 0, NVME_FEAT_HOST_ID, 1, 0, NULL, 0);
	seed_cmd(s, 0, 0, nvme_admin_get_features, 0, NVME_FEAT_HOST_ID, 0, 0, NULL, 0);
	seed_cmd(s, 0, 0, nvme_admin_set_features, 0, NVME_FEAT_HOST_ID, 0, 0, s->hostid, 16);
	seed_cmd(s, 0, 0, nvme_admin_set_features, 0, NVME_FEAT_NUM_QUEUES, 0xffff, 0, NULL, 0);
	seed_cmd(s, 0, 0, nvme_admin_set_features, 0, NVME_FEAT_NUM_QUEUES, 0x00ff00ff, 0, NULL, 0);
	seed_cmd(s, 0, 0, nvme_admin_set_features, 0, NVME_FEAT_KATO | 1u << 31, 1000, 0, NULL, 0);
	seed_cmd(s, 0, 0, nvme_admin_set_features, 0, NVME_FEAT_KATO, 100000, 0, NULL, 0);
	seed_write(dir, "admin-logs-features", s);
}

/* AER (up to the limit), Abort, Keep Alive, unknown opcodes; a namespace change with AER armed. */
static void seeds_admin_aer_ns_change(const char *dir, struct seed *s)
{
	seed_start(s, HB(0, 0, SETUP_IO, 0), 0);
	seed_cmd(s, 0, 0, nvme_admin_set_features, 0, NVME_FEAT_ASYNC_EVENT, NVME_AEN_CFG_NS_ATTR, 0, NULL, 0);
	seed_connect(s, 1, 0, 1, 31, 0, 0, 0, 0, 0, 0);
	for (int i = 0; i < 5; i++)
		seed_cmd(s, 0, 0, nvme_admin_async_event, 0, 0, 0, 0, NULL, 0);
	seed_rec(s, KIND(ACT_CMD, 1, 0) | NOWAIT,
		 &(struct nvme_command){ .opcode = nvme_cmd_read, .nsid = 3, .cdw12 = 0 }, NULL, 0);
	seed_rec(s, KIND(ACT_NS, 0, 0), &(uint8_t[64]){ 0 }, NULL, 0); /* add nsid 3 */
	seed_cmd(s, 1, 0, nvme_cmd_write, 3, 0, 0, 0, s->pattern, 256);
	seed_cmd(s, 1, 0, nvme_cmd_read, 3, 0, 0, 1, NULL, 0);
	seed_cmd(s, 0, 0, nvme_admin_get_log_page, 0, NVME_LOG_CHANGED_NS | 1023u << 16, 0, 0, NULL, 0);
	seed_cmd(s, 0, 0, nvme_admin_async_event, 0, 0, 0, 0, NULL, 0);
	seed_rec(s, KIND(ACT_NS, 0, 0), &(uint8_t[64]){ 1 }, NULL, 0); /* remove nsid 1 */
	seed_cmd(s, 1, 0, nvme_cmd_read, 1, 0, 0, 0, NULL, 0);
	seed_rec(s, KIND(ACT_NS, 0, 0), &(uint8_t[64]){ 2 }, NULL, 0); /* remove nsid 4 (file) */
	seed_cmd(s, 0, 0, nvme_admin_get_log_page, 0, NVME_LOG_CHANGED_NS | 1023u << 16 | NVME_LOG_RAE, 0, 0,
		 NULL, 0);
	seed_cmd(s, 0, 0, nvme_admin_abort_cmd, 0, 1 << 16, 0, 0, NULL, 0);
	seed_cmd(s, 0, 0, nvme_admin_keep_alive, 0, 0, 0, 0, NULL, 0);
	seed_cmd(s, 0, 0, nvme_admin_create_sq, 0, 0, 0, 0, NULL, 0);
	seed_cmd(s, 0, 0, 0xc1, 0, 0, 0, 0, NULL, 0);
	seed_cmd(s, 1, 0, nvme_admin_async_event, 0, 0, 0, 0, NULL, 0);
	seed_write(dir, "admin-aer-ns-change", s);
}

/* ANA: the change event armed and sent, the log with and without RGO and RAE, I/O through a port
 * whose group turns inaccessible, lost or changing, a namespace in group 2. */
static void seeds_ana(const char *dir, struct seed *s)
{
	seed_start(s, HB(0, 0, SETUP_IO, 0), 0);
	seed_cmd(s, 0, 0, nvme_admin_set_features, 0, NVME_FEAT_ASYNC_EVENT,
		 NVME_AEN_CFG_NS_ATTR | NVME_AEN_CFG_ANA_CHANGE, 0, NULL, 0);
	seed_connect(s, 1, 0, 1, 31, 0, 0, 0, 0, 0, 0);
	for (int i = 0; i < 2; i++)
		seed_cmd(s, 0, 0, nvme_admin_async_event, 0, 0, 0, 0, NULL, 0);
	/* Port 0: the seed's connections come through no listener. Group 1 inaccessible: */
	seed_rec(s, KIND(ACT_NS, 0, 0), &(uint8_t[64]){ 0x80, 0, 0, 2 }, NULL, 0);
	seed_cmd(s, 1, 0, nvme_cmd_write, 1, 0, 0, 0, s->pattern, 256);
	seed_cmd(s, 0, 0, nvme_admin_get_log_page, 0, NVME_LOG_ANA | 1023u << 16, 0, 0, NULL, 0);
	seed_rec(s, KIND(ACT_NS, 0, 0), &(uint8_t[64]){ 0x80, 0, 0, 4 }, NULL, 0); /* ... change */
	seed_cmd(s, 1, 0, nvme_cmd_read, 1, 0, 0, 0, NULL, 0);
	seed_rec(s, KIND(ACT_NS, 0, 0), &(uint8_t[64]){ 0 }, NULL, 0); /* add nsid 3, ANA group 2 */
	seed_cmd(s, 1, 0, nvme_cmd_read, 3, 0, 0, 0, NULL, 0);
	seed_rec(s, KIND(ACT_NS, 0, 0), &(uint8_t[64]){ 0x80, 0, 1, 1 }, NULL, 0); /* group 2 non-optimized */
	seed_cmd(s, 1, 0, nvme_cmd_write, 3, 0, 0, 0, s->pattern, 256);
	seed_cmd(s, 0, 0, nvme_admin_get_log_page, 0, NVME_LOG_ANA | 1u << 8 | 255u << 16 | NVME_LOG_RAE, 0, 0, NULL,
		 0);
	seed_cmd(s, 0, 0, nvme_admin_get_log_page, 0, NVME_LOG_ANA | 3u << 16, 0, 16, NULL, 0);
	seed_cmd(s, 0, 0, nvme_admin_get_log_page, 0, NVME_LOG_ANA | 0xffffu << 16, 0xffff, 6, NULL, 0);
	seed_rec(s, KIND(ACT_NS, 0, 0), &(uint8_t[64]){ 0x80, 0, 0, 3 }, NULL, 0); /* group 1 persistent loss */
	seed_cmd(s, 1, 0, nvme_cmd_flush, 1, 0, 0, 0, NULL, 0);
	seed_cmd(s, 0, 0, nvme_admin_identify, 3, NVME_ID_CNS_NS, 0, 0, NULL, 0);
	seed_write(dir, "ana", s);
}

/* Discovery: the log page at offsets and lengths, Identify, features, on each listener. */
static void seeds_discovery(const char *dir, struct seed *s)
{
	for (int l = 0; l < 4; l++) {
		char name[32];

		seed_start(s, HB(0, 0, SETUP_DISCOVERY, l), 0);
		seed_cmd(s, 0, 0, nvme_admin_get_log_page, 0, NVME_LOG_DISC | 1023u << 16, 0, 0, NULL, 0);
		seed_cmd(s, 0, 0, nvme_admin_get_log_page, 0, NVME_LOG_DISC | 255u << 16, 0, 1024, NULL, 0);
		seed_cmd(s, 0, 0, nvme_admin_get_log_page, 0, NVME_LOG_DISC | 15u << 16, 0, 2, NULL, 0);
		seed_cmd(s, 0, 0, nvme_admin_get_log_page, 0, NVME_LOG_DISC | 0xffffu << 16, 0, 0, NULL, 0);
		seed_cmd(s, 0, 0, nvme_admin_get_log_page, 0, NVME_LOG_SMART | 127u << 16, 0, 0, NULL, 0);
		seed_cmd(s, 0, 0, nvme_admin_identify, 0, NVME_ID_CNS_CTRL, 0, 0, NULL, 0);
		seed_cmd(s, 0, 0, nvme_admin_identify, 1, NVME_ID_CNS_NS, 0, 0, NULL, 0);
		seed_cmd(s, 0, 0, nvme_admin_get_features, 0, NVME_FEAT_KATO, 0, 0, NULL, 0);
		seed_cmd(s, 0, 0, nvme_admin_set_features, 0, NVME_FEAT_KATO, 5000, 0, NULL, 0);
		seed_cmd(s, 0, 0, nvme_admin_set_features, 0, NVME_FEAT_ASYNC_EVENT, 0x80000000, 0, NULL, 0);
		seed_cmd(s, 0, 0, nvme_admin_get_features, 0, NVME_FEAT_NUM_QUEUES, 0, 0, NULL, 0);
		seed_cmd(s, 0, 0, nvme_admin_keep_alive, 0, 0, 0, 0, NULL, 0);
		seed_cmd(s, 0, 0, nvme_admin_async_event, 0, 0, 0, 0, NULL, 0);
		seed_cmd(s, 0, 0, nvme_admin_abort_cmd, 0, 0, 0, 0, NULL, 0);
		seed_fabrics(s, 0, nvmf_type_property_get, 1, NVME_REG_CAP, 0);
		seed_fabrics(s, 0, nvmf_type_disconnect, 0, 0, 0);
		snprintf(name, sizeof(name), "discovery-port%d", l);
		seed_write(dir, name, s);
	}
}

/* Raw SGLs on I/O commands and a queue overrun: sqsize 1 takes two commands at a time. */
static void seeds_io_raw_sgl_overrun(const char *dir, struct seed *s)
{
	seed_start(s, HB(0, 0, SETUP_IO, 0), 0);
	seed_connect(s, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0);
	seed_rec(s, KIND(ACT_CMD, 1, 2),
		 &(struct nvme_command){ .opcode = nvme_cmd_write, .nsid = 1, .flags = NVME_CMD_PSDT_SGL,
					 .dptr = { .type = NVME_SGL_DATA_BLOCK_OFFSET, .length = 1024 } },
		 s->pattern, 128);
	seed_rec(s, KIND(ACT_CMD, 1, 3),
		 &(struct nvme_command){ .opcode = nvme_cmd_write, .nsid = 1, .flags = NVME_CMD_PSDT_SGL,
					 .dptr = { .type = NVME_SGL_TRANSPORT_DATA_BLOCK, .length = 512 } },
		 s->pattern, 128);
	seed_rec(s, KIND(ACT_CMD, 1, 2),
		 &(struct nvme_command){ .opcode = nvme_cmd_read, .nsid = 1, .flags = NVME_CMD_PSDT_SGL,
					 .dptr = { .type = 0x00, .length = 512 } },
		 NULL, 0);
	seed_rec(s, KIND(ACT_CMD, 1, 2),
		 &(struct nvme_command){ .opcode = nvme_cmd_read, .nsid = 1, .flags = NVME_CMD_PSDT_SGL,
					 .dptr = { .type = NVME_SGL_TRANSPORT_DATA_BLOCK, .length = 2u << 20 } },
		 NULL, 0);
	seed_rec(s, KIND(ACT_CMD, 1, 2),
		 &(struct nvme_command){ .opcode = nvme_cmd_dsm, .nsid = 1, .cdw10 = 255, .cdw11 = NVME_DSMGMT_AD,
					 .flags = NVME_CMD_PSDT_SGL,
					 .dptr = { .type = NVME_SGL_DATA_BLOCK_OFFSET, .length = 32 } },
		 s->ranges, 32);
	seed_rec(s, KIND(ACT_CMD, 1, 0),
		 &(struct nvme_command){ .opcode = nvme_cmd_dsm, .nsid = 1, .cdw10 = 0, .cdw11 = NVME_DSMGMT_AD },
		 &(struct nvme_dsm_range){ 0, 0xffffffff, 0xffffffffffffff00ull }, 16);
	seed_rec(s, KIND(ACT_CMD, 1, 0),
		 &(struct nvme_command){ .opcode = nvme_cmd_write, .nsid = 1, .cdw10 = ~0u, .cdw11 = ~0u }, NULL, 0);
	for (int i = 0; i < 3; i++)
		seed_rec(s, KIND(ACT_CMD, 1, 1) | NOWAIT,
			 &(struct nvme_command){ .opcode = nvme_cmd_write, .nsid = 1, .cdw12 = 255 }, s->pattern, 64);
	seed_write(dir, "io-raw-sgl-overrun", s);
}

/* Authentication Send (h2c) or Receive with the DH-HMAC-CHAP protocol fields; mode 0 lets the
 * harness size the transfer from the message (Send) or the SQE's SGL length (Receive). */
static void seed_auth(struct seed *s, int slot, bool send, const void *msg, uint16_t len, uint32_t al)
{
	struct nvmf_auth_command a = { .opcode = nvme_admin_fabrics,
				       .fctype = send ? nvmf_type_auth_send : nvmf_type_auth_receive,
				       .spsp0 = NVME_AUTH_SPSP, .spsp1 = NVME_AUTH_SPSP, .secp = NVME_AUTH_SECP_INBAND,
				       .len = send ? len : al };

	a.dptr.length = send ? 0 : al;
	seed_rec(s, KIND(ACT_CMD, slot, 0), &a, msg, send ? len : 0);
}

/* DH-HMAC-CHAP: a host that must authenticate (null group; then bidirectional over ffdhe2048)
 * negotiates, takes the challenge, answers with a response the fuzzer can only guess, tries
 * commands and an I/O queue before and after. */
static void seeds_auth(const char *dir, struct seed *s)
{
	uint8_t neg[72] = { 0, 0, 0, 0, 1, 0, 0, 1, 1, 0, 3, 6, 1, 2, 3 };
	uint8_t reply[16 + 2 * 64 + 256] = { 1, 2, 0, 0, 1, 0, 32, 0, 0 };

	for (int i = 0; i < 6; i++)
		neg[8 + 34 + i] = (uint8_t)i; /* DH groups null, ffdhe2048 ... 8192 */
	seed_start(s, HB(0, 0, SETUP_NONE, 0), 0);
	seed_connect(s, 0, 0, 0, 31, 0, 0, 0, 6, 0, 0);
	seed_cmd(s, 0, 0, nvme_admin_identify, 0, NVME_ID_CNS_CTRL, 0, 0, NULL, 0); /* before: refused */
	seed_connect(s, 1, 0, 1, 31, 0, 0, 0, 6, 0, 0); /* I/O queue before the admin queue authenticated */
	seed_auth(s, 0, true, neg, sizeof(neg), 0);
	seed_auth(s, 0, false, NULL, 0, 4096);
	memcpy(reply + 16, s->pattern, 64);
	seed_auth(s, 0, true, reply, 16 + 64, 0);
	seed_auth(s, 0, false, NULL, 0, 4096);
	seed_cmd(s, 0, 0, nvme_admin_identify, 0, NVME_ID_CNS_CTRL, 0, 0, NULL, 0);
	seed_write(dir, "auth-null", s);

	seed_start(s, HB(0, 0, SETUP_NONE, 0), 0);
	seed_connect(s, 0, 0, 0, 31, 0, 0, 0, 7, 0, 0);
	neg[4] = 2; /* T_ID */
	seed_auth(s, 0, true, neg, sizeof(neg), 0);
	seed_auth(s, 0, false, NULL, 0, 4096);
	reply[4] = 2, reply[6] = 64, reply[8] = 1, reply[10] = 0, reply[11] = 1; /* hl 64, cvalid, dhvlen 256 */
	reply[12] = 0x34, reply[13] = 0x12; /* seqnum */
	seed_auth(s, 0, true, reply, sizeof(reply), 0);
	seed_auth(s, 0, false, NULL, 0, 4096);
	seed_auth(s, 0, true, neg, 5, 0); /* truncated */
	seed_auth(s, 0, false, NULL, 0, 8); /* too small */
	seed_write(dir, "auth-dh-bidirectional", s);
}

/* Every builder above, in the order the seeds were first written. */
/* Persistent reservations: register, acquire, report, preempt with abort, release, clear, with the
 * event armed, log page 80h and the mask and persistence features; short data and a huge report. */
static void seeds_resv(const char *dir, struct seed *s)
{
	uint8_t keys[16] = { 4 }, keys2[16] = { 4, 0, 0, 0, 0, 0, 0, 0, 4 };
	struct nvme_command report = { .opcode = nvme_cmd_resv_report, .nsid = 1, .cdw10 = 1023, .cdw11 = 1 };

	report.dptr.length = 4096;
	seed_start(s, HB(0, 0, SETUP_IO, 0), 0);
	seed_connect(s, 1, 0, 1, 31, 0, 0, 0, 0, 0, 0);
	seed_cmd(s, 0, 0, nvme_admin_async_event, 0, 0, 0, 0, NULL, 0);
	seed_cmd(s, 1, 0, nvme_cmd_resv_register, 1, 0, 0, 0, keys, 16);
	seed_cmd(s, 1, 0, nvme_cmd_resv_acquire, 1, NVME_RESV_WRITE_EXCLUSIVE << 8, 0, 0, keys, 16);
	seed_rec(s, KIND(ACT_CMD, 1, 0), &report, NULL, 0);
	seed_cmd(s, 1, 0, nvme_cmd_write, 1, 0, 0, 0, s->pattern, 256);
	seed_cmd(s, 1, 0, nvme_cmd_resv_acquire, 1, NVME_RESV_PREEMPT_ABORT | NVME_RESV_EXCLUSIVE_ACCESS << 8, 0, 0,
		 keys2, 16);
	seed_cmd(s, 1, 0, nvme_cmd_resv_release, 1, NVME_RESV_EXCLUSIVE_ACCESS << 8, 0, 0, keys, 8);
	seed_cmd(s, 1, 0, nvme_cmd_resv_register, 1, NVME_RESV_REPLACE | 3u << 30, 0, 0, keys2, 16);
	seed_cmd(s, 1, 0, nvme_cmd_resv_release, 1, NVME_RESV_CLEAR, 0, 0, keys, 8);
	seed_cmd(s, 1, 0, nvme_cmd_resv_register, 1, 0, 0, 0, keys, 4);
	report.cdw10 = 0xffffffff;
	seed_rec(s, KIND(ACT_CMD, 1, 0), &report, NULL, 0);
	seed_cmd(s, 0, 0, nvme_admin_get_log_page, 0, NVME_LOG_RESERVATION | 15u << 16, 0, 0, NULL, 0);
	seed_cmd(s, 0, 0, nvme_admin_set_features, 1, NVME_FEAT_RESV_MASK, 0xe, 0, NULL, 0);
	seed_cmd(s, 0, 0, nvme_admin_get_features, 1, NVME_FEAT_RESV_MASK, 0, 0, NULL, 0);
	seed_cmd(s, 0, 0, nvme_admin_set_features, 0xffffffff, NVME_FEAT_RESV_MASK, 2, 0, NULL, 0);
	seed_cmd(s, 0, 0, nvme_admin_set_features, 1, NVME_FEAT_RESV_PERSIST, 1, 0, NULL, 0);
	seed_cmd(s, 0, 0, nvme_admin_get_features, 1, NVME_FEAT_RESV_PERSIST, 0, 0, NULL, 0);
	seed_write(dir, "resv", s);
}

/* One Read/Write/Compare with FUSE bits (SQE flags 1:0) and its data; FIRSTs go without waiting, as
 * their answer comes only with the queue's next command. */
static void seed_fused(struct seed *s, int slot, int mode, uint8_t fuse, uint8_t opcode, uint32_t nsid,
		       uint32_t slba, uint16_t nlb0, const uint8_t *data, uint16_t len)
{
	struct nvme_command c = { .opcode = opcode, .flags = fuse, .nsid = nsid, .cdw10 = slba, .cdw12 = nlb0 };

	seed_rec(s, KIND(ACT_CMD, slot, mode) | (fuse == SQE_FUSE_FIRST ? NOWAIT : 0), &c, data, len);
}

static void seed_pair(struct seed *s, int slot, int cmp_mode, int wr_mode, uint32_t nsid, uint32_t slba,
		      uint16_t nlb0, const uint8_t *cmp, const uint8_t *wr)
{
	seed_fused(s, slot, cmp_mode, SQE_FUSE_FIRST, nvme_cmd_compare, nsid, slba, nlb0, cmp, cmp ? 128 : 0);
	seed_fused(s, slot, wr_mode, SQE_FUSE_SECOND, nvme_cmd_write, nsid, slba, nlb0, wr, wr ? 128 : 0);
}

/* Fused Compare and Write that should succeed and one that miscompares, with the data in the capsule,
 * behind R2Ts and mixed, on RAM and file namespaces, the largest pair (ACWU), then a read back. */
static void seeds_fused_pairs(const char *dir, struct seed *s)
{
	const uint8_t *a = s->pattern, *b = s->pattern + 1;

	seed_start(s, HB(0, 0, SETUP_IO, 0), 0);
	seed_connect(s, 1, 0, 1, 31, 0, 0, 0, 0, 0, 0);
	seed_cmd(s, 1, 0, nvme_cmd_write, 1, 0, 0, 7, a, 128);
	seed_pair(s, 1, 0, 0, 1, 0, 7, a, b); /* matches */
	seed_pair(s, 1, 0, 0, 1, 0, 7, a, a); /* miscompares: b is stored now */
	seed_pair(s, 1, 1, 1, 1, 0, 7, b, a);
	seed_pair(s, 1, 0, 1, 1, 0, 7, a, b);
	seed_pair(s, 1, 1, 0, 1, 0, 31, b, a); /* 16 KiB: the compare by R2T, the write in the capsule */
	seed_pair(s, 1, 1, 1, 1, 0, 2047, NULL, NULL); /* the whole namespace, 1 MiB */
	seed_cmd(s, 1, 0, nvme_cmd_read, 1, 0, 0, 7, NULL, 0);
	seed_cmd(s, 1, 0, nvme_cmd_write, 4, 2, 0, 1, a, 128);
	seed_pair(s, 1, 0, 1, 4, 2, 1, a, b);
	seed_pair(s, 1, 1, 0, 4, 2, 1, a, b);
	seed_cmd(s, 1, 0, nvme_cmd_compare, 4, 2, 0, 1, b, 128);
	seed_cmd(s, 1, 0, nvme_cmd_compare, 4, 2, 0, 1, a, 128);
	seed_write(dir, "fused-pairs", s);
}

/* Broken pairs: reserved FUSE, a FIRST followed by a plain command, a lone SECOND, a FIRST that is not a
 * Compare, a SECOND that is not a Write, halves that differ in NSID, SLBA or NLB, out of range. */
static void seeds_fused_broken(const char *dir, struct seed *s)
{
	const uint8_t *a = s->pattern;

	seed_start(s, HB(0, 0, SETUP_IO, 0), 0);
	seed_connect(s, 1, 0, 1, 31, 0, 0, 0, 0, 0, 0);
	seed_fused(s, 1, 0, SQE_FUSE_MASK, nvme_cmd_compare, 1, 0, 7, a, 64);
	seed_fused(s, 1, 0, SQE_FUSE_FIRST, nvme_cmd_compare, 1, 0, 7, a, 64);
	seed_cmd(s, 1, 0, nvme_cmd_read, 1, 0, 0, 7, NULL, 0);
	seed_fused(s, 1, 0, SQE_FUSE_SECOND, nvme_cmd_write, 1, 0, 7, a, 64);
	seed_fused(s, 1, 0, SQE_FUSE_FIRST, nvme_cmd_write, 1, 0, 7, a, 64);
	seed_fused(s, 1, 0, SQE_FUSE_SECOND, nvme_cmd_write, 1, 0, 7, a, 64);
	seed_fused(s, 1, 0, SQE_FUSE_FIRST, nvme_cmd_compare, 1, 0, 7, a, 64);
	seed_fused(s, 1, 0, SQE_FUSE_SECOND, nvme_cmd_read, 1, 0, 7, NULL, 0);
	seed_fused(s, 1, 0, SQE_FUSE_FIRST, nvme_cmd_compare, 1, 0, 7, a, 64);
	seed_fused(s, 1, 0, SQE_FUSE_SECOND, nvme_cmd_write, 1024, 0, 7, a, 64);
	seed_fused(s, 1, 0, SQE_FUSE_FIRST, nvme_cmd_compare, 1, 0, 7, a, 64);
	seed_fused(s, 1, 0, SQE_FUSE_SECOND, nvme_cmd_write, 1, 8, 7, a, 64);
	seed_fused(s, 1, 0, SQE_FUSE_FIRST, nvme_cmd_compare, 1, 0, 7, a, 64);
	seed_fused(s, 1, 0, SQE_FUSE_SECOND, nvme_cmd_write, 1, 0, 3, a, 64);
	seed_fused(s, 1, 0, SQE_FUSE_FIRST, nvme_cmd_compare, 1, 2044, 7, a, 64);
	seed_fused(s, 1, 0, SQE_FUSE_SECOND, nvme_cmd_write, 1, 2044, 7, a, 64);
	seed_fused(s, 1, 0, SQE_FUSE_FIRST, nvme_cmd_compare, 1, 0, 7, a, 64);
	seed_fused(s, 1, 0, SQE_FUSE_FIRST, nvme_cmd_compare, 1, 0, 7, a, 64);
	seed_rec(s, KIND(ACT_CMD, 0, 0), &(struct nvme_command){ .opcode = nvme_admin_identify, .flags = 1,
								 .cdw10 = 1 }, NULL, 0);
	seed_rec(s, KIND(ACT_CMD, 0, 0), &(struct nvme_command){ .opcode = nvme_admin_identify, .flags = 2,
								 .cdw10 = 1 }, NULL, 0);
	seed_fused(s, 1, 0, SQE_FUSE_SECOND, nvme_cmd_write, 1, 0, 7, a, 64);
	seed_write(dir, "fused-broken", s);
}

/* A pair split across two queues; a FIRST pending while its namespace goes away, while its queue
 * closes (one with its data behind an R2T); pairs pipelined on two workers over one range. */
static void seeds_fused_split(const char *dir, struct seed *s)
{
	const uint8_t *a = s->pattern, *b = s->pattern + 1;

	seed_start(s, HB(0, 0, SETUP_IO, 0) | 0x40, 0);
	seed_connect(s, 1, 0, 1, 31, 0, 0, 0, 0, 0, 0);
	seed_connect(s, 2, 0, 2, 31, 0, 0, 0, 0, 0, 0);
	seed_fused(s, 1, 0, SQE_FUSE_FIRST, nvme_cmd_compare, 1, 0, 7, NULL, 0);
	seed_fused(s, 2, 0, SQE_FUSE_SECOND, nvme_cmd_write, 1, 0, 7, a, 64);
	seed_cmd(s, 1, 0, nvme_cmd_write, 1, 0, 0, 7, NULL, 0);
	for (int i = 0; i < 3; i++) {
		seed_rec(s, KIND(ACT_CMD, 1, 0) | NOWAIT, &(struct nvme_command){ .opcode = nvme_cmd_compare,
			 .flags = SQE_FUSE_FIRST, .nsid = 1, .cdw12 = 15 }, i & 1 ? b : a, 64);
		seed_rec(s, KIND(ACT_CMD, 1, 1) | NOWAIT, &(struct nvme_command){ .opcode = nvme_cmd_write,
			 .flags = SQE_FUSE_SECOND, .nsid = 1, .cdw12 = 15 }, i & 1 ? a : b, 64);
		seed_rec(s, KIND(ACT_CMD, 2, 1) | NOWAIT, &(struct nvme_command){ .opcode = nvme_cmd_compare,
			 .flags = SQE_FUSE_FIRST, .nsid = 1, .cdw12 = 15 }, i & 1 ? a : b, 64);
		seed_rec(s, KIND(ACT_CMD, 2, 0) | NOWAIT, &(struct nvme_command){ .opcode = nvme_cmd_write,
			 .flags = SQE_FUSE_SECOND, .nsid = 1, .cdw12 = 15 }, i & 1 ? b : a, 64);
		seed_rec(s, KIND(ACT_CMD, 2, 0) | NOWAIT, &(struct nvme_command){ .opcode = nvme_cmd_write,
			 .nsid = 1, .cdw10 = 4, .cdw12 = 3 }, a, 64);
	}
	seed_rec(s, KIND(ACT_SYNC, 0, 0), NULL, NULL, 0);
	seed_fused(s, 1, 0, SQE_FUSE_FIRST, nvme_cmd_compare, 1, 0, 7, a, 64);
	seed_rec(s, KIND(ACT_NS, 0, 0), &(uint8_t[64]){ 1 }, NULL, 0); /* remove nsid 1 under it */
	seed_fused(s, 1, 0, SQE_FUSE_SECOND, nvme_cmd_write, 1, 0, 7, a, 64);
	seed_fused(s, 2, 1, SQE_FUSE_FIRST, nvme_cmd_compare, 4, 0, 63, a, 64);
	seed_rec(s, KIND(ACT_CLOSE, 2, 0), NULL, NULL, 0);
	seed_fused(s, 1, 0, SQE_FUSE_FIRST, nvme_cmd_compare, 4, 0, 1, a, 64);
	seed_rec(s, KIND(ACT_CLOSE, 0, 0), NULL, NULL, 0);
	seed_write(dir, "fused-split", s);
}

static void (*const seed_builders[])(const char *dir, struct seed *s) = {
	seeds_resv,
	seeds_io,
	seeds_io_digests_pipelined,
	seeds_io_sqflow_off,
	seeds_io_connect_bad,
	seeds_connect_nqns,
	seeds_connect_locked,
	seeds_properties,
	seeds_admin_identify,
	seeds_admin_logs_features,
	seeds_admin_aer_ns_change,
	seeds_ana,
	seeds_discovery,
	seeds_io_raw_sgl_overrun,
	seeds_auth,
	seeds_fused_pairs,
	seeds_fused_broken,
	seeds_fused_split,
};

void fuzz_cmds_write_seeds(const char *dir)
{
	static struct seed s = { .ranges = { { 0, 8, 0 }, { 0, 16, 64 } } };

	for (size_t i = 0; i < sizeof(s.pattern); i++)
		s.pattern[i] = (uint8_t)(i * 7 + 1);
	memset(s.hostid, 0x11, sizeof(s.hostid));
	for (size_t i = 0; i < sizeof(seed_builders) / sizeof(seed_builders[0]); i++)
		seed_builders[i](dir, &s);
}

