/* The target side of one NVMe/TCP connection, on the shared engine (transport/tcp_conn.c):
 * ICReq/ICResp, what each PDU the host sends means for the queue's command slots, R2T flow,
 * replies as C2HData and CapsuleResp PDUs, and batched sends. */
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
#define TX_IOV_PER_CMD 6
#define RX_ROUNDS 16 /* reads per wake-up, so one busy connection cannot starve the worker's others */

static const uint8_t zero_pad[128];
static const struct ntcp_conn_ops queue_conn_ops;

bool tgt_queue_is_admin(const struct tgt_queue *q)
{
	return q->qid == 0;
}

static const char *queue_state_name(enum tgt_queue_state s)
{
	switch (s) {
	case TGT_Q_WAIT_ICREQ: return "wait-icreq";
	case TGT_Q_CONNECTING: return "connecting";
	case TGT_Q_LIVE: return "live";
	case TGT_Q_CLOSING: return "closing";
	}
	return "?";
}

/* The only place a queue's state changes: forward through the handshake, or to closing. */
static void queue_set_state(struct tgt_queue *q, enum tgt_queue_state s)
{
	bool ok = s == TGT_Q_CLOSING ? q->state != TGT_Q_CLOSING : s == q->state + 1;

	if (!ok) {
		tr_err("%s: queue state %s -> %s is not a legal step", q->peer, queue_state_name(q->state),
		       queue_state_name(s));
		return;
	}
	tr_debug("%s: queue %u %s -> %s", q->peer, q->qid, queue_state_name(q->state), queue_state_name(s));
	q->state = s;
}

/* ---- Sending ---- */

static int queue_push(struct tgt_queue *q, const void *base, size_t len, struct tgt_cmd *release)
{
	int err = ntcp_tx_push(&q->conn, base, len, release);

	if (!err && !q->tx_dirty)
		tgt_worker_mark_flush(q->worker, q);
	return err;
}

static void set_events(struct tgt_queue *q)
{
	struct epoll_event ev = { .events = (ntcp_rx_parked(&q->conn) ? 0 : EPOLLIN) |
					    (q->want_pollout ? EPOLLOUT : 0),
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
	int err;

	if (q->state == TGT_Q_CLOSING)
		return;
	err = ntcp_tx_flush(&q->conn);
	if (err == -EAGAIN) {
		set_pollout(q, true);
		return;
	}
	if (err) {
		tgt_queue_close(q, strerror(-err));
		return;
	}
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

static void cmd_release(struct tgt_cmd *cmd)
{
	struct tgt_queue *q = cmd->queue;

	if (cmd->ns) {
		tgt_ns_put(cmd->ns);
		cmd->ns = NULL;
	}
	tgt_cmd_buf_put(cmd);
	tgt_cmd_set_state(cmd, TGT_CMD_FREE);
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

/* Queue a reply's C2HData PDU; with SQ head pointer updates off the PDU's SUCCESS flag stands in
 * for the CapsuleResp, and the slot is released once the data is out. */
static int queue_c2h_data(struct tgt_queue *q, struct tgt_cmd *cmd)
{
	uint8_t flags = NVME_TCP_F_DATA_LAST;
	const void *data = cmd->c2h_data;
	struct tgt_cmd *release = q->sqhd_disabled ? cmd : NULL;
	size_t hl, hdr_total;
	int err;

	if (q->sqhd_disabled)
		flags |= NVME_TCP_F_DATA_SUCCESS;
	cmd->data_pdu.hdgst = 0;
	hl = nvmf_tcp_data_encode(&cmd->data_pdu.data, nvme_tcp_c2h_data, &q->tx_framing, cmd->sqe.command_id, 0, 0,
				  cmd->data_len, flags);
	hdr_total = cmd->data_pdu.data.hdr.hlen + (q->tx_framing.hdgst ? NVME_TCP_DIGEST_LEN : 0);
	err = queue_push(q, &cmd->data_pdu, hdr_total, NULL);
	if (!err && hl > hdr_total)
		err = queue_push(q, zero_pad, hl - hdr_total, NULL);
	if (err)
		return err;
	if (!q->tx_framing.ddgst)
		return queue_push(q, data, cmd->data_len, release);
	/* Never mapped namespace memory here (execute_rw): these bytes cannot change. */
	cmd->ddgst = nvmf_tcp_digest(data, cmd->data_len);
	err = queue_push(q, data, cmd->data_len, NULL);
	return err ? err : queue_push(q, &cmd->ddgst, sizeof(cmd->ddgst), release);
}

void tgt_cmd_complete(struct tgt_cmd *cmd, uint16_t status)
{
	struct tgt_queue *q = cmd->queue;
	struct nvme_completion *cqe = &cmd->cqe;
	size_t hl;

	if (q->state == TGT_Q_CLOSING) {
		cmd_release(cmd);
		tgt_queue_put(q);
		return;
	}
	tgt_cmd_set_state(cmd, TGT_CMD_SENDING);
	/* Only a reply still needs its buffer once the command is done: write data, Connect data and
	 * DSM ranges go back now, so a host that does not read its socket pins none of them. */
	if (status || cmd->xfer != TGT_XFER_C2H || cmd->c2h_data != cmd->buf)
		tgt_cmd_buf_put(cmd);
	if (status)
		atomic_fetch_add_explicit(&q->stats.errors, 1, memory_order_relaxed);

	/* Data goes out only if the handler produced some (c2h_data); a command that returns none,
	 * like most Get Features, answers with the completion alone. */
	if (status == NVME_SC_SUCCESS && cmd->xfer == TGT_XFER_C2H && cmd->data_len && cmd->c2h_data) {
		if (queue_c2h_data(q, cmd)) {
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
	hl = nvmf_tcp_rsp_encode(&cmd->rsp_pdu.rsp, q->tx_framing.hdgst, cqe);
	if (queue_push(q, &cmd->rsp_pdu, hl, cmd))
		tgt_queue_close(q, "send queue overflow");
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

static void queue_name_addresses(struct tgt_queue *q)
{
	struct sockaddr_storage ss;
	socklen_t slen = sizeof(ss);
	char host[INET6_ADDRSTRLEN], port[8];

	if (getpeername(q->fd, (struct sockaddr *)&ss, &slen) == 0) {
		addr_to_text(&ss, host, sizeof(host), port, sizeof(port));
		snprintf(q->peer, sizeof(q->peer), ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
	}
	slen = sizeof(ss);
	if (getsockname(q->fd, (struct sockaddr *)&ss, &slen) == 0) {
		addr_to_text(&ss, q->local_addr, sizeof(q->local_addr), q->local_port, sizeof(q->local_port));
		q->local_ipv6 = ss.ss_family == AF_INET6;
	}
}

void tgt_queue_start(struct tgt_worker *w, int fd, struct tgt_listener *l)
{
	struct tgt_queue *q = calloc(1, sizeof(*q));
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
	q->boot_cmd = calloc(1, sizeof(*q->boot_cmd));
	if (!q->boot_cmd || ntcp_conn_init(&q->conn, fd, NVMF_TCP_SIDE_TARGET, &queue_conn_ops, q, RXBUF_SIZE,
					  TX_IOV_PER_CMD + 8))
		goto fail;
	cmds_init(q, q->boot_cmd, 1, TGT_BOOT_TTAG);
	q->size = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	queue_name_addresses(q);
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
		ntcp_conn_destroy(&q->conn);
		free(q->boot_cmd);
		free(q);
	}
	close(fd);
}

void tgt_queue_put(struct tgt_queue *q)
{
	if (--q->refs > 0)
		return;
	tgt_queue_ns_drop(q);
	if (q->cmds)
		cmd_free_all(q->cmds, q->size);
	cmd_free_all(q->boot_cmd, 1);
	ntcp_conn_destroy(&q->conn);
	free(q);
}

static void queue_unlink(struct tgt_queue *q)
{
	struct tgt_worker *w = q->worker;

	epoll_ctl(w->epfd, EPOLL_CTL_DEL, q->fd, NULL);
	if (q->prev)
		q->prev->next = q->next;
	else
		w->queues = q->next;
	if (q->next)
		q->next->prev = q->prev;
	q->prev = q->next = NULL;
}

/* Take the queue off its controller; the admin queue carries the controller, so it goes too. */
static void queue_detach_ctrl(struct tgt_queue *q, const char *why)
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

void tgt_queue_close(struct tgt_queue *q, const char *why)
{
	struct tgt_ctrl *ctrl = q->ctrl;
	uint16_t n = q->cmds ? q->size : 1;
	struct tgt_cmd *slots = q->cmds ? q->cmds : q->boot_cmd;

	if (q->state == TGT_Q_CLOSING)
		return;
	queue_set_state(q, TGT_Q_CLOSING);
	queue_unlink(q);
	if (ctrl)
		queue_detach_ctrl(q, why);
	else
		tr_debug("%s: connection closed before Connect (%s)", q->peer, why);
	close(q->fd);
	q->fd = -1;
	if (q->listener)
		atomic_fetch_sub(&tgt->nr_connections, 1); /* counted at accept */

	/* Free every slot not with a handler or the backend; those free themselves on completion. */
	for (uint16_t i = 0; i < n; i++) {
		struct tgt_cmd *cmd = &slots[i];

		if (cmd->state == TGT_CMD_EXECUTING)
			q->refs++;
		else if (cmd->state != TGT_CMD_FREE)
			cmd_release(cmd);
	}
	ntcp_tx_drop(&q->conn);
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
static enum ntcp_verdict queue_fatal(struct tgt_queue *q, uint16_t fes, uint32_t fei, const char *what)
{
	uint32_t have;
	const uint8_t *hdr = ntcp_rx_header(&q->conn, &have);

	/* The FEI is a byte offset only for these two statuses (NVMe/TCP 3.6.2.9): name that field. */
	if (fes == NVME_TCP_FES_INVALID_PDU_HDR || fes == NVME_TCP_FES_UNSUPPORTED_PARAM) {
		uint8_t type = have ? hdr[0] : 0xff;
		const char *field = nvmf_tcp_field_name(type, fei);

		tr_warn("%s: %s: bad %s (byte %u of the %s PDU; %s); sending C2HTermReq and closing", q->peer,
			what, field ? field : "field", fei, nvmf_tcp_pdu_type_name(type), nvmf_tcp_fes_name(fes));
	} else {
		tr_warn("%s: %s (%s); sending C2HTermReq and closing", q->peer, what, nvmf_tcp_fes_name(fes));
	}
	ntcp_send_term(&q->conn, fes, fei);
	tgt_queue_close(q, "fatal transport error");
	return NTCP_STOP;
}

/* ---- What the host's PDUs mean ---- */

static void cmd_execute(struct tgt_cmd *cmd)
{
	tgt_cmd_set_state(cmd, TGT_CMD_EXECUTING);
	cmd->execute(cmd);
}

static void cmd_send_r2t(struct tgt_cmd *cmd)
{
	struct tgt_queue *q = cmd->queue;
	size_t hl;

	/* One R2T for the whole transfer: MDTS is below MAXH2CDATA, so the host can always comply. */
	tgt_cmd_set_state(cmd, TGT_CMD_WAIT_H2C);
	q->nr_r2t_open++;
	cmd->r2t_end = cmd->data_len;
	cmd->data_pdu.hdgst = 0;
	hl = nvmf_tcp_r2t_encode(&cmd->data_pdu.r2t, q->tx_framing.hdgst, cmd->sqe.command_id, cmd->ttag, 0,
				 cmd->data_len);
	if (queue_push(q, &cmd->data_pdu, hl, NULL))
		tgt_queue_close(q, "send queue overflow");
}

static enum ntcp_verdict handle_icreq(struct tgt_queue *q, const struct nvme_tcp_icreq_pdu *icreq)
{
	struct nvme_tcp_icresp_pdu *icresp = &q->icresp;
	struct nvmf_tcp_fatal fatal;
	bool hdgst, ddgst;

	if (nvmf_tcp_icreq_validate(icreq, &fatal))
		return queue_fatal(q, fatal.fes, fatal.fei, "bad ICReq");
	hdgst = icreq->digest & NVME_TCP_HDR_DIGEST_ENABLE;
	ddgst = icreq->digest & NVME_TCP_DATA_DIGEST_ENABLE;
	q->maxr2t = icreq->maxr2t + 1;
	q->conn.rx_framing = (struct nvmf_tcp_framing){ .hdgst = hdgst, .ddgst = ddgst, .pda = 0,
							.max_data = TGT_MAXH2CDATA,
							.max_incapsule = TGT_ADMIN_INLINE_DATA_SIZE };
	q->conn.before_ic = false;
	q->tx_framing = (struct nvmf_tcp_framing){ .hdgst = hdgst, .ddgst = ddgst, .pda = icreq->hpda,
						   .max_data = TGT_MAX_XFER };
	queue_set_state(q, TGT_Q_CONNECTING);
	if (queue_push(q, icresp, nvmf_tcp_icresp_encode(icresp, hdgst, ddgst, TGT_MAXH2CDATA), NULL)) {
		tgt_queue_close(q, "send queue overflow");
		return NTCP_STOP;
	}
	tr_debug("%s: ICReq ok (hdgst %d ddgst %d hpda %u maxr2t %u)", q->peer, hdgst, ddgst, icreq->hpda, q->maxr2t);
	return NTCP_GO;
}

/* Take a free slot for a new capsule. */
static struct tgt_cmd *cmd_take(struct tgt_queue *q, const struct nvme_tcp_cmd_pdu *pdu)
{
	struct tgt_cmd *cmd = q->free_cmds;

	q->free_cmds = cmd->next_free;
	cmd->status = 0;
	cmd->sqe = pdu->cmd;
	memset(&cmd->cqe, 0, sizeof(cmd->cqe));
	cmd->c2h_data = NULL;
	cmd->h2c_done = 0;
	cmd->execute = NULL;
	atomic_fetch_add_explicit(&q->stats.inflight, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&q->stats.cmds, 1, memory_order_relaxed);
	if (q->size > 1)
		q->sqhd = (uint16_t)((q->sqhd + 1) % q->size);
	if (q->ctrl)
		tgt_ctrl_touch(q->ctrl);
	return cmd;
}

static enum ntcp_verdict handle_capsule(struct tgt_queue *q, const struct nvme_tcp_cmd_pdu *pdu,
					uint32_t incapsule_len)
{
	struct tgt_cmd *cmd;
	uint16_t status;

	if (!q->free_cmds)
		return queue_fatal(q, NVME_TCP_FES_PDU_SEQ_ERR, 0, "more commands than the queue size");
	/* In-capsule data needs a buffer now. Past the budget, stop reading this socket until buffers
	 * come back (the header stays received) - unless data we asked for by R2T may be queued behind
	 * this capsule: then waiting could wait for ever, and the buffer is taken anyway. */
	if (incapsule_len && !q->nr_r2t_open && !tgt_queue_buf_allowed(q, incapsule_len)) {
		tgt_queue_wait_bufs(q);
		return NTCP_PARK;
	}
	cmd = cmd_take(q, pdu);
	status = tgt_cmd_map_sgl(cmd, incapsule_len);
	/* In-capsule data is on its way: its buffer is taken now (the budget was checked above);
	 * R2T data and replies get theirs when the budget allows (tgt_cmd_start). */
	if (!status && incapsule_len && tgt_cmd_alloc_buf(cmd, cmd->data_len))
		status = NVME_SC_INTERNAL;
	/* Connect is parsed once its data is in; everything else is checked before data moves. */
	if (!status && !tgt_cmd_parse_after_data(cmd))
		status = tgt_cmd_parse(cmd);
	cmd->status = status;

	if (incapsule_len) {
		tgt_cmd_set_state(cmd, TGT_CMD_RECV_DATA);
		q->rx_cmd = cmd;
		ntcp_rx_data_to(&q->conn, status ? NULL : cmd->buf);
		return NTCP_GO;
	}
	if (status)
		tgt_cmd_complete(cmd, status);
	else
		tgt_cmd_start(cmd, cmd->xfer == TGT_XFER_H2C ? cmd_send_r2t : cmd_execute);
	return q->state == TGT_Q_CLOSING ? NTCP_STOP : NTCP_GO;
}

static enum ntcp_verdict handle_h2c_data(struct tgt_queue *q, const struct nvme_tcp_data_pdu *pdu, uint32_t len)
{
	struct tgt_cmd *cmd = NULL;

	if (pdu->ttag == TGT_BOOT_TTAG && !q->cmds)
		cmd = q->boot_cmd;
	else if (q->cmds && pdu->ttag < q->size)
		cmd = &q->cmds[pdu->ttag];
	if (!cmd || cmd->state != TGT_CMD_WAIT_H2C)
		return queue_fatal(q, NVME_TCP_FES_INVALID_PDU_HDR, offsetof(struct nvme_tcp_data_pdu, ttag),
				   "H2CData for an unknown or finished transfer");
	if (pdu->command_id != cmd->sqe.command_id)
		return queue_fatal(q, NVME_TCP_FES_INVALID_PDU_HDR, offsetof(struct nvme_tcp_data_pdu, command_id),
				   "H2CData command id does not match its transfer tag");
	if (pdu->data_length != len)
		return queue_fatal(q, NVME_TCP_FES_INVALID_PDU_HDR, offsetof(struct nvme_tcp_data_pdu, data_length),
				   "H2CData length disagrees with its PDU length");
	if (pdu->data_offset != cmd->h2c_done)
		return queue_fatal(q, NVME_TCP_FES_DATA_OUT_OF_RANGE, offsetof(struct nvme_tcp_data_pdu, data_offset),
				   "H2CData offset outside the requested window");
	if ((uint64_t)pdu->data_offset + pdu->data_length > cmd->r2t_end)
		return queue_fatal(q, NVME_TCP_FES_DATA_OUT_OF_RANGE, offsetof(struct nvme_tcp_data_pdu, data_length),
				   "H2CData beyond the requested window");
	q->rx_cmd = cmd;
	ntcp_rx_data_to(&q->conn, cmd->buf + pdu->data_offset);
	return NTCP_GO;
}

static enum ntcp_verdict handle_h2c_term(struct tgt_queue *q, const struct nvme_tcp_term_pdu *term)
{
	tr_warn("%s: host sent H2CTermReq: %s (fes %u, fei %u)", q->peer, nvmf_tcp_fes_name(term->fes), term->fes,
		term->feil | ((uint32_t)term->feiu << 16));
	tgt_queue_close(q, "H2CTermReq");
	return NTCP_STOP;
}

/* The engine has a whole header, its digest checked. */
static enum ntcp_verdict queue_rx_header(struct ntcp_conn *c, const void *hdr, const struct nvmf_tcp_pdu_layout *l)
{
	struct tgt_queue *q = c->owner;

	q->rx_cmd = NULL;
	switch (l->type) {
	case nvme_tcp_icreq: return handle_icreq(q, hdr);
	case nvme_tcp_cmd: return handle_capsule(q, hdr, l->data_len);
	case nvme_tcp_h2c_data: return handle_h2c_data(q, hdr, l->data_len);
	case nvme_tcp_h2c_term: return handle_h2c_term(q, hdr);
	}
	return NTCP_GO;
}

/* All data of the current PDU (and its digest) is in. */
static enum ntcp_verdict queue_rx_data_done(struct ntcp_conn *c, bool digest_ok)
{
	struct tgt_queue *q = c->owner;
	struct tgt_cmd *cmd = q->rx_cmd;
	uint16_t status;

	q->rx_cmd = NULL;
	if (!cmd)
		return NTCP_GO;
	if (!digest_ok) {
		tr_warn("%s: data digest mismatch on command %u; failing it with a transient transport error", q->peer,
			cmd->sqe.command_id);
		if (!cmd->status)
			cmd->status = NVME_SC_TRANSIENT_TR_ERR;
	}
	if (ntcp_rx_layout(c)->type == nvme_tcp_h2c_data) {
		cmd->h2c_done += ntcp_rx_layout(c)->data_len;
		if (cmd->h2c_done < cmd->data_len)
			return NTCP_GO;
		q->nr_r2t_open--;
	}
	status = cmd->status;
	if (!status && tgt_cmd_parse_after_data(cmd))
		status = tgt_cmd_parse(cmd);
	if (status)
		tgt_cmd_complete(cmd, status);
	else
		cmd_execute(cmd);
	return q->state == TGT_Q_CLOSING ? NTCP_STOP : NTCP_GO;
}

static void queue_rx_bad_header(struct ntcp_conn *c, const struct nvmf_tcp_fatal *fatal)
{
	struct tgt_queue *q = c->owner;
	uint32_t have;
	const uint8_t *hdr = ntcp_rx_header(c, &have);

	/* A TermReq is never answered with one (NVMe/TCP 7.4.7): just close. */
	if (hdr[0] == nvme_tcp_h2c_term && fatal->fes != NVME_TCP_FES_HDR_DIGEST_ERR) {
		tr_warn("%s: malformed H2CTermReq (plen %u); closing", q->peer, ((const struct nvme_tcp_hdr *)hdr)->plen);
		tgt_queue_close(q, "malformed H2CTermReq");
		return;
	}
	queue_fatal(q, fatal->fes, fatal->fei,
		    fatal->fes == NVME_TCP_FES_HDR_DIGEST_ERR ? "header digest mismatch" : "malformed PDU header");
}

static void queue_tx_release(struct ntcp_conn *c, void *cookie)
{
	(void)c;
	cmd_release(cookie);
}

static const struct ntcp_conn_ops queue_conn_ops = {
	.rx_header = queue_rx_header,
	.rx_data_done = queue_rx_data_done,
	.rx_bad_header = queue_rx_bad_header,
	.tx_release = queue_tx_release,
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

static void queue_rx(struct tgt_queue *q)
{
	switch (ntcp_rx_pump(&q->conn, RX_ROUNDS)) {
	case NTCP_RX_IDLE:
	case NTCP_RX_BUSY:
		return;
	case NTCP_RX_HELD:
		if (ntcp_rx_parked(&q->conn) && q->state != TGT_Q_CLOSING)
			set_events(q); /* stop reading until buffers come back */
		return;
	case NTCP_RX_EOF:
		tgt_queue_close(q, closed_why(q, "connection closed by peer"));
		return;
	case NTCP_RX_ERROR:
		tgt_queue_close(q, closed_why(q, strerror(q->conn.rx_errno)));
		return;
	}
}

/* Buffers came back: handle the capsule header we stopped at, the bytes received behind it, and
 * read the socket again. */
void tgt_queue_rx_unpark(struct tgt_queue *q)
{
	if (ntcp_rx_unpark(&q->conn) != NTCP_GO || q->state == TGT_Q_CLOSING)
		return;
	set_events(q);
	queue_rx(q); /* edge-triggered or not, data may have arrived while EPOLLIN was off */
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

uint64_t tgt_conn_worst_bytes(void)
{
	/* The queue, its receive buffer, a full-depth queue's slots and send ring, and the one largest
	 * transfer a connection may hold beyond the budget. */
	return sizeof(struct tgt_queue) + RXBUF_SIZE +
	       (uint64_t)TGT_MQES * (sizeof(struct tgt_cmd) + TX_IOV_PER_CMD * (sizeof(struct iovec) + sizeof(void *))) +
	       TGT_MAX_XFER;
}

void tgt_queue_bind(struct tgt_queue *q, struct tgt_ctrl *ctrl, uint16_t qid, uint16_t size, bool sqhd_disabled)
{
	/* The Connect command itself stays in the boot slot; the real slots start now. The send ring
	 * grows, carrying over whatever is still queued (the ICResp may not be out yet). */
	q->cmds = calloc(size, sizeof(*q->cmds));
	if (!q->cmds || ntcp_tx_resize(&q->conn, (uint32_t)size * TX_IOV_PER_CMD + 16)) {
		free(q->cmds);
		q->cmds = NULL;
		return;
	}
	q->ctrl = ctrl;
	q->qid = qid;
	q->sqhd_disabled = sqhd_disabled;
	q->sqhd = 1; /* the Connect was entry 0 */
	q->conn.rx_framing.max_incapsule = qid ? TGT_INLINE_DATA_SIZE : TGT_ADMIN_INLINE_DATA_SIZE;
	cmds_init(q, q->cmds, size, 0);
	q->size = size;
	queue_set_state(q, TGT_Q_LIVE);
	/* The boot slot holds the Connect until its response is sent; it is freed with the queue. */
}
