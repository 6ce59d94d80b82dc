/* The transport-neutral target core: a command's life from capsule to completion (the slot's
 * state machine, mapping its SGL to a data transfer, choosing its handler, filling its completion)
 * and a queue's (its state machine, binding to a controller, handshake deadline, namespace cache).
 * Transports call in through cmd.h and queue.h; the core calls out through the queue's ops. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "nvme/identify.h"
#include "target/cmd.h"
#include "target/fused.h"
#include "target/lba_lock_fast.h"
#include "target/resv.h"
#include "util/clock.h"
#include "util/log.h"

const char *tgt_cmd_state_name(enum tgt_cmd_state state)
{
	switch (state) {
	case TGT_CMD_FREE: return "free";
	case TGT_CMD_RECV_DATA: return "recv-data";
	case TGT_CMD_WAIT_BUF: return "wait-buf";
	case TGT_CMD_WAIT_H2C: return "wait-h2c";
	case TGT_CMD_EXECUTING: return "executing";
	case TGT_CMD_WAIT_EVENT: return "wait-event";
	case TGT_CMD_SENDING: return "sending";
	}
	return "?";
}

/* Which steps a slot may take: a bit per target state. Any busy slot may be freed (its queue
 * closed); a free one only starts, and a reply only leaves once it is on the wire. */
#define TO(s) (1u << (s))
static const unsigned cmd_transitions[] = {
	[TGT_CMD_FREE] = TO(TGT_CMD_RECV_DATA) | TO(TGT_CMD_WAIT_BUF) | TO(TGT_CMD_WAIT_H2C) |
			 TO(TGT_CMD_EXECUTING) | TO(TGT_CMD_SENDING),
	[TGT_CMD_RECV_DATA] = TO(TGT_CMD_EXECUTING) | TO(TGT_CMD_SENDING) | TO(TGT_CMD_FREE),
	[TGT_CMD_WAIT_BUF] = TO(TGT_CMD_WAIT_H2C) | TO(TGT_CMD_EXECUTING) | TO(TGT_CMD_SENDING) | TO(TGT_CMD_FREE),
	[TGT_CMD_WAIT_H2C] = TO(TGT_CMD_EXECUTING) | TO(TGT_CMD_SENDING) | TO(TGT_CMD_FREE),
	[TGT_CMD_EXECUTING] = TO(TGT_CMD_WAIT_EVENT) | TO(TGT_CMD_SENDING) | TO(TGT_CMD_FREE),
	[TGT_CMD_WAIT_EVENT] = TO(TGT_CMD_EXECUTING) | TO(TGT_CMD_SENDING) | TO(TGT_CMD_FREE),
	[TGT_CMD_SENDING] = TO(TGT_CMD_FREE),
};
#undef TO

void tgt_cmd_set_state(struct tgt_cmd *cmd, enum tgt_cmd_state state)
{
	if (!(cmd_transitions[cmd->state] & (1u << state))) {
		/* A bug, not a peer's doing: say so loudly, but do not take the target down for it. */
		tr_err("%s: command %u (opcode %#x): slot state %s -> %s is not a legal step", cmd->queue->peer,
		       cmd->sqe.command_id, cmd->sqe.opcode, tgt_cmd_state_name(cmd->state),
		       tgt_cmd_state_name(state));
	}
	if (tr_log_get_level() >= TR_LOG_DEBUG && cmd->queue->ctrl)
		tr_debug("queue %u cid %u: %s -> %s", cmd->queue->qid, cmd->sqe.command_id,
			 tgt_cmd_state_name(cmd->state), tgt_cmd_state_name(state));
	cmd->state = state;
}

/* ---- Data transfer ---- */

static uint16_t sgl_refuse(const struct tgt_cmd *cmd, uint16_t status, const char *why)
{
	tr_warn("%s: opcode %#x (cid %u): %s (SGL type %#x, %u bytes)", cmd->queue->peer, cmd->sqe.opcode,
		cmd->sqe.command_id, why, cmd->sqe.dptr.type, cmd->sqe.dptr.length);
	return status | NVME_SC_DNR;
}

/* The direction of a transport SGL's data comes from the opcode: bit 0 = host to controller,
 * bit 1 = controller to host (fabrics: fctype's bit 0). */
static uint16_t sgl_map_transport(struct tgt_cmd *cmd, uint32_t incapsule_len)
{
	const struct nvme_sgl_desc *sgl = &cmd->sqe.dptr;

	if (incapsule_len)
		return sgl_refuse(cmd, NVME_SC_SGL_INVALID_DATA, "transport SGL with in-capsule data");
	cmd->data_len = sgl->length;
	if (sgl->length == 0)
		return 0;
	if (cmd->sqe.opcode == nvme_admin_fabrics) {
		uint8_t fctype = ((struct nvmf_common_command *)&cmd->sqe)->fctype;
		cmd->xfer = (fctype & 1) ? TGT_XFER_H2C : TGT_XFER_C2H;
	} else if ((cmd->sqe.opcode & 3) == 1) {
		cmd->xfer = TGT_XFER_H2C;
	} else if ((cmd->sqe.opcode & 3) == 2) {
		cmd->xfer = TGT_XFER_C2H;
	} else {
		return sgl_refuse(cmd, NVME_SC_INVALID_FIELD, "data pointer on an opcode that moves no data");
	}
	if (cmd->data_len > TGT_MAX_XFER)
		return sgl_refuse(cmd, NVME_SC_INVALID_FIELD, "transfer larger than MDTS (1 MiB)");
	return 0;
}

static uint16_t cmd_map_sgl(struct tgt_cmd *cmd, uint32_t incapsule_len)
{
	const struct nvme_sgl_desc *sgl = &cmd->sqe.dptr;
	uint32_t max_inline = tgt_queue_is_admin(cmd->queue) ? TGT_ADMIN_INLINE_DATA_SIZE : TGT_INLINE_DATA_SIZE;

	cmd->xfer = TGT_XFER_NONE;
	cmd->data_len = 0;
	cmd->incapsule = false;
	if ((cmd->sqe.flags & NVME_CMD_PSDT_MASK) != NVME_CMD_PSDT_SGL && cmd->sqe.opcode != nvme_admin_fabrics)
		return incapsule_len ? sgl_refuse(cmd, NVME_SC_INVALID_FIELD, "in-capsule data without an SGL") : 0;

	switch (sgl->type) {
	case NVME_SGL_DATA_BLOCK_OFFSET:
		/* In-capsule data: the SGL must describe exactly what the PDU carries. */
		if (sgl->addr != 0)
			return sgl_refuse(cmd, NVME_SC_SGL_INVALID_OFFSET, "in-capsule SGL with a non-zero offset");
		if (sgl->length != incapsule_len || sgl->length > max_inline)
			return sgl_refuse(cmd, NVME_SC_SGL_INVALID_DATA, "in-capsule SGL length differs from the data sent");
		cmd->incapsule = true;
		cmd->xfer = sgl->length ? TGT_XFER_H2C : TGT_XFER_NONE;
		cmd->data_len = sgl->length;
		return 0;
	case NVME_SGL_TRANSPORT_DATA_BLOCK:
		return sgl_map_transport(cmd, incapsule_len);
	default:
		return incapsule_len || sgl->length ? sgl_refuse(cmd, NVME_SC_SGL_INVALID_TYPE, "unsupported SGL type")
						    : 0;
	}
}

uint16_t tgt_cmd_auth_required(const struct tgt_cmd *cmd)
{
	static struct tr_ratelimit rl = TR_RATELIMIT_INIT(5000, 10);
	unsigned suppressed;

	if (tr_ratelimit(&rl, &suppressed))
		tr_warn("%s: opcode %#x on queue %u before it authenticated: refused%s", cmd->queue->peer,
			cmd->sqe.opcode, cmd->queue->qid, suppressed ? " (and others: this line is rate-limited)" : "");
	return NVME_SC_AUTH_REQUIRED | NVME_SC_DNR;
}

static uint16_t cmd_parse(struct tgt_cmd *cmd)
{
	struct tgt_queue *q = cmd->queue;

	if (cmd->sqe.opcode == nvme_admin_fabrics)
		return tgt_parse_fabrics_cmd(cmd);
	if (q->state != TGT_Q_LIVE || !q->ctrl)
		return NVME_SC_CMD_SEQ_ERROR | NVME_SC_DNR;
	if (!tgt_auth_queue_ready(q))
		return tgt_cmd_auth_required(cmd);
	if (tgt_queue_is_admin(q)) {
		if (q->ctrl->subsys->discovery)
			return tgt_parse_discovery_cmd(cmd);
		return tgt_parse_admin_cmd(cmd);
	}
	return tgt_parse_io_cmd(cmd);
}

/* A fabrics command with in-capsule data (Connect) is parsed when the data is in. Only when data
 * really follows: a zero-length in-capsule SGL must be parsed at once, or it would execute with no
 * handler chosen (the fuzzer found that one). */
static bool cmd_parse_after_data(const struct tgt_cmd *cmd)
{
	return cmd->sqe.opcode == nvme_admin_fabrics && cmd->incapsule && cmd->data_len;
}

/* ---- A command's life ---- */

void tgt_cmd_begin(struct tgt_cmd *cmd, const struct nvme_command *sqe)
{
	struct tgt_queue *q = cmd->queue;
	uint64_t now = tr_now_ns(); /* one clock read: keep-alive's activity and the latency's start */

	cmd->start_ns = now;
	cmd->status = 0;
	cmd->sqe = *sqe;
	memset(&cmd->cqe, 0, sizeof(cmd->cqe));
	cmd->c2h_data = NULL;
	cmd->execute = NULL;
	cmd->resv_parity = -1;
	cmd->lba_hold = TGT_LBA_NONE;
	cmd->fuse = 0;
	atomic_fetch_add_explicit(&q->stats.inflight, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&q->stats.cmds, 1, memory_order_relaxed);
	if (q->size > 1)
		q->sqhd = (uint16_t)((q->sqhd + 1) % q->size);
	if (q->ctrl)
		tgt_ctrl_touch_at(q->ctrl, now / TR_NSEC_PER_MSEC);
}

uint16_t tgt_cmd_prepare(struct tgt_cmd *cmd, uint32_t incapsule_len)
{
	uint16_t status = cmd_map_sgl(cmd, incapsule_len);

	/* In-capsule data is on its way: its buffer is taken now (the transport checked the budget);
	 * R2T data and replies get theirs when the budget allows (tgt_cmd_start). */
	if (!status && incapsule_len && tgt_cmd_alloc_buf(cmd, cmd->data_len))
		status = NVME_SC_INTERNAL;
	/* Connect is parsed once its data is in; everything else is checked before data moves. */
	if (!status && !cmd_parse_after_data(cmd))
		status = cmd_parse(cmd);
	/* Every capsule passes the fused pairing, in the queue's order, whatever its status: a fabrics
	 * command between a FIRST and its SECOND splits them too (it has no FUSE bits of its own). Inline
	 * while no pair is about. */
	if (__builtin_expect((cmd->sqe.flags & NVME_CMD_FUSE_MASK) || cmd->queue->fused_first ||
			     cmd->queue->fused_first_failed, 0))
		status = tgt_fused_arrive(cmd, status);
	cmd->status = status;
	return status;
}

void tgt_cmd_proceed(struct tgt_cmd *cmd)
{
	tgt_cmd_start(cmd, cmd->xfer == TGT_XFER_H2C ? cmd->queue->ops->fetch_data : tgt_cmd_execute);
}

void tgt_cmd_execute(struct tgt_cmd *cmd)
{
	tgt_cmd_set_state(cmd, TGT_CMD_EXECUTING);
	if (__builtin_expect(cmd->fuse, 0)) { /* a fused half: the pair runs once both have their data */
		tgt_fused_ready(cmd);
		return;
	}
	/* A namespace that ever had a registrant: the command is counted for Preempt and Abort and its
	 * access checked again, now that its data is here (the reservation may have changed since). */
	if (cmd->ns && atomic_load_explicit(&cmd->ns->resv_in_use, memory_order_relaxed)) {
		uint16_t status = tgt_resv_enter(cmd);

		if (status) {
			tgt_cmd_complete(cmd, status);
			return;
		}
	}
	/* Commands on blocks pass the namespace's LBA lock: a counter while no fused pair is about. */
	if (cmd->ns && tgt_lba_opcode_needs_gate(cmd->sqe.opcode) && !tgt_lba_enter(cmd))
		return; /* waits for a fused pair on its blocks */
	cmd->execute(cmd);
}

void tgt_cmd_data_ready(struct tgt_cmd *cmd)
{
	uint16_t status = cmd->status;

	if (!status && cmd_parse_after_data(cmd))
		status = cmd_parse(cmd);
	if (status)
		tgt_cmd_complete(cmd, status);
	else
		tgt_cmd_execute(cmd);
}

void tgt_cmd_complete(struct tgt_cmd *cmd, uint16_t status)
{
	struct tgt_queue *q = cmd->queue;
	struct nvme_completion *cqe = &cmd->cqe;

	if (cmd->resv_parity >= 0)
		tgt_resv_leave(cmd);
	if (__builtin_expect(cmd->fuse && !cmd->fused_running, 0))
		tgt_fused_abandon(cmd); /* answered before its pair ran: the other half fails with it */
	if (q->state == TGT_Q_CLOSING) { /* nobody to answer: the slot was waiting only for this */
		tgt_cmd_retire(cmd);
		tgt_queue_put(q);
		return;
	}
	tgt_cmd_set_state(cmd, TGT_CMD_SENDING);
	if (atomic_load_explicit(&q->target->metrics.on, memory_order_relaxed))
		tgt_metrics_cmd_done(cmd, status, tr_now_ns());
	/* Only a reply still needs its buffer once the command is done: write data, Connect data and
	 * DSM ranges go back now, so a host that does not read its socket pins none of them. */
	if (status || cmd->xfer != TGT_XFER_C2H || cmd->c2h_data != cmd->buf)
		tgt_cmd_buf_put(cmd);
	if (status) {
		atomic_fetch_add_explicit(&q->stats.errors, 1, memory_order_relaxed);
		cmd->c2h_data = NULL; /* an error carries no data */
	}
	if (cmd->xfer != TGT_XFER_C2H || !cmd->data_len)
		cmd->c2h_data = NULL;
	/* Done with its blocks - unless its reply is sent straight from namespace memory: then they are
	 * read until the reply is out, and the slot lets go of them when it is retired. */
	if (cmd->lba_hold && (!cmd->c2h_data || cmd->c2h_data == cmd->buf))
		tgt_lba_leave(cmd);
	cqe->command_id = cmd->sqe.command_id;
	cqe->sq_id = q->qid;
	cqe->sq_head = q->sqhd_disabled ? 0 : q->sqhd;
	cqe->status = nvme_cqe_status_field(status);
	q->ops->queue_response(cmd);
}

void tgt_cmd_retire(struct tgt_cmd *cmd)
{
	struct tgt_queue *q = cmd->queue;

	if (cmd->lba_hold)
		tgt_lba_leave(cmd);
	if (cmd->fuse)
		tgt_fused_forget(cmd);
	if (cmd->ns) {
		tgt_ns_put(cmd->ns);
		cmd->ns = NULL;
	}
	tgt_cmd_buf_put(cmd);
	tgt_cmd_set_state(cmd, TGT_CMD_FREE);
	atomic_fetch_sub_explicit(&q->stats.inflight, 1, memory_order_relaxed);
	q->ops->free_slot(cmd);
}

uint16_t tgt_cmd_reply_at(struct tgt_cmd *cmd, const void *data, size_t len, uint64_t offset)
{
	if (cmd->xfer != TGT_XFER_C2H)
		return NVME_SC_INVALID_FIELD | NVME_SC_DNR;
	if (tgt_cmd_alloc_buf(cmd, cmd->data_len))
		return NVME_SC_INTERNAL;
	nvme_copy_window(cmd->buf, cmd->data_len, data, len, offset);
	cmd->c2h_data = cmd->buf;
	return NVME_SC_SUCCESS;
}

uint16_t tgt_cmd_reply(struct tgt_cmd *cmd, const void *data, size_t len)
{
	return tgt_cmd_reply_at(cmd, data, len, 0);
}

const struct nvmf_connect_data *tgt_cmd_connect_data(struct tgt_cmd *cmd)
{
	if (cmd->xfer != TGT_XFER_H2C || cmd->data_len < sizeof(struct nvmf_connect_data) || !cmd->buf)
		return NULL;
	return (const struct nvmf_connect_data *)cmd->buf;
}

/* ---- A queue's life ---- */

bool tgt_queue_is_admin(const struct tgt_queue *q)
{
	return q->qid == 0;
}

static const char *queue_state_name(enum tgt_queue_state s)
{
	switch (s) {
	case TGT_Q_WAIT_ICREQ: return "wait-icreq";
	case TGT_Q_CONNECTING: return "connecting";
	case TGT_Q_LIVE: return "live";
	case TGT_Q_CLOSING: return "closing";
	}
	return "?";
}

/* The only place a queue's state changes: forward through the handshake, or to closing. */
void tgt_queue_set_state(struct tgt_queue *q, enum tgt_queue_state s)
{
	bool ok = s == TGT_Q_CLOSING ? q->state != TGT_Q_CLOSING : s == q->state + 1;

	if (!ok) {
		tr_err("%s: queue state %s -> %s is not a legal step", q->peer, queue_state_name(q->state),
		       queue_state_name(s));
		return;
	}
	tr_debug("%s: queue %u %s -> %s", q->peer, q->qid, queue_state_name(q->state), queue_state_name(s));
	q->state = s;
}

int tgt_queue_bind(struct tgt_queue *q, struct tgt_ctrl *ctrl, uint16_t qid, uint16_t size, bool sqhd_disabled)
{
	/* The Connect command itself stays in the slot it came in; the real slots start now. */
	if (q->ops->alloc_slots(q, qid, size))
		return -ENOMEM;
	q->ctrl = ctrl;
	q->qid = qid;
	q->sqhd_disabled = sqhd_disabled;
	q->sqhd = 1; /* the Connect was entry 0 */
	q->size = size;
	if (ctrl->auth_required && tgt_auth_queue_init(q))
		return -ENOMEM;
	tgt_queue_set_state(q, TGT_Q_LIVE);
	return 0;
}

void tgt_queue_put(struct tgt_queue *q)
{
	if (--q->refs > 0)
		return;
	tgt_queue_ns_drop(q);
	tgt_auth_queue_free(q);
	q->ops->destroy(q);
}

void tgt_queue_check_handshake(struct tgt_queue *q, uint64_t now_ms)
{
	static struct tr_ratelimit rl = TR_RATELIMIT_INIT(5000, 10);
	uint32_t limit = q->target->handshake_timeout_ms;
	unsigned suppressed;

	if (!limit || q->state == TGT_Q_LIVE || q->state == TGT_Q_CLOSING || now_ms < q->started_ms + limit)
		return;
	/* A connection that never finishes ICReq and Connect holds a descriptor and memory for nothing:
	 * slow, stalled and silent peers all end here. */
	if (tr_ratelimit(&rl, &suppressed))
		tr_warn("%s: no %s within %u ms of connecting; closing%s", q->peer,
			q->state == TGT_Q_WAIT_ICREQ ? "ICReq" : "Connect", limit,
			suppressed ? " (and others like it: this line is rate-limited)" : "");
	tgt_metrics_inc(&q->target->metrics.handshake_timeouts);
	q->ops->close(q, "handshake timeout");
}

/* ---- Namespace cache ---- */

void tgt_queue_ns_refresh(struct tgt_queue *q)
{
	struct tgt_subsys *s = q->ctrl ? q->ctrl->subsys : NULL;

	if (!s || atomic_load_explicit(&s->ns_generation, memory_order_acquire) == q->ns_generation)
		return;
	/* Rare: a namespace came or went. Re-take references under the subsystem lock. */
	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 1; i <= TGT_MAX_NSID; i++) {
		if (q->ns_cache[i] == s->ns[i])
			continue;
		if (q->ns_cache[i])
			tgt_ns_put(q->ns_cache[i]);
		q->ns_cache[i] = s->ns[i];
		if (q->ns_cache[i])
			tgt_ns_get(q->ns_cache[i]);
	}
	q->ns_generation = atomic_load_explicit(&s->ns_generation, memory_order_relaxed);
	pthread_mutex_unlock(&s->lock);
}

struct tgt_ns *tgt_queue_ns(struct tgt_queue *q, uint32_t nsid)
{
	if (nsid == 0 || nsid > TGT_MAX_NSID)
		return NULL;
	tgt_queue_ns_refresh(q);
	return q->ns_cache[nsid];
}

void tgt_queue_ns_drop(struct tgt_queue *q)
{
	for (uint32_t i = 1; i <= TGT_MAX_NSID; i++) {
		if (q->ns_cache[i]) {
			tgt_ns_put(q->ns_cache[i]);
			q->ns_cache[i] = NULL;
		}
	}
}
