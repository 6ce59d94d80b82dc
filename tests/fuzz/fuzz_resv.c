/* libFuzzer harness for persistent reservations (src/nvme/resv.c): the input is a run of Register,
 * Acquire, Release, Report and access checks from eight hosts with chosen CDW10s and keys, as hosts
 * would send them. After each one the state must hold together: distinct registrants within the bound,
 * a holder that is registered, a holder never refused, notices only about hosts that were registered,
 * and a report that stays inside its buffer. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "nvme/resv.h"

struct op {
	uint8_t kind, host, len_hi, len_lo;
	uint32_t cdw10;
	uint64_t key1, key2;
};

static struct nvme_resv before; /* the state before the command the callbacks report on */

static void must_have_been_registered(const uint8_t hostid[16])
{
	if (!nvme_resv_find(&before, hostid))
		abort();
}

static void on_notify(void *arg, const uint8_t hostid[16], enum nvme_resv_notice type)
{
	(void)arg;
	if (type != NVME_RESV_NOTICE_REG_PREEMPTED && type != NVME_RESV_NOTICE_RELEASED &&
	    type != NVME_RESV_NOTICE_PREEMPTED)
		abort();
	must_have_been_registered(hostid);
}

static void on_abort(void *arg, const uint8_t hostid[16])
{
	(void)arg;
	must_have_been_registered(hostid);
}

static void check_state(const struct nvme_resv *r)
{
	if (r->nreg > NVME_RESV_MAX_REGISTRANTS || r->rtype > NVME_RESV_EXCLUSIVE_ACCESS_ALL_REGS)
		abort();
	for (unsigned i = 0; i < r->nreg; i++)
		for (unsigned k = 0; k < i; k++)
			if (!memcmp(r->reg[i].hostid, r->reg[k].hostid, 16))
				abort();
	if (r->rtype == NVME_RESV_NONE)
		return;
	if (r->nreg == 0)
		abort(); /* a reservation with nobody registered */
	if (r->holder < 0 || (unsigned)r->holder >= r->nreg)
		abort(); /* what PTPL's state file keeps must be a registrant, whatever the type */
	if (r->rtype < NVME_RESV_WRITE_EXCLUSIVE_ALL_REGS) {
		if (nvme_resv_check(r, r->reg[r->holder].hostid, NVME_RESV_ACCESS_WRITE) ||
		    nvme_resv_check(r, r->reg[r->holder].hostid, NVME_RESV_ACCESS_READ))
			abort();
	}
}

static void report(const struct nvme_resv *r, size_t len)
{
	/* Exactly 'len' bytes, so ASan sees a write past the end. */
	uint8_t *buf = malloc(len ? len : 1);

	if (!buf)
		return;
	if (nvme_resv_report(r, true, buf, len) == 0 && (len < 64 || (unsigned)(buf[5] | buf[6] << 8) != r->nreg))
		abort();
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct nvme_resv_effects fx = { on_notify, on_abort, NULL };
	struct nvme_resv r;
	struct op op;
	uint8_t hostid[16] = { 0 };

	nvme_resv_init(&r);
	for (; size >= sizeof(op); data += sizeof(op), size -= sizeof(op)) {
		memcpy(&op, data, sizeof(op));
		hostid[0] = op.host & 7;
		before = r;
		switch (op.kind % 5) {
		case 0: nvme_resv_register(&r, hostid, op.cdw10, op.key1, op.key2, &fx); break;
		case 1: nvme_resv_acquire(&r, hostid, op.cdw10, op.key1, op.key2, &fx); break;
		case 2: nvme_resv_release(&r, hostid, op.cdw10, op.key1, &fx); break;
		case 3: report(&r, (size_t)(op.len_hi & 0x0f) << 8 | op.len_lo); break;
		default: nvme_resv_check(&r, hostid, (enum nvme_resv_access)(op.cdw10 % 3)); break;
		}
		check_state(&r);
	}
	return 0;
}
