/* Worker threads: each owns an epoll set of queues, an io_uring for file backends, a mailbox
 * through which the listener hands over connections and control work posts events, and a lock-free
 * list through which librbd's threads hand back RBD completions. */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "target/cmd.h"
#include "target/worker.h"
#include "util/clock.h"
#include "util/log.h"

#define RING_ENTRIES 256
#define TICK_MS 100 /* keep-alive checks run at least this often */

enum tgt_msg_kind { TGT_MSG_CONN, TGT_MSG_AEN, TGT_MSG_NS_REFRESH, TGT_MSG_COPY_REPLIES };

struct tgt_msg {
	enum tgt_msg_kind kind;
	int fd;
	struct tgt_listener *listener;
	struct tgt_ctrl *ctrl;
	struct tgt_ns *ns; /* TGT_MSG_COPY_REPLIES: a reference */
	struct tgt_msg *next;
};

/* epoll cookies for the two non-queue descriptors; queues use their own pointer. */
static char mbox_cookie, ring_cookie, remote_cookie;

static void post(struct tgt_worker *w, struct tgt_msg *m)
{
	uint64_t one = 1;

	pthread_mutex_lock(&w->mbox_lock);
	m->next = w->mbox;
	w->mbox = m;
	pthread_mutex_unlock(&w->mbox_lock);
	if (write(w->evfd, &one, sizeof(one)) < 0)
		tr_err("worker %d: cannot ring its doorbell: %s", w->id, strerror(errno));
}

void tgt_worker_post_conn(struct tgt_worker *w, int fd, struct tgt_listener *l)
{
	struct tgt_msg *m = calloc(1, sizeof(*m));

	if (!m) {
		close(fd);
		if (l)
			atomic_fetch_sub(&w->target->nr_connections, 1);
		return;
	}
	m->kind = TGT_MSG_CONN;
	m->fd = fd;
	m->listener = l;
	post(w, m);
}

void tgt_worker_post_aen(struct tgt_worker *w, struct tgt_ctrl *ctrl)
{
	struct tgt_msg *m = calloc(1, sizeof(*m));

	if (!m) {
		tgt_ctrl_put(ctrl);
		return;
	}
	m->kind = TGT_MSG_AEN;
	m->ctrl = ctrl;
	post(w, m);
}

/* A message of 'kind' for worker w (with a reference to ns, if any); false when it could not be told
 * (out of memory). */
static bool post_kind(struct tgt_worker *w, enum tgt_msg_kind kind, struct tgt_ns *ns)
{
	struct tgt_msg *m = calloc(1, sizeof(*m));

	if (!m)
		return false;
	m->kind = kind;
	if (ns) {
		tgt_ns_get(ns);
		m->ns = ns;
	}
	post(w, m);
	return true;
}

/* Uses the process's target: called by the control socket, not from a worker. */
void tgt_workers_post_ns_refresh(void)
{
	/* A worker not told still refreshes its queues on their next namespace lookup. */
	for (int i = 0; i < tgt->nr_workers; i++)
		post_kind(&tgt->workers[i], TGT_MSG_NS_REFRESH, NULL);
}

void tgt_workers_post_copy_replies(struct tgt_target *t, struct tgt_ns *ns)
{
	for (int i = 0; t && i < t->nr_workers; i++)
		if (!post_kind(&t->workers[i], TGT_MSG_COPY_REPLIES, ns))
			tr_warn("nsid %u: out of memory to tell worker %d to copy its replies: a fused pair waits for "
				"them to be sent", ns->nsid, i);
}

static void drain_mbox(struct tgt_worker *w)
{
	struct tgt_msg *m, *rev = NULL;
	uint64_t v;

	if (read(w->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		tr_err("worker %d: mailbox read: %s", w->id, strerror(errno));
	pthread_mutex_lock(&w->mbox_lock);
	m = w->mbox;
	w->mbox = NULL;
	pthread_mutex_unlock(&w->mbox_lock);
	/* Posted newest-first; handle in arrival order. */
	while (m) {
		struct tgt_msg *next = m->next;

		m->next = rev;
		rev = m;
		m = next;
	}
	while ((m = rev)) {
		rev = m->next;
		if (m->kind == TGT_MSG_CONN) {
			if (atomic_load(&w->stopping)) {
				close(m->fd);
				if (m->listener)
					atomic_fetch_sub(&w->target->nr_connections, 1);
			} else
				tgt_tcp_queue_start(w, m->fd, m->listener);
		} else if (m->kind == TGT_MSG_AEN) {
			tgt_ctrl_deliver_aens(m->ctrl);
			tgt_ctrl_put(m->ctrl);
		} else if (m->kind == TGT_MSG_COPY_REPLIES) {
			for (struct tgt_queue *q = w->queues; q; q = q->next)
				if (q->ops->copy_replies)
					q->ops->copy_replies(q, m->ns);
			tgt_ns_put(m->ns);
		} else {
			for (struct tgt_queue *q = w->queues; q; q = q->next)
				tgt_queue_ns_refresh(q);
		}
		free(m);
	}
}

static struct io_uring *worker_ring(struct tgt_worker *w)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &ring_cookie };
	struct io_uring *ring;

	if (w->ring)
		return w->ring;
	/* Created on first use, so a RAM-only target never pays for it. */
	ring = calloc(1, sizeof(*ring));
	if (!ring)
		return NULL;
	if (io_uring_queue_init(RING_ENTRIES, ring, 0)) {
		free(ring);
		return NULL;
	}
	w->ring_evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->ring_evfd < 0 || io_uring_register_eventfd(ring, w->ring_evfd) ||
	    epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->ring_evfd, &ev)) {
		tr_err("worker %d: cannot set up io_uring completion events", w->id);
		if (w->ring_evfd >= 0)
			close(w->ring_evfd);
		io_uring_queue_exit(ring);
		free(ring);
		return NULL;
	}
	w->ring = ring;
	return ring;
}

struct io_uring_sqe *tgt_worker_get_sqe(struct tgt_worker *w, struct tgt_ring_op *op)
{
	struct io_uring *ring = worker_ring(w);
	struct io_uring_sqe *sqe;

	if (!ring)
		return NULL;
	sqe = io_uring_get_sqe(ring);
	if (!sqe) {
		/* Ring full: push what is queued to the kernel to make room. */
		io_uring_submit(ring);
		w->ring_pending = 0;
		sqe = io_uring_get_sqe(ring);
	}
	if (!sqe)
		return NULL;
	w->ring_pending++;
	w->ring_inflight++;
	io_uring_sqe_set_data(sqe, op);
	return sqe;
}

static void reap_ring(struct tgt_worker *w)
{
	struct io_uring_cqe *cqes[64];
	uint64_t v;
	unsigned n;

	if (read(w->ring_evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	while ((n = io_uring_peek_batch_cqe(w->ring, cqes, 64)) > 0) {
		for (unsigned i = 0; i < n; i++) {
			struct tgt_ring_op *op = io_uring_cqe_get_data(cqes[i]);
			int res = cqes[i]->res;

			io_uring_cqe_seen(w->ring, cqes[i]);
			w->ring_inflight--;
			op->done(op, w, res);
		}
	}
}

void tgt_worker_remote_begin(struct tgt_worker *w)
{
	w->remote_inflight++;
}

void tgt_worker_post_remote(struct tgt_remote_op *op)
{
	struct tgt_worker *w = op->worker;
	struct tgt_remote_op *head = atomic_load_explicit(&w->remote_head, memory_order_relaxed);
	uint64_t one = 1;

	do
		op->next = head;
	while (!atomic_compare_exchange_weak_explicit(&w->remote_head, &head, op, memory_order_release,
						      memory_order_relaxed));
	/* Only the push onto an empty list rings: the worker takes the whole list at once, after
	 * reading the doorbell, so a later push either lands in what it takes or rings again. */
	if (!head && write(w->remote_evfd, &one, sizeof(one)) < 0)
		tr_err("worker %d: cannot ring the completion doorbell: %s", w->id, strerror(errno));
}

static void reap_remote(struct tgt_worker *w)
{
	struct tgt_remote_op *op, *rev = NULL;
	uint64_t v;

	if (read(w->remote_evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		tr_err("worker %d: completion doorbell read: %s", w->id, strerror(errno));
	op = atomic_exchange_explicit(&w->remote_head, NULL, memory_order_acquire);
	while (op) { /* pushed newest-first: complete in arrival order */
		struct tgt_remote_op *next = op->next;

		op->next = rev;
		rev = op;
		op = next;
	}
	while ((op = rev)) {
		rev = op->next;
		w->remote_inflight--;
		op->done(op, w);
	}
}

/* At stop: wait (bounded by the backend's own timeouts) for what other threads still owe us. */
static void wait_remote(struct tgt_worker *w)
{
	struct pollfd pfd = { .fd = w->remote_evfd, .events = POLLIN };

	while (w->remote_inflight) {
		if (poll(&pfd, 1, 1000) < 0 && errno != EINTR)
			break;
		reap_remote(w);
	}
}

void tgt_worker_mark_flush(struct tgt_worker *w, struct tgt_queue *q)
{
	q->refs++; /* the flush list's: a queue may close before its turn comes */
	q->flush_pending = true;
	q->flush_next = w->flush_list;
	w->flush_list = q;
}

/* One batch of sends per queue per loop turn: many completions leave in one sendmsg. */
static void flush_all(struct tgt_worker *w)
{
	while (w->flush_list) {
		struct tgt_queue *q = w->flush_list;

		w->flush_list = q->flush_next;
		q->flush_pending = false;
		if (q->state != TGT_Q_CLOSING)
			q->ops->flush(q);
		tgt_queue_put(q);
	}
}

/* The worker's timers: keep-alive (and idle) expiry of the controllers whose admin queue it owns,
 * the handshake deadline of connections that have not finished Connect, and the authentication
 * deadline of those that have not authenticated. */
static void check_timers(struct tgt_worker *w)
{
	uint64_t now = tr_now_ms();
	struct tgt_queue *q, *next;

	for (q = w->queues; q; q = next) {
		next = q->next; /* a queue past its handshake deadline leaves the list */
		if (q->state != TGT_Q_LIVE) {
			tgt_queue_check_handshake(q, now);
			continue;
		}
		if (q->auth && tgt_auth_check_deadline(q, now))
			continue; /* closed: q may be gone */
		if (q->ctrl && tgt_queue_is_admin(q))
			tgt_ctrl_check_keep_alive(q->ctrl, now);
	}
}

/* How long the next epoll_wait may sleep. In poll mode a worker that had work within the last
 * poll_us looks again at once: the next command of a QD1 stream then finds it awake instead of paying
 * for a wake-up (20-25 us on a VM's idle vCPU), at the price of a spinning core while it lasts. */
static int wait_timeout(struct tgt_worker *w, uint64_t now_ns)
{
	uint32_t poll_us = atomic_load_explicit(&w->target->poll_us, memory_order_relaxed);

	return poll_us && now_ns - w->last_busy_ns < (uint64_t)poll_us * 1000 ? 0 : TICK_MS;
}

static void *worker_main(void *arg)
{
	struct tgt_worker *w = arg;
	struct epoll_event evs[64];
	uint64_t now = tr_now_ns(), last_tick = now;

	while (!atomic_load(&w->stopping)) {
		int n;

		if (w->ring && w->ring_pending) {
			io_uring_submit(w->ring);
			w->ring_pending = 0;
		}
		n = epoll_wait(w->epfd, evs, 64, wait_timeout(w, now));
		if (n < 0 && errno != EINTR) {
			tr_err("worker %d: epoll_wait: %s", w->id, strerror(errno));
			break;
		}
		now = tr_now_ns();
		if (n > 0)
			w->last_busy_ns = now;
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &mbox_cookie)
				drain_mbox(w);
			else if (p == &ring_cookie)
				reap_ring(w);
			else if (p == &remote_cookie)
				reap_remote(w);
			else
				((struct tgt_queue *)p)->ops->on_event(p, evs[i].events);
		}
		flush_all(w);
		if (w->buf_waiters)
			tgt_worker_resume_buf_waiters(w);
		if (now - last_tick >= TICK_MS * TR_NSEC_PER_MSEC) {
			last_tick = now;
			check_timers(w);
		}
	}
	return NULL;
}

int tgt_worker_start(struct tgt_worker *w, int id)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &mbox_cookie };
	struct epoll_event rev = { .events = EPOLLIN, .data.ptr = &remote_cookie };

	w->id = id;
	w->ring_evfd = -1;
	pthread_mutex_init(&w->mbox_lock, NULL);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->remote_evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->epfd < 0 || w->evfd < 0 || w->remote_evfd < 0 || epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev) ||
	    epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->remote_evfd, &rev))
		return -errno;
	return -pthread_create(&w->thread, NULL, worker_main, w);
}

/* Stop the loop, then close what is left: in-flight backend I/O is waited for. */
void tgt_worker_stop(struct tgt_worker *w)
{
	uint64_t one = 1;

	atomic_store(&w->stopping, true);
	if (write(w->evfd, &one, sizeof(one)) < 0)
		tr_debug("worker %d: doorbell: %s", w->id, strerror(errno));
	pthread_join(w->thread, NULL);
	while (w->queues)
		w->queues->ops->close(w->queues, "target shutting down");
	flush_all(w); /* only drops the flush list's references now */
	tgt_worker_resume_buf_waiters(w); /* likewise the waiters list's */
	if (w->ring) {
		/* Backend I/O still in flight completes into queues that wait for it. */
		while (io_uring_sq_ready(w->ring) || w->ring_pending) {
			io_uring_submit(w->ring);
			w->ring_pending = 0;
		}
		struct io_uring_cqe *cqe;
		while (io_uring_peek_cqe(w->ring, &cqe) == 0 || w->ring_inflight) {
			if (w->ring_pending) { /* a completion just queued more (a timer of a waiting command) */
				io_uring_submit(w->ring);
				w->ring_pending = 0;
			}
			if (io_uring_wait_cqe(w->ring, &cqe))
				break;
			struct tgt_ring_op *op = io_uring_cqe_get_data(cqe);
			int res = cqe->res;

			io_uring_cqe_seen(w->ring, cqe);
			w->ring_inflight--;
			op->done(op, w, res);
		}
		io_uring_queue_exit(w->ring);
		free(w->ring);
		close(w->ring_evfd);
	}
	wait_remote(w);
	drain_mbox(w);
	tgt_worker_free_bufs(w);
	close(w->evfd);
	close(w->remote_evfd);
	close(w->epfd);
	pthread_mutex_destroy(&w->mbox_lock);
}
