/* The NVMe/TCP transport of the target: one queue per connection on the shared engine
 * (transport/tcp_conn.c). ICReq/ICResp, what each PDU the host sends means for the queue's command
 * slots, R2T flow, replies as C2HData and CapsuleResp PDUs, batched sends. Commands themselves are
 * the core's (core.c), reached through cmd.h; the core reaches back through tcp_queue_ops. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nvme/tcp_pdu.h"
#include "target/cmd.h"
#include "target/lba_lock_fast.h"
#include "transport/tcp_conn.h"
#include "transport/tls.h"
#include "util/clock.h"
#include "util/log.h"

#define RXBUF_SIZE (64 * 1024)
#define TX_IOV_PER_CMD 6
#define RX_ROUNDS 16 /* reads per wake-up, so one busy connection cannot starve the worker's others */
#define BOOT_TTAG 0xfffe /* the transfer tag of the one slot a queue has before Connect */

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* A PDU header we send, with room for its header digest right after the 24 bytes. */
struct tcp_pdu_slot {
	union {
		struct nvme_tcp_data_pdu data;
		struct nvme_tcp_r2t_pdu r2t;
		struct nvme_tcp_rsp_pdu rsp;
	};
	uint32_t hdgst;
} __attribute__((packed));

/* A command slot: the core's command and what TCP needs to move its data. */
struct tcp_cmd {
	struct tgt_cmd cmd;
	struct tcp_pdu_slot data_pdu; /* C2HData or R2T */
	struct tcp_pdu_slot rsp_pdu;
	uint32_t ddgst;
	uint16_t ttag; /* slot index, or BOOT_TTAG */
	uint32_t h2c_done; /* bytes of host data received */
	uint32_t r2t_end; /* end of the window the R2T opened */
	struct tcp_cmd *next_free;
};

struct tcp_queue {
	struct tgt_queue q; /* the core's view */
	int fd;
	struct ntcp_conn conn; /* framing we accept, receive state, send ring */
	struct nvmf_tcp_framing tx_framing; /* what we send */
	uint32_t maxr2t;
	uint32_t nr_r2t_open; /* writes whose data we asked for: never park while data may follow */
	struct tcp_cmd *rx_cmd; /* the command whose data is arriving */
	bool want_pollout;
	/* TLS: on a port that offers it, the first byte decides; then the handshake runs before any
	 * PDU is read, and the engine reads and writes through the session. */
	enum { TLS_OFF, TLS_DETECT, TLS_HANDSHAKE } tls_phase;
	struct ntls *tls;
	/* Command slots: one before Connect, `size` after it. */
	struct tcp_cmd *boot_cmd;
	struct tcp_cmd *cmds;
	struct tcp_cmd *free_cmds;
	struct nvme_tcp_icresp_pdu icresp;
};

static const uint8_t zero_pad[128];
static const struct ntcp_conn_ops tcp_conn_ops;
static const struct tgt_transport_ops tcp_queue_ops;

static struct tcp_queue *tcp_queue(struct tgt_queue *q)
{
	return container_of(q, struct tcp_queue, q);
}

static struct tcp_cmd *tcp_cmd(struct tgt_cmd *cmd)
{
	return container_of(cmd, struct tcp_cmd, cmd);
}

static void tcp_close(struct tgt_queue *q, const char *why);

/* ---- Sending ---- */

static int tcp_push(struct tcp_queue *tq, const void *base, size_t len, struct tcp_cmd *release)
{
	int err = ntcp_tx_push(&tq->conn, base, len, release);

	if (!err && !tq->q.flush_pending)
		tgt_worker_mark_flush(tq->q.worker, &tq->q);
	return err;
}

static void set_events(struct tcp_queue *tq)
{
	struct epoll_event ev = { .events = (ntcp_rx_parked(&tq->conn) ? 0 : EPOLLIN) |
					    (tq->want_pollout ? EPOLLOUT : 0),
				  .data.ptr = &tq->q };

	epoll_ctl(tq->q.worker->epfd, EPOLL_CTL_MOD, tq->fd, &ev);
}

static void set_pollout(struct tcp_queue *tq, bool on)
{
	if (tq->want_pollout == on)
		return;
	tq->want_pollout = on;
	set_events(tq);
}

/* Send as much of the queue's batch as the socket takes, in as few sendmsg calls as possible. */
static void tcp_flush(struct tgt_queue *q)
{
	struct tcp_queue *tq = tcp_queue(q);
	int err;

	if (q->state == TGT_Q_CLOSING)
		return;
	err = ntcp_tx_flush(&tq->conn);
	if (err == -EAGAIN) {
		set_pollout(tq, true);
		return;
	}
	if (err) {
		tcp_close(q, strerror(-err));
		return;
	}
	set_pollout(tq, false);
}

/* Queue a reply's C2HData PDU; with SQ head pointer updates off the PDU's SUCCESS flag stands in
 * for the CapsuleResp, and the slot is released once the data is out. */
static int queue_c2h_data(struct tcp_queue *tq, struct tcp_cmd *tc)
{
	const struct tgt_cmd *cmd = &tc->cmd;
	uint8_t flags = NVME_TCP_F_DATA_LAST;
	const void *data = cmd->c2h_data;
	struct tcp_cmd *release = tq->q.sqhd_disabled ? tc : NULL;
	size_t hl, hdr_total;
	int err;

	if (tq->q.sqhd_disabled)
		flags |= NVME_TCP_F_DATA_SUCCESS;
	tc->data_pdu.hdgst = 0;
	hl = nvmf_tcp_data_encode(&tc->data_pdu.data, nvme_tcp_c2h_data, &tq->tx_framing, cmd->sqe.command_id, 0, 0,
				  cmd->data_len, flags);
	hdr_total = tc->data_pdu.data.hdr.hlen + (tq->tx_framing.hdgst ? NVME_TCP_DIGEST_LEN : 0);
	err = tcp_push(tq, &tc->data_pdu, hdr_total, NULL);
	if (!err && hl > hdr_total)
		err = tcp_push(tq, zero_pad, hl - hdr_total, NULL);
	if (err)
		return err;
	if (!tq->tx_framing.ddgst)
		return tcp_push(tq, data, cmd->data_len, release);
	/* Never namespace memory here (c2h_must_copy): these bytes cannot change before they are sent. */
	tc->ddgst = nvmf_tcp_digest(data, cmd->data_len);
	err = tcp_push(tq, data, cmd->data_len, NULL);
	return err ? err : tcp_push(tq, &tc->ddgst, sizeof(tc->ddgst), release);
}

/* The core's completion: C2HData if the command produced data, then the CapsuleResp. */
static void tcp_queue_response(struct tgt_cmd *cmd)
{
	struct tcp_queue *tq = tcp_queue(cmd->queue);
	struct tcp_cmd *tc = tcp_cmd(cmd);
	size_t hl;

	if (cmd->c2h_data) {
		if (queue_c2h_data(tq, tc)) {
			tcp_close(&tq->q, "send queue overflow");
			return;
		}
		if (tq->q.sqhd_disabled)
			return;
	}
	hl = nvmf_tcp_rsp_encode(&tc->rsp_pdu.rsp, tq->tx_framing.hdgst, &cmd->cqe);
	if (tcp_push(tq, &tc->rsp_pdu, hl, tc))
		tcp_close(&tq->q, "send queue overflow");
}

/* ---- Command slots ---- */

static void slots_init(struct tcp_queue *tq, struct tcp_cmd *cmds, uint16_t n, bool boot)
{
	tq->free_cmds = NULL;
	for (int i = n - 1; i >= 0; i--) {
		cmds[i].cmd.queue = &tq->q;
		cmds[i].ttag = boot ? BOOT_TTAG : (uint16_t)i;
		cmds[i].next_free = tq->free_cmds;
		tq->free_cmds = &cmds[i];
	}
}

static void tcp_free_slot(struct tgt_cmd *cmd)
{
	struct tcp_queue *tq = tcp_queue(cmd->queue);
	struct tcp_cmd *tc = tcp_cmd(cmd);

	/* After Connect the boot slot retires; it must not join the real slots' free list. */
	if (tc->ttag == BOOT_TTAG && tq->cmds)
		return;
	tc->next_free = tq->free_cmds;
	tq->free_cmds = tc;
}

static void slots_free(struct tcp_cmd *cmds, uint16_t n)
{
	for (uint16_t i = 0; cmds && i < n; i++)
		free(cmds[i].cmd.buf);
	free(cmds);
}

static int tcp_alloc_slots(struct tgt_queue *q, uint16_t qid, uint16_t size)
{
	struct tcp_queue *tq = tcp_queue(q);

	/* The send ring grows, carrying over whatever is still queued (the ICResp may not be out). */
	tq->cmds = calloc(size, sizeof(*tq->cmds));
	if (!tq->cmds || ntcp_tx_resize(&tq->conn, (uint32_t)size * TX_IOV_PER_CMD + 16)) {
		free(tq->cmds);
		tq->cmds = NULL;
		return -ENOMEM;
	}
	slots_init(tq, tq->cmds, size, false);
	tq->conn.rx_framing.max_incapsule = qid ? TGT_INLINE_DATA_SIZE : TGT_ADMIN_INLINE_DATA_SIZE;
	/* The boot slot holds the Connect until its response is sent; it is freed with the queue. */
	return 0;
}

/* ---- Connection setup and teardown ---- */

static void addr_to_text(const struct sockaddr_storage *ss, char *host, size_t hlen, char *port, size_t plen)
{
	const void *a = ss->ss_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
						  : (const void *)&((const struct sockaddr_in *)ss)->sin_addr;
	uint16_t p = ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
					       : ((const struct sockaddr_in *)ss)->sin_port;

	if (!inet_ntop(ss->ss_family, a, host, (socklen_t)hlen))
		snprintf(host, hlen, "?");
	snprintf(port, plen, "%u", ntohs(p));
}

static void name_addresses(struct tcp_queue *tq)
{
	struct tgt_queue *q = &tq->q;
	struct sockaddr_storage ss;
	socklen_t slen = sizeof(ss);
	char host[INET6_ADDRSTRLEN], port[8];

	if (getpeername(tq->fd, (struct sockaddr *)&ss, &slen) == 0) {
		addr_to_text(&ss, host, sizeof(host), port, sizeof(port));
		snprintf(q->peer, sizeof(q->peer), ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
	}
	slen = sizeof(ss);
	if (getsockname(tq->fd, (struct sockaddr *)&ss, &slen) == 0) {
		addr_to_text(&ss, q->local_addr, sizeof(q->local_addr), q->local_port, sizeof(q->local_port));
		q->local_ipv6 = ss.ss_family == AF_INET6;
	}
}

void tgt_tcp_queue_start(struct tgt_worker *w, int fd, struct tgt_listener *l)
{
	struct tcp_queue *tq = calloc(1, sizeof(*tq));
	struct epoll_event ev = { .events = EPOLLIN };
	int one = 1;

	if (!tq)
		goto fail;
	tq->fd = fd;
	tq->q.ops = &tcp_queue_ops;
	tq->q.target = w->target;
	tq->q.worker = w;
	tq->q.listener = l;
	tq->q.refs = 1;
	tq->q.started_ms = tr_now_ms();
	tq->q.state = TGT_Q_WAIT_ICREQ;
	tq->q.size = 1;
	tq->tls_phase = l && l->tls != TGT_TLS_NONE ? TLS_DETECT : TLS_OFF;
	tq->boot_cmd = calloc(1, sizeof(*tq->boot_cmd));
	if (!tq->boot_cmd ||
	    ntcp_conn_init(&tq->conn, fd, NVMF_TCP_SIDE_TARGET, &tcp_conn_ops, tq, RXBUF_SIZE, TX_IOV_PER_CMD + 8))
		goto fail;
	slots_init(tq, tq->boot_cmd, 1, true);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	name_addresses(tq);
	ev.data.ptr = &tq->q;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev))
		goto fail;
	tq->q.next = w->queues;
	if (w->queues)
		w->queues->prev = &tq->q;
	w->queues = &tq->q;
	tr_debug("%s: connection accepted on port %s", tq->q.peer, tq->q.local_port);
	return;
fail:
	tr_err("cannot set up a queue for a new connection: out of memory");
	if (l)
		atomic_fetch_sub(&w->target->nr_connections, 1); /* counted at accept */
	if (tq) {
		ntcp_conn_destroy(&tq->conn);
		free(tq->boot_cmd);
		free(tq);
	}
	close(fd);
}

static void tcp_destroy(struct tgt_queue *q)
{
	struct tcp_queue *tq = tcp_queue(q);

	slots_free(tq->cmds, q->size);
	slots_free(tq->boot_cmd, 1);
	ntls_free(tq->tls);
	ntcp_conn_destroy(&tq->conn);
	free(tq);
}

static void tcp_shutdown(struct tgt_queue *q)
{
	shutdown(tcp_queue(q)->fd, SHUT_RDWR);
}

static void unlink_from_worker(struct tcp_queue *tq)
{
	struct tgt_queue *q = &tq->q;
	struct tgt_worker *w = q->worker;

	epoll_ctl(w->epfd, EPOLL_CTL_DEL, tq->fd, NULL);
	if (q->prev)
		q->prev->next = q->next;
	else
		w->queues = q->next;
	if (q->next)
		q->next->prev = q->prev;
	q->prev = q->next = NULL;
}

/* Take the queue off its controller; the admin queue carries the controller, so it goes too. */
static void detach_ctrl(struct tgt_queue *q, const char *why)
{
	struct tgt_ctrl *ctrl = q->ctrl;

	if (tgt_queue_is_admin(q))
		tr_info("ctrl %u (%s): admin queue from %s closed (%s)", ctrl->cntlid, ctrl->subsys->nqn, q->peer, why);
	else
		tr_debug("ctrl %u: I/O queue %u from %s closed (%s)", ctrl->cntlid, q->qid, q->peer, why);
	/* Detach before close(fd): other threads shut queues down through ctrl->queues[]. */
	pthread_mutex_lock(&ctrl->lock);
	if (ctrl->queues[q->qid] == q)
		ctrl->queues[q->qid] = NULL;
	if (tgt_queue_is_admin(q))
		ctrl->nr_aers = 0; /* the parked AERs are this queue's slots, freed with them */
	pthread_mutex_unlock(&ctrl->lock);
	if (tgt_queue_is_admin(q))
		tgt_ctrl_fatal(ctrl, why);
}

static void tcp_close(struct tgt_queue *q, const char *why)
{
	struct tcp_queue *tq = tcp_queue(q);
	struct tgt_ctrl *ctrl = q->ctrl;
	uint16_t n = tq->cmds ? q->size : 1;
	struct tcp_cmd *slots = tq->cmds ? tq->cmds : tq->boot_cmd;

	if (q->state == TGT_Q_CLOSING)
		return;
	tgt_queue_set_state(q, TGT_Q_CLOSING);
	unlink_from_worker(tq);
	if (ctrl)
		detach_ctrl(q, why);
	else
		tr_debug("%s: connection closed before Connect (%s)", q->peer, why);
	close(tq->fd);
	tq->fd = -1;
	if (q->listener)
		atomic_fetch_sub(&q->target->nr_connections, 1); /* counted at accept */

	/* Free every slot not with a handler or the backend; those free themselves on completion. */
	for (uint16_t i = 0; i < n; i++) {
		struct tgt_cmd *cmd = &slots[i].cmd;

		if (cmd->state == TGT_CMD_EXECUTING)
			q->refs++;
		else if (cmd->state != TGT_CMD_FREE)
			tgt_cmd_retire(cmd);
	}
	ntcp_tx_drop(&tq->conn);
	q->buf_wait_head = q->buf_wait_tail = NULL; /* those slots were freed above */
	if (ctrl) {
		q->ctrl = NULL;
		tgt_ctrl_put(ctrl);
	}
	tgt_queue_put(q);
}

/* A fatal transport error: tell the host why with a C2HTermReq, then close. */
static enum ntcp_verdict tcp_fatal(struct tcp_queue *tq, uint16_t fes, uint32_t fei, const char *what)
{
	uint32_t have;
	const uint8_t *hdr = ntcp_rx_header(&tq->conn, &have);

	/* The FEI is a byte offset only for these two statuses (NVMe/TCP 3.6.2.9): name that field. */
	if (fes == NVME_TCP_FES_INVALID_PDU_HDR || fes == NVME_TCP_FES_UNSUPPORTED_PARAM) {
		uint8_t type = have ? hdr[0] : 0xff;
		const char *field = nvmf_tcp_field_name(type, fei);

		tr_warn("%s: %s: bad %s (byte %u of the %s PDU; %s); sending C2HTermReq and closing", tq->q.peer,
			what, field ? field : "field", fei, nvmf_tcp_pdu_type_name(type), nvmf_tcp_fes_name(fes));
	} else {
		tr_warn("%s: %s (%s); sending C2HTermReq and closing", tq->q.peer, what, nvmf_tcp_fes_name(fes));
	}
	ntcp_send_term(&tq->conn, fes, fei);
	tcp_close(&tq->q, "fatal transport error");
	return NTCP_STOP;
}

/* ---- What the host's PDUs mean ---- */

/* The core's way to get a write's data: one R2T for the whole transfer (MDTS is below MAXH2CDATA,
 * so the host can always comply). */
static void tcp_fetch_data(struct tgt_cmd *cmd)
{
	struct tcp_queue *tq = tcp_queue(cmd->queue);
	struct tcp_cmd *tc = tcp_cmd(cmd);
	size_t hl;

	tgt_cmd_set_state(cmd, TGT_CMD_WAIT_H2C);
	tq->nr_r2t_open++;
	tc->h2c_done = 0;
	tc->r2t_end = cmd->data_len;
	tc->data_pdu.hdgst = 0;
	hl = nvmf_tcp_r2t_encode(&tc->data_pdu.r2t, tq->tx_framing.hdgst, cmd->sqe.command_id, tc->ttag, 0,
				 cmd->data_len);
	if (tcp_push(tq, &tc->data_pdu, hl, NULL))
		tcp_close(&tq->q, "send queue overflow");
}

static enum ntcp_verdict handle_icreq(struct tcp_queue *tq, const struct nvme_tcp_icreq_pdu *icreq)
{
	struct nvme_tcp_icresp_pdu *icresp = &tq->icresp;
	struct nvmf_tcp_fatal fatal;
	bool hdgst, ddgst;

	if (nvmf_tcp_icreq_validate(icreq, &fatal))
		return tcp_fatal(tq, fatal.fes, fatal.fei, "bad ICReq");
	hdgst = icreq->digest & NVME_TCP_HDR_DIGEST_ENABLE;
	ddgst = icreq->digest & NVME_TCP_DATA_DIGEST_ENABLE;
	tq->maxr2t = icreq->maxr2t + 1;
	tq->conn.rx_framing = (struct nvmf_tcp_framing){ .hdgst = hdgst, .ddgst = ddgst, .pda = 0,
							 .max_data = TGT_MAXH2CDATA,
							 .max_incapsule = TGT_ADMIN_INLINE_DATA_SIZE };
	tq->conn.before_ic = false;
	tq->tx_framing = (struct nvmf_tcp_framing){ .hdgst = hdgst, .ddgst = ddgst, .pda = icreq->hpda,
						    .max_data = TGT_MAX_XFER };
	tq->q.hdgst = hdgst;
	tq->q.ddgst = ddgst;
	tq->q.c2h_must_copy = ddgst; /* the digest is computed when the reply is queued, sent later */
	tgt_queue_set_state(&tq->q, TGT_Q_CONNECTING);
	if (tcp_push(tq, icresp, nvmf_tcp_icresp_encode(icresp, hdgst, ddgst, TGT_MAXH2CDATA), NULL)) {
		tcp_close(&tq->q, "send queue overflow");
		return NTCP_STOP;
	}
	tr_debug("%s: ICReq ok (hdgst %d ddgst %d hpda %u maxr2t %u)", tq->q.peer, hdgst, ddgst, icreq->hpda,
		 tq->maxr2t);
	return NTCP_GO;
}

static enum ntcp_verdict handle_capsule(struct tcp_queue *tq, const struct nvme_tcp_cmd_pdu *pdu,
					uint32_t incapsule_len)
{
	struct tcp_cmd *tc = tq->free_cmds;
	uint16_t status;

	if (!tc)
		return tcp_fatal(tq, NVME_TCP_FES_PDU_SEQ_ERR, 0, "more commands than the queue size");
	/* In-capsule data needs a buffer now. Past the budget, stop reading this socket until buffers
	 * come back (the header stays received) - unless data we asked for by R2T may be queued behind
	 * this capsule: then waiting could wait for ever, and the buffer is taken anyway. */
	if (incapsule_len && !tq->nr_r2t_open && !tgt_queue_buf_allowed(&tq->q, incapsule_len)) {
		tgt_queue_wait_bufs(&tq->q);
		return NTCP_PARK;
	}
	tq->free_cmds = tc->next_free;
	tgt_cmd_begin(&tc->cmd, &pdu->cmd);
	status = tgt_cmd_prepare(&tc->cmd, incapsule_len);
	if (incapsule_len) {
		tgt_cmd_set_state(&tc->cmd, TGT_CMD_RECV_DATA);
		tq->rx_cmd = tc;
		ntcp_rx_data_to(&tq->conn, status ? NULL : tc->cmd.buf);
		return NTCP_GO;
	}
	if (status)
		tgt_cmd_complete(&tc->cmd, status);
	else
		tgt_cmd_proceed(&tc->cmd);
	return tq->q.state == TGT_Q_CLOSING ? NTCP_STOP : NTCP_GO;
}

static enum ntcp_verdict handle_h2c_data(struct tcp_queue *tq, const struct nvme_tcp_data_pdu *pdu, uint32_t len)
{
	struct tcp_cmd *tc = NULL;

	if (pdu->ttag == BOOT_TTAG && !tq->cmds)
		tc = tq->boot_cmd;
	else if (tq->cmds && pdu->ttag < tq->q.size)
		tc = &tq->cmds[pdu->ttag];
	if (!tc || tc->cmd.state != TGT_CMD_WAIT_H2C)
		return tcp_fatal(tq, NVME_TCP_FES_INVALID_PDU_HDR, offsetof(struct nvme_tcp_data_pdu, ttag),
				 "H2CData for an unknown or finished transfer");
	if (pdu->command_id != tc->cmd.sqe.command_id)
		return tcp_fatal(tq, NVME_TCP_FES_INVALID_PDU_HDR, offsetof(struct nvme_tcp_data_pdu, command_id),
				 "H2CData command id does not match its transfer tag");
	if (pdu->data_length != len)
		return tcp_fatal(tq, NVME_TCP_FES_INVALID_PDU_HDR, offsetof(struct nvme_tcp_data_pdu, data_length),
				 "H2CData length disagrees with its PDU length");
	if (pdu->data_offset != tc->h2c_done)
		return tcp_fatal(tq, NVME_TCP_FES_DATA_OUT_OF_RANGE, offsetof(struct nvme_tcp_data_pdu, data_offset),
				 "H2CData offset outside the requested window");
	if ((uint64_t)pdu->data_offset + pdu->data_length > tc->r2t_end)
		return tcp_fatal(tq, NVME_TCP_FES_DATA_OUT_OF_RANGE, offsetof(struct nvme_tcp_data_pdu, data_length),
				 "H2CData beyond the requested window");
	tq->rx_cmd = tc;
	ntcp_rx_data_to(&tq->conn, tc->cmd.buf + pdu->data_offset);
	return NTCP_GO;
}

static enum ntcp_verdict handle_h2c_term(struct tcp_queue *tq, const struct nvme_tcp_term_pdu *term)
{
	tr_warn("%s: host sent H2CTermReq: %s (fes %u, fei %u)", tq->q.peer, nvmf_tcp_fes_name(term->fes), term->fes,
		term->feil | ((uint32_t)term->feiu << 16));
	tcp_close(&tq->q, "H2CTermReq");
	return NTCP_STOP;
}

/* The engine has a whole header, its digest checked. */
static enum ntcp_verdict tcp_rx_header(struct ntcp_conn *c, const void *hdr, const struct nvmf_tcp_pdu_layout *l)
{
	struct tcp_queue *tq = c->owner;

	tq->rx_cmd = NULL;
	switch (l->type) {
	case nvme_tcp_icreq: return handle_icreq(tq, hdr);
	case nvme_tcp_cmd: return handle_capsule(tq, hdr, l->data_len);
	case nvme_tcp_h2c_data: return handle_h2c_data(tq, hdr, l->data_len);
	case nvme_tcp_h2c_term: return handle_h2c_term(tq, hdr);
	}
	return NTCP_GO;
}

/* All data of the current PDU (and its digest) is in. */
static enum ntcp_verdict tcp_rx_data_done(struct ntcp_conn *c, bool digest_ok)
{
	struct tcp_queue *tq = c->owner;
	struct tcp_cmd *tc = tq->rx_cmd;

	tq->rx_cmd = NULL;
	if (!tc)
		return NTCP_GO;
	if (!digest_ok) {
		tgt_metrics_inc(&tq->q.target->metrics.ddgst_errors);
		tr_warn("%s: data digest mismatch on command %u; failing it with a transient transport error", tq->q.peer,
			tc->cmd.sqe.command_id);
		if (!tc->cmd.status)
			tc->cmd.status = NVME_SC_TRANSIENT_TR_ERR;
	}
	if (ntcp_rx_layout(c)->type == nvme_tcp_h2c_data) {
		tc->h2c_done += ntcp_rx_layout(c)->data_len;
		if (tc->h2c_done < tc->cmd.data_len)
			return NTCP_GO;
		tq->nr_r2t_open--;
	}
	tgt_cmd_data_ready(&tc->cmd);
	return tq->q.state == TGT_Q_CLOSING ? NTCP_STOP : NTCP_GO;
}

static void tcp_rx_bad_header(struct ntcp_conn *c, const struct nvmf_tcp_fatal *fatal)
{
	struct tcp_queue *tq = c->owner;
	uint32_t have;
	const uint8_t *hdr = ntcp_rx_header(c, &have);

	/* A TermReq is never answered with one (NVMe/TCP 7.4.7): just close. */
	if (hdr[0] == nvme_tcp_h2c_term && fatal->fes != NVME_TCP_FES_HDR_DIGEST_ERR) {
		tr_warn("%s: malformed H2CTermReq (plen %u); closing", tq->q.peer,
			((const struct nvme_tcp_hdr *)hdr)->plen);
		tcp_close(&tq->q, "malformed H2CTermReq");
		return;
	}
	if (fatal->fes == NVME_TCP_FES_HDR_DIGEST_ERR)
		tgt_metrics_inc(&tq->q.target->metrics.hdgst_errors);
	tcp_fatal(tq, fatal->fes, fatal->fei,
		  fatal->fes == NVME_TCP_FES_HDR_DIGEST_ERR ? "header digest mismatch" : "malformed PDU header");
}

static void tcp_tx_release(struct ntcp_conn *c, void *cookie)
{
	(void)c;
	tgt_cmd_retire(&((struct tcp_cmd *)cookie)->cmd);
}

static const struct ntcp_conn_ops tcp_conn_ops = {
	.rx_header = tcp_rx_header,
	.rx_data_done = tcp_rx_data_done,
	.rx_bad_header = tcp_rx_bad_header,
	.tx_release = tcp_tx_release,
};

/* ---- Reading the socket ---- */

/* Why a socket ended: a controller teardown (keep-alive expiry, revocation) shuts its queues'
 * sockets down, and the log should say that rather than blame the peer. */
static const char *closed_why(struct tgt_queue *q, const char *dflt)
{
	static __thread char why[96];
	struct tgt_ctrl *ctrl = q->ctrl;
	bool dead;

	if (!ctrl)
		return dflt;
	pthread_mutex_lock(&ctrl->lock);
	dead = ctrl->dead;
	if (dead)
		snprintf(why, sizeof(why), "controller torn down: %s", ctrl->dead_why);
	pthread_mutex_unlock(&ctrl->lock);
	return dead ? why : dflt;
}

static void tcp_rx(struct tcp_queue *tq)
{
	switch (ntcp_rx_pump(&tq->conn, RX_ROUNDS)) {
	case NTCP_RX_IDLE:
	case NTCP_RX_BUSY:
		return;
	case NTCP_RX_HELD:
		if (ntcp_rx_parked(&tq->conn) && tq->q.state != TGT_Q_CLOSING)
			set_events(tq); /* stop reading until buffers come back */
		return;
	case NTCP_RX_EOF:
		tcp_close(&tq->q, closed_why(&tq->q, "connection closed by peer"));
		return;
	case NTCP_RX_ERROR:
		tcp_close(&tq->q, closed_why(&tq->q, strerror(tq->conn.rx_errno)));
		return;
	}
}

static bool tcp_rx_waits_for_bufs(const struct tgt_queue *q, uint32_t *need)
{
	const struct tcp_queue *tq = container_of(q, const struct tcp_queue, q);

	*need = ntcp_rx_layout(&tq->conn)->data_len;
	return ntcp_rx_parked(&tq->conn);
}

/* Buffers came back: handle the capsule header we stopped at, the bytes received behind it, and
 * read the socket again. */
static void tcp_resume_rx(struct tgt_queue *q)
{
	struct tcp_queue *tq = tcp_queue(q);

	if (ntcp_rx_unpark(&tq->conn) != NTCP_GO || q->state == TGT_Q_CLOSING)
		return;
	set_events(tq);
	tcp_rx(tq); /* data may have arrived while EPOLLIN was off */
}

/* Before any PDU on a port that offers TLS: look at the first byte, then run the handshake. */
static void tcp_tls_step(struct tcp_queue *tq)
{
	int err;

	if (tq->tls_phase == TLS_DETECT) {
		uint8_t b;
		ssize_t n = recv(tq->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

		if (n <= 0) {
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			tcp_close(&tq->q, n == 0 ? "connection closed by peer" : strerror(errno));
			return;
		}
		err = tgt_tls_first_byte(&tq->q, b);
		if (err < 0) { /* plain NVMe/TCP where TLS is required: its ICReq is not read */
			ntcp_send_term(&tq->conn, NVME_TCP_FES_INVALID_PDU_HDR, 0);
			tcp_close(&tq->q, "plain NVMe/TCP on a port that requires TLS");
			return;
		}
		tq->tls_phase = err ? TLS_HANDSHAKE : TLS_OFF;
		if (!err) {
			tcp_rx(tq);
			return;
		}
		tq->tls = tgt_tls_session_new(&tq->q, tq->fd);
		if (!tq->tls) {
			tcp_close(&tq->q, "out of memory for a TLS session");
			return;
		}
	}
	err = ntls_handshake(tq->tls);
	if (err == -EAGAIN) {
		set_pollout(tq, ntls_wants_write(tq->tls));
		return;
	}
	if (err || tgt_tls_established(&tq->q, tq->tls)) {
		tgt_tls_failed(&tq->q, tq->tls);
		tcp_close(&tq->q, "TLS handshake failed");
		return;
	}
	tq->conn.tls = tq->tls;
	tq->tls_phase = TLS_OFF;
	set_pollout(tq, false);
	tcp_rx(tq); /* the ICReq may already be in */
}

static void tcp_on_event(struct tgt_queue *q, uint32_t events)
{
	q->refs++; /* the queue may close inside; keep it alive until we return */
	if (tcp_queue(q)->tls_phase != TLS_OFF) {
		tcp_tls_step(tcp_queue(q));
	} else {
		if (events & EPOLLIN)
			tcp_rx(tcp_queue(q));
		if (q->state != TGT_Q_CLOSING && (events & EPOLLOUT))
			tcp_flush(q);
	}
	if (q->state != TGT_Q_CLOSING && (events & (EPOLLERR | EPOLLHUP)))
		tcp_close(q, closed_why(q, "connection reset"));
	tgt_queue_put(q);
}

uint64_t tgt_conn_worst_bytes(void)
{
	/* The queue, its receive buffer, a full-depth queue's slots and send ring, and the one largest
	 * transfer a connection may hold beyond the budget. */
	return sizeof(struct tcp_queue) + RXBUF_SIZE +
	       (uint64_t)TGT_MQES * (sizeof(struct tcp_cmd) + TX_IOV_PER_CMD * (sizeof(struct iovec) + sizeof(void *))) +
	       TGT_MAX_XFER;
}

/* A RAM namespace's first fused pair is coming: the replies this queue still sends from the namespace's
 * memory are copied into their commands' buffers, sent from there, and let go of their blocks, so the
 * pair neither waits for a host that does not read its socket nor changes what such a reply carries. */
static void tcp_copy_replies(struct tgt_queue *q, struct tgt_ns *ns)
{
	struct tcp_queue *tq = tcp_queue(q);

	for (uint16_t i = 0; tq->cmds && i < q->size; i++) {
		struct tgt_cmd *cmd = &tq->cmds[i].cmd;
		const void *from = cmd->c2h_data;

		if (cmd->state != TGT_CMD_SENDING || cmd->ns != ns || cmd->lba_hold != TGT_LBA_FAST || !from ||
		    from == cmd->buf)
			continue;
		if (tgt_cmd_alloc_buf(cmd, cmd->data_len)) {
			tr_warn("%s: out of memory to copy a reply of nsid %u: a fused pair waits until it is sent",
				q->peer, ns->nsid);
			continue;
		}
		memcpy(cmd->buf, from, cmd->data_len);
		/* Its own piece, found by the slot's release cookie: on the data itself without SQ flow
		 * control, else on the CapsuleResp just after it. Other replies may send the very same
		 * namespace bytes, each from its own entry, released with its own slot. */
		if (!ntcp_tx_rebase(&tq->conn, tcp_cmd(cmd), q->sqhd_disabled ? 0 : 1, from, cmd->data_len, cmd->buf))
			tr_debug("%s: a reply of nsid %u has left already", q->peer, ns->nsid);
		cmd->c2h_data = cmd->buf;
		tgt_lba_leave(cmd);
	}
}

static const struct tgt_transport_ops tcp_queue_ops = {
	.name = "tcp",
	.queue_response = tcp_queue_response,
	.fetch_data = tcp_fetch_data,
	.free_slot = tcp_free_slot,
	.alloc_slots = tcp_alloc_slots,
	.close = tcp_close,
	.shutdown = tcp_shutdown,
	.on_event = tcp_on_event,
	.flush = tcp_flush,
	.resume_rx = tcp_resume_rx,
	.rx_waits_for_bufs = tcp_rx_waits_for_bufs,
	.destroy = tcp_destroy,
	.copy_replies = tcp_copy_replies,
};
