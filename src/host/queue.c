/* The host side of one NVMe/TCP connection, on the shared engine (transport/tcp_conn.c): command
 * capsules, R2T answers as H2CData, C2HData straight into the caller's buffer, completions and
 * timeouts. A non-blocking socket driven by hq_poll, so one thread owns a queue and nothing on the
 * I/O path takes a lock or wakes another thread. Setting a queue up is in queue_setup.c. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "host/queue.h"
#include "transport/tls.h"
#include "util/clock.h"
#include "util/log.h"

#define HQ_MAX_C2H (8u << 20) /* the largest C2HData we accept, beyond any transfer we ask for */

static const struct ntcp_conn_ops hq_conn_ops;

/* The value of the common-header field at 'offset', so a message can say "bad hlen 25". */
static uint32_t common_field_value(const struct nvme_tcp_hdr *hdr, uint32_t offset)
{
	switch (offset) {
	case offsetof(struct nvme_tcp_hdr, type): return hdr->type;
	case offsetof(struct nvme_tcp_hdr, flags): return hdr->flags;
	case offsetof(struct nvme_tcp_hdr, hlen): return hdr->hlen;
	case offsetof(struct nvme_tcp_hdr, pdo): return hdr->pdo;
	default: return hdr->plen;
	}
}

/* "malformed C2HData PDU (type 7) from the controller: bad hlen 25 (invalid PDU header field)":
 * what the common-header validator rejected, by field name rather than by byte offset. */
void hq_describe_bad_header(char *out, size_t outlen, const struct nvme_tcp_hdr *hdr, const char *from,
				const struct nvmf_tcp_fatal *fatal)
{
	const char *field = nvmf_tcp_field_name(hdr->type, fatal->fei);

	snprintf(out, outlen, "malformed %s PDU (type %u)%s: bad %s %u (%s)", nvmf_tcp_pdu_type_name(hdr->type),
		 hdr->type, from, field ? field : "field", common_field_value(hdr, fatal->fei),
		 nvmf_tcp_fes_name(fatal->fes));
}

/* A C2HTermReq in words: its status and, where the FEI is an offset, the field of our PDU it blames.
 * 'plen' bytes starting at 't' are at hand; our offending PDU header, if quoted, follows the 24. */
void hq_describe_term(char *out, size_t outlen, const struct nvme_tcp_term_pdu *t, uint32_t plen)
{
	uint32_t fei = t->feil | ((uint32_t)t->feiu << 16);
	const char *fes = nvmf_tcp_fes_name(t->fes);

	if (t->fes == NVME_TCP_FES_INVALID_PDU_HDR || t->fes == NVME_TCP_FES_UNSUPPORTED_PARAM) {
		/* Without the quoted header only the common-header offsets can be named. */
		bool quoted = plen > sizeof(*t);
		uint8_t type = quoted ? ((const uint8_t *)t)[sizeof(*t)] : 0xff;
		const char *field = nvmf_tcp_field_name(type, fei);

		if (field && quoted)
			snprintf(out, outlen, "C2HTermReq (%s): bad %s in our %s", fes, field,
				 nvmf_tcp_pdu_type_name(type));
		else if (field)
			snprintf(out, outlen, "C2HTermReq (%s): bad %s", fes, field);
		else
			snprintf(out, outlen, "C2HTermReq (%s): at byte %u of our %s", fes, fei,
				 quoted ? nvmf_tcp_pdu_type_name(type) : "PDU");
	} else if (strcmp(fes, "unknown") == 0) {
		snprintf(out, outlen, "C2HTermReq (unknown fatal error status %u)", t->fes);
	} else {
		snprintf(out, outlen, "C2HTermReq (%s)", fes);
	}
}

struct hq *hq_attach(const struct hq_params *p, int fd, uint32_t maxh2cdata)
{
	struct hq *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->qid = p->qid;
	q->depth = p->depth;
	q->timeout_ms = p->timeout_ms;
	q->tx = (struct nvmf_tcp_framing){ .hdgst = p->hdgst, .ddgst = p->ddgst };
	q->inline_max = 0;
	q->maxh2cdata = maxh2cdata;
	q->fd = -1; /* on failure the caller still owns fd */
	q->reqs = calloc(q->depth, sizeof(*q->reqs));
	q->h2c_slots = calloc(HQ_H2C_SLOTS, sizeof(*q->h2c_slots));
	if (!q->reqs || !q->h2c_slots ||
	    ntcp_conn_init(&q->conn, fd, NVMF_TCP_SIDE_HOST, &hq_conn_ops, q, HQ_RXBUF,
			   (uint32_t)q->depth * 3 + HQ_H2C_SLOTS * 3)) {
		hq_close(q);
		return NULL;
	}
	q->conn.rx_framing = (struct nvmf_tcp_framing){ .hdgst = p->hdgst, .ddgst = p->ddgst, .pda = 0,
							.max_data = HQ_MAX_C2H, .max_incapsule = 0 };
	q->conn.before_ic = false; /* the ICReq exchange is done before the engine runs */
	for (int i = 0; i < q->depth; i++)
		q->reqs[i].next_free = i + 1 < q->depth ? i + 1 : -1;
	q->free_head = 0;
	q->r2t_head = q->r2t_tail = -1;
	q->fd = fd;
	return q;
}

void hq_close(struct hq *q)
{
	if (!q)
		return;
	if (!q->error && q->reqs)
		hq_fail(q, -ESHUTDOWN, NULL);
	ntcp_conn_destroy(&q->conn);
	ntls_free(q->conn.tls);
	free(q->reqs);
	free(q->h2c_slots);
	free(q);
}

int hq_fused_status(int first, int second)
{
	if (first < 0 || second < 0)
		return first < 0 ? first : second;
	if (first && (!second || nvme_status_code((uint16_t)first) != NVME_SC_FUSED_FAIL))
		return first;
	return second;
}

static void req_complete(struct hq *q, struct hq_req *r, int status, const struct nvme_completion *cqe)
{
	tr_io_cb cb = r->cb;
	void *arg = r->arg;

	if (r->fused_peer >= 0) {
		/* The other half is still outstanding: it calls back for both. */
		struct hq_req *peer = &q->reqs[r->fused_peer];

		peer->fused_peer = -1;
		peer->fused_peer_done = true;
		peer->fused_peer_status = status;
		cb = NULL;
	} else if (r->fused_peer_done) {
		status = r->fused_first ? hq_fused_status(status, r->fused_peer_status)
					: hq_fused_status(r->fused_peer_status, status);
	}
	if (r->cqe_out && cqe)
		*r->cqe_out = *cqe;
	r->busy = false;
	q->completed++;
	r->next_free = q->free_head;
	q->free_head = (int)(r - q->reqs);
	q->inflight--;
	if (cb)
		cb(arg, status);
}

void hq_fail(struct hq *q, int err, const char *why)
{
	if (q->error)
		return;
	q->error = err;
	if (why) {
		snprintf(q->why, sizeof(q->why), "%s", why);
		tr_warn("queue %u to %s: %s", q->qid, q->peer, why);
	}
	if (q->fd >= 0) {
		close(q->fd);
		q->fd = q->conn.fd = -1;
	}
	for (int i = 0; i < q->depth; i++) {
		if (q->reqs[i].busy)
			req_complete(q, &q->reqs[i], err, NULL);
	}
	ntcp_tx_drop(&q->conn);
	q->r2t_head = q->r2t_tail = -1;
}

/* ---- Transmit ---- */

/* Room is checked before anything is queued (ntcp_tx_room), so this cannot run out. */
static void tx_add(struct hq *q, void *base, size_t len)
{
	ntcp_tx_push(&q->conn, base, len, NULL);
}

/* Turn open R2T windows into H2CData PDUs, as far as header slots and iovecs allow. */
static void tx_fill_h2c(struct hq *q)
{
	while (q->r2t_head >= 0 && q->h2c_used < HQ_H2C_SLOTS && ntcp_tx_room(&q->conn) >= 3) {
		struct hq_req *r = &q->reqs[q->r2t_head];
		uint32_t chunk = r->h2c_end - r->h2c_next;
		struct nvmf_tcp_framing f = q->tx;
		size_t hl;
		__typeof__(q->h2c_slots) slot = &q->h2c_slots[q->h2c_used++];

		if (chunk > q->maxh2cdata)
			chunk = q->maxh2cdata;
		hl = nvmf_tcp_data_encode(&slot->hdr, nvme_tcp_h2c_data, &f, r->pdu.cmd.command_id, r->ttag,
					  r->h2c_next, chunk,
					  r->h2c_next + chunk == r->h2c_end ? NVME_TCP_F_DATA_LAST : 0);
		tx_add(q, &slot->hdr, hl);
		tx_add(q, r->buf + r->h2c_next, chunk);
		if (q->tx.ddgst) {
			slot->ddgst = nvmf_tcp_digest(r->buf + r->h2c_next, chunk);
			tx_add(q, &slot->ddgst, 4);
		}
		r->h2c_next += chunk;
		if (r->h2c_next == r->h2c_end) {
			r->r2t_queued = false;
			q->r2t_head = r->next_r2t;
			if (q->r2t_head < 0)
				q->r2t_tail = -1;
		}
	}
}

/* Write what is queued; 0 when all is out or the socket is full, -errno on failure. */
static int tx_pump(struct hq *q)
{
	for (;;) {
		int err;

		if (!ntcp_tx_pending(&q->conn)) {
			q->h2c_used = 0; /* every slot's bytes are on the wire */
			tx_fill_h2c(q);
			if (!ntcp_tx_pending(&q->conn))
				return 0;
		}
		err = ntcp_tx_flush(&q->conn);
		if (err)
			return err == -EAGAIN ? 0 : err;
	}
}

bool hq_tx_pending(const struct hq *q)
{
	return ntcp_tx_pending(&q->conn) || q->r2t_head >= 0;
}

static int submit(struct hq *q, const struct nvme_command *cmd, void *buf, uint32_t len, tr_io_cb cb, void *arg,
		  struct nvme_completion *cqe_out, const struct nvme_dsm_range *dsm, uint32_t timeout_ms)
{
	struct hq_req *r;
	uint32_t incapsule = 0;
	size_t hl;
	bool h2c;

	if (q->error)
		return q->error;
	if (q->free_head < 0 || ntcp_tx_room(&q->conn) < 3)
		return -EAGAIN;
	r = &q->reqs[q->free_head];
	q->free_head = r->next_free;
	q->inflight++;

	/* Direction from the opcode: bit 0 host-to-controller; fabrics uses fctype's bit 0. */
	h2c = cmd->opcode == nvme_admin_fabrics ? (((const struct nvmf_common_command *)cmd)->fctype & 1)
						: (cmd->opcode & 1);
	*r = (struct hq_req){ .busy = true, .buf = buf, .len = len, .h2c = h2c && len, .cb = cb, .arg = arg,
			      .cqe_out = cqe_out, .next_free = -1, .next_r2t = -1, .fused_peer = -1 };
	if (dsm) {
		r->dsm = *dsm;
		r->buf = buf = (uint8_t *)&r->dsm;
		r->len = len = sizeof(*dsm);
		r->h2c = true;
	}
	r->timeout_ms = timeout_ms ? timeout_ms : q->timeout_ms;
	if (timeout_ms == HQ_NO_TIMEOUT)
		r->deadline_ns = UINT64_MAX;
	else
		r->deadline_ns = tr_now_ns() + (uint64_t)r->timeout_ms * 1000000ull;
	r->pdu.cmd = *cmd;
	r->pdu.cmd.command_id = (uint16_t)(r - q->reqs);
	r->pdu.cmd.flags = (uint8_t)((r->pdu.cmd.flags & ~NVME_CMD_PSDT_MASK) | NVME_CMD_PSDT_SGL);
	r->pdu.cmd.dptr = (struct nvme_sgl_desc){ .length = len, .type = NVME_SGL_TRANSPORT_DATA_BLOCK };
	if (r->h2c && len <= q->inline_max) {
		incapsule = len;
		r->pdu.cmd.dptr.type = NVME_SGL_DATA_BLOCK_OFFSET;
	}
	if (!len)
		r->pdu.cmd.dptr.type = NVME_SGL_TRANSPORT_DATA_BLOCK;
	hl = nvmf_tcp_cmd_encode(&r->pdu, &q->tx, &r->pdu.cmd, incapsule);
	tx_add(q, &r->pdu, hl);
	if (incapsule) {
		tx_add(q, buf, incapsule);
		if (q->tx.ddgst) {
			r->ddgst = nvmf_tcp_digest(buf, incapsule);
			tx_add(q, &r->ddgst, 4);
		}
	}
	return 0;
}

int hq_submit(struct hq *q, const struct nvme_command *cmd, void *buf, uint32_t len, tr_io_cb cb, void *arg,
	      struct nvme_completion *cqe_out)
{
	return submit(q, cmd, buf, len, cb, arg, cqe_out, NULL, 0);
}

int hq_submit_tmo(struct hq *q, const struct nvme_command *cmd, void *buf, uint32_t len, tr_io_cb cb, void *arg,
		  struct nvme_completion *cqe_out, uint32_t timeout_ms)
{
	return submit(q, cmd, buf, len, cb, arg, cqe_out, NULL, timeout_ms);
}

int hq_submit_dsm(struct hq *q, const struct nvme_command *cmd, const struct nvme_dsm_range *range, tr_io_cb cb,
		  void *arg)
{
	return submit(q, cmd, NULL, 0, cb, arg, NULL, range, 0);
}

int hq_submit_fused(struct hq *q, const struct nvme_command *first, void *first_buf, const struct nvme_command *second,
		    void *second_buf, uint32_t len, tr_io_cb cb, void *arg)
{
	struct hq_req *a, *b;
	int err;

	if (q->error)
		return q->error;
	/* Both or neither: each command takes a request and up to three send slots (header, data,
	 * digest), and nothing else is queued between the two submits below. */
	if (q->depth - q->inflight < 2 || ntcp_tx_room(&q->conn) < 6)
		return -EAGAIN;
	a = &q->reqs[q->free_head];
	err = submit(q, first, first_buf, len, NULL, NULL, NULL, NULL, 0);
	if (err)
		return err;
	b = &q->reqs[q->free_head];
	err = submit(q, second, second_buf, len, cb, arg, NULL, NULL, 0);
	if (err) {
		/* Cannot happen after the checks above; were it to, no half may go out alone. */
		hq_fail(q, -EIO, "a fused command's second half could not be queued");
		return -EIO;
	}
	/* The callback may run on either half: the one completing last makes it. */
	a->cb = cb;
	a->arg = arg;
	a->fused_first = true;
	a->fused_peer = (int)(b - q->reqs);
	b->fused_peer = (int)(a - q->reqs);
	return 0;
}

/* ---- Receive ---- */

static struct hq_req *req_by_cid(struct hq *q, uint16_t cid)
{
	return cid < q->depth && q->reqs[cid].busy ? &q->reqs[cid] : NULL;
}

static int proto_error(struct hq *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int proto_error(struct hq *q, const char *fmt, ...)
{
	char why[sizeof(q->why)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	hq_fail(q, -EPROTO, why);
	return -EPROTO;
}

/* Is any of r's data still waiting to go out (an open R2T window, or iovecs not yet sent)? */
static bool req_data_pending(const struct hq *q, const struct hq_req *r)
{
	return r->r2t_queued || (r->h2c && ntcp_tx_refers_to(&q->conn, r->buf, r->len));
}

/* The data transfer direction an opcode names in its low two bits (fabrics: fctype's). Only a
 * command that says controller-to-host must have received all its data when it succeeds; a caller
 * may hand a buffer to a command that moves none. */
enum { XFER_NONE = 0, XFER_H2C = 1, XFER_C2H = 2, XFER_BIDI = 3 };
static int cmd_data_direction(const struct nvme_command *cmd)
{
	uint8_t code = cmd->opcode == nvme_admin_fabrics ? ((const struct nvmf_common_command *)cmd)->fctype
							 : cmd->opcode;

	return code & 3;
}

static int handle_rsp(struct hq *q, const struct nvme_tcp_rsp_pdu *pdu)
{
	struct hq_req *r = req_by_cid(q, pdu->cqe.command_id);

	if (!r)
		return proto_error(q, "completion for command %u, which is not outstanding", pdu->cqe.command_id);
	/* Completing it would hand the caller back a buffer we are still sending from. */
	if (req_data_pending(q, r))
		return proto_error(q, "completion for command %u while its data was still being sent (%" PRIu32 " bytes)",
				   pdu->cqe.command_id, r->len);
	/* A success that moved less than the whole transfer is not one: a duplicate or stray completion
	 * that landed on a reused command id looks exactly like this, and taking it would hand the caller
	 * a buffer the data never reached (or would never send a write's data at all). Command ids are
	 * reused at once, so this is the only point where such a completion can still be told apart. */
	if (nvme_status_code(nvme_cqe_status(pdu->cqe.status)) == NVME_SC_SUCCESS && r->len) {
		bool incapsule = r->pdu.cmd.dptr.type == NVME_SGL_DATA_BLOCK_OFFSET;

		if (cmd_data_direction(&r->pdu.cmd) == XFER_C2H && r->c2h_done != r->len)
			return proto_error(q, "successful completion for command %u after %" PRIu32 " of its %" PRIu32
					      " bytes of C2HData",
					   pdu->cqe.command_id, r->c2h_done, r->len);
		if (r->h2c && !incapsule && r->h2c_end == 0)
			return proto_error(q, "successful completion for command %u before any R2T asked for its %" PRIu32
					      " bytes of data",
					   pdu->cqe.command_id, r->len);
	}
	req_complete(q, r, nvme_cqe_status(pdu->cqe.status), &pdu->cqe);
	return 0;
}

static int handle_r2t(struct hq *q, const struct nvme_tcp_r2t_pdu *pdu)
{
	struct hq_req *r = req_by_cid(q, pdu->command_id);

	if (!r || !r->h2c || r->r2t_queued)
		return proto_error(q, "R2T for command %u, which %s (ttag %u)", pdu->command_id,
				   !r ? "is not outstanding" : !r->h2c ? "has no data to send"
				      : "already has an R2T being served",
				   pdu->ttag);
	if (pdu->r2t_length == 0)
		return proto_error(q, "R2T for command %u asks for no data (r2t length 0)", pdu->command_id);
	if (pdu->r2t_offset > r->len || pdu->r2t_length > r->len - pdu->r2t_offset)
		return proto_error(q, "R2T asks for bytes %" PRIu32 "+%" PRIu32 ", beyond command %u's %" PRIu32
				      " bytes of data (r2t offset/length)",
				   pdu->r2t_offset, pdu->r2t_length, pdu->command_id, r->len);
	r->ttag = pdu->ttag;
	r->h2c_next = pdu->r2t_offset;
	r->h2c_end = pdu->r2t_offset + pdu->r2t_length;
	r->r2t_queued = true;
	r->next_r2t = -1;
	if (q->r2t_tail >= 0)
		q->reqs[q->r2t_tail].next_r2t = (int)(r - q->reqs);
	else
		q->r2t_head = (int)(r - q->reqs);
	q->r2t_tail = (int)(r - q->reqs);
	return 0;
}

static int start_c2h(struct hq *q, const struct nvme_tcp_data_pdu *pdu, const struct nvmf_tcp_pdu_layout *l)
{
	struct hq_req *r = req_by_cid(q, pdu->command_id);

	if (!r)
		return proto_error(q, "C2HData for command %u, which is not outstanding (%" PRIu32 " bytes)",
				   pdu->command_id, pdu->data_length);
	if (r->h2c || !r->buf)
		return proto_error(q, "C2HData for command %u, which expects no data (%" PRIu32 " bytes)",
				   pdu->command_id, pdu->data_length);
	if (pdu->data_length != l->data_len)
		return proto_error(q, "C2HData for command %u: data length %" PRIu32 " but plen carries %" PRIu32
				      " data bytes",
				   pdu->command_id, pdu->data_length, l->data_len);
	/* Data must arrive in order: anything else would leave holes the completion hides. */
	if (pdu->data_offset != r->c2h_done)
		return proto_error(q, "C2HData for command %u: data offset %" PRIu32 ", expected %" PRIu32,
				   pdu->command_id, pdu->data_offset, r->c2h_done);
	if (pdu->data_length > r->len - r->c2h_done)
		return proto_error(q, "C2HData for command %u: data offset %" PRIu32 " + data length %" PRIu32
				      " runs past its %" PRIu32 "-byte buffer",
				   pdu->command_id, pdu->data_offset, pdu->data_length, r->len);
	q->rx_req = r;
	q->rx_data_len = pdu->data_length;
	q->rx_data_flags = pdu->hdr.flags;
	ntcp_rx_data_to(&q->conn, r->buf + pdu->data_offset);
	return 0;
}

static int finish_c2h(struct hq *q, bool digest_ok)
{
	struct hq_req *r = q->rx_req;

	q->rx_req = NULL;
	if (!digest_ok)
		return proto_error(q, "data digest mismatch on C2HData for command %u (%" PRIu32 " bytes)",
				   r->pdu.cmd.command_id, q->rx_data_len);
	r->c2h_done += q->rx_data_len;
	if (q->rx_data_flags & NVME_TCP_F_DATA_SUCCESS) {
		struct nvme_completion cqe = { .command_id = r->pdu.cmd.command_id, .sq_id = q->qid };

		if (r->c2h_done != r->len)
			return proto_error(q, "C2HData SUCCESS flag for command %u after %" PRIu32 " of %" PRIu32 " bytes",
					   r->pdu.cmd.command_id, r->c2h_done, r->len);
		req_complete(q, r, 0, &cqe);
	}
	return 0;
}

/* The controller gave up on the connection: say why, in words, and fail everything. */
static void handle_term(struct hq *q, uint32_t plen)
{
	char what[128], why[sizeof(q->why)];

	hq_describe_term(what, sizeof(what), (const void *)q->rx_term, plen);
	snprintf(why, sizeof(why), "controller sent %s", what);
	hq_fail(q, -ECONNRESET, why);
}

static enum ntcp_verdict verdict(struct hq *q, int err)
{
	return err || q->error ? NTCP_STOP : NTCP_GO;
}

/* The engine has a whole header, its digest checked. */
static enum ntcp_verdict hq_rx_header(struct ntcp_conn *c, const void *hdr, const struct nvmf_tcp_pdu_layout *l)
{
	struct hq *q = c->owner;

	switch (l->type) {
	case nvme_tcp_rsp: return verdict(q, handle_rsp(q, hdr));
	case nvme_tcp_r2t: return verdict(q, handle_r2t(q, hdr));
	case nvme_tcp_c2h_data: return verdict(q, start_c2h(q, hdr, l));
	case nvme_tcp_c2h_term:
		/* The header it quotes follows as its data: keep both together for describe_term. */
		memcpy(q->rx_term, hdr, sizeof(struct nvme_tcp_term_pdu));
		if (!l->data_len) {
			handle_term(q, l->plen);
			return NTCP_STOP;
		}
		ntcp_rx_data_to(c, q->rx_term + sizeof(struct nvme_tcp_term_pdu));
		return NTCP_GO;
	default:
		proto_error(q, "unexpected %s PDU (type %u, %" PRIu32 " bytes)", nvmf_tcp_pdu_type_name(l->type), l->type,
			    l->plen);
		return NTCP_STOP;
	}
}

static enum ntcp_verdict hq_rx_data_done(struct ntcp_conn *c, bool digest_ok)
{
	struct hq *q = c->owner;
	const struct nvmf_tcp_pdu_layout *l = ntcp_rx_layout(c);

	if (l->type == nvme_tcp_c2h_term) {
		handle_term(q, l->plen);
		return NTCP_STOP;
	}
	return verdict(q, finish_c2h(q, digest_ok));
}

static void hq_rx_bad_header(struct ntcp_conn *c, const struct nvmf_tcp_fatal *fatal)
{
	struct hq *q = c->owner;
	uint32_t have;
	const struct nvme_tcp_hdr *hdr = (const void *)ntcp_rx_header(c, &have);
	char what[128];

	if (fatal->fes == NVME_TCP_FES_HDR_DIGEST_ERR) {
		proto_error(q, "header digest mismatch on a %s PDU (%" PRIu32 " bytes)", nvmf_tcp_pdu_type_name(hdr->type),
			    hdr->plen);
		return;
	}
	hq_describe_bad_header(what, sizeof(what), hdr, " from the controller", fatal);
	proto_error(q, "%s", what);
}

static const struct ntcp_conn_ops hq_conn_ops = {
	.rx_header = hq_rx_header,
	.rx_data_done = hq_rx_data_done,
	.rx_bad_header = hq_rx_bad_header,
	/* No tx_release: the host queues no cookies, a request's buffer is the caller's. */
};

/* The connection ended: say what was cut short, since a close between PDUs is far less suspicious
 * than one inside. */
static void rx_closed(struct hq *q)
{
	char why[sizeof(q->why)];
	uint32_t have;

	ntcp_rx_header(&q->conn, &have);
	if (q->rx_req)
		snprintf(why, sizeof(why), "connection closed by the controller in the middle of C2HData "
			 "for command %u (%" PRIu32 " of %" PRIu32 " bytes received)",
			 q->rx_req->pdu.cmd.command_id, ntcp_rx_data_received(&q->conn), q->rx_data_len);
	else if (have || q->conn.rx_state != NTCP_RX_HDR)
		snprintf(why, sizeof(why), "connection closed by the controller in the middle of a PDU "
			 "(%" PRIu32 " bytes of it received)", have + ntcp_rx_data_received(&q->conn));
	else
		snprintf(why, sizeof(why), "connection closed by the controller");
	hq_fail(q, -ECONNRESET, why);
}

/* Read and handle what the socket has; 0, or q->error once the queue failed. */
static int rx_pump(struct hq *q)
{
	switch (ntcp_rx_pump(&q->conn, INT_MAX)) {
	case NTCP_RX_IDLE:
	case NTCP_RX_BUSY:
		return 0;
	case NTCP_RX_HELD:
		return q->error;
	case NTCP_RX_EOF:
		rx_closed(q);
		return q->error;
	case NTCP_RX_ERROR: {
		char why[96];

		snprintf(why, sizeof(why), "receive: %s", strerror(q->conn.rx_errno));
		hq_fail(q, -q->conn.rx_errno, why);
		return q->error;
	}
	}
	return 0;
}

static void check_timeouts(struct hq *q)
{
	uint64_t now = tr_now_ns();

	if (now - q->last_timeout_scan < 100000000ull)
		return;
	q->last_timeout_scan = now;
	for (int i = 0; i < q->depth; i++) {
		struct hq_req *r = &q->reqs[i];

		if (r->busy && now > r->deadline_ns) {
			char why[128];

			/* The request's own timeout, not the queue's default: they differ for a Keep Alive. */
			snprintf(why, sizeof(why), "command %u (opcode %#x) timed out after %u ms", i,
				 r->pdu.cmd.opcode, r->timeout_ms);
			hq_fail(q, -ETIMEDOUT, why);
			return;
		}
	}
}

int hq_poll(struct hq *q, int timeout_ms)
{
	uint64_t before = q->completed;
	int err;
	uint64_t now = tr_now_ns();
	uint64_t deadline = timeout_ms > 0 ? now + (uint64_t)timeout_ms * 1000000ull : 0;
	/* Poll mode: look at the socket again without sleeping until this passes. The reply to a QD1
	 * command then finds us awake instead of waking an idle CPU (20-25 us on a VM). */
	uint64_t spin_until = q->poll_ns ? now + q->poll_ns : 0;

	for (;;) {
		struct pollfd pfd;

		if (q->error)
			return q->error;
		err = tx_pump(q);
		if (err) {
			char why[96];

			snprintf(why, sizeof(why), "send: %s", strerror(-err));
			hq_fail(q, err, why);
			return err;
		}
		if (rx_pump(q) < 0)
			return q->error;
		err = tx_pump(q); /* R2Ts just received */
		if (err) {
			hq_fail(q, err, "send failed");
			return err;
		}
		check_timeouts(q);
		if (q->error)
			return q->error;
		if (q->completed != before || timeout_ms == 0 || q->inflight == 0)
			return (int)(q->completed - before);
		now = tr_now_ns();
		if (timeout_ms > 0 && now >= deadline)
			return 0;
		if (now < spin_until)
			continue;
		pfd = (struct pollfd){ .fd = q->fd, .events = POLLIN | (hq_tx_pending(q) ? POLLOUT : 0) };
		poll(&pfd, 1, timeout_ms > 0 ? (tr_ms_until(deadline) < 100 ? tr_ms_until(deadline) : 100) : 100);
	}
}

struct exec_wait {
	bool done;
	int status;
};

static void exec_done(void *arg, int status)
{
	struct exec_wait *w = arg;

	w->done = true;
	w->status = status;
}

int hq_exec_tmo(struct hq *q, const struct nvme_command *cmd, void *buf, uint32_t len, struct nvme_completion *cqe,
		uint32_t timeout_ms)
{
	struct exec_wait w = { 0 };
	int err = submit(q, cmd, buf, len, exec_done, &w, cqe, NULL, timeout_ms);

	if (err)
		return err;
	while (!w.done) {
		err = hq_poll(q, -1);
		if (err < 0 && !w.done)
			return err;
	}
	return w.status;
}

int hq_exec(struct hq *q, const struct nvme_command *cmd, void *buf, uint32_t len, struct nvme_completion *cqe)
{
	return hq_exec_tmo(q, cmd, buf, len, cqe, 0);
}

/* ---- Accessors for the controller (host/ctrl.c): the only way it looks into a queue ---- */

int hq_error(const struct hq *q)
{
	return q->error;
}

const char *hq_why(const struct hq *q)
{
	return q->why;
}

int hq_inflight(const struct hq *q)
{
	return q->inflight;
}

int hq_fd(const struct hq *q)
{
	return q->fd;
}

void hq_set_inline_max(struct hq *q, uint32_t bytes)
{
	q->inline_max = bytes;
}

void hq_set_poll_us(struct hq *q, uint32_t poll_us)
{
	q->poll_ns = (uint64_t)poll_us * 1000;
}
