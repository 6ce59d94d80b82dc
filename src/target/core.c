/* The transport-neutral part of a target command's life: the slot's state machine, mapping its
 * SGL to a data transfer, choosing its handler, replies and Connect data, and the queue's
 * namespace cache. */
#include <stdio.h>
#include <string.h>

#include "nvme/identify.h"
#include "target/cmd.h"
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
	[TGT_CMD_WAIT_EVENT] = TO(TGT_CMD_SENDING) | TO(TGT_CMD_FREE),
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

uint16_t tgt_cmd_map_sgl(struct tgt_cmd *cmd, uint32_t incapsule_len)
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

uint16_t tgt_cmd_parse(struct tgt_cmd *cmd)
{
	struct tgt_queue *q = cmd->queue;

	if (cmd->sqe.opcode == nvme_admin_fabrics)
		return tgt_parse_fabrics_cmd(cmd);
	if (q->state != TGT_Q_LIVE || !q->ctrl)
		return NVME_SC_CMD_SEQ_ERROR | NVME_SC_DNR;
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
bool tgt_cmd_parse_after_data(const struct tgt_cmd *cmd)
{
	return cmd->sqe.opcode == nvme_admin_fabrics && cmd->incapsule && cmd->data_len;
}

uint16_t tgt_cmd_reply(struct tgt_cmd *cmd, const void *data, size_t len)
{
	if (cmd->xfer != TGT_XFER_C2H)
		return NVME_SC_INVALID_FIELD | NVME_SC_DNR;
	if (tgt_cmd_alloc_buf(cmd, cmd->data_len))
		return NVME_SC_INTERNAL;
	nvme_copy_window(cmd->buf, cmd->data_len, data, len, 0);
	cmd->c2h_data = cmd->buf;
	return NVME_SC_SUCCESS;
}

const struct nvmf_connect_data *tgt_cmd_connect_data(struct tgt_cmd *cmd)
{
	if (cmd->xfer != TGT_XFER_H2C || cmd->data_len < sizeof(struct nvmf_connect_data) || !cmd->buf)
		return NULL;
	return (const struct nvmf_connect_data *)cmd->buf;
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
