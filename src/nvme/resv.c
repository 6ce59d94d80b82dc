/* Persistent reservations of one namespace: the rules of NVMe Base 2.0 section 8.19, where the spec
 * leaves room the answers Linux's nvmet gives (drivers/nvme/target/pr.c), so that a host sees the
 * same from either target. See resv.h for who locks and who delivers the notices. */
#include <string.h>

#include "nvme/resv.h"
#include "nvme/spec.h"

#define CONFLICT (NVME_SC_RESERVATION_CONFLICT | NVME_SC_DNR)
#define INVALID_FIELD (NVME_SC_INVALID_FIELD | NVME_SC_DNR)

void nvme_resv_init(struct nvme_resv *r)
{
	memset(r, 0, sizeof(*r));
	r->holder = -1;
}

static bool all_registrants(uint8_t rtype)
{
	return rtype == NVME_RESV_WRITE_EXCLUSIVE_ALL_REGS || rtype == NVME_RESV_EXCLUSIVE_ACCESS_ALL_REGS;
}

static bool registrants_only(uint8_t rtype)
{
	return rtype == NVME_RESV_WRITE_EXCLUSIVE_REG_ONLY || rtype == NVME_RESV_EXCLUSIVE_ACCESS_REG_ONLY;
}

static int find(const struct nvme_resv *r, const uint8_t hostid[16])
{
	for (unsigned i = 0; i < r->nreg; i++)
		if (!memcmp(r->reg[i].hostid, hostid, 16))
			return (int)i;
	return -1;
}

const struct nvme_resv_registrant *nvme_resv_find(const struct nvme_resv *r, const uint8_t hostid[16])
{
	int i = find(r, hostid);

	return i < 0 ? NULL : &r->reg[i];
}

/* Does registrant i hold the reservation? Under an All Registrants type every registrant does. */
static bool holds(const struct nvme_resv *r, int i)
{
	return r->rtype != NVME_RESV_NONE && i >= 0 && (all_registrants(r->rtype) || i == r->holder);
}

static void notify(const struct nvme_resv_effects *fx, const uint8_t hostid[16], enum nvme_resv_notice type)
{
	if (fx && fx->notify)
		fx->notify(fx->arg, hostid, type);
}

/* "Reservation Released" to every registrant but the one whose command released it. */
static void notify_released(const struct nvme_resv *r, const uint8_t actor[16], const struct nvme_resv_effects *fx)
{
	for (unsigned i = 0; i < r->nreg; i++)
		if (memcmp(r->reg[i].hostid, actor, 16))
			notify(fx, r->reg[i].hostid, NVME_RESV_NOTICE_RELEASED);
}

/* Take registrant i away. A Registrants Only or plain holder takes its reservation with it (the other
 * registrants of a Registrants Only one hear of it); an All Registrants reservation lasts while anyone
 * is registered. */
static void unregister_one(struct nvme_resv *r, int i, const struct nvme_resv_effects *fx)
{
	uint8_t gone[16];
	bool was_holder = r->rtype != NVME_RESV_NONE && !all_registrants(r->rtype) && i == r->holder;
	uint8_t rtype = r->rtype;

	memcpy(gone, r->reg[i].hostid, 16);
	memmove(&r->reg[i], &r->reg[i + 1], (r->nreg - (unsigned)i - 1) * sizeof(r->reg[0]));
	r->nreg--;
	if (r->holder > i)
		r->holder--;
	if (was_holder) {
		r->rtype = NVME_RESV_NONE;
		r->holder = -1;
		if (registrants_only(rtype))
			notify_released(r, gone, fx);
	} else if (all_registrants(r->rtype)) {
		/* Everyone holds it; the slot named stays a valid one, or none once nobody is left. */
		r->holder = r->nreg ? 0 : -1;
		if (!r->nreg)
			r->rtype = NVME_RESV_NONE;
	}
}

static uint16_t do_register(struct nvme_resv *r, const uint8_t hostid[16], uint64_t nrkey)
{
	int i = find(r, hostid);

	if (i >= 0)
		return r->reg[i].rkey == nrkey ? 0 : CONFLICT; /* registering again with the same key is a no-op */
	if (r->nreg == NVME_RESV_MAX_REGISTRANTS)
		return NVME_SC_INTERNAL; /* out of slots: a bound, not a rule; another host may leave */
	memcpy(r->reg[r->nreg].hostid, hostid, 16);
	r->reg[r->nreg].rkey = nrkey;
	r->nreg++;
	return 0;
}

uint16_t nvme_resv_register(struct nvme_resv *r, const uint8_t hostid[16], uint32_t cdw10, uint64_t crkey,
			    uint64_t nrkey, const struct nvme_resv_effects *fx)
{
	bool iekey = cdw10 & NVME_RESV_IEKEY;
	uint32_t cptpl = NVME_RESV_CPTPL(cdw10);
	int i = find(r, hostid);
	uint16_t status;

	if (cptpl == 1)
		return INVALID_FIELD;
	switch (cdw10 & 7) {
	case NVME_RESV_REGISTER:
		status = do_register(r, hostid, nrkey);
		break;
	case NVME_RESV_UNREGISTER:
		status = i < 0 || (!iekey && r->reg[i].rkey != crkey) ? CONFLICT : 0;
		if (!status)
			unregister_one(r, i, fx);
		break;
	case NVME_RESV_REPLACE:
		status = i < 0 || (!iekey && r->reg[i].rkey != crkey) ? CONFLICT : 0;
		if (!status)
			r->reg[i].rkey = nrkey;
		break;
	default:
		return INVALID_FIELD;
	}
	if (status)
		return status;
	if (cptpl >= 2)
		r->ptpl = cptpl == 3;
	r->generation++;
	return 0;
}

/* Unregister every registrant with key 'prkey' (all but the actor when 'others_only'), telling each
 * other host its registration was preempted, and fencing it first for Preempt and Abort. True if any. */
static bool unregister_by_key(struct nvme_resv *r, uint64_t prkey, const uint8_t actor[16], bool others_only,
			      bool abort, const struct nvme_resv_effects *fx)
{
	bool any = false;

	for (unsigned i = 0; i < r->nreg;) {
		struct nvme_resv_registrant reg = r->reg[i];
		bool is_actor = !memcmp(reg.hostid, actor, 16);

		if (reg.rkey != prkey || (others_only && is_actor)) {
			i++;
			continue;
		}
		any = true;
		if (abort && !is_actor && fx && fx->abort)
			fx->abort(fx->arg, reg.hostid);
		unregister_one(r, (int)i, fx);
		if (!is_actor)
			notify(fx, reg.hostid, NVME_RESV_NOTICE_REG_PREEMPTED);
	}
	return any;
}

/* Every registrant but the actor, whatever its key (preempting an All Registrants reservation). */
static void unregister_others(struct nvme_resv *r, const uint8_t actor[16], bool abort,
			      const struct nvme_resv_effects *fx)
{
	for (unsigned i = 0; i < r->nreg;) {
		struct nvme_resv_registrant reg = r->reg[i];

		if (!memcmp(reg.hostid, actor, 16)) {
			i++;
			continue;
		}
		if (abort && fx && fx->abort)
			fx->abort(fx->arg, reg.hostid);
		unregister_one(r, (int)i, fx);
		notify(fx, reg.hostid, NVME_RESV_NOTICE_REG_PREEMPTED);
	}
}

/* The actor (registrant 'me') becomes the holder with 'rtype'. */
static void take(struct nvme_resv *r, const uint8_t me[16], uint8_t rtype)
{
	r->rtype = rtype;
	r->holder = find(r, me);
}

static uint16_t preempt(struct nvme_resv *r, int me, uint8_t rtype, uint64_t prkey, bool abort,
			const struct nvme_resv_effects *fx)
{
	uint8_t actor[16], old = r->rtype;

	memcpy(actor, r->reg[me].hostid, 16);
	if (old == NVME_RESV_NONE)
		return unregister_by_key(r, prkey, actor, false, abort, fx) ? 0 : CONFLICT;
	if (all_registrants(old)) {
		if (prkey)
			return unregister_by_key(r, prkey, actor, false, abort, fx) ? 0 : CONFLICT;
		/* Holder first, so no other host slips in between. */
		take(r, actor, rtype);
		unregister_others(r, actor, abort, fx);
		return 0;
	}
	if (me == r->holder) {
		r->rtype = rtype;
		if (old != rtype)
			notify_released(r, actor, fx);
		return 0;
	}
	if (prkey == r->reg[r->holder].rkey) {
		take(r, actor, rtype);
		unregister_by_key(r, prkey, actor, true, abort, fx);
		r->holder = find(r, actor);
		if (old != rtype)
			notify_released(r, actor, fx);
		return 0;
	}
	if (prkey)
		return unregister_by_key(r, prkey, actor, false, abort, fx) ? 0 : CONFLICT;
	return INVALID_FIELD;
}

uint16_t nvme_resv_acquire(struct nvme_resv *r, const uint8_t hostid[16], uint32_t cdw10, uint64_t crkey,
			   uint64_t prkey, const struct nvme_resv_effects *fx)
{
	uint8_t rtype = (uint8_t)(cdw10 >> 8);
	int me = find(r, hostid);
	uint16_t status;

	if ((cdw10 & NVME_RESV_IEKEY) || rtype < NVME_RESV_WRITE_EXCLUSIVE || rtype > NVME_RESV_EXCLUSIVE_ACCESS_ALL_REGS)
		return INVALID_FIELD;
	if (me < 0 || r->reg[me].rkey != crkey)
		return CONFLICT;
	switch (cdw10 & 7) {
	case NVME_RESV_ACQUIRE:
		if (r->rtype == NVME_RESV_NONE) {
			take(r, hostid, rtype);
			return 0;
		}
		return holds(r, me) && r->rtype == rtype ? 0 : CONFLICT;
	case NVME_RESV_PREEMPT:
	case NVME_RESV_PREEMPT_ABORT:
		status = preempt(r, me, rtype, prkey, (cdw10 & 7) == NVME_RESV_PREEMPT_ABORT, fx);
		if (!status)
			r->generation++;
		return status;
	default:
		return INVALID_FIELD;
	}
}

uint16_t nvme_resv_release(struct nvme_resv *r, const uint8_t hostid[16], uint32_t cdw10, uint64_t crkey,
			   const struct nvme_resv_effects *fx)
{
	uint8_t rtype = (uint8_t)(cdw10 >> 8), old = r->rtype;
	int me = find(r, hostid);

	if (cdw10 & NVME_RESV_IEKEY)
		return INVALID_FIELD;
	if (me < 0 || r->reg[me].rkey != crkey)
		return CONFLICT;
	switch (cdw10 & 7) {
	case NVME_RESV_RELEASE:
		if (!holds(r, me))
			return 0; /* nothing of this host's to release: success, as the spec says */
		if (rtype != old)
			return CONFLICT;
		r->rtype = NVME_RESV_NONE;
		r->holder = -1;
		if (registrants_only(old) || all_registrants(old))
			notify_released(r, hostid, fx);
		return 0;
	case NVME_RESV_CLEAR:
		r->rtype = NVME_RESV_NONE;
		r->holder = -1;
		for (unsigned i = 0; i < r->nreg; i++)
			if (memcmp(r->reg[i].hostid, hostid, 16))
				notify(fx, r->reg[i].hostid, NVME_RESV_NOTICE_PREEMPTED);
		r->nreg = 0;
		r->generation++;
		return 0;
	default:
		return INVALID_FIELD;
	}
}

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint16_t nvme_resv_report(const struct nvme_resv *r, bool eds, uint8_t *buf, size_t len)
{
	enum { HEADER = 64, ENTRY = 64 };

	if (!eds)
		return NVME_SC_HOST_ID_INCONSISTENT | NVME_SC_DNR; /* our Host Identifiers are 128-bit */
	if (len < HEADER)
		return INVALID_FIELD;
	memset(buf, 0, len);
	put_le(buf, r->generation, 4);
	buf[4] = r->rtype;
	put_le(buf + 5, r->nreg, 2);
	buf[9] = r->ptpl;
	for (unsigned i = 0; i < r->nreg && HEADER + (i + 1) * ENTRY <= len; i++) {
		uint8_t *e = buf + HEADER + i * ENTRY;

		put_le(e, NVME_CNTLID_DYNAMIC, 2); /* a host, not a controller: every controller of it */
		e[2] = holds(r, (int)i);
		put_le(e + 8, r->reg[i].rkey, 8);
		memcpy(e + 16, r->reg[i].hostid, 16);
	}
	return 0;
}

uint16_t nvme_resv_check(const struct nvme_resv *r, const uint8_t hostid[16], enum nvme_resv_access access)
{
	int me;
	bool registered;

	if (r->rtype == NVME_RESV_NONE || access == NVME_RESV_ACCESS_NONE)
		return 0;
	me = find(r, hostid);
	if (holds(r, me))
		return 0;
	registered = me >= 0;
	switch (r->rtype) {
	case NVME_RESV_WRITE_EXCLUSIVE:
		return access == NVME_RESV_ACCESS_WRITE ? CONFLICT : 0;
	case NVME_RESV_EXCLUSIVE_ACCESS:
		return CONFLICT;
	case NVME_RESV_WRITE_EXCLUSIVE_REG_ONLY:
	case NVME_RESV_WRITE_EXCLUSIVE_ALL_REGS:
		return access == NVME_RESV_ACCESS_WRITE && !registered ? CONFLICT : 0;
	default: /* the Exclusive Access Registrants Only and All Registrants types */
		return registered ? 0 : CONFLICT;
	}
}
