/* I/O of the host process's FUSE view: each read, write, flush, deallocate or write-zeroes becomes a
 * block request (blkreq.c) sent through the controller's I/O queues, parked while the path is down
 * or a queue is full, sent again after a reconnect, and answered to FUSE when done. */
#include <errno.h>
#include <stdlib.h>

#include "host/hostd.h"
#include "util/log.h"

static void req_submit(struct io_req *r);

/* What a failed request was, for its log line. */
static const char *req_kind_name(const struct io_req *r)
{
	return r->b.kind == BLKREQ_READ ? "read" : r->b.kind == BLKREQ_WRITE ? "write" : "command";
}

static void req_free(struct io_req *r)
{
	blkreq_release(&r->b);
	free(r);
}

static void req_reply(struct io_req *r)
{
	const struct blkreq *b = &r->b;

	if (b->nvme_err) {
		tr_warn("%s: %s of %zu bytes at %llu on namespace %u failed: %s", r->h->name,
			req_kind_name(r), b->size,
			(unsigned long long)b->off, b->nsid, tr_status_str(b->nvme_err));
		fuse_reply_err(r->req, EIO);
	} else if (b->kind == BLKREQ_READ) {
		fuse_reply_buf(r->req, (const char *)b->buf + (b->off - b->aoff), b->size);
	} else if (b->kind == BLKREQ_WRITE) {
		fuse_reply_write(r->req, b->size);
	} else {
		fuse_reply_err(r->req, 0);
	}
	req_free(r);
}

static void req_fail(struct io_req *r, int err)
{
	fuse_reply_err(r->req, err);
	req_free(r);
}

static void req_park(struct io_req *r)
{
	r->next = r->h->waiting;
	r->h->waiting = r;
}

/* Act on what the block request says comes next. */
static void req_next(struct io_req *r, enum blkreq_next next)
{
	switch (next) {
	case BLKREQ_PENDING:
		break;
	case BLKREQ_WAIT:
		req_park(r);
		break;
	case BLKREQ_RESUBMIT:
		req_submit(r);
		break;
	case BLKREQ_REPLY:
		req_reply(r);
		break;
	case BLKREQ_FAILED:
		tr_warn("%s: %s of %zu bytes at %llu on namespace %u failed: the path broke under it %d times",
			r->h->name, req_kind_name(r), r->b.size, (unsigned long long)r->b.off, r->b.nsid, r->b.retries);
		req_fail(r, EIO);
		break;
	}
}

static void chunk_done(void *arg, int status)
{
	struct io_req *r = arg;

	req_next(r, blkreq_complete(&r->b, status));
}

/* Send one command on the next I/O queue in turn. */
static int send_cmd(void *ctx, const struct blkreq_cmd *c)
{
	struct io_req *r = ctx;
	struct hostd *h = r->h;
	struct tr_ioq *q = tr_ctrl_ioq(h->ctrl, h->rr++ % tr_ctrl_nr_io_queues(h->ctrl));

	switch (c->op) {
	case BLKREQ_READ:
		return tr_ioq_read(q, c->nsid, c->slba, c->nlb, c->buf, c->len, chunk_done, r);
	case BLKREQ_WRITE:
		return tr_ioq_write(q, c->nsid, c->slba, c->nlb, c->buf, c->len, false, chunk_done, r);
	case BLKREQ_FLUSH:
		return tr_ioq_flush(q, c->nsid, chunk_done, r);
	case BLKREQ_DEALLOCATE:
		return tr_ioq_deallocate(q, c->nsid, c->slba, c->nlb, chunk_done, r);
	default:
		return tr_ioq_write_zeroes(q, c->nsid, c->slba, c->nlb, chunk_done, r);
	}
}

static void req_submit(struct io_req *r)
{
	if (!hostd_ns_by_nsid(r->h, r->b.nsid)) {
		req_fail(r, ENODEV); /* the namespace went away while the request waited */
		return;
	}
	req_next(r, blkreq_submit(&r->b, tr_ctrl_max_xfer(r->h->ctrl), send_cmd, r));
}

/* New I/O while the path is down waits (unless fast_io_fail has passed). While deleting, I/O still
 * goes out as long as the path lasts: the teardown itself unmounts a filesystem from our loop device
 * and flushes it, and those writes must reach the target (the kernel host too keeps I/O going while
 * a controller is being deleted). With the path gone a deletion never reconnects, so it fails.
 * Returns -ENOMEM when the request could not be set up (the caller replies). */
int hostd_io_start(struct hostd *h, fuse_req_t req, enum blkreq_kind kind, const struct ns_dev *ns, uint64_t off,
		   size_t size, const void *wdata)
{
	struct io_req *r = calloc(1, sizeof(*r));

	if (!r || blkreq_init(&r->b, kind, ns->nsid, off, size, ns->lba_shift, wdata)) {
		free(r);
		return -ENOMEM;
	}
	r->h = h;
	r->req = req;
	if (h->state == HS_FAILING_FAST || (h->state == HS_DELETING && !hostd_path_up(h))) {
		req_fail(r, EIO);
		return 0;
	}
	if (h->state == HS_CONNECTING) {
		req_park(r);
		return 0;
	}
	req_submit(r);
	return 0;
}

void hostd_io_fail_waiting(struct hostd *h, int err)
{
	struct io_req *r = h->waiting;

	h->waiting = NULL;
	while (r) {
		struct io_req *next = r->next;

		req_fail(r, err);
		r = next;
	}
}

/* Submit every waiting request again (the list is LIFO; requests in flight have no order). */
void hostd_io_resubmit_waiting(struct hostd *h)
{
	struct io_req *r = h->waiting;

	h->waiting = NULL;
	while (r) {
		struct io_req *next = r->next;

		r->next = NULL;
		req_submit(r);
		r = next;
	}
}

int hostd_io_inflight(struct hostd *h)
{
	int n = 0;

	for (int i = 0; h->ctrl && i < tr_ctrl_nr_io_queues(h->ctrl); i++)
		n += tr_ioq_inflight(tr_ctrl_ioq(h->ctrl, i));
	return n;
}
