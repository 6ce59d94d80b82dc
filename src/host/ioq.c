/* I/O on one of a host controller's I/O queues, for the library's users (tr_ioq_*): NVM reads,
 * writes, write zeroes, flush, deallocate and fused compare-and-write as commands on the queue, and
 * what a caller's event loop needs to drive it. */
#include <errno.h>
#include <stdint.h>

#include "host/ioq.h"
#include "host/queue.h"

static int rw(struct tr_ioq *q, uint8_t opcode, uint32_t nsid, uint64_t slba, uint32_t nlb, void *buf,
	      uint32_t len, uint32_t extra, tr_io_cb cb, void *arg)
{
	struct nvme_command cmd = { .opcode = opcode, .nsid = nsid, .cdw10 = (uint32_t)slba,
				    .cdw11 = (uint32_t)(slba >> 32), .cdw12 = ((nlb - 1) & 0xffff) | extra };

	if (nlb == 0 || nlb > 65536 || len > tr_ctrl_max_xfer(q->ctrl))
		return -EINVAL;
	return hq_submit(q->hq, &cmd, buf, len, cb, arg, NULL);
}

int tr_ioq_read(struct tr_ioq *q, uint32_t nsid, uint64_t slba, uint32_t nlb, void *buf, uint32_t len,
		tr_io_cb cb, void *arg)
{
	return rw(q, nvme_cmd_read, nsid, slba, nlb, buf, len, 0, cb, arg);
}

int tr_ioq_write(struct tr_ioq *q, uint32_t nsid, uint64_t slba, uint32_t nlb, const void *buf,
		 uint32_t len, bool fua, tr_io_cb cb, void *arg)
{
	/* The buffer is only read; the queue keeps one pointer type for both directions. */
	return rw(q, nvme_cmd_write, nsid, slba, nlb, (void *)(uintptr_t)buf, len, fua ? NVME_RW_FUA : 0, cb, arg);
}

int tr_ioq_write_zeroes(struct tr_ioq *q, uint32_t nsid, uint64_t slba, uint32_t nlb, tr_io_cb cb, void *arg)
{
	return rw(q, nvme_cmd_write_zeroes, nsid, slba, nlb, NULL, 0, 0, cb, arg);
}

int tr_ioq_flush(struct tr_ioq *q, uint32_t nsid, tr_io_cb cb, void *arg)
{
	struct nvme_command cmd = { .opcode = nvme_cmd_flush, .nsid = nsid };

	return hq_submit(q->hq, &cmd, NULL, 0, cb, arg, NULL);
}

int tr_ioq_deallocate(struct tr_ioq *q, uint32_t nsid, uint64_t slba, uint32_t nlb, tr_io_cb cb, void *arg)
{
	struct nvme_dsm_range range = { .nlb = nlb, .slba = slba };
	struct nvme_command cmd = { .opcode = nvme_cmd_dsm, .nsid = nsid, .cdw10 = 0, .cdw11 = NVME_DSMGMT_AD };

	return hq_submit_dsm(q->hq, &cmd, &range, cb, arg);
}

int tr_ioq_compare_and_write(struct tr_ioq *q, uint32_t nsid, uint64_t slba, uint32_t nlb, const void *cmp,
			     const void *data, uint32_t len, tr_io_cb cb, void *arg)
{
	struct nvme_command compare = { .opcode = nvme_cmd_compare, .flags = NVME_CMD_FUSE_FIRST, .nsid = nsid,
					.cdw10 = (uint32_t)slba, .cdw11 = (uint32_t)(slba >> 32),
					.cdw12 = (nlb - 1) & 0xffff };
	struct nvme_command write = compare;

	if (nlb == 0 || nlb > 65536 || !len || len > tr_ctrl_max_xfer(q->ctrl))
		return -EINVAL;
	if (!(tr_ctrl_identify_data(q->ctrl)->fuses & NVME_CTRL_FUSES_COMPARE_WRITE))
		return -EOPNOTSUPP; /* the controller would refuse the pair (Invalid Field) */
	write.opcode = nvme_cmd_write;
	write.flags = NVME_CMD_FUSE_SECOND;
	/* Both buffers are only read; the queue keeps one pointer type for both directions. */
	return hq_submit_fused(q->hq, &compare, (void *)(uintptr_t)cmp, &write, (void *)(uintptr_t)data, len, cb, arg);
}

int tr_ioq_poll(struct tr_ioq *q, int timeout_ms)
{
	return hq_poll(q->hq, timeout_ms);
}

int tr_ioq_inflight(const struct tr_ioq *q)
{
	return hq_inflight(q->hq);
}

const char *tr_ioq_error(const struct tr_ioq *q)
{
	return hq_error(q->hq) ? hq_why(q->hq) : NULL;
}

int tr_ioq_fd(const struct tr_ioq *q)
{
	return hq_fd(q->hq);
}

bool tr_ioq_tx_pending(const struct tr_ioq *q)
{
	return hq_tx_pending(q->hq);
}
