/* Fused operations: pairing on arrival and waiting for the other half (fused.h). Pairing follows the
 * queue's order of capsules, which is the submission queue's order on a fabric; data for the two halves
 * may then arrive in either order (in-capsule, or by R2T), so whichever half is ready last starts the
 * pair. The statuses are the spec's: a FIRST not followed by its SECOND, or a SECOND with no FIRST, is
 * aborted as Missing Fused Command; when one half fails, the other is aborted as Failed Fused Command. */
#include <stdbool.h>

#include "target/cmd.h"
#include "target/fused.h"
#include "util/log.h"

static void say_why(const struct tgt_cmd *cmd, const char *why)
{
	static struct tr_ratelimit rl = TR_RATELIMIT_INIT(5000, 10);
	unsigned suppressed;

	if (tr_ratelimit(&rl, &suppressed))
		tr_warn("%s: fused opcode %#x (cid %u) on queue %u: %s%s", cmd->queue->peer, cmd->sqe.opcode,
			cmd->sqe.command_id, cmd->queue->qid, why,
			suppressed ? " (and others: this line is rate-limited)" : "");
}

static uint16_t refuse(const struct tgt_cmd *cmd, uint16_t status, const char *why)
{
	say_why(cmd, why);
	return status | NVME_SC_DNR;
}

/* The half 'cmd' will not run: answer it now if it waits for its peer, else when its data are in. */
static void abort_half(struct tgt_cmd *cmd, uint16_t status)
{
	cmd->fuse = 0;
	cmd->fused_peer = NULL;
	if (cmd->fused_ready) {
		cmd->fused_ready = false;
		tgt_cmd_complete(cmd, status | NVME_SC_DNR);
	} else if (!cmd->status) {
		cmd->status = status | NVME_SC_DNR; /* tgt_cmd_data_ready answers with it */
	}
}

static bool same_blocks(const struct tgt_cmd *a, const struct tgt_cmd *b)
{
	/* The same namespace object too: one replaced between the two capsules is not the same blocks. */
	return a->ns == b->ns && a->sqe.nsid == b->sqe.nsid && a->sqe.cdw10 == b->sqe.cdw10 && a->sqe.cdw11 == b->sqe.cdw11 &&
	       NVME_RW_NLB(a->sqe.cdw12) == NVME_RW_NLB(b->sqe.cdw12);
}

/* A SECOND, and the FIRST just before it: pair them, or say what each is to answer. */
static uint16_t arrive_second(struct tgt_cmd *cmd, struct tgt_cmd *first, uint16_t status)
{
	if (!status && cmd->sqe.opcode != nvme_cmd_write) {
		abort_half(first, NVME_SC_FUSED_MISSING);
		return refuse(cmd, NVME_SC_INVALID_FIELD, "only Write may be the second command");
	}
	if (!status && !same_blocks(first, cmd)) {
		abort_half(first, NVME_SC_INVALID_FIELD);
		return refuse(cmd, NVME_SC_INVALID_FIELD, "the two commands name different blocks");
	}
	if (status) {
		abort_half(first, NVME_SC_FUSED_FAIL);
		return status;
	}
	cmd->fuse = NVME_CMD_FUSE_SECOND;
	cmd->fused_ready = cmd->fused_running = false;
	cmd->fused_peer = first;
	first->fused_peer = cmd;
	return 0;
}

uint16_t tgt_fused_arrive(struct tgt_cmd *cmd, uint16_t status)
{
	struct tgt_queue *q = cmd->queue;
	uint8_t fuse = cmd->sqe.opcode == nvme_admin_fabrics ? 0 : cmd->sqe.flags & NVME_CMD_FUSE_MASK;
	struct tgt_cmd *first = q->fused_first;
	bool first_failed = q->fused_first_failed;

	q->fused_first = NULL;
	q->fused_first_failed = false;
	if (first && fuse != NVME_CMD_FUSE_SECOND) {
		say_why(first, "the next command on its queue is not its second");
		abort_half(first, NVME_SC_FUSED_MISSING);
	}
	if (!fuse)
		return status;
	if (fuse == NVME_CMD_FUSE_MASK)
		return status ? status : refuse(cmd, NVME_SC_INVALID_FIELD, "reserved FUSE value");
	if (tgt_queue_is_admin(q))
		return status ? status : refuse(cmd, NVME_SC_INVALID_FIELD, "no fused admin commands");
	if (fuse == NVME_CMD_FUSE_FIRST) {
		if (!status && cmd->sqe.opcode != nvme_cmd_compare)
			status = refuse(cmd, NVME_SC_INVALID_FIELD, "only Compare may be the first command");
		if (status) {
			q->fused_first_failed = true;
			return status;
		}
		cmd->fuse = NVME_CMD_FUSE_FIRST;
		cmd->fused_peer = NULL;
		cmd->fused_ready = cmd->fused_running = false;
		q->fused_first = cmd;
		return 0;
	}
	if (!first)
		return refuse(cmd, first_failed ? NVME_SC_FUSED_FAIL : NVME_SC_FUSED_MISSING,
			      first_failed ? "its first command failed" : "no first command before it");
	return arrive_second(cmd, first, status);
}

void tgt_fused_ready(struct tgt_cmd *cmd)
{
	struct tgt_cmd *peer = cmd->fused_peer;

	if (!peer || !peer->fused_ready) {
		/* The other half has not arrived, or its data are not in: it starts the pair. */
		cmd->fused_ready = true;
		tgt_cmd_set_state(cmd, TGT_CMD_WAIT_EVENT);
		return;
	}
	peer->fused_ready = false;
	tgt_cmd_set_state(peer, TGT_CMD_EXECUTING);
	cmd->fused_running = peer->fused_running = true;
	if (cmd->fuse == NVME_CMD_FUSE_FIRST)
		tgt_io_fused_run(cmd, peer);
	else
		tgt_io_fused_run(peer, cmd);
}

void tgt_fused_abandon(struct tgt_cmd *cmd)
{
	struct tgt_queue *q = cmd->queue;
	struct tgt_cmd *peer = cmd->fused_peer;

	if (q->fused_first == cmd) { /* still waiting for its SECOND, which is to fail with it */
		q->fused_first = NULL;
		q->fused_first_failed = true;
	}
	cmd->fuse = 0;
	cmd->fused_peer = NULL;
	if (peer)
		abort_half(peer, NVME_SC_FUSED_FAIL);
}

void tgt_fused_forget(struct tgt_cmd *cmd)
{
	struct tgt_queue *q = cmd->queue;

	if (q->fused_first == cmd)
		q->fused_first = NULL;
	if (cmd->fused_peer && cmd->fused_peer->fused_peer == cmd)
		cmd->fused_peer->fused_peer = NULL;
	cmd->fuse = 0;
	cmd->fused_peer = NULL;
	cmd->fused_ready = cmd->fused_running = false;
}
