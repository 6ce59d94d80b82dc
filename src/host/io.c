/* I/O of the host process's FUSE view: each read, write, flush, deallocate or write-zeroes becomes a
 * block request (blkreq.c) sent through the path multipath routing chooses (mpath.c), failed over to
 * another path when its path breaks or answers with a path error, parked while no path can take it
 * or a queue is full, and answered to FUSE when done. */
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

/* FUSE keeps at most max_background (1024, fuse.c) asynchronous requests in flight, and a few
 * synchronous ones beside: as many finished ones are kept for reuse. */
#define MAX_SPARE_REQS 1024

static void req_free(struct io_req *r)
{
	struct hostd *h = r->h;

	blkreq_release(&r->b);
	if (h->nr_spare >= MAX_SPARE_REQS) {
		free(r);
		return;
	}
	r->next = h->spare;
	h->spare = r;
	h->nr_spare++;
}

static struct io_req *req_alloc(struct hostd *h)
{
	struct io_req *r = h->spare;

	if (!r)
		return calloc(1, sizeof(*r));
	h->spare = r->next;
	h->nr_spare--;
	*r = (struct io_req){ 0 };
	return r;
}

/* What the buffer pool may hold: two 4 KiB buffers per entry of every path's I/O queues (as many
 * finished ones waiting for reuse as there are in flight), and never less than 8 MiB, room for a few
 * 1 MiB ones; bounded, so a burst of large requests leaves no more than that behind. */
static size_t bufs_max(const struct hostd *h)
{
	size_t n = 0;

	for (int i = 0; i < MAX_PATHS; i++) {
		const struct hpath *p = &h->paths[i];

		if (p->used && p->ctrl && !p->job_running)
			n += (size_t)tr_ctrl_nr_io_queues(p->ctrl) * (size_t)p->o.conn.queue_size;
	}
	return n * 8192 > (8u << 20) ? n * 8192 : (8u << 20);
}

static void req_reply(struct io_req *r)
{
	const struct blkreq *b = &r->b;

	if (b->nvme_err)
		tr_warn("%s: %s of %zu bytes at %llu on namespace %u failed: %s", r->h->name, req_kind_name(r), b->size,
			(unsigned long long)b->off, b->nsid, tr_status_str(b->nvme_err));
	if (r->done) /* another front end than FUSE (ublk.c) */
		r->done(r->done_ctx, b->nvme_err ? -EIO : 0, b->buf ? b->buf + (b->off - b->aoff) : NULL, b->size);
	else if (b->nvme_err)
		fuse_reply_err(r->req, EIO);
	else if (b->kind == BLKREQ_READ) {
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
	if (r->done)
		r->done(r->done_ctx, -err, NULL, 0);
	else
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

static struct tr_ratelimit failover_rl = TR_RATELIMIT_INIT(5000, 5);

/* A path error (an ANA status, Host Path Error) is not the command's answer: the namespace is not
 * used on that path until its ANA log is read again, and the request goes again on another path,
 * not counted as a retry (the kernel's nvme_failover_req). */
static void chunk_done(void *arg, int status)
{
	struct io_req *r = arg;
	struct hostd *h = r->h;

	if (status)
		h->paths[r->path].m.errors++;
	if (mpath_is_path_error(status)) {
		struct hpath *p = &h->paths[r->path];
		struct ns_dev *ns = hostd_ns_by_nsid(h, r->b.nsid);
		unsigned suppressed;

		if (p->used) {
			if (ns)
				ns->on[r->path].ana_pending = true;
			p->ana_stale = true;
			p->ana_retry_ns = 0;
			mpath_paths_changed(h);
			if (tr_ratelimit(&failover_rl, &suppressed))
				tr_info("%s: %s on namespace %u answered %s (%#x): failing over", h->name, p->name,
					r->b.nsid, tr_status_str(status), status);
			p->m.failovers++;
		}
		status = BLKREQ_STATUS_FAILOVER;
	}
	req_next(r, blkreq_complete(&r->b, status));
}

/* Commands go on one I/O queue, IOQ_RUN of them in a row, before the next queue's turn: the commands
 * of one poll round then leave in one sendmsg on one socket (one TCP segment, one wake-up of the
 * target) instead of one on each queue, while a long run of I/O still spreads over all of them. */
#define IOQ_RUN 32

static int send_on(struct tr_ioq *q, const struct blkreq_cmd *c, struct io_req *r)
{
	switch (c->op) {
	case BLKREQ_READ: return tr_ioq_read(q, c->nsid, c->slba, c->nlb, c->buf, c->len, chunk_done, r);
	case BLKREQ_WRITE: return tr_ioq_write(q, c->nsid, c->slba, c->nlb, c->buf, c->len, false, chunk_done, r);
	case BLKREQ_FLUSH: return tr_ioq_flush(q, c->nsid, chunk_done, r);
	case BLKREQ_DEALLOCATE: return tr_ioq_deallocate(q, c->nsid, c->slba, c->nlb, chunk_done, r);
	default: return tr_ioq_write_zeroes(q, c->nsid, c->slba, c->nlb, chunk_done, r);
	}
}

/* Send one command on the request's path, on the queue whose run it is; a full queue ends its run. */
static int send_cmd(void *ctx, const struct blkreq_cmd *c)
{
	struct io_req *r = ctx;
	struct hpath *p = &r->h->paths[r->path];
	unsigned nq = (unsigned)tr_ctrl_nr_io_queues(p->ctrl);
	int err = -EAGAIN;

	if (c->len > tr_ctrl_max_xfer(p->ctrl))
		return -EAGAIN; /* smaller than the path the request was cut for: wait for another */
	for (unsigned tries = 0; tries < nq && err == -EAGAIN; tries++) {
		err = send_on(tr_ctrl_ioq(p->ctrl, (int)(p->rr / IOQ_RUN % nq)), c, r);
		if (err == -EAGAIN)
			p->rr = (p->rr / IOQ_RUN + 1) * IOQ_RUN;
	}
	if (!err) {
		p->rr++;
		p->cmds++;
		p->m.cmds[c->op]++;
		p->m.bytes[c->op] += c->len;
	}
	return err;
}

/* Through the path routing chooses; with none usable the request waits while a path may come back,
 * and fails when none can. */
static void req_submit(struct io_req *r)
{
	struct hostd *h = r->h;
	struct ns_dev *ns = hostd_ns_by_nsid(h, r->b.nsid);
	struct hpath *p;

	if (!ns) {
		req_fail(r, ENODEV); /* the namespace went away while the request waited */
		return;
	}
	p = mpath_select(h, ns);
	if (!p) {
		if (mpath_can_hold(h))
			req_park(r);
		else
			req_fail(r, EIO);
		return;
	}
	r->path = p->idx;
	req_next(r, blkreq_submit(&r->b, r->max_xfer, send_cmd, r));
}

/* New I/O goes out on a usable path, waits while none is usable but one may come back, fails when
 * none can. While the process is being deleted I/O still goes out as long as a path lasts: the
 * teardown itself unmounts a filesystem from our loop device and flushes it, and those writes must
 * reach the target. Returns -ENOMEM when the request could not be set up (the caller replies). The
 * answer goes to FUSE's 'req', or with 'done' set (another front end, ublk.c) to 'done'. */
static int io_start(struct hostd *h, fuse_req_t req, hostd_io_done_fn done, void *done_ctx, enum blkreq_kind kind,
		    const struct ns_dev *ns, uint64_t off, size_t size, const void *wdata)
{
	struct io_req *r = req_alloc(h);

	if (!h->bufs.max_bytes)
		h->bufs.max_bytes = bufs_max(h);
	if (!r || blkreq_init(&r->b, kind, ns->nsid, off, size, ns->lba_shift, wdata, &h->bufs)) {
		free(r);
		return -ENOMEM;
	}
	r->h = h;
	r->req = req;
	r->done = done;
	r->done_ctx = done_ctx;
	r->max_xfer = h->max_xfer;
	req_submit(r);
	return 0;
}

int hostd_io_start(struct hostd *h, fuse_req_t req, enum blkreq_kind kind, const struct ns_dev *ns, uint64_t off,
		   size_t size, const void *wdata)
{
	return io_start(h, req, NULL, NULL, kind, ns, off, size, wdata);
}

int hostd_io_start_cb(struct hostd *h, enum blkreq_kind kind, const struct ns_dev *ns, uint64_t off, size_t size,
		      const void *wdata, hostd_io_done_fn done, void *ctx)
{
	return io_start(h, NULL, done, ctx, kind, ns, off, size, wdata);
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

int path_io_inflight(struct hpath *p)
{
	int n = 0;

	if (!p->used || !p->ctrl || p->job_running)
		return 0;
	for (int i = 0; i < tr_ctrl_nr_io_queues(p->ctrl); i++)
		n += tr_ioq_inflight(tr_ctrl_ioq(p->ctrl, i));
	return n;
}

int hostd_io_inflight(struct hostd *h)
{
	int n = 0;

	for (int i = 0; i < MAX_PATHS; i++)
		n += path_io_inflight(&h->paths[i]);
	return n;
}
