/* The host's ANA log page parser (see ana.h): every count and length in the page is checked against
 * the bytes received before it is used, as the kernel's nvme_parse_ana_log does. Pure: no I/O. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "host/ana.h"

size_t ana_log_size(uint32_t nanagrpid, uint32_t nn)
{
	uint64_t n = sizeof(struct nvme_ana_log_header) +
		     (uint64_t)(nanagrpid ? nanagrpid : 1) * sizeof(struct nvme_ana_group_desc) + (uint64_t)nn * 4;

	n = (n + 3) & ~3ull; /* Get Log Page moves whole dwords */
	return n > ANA_LOG_MAX_BYTES ? ANA_LOG_MAX_BYTES : (size_t)n;
}

/* Say what is wrong with the page; every value is printed as unsigned long long. */
#define REFUSE(fmt, a, b) \
	(snprintf(why, whylen, "ANA log: " fmt, (unsigned long long)(a), (unsigned long long)(b)), -EPROTO)

static int state_valid(uint8_t s)
{
	return s == NVME_ANA_OPTIMIZED || s == NVME_ANA_NONOPTIMIZED || s == NVME_ANA_INACCESSIBLE ||
	       s == NVME_ANA_PERSISTENT_LOSS || s == NVME_ANA_CHANGE;
}

int ana_log_parse(const void *buf, size_t len, uint32_t anagrpmax, struct ana_table *t, char *why, size_t whylen)
{
	const uint8_t *p = buf;
	struct nvme_ana_log_header hdr;
	struct ana_table out = { 0 };
	size_t off = sizeof(hdr);

	if (len < sizeof(hdr))
		return REFUSE("%llu bytes, shorter than its %llu-byte header", len, sizeof(hdr));
	memcpy(&hdr, p, sizeof(hdr));
	if (hdr.ngrps > ANA_MAX_GROUPS)
		return REFUSE("%llu groups, more than the %llu we take", hdr.ngrps, ANA_MAX_GROUPS);
	out.chgcnt = hdr.chgcnt;
	for (unsigned i = 0; i < hdr.ngrps; i++) {
		struct nvme_ana_group_desc d;

		if (len - off < sizeof(d))
			return REFUSE("group descriptor %llu runs past the %llu bytes received", i,
				      len);
		memcpy(&d, p + off, sizeof(d));
		off += sizeof(d);
		if (d.grpid == 0 || (anagrpmax && d.grpid > anagrpmax))
			return REFUSE("group ID %llu out of range (ANAGRPMAX %llu)", d.grpid,
				      anagrpmax);
		if (!state_valid(d.state))
			return REFUSE("group %llu has the reserved state %#llx", d.grpid, d.state);
		if (d.nnsids > (len - off) / 4)
			return REFUSE("group %llu lists %llu NSIDs past the page's end", d.grpid,
				      d.nnsids);
		off += (size_t)d.nnsids * 4;
		for (int k = 0; k < out.nr; k++)
			if (out.g[k].grpid == d.grpid)
				return REFUSE("group %llu listed twice (descriptor %llu)", d.grpid, i);
		out.g[out.nr++] = (struct ana_group){ .grpid = d.grpid, .state = d.state };
	}
	*t = out;
	return 0;
}

uint8_t ana_group_state(const struct ana_table *t, uint32_t grpid)
{
	for (int i = 0; i < t->nr; i++)
		if (t->g[i].grpid == grpid)
			return t->g[i].state;
	return 0;
}

const char *ana_state_name(uint8_t state)
{
	const char *name = nvme_ana_state_name(state);

	return name ? name : "unknown";
}
