/* Multipath routing in the host process, as the kernel's drivers/nvme/host/multipath.c: which path a
 * namespace's next I/O takes (ANA state first: optimized, then non-optimized only when no optimized
 * path is live, never inaccessible, persistent loss or change; then the I/O policy), whether I/O with
 * no usable path is held, and which completion statuses send a request to another path. */
#include <errno.h>
#include <string.h>

#include "host/hostd.h"
#include "util/log.h"

static const char *const policy_names[] = { [HOSTD_IOPOLICY_NUMA] = "numa", [HOSTD_IOPOLICY_RR] = "round-robin",
					     [HOSTD_IOPOLICY_QD] = "queue-depth" };

const char *mpath_iopolicy_name(enum hostd_iopolicy p)
{
	return (unsigned)p < 3 ? policy_names[p] : "numa";
}

int hostd_iopolicy_parse(const char *name, enum hostd_iopolicy *out)
{
	for (int i = 0; i < 3; i++) {
		if (!strcmp(name, policy_names[i])) {
			*out = (enum hostd_iopolicy)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* The ANA state of namespace 'ns' on path 'path' as routing sees it: 0 when the path cannot take
 * its I/O at all (not live, namespace not there, an ANA status pending a fresh log). A controller
 * without ANA reporting counts as optimized, as the kernel has it. */
uint8_t mpath_ana_state(struct hostd *h, const struct ns_dev *ns, int path)
{
	const struct hpath *p = &h->paths[path];
	const struct ns_path *on = &ns->on[path];

	if (!p->used || p->state != PS_LIVE || !on->present || on->ana_pending)
		return 0;
	return p->ana ? ana_group_state(&p->ana_tbl, on->grpid) : NVME_ANA_OPTIMIZED;
}

/* numa: keep the path chosen last while it is optimized; else the first optimized path, or the first
 * non-optimized one (one NUMA node here, so "nearest" is "first"). */
static int select_numa(struct hostd *h, struct ns_dev *ns)
{
	int nonopt = -1;

	if (ns->current >= 0 && mpath_ana_state(h, ns, ns->current) == NVME_ANA_OPTIMIZED)
		return ns->current;
	for (int i = 0; i < MAX_PATHS; i++) {
		uint8_t s = mpath_ana_state(h, ns, i);

		if (s == NVME_ANA_OPTIMIZED)
			return i;
		if (s == NVME_ANA_NONOPTIMIZED && nonopt < 0)
			nonopt = i;
	}
	return nonopt;
}

/* round-robin: the next optimized path after the last one; a non-optimized one only when there is
 * no optimized path (nvme_round_robin_path). */
static int select_rr(struct hostd *h, struct ns_dev *ns)
{
	int start = ns->current >= 0 ? ns->current : MAX_PATHS - 1, nonopt = -1;

	for (int k = 1; k <= MAX_PATHS; k++) {
		int i = (start + k) % MAX_PATHS;
		uint8_t s = mpath_ana_state(h, ns, i);

		if (s == NVME_ANA_OPTIMIZED)
			return i;
		if (s == NVME_ANA_NONOPTIMIZED && nonopt < 0)
			nonopt = i;
	}
	return nonopt;
}

/* queue-depth: the optimized path with the fewest commands in flight, else the non-optimized one. */
static int select_qd(struct hostd *h, struct ns_dev *ns)
{
	int best[2] = { -1, -1 }, depth[2] = { 0, 0 };

	for (int i = 0; i < MAX_PATHS; i++) {
		uint8_t s = mpath_ana_state(h, ns, i);
		int k = s == NVME_ANA_OPTIMIZED ? 0 : s == NVME_ANA_NONOPTIMIZED ? 1 : -1, d;

		if (k < 0)
			continue;
		d = path_io_inflight(&h->paths[i]);
		if (best[k] < 0 || d < depth[k])
			best[k] = i, depth[k] = d;
	}
	return best[0] >= 0 ? best[0] : best[1];
}

struct hpath *mpath_select(struct hostd *h, struct ns_dev *ns)
{
	int i;

	switch (h->iopolicy) {
	case HOSTD_IOPOLICY_RR: i = select_rr(h, ns); break;
	case HOSTD_IOPOLICY_QD: i = select_qd(h, ns); break;
	default: i = select_numa(h, ns); break;
	}
	if (i < 0)
		return NULL;
	if (i != ns->current && h->iopolicy == HOSTD_IOPOLICY_NUMA)
		tr_info("%s: namespace %u: I/O goes through %s (%s)", h->name, ns->nsid, h->paths[i].name,
			ana_state_name(mpath_ana_state(h, ns, i)));
	ns->current = i;
	return &h->paths[i];
}

/* With no usable path, I/O waits while some path may yet come back: one live (its ANA state may
 * change) or reconnecting before its fast_io_fail_tmo (the kernel's nvme_available_path). While the
 * process is being deleted only a live path counts: none reconnects any more. */
bool mpath_can_hold(const struct hostd *h)
{
	for (int i = 0; i < MAX_PATHS; i++) {
		const struct hpath *p = &h->paths[i];

		if (!p->used)
			continue;
		if (p->state == PS_LIVE || (p->state == PS_CONNECTING && h->state != HS_DELETING))
			return true;
	}
	return false;
}

/* The statuses the kernel fails over on (nvme_is_path_error): every Path Related status (SCT 3h:
 * ANA persistent loss, inaccessible, transition, Host Path Error 370h ...), unless DNR says no retry
 * can help. Any other status is the command's own answer and goes to the user. */
bool mpath_is_path_error(int status)
{
	if (status <= 0 || (status & NVME_SC_DNR))
		return false;
	return (nvme_status_code((uint16_t)status) & 0x700) == 0x300;
}

/* A path came up, went, or its ANA groups changed: each namespace chooses again, so numa goes back
 * to the first optimized path (failback) rather than staying where a failover put it. */
void mpath_paths_changed(struct hostd *h)
{
	for (int i = 0; i < h->nr_ns; i++)
		h->ns[i].current = -1;
}
