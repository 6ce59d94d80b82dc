/* Splitting a block request of the host process into NVMe commands, and read-modify-write for
 * writes that are not whole blocks. No I/O here: commands go out through the caller's callback. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host/blkreq.h"


int blkreq_fit(enum blkreq_kind kind, uint64_t off, size_t *size, uint64_t nsze, uint32_t lba_shift)
{
	uint64_t end = nsze << lba_shift, mask = (1ull << lba_shift) - 1;

	switch (kind) {
	case BLKREQ_READ:
		if (off >= end || *size == 0)
			return 1;
		if (off + *size > end)
			*size = (size_t)(end - off);
		return 0;
	case BLKREQ_WRITE:
		if (off + *size > end)
			return -ENOSPC;
		return *size == 0 ? 1 : 0;
	case BLKREQ_DEALLOCATE:
	case BLKREQ_ZEROES:
		if ((off | *size) & mask || off + *size > end || *size >> lba_shift > BLKREQ_MAX_DSM_BLOCKS || *size == 0 ||
		    off + *size < off)
			return -EINVAL;
		return 0;
	default:
		return 0;
	}
}

/* The pool's list for a buffer of 'len' bytes, or -1 when it is larger than any. */
static int pool_class(uint32_t len)
{
	int c = 0;

	while (c < BLKREQ_POOL_CLASSES && (1u << (BLKREQ_POOL_MIN_SHIFT + c)) < len)
		c++;
	return c < BLKREQ_POOL_CLASSES ? c : -1;
}

static void *buf_get(struct blkreq_pool *pool, uint32_t len)
{
	int c = pool_class(len);
	void *b;

	if (c < 0)
		return aligned_alloc(4096, (len + 4095) / 4096 * 4096);
	b = pool ? pool->free[c] : NULL;
	if (!b)
		return aligned_alloc(4096, (size_t)1 << (BLKREQ_POOL_MIN_SHIFT + c));
	memcpy(&pool->free[c], b, sizeof(void *));
	pool->held -= (size_t)1 << (BLKREQ_POOL_MIN_SHIFT + c);
	return b;
}

static void buf_put(struct blkreq_pool *pool, void *b, uint32_t len)
{
	int c = pool_class(len);
	size_t csize;

	if (!b)
		return;
	csize = c < 0 ? SIZE_MAX : (size_t)1 << (BLKREQ_POOL_MIN_SHIFT + c);
	if (!pool || c < 0 || pool->held + csize > pool->max_bytes) {
		free(b);
		return;
	}
	memcpy(b, &pool->free[c], sizeof(void *));
	pool->free[c] = b;
	pool->held += csize;
}

void blkreq_pool_drain(struct blkreq_pool *pool)
{
	for (int c = 0; c < BLKREQ_POOL_CLASSES; c++) {
		while (pool->free[c]) {
			void *b = pool->free[c];

			memcpy(&pool->free[c], b, sizeof(void *));
			free(b);
		}
	}
	pool->held = 0;
}

int blkreq_init(struct blkreq *r, enum blkreq_kind kind, uint32_t nsid, uint64_t off, size_t size, uint32_t lba_shift,
		const void *wdata, struct blkreq_pool *pool)
{
	uint64_t mask = (1ull << lba_shift) - 1;

	*r = (struct blkreq){ .kind = kind, .nsid = nsid, .lba_shift = lba_shift, .off = off, .size = size };
	r->aoff = off & ~mask;
	r->alen = (uint32_t)(((off + size + mask) & ~mask) - r->aoff);
	if (kind != BLKREQ_READ && kind != BLKREQ_WRITE)
		return 0;
	r->pool = pool;
	r->buf = buf_get(pool, r->alen);
	if (!r->buf)
		return -ENOMEM;
	if (kind == BLKREQ_WRITE && (off | size) & mask) {
		/* Not whole blocks: read-modify-write; keep the caller's bytes until the read is back. */
		uint8_t *copy = malloc(size ? size : 1);

		if (!copy) {
			blkreq_release(r);
			return -ENOMEM;
		}
		memcpy(copy, wdata, size);
		r->wdata = copy;
		r->rmw_read = true;
	} else if (kind == BLKREQ_WRITE) {
		memcpy(r->buf, wdata, size);
	}
	return 0;
}

void blkreq_release(struct blkreq *r)
{
	buf_put(r->pool, r->buf, r->alen);
	free((void *)r->wdata);
	r->buf = NULL;
	r->wdata = NULL;
}

/* The command for chunk 'i': reads and writes in pieces of max_xfer, the others in one. */
static void chunk_cmd(const struct blkreq *r, uint32_t i, uint32_t max_xfer, struct blkreq_cmd *c)
{
	uint64_t off = r->aoff + (uint64_t)i * max_xfer;
	uint32_t left = r->alen - i * max_xfer;

	*c = (struct blkreq_cmd){ .op = r->kind, .nsid = r->nsid, .slba = off >> r->lba_shift };
	switch (r->kind) {
	case BLKREQ_READ:
	case BLKREQ_WRITE:
		c->len = left < max_xfer ? left : max_xfer;
		c->nlb = c->len >> r->lba_shift;
		c->buf = r->buf + (off - r->aoff);
		if (r->rmw_read)
			c->op = BLKREQ_READ;
		break;
	case BLKREQ_FLUSH:
		break;
	default: /* deallocate, write zeroes: one command over the whole extent */
		c->nlb = r->alen >> r->lba_shift;
		break;
	}
}

enum blkreq_next blkreq_submit(struct blkreq *r, uint32_t max_xfer, blkreq_send_fn send, void *ctx)
{
	if (!max_xfer)
		max_xfer = 1u << r->lba_shift;
	if (r->kind == BLKREQ_READ || r->kind == BLKREQ_WRITE)
		r->nr_chunks = (r->alen + max_xfer - 1) / max_xfer;
	else
		r->nr_chunks = 1;
	while (r->next_chunk < r->nr_chunks) {
		struct blkreq_cmd c;
		int err;

		chunk_cmd(r, r->next_chunk, max_xfer, &c);
		err = send(ctx, &c);
		if (err == -EAGAIN || (err < 0 && err != -EINVAL)) {
			/* Queue full or failed: wait in line; retried when there is room or a new path.
			 * With commands in flight, the last completion parks it. */
			return r->inflight ? BLKREQ_PENDING : BLKREQ_WAIT;
		}
		if (err) {
			r->nvme_err = err;
			return r->inflight ? BLKREQ_PENDING : BLKREQ_REPLY;
		}
		r->inflight++;
		r->next_chunk++;
	}
	return r->inflight ? BLKREQ_PENDING : BLKREQ_REPLY;
}

enum blkreq_next blkreq_complete(struct blkreq *r, int status)
{
	r->inflight--;
	if (status == BLKREQ_STATUS_FAILOVER)
		r->failover = true;
	else if (status < 0)
		r->transport_err = true;
	else if (status && !r->nvme_err)
		r->nvme_err = status;
	if (r->inflight)
		return BLKREQ_PENDING;
	if (r->transport_err) {
		/* The path is gone: this request waits for the reconnect (or fast_io_fail). A command
		 * that timed out takes the path down with it and would time out again after every
		 * reconnect (e.g. a write the target never sends R2T for), so the retries are counted. */
		r->transport_err = false;
		if (++r->retries > BLKREQ_MAX_RETRIES)
			return BLKREQ_FAILED;
		r->next_chunk = 0;
		r->failover = false;
		return BLKREQ_WAIT;
	}
	if (r->failover) {
		/* Another path takes the whole request again: which chunks landed does not matter, and
		 * what the others answered will be answered again. */
		r->failover = false;
		r->nvme_err = 0;
		r->next_chunk = 0;
		return BLKREQ_WAIT;
	}
	if (r->next_chunk < r->nr_chunks)
		return BLKREQ_WAIT; /* the queue was full part-way through: the event loop submits the rest */
	if (!r->nvme_err && r->rmw_read) {
		/* An unaligned write: the extent is read, now merge the new bytes and write it back. */
		memcpy(r->buf + (r->off - r->aoff), r->wdata, r->size);
		r->rmw_read = false;
		r->next_chunk = 0;
		return BLKREQ_RESUBMIT;
	}
	return BLKREQ_REPLY;
}
