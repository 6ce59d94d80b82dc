/* Asymmetric Namespace Access (NVMe Base 2.0, 8.1.1), as nvmet implements it: each port has a state
 * for each ANA group, each namespace belongs to one group, and a host reads the states of the
 * groups through a port in the ANA log page (0Ch) and is told of changes by an ANA change event.
 * I/O to a namespace whose group is inaccessible through the port gets an ANA status instead. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "target/cmd.h"
#include "util/log.h"

int tgt_ana_state_parse(const char *s)
{
	static const uint8_t states[] = { NVME_ANA_OPTIMIZED, NVME_ANA_NONOPTIMIZED, NVME_ANA_INACCESSIBLE,
					  NVME_ANA_PERSISTENT_LOSS, NVME_ANA_CHANGE };

	for (size_t i = 0; s && i < sizeof(states); i++) {
		if (!strcmp(s, nvme_ana_state_name(states[i])))
			return states[i];
	}
	return -1;
}

const char *tgt_ana_state_name(enum nvme_ana_state state)
{
	const char *name = nvme_ana_state_name((uint8_t)state);

	return name ? name : "unknown";
}

static bool ana_ids_ok(uint16_t portid, uint32_t grpid)
{
	return portid <= TGT_MAX_PORTID && grpid >= 1 && grpid <= TGT_MAX_ANAGRPS;
}

enum nvme_ana_state tgt_ana_state(struct tgt_target *t, uint16_t portid, uint32_t grpid)
{
	uint8_t v;

	if (!ana_ids_ok(portid, grpid))
		return NVME_ANA_INACCESSIBLE;
	v = atomic_load_explicit(&t->ana_state[portid][grpid], memory_order_relaxed);
	if (v)
		return (enum nvme_ana_state)v;
	/* A port starts with the default group optimized and every other group inaccessible (nvmet):
	 * a group has to be given a state on a port before its namespaces are reachable there. */
	return grpid == TGT_DEFAULT_ANAGRPID ? NVME_ANA_OPTIMIZED : NVME_ANA_INACCESSIBLE;
}

bool tgt_ana_configured(struct tgt_target *t, uint16_t portid, uint32_t grpid)
{
	return ana_ids_ok(portid, grpid) && atomic_load_explicit(&t->ana_state[portid][grpid], memory_order_relaxed);
}

void tgt_ana_bump(struct tgt_target *t)
{
	atomic_fetch_add_explicit(&t->ana_chgcnt, 1, memory_order_relaxed);
}

/* Every live controller connected through this port, each with a reference taken. */
static struct tgt_ctrl **ctrls_on_port(struct tgt_target *t, uint16_t portid, size_t *count)
{
	struct tgt_ctrl **out = NULL;
	size_t n = 0, cap = 0;

	pthread_mutex_lock(&t->lock);
	for (struct tgt_subsys *s = t->subsystems; s; s = s->next) {
		pthread_mutex_lock(&s->lock);
		for (struct tgt_ctrl *c = s->ctrls; c; c = c->next) {
			if (c->portid != portid)
				continue;
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 16;
				struct tgt_ctrl **bigger = realloc(out, ncap * sizeof(*out));

				if (!bigger)
					break; /* announced to those we have; logged below */
				out = bigger;
				cap = ncap;
			}
			if (tgt_ctrl_tryget(c))
				out[n++] = c;
		}
		pthread_mutex_unlock(&s->lock);
	}
	pthread_mutex_unlock(&t->lock);
	*count = n;
	return out;
}

int tgt_ana_set(struct tgt_target *t, uint16_t portid, uint32_t grpid, enum nvme_ana_state state)
{
	struct tgt_ctrl **ctrls;
	size_t n = 0;

	if (!ana_ids_ok(portid, grpid))
		return -ERANGE;
	if (!nvme_ana_state_name((uint8_t)state))
		return -EINVAL;
	atomic_store_explicit(&t->ana_state[portid][grpid], (uint8_t)state, memory_order_relaxed);
	tgt_ana_bump(t);
	tr_info("port %u: ANA group %u is now %s", portid, grpid, tgt_ana_state_name(state));
	ctrls = ctrls_on_port(t, portid, &n);
	for (size_t i = 0; i < n; i++) {
		tgt_ctrl_ana_changed(ctrls[i]);
		tgt_ctrl_put(ctrls[i]);
	}
	free(ctrls);
	return 0;
}

uint16_t tgt_ana_io_status(struct tgt_ctrl *ctrl, const struct tgt_ns *ns)
{
	switch (tgt_ana_state(ctrl->subsys->target, ctrl->portid, ns->anagrpid)) {
	case NVME_ANA_OPTIMIZED:
	case NVME_ANA_NONOPTIMIZED:
		return 0;
	case NVME_ANA_PERSISTENT_LOSS:
		return NVME_SC_ANA_PERSISTENT_LOSS;
	case NVME_ANA_CHANGE:
		return NVME_SC_ANA_TRANSITION;
	case NVME_ANA_INACCESSIBLE:
	default:
		return NVME_SC_ANA_INACCESSIBLE;
	}
}

/* The groups a controller's log lists: the default group, every group one of its subsystem's
 * namespaces is in, and every group given a state on its port. Caller holds the subsystem lock. */
static void groups_listed(struct tgt_ctrl *ctrl, bool *listed)
{
	struct tgt_subsys *s = ctrl->subsys;

	memset(listed, 0, (TGT_MAX_ANAGRPS + 1) * sizeof(*listed));
	listed[TGT_DEFAULT_ANAGRPID] = true;
	for (uint32_t i = 1; i <= TGT_MAX_NSID; i++) {
		if (s->ns[i] && s->ns[i]->anagrpid <= TGT_MAX_ANAGRPS)
			listed[s->ns[i]->anagrpid] = true;
	}
	for (uint32_t g = 1; g <= TGT_MAX_ANAGRPS; g++)
		listed[g] |= tgt_ana_configured(s->target, ctrl->portid, g);
}

size_t tgt_ana_log_build(struct tgt_ctrl *ctrl, bool groups_only, uint8_t **out)
{
	struct tgt_subsys *s = ctrl->subsys;
	uint64_t chgcnt = atomic_load_explicit(&s->target->ana_chgcnt, memory_order_relaxed);
	bool listed[TGT_MAX_ANAGRPS + 1];
	/* The most it can hold: every group, every namespace once. */
	size_t max = sizeof(struct nvme_ana_log_header) + TGT_MAX_ANAGRPS * sizeof(struct nvme_ana_group_desc) +
		     TGT_MAX_NSID * sizeof(uint32_t);
	uint8_t *log = calloc(1, max);
	struct nvme_ana_log_header *hdr = (struct nvme_ana_log_header *)log;
	size_t len = sizeof(*hdr);

	*out = log;
	if (!log)
		return 0;
	pthread_mutex_lock(&s->lock);
	groups_listed(ctrl, listed);
	for (uint32_t g = 1; g <= TGT_MAX_ANAGRPS; g++) {
		struct nvme_ana_group_desc *d = (struct nvme_ana_group_desc *)(log + len);
		uint32_t n = 0;

		if (!listed[g])
			continue;
		d->grpid = g;
		d->chgcnt = chgcnt;
		d->state = (uint8_t)tgt_ana_state(s->target, ctrl->portid, g);
		for (uint32_t i = 1; !groups_only && i <= TGT_MAX_NSID; i++) {
			if (s->ns[i] && s->ns[i]->anagrpid == g)
				d->nsids[n++] = i;
		}
		d->nnsids = n;
		len += sizeof(*d) + n * sizeof(uint32_t);
		hdr->ngrps++;
	}
	pthread_mutex_unlock(&s->lock);
	hdr->chgcnt = chgcnt;
	return len;
}

int tgt_subsys_set_cntlid_range(struct tgt_subsys *s, long min, long max)
{
	if (min < 1 || max > NVME_CNTLID_MAX || min > max)
		return -ERANGE;
	pthread_mutex_lock(&s->lock);
	s->cntlid_min = (uint16_t)min;
	s->cntlid_max = (uint16_t)max;
	s->next_cntlid = (uint16_t)min;
	pthread_mutex_unlock(&s->lock);
	return 0;
}
