/* Builders for Identify data, log pages and discovery entries: plain values in, wire bytes out. */
#ifndef TIGHTROPE_NVME_IDENTIFY_H
#define TIGHTROPE_NVME_IDENTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvme/spec.h"

/* What an Identify Controller page says about a controller. */
struct nvme_ctrl_facts {
	const char *serial;
	const char *model;
	const char *firmware;
	const char *subnqn;
	uint16_t cntlid;
	bool discovery;
	uint32_t version; /* NVME_VS(...) */
	uint8_t mdts; /* log2 of max transfer in 4 KiB pages, 0 = unlimited */
	uint32_t max_nsid; /* NN */
	uint32_t inline_data_size; /* in-capsule data an I/O command may carry */
	uint16_t maxcmd;
	uint8_t aerl; /* 0-based */
	uint16_t kas; /* keep-alive granularity, 100 ms units */
	bool volatile_write_cache;
	bool ana; /* reports Asymmetric Namespace Access (CMIC, ANACAP, the ANA log and event) */
	uint32_t anagrpmax; /* ANA group IDs 1..anagrpmax */
	uint8_t anatt; /* ANA transition time, seconds */
};

/* What an Identify Namespace page says about a namespace. */
struct nvme_ns_facts {
	uint64_t nlbas;
	uint8_t lba_shift;
	bool readonly;
	bool deallocate; /* DSM deallocate is honoured (and reads zeroes after it) */
	uint32_t anagrpid;
	uint8_t nguid[16];
	uint8_t eui64[8];
	uint8_t uuid[16];
	bool ptpl; /* reservations persist through power loss (a restart) when asked */
};

void nvme_id_ctrl_build(struct nvme_id_ctrl *id, const struct nvme_ctrl_facts *facts);
void nvme_id_ns_build(struct nvme_id_ns *id, const struct nvme_ns_facts *facts);
/* Fills a 4096-byte Namespace Identification Descriptor list. */
void nvme_ns_desc_list_build(uint8_t *buf, size_t len, const struct nvme_ns_facts *facts);

/* One discovery log entry, for a TCP port. */
struct nvmf_disc_entry_facts {
	const char *subnqn;
	const char *traddr;
	const char *trsvcid;
	uint8_t subtype;
	bool ipv6;
	uint16_t portid;
	uint16_t asqsz;
	uint8_t treq;
	uint8_t sectype; /* TSAS for TCP: NVMF_TCP_SECTYPE_* */
};
void nvmf_disc_entry_build(struct nvmf_disc_log_entry *e, const struct nvmf_disc_entry_facts *facts);

/* Copy a string into a fixed field: space-padded ASCII (SN, MN, FR) or NUL-padded (NQNs). */
void nvme_strpad(char *dst, size_t size, const char *src, char pad);

/* Copy [offset, offset+len) of a generated page into a reply buffer, zero-filling past its end. */
void nvme_copy_window(void *dst, size_t len, const void *page, size_t page_len, uint64_t offset);

/* A stable 16-byte identifier from a string and a number (namespace NGUID/UUID from NQN + NSID).
 * Deterministic, so identifiers survive target restarts; UUIDs get RFC 4122 version/variant bits. */
void nvme_derive_id(uint8_t out[16], const char *name, uint32_t number, bool as_uuid);
/* Stamp an RFC 4122 UUID's version (4: random, 8: custom) and variant bits onto 16 bytes. */
#define NVME_UUID_V4_RANDOM 4
#define NVME_UUID_V8_CUSTOM 8
void nvme_uuid_set_version(uint8_t id[16], unsigned int version);
/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (dashes optional) to 16 bytes; 0 or -EINVAL. */
int nvme_uuid_parse(const char *s, uint8_t out[16]);
/* 16 bytes to the dashed form; out holds at least 37 bytes. */
void nvme_uuid_format(const uint8_t id[16], char *out);

#endif
