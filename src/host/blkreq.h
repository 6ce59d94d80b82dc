/* A block request of the host process (a read, write, flush, deallocate or write-zeroes on one
 * namespace) turned into NVMe commands: the block-aligned extent, chunks of at most the controller's
 * transfer size, read-modify-write for unaligned writes, and what to do when the commands come back.
 * Pure logic: the caller sends each command through a callback, so tests drive it with a fake. */
#ifndef TIGHTROPE_HOST_BLKREQ_H
#define TIGHTROPE_HOST_BLKREQ_H

#include <stdbool.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>

/* How often a request goes again after its commands were lost with the path, as the kernel's
 * nvme_max_retries: a command the target never answers must end in an error, not a loop. */
#define BLKREQ_MAX_RETRIES 5
/* The most blocks one deallocate or write-zeroes may cover, from FUSE or ublk (blkreq_fit). */
#define BLKREQ_MAX_DSM_BLOCKS 65536

/* A completion status that sends the request to another path without counting a retry: the path
 * answered with a path error (an ANA state, Host Path Error), which says nothing about the command. */
#define BLKREQ_STATUS_FAILOVER (-EAGAIN)

/* No kind here is a fused command: what goes again after a lost path (BLKREQ_RESUBMIT) is always a
 * whole command. tr_ioq_compare_and_write's pairs are never resent (a failed queue fails the pair). */
enum blkreq_kind { BLKREQ_READ, BLKREQ_WRITE, BLKREQ_FLUSH, BLKREQ_DEALLOCATE, BLKREQ_ZEROES };

/* Data buffers kept for the next requests instead of freed: one list per power-of-two size from
 * 4 KiB to 1 MiB (FUSE's largest request), at most max_bytes held in all. A busy event loop then
 * takes each request's buffer off a list, warm, instead of from malloc. Zeroed: nothing is kept. */
#define BLKREQ_POOL_MIN_SHIFT 12
#define BLKREQ_POOL_CLASSES 9
struct blkreq_pool {
	void *free[BLKREQ_POOL_CLASSES]; /* each buffer's first bytes link to the next */
	size_t held, max_bytes;
};

struct blkreq {
	enum blkreq_kind kind;
	uint32_t nsid, lba_shift;
	uint64_t off; /* what the caller asked for */
	size_t size;
	uint64_t aoff; /* the block-aligned extent that goes on the wire */
	uint32_t alen;
	uint8_t *buf; /* the extent's data (reads and writes only) */
	struct blkreq_pool *pool; /* where buf goes back to, or NULL */
	const uint8_t *wdata; /* a copy of the caller's write data, for read-modify-write */
	bool rmw_read; /* an unaligned write: read the extent first */
	uint32_t next_chunk, nr_chunks, inflight;
	bool transport_err;
	bool failover; /* a command came back with BLKREQ_STATUS_FAILOVER */
	int nvme_err; /* the first NVMe status (> 0) or local error a command ended with */
	int retries; /* times sent again after a transport error */
};

/* One NVMe command of a request: 'op' is the request's kind, except BLKREQ_READ for the read half
 * of a read-modify-write. */
struct blkreq_cmd {
	enum blkreq_kind op;
	uint32_t nsid;
	uint64_t slba;
	uint32_t nlb; /* blocks (0 for a flush) */
	uint8_t *buf; /* inside the request's buffer; NULL unless a read or write */
	uint32_t len; /* bytes of buf */
};

/* Send one command; 0 once it is in flight, -EAGAIN when the queue is full, another -errno when the
 * path is broken (both: the request waits and goes again), or an NVMe status / -EINVAL that fails it. */
typedef int (*blkreq_send_fn)(void *ctx, const struct blkreq_cmd *cmd);

/* What the caller does next with a request. */
enum blkreq_next {
	BLKREQ_PENDING, /* commands are in flight: wait for their completions */
	BLKREQ_WAIT, /* nothing in flight and more to send: park it until there is room or a path */
	BLKREQ_RESUBMIT, /* the read of a read-modify-write is back and merged: submit again */
	BLKREQ_REPLY, /* done: reply with its result (nvme_err, or the data) */
	BLKREQ_FAILED, /* the path broke under it more than BLKREQ_MAX_RETRIES times: fail it (EIO) */
};

/* Check a request against a namespace of 'nsze' blocks of 1 << lba_shift bytes, as the FUSE view
 * does: 0 = go ahead, with a read's *size clamped to the namespace's end; 1 = nothing to do (a
 * zero-length read or write, or a read at or beyond the end: reply with no data); -ENOSPC = a write
 * past the end; -EINVAL = a deallocate or write-zeroes that is unaligned, past the end, empty or
 * longer than 65536 blocks. */
int blkreq_fit(enum blkreq_kind kind, uint64_t off, size_t *size, uint64_t nsze, uint32_t lba_shift);

/* Set up a request (its buffer is taken from 'pool' or allocated for reads and writes, and a write's
 * data copied in, or kept for read-modify-write when not whole blocks); 0 or -ENOMEM. 'pool' may be
 * NULL. blkreq_release gives its memory back (to the pool while that holds less than max_bytes). */
int blkreq_init(struct blkreq *r, enum blkreq_kind kind, uint32_t nsid, uint64_t off, size_t size, uint32_t lba_shift,
		const void *wdata, struct blkreq_pool *pool);
void blkreq_release(struct blkreq *r);
/* Free every buffer the pool holds. */
void blkreq_pool_drain(struct blkreq_pool *pool);

/* Send the request's remaining commands, each at most max_xfer bytes, in order. */
enum blkreq_next blkreq_submit(struct blkreq *r, uint32_t max_xfer, blkreq_send_fn send, void *ctx);

/* One of its commands completed: status 0, an NVMe status (> 0), BLKREQ_STATUS_FAILOVER, or < 0 for a
 * transport error. */
enum blkreq_next blkreq_complete(struct blkreq *r, int status);

#endif
