/* Command data buffers: recycled per worker in power-of-two classes, within a budget that makes a
 * command (or a socket with in-capsule data) wait, first come first served, rather than allocate
 * past it. */
#include <errno.h>
#include <stdlib.h>

#include "target/cmd.h"

#define CMD_BUF_MIN 16384 /* the smallest buffer class: every in-capsule write fits */
#define WORKER_BUF_CACHE_BYTES (16u << 20) /* what a worker keeps for reuse at most */

/* The size class of a transfer: 16 KiB << class covers it; -1 beyond the largest. */
static int buf_class(uint32_t len)
{
	for (int c = 0; c < TGT_BUF_CLASSES; c++)
		if (len <= (uint32_t)CMD_BUF_MIN << c)
			return c;
	return -1;
}

/* Give the slot's buffer back: to the worker's cache while it holds less than its budget (only the
 * owning worker's thread releases commands, so the cache needs no lock), else to malloc. */
void tgt_cmd_buf_put(struct tgt_cmd *cmd)
{
	struct tgt_worker *w = cmd->queue->worker;
	int c = cmd->buf ? buf_class(cmd->buf_cap) : -1;

	cmd->queue->buf_held -= cmd->buf_cap;
	if (w)
		w->buf_held -= cmd->buf_cap;

	if (c >= 0 && cmd->buf_cap == (uint32_t)CMD_BUF_MIN << c && w &&
	    w->buf_cached_bytes + cmd->buf_cap <= WORKER_BUF_CACHE_BYTES) {
		*(void **)cmd->buf = w->buf_cache[c];
		w->buf_cache[c] = cmd->buf;
		w->buf_cached_bytes += cmd->buf_cap;
	} else {
		free(cmd->buf);
	}
	cmd->buf = NULL;
	cmd->buf_cap = 0;
}

int tgt_cmd_alloc_buf(struct tgt_cmd *cmd, uint32_t len)
{
	struct tgt_worker *w = cmd->queue->worker;
	int c = buf_class(len);
	uint32_t size = c >= 0 ? (uint32_t)CMD_BUF_MIN << c : len;
	void *p;

	if (len == 0 || len <= cmd->buf_cap)
		return 0;
	tgt_cmd_buf_put(cmd);
	if (c >= 0 && w && w->buf_cache[c]) {
		p = w->buf_cache[c];
		w->buf_cache[c] = *(void **)p;
		w->buf_cached_bytes -= size;
	} else if (posix_memalign(&p, TGT_BUF_ALIGN, size)) {
		return -ENOMEM;
	}
	cmd->buf = p;
	cmd->buf_cap = size;
	cmd->queue->buf_held += size;
	if (w)
		w->buf_held += size;
	return 0;
}

/* May this queue take `need` more bytes of command buffers? Always while it holds none, so every
 * connection can make progress one command at a time whatever others pin; else only within the
 * worker's budget. (The worst case is thus the budget plus one largest transfer per connection.) */
bool tgt_queue_buf_allowed(const struct tgt_queue *q, uint32_t need)
{
	const struct tgt_worker *w = q->worker;

	return !need || !q->buf_held || !w || !w->buf_budget || w->buf_held + need <= w->buf_budget;
}

/* The buffer a command must be given before it goes on: a write's data (when it comes by R2T) or
 * a reply's, unless it is already there or a Read is served from namespace memory. */
static uint32_t cmd_buf_need(const struct tgt_cmd *cmd)
{
	if (cmd->xfer == TGT_XFER_NONE || !cmd->data_len || cmd->buf_cap >= cmd->data_len)
		return 0;
	if (cmd->xfer == TGT_XFER_C2H && tgt_io_read_is_mapped(cmd))
		return 0;
	return cmd->data_len;
}

void tgt_queue_wait_bufs(struct tgt_queue *q)
{
	struct tgt_worker *w = q->worker;

	if (q->buf_waiting)
		return;
	q->buf_waiting = true;
	q->refs++; /* the waiters list's: the queue may close while it waits */
	q->buf_wait_next = NULL;
	atomic_fetch_add_explicit(&q->stats.buf_waits, 1, memory_order_relaxed);
	if (w->buf_waiters_tail)
		w->buf_waiters_tail->buf_wait_next = q;
	else
		w->buf_waiters = q;
	w->buf_waiters_tail = q;
}

static void buf_wait(struct tgt_cmd *cmd, void (*resume)(struct tgt_cmd *cmd))
{
	struct tgt_queue *q = cmd->queue;

	tgt_cmd_set_state(cmd, TGT_CMD_WAIT_BUF);
	cmd->resume = resume;
	cmd->wait_next = NULL;
	if (q->buf_wait_tail)
		q->buf_wait_tail->wait_next = cmd;
	else
		q->buf_wait_head = cmd;
	q->buf_wait_tail = cmd;
	tgt_queue_wait_bufs(q);
}

static void cmd_grant(struct tgt_cmd *cmd, uint32_t need, void (*next)(struct tgt_cmd *cmd))
{
	if (need && tgt_cmd_alloc_buf(cmd, need)) {
		tgt_cmd_complete(cmd, NVME_SC_INTERNAL);
		return;
	}
	next(cmd);
}

/* Go on with a command once it has the buffer it needs: now if the budget allows (and no older
 * command of the queue waits), else when buffers come back. */
void tgt_cmd_start(struct tgt_cmd *cmd, void (*next)(struct tgt_cmd *cmd))
{
	uint32_t need = cmd_buf_need(cmd);

	/* A fused pair's second half is never held back: its first may already hold a buffer while it
	 * waits for it, and firsts holding the whole budget would wait for ever. */
	if (need && cmd->fuse != NVME_CMD_FUSE_SECOND &&
	    (cmd->queue->buf_wait_head || !tgt_queue_buf_allowed(cmd->queue, need)))
		buf_wait(cmd, next);
	else
		cmd_grant(cmd, need, next);
}

void tgt_worker_resume_buf_waiters(struct tgt_worker *w)
{
	struct tgt_queue *q;

	while ((q = w->buf_waiters)) {
		struct tgt_cmd *cmd;
		uint32_t need;

		while (q->state != TGT_Q_CLOSING && (cmd = q->buf_wait_head) &&
		       tgt_queue_buf_allowed(q, cmd_buf_need(cmd))) {
			q->buf_wait_head = cmd->wait_next;
			if (!q->buf_wait_head)
				q->buf_wait_tail = NULL;
			cmd_grant(cmd, cmd_buf_need(cmd), cmd->resume);
		}
		if (q->state != TGT_Q_CLOSING && !q->buf_wait_head && q->ops->rx_waits_for_bufs(q, &need) &&
		    tgt_queue_buf_allowed(q, need))
			q->ops->resume_rx(q); /* may stop again */
		if (q->state != TGT_Q_CLOSING && (q->buf_wait_head || q->ops->rx_waits_for_bufs(q, &need)))
			return; /* first come, first served: the queues behind it wait too */
		w->buf_waiters = q->buf_wait_next;
		if (!w->buf_waiters)
			w->buf_waiters_tail = NULL;
		q->buf_waiting = false;
		tgt_queue_put(q);
	}
}

void tgt_worker_free_bufs(struct tgt_worker *w)
{
	for (int c = 0; c < TGT_BUF_CLASSES; c++) {
		while (w->buf_cache[c]) {
			void *p = w->buf_cache[c];

			w->buf_cache[c] = *(void **)p;
			free(p);
		}
	}
	w->buf_cached_bytes = 0;
}
