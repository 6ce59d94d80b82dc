/* NVM I/O commands: Read, Write, Compare, Flush, Write Zeroes and Dataset Management.
 * Parsing checks namespace, LBA range, transfer length and write protection before any data moves. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "target/cmd.h"
#include "target/fused.h"
#include "target/resv.h"
#include "util/log.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

static uint16_t errno_to_status(int err, bool write)
{
	switch (-err) {
	case 0:
		return NVME_SC_SUCCESS;
	case ENOSPC:
		return NVME_SC_CAP_EXCEEDED | NVME_SC_DNR;
	case EROFS:
	case EPERM:
	case EACCES:
		return NVME_SC_ACCESS_DENIED | NVME_SC_DNR;
	case EOPNOTSUPP:
		return NVME_SC_INVALID_OPCODE | NVME_SC_DNR;
	case ETIMEDOUT: /* the storage behind is out of reach (a Ceph cluster): may come back, retry */
	case ENOTCONN:
	case ESHUTDOWN:
		return NVME_SC_NS_NOT_READY;
	default:
		return write ? NVME_SC_WRITE_FAULT : NVME_SC_READ_ERROR;
	}
}

static void io_done(struct tgt_io *io, int err)
{
	struct tgt_cmd *cmd = container_of(io, struct tgt_cmd, io);
	static struct tr_ratelimit rl = TR_RATELIMIT_INIT(10000, 5);
	struct tgt_queue *q = cmd->queue;
	unsigned suppressed;
	uint16_t status;

	/* Rate-limited: storage that went away fails every command in flight and every new one. */
	if (err && tr_ratelimit(&rl, &suppressed))
		tr_warn("%s: nsid %u %s at byte %llu failed: %s", q->peer, cmd->sqe.nsid,
			io->op == TGT_IO_READ ? "read" : "write", (unsigned long long)io->offset, strerror(-err));
	status = errno_to_status(err, io->op != TGT_IO_READ);
	if (!status && io->op == TGT_IO_READ) {
		cmd->c2h_data = io->mapped ? io->mapped : cmd->buf;
		atomic_fetch_add_explicit(&q->stats.read_bytes, io->len, memory_order_relaxed);
		atomic_fetch_add_explicit(&q->stats.read_cmds, 1, memory_order_relaxed);
	} else if (!status && io->op == TGT_IO_WRITE) {
		atomic_fetch_add_explicit(&q->stats.write_bytes, io->len, memory_order_relaxed);
		atomic_fetch_add_explicit(&q->stats.write_cmds, 1, memory_order_relaxed);
	}
	tgt_cmd_complete(cmd, status);
}

static uint64_t cmd_slba(const struct tgt_cmd *cmd)
{
	return cmd->sqe.cdw10 | ((uint64_t)cmd->sqe.cdw11 << 32);
}

static uint32_t cmd_nlb(const struct tgt_cmd *cmd)
{
	return NVME_RW_NLB(cmd->sqe.cdw12);
}

static void submit(struct tgt_cmd *cmd, enum tgt_io_op op, uint64_t offset, uint64_t len, void *buf,
		   void (*complete)(struct tgt_io *, int))
{
	struct tgt_io *io = &cmd->io;

	io->op = op;
	io->fua = op == TGT_IO_WRITE && (cmd->sqe.cdw12 & NVME_RW_FUA);
	io->offset = offset;
	io->len = len;
	io->buf = buf;
	io->mapped = NULL;
	io->done_bytes = 0;
	io->complete = complete;
	io->ns = cmd->ns;
	cmd->ns->ops->submit(cmd->ns, cmd->queue->worker, io);
}

bool tgt_io_read_is_mapped(const struct tgt_cmd *cmd)
{
	/* A RAM namespace maps reads in place, unless a data digest is to be sent: that must cover the
	 * very bytes that leave, and a write from another queue may change mapped memory before the
	 * socket takes it, so those reads get a copy taken under the backend's lock.
	 * Once a fused pair has been seen on the namespace its reads are copied too: a mapped read keeps
	 * its blocks until the reply is on the wire, and a host that does not read its socket would
	 * hold up every pair (lba_lock.h). */
	return cmd->sqe.opcode == nvme_cmd_read && cmd->ns && cmd->ns->mem && !cmd->queue->c2h_must_copy &&
	       tgt_lba_may_map_reads(cmd->ns->gate);
}

static void execute_rw(struct tgt_cmd *cmd)
{
	uint64_t offset = cmd_slba(cmd) << cmd->ns->lba_shift;
	bool read = cmd->sqe.opcode == nvme_cmd_read;
	bool copy = !tgt_io_read_is_mapped(cmd);

	if (read && copy && tgt_cmd_alloc_buf(cmd, cmd->data_len)) {
		tgt_cmd_complete(cmd, NVME_SC_INTERNAL);
		return;
	}
	submit(cmd, read ? TGT_IO_READ : TGT_IO_WRITE, offset, cmd->data_len, read && !copy ? NULL : cmd->buf,
	       io_done);
}

/* A Compare's first step, alone or as a pair's first half: its blocks read into a scratch buffer (even on a
 * RAM namespace, which a write on another queue may change meanwhile); 0, or -ENOMEM. */
static int compare_read(struct tgt_cmd *cmd, void (*done)(struct tgt_io *io, int err))
{
	void *scratch = NULL;

	if (posix_memalign(&scratch, TGT_BUF_ALIGN, cmd->data_len))
		return -ENOMEM;
	submit(cmd, TGT_IO_READ, cmd_slba(cmd) << cmd->ns->lba_shift, cmd->data_len, scratch, done);
	return 0;
}

/* Its second: the stored blocks against the command's data, the scratch buffer freed. */
static uint16_t compare_status(struct tgt_cmd *cmd, struct tgt_io *io, int err)
{
	const void *stored = io->mapped ? io->mapped : io->buf;
	uint16_t status = errno_to_status(err, false);

	if (!status && memcmp(stored, cmd->buf, cmd->data_len))
		status = NVME_SC_COMPARE_FAILED | NVME_SC_DNR;
	free(io->buf);
	return status;
}

static void compare_done(struct tgt_io *io, int err)
{
	struct tgt_cmd *cmd = container_of(io, struct tgt_cmd, io);

	tgt_cmd_complete(cmd, compare_status(cmd, io, err));
}

static void execute_compare(struct tgt_cmd *cmd)
{
	if (compare_read(cmd, compare_done))
		tgt_cmd_complete(cmd, NVME_SC_INTERNAL);
}

/* ---- Fused Compare and Write: the pair holds its blocks from the compare's read to the write's end ---- */

static void fused_finish(struct tgt_cmd *first, struct tgt_cmd *second, uint16_t first_status,
			 uint16_t second_status)
{
	/* The compare's answer first, as the pair was submitted; the second's drops the pair's claim. */
	tgt_cmd_complete(first, first_status);
	tgt_cmd_complete(second, second_status);
}

static void fused_written(struct tgt_io *io, int err)
{
	struct tgt_cmd *second = container_of(io, struct tgt_cmd, io);
	uint16_t status = errno_to_status(err, true);

	if (!status) {
		atomic_fetch_add_explicit(&second->queue->stats.write_bytes, io->len, memory_order_relaxed);
		atomic_fetch_add_explicit(&second->queue->stats.write_cmds, 1, memory_order_relaxed);
	}
	/* A failed write leaves the compare's success as it was (NVM Command Set 3.2.1.1). */
	fused_finish(second->fused_peer, second, 0, status);
}

static void fused_compared(struct tgt_io *io, int err)
{
	struct tgt_cmd *first = container_of(io, struct tgt_cmd, io);
	struct tgt_cmd *second = first->fused_peer;
	uint16_t status = compare_status(first, io, err);

	if (status) {
		tr_debug("%s: fused compare at LBA %llu: %s", first->queue->peer, (unsigned long long)cmd_slba(first),
			 status == (NVME_SC_COMPARE_FAILED | NVME_SC_DNR) ? "miscompare" : "read failed");
		fused_finish(first, second, status, NVME_SC_FUSED_FAIL | NVME_SC_DNR);
		return;
	}
	submit(second, TGT_IO_WRITE, cmd_slba(second) << second->ns->lba_shift, second->data_len, second->buf,
	       fused_written);
}

/* The pair's blocks are ours (or it cannot wait: status). */
static void fused_go(struct tgt_cmd *second, uint16_t status)
{
	struct tgt_cmd *first = second->fused_peer;

	if (!status && compare_read(first, fused_compared))
		status = NVME_SC_INTERNAL;
	if (status)
		fused_finish(first, second, NVME_SC_FUSED_FAIL | NVME_SC_DNR, status);
}

void tgt_io_fused_run(struct tgt_cmd *first, struct tgt_cmd *second)
{
	uint16_t status;

	/* The reservation may have changed since the halves were parsed: checked again, and both counted
	 * for a Preempt and Abort, as every command is at execution. */
	if (atomic_load_explicit(&first->ns->resv_in_use, memory_order_relaxed)) {
		status = tgt_resv_enter(first);
		if (status) {
			fused_finish(first, second, status, NVME_SC_FUSED_FAIL | NVME_SC_DNR);
			return;
		}
		status = tgt_resv_enter(second);
		if (status) {
			fused_finish(first, second, NVME_SC_FUSED_FAIL | NVME_SC_DNR, status);
			return;
		}
	}
	if (tgt_lba_enter_pair(second, fused_go))
		fused_go(second, 0);
}

static void execute_flush(struct tgt_cmd *cmd)
{
	submit(cmd, TGT_IO_FLUSH, 0, 0, NULL, io_done);
}

static void execute_write_zeroes(struct tgt_cmd *cmd)
{
	struct tgt_ns *ns = cmd->ns;

	submit(cmd, TGT_IO_WRITE_ZEROES, cmd_slba(cmd) << ns->lba_shift, (uint64_t)cmd_nlb(cmd) << ns->lba_shift,
	       NULL, io_done);
}

/* Deallocate ranges one after the other, each a backend request. */
static void dsm_next(struct tgt_io *io, int err)
{
	struct tgt_cmd *cmd = container_of(io, struct tgt_cmd, io);
	const struct nvme_dsm_range *r = (const struct nvme_dsm_range *)cmd->buf;
	uint32_t nr = NVME_DSM_NR(cmd->sqe.cdw10);

	if (err && !cmd->dsm_err)
		cmd->dsm_err = err;
	while (cmd->dsm_left < nr && r[cmd->dsm_left].nlb == 0)
		cmd->dsm_left++;
	if (cmd->dsm_left == nr || cmd->dsm_err) {
		tgt_cmd_complete(cmd, errno_to_status(cmd->dsm_err, true));
		return;
	}
	r += cmd->dsm_left++;
	submit(cmd, TGT_IO_DISCARD, r->slba << cmd->ns->lba_shift, (uint64_t)r->nlb << cmd->ns->lba_shift,
	       NULL, dsm_next);
}

static void execute_dsm(struct tgt_cmd *cmd)
{
	const struct nvme_dsm_range *r = (const struct nvme_dsm_range *)cmd->buf;
	uint32_t nr = NVME_DSM_NR(cmd->sqe.cdw10);

	/* Only deallocate has an effect; the other attributes are hints. */
	if (!(cmd->sqe.cdw11 & NVME_DSMGMT_AD)) {
		tgt_cmd_complete(cmd, NVME_SC_SUCCESS);
		return;
	}
	for (uint32_t i = 0; i < nr; i++) {
		if (r[i].slba + r[i].nlb < r[i].slba || r[i].slba + r[i].nlb > cmd->ns->nlbas) {
			tr_warn("%s: deallocate range %u (slba %llu, %u blocks) beyond nsid %u's %llu blocks",
				cmd->queue->peer, i, (unsigned long long)r[i].slba, r[i].nlb, cmd->ns->nsid,
				(unsigned long long)cmd->ns->nlbas);
			tgt_cmd_complete(cmd, NVME_SC_LBA_RANGE | NVME_SC_DNR);
			return;
		}
	}
	cmd->dsm_left = 0;
	cmd->dsm_err = 0;
	dsm_next(&cmd->io, 0);
}

static uint16_t check_range(struct tgt_cmd *cmd, struct tgt_ns *ns)
{
	uint64_t slba = cmd_slba(cmd);
	uint32_t nlb = cmd_nlb(cmd);

	if (slba + nlb < slba || slba + nlb > ns->nlbas) {
		tr_warn("%s: %s of %u blocks at LBA %llu is beyond nsid %u's %llu blocks", cmd->queue->peer,
			cmd->sqe.opcode == nvme_cmd_read ? "read" : "write", nlb, (unsigned long long)slba,
			ns->nsid, (unsigned long long)ns->nlbas);
		return NVME_SC_LBA_RANGE | NVME_SC_DNR;
	}
	return 0;
}

/* Read/Write/Compare move exactly nlb blocks: the SGL must say the same. */
static uint16_t check_transfer(struct tgt_cmd *cmd, struct tgt_ns *ns, enum tgt_xfer dir)
{
	uint64_t len = (uint64_t)cmd_nlb(cmd) << ns->lba_shift;

	if (len > TGT_MAX_XFER) {
		tr_warn("%s: transfer of %llu bytes exceeds MDTS (%u bytes)", cmd->queue->peer,
			(unsigned long long)len, TGT_MAX_XFER);
		return NVME_SC_INVALID_FIELD | NVME_SC_DNR;
	}
	if (cmd->xfer != dir || cmd->data_len != len) {
		tr_warn("%s: opcode %#x moves %llu bytes but its SGL describes %u", cmd->queue->peer,
			cmd->sqe.opcode, (unsigned long long)len, cmd->data_len);
		return NVME_SC_SGL_INVALID_DATA | NVME_SC_DNR;
	}
	return check_range(cmd, ns);
}

uint16_t tgt_parse_io_cmd(struct tgt_cmd *cmd)
{
	struct tgt_queue *q = cmd->queue;
	struct tgt_ns *ns;
	uint16_t status = 0;
	bool writes = false;

	if (!(q->ctrl->csts & NVME_CSTS_RDY))
		return NVME_SC_CMD_SEQ_ERROR | NVME_SC_DNR;
	ns = tgt_queue_ns(q, cmd->sqe.nsid);
	if (!ns) {
		tr_warn("%s: I/O opcode %#x to inactive nsid %u", q->peer, cmd->sqe.opcode, cmd->sqe.nsid);
		return NVME_SC_INVALID_NS | NVME_SC_DNR;
	}
	/* On a path whose ANA group is not accessible the namespace answers with the group's state,
	 * before anything else: the host retries on another path (no DNR). */
	status = tgt_ana_io_status(q->ctrl, ns);
	if (status) {
		tr_debug("%s: nsid %u: ANA group %u is %s on port %u", q->peer, ns->nsid, ns->anagrpid,
			 tgt_ana_state_name(tgt_ana_state(q->target, q->ctrl->portid, ns->anagrpid)), q->ctrl->portid);
		return status;
	}
	status = tgt_resv_check_io(q, ns, cmd->sqe.opcode);
	if (status)
		return status;
	switch (cmd->sqe.opcode) {
	case nvme_cmd_read:
		status = check_transfer(cmd, ns, TGT_XFER_C2H);
		cmd->execute = execute_rw;
		break;
	case nvme_cmd_write:
		status = check_transfer(cmd, ns, TGT_XFER_H2C);
		cmd->execute = execute_rw;
		writes = true;
		break;
	case nvme_cmd_compare:
		status = check_transfer(cmd, ns, TGT_XFER_H2C);
		cmd->execute = execute_compare;
		break;
	case nvme_cmd_flush:
		cmd->execute = execute_flush;
		break;
	case nvme_cmd_write_zeroes:
		status = check_range(cmd, ns);
		cmd->execute = execute_write_zeroes;
		writes = true;
		break;
	case nvme_cmd_dsm: {
		uint32_t nr = NVME_DSM_NR(cmd->sqe.cdw10);

		if (cmd->xfer != TGT_XFER_H2C || cmd->data_len < nr * sizeof(struct nvme_dsm_range))
			status = NVME_SC_SGL_INVALID_DATA | NVME_SC_DNR;
		cmd->execute = execute_dsm;
		writes = cmd->sqe.cdw11 & NVME_DSMGMT_AD;
		break;
	}
	case nvme_cmd_resv_register:
	case nvme_cmd_resv_report:
	case nvme_cmd_resv_acquire:
	case nvme_cmd_resv_release:
		status = tgt_resv_parse(cmd);
		break;
	default:
		tr_warn("%s: unsupported I/O opcode %#x", q->peer, cmd->sqe.opcode);
		return NVME_SC_INVALID_OPCODE | NVME_SC_DNR;
	}
	if (!status && writes && ns->readonly) {
		tr_warn("%s: write to read-only nsid %u refused", q->peer, ns->nsid);
		status = NVME_SC_NS_WRITE_PROTECTED | NVME_SC_DNR;
	}
	if (!status) {
		tgt_ns_get(ns);
		cmd->ns = ns;
	}
	return status;
}
