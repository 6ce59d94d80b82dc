/* Persistent reservations on the target: the Reservation commands against each namespace's state
 * (src/nvme/resv.c's rules under the namespace's lock), the access check of every I/O command, the
 * notices to the hosts concerned (log page 80h, the Reservation Log Page Available event), and the
 * features 82h/83h. A registrant is a Host Identifier: every controller of that host, on any port,
 * shares its registration. */
#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>

#include "nvme/identify.h"
#include "target/resv.h"
#include "target/worker.h"
#include "util/log.h"

struct tgt_resv *tgt_resv_new(void)
{
	struct tgt_resv *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	pthread_mutex_init(&r->lock, NULL);
	nvme_resv_init(&r->state);
	return r;
}

void tgt_resv_free(struct tgt_resv *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* What a command does to the medium, as the reservation rules group them. */
static enum nvme_resv_access opcode_access(uint8_t opcode)
{
	switch (opcode) {
	case nvme_cmd_read:
	case nvme_cmd_compare:
		return NVME_RESV_ACCESS_READ;
	case nvme_cmd_write:
	case nvme_cmd_write_zeroes:
	case nvme_cmd_dsm:
	case nvme_cmd_flush:
		return NVME_RESV_ACCESS_WRITE;
	default:
		return NVME_RESV_ACCESS_NONE; /* the Reservation commands check for themselves */
	}
}

/* ---- Notices ---- */

struct notice_ctx {
	struct tgt_subsys *subsys;
	struct tgt_ns *ns;
	unsigned fenced; /* hosts a Preempt and Abort took away */
};

/* Every controller of that host on this subsystem gets the notice, unless the namespace masks it. */
static void notify_host(void *arg, const uint8_t hostid[16], enum nvme_resv_notice type)
{
	struct notice_ctx *c = arg;

	if (atomic_load_explicit(&c->ns->resv->notify_mask, memory_order_relaxed) & (1u << type))
		return;
	pthread_mutex_lock(&c->subsys->lock);
	for (struct tgt_ctrl *ctrl = c->subsys->ctrls; ctrl; ctrl = ctrl->next)
		if (!memcmp(ctrl->hostid, hostid, 16))
			tgt_ctrl_resv_notice(ctrl, c->ns->nsid, type);
	pthread_mutex_unlock(&c->subsys->lock);
}

static void fence_host(void *arg, const uint8_t hostid[16])
{
	struct notice_ctx *c = arg;
	char id[40];

	nvme_uuid_format(hostid, id);
	tr_info("%s nsid %u: host %s preempted with abort", c->subsys->nqn, c->ns->nsid, id);
	c->fenced++;
}

/* ---- Preempt and Abort: waiting for what was already under way ---- */

static struct __kernel_timespec drain_tick = { .tv_nsec = 1000000 }; /* look again every millisecond */

/* Commands never stop for long on a namespace (a backend answers or fails), so a tick that looks
 * whether the old epoch has emptied is enough, and costs nothing while nobody preempts. */
static void drain_check(struct tgt_ring_op *op, struct tgt_worker *w, int res)
{
	struct tgt_cmd *cmd = (struct tgt_cmd *)((char *)op - offsetof(struct tgt_cmd, io.ring_op));
	struct tgt_resv *r = cmd->ns->resv;
	struct io_uring_sqe *sqe;

	(void)res;
	/* Done waiting; or the target stops, and what it waits for may be on a worker already gone. */
	if (atomic_load_explicit(&r->inflight[cmd->resv_wait_parity], memory_order_seq_cst) == 0 ||
	    atomic_load_explicit(&w->stopping, memory_order_relaxed)) {
		tgt_cmd_complete(cmd, 0);
		return;
	}
	cmd->io.ring_op.done = drain_check;
	sqe = tgt_worker_get_sqe(w, &cmd->io.ring_op);
	if (!sqe) {
		/* Out of memory for a timer: the preemption stands; say that the wait was cut short. */
		tr_warn("%s: nsid %u: preempt and abort could not wait for commands under way", cmd->queue->peer,
			cmd->ns->nsid);
		tgt_cmd_complete(cmd, 0);
		return;
	}
	io_uring_prep_timeout(sqe, &drain_tick, 0, 0);
}

uint16_t tgt_resv_enter(struct tgt_cmd *cmd)
{
	struct tgt_ns *ns = cmd->ns;
	struct tgt_resv *r = ns->resv;
	enum nvme_resv_access access = opcode_access(cmd->sqe.opcode);
	unsigned parity;
	uint16_t status = 0;

	if (access == NVME_RESV_ACCESS_NONE)
		return 0;
	/* Counted first, checked second: a preemption that moves the epoch after this count waits for
	 * the command; one that moved it before is seen by the check (its change is published first). */
	parity = atomic_load_explicit(&r->epoch, memory_order_seq_cst) & 1;
	atomic_fetch_add_explicit(&r->inflight[parity], 1, memory_order_seq_cst);
	if (atomic_load_explicit(&ns->resv_rtype, memory_order_seq_cst) != NVME_RESV_NONE) {
		pthread_mutex_lock(&r->lock);
		status = nvme_resv_check(&r->state, cmd->queue->ctrl->hostid, access);
		pthread_mutex_unlock(&r->lock);
	}
	if (status) {
		atomic_fetch_sub_explicit(&r->inflight[parity], 1, memory_order_seq_cst);
		tr_debug("%s: opcode %#x to nsid %u: reservation conflict at execution", cmd->queue->peer,
			 cmd->sqe.opcode, ns->nsid);
		return status;
	}
	cmd->resv_parity = (int8_t)parity;
	return 0;
}

void tgt_resv_leave(struct tgt_cmd *cmd)
{
	atomic_fetch_sub_explicit(&cmd->ns->resv->inflight[cmd->resv_parity], 1, memory_order_seq_cst);
	cmd->resv_parity = -1;
}

/* ---- The commands ---- */

/* Run one action under the namespace's lock and publish the type the I/O path reads. */
static void execute_resv(struct tgt_cmd *cmd)
{
	struct tgt_ctrl *ctrl = cmd->queue->ctrl;
	struct tgt_resv *r = cmd->ns->resv;
	struct notice_ctx nc = { ctrl->subsys, cmd->ns, 0 };
	const struct nvme_resv_effects fx = { notify_host, fence_host, &nc };
	uint32_t cdw10 = cmd->sqe.cdw10;
	bool ptpl_before;
	uint16_t status;

	pthread_mutex_lock(&r->lock);
	ptpl_before = r->state.ptpl;
	switch (cmd->sqe.opcode) {
	case nvme_cmd_resv_register:
		/* CPTPL 11b asks for what only a target with somewhere to keep it offers. */
		if (NVME_RESV_CPTPL(cdw10) == 3 && !tgt_resv_store_available()) {
			status = NVME_SC_INVALID_FIELD | NVME_SC_DNR;
			break;
		}
		status = nvme_resv_register(&r->state, ctrl->hostid, cdw10, get_le64(cmd->buf), get_le64(cmd->buf + 8),
					    &fx);
		break;
	case nvme_cmd_resv_acquire:
		status = nvme_resv_acquire(&r->state, ctrl->hostid, cdw10, get_le64(cmd->buf), get_le64(cmd->buf + 8),
					   &fx);
		break;
	default:
		status = nvme_resv_release(&r->state, ctrl->hostid, cdw10, get_le64(cmd->buf), &fx);
		break;
	}
	atomic_store_explicit(&cmd->ns->resv_rtype, r->state.rtype, memory_order_seq_cst);
	if (r->state.nreg)
		atomic_store_explicit(&cmd->ns->resv_in_use, true, memory_order_seq_cst);
	/* Kept (or no longer kept) before the host hears of it: a restart right after finds what it was told. */
	if (!status && (ptpl_before || r->state.ptpl) && tgt_resv_store_save(cmd->ns))
		status = NVME_SC_INTERNAL;
	/* A host was fenced: commands counted so far are the old epoch's, and this one ends with them. */
	if (nc.fenced)
		cmd->resv_wait_parity = atomic_fetch_add_explicit(&r->epoch, 1, memory_order_seq_cst) & 1;
	pthread_mutex_unlock(&r->lock);
	tr_debug("%s: reservation opcode %#x cdw10 %#x on nsid %u: status %#x", cmd->queue->peer, cmd->sqe.opcode,
		 cdw10, cmd->ns->nsid, status);
	if (nc.fenced && !status)
		drain_check(&cmd->io.ring_op, cmd->queue->worker, 0);
	else
		tgt_cmd_complete(cmd, status);
}

static void execute_report(struct tgt_cmd *cmd)
{
	struct tgt_resv *r = cmd->ns->resv;
	uint32_t len = (cmd->sqe.cdw10 + 1) * 4;
	uint8_t *buf = calloc(1, len);
	uint16_t status;

	if (!buf) {
		tgt_cmd_complete(cmd, NVME_SC_INTERNAL);
		return;
	}
	pthread_mutex_lock(&r->lock);
	status = nvme_resv_report(&r->state, cmd->sqe.cdw11 & 1, buf, len);
	pthread_mutex_unlock(&r->lock);
	if (!status)
		status = tgt_cmd_reply(cmd, buf, len);
	free(buf);
	tgt_cmd_complete(cmd, status);
}

uint16_t tgt_resv_parse(struct tgt_cmd *cmd)
{
	uint32_t need = cmd->sqe.opcode == nvme_cmd_resv_release ? 8 : 16;

	if (cmd->sqe.opcode == nvme_cmd_resv_report) {
		/* NUMD is 0-based dwords; the reply is that long and the host's buffer must hold it. */
		uint64_t len = ((uint64_t)cmd->sqe.cdw10 + 1) * 4;

		if (len > TGT_MAX_XFER)
			return NVME_SC_INVALID_FIELD | NVME_SC_DNR;
		if (cmd->xfer != TGT_XFER_C2H || cmd->data_len < len)
			return NVME_SC_SGL_INVALID_DATA | NVME_SC_DNR;
		cmd->execute = execute_report;
		return 0;
	}
	if (cmd->xfer != TGT_XFER_H2C || cmd->data_len < need) {
		tr_warn("%s: reservation opcode %#x with %u bytes of data, needs %u", cmd->queue->peer, cmd->sqe.opcode,
			cmd->xfer == TGT_XFER_H2C ? cmd->data_len : 0, need);
		return NVME_SC_SGL_INVALID_DATA | NVME_SC_DNR;
	}
	cmd->execute = execute_resv;
	return 0;
}

uint16_t tgt_resv_check_io(const struct tgt_queue *q, struct tgt_ns *ns, uint8_t opcode)
{
	enum nvme_resv_access access;
	uint16_t status;

	if (atomic_load_explicit(&ns->resv_rtype, memory_order_acquire) == NVME_RESV_NONE)
		return 0;
	access = opcode_access(opcode);
	if (access == NVME_RESV_ACCESS_NONE)
		return 0;
	pthread_mutex_lock(&ns->resv->lock);
	status = nvme_resv_check(&ns->resv->state, q->ctrl->hostid, access);
	pthread_mutex_unlock(&ns->resv->lock);
	if (status)
		tr_debug("%s: opcode %#x to nsid %u: reservation conflict", q->peer, opcode, ns->nsid);
	return status;
}

/* ---- Log page 80h and the features ---- */

uint16_t tgt_resv_log_page(struct tgt_cmd *cmd, uint8_t *page, uint32_t *len)
{
	struct tgt_ctrl *ctrl = cmd->queue->ctrl;
	struct nvme_resv_notify_log *log = (struct nvme_resv_notify_log *)page;

	tgt_ctrl_resv_log_take(ctrl, log, cmd->sqe.cdw10 & NVME_LOG_RAE);
	*len = sizeof(*log);
	return 0;
}

/* The namespaces a feature command names: one, or with FFFFFFFFh (Set only) every one. */
static uint16_t feature_ns(struct tgt_cmd *cmd, bool all_allowed, struct tgt_ns **one)
{
	*one = NULL;
	if (cmd->sqe.nsid == NVME_NSID_ALL)
		return all_allowed ? 0 : NVME_SC_INVALID_FIELD | NVME_SC_DNR;
	*one = tgt_queue_ns(cmd->queue, cmd->sqe.nsid);
	return *one ? 0 : NVME_SC_INVALID_NS | NVME_SC_DNR;
}

#define RESV_MASK_BITS (1u << NVME_RESV_NOTICE_REG_PREEMPTED | 1u << NVME_RESV_NOTICE_RELEASED | \
			1u << NVME_RESV_NOTICE_PREEMPTED)

uint16_t tgt_resv_set_feature(struct tgt_cmd *cmd, uint8_t fid)
{
	uint32_t v = cmd->sqe.cdw11;
	struct tgt_ns *one;
	uint16_t status = feature_ns(cmd, fid == NVME_FEAT_RESV_MASK, &one);

	if (status)
		return status;
	if (fid == NVME_FEAT_RESV_PERSIST) {
		/* Offered (RESCAP bit 0) where the target has a state directory to keep it in. */
		if ((v & ~1u) || ((v & 1) && !tgt_resv_store_available()))
			return NVME_SC_INVALID_FIELD | NVME_SC_DNR;
		pthread_mutex_lock(&one->resv->lock);
		one->resv->state.ptpl = v & 1;
		status = tgt_resv_store_save(one) ? NVME_SC_INTERNAL : 0;
		pthread_mutex_unlock(&one->resv->lock);
		return status;
	}
	if (v & ~RESV_MASK_BITS)
		return NVME_SC_INVALID_FIELD | NVME_SC_DNR;
	if (one) {
		atomic_store_explicit(&one->resv->notify_mask, v, memory_order_relaxed);
	} else {
		for (uint32_t nsid = 1; nsid <= TGT_MAX_NSID; nsid++) {
			struct tgt_ns *ns = tgt_queue_ns(cmd->queue, nsid);

			if (ns)
				atomic_store_explicit(&ns->resv->notify_mask, v, memory_order_relaxed);
		}
	}
	cmd->cqe.result = v;
	return 0;
}

uint16_t tgt_resv_get_feature(struct tgt_cmd *cmd, uint8_t fid)
{
	struct tgt_ns *ns;
	uint16_t status = feature_ns(cmd, false, &ns);

	if (status)
		return status;
	if (fid == NVME_FEAT_RESV_MASK) {
		cmd->cqe.result = atomic_load_explicit(&ns->resv->notify_mask, memory_order_relaxed);
	} else {
		pthread_mutex_lock(&ns->resv->lock);
		cmd->cqe.result = ns->resv->state.ptpl;
		pthread_mutex_unlock(&ns->resv->lock);
	}
	return 0;
}
