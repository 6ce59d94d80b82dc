/* The ANA log page (LID 0Ch) as the host reads it: checked against its own length and the
 * controller's limits before anything in it is believed (it comes from the network), and turned
 * into a table of ANA groups and their states that the multipath routing looks namespaces up in. */
#ifndef TIGHTROPE_HOST_ANA_H
#define TIGHTROPE_HOST_ANA_H

#include <stddef.h>
#include <stdint.h>

#include "nvme/spec.h"

#define ANA_MAX_GROUPS 128 /* groups one controller may report; more is refused */
#define ANA_LOG_MAX_BYTES (256u << 10) /* the most we ask for, whatever NANAGRPID and NN say */

struct ana_group {
	uint32_t grpid;
	uint8_t state; /* enum nvme_ana_state */
};

struct ana_table {
	uint64_t chgcnt;
	int nr;
	struct ana_group g[ANA_MAX_GROUPS];
};

/* How many bytes of the log to read from a controller: the header, NANAGRPID descriptors and an NSID
 * for each of up to NN namespaces (the kernel's ana_log_size), capped at ANA_LOG_MAX_BYTES. */
size_t ana_log_size(uint32_t nanagrpid, uint32_t nn);

/* Parse 'len' bytes of an ANA log page into 't'. anagrpmax bounds the group IDs (0: no bound but
 * non-zero). 0, or -EPROTO with 'why' naming the field that is wrong; 't' is then unchanged. */
int ana_log_parse(const void *buf, size_t len, uint32_t anagrpmax, struct ana_table *t, char *why, size_t whylen);

/* The state of group 'grpid' in 't', or 0 when the log does not list it. */
uint8_t ana_group_state(const struct ana_table *t, uint32_t grpid);

/* nvme-cli's words: "optimized", "non-optimized", "inaccessible", "persistent-loss", "change". */
const char *ana_state_name(uint8_t state);

/* May I/O go on a path in this state? (optimized or non-optimized) */
static inline int ana_state_usable(uint8_t state)
{
	return state == NVME_ANA_OPTIMIZED || state == NVME_ANA_NONOPTIMIZED;
}

#endif
