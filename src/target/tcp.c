/* The target side of one NVMe/TCP connection: ICReq/ICResp, the PDU receive state machine
 * (header, padding, data, digest), command slots, R2T flow and batched sends. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nvme/identify.h"
#include "target/cmd.h"
#include "util/log.h"

#define RXBUF_SIZE (64 * 1024)
#define RX_DIRECT_MIN 4096 /* receive data straight into the command buffer above this */
#define TX_IOV_PER_CMD 6
#define TX_BATCH_IOV 64
#define CMD_BUF_MIN 16384 /* the smallest buffer class: every in-capsule write fits */
#define WORKER_BUF_CACHE_BYTES (16u << 20) /* what a worker keeps for reuse at most */

struct tgt_tx_ent {
	struct iovec iov;
	struct tgt_cmd *release; /* slot to free once this entry is on the wire */
};

struct tgt_tx {
	uint32_t cap, head, count;
	struct tgt_tx_ent ent[];
};

static const uint8_t zero_pad[128];

static void queue_fatal(struct tgt_queue *q, uint16_t fes, uint32_t fei, const char *what);
static void cmd_release(struct tgt_cmd *cmd);

bool tgt_queue_is_admin(const struct tgt_queue *q)
{
	return q->qid == 0;
}

static struct tgt_tx *tx_alloc(uint32_t cap)
{
	struct tgt_tx *tx = calloc(1, sizeof(*tx) + cap * sizeof(struct tgt_tx_ent));

	if (tx)
		tx->cap = cap;
	return tx;
}

static int tx_push(struct tgt_queue *q, const void *base, size_t len, struct tgt_cmd *release)
{
	struct tgt_tx *tx = q->tx;
	struct tgt_tx_ent *e;

	if (tx->count == tx->cap)
		return -ENOBUFS;
	e = &tx->ent[(tx->head + tx->count) % tx->cap];
	e->iov.iov_base = (void *)base;
	e->iov.iov_len = len;
	e->release = release;
	tx->count++;
	if (!q->tx_dirty)
		tgt_worker_mark_flush(q->worker, q);
	return 0;
}

static void set_events(struct tgt_queue *q)
{
	struct epoll_event ev = { .events = (q->rx_parked ? 0 : EPOLLIN) | (q->want_pollout ? EPOLLOUT : 0),
				  .data.ptr = q };

	epoll_ctl(q->worker->epfd, EPOLL_CTL_MOD, q->fd, &ev);
}

static void set_pollout(struct tgt_queue *q, bool on)
{
	if (q->want_pollout == on)
		return;
	q->want_pollout = on;
	set_events(q);
}

/* Send as much of the queue's batch as the socket takes, in as few sendmsg calls as possible. */
void tgt_queue_flush(struct tgt_queue *q)
{
	struct tgt_tx *tx = q->tx;

	while (tx->count && q->state != TGT_Q_CLOSING) {
		struct iovec iov[TX_BATCH_IOV];
		struct msghdr msg = { .msg_iov = iov };
		uint32_t n = tx->count < TX_BATCH_IOV ? tx->count : TX_BATCH_IOV;
		ssize_t sent;

		for (uint32_t i = 0; i < n; i++)
			iov[i] = tx->ent[(tx->head + i) % tx->cap].iov;
		msg.msg_iovlen = n;
		sent = sendmsg(q->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (sent < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				set_pollout(q, true);
				return;
			}
			if (errno == EINTR)
				continue;
			tgt_queue_close(q, strerror(errno));
			return;
		}
		while (sent > 0 || (tx->count && tx->ent[tx->head].iov.iov_len == 0)) {
			struct tgt_tx_ent *e = &tx->ent[tx->head];

			if ((size_t)sent < e->iov.iov_len) {
				e->iov.iov_base = (uint8_t *)e->iov.iov_base + sent;
				e->iov.iov_len -= (size_t)sent;
				break;
			}
			sent -= (ssize_t)e->iov.iov_len;
			tx->head = (tx->head + 1) % tx->cap;
			tx->count--;
			if (e->release)
				cmd_release(e->release);
		}
	}
	if (q->state != TGT_Q_CLOSING)
		set_pollout(q, false);
}

/* ---- Command slots ---- */

static void cmds_init(struct tgt_queue *q, struct tgt_cmd *cmds, uint16_t n, uint16_t first_ttag)
{
	q->free_cmds = NULL;
	for (int i = n - 1; i >= 0; i--) {
		cmds[i].queue = q;
		cmds[i].ttag = first_ttag == TGT_BOOT_TTAG ? TGT_BOOT_TTAG : (uint16_t)i;
		cmds[i].next_free = q->free_cmds;
		q->free_cmds = &cmds[i];
	}
}

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
static void cmd_buf_put(struct tgt_cmd *cmd)
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
	cmd_buf_put(cmd);
	if (c >= 0 && w && w->buf_cache[c]) {
		p = w->buf_cache[c];
		w->buf_cache[c] = *(void **)p;
		w->buf_cached_bytes -= size;
	} else if (posix_memalign(&p, 4096, size)) { /* page alignment suits O_DIRECT on any block size */
		return -ENOMEM;
	}
	cmd->buf = p;
	cmd->buf_cap = size;
	cmd->queue->buf_held += size;
	if (w)
		w->buf_held += size;
	return 0;
}

uint64_t tgt_conn_worst_bytes(void)
{
	/* The queue, its receive buffer, a full-depth queue's slots and send ring, and the one largest
	 * transfer a connection may hold beyond the budget. */
	return sizeof(struct tgt_queue) + RXBUF_SIZE +
	       (uint64_t)TGT_MQES * (sizeof(struct tgt_cmd) + TX_IOV_PER_CMD * sizeof(struct tgt_tx_ent)) +
	       TGT_MAX_XFER;
}

void tgt_set_buffer_budget(uint64_t bytes)
{
	tgt->buf_budget = bytes;
	for (int i = 0; i < tgt->nr_workers; i++)
		tgt->workers[i].buf_budget = bytes / (uint64_t)tgt->nr_workers;
}

/* May this queue take `need` more bytes of command buffers? Always while it holds none, so every
 * connection can make progress one command at a time whatever others pin; else only within the
 * worker's budget. (The worst case is thus the budget plus one largest transfer per connection.) */
static bool buf_allowed(const struct tgt_queue *q, uint32_t need)
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

/* Put the queue on its worker's list of queues waiting for buffers (once). */
static void buf_waiters_add(struct tgt_queue *q)
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

	cmd->resume = resume;
	cmd->wait_next = NULL;
	if (q->buf_wait_tail)
		q->buf_wait_tail->wait_next = cmd;
	else
		q->buf_wait_head = cmd;
	q->buf_wait_tail = cmd;
	buf_waiters_add(q);
}

/* Go on with a command once it has the buffer it needs: now if the budget allows (and no older
 * command of the queue waits), else when buffers come back. */
static void cmd_grant(struct tgt_cmd *cmd, uint32_t need, void (*next)(struct tgt_cmd *cmd))
{
	if (need && tgt_cmd_alloc_buf(cmd, need)) {
		tgt_cmd_complete(cmd, NVME_SC_INTERNAL);
		return;
	}
	next(cmd);
}

static void cmd_start(struct tgt_cmd *cmd, void (*next)(struct tgt_cmd *cmd))
{
	uint32_t need = cmd_buf_need(cmd);

	if (need && (cmd->queue->buf_wait_head || !buf_allowed(cmd->queue, need)))
		buf_wait(cmd, next);
	else
		cmd_grant(cmd, need, next);
}

static void queue_rx_unpark(struct tgt_queue *q);
static void queue_rx(struct tgt_queue *q);

void tgt_worker_resume_buf_waiters(struct tgt_worker *w)
{
	struct tgt_queue *q;

	while ((q = w->buf_waiters)) {
		struct tgt_cmd *cmd;

		while (q->state != TGT_Q_CLOSING && (cmd = q->buf_wait_head) &&
		       buf_allowed(q, cmd_buf_need(cmd))) {
			q->buf_wait_head = cmd->wait_next;
			if (!q->buf_wait_head)
				q->buf_wait_tail = NULL;
			cmd_grant(cmd, cmd_buf_need(cmd), cmd->resume);
		}
		if (q->state != TGT_Q_CLOSING && !q->buf_wait_head && q->rx_parked &&
		    buf_allowed(q, q->rx_layout.data_len))
			queue_rx_unpark(q); /* may park again */
		if (q->state != TGT_Q_CLOSING && (q->buf_wait_head || q->rx_parked))
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

static void cmd_release(struct tgt_cmd *cmd)
{
	struct tgt_queue *q = cmd->queue;

	if (cmd->ns) {
		tgt_ns_put(cmd->ns);
		cmd->ns = NULL;
	}
	cmd_buf_put(cmd);
	cmd->in_use = false;
	cmd->executing = false;
	atomic_fetch_sub_explicit(&q->stats.inflight, 1, memory_order_relaxed);
	/* After Connect the boot slot retires; it must not join the real slots' free list. */
	if (cmd->ttag == TGT_BOOT_TTAG && q->cmds)
		return;
	cmd->next_free = q->free_cmds;
	q->free_cmds = cmd;
}

static void cmd_free_all(struct tgt_cmd *cmds, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++)
		free(cmds[i].buf);
	free(cmds);
}

void tgt_cmd_complete(struct tgt_cmd *cmd, uint16_t status)
{
	struct tgt_queue *q = cmd->queue;
	struct nvme_completion *cqe = &cmd->cqe;
	bool hdgst = q->tx_framing.hdgst;
	size_t hl;

	cmd->executing = false;
	if (q->state == TGT_Q_CLOSING) {
		cmd_release(cmd);
		tgt_queue_put(q);
		return;
	}
	/* Only a reply still needs its buffer once the command is done: write data, Connect data and
	 * DSM ranges go back now, so a host that does not read its socket pins none of them. */
	if (status || cmd->xfer != TGT_XFER_C2H || cmd->c2h_data != cmd->buf)
		cmd_buf_put(cmd);
	if (status)
		atomic_fetch_add_explicit(&q->stats.errors, 1, memory_order_relaxed);

	/* Data goes out only if the handler produced some (c2h_data); a command that returns none,
	 * like most Get Features, answers with the completion alone. */
	if (status == NVME_SC_SUCCESS && cmd->xfer == TGT_XFER_C2H && cmd->data_len && cmd->c2h_data) {
		uint8_t flags = NVME_TCP_F_DATA_LAST;
		const void *data = cmd->c2h_data;

		/* SUCCESS lets the host skip the CapsuleResp, allowed only without SQ head updates. */
		if (q->sqhd_disabled)
			flags |= NVME_TCP_F_DATA_SUCCESS;
		cmd->data_pdu.hdgst = 0;
		hl = nvmf_tcp_data_encode(&cmd->data_pdu.data, nvme_tcp_c2h_data, &q->tx_framing,
					  cmd->sqe.command_id, 0, 0, cmd->data_len, flags);
		size_t hdr_total = cmd->data_pdu.data.hdr.hlen + (hdgst ? NVME_TCP_DIGEST_LEN : 0);
		int err = tx_push(q, &cmd->data_pdu, hdr_total, NULL);
		if (!err && hl > hdr_total)
			err = tx_push(q, zero_pad, hl - hdr_total, NULL);
		if (!err && q->tx_framing.ddgst) {
			/* Never mapped namespace memory here (execute_rw): these bytes cannot change. */
			cmd->ddgst = nvmf_tcp_digest(data, cmd->data_len);
			err = tx_push(q, data, cmd->data_len, NULL);
			if (!err)
				err = tx_push(q, &cmd->ddgst, sizeof(cmd->ddgst),
					      q->sqhd_disabled ? cmd : NULL);
		} else if (!err) {
			err = tx_push(q, data, cmd->data_len, q->sqhd_disabled ? cmd : NULL);
		}
		if (err) {
			tgt_queue_close(q, "send queue overflow");
			return;
		}
		if (q->sqhd_disabled)
			return;
	}

	cqe->command_id = cmd->sqe.command_id;
	cqe->sq_id = q->qid;
	cqe->sq_head = q->sqhd_disabled ? 0 : q->sqhd;
	cqe->status = (uint16_t)(status << 1);
	hl = nvmf_tcp_rsp_encode(&cmd->rsp_pdu.rsp, hdgst, cqe);
	if (tx_push(q, &cmd->rsp_pdu, hl, cmd))
		tgt_queue_close(q, "send queue overflow");
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

static void ns_cache_drop(struct tgt_queue *q)
{
	for (uint32_t i = 1; i <= TGT_MAX_NSID; i++) {
		if (q->ns_cache[i]) {
			tgt_ns_put(q->ns_cache[i]);
			q->ns_cache[i] = NULL;
		}
	}
}

/* ---- Connection setup and teardown ---- */

static void addr_to_text(const struct sockaddr_storage *ss, char *host, size_t hlen, char *port,
			 size_t plen)
{
	const void *a = ss->ss_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
						  : (const void *)&((const struct sockaddr_in *)ss)->sin_addr;
	uint16_t p = ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
					       : ((const struct sockaddr_in *)ss)->sin_port;

	if (!inet_ntop(ss->ss_family, a, host, (socklen_t)hlen))
		snprintf(host, hlen, "?");
	snprintf(port, plen, "%u", ntohs(p));
}

void tgt_queue_start(struct tgt_worker *w, int fd, struct tgt_listener *l)
{
	struct tgt_queue *q = calloc(1, sizeof(*q));
	struct sockaddr_storage ss;
	socklen_t slen = sizeof(ss);
	char host[INET6_ADDRSTRLEN], port[8];
	struct epoll_event ev = { .events = EPOLLIN };
	int one = 1;

	if (!q)
		goto fail;
	q->fd = fd;
	q->worker = w;
	q->listener = l;
	q->refs = 1;
	q->started_ms = tgt_now_ms();
	q->state = TGT_Q_WAIT_ICREQ;
	q->rxbuf = malloc(RXBUF_SIZE);
	q->boot_cmd = calloc(1, sizeof(*q->boot_cmd));
	q->tx = tx_alloc(TX_IOV_PER_CMD + 8);
	if (!q->rxbuf || !q->boot_cmd || !q->tx)
		goto fail;
	cmds_init(q, q->boot_cmd, 1, TGT_BOOT_TTAG);
	q->size = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (getpeername(fd, (struct sockaddr *)&ss, &slen) == 0) {
		addr_to_text(&ss, host, sizeof(host), port, sizeof(port));
		snprintf(q->peer, sizeof(q->peer), ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
	}
	slen = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &slen) == 0) {
		addr_to_text(&ss, q->local_addr, sizeof(q->local_addr), q->local_port, sizeof(q->local_port));
		q->local_ipv6 = ss.ss_family == AF_INET6;
	}

	ev.data.ptr = q;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev))
		goto fail;
	q->next = w->queues;
	if (w->queues)
		w->queues->prev = q;
	w->queues = q;
	tr_debug("%s: connection accepted on port %s", q->peer, q->local_port);
	return;
fail:
	tr_err("cannot set up a queue for a new connection: out of memory");
	if (l)
		atomic_fetch_sub(&tgt->nr_connections, 1); /* counted at accept */
	if (q) {
		free(q->rxbuf);
		free(q->boot_cmd);
		free(q->tx);
		free(q);
	}
	close(fd);
}

void tgt_queue_put(struct tgt_queue *q)
{
	if (--q->refs > 0)
		return;
	ns_cache_drop(q);
	if (q->cmds)
		cmd_free_all(q->cmds, q->size);
	cmd_free_all(q->boot_cmd, 1);
	free(q->rxbuf);
	free(q->tx);
	free(q);
}

void tgt_queue_close(struct tgt_queue *q, const char *why)
{
	struct tgt_worker *w = q->worker;
	struct tgt_ctrl *ctrl = q->ctrl;
	uint16_t n = q->cmds ? q->size : 1;
	struct tgt_cmd *slots = q->cmds ? q->cmds : q->boot_cmd;

	if (q->state == TGT_Q_CLOSING)
		return;
	q->state = TGT_Q_CLOSING;
	epoll_ctl(w->epfd, EPOLL_CTL_DEL, q->fd, NULL);
	if (q->prev)
		q->prev->next = q->next;
	else
		w->queues = q->next;
	if (q->next)
		q->next->prev = q->prev;
	q->prev = q->next = NULL;

	if (ctrl) {
		if (tgt_queue_is_admin(q)) {
			tr_info("ctrl %u (%s): admin queue from %s closed (%s)", ctrl->cntlid, ctrl->subsys->nqn,
				q->peer, why);
		} else {
			tr_debug("ctrl %u: I/O queue %u from %s closed (%s)", ctrl->cntlid, q->qid, q->peer, why);
		}
		/* Detach before close(fd): other threads shut queues down through ctrl->queues[]. */
		pthread_mutex_lock(&ctrl->lock);
		if (ctrl->queues[q->qid] == q)
			ctrl->queues[q->qid] = NULL;
		if (tgt_queue_is_admin(q))
			ctrl->nr_aers = 0; /* the parked AERs are this queue's slots, freed below */
		pthread_mutex_unlock(&ctrl->lock);
		/* The admin queue carries the controller: without it, nothing of it may survive. */
		if (tgt_queue_is_admin(q))
			tgt_ctrl_fatal(ctrl, why);
	} else {
		tr_debug("%s: connection closed before Connect (%s)", q->peer, why);
	}
	close(q->fd);
	q->fd = -1;
	if (q->listener)
		atomic_fetch_sub(&tgt->nr_connections, 1); /* counted at accept */

	/* Free every slot not waiting on the backend; those free themselves on completion. */
	for (uint16_t i = 0; i < n; i++) {
		struct tgt_cmd *cmd = &slots[i];

		if (cmd->in_use && !cmd->executing)
			cmd_release(cmd);
		else if (cmd->in_use)
			q->refs++;
	}
	q->tx->count = 0;
	q->buf_wait_head = q->buf_wait_tail = NULL; /* those slots were freed above */
	if (ctrl) {
		q->ctrl = NULL;
		tgt_ctrl_put(ctrl);
	}
	tgt_queue_put(q);
}

void tgt_queue_check_handshake(struct tgt_queue *q, uint64_t now_ms)
{
	static struct tr_ratelimit rl = TR_RATELIMIT_INIT(5000, 10);
	uint32_t limit = tgt->handshake_timeout_ms;
	unsigned suppressed;

	if (!limit || q->state == TGT_Q_LIVE || q->state == TGT_Q_CLOSING || now_ms < q->started_ms + limit)
		return;
	/* A connection that never finishes ICReq and Connect holds a descriptor and memory for nothing:
	 * slow, stalled and silent peers all end here. */
	if (tr_ratelimit(&rl, &suppressed))
		tr_warn("%s: no %s within %u ms of connecting; closing%s", q->peer,
			q->state == TGT_Q_WAIT_ICREQ ? "ICReq" : "Connect", limit,
			suppressed ? " (and others like it: this line is rate-limited)" : "");
	tgt_queue_close(q, "handshake timeout");
}

/* A fatal transport error: tell the host why with a C2HTermReq, then close. */
static void queue_fatal(struct tgt_queue *q, uint16_t fes, uint32_t fei, const char *what)
{
	struct nvmf_tcp_fatal fatal = { .fes = fes, .fei = fei };
	uint8_t *term = q->term_pdu;
	uint32_t offending = q->rx_have < NVME_TCP_TERM_MAX_DATA ? q->rx_have : NVME_TCP_TERM_MAX_DATA;
	size_t hl;

	/* The FEI is a byte offset only for these two statuses (NVMe/TCP 3.6.2.9): name that field. */
	if (fes == NVME_TCP_FES_INVALID_PDU_HDR || fes == NVME_TCP_FES_UNSUPPORTED_PARAM) {
		uint8_t type = q->rx_have ? q->rx_hdr[0] : 0xff;
		const char *field = nvmf_tcp_field_name(type, fei);

		tr_warn("%s: %s: bad %s (byte %u of the %s PDU; %s); sending C2HTermReq and closing", q->peer,
			what, field ? field : "field", fei, nvmf_tcp_pdu_type_name(type), nvmf_tcp_fes_name(fes));
	} else {
		tr_warn("%s: %s (%s); sending C2HTermReq and closing", q->peer, what, nvmf_tcp_fes_name(fes));
	}
	memmove(term + sizeof(struct nvme_tcp_term_pdu), q->rx_hdr, offending);
	hl = nvmf_tcp_term_encode((struct nvme_tcp_term_pdu *)term, NVMF_TCP_SIDE_TARGET, &fatal, offending);
	/* Whatever was batched goes first; then the TermReq, best effort, before the close. */
	q->tx->count = 0;
	if (tx_push(q, term, hl + offending, NULL) == 0)
		tgt_queue_flush(q);
	shutdown(q->fd, SHUT_WR);
	tgt_queue_close(q, "fatal transport error");
}

/* ---- Receive path ---- */

static void rx_expect_header(struct tgt_queue *q)
{
	q->rx_state = TGT_RX_HDR;
	q->rx_have = 0;
	q->rx_cmd = NULL;
	q->rx_dst = NULL;
}

/* The header says data follows: receive it into dst (NULL = drain). */
static void rx_expect_data(struct tgt_queue *q, struct tgt_cmd *cmd, uint8_t *dst)
{
	q->rx_cmd = cmd;
	q->rx_dst = dst;
	q->rx_crc = NVMF_TCP_DIGEST_INIT;
	if (q->rx_layout.pad) {
		q->rx_state = TGT_RX_PAD;
		q->rx_left = q->rx_layout.pad;
	} else {
		q->rx_state = TGT_RX_DATA;
		q->rx_left = q->rx_layout.data_len;
	}
}

static void cmd_execute(struct tgt_cmd *cmd)
{
	cmd->executing = true;
	cmd->execute(cmd);
}

static void cmd_send_r2t(struct tgt_cmd *cmd)
{
	struct tgt_queue *q = cmd->queue;
	size_t hl;

	/* One R2T for the whole transfer: MDTS is below MAXH2CDATA, so the host can always comply. */
	cmd->r2t_open = true;
	q->nr_r2t_open++;
	cmd->r2t_end = cmd->data_len;
	cmd->data_pdu.hdgst = 0;
	hl = nvmf_tcp_r2t_encode(&cmd->data_pdu.r2t, q->tx_framing.hdgst, cmd->sqe.command_id, cmd->ttag,
				 0, cmd->data_len);
	if (tx_push(q, &cmd->data_pdu, hl, NULL))
		tgt_queue_close(q, "send queue overflow");
}

static uint16_t sgl_refuse(const struct tgt_cmd *cmd, uint16_t status, const char *why)
{
	tr_warn("%s: opcode %#x (cid %u): %s (SGL type %#x, %u bytes)", cmd->queue->peer, cmd->sqe.opcode,
		cmd->sqe.command_id, why, cmd->sqe.dptr.type, cmd->sqe.dptr.length);
	return status | NVME_SC_DNR;
}

/* Work out the data transfer from the command's SGL; 0 or an NVMe status. */
static uint16_t cmd_map_sgl(struct tgt_cmd *cmd, uint32_t incapsule_len)
{
	const struct nvme_sgl_desc *sgl = &cmd->sqe.dptr;
	uint32_t max_inline = tgt_queue_is_admin(cmd->queue) ? TGT_ADMIN_INLINE_DATA_SIZE
							    : TGT_INLINE_DATA_SIZE;

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
		if (incapsule_len)
			return sgl_refuse(cmd, NVME_SC_SGL_INVALID_DATA, "transport SGL with in-capsule data");
		cmd->data_len = sgl->length;
		/* Direction comes from the opcode: bit 0 = host to controller, bit 1 = controller to host. */
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
	default:
		return incapsule_len || sgl->length ? sgl_refuse(cmd, NVME_SC_SGL_INVALID_TYPE, "unsupported SGL type")
						    : 0;
	}
}

static uint16_t cmd_parse(struct tgt_cmd *cmd)
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
static bool cmd_parse_after_data(const struct tgt_cmd *cmd)
{
	return cmd->sqe.opcode == nvme_admin_fabrics && cmd->incapsule && cmd->data_len;
}

static void handle_icreq(struct tgt_queue *q)
{
	const struct nvme_tcp_icreq_pdu *icreq = (const void *)q->rx_hdr;
	struct nvme_tcp_icresp_pdu *icresp = &q->icresp;
	struct nvmf_tcp_fatal fatal;
	bool hdgst, ddgst;

	if (nvmf_tcp_icreq_validate(icreq, &fatal)) {
		queue_fatal(q, fatal.fes, fatal.fei, "bad ICReq");
		return;
	}
	hdgst = icreq->digest & NVME_TCP_HDR_DIGEST_ENABLE;
	ddgst = icreq->digest & NVME_TCP_DATA_DIGEST_ENABLE;
	q->maxr2t = icreq->maxr2t + 1;
	q->rx_framing = (struct nvmf_tcp_framing){ .hdgst = hdgst, .ddgst = ddgst, .pda = 0,
						   .max_data = TGT_MAXH2CDATA,
						   .max_incapsule = TGT_ADMIN_INLINE_DATA_SIZE };
	q->tx_framing = (struct nvmf_tcp_framing){ .hdgst = hdgst, .ddgst = ddgst, .pda = icreq->hpda,
						   .max_data = TGT_MAX_XFER };
	q->state = TGT_Q_CONNECTING;
	rx_expect_header(q);
	if (tx_push(q, icresp, nvmf_tcp_icresp_encode(icresp, hdgst, ddgst, TGT_MAXH2CDATA), NULL))
		tgt_queue_close(q, "send queue overflow");
	tr_debug("%s: ICReq ok (hdgst %d ddgst %d hpda %u maxr2t %u)", q->peer, hdgst, ddgst,
		 icreq->hpda, q->maxr2t);
}

static void handle_capsule(struct tgt_queue *q)
{
	const struct nvme_tcp_cmd_pdu *pdu = (const void *)q->rx_hdr;
	uint32_t incapsule_len = q->rx_layout.data_len;
	struct tgt_cmd *cmd = q->free_cmds;
	uint16_t status;

	if (!cmd) {
		queue_fatal(q, NVME_TCP_FES_PDU_SEQ_ERR, 0, "more commands than the queue size");
		return;
	}
	/* In-capsule data needs a buffer now. Past the budget, stop reading this socket until buffers
	 * come back (the header stays received) - unless data we asked for by R2T may be queued behind
	 * this capsule: then waiting could wait for ever, and the buffer is taken anyway. */
	if (incapsule_len && !q->nr_r2t_open && !buf_allowed(q, incapsule_len)) {
		q->rx_parked = true;
		set_events(q);
		buf_waiters_add(q);
		return;
	}
	q->free_cmds = cmd->next_free;
	cmd->in_use = true;
	cmd->executing = false;
	cmd->status = 0;
	cmd->sqe = pdu->cmd;
	memset(&cmd->cqe, 0, sizeof(cmd->cqe));
	cmd->c2h_data = NULL;
	cmd->h2c_done = 0;
	cmd->r2t_open = false;
	cmd->execute = NULL;
	atomic_fetch_add_explicit(&q->stats.inflight, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&q->stats.cmds, 1, memory_order_relaxed);
	if (q->size > 1)
		q->sqhd = (uint16_t)((q->sqhd + 1) % q->size);
	if (q->ctrl)
		tgt_ctrl_touch(q->ctrl);

	status = cmd_map_sgl(cmd, incapsule_len);
	/* In-capsule data is on its way: its buffer is taken now (the budget was checked above);
	 * R2T data and replies get theirs when the budget allows (cmd_start). */
	if (!status && incapsule_len && tgt_cmd_alloc_buf(cmd, cmd->data_len))
		status = NVME_SC_INTERNAL;
	/* Connect is parsed once its data is in; everything else is checked before data moves. */
	if (!status && !cmd_parse_after_data(cmd))
		status = cmd_parse(cmd);
	cmd->status = status;

	if (incapsule_len) {
		rx_expect_data(q, cmd, status ? NULL : cmd->buf);
		return;
	}
	rx_expect_header(q);
	if (status) {
		tgt_cmd_complete(cmd, status);
		return;
	}
	cmd_start(cmd, cmd->xfer == TGT_XFER_H2C ? cmd_send_r2t : cmd_execute);
}

static void handle_h2c_data(struct tgt_queue *q)
{
	const struct nvme_tcp_data_pdu *pdu = (const void *)q->rx_hdr;
	struct tgt_cmd *cmd = NULL;

	if (pdu->ttag == TGT_BOOT_TTAG && !q->cmds)
		cmd = q->boot_cmd;
	else if (q->cmds && pdu->ttag < q->size)
		cmd = &q->cmds[pdu->ttag];
	if (!cmd || !cmd->in_use || !cmd->r2t_open) {
		queue_fatal(q, NVME_TCP_FES_INVALID_PDU_HDR, offsetof(struct nvme_tcp_data_pdu, ttag),
			    "H2CData for an unknown or finished transfer");
		return;
	}
	if (pdu->command_id != cmd->sqe.command_id) {
		queue_fatal(q, NVME_TCP_FES_INVALID_PDU_HDR, offsetof(struct nvme_tcp_data_pdu, command_id),
			    "H2CData command id does not match its transfer tag");
		return;
	}
	if (pdu->data_length != q->rx_layout.data_len) {
		queue_fatal(q, NVME_TCP_FES_INVALID_PDU_HDR, offsetof(struct nvme_tcp_data_pdu, data_length),
			    "H2CData length disagrees with its PDU length");
		return;
	}
	if (pdu->data_offset != cmd->h2c_done) {
		queue_fatal(q, NVME_TCP_FES_DATA_OUT_OF_RANGE, offsetof(struct nvme_tcp_data_pdu, data_offset),
			    "H2CData offset outside the requested window");
		return;
	}
	if ((uint64_t)pdu->data_offset + pdu->data_length > cmd->r2t_end) {
		queue_fatal(q, NVME_TCP_FES_DATA_OUT_OF_RANGE, offsetof(struct nvme_tcp_data_pdu, data_length),
			    "H2CData beyond the requested window");
		return;
	}
	rx_expect_data(q, cmd, cmd->buf + pdu->data_offset);
}

static void handle_h2c_term(struct tgt_queue *q)
{
	const struct nvme_tcp_term_pdu *term = (const void *)q->rx_hdr;

	tr_warn("%s: host sent H2CTermReq: %s (fes %u, fei %u)", q->peer, nvmf_tcp_fes_name(term->fes),
		term->fes, term->feil | ((uint32_t)term->feiu << 16));
	tgt_queue_close(q, "H2CTermReq");
}

/* The whole header (and its digest) is in. */
static void handle_header(struct tgt_queue *q)
{
	if (q->rx_layout.hdr_total > q->rx_layout.hlen && !nvmf_tcp_hdgst_ok(q->rx_hdr, q->rx_layout.hlen)) {
		queue_fatal(q, NVME_TCP_FES_HDR_DIGEST_ERR, 0, "header digest mismatch");
		return;
	}
	switch (q->rx_layout.type) {
	case nvme_tcp_icreq:
		handle_icreq(q);
		break;
	case nvme_tcp_cmd:
		handle_capsule(q);
		break;
	case nvme_tcp_h2c_data:
		handle_h2c_data(q);
		break;
	case nvme_tcp_h2c_term:
		handle_h2c_term(q);
		break;
	}
}

/* All data of the current PDU (and its digest) is in. */
static void handle_data_done(struct tgt_queue *q, bool digest_ok)
{
	struct tgt_cmd *cmd = q->rx_cmd;
	uint8_t type = q->rx_layout.type;
	uint16_t status;

	rx_expect_header(q);
	if (!cmd)
		return;
	if (!digest_ok) {
		tr_warn("%s: data digest mismatch on command %u; failing it with a transient transport error",
			q->peer, cmd->sqe.command_id);
		if (!cmd->status)
			cmd->status = NVME_SC_TRANSIENT_TR_ERR;
	}
	if (type == nvme_tcp_h2c_data) {
		cmd->h2c_done += q->rx_layout.data_len;
		if (cmd->h2c_done < cmd->data_len)
			return;
		cmd->r2t_open = false;
		q->nr_r2t_open--;
	}
	status = cmd->status;
	if (!status && cmd_parse_after_data(cmd))
		status = cmd_parse(cmd);
	if (status) {
		tgt_cmd_complete(cmd, status);
		return;
	}
	cmd_execute(cmd);
}

/* Consume received bytes according to the state machine; returns how many were used. */
static uint32_t rx_consume(struct tgt_queue *q, const uint8_t *p, uint32_t avail)
{
	struct nvmf_tcp_fatal fatal;
	uint32_t take;

	switch (q->rx_state) {
	case TGT_RX_HDR: {
		uint32_t want = q->rx_have < sizeof(struct nvme_tcp_hdr) ? sizeof(struct nvme_tcp_hdr)
									 : q->rx_layout.hdr_total;
		take = want - q->rx_have < avail ? want - q->rx_have : avail;
		memcpy(q->rx_hdr + q->rx_have, p, take);
		q->rx_have += take;
		if (q->rx_have == sizeof(struct nvme_tcp_hdr) && want == sizeof(struct nvme_tcp_hdr)) {
			if (nvmf_tcp_pdu_decode((const struct nvme_tcp_hdr *)q->rx_hdr, NVMF_TCP_SIDE_TARGET,
						&q->rx_framing, q->state == TGT_Q_WAIT_ICREQ, &q->rx_layout,
						&fatal)) {
				/* A TermReq is never answered with one (NVMe/TCP 7.4.7): just close. */
				if (q->rx_hdr[0] == nvme_tcp_h2c_term) {
					tr_warn("%s: malformed H2CTermReq (plen %u); closing", q->peer,
						((struct nvme_tcp_hdr *)q->rx_hdr)->plen);
					tgt_queue_close(q, "malformed H2CTermReq");
					return take;
				}
				queue_fatal(q, fatal.fes, fatal.fei, "malformed PDU header");
				return take;
			}
			if (q->rx_layout.type == nvme_tcp_cmd)
				q->rx_framing.max_incapsule = tgt_queue_is_admin(q) || !q->ctrl
								      ? TGT_ADMIN_INLINE_DATA_SIZE
								      : TGT_INLINE_DATA_SIZE;
		}
		if (q->rx_have >= sizeof(struct nvme_tcp_hdr) && q->rx_have == q->rx_layout.hdr_total) {
			handle_header(q);
			/* A term PDU's trailing bytes are dropped with the connection. */
		}
		return take;
	}
	case TGT_RX_PAD:
		take = q->rx_left < avail ? q->rx_left : avail;
		q->rx_left -= take;
		if (q->rx_left == 0) {
			q->rx_state = TGT_RX_DATA;
			q->rx_left = q->rx_layout.data_len;
		}
		return take;
	case TGT_RX_DATA:
		take = q->rx_left < avail ? q->rx_left : avail;
		if (q->rx_dst) {
			if (p != q->rx_dst)
				memcpy(q->rx_dst, p, take);
			q->rx_dst += take;
		}
		if (q->rx_layout.ddgst_len)
			q->rx_crc = nvmf_tcp_digest_update(q->rx_crc, p, take);
		q->rx_left -= take;
		if (q->rx_left == 0) {
			if (q->rx_layout.ddgst_len) {
				q->rx_state = TGT_RX_DDGST;
				q->rx_left = NVME_TCP_DIGEST_LEN;
			} else {
				handle_data_done(q, true);
			}
		}
		return take;
	case TGT_RX_DDGST: {
		take = q->rx_left < avail ? q->rx_left : avail;
		memcpy(q->rx_ddgst + NVME_TCP_DIGEST_LEN - q->rx_left, p, take);
		q->rx_left -= take;
		if (q->rx_left == 0) {
			uint32_t got;

			memcpy(&got, q->rx_ddgst, sizeof(got));
			handle_data_done(q, got == nvmf_tcp_digest_final(q->rx_crc));
		}
		return take;
	}
	}
	return avail;
}

/* Why a socket ended: a controller teardown (keep-alive expiry, revocation) shuts its queues'
 * sockets down, and the log should say that rather than blame the peer. */
static const char *closed_why(struct tgt_queue *q, const char *dflt)
{
	static __thread char why[96];
	struct tgt_ctrl *ctrl = q->ctrl;

	if (!ctrl)
		return dflt;
	pthread_mutex_lock(&ctrl->lock);
	if (ctrl->dead)
		snprintf(why, sizeof(why), "controller torn down: %s", ctrl->dead_why);
	pthread_mutex_unlock(&ctrl->lock);
	return ctrl->dead ? why : dflt;
}

/* Consume received bytes from rxbuf[pos, len); keep what is left if the queue parks. */
static void rx_consume_buf(struct tgt_queue *q, uint32_t pos, uint32_t len)
{
	while (pos < len && q->state != TGT_Q_CLOSING && !q->rx_parked)
		pos += rx_consume(q, q->rxbuf + pos, len - pos);
	q->rxbuf_pos = q->rx_parked ? pos : 0;
	q->rxbuf_len = q->rx_parked ? len : 0;
}

/* Buffers came back: handle the capsule header we stopped at, the bytes received behind it, and
 * read the socket again. */
static void queue_rx_unpark(struct tgt_queue *q)
{
	q->rx_parked = false;
	handle_header(q);
	if (q->state == TGT_Q_CLOSING || q->rx_parked)
		return;
	rx_consume_buf(q, q->rxbuf_pos, q->rxbuf_len);
	if (q->state != TGT_Q_CLOSING && !q->rx_parked) {
		set_events(q);
		queue_rx(q); /* edge cases: data may have arrived while EPOLLIN was off */
	}
}

static void queue_rx(struct tgt_queue *q)
{
	/* Bounded rounds so one busy connection cannot starve the worker's others. */
	for (int round = 0; round < 16 && q->state != TGT_Q_CLOSING && !q->rx_parked; round++) {
		ssize_t n;

		if (q->rx_state == TGT_RX_DATA && q->rx_dst && q->rx_left >= RX_DIRECT_MIN) {
			n = recv(q->fd, q->rx_dst, q->rx_left, MSG_DONTWAIT);
			if (n > 0) {
				rx_consume(q, q->rx_dst, (uint32_t)n);
				continue;
			}
		} else {
			n = recv(q->fd, q->rxbuf, RXBUF_SIZE, MSG_DONTWAIT);
			if (n > 0) {
				rx_consume_buf(q, 0, (uint32_t)n);
				continue;
			}
		}
		if (n == 0) {
			tgt_queue_close(q, closed_why(q, "connection closed by peer"));
			return;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (errno == EINTR)
			continue;
		tgt_queue_close(q, closed_why(q, strerror(errno)));
		return;
	}
}

void tgt_queue_on_event(struct tgt_queue *q, uint32_t events)
{
	q->refs++; /* the queue may close inside; keep it alive until we return */
	if (events & EPOLLIN)
		queue_rx(q);
	if (q->state != TGT_Q_CLOSING && (events & EPOLLOUT))
		tgt_queue_flush(q);
	if (q->state != TGT_Q_CLOSING && (events & (EPOLLERR | EPOLLHUP)))
		tgt_queue_close(q, closed_why(q, "connection reset"));
	tgt_queue_put(q);
}

void tgt_queue_bind(struct tgt_queue *q, struct tgt_ctrl *ctrl, uint16_t qid, uint16_t size,
		    bool sqhd_disabled)
{
	struct tgt_tx *tx;

	/* The Connect command itself stays in the boot slot; the real slots start now. */
	q->cmds = calloc(size, sizeof(*q->cmds));
	tx = tx_alloc((uint32_t)size * TX_IOV_PER_CMD + 16);
	if (!q->cmds || !tx) {
		free(q->cmds);
		q->cmds = NULL;
		free(tx);
		return;
	}
	/* Carry over whatever is still batched (the ICResp may not be out yet). */
	for (uint32_t i = 0; i < q->tx->count; i++)
		tx->ent[i] = q->tx->ent[(q->tx->head + i) % q->tx->cap];
	tx->count = q->tx->count;
	free(q->tx);
	q->tx = tx;
	q->ctrl = ctrl;
	q->qid = qid;
	q->sqhd_disabled = sqhd_disabled;
	q->sqhd = 1; /* the Connect was entry 0 */
	cmds_init(q, q->cmds, size, 0);
	q->size = size;
	q->state = TGT_Q_LIVE;
	/* The boot slot holds the Connect until its response is sent; it is freed with the queue. */
}
