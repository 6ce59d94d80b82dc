/* libFuzzer harness for the target's command handlers: the input is a sequence of whole commands
 * that the harness frames itself and sends through socketpairs into an in-process target, so that
 * mutations land in the command fields rather than dying in PDU framing as most of
 * fuzz_target_queue's inputs do. What the target sends back is checked as a host would check it
 * (through the shared engine in the host's role) and discarded. The input format is described in
 * fuzz_target_cmds.h; the seeds are built in fuzz_target_cmds_seeds.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"
#include "fuzz_target_cmds.h"
#include "nvme/tcp_pdu.h"
#include "target/target.h"
#include "target/worker.h"
#include "transport/tcp_conn.h"
#include "util/clock.h"
#include "util/log.h"


#define MAX_PENDING 64
#define CMD_WAIT_MS 2000 /* the target answers in microseconds; this only bounds a hang */
#define DRAIN_WAIT_MS 500
#define QUIET_WAIT_MS 10000
#define FILE_NS_SIZE (1u << 20)


/* A command sent and not yet answered. */
struct pending {
	bool used;
	bool done;
	uint16_t cid;
	uint8_t opcode;
	uint8_t fctype;
	bool sgl_psdt; /* PSDT said SGL, or a fabrics command (which always has one) */
	uint8_t sgl_type;
	uint32_t sgl_len;
	const uint8_t *src; /* what R2Ts are answered from, zero-padded past src_len */
	uint32_t src_len;
	bool bad_ddgst;
	uint16_t status;
	uint64_t result;
	bool parked; /* a fused FIRST that waits for its queue's next command: nobody waits for it */
	bool fused; /* one half of a pair (FIRST, then SECOND next on its queue): partner is the other's cid */
	uint16_t partner;
};

struct conn {
	int fd; /* -1: closed */
	bool ic_done;
	bool connected; /* a Connect succeeded on it */
	bool sqflow_off; /* ... asking for no SQ flow control, which allows C2HData SUCCESS */
	uint16_t qid;
	struct nvmf_tcp_framing tx_framing;
	struct pending pend[MAX_PENDING];
	bool first_open; /* the last command sent here was a fused FIRST on an I/O queue: first_cid */
	uint16_t first_cid;
	uint8_t connect_data[sizeof(struct nvmf_connect_data)];
	/* What is still to be sent: whole PDUs only, so R2T answers never split another PDU. */
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	/* Receiving: the shared engine in the host's role, which checks framing and digests. */
	struct ntcp_conn eng;
	bool eng_live;
	bool term_seen; /* the target sent a C2HTermReq: close once the engine returns */
	struct pending *rx_pend; /* the command a C2HData belongs to */
	struct nvme_tcp_data_pdu rx_c2h; /* its header */
};

/* The namespaces of FUZZ_NQN an NS record may add and remove; every input starts from 'initial'. */
struct ns_spec {
	uint32_t nsid;
	const char *path;
	bool readonly;
	uint32_t lba_size;
	bool initial;
	bool present;
	uint32_t anagrpid;
};

static struct conn conns[NR_SLOTS];
static struct tgt_subsys *subsys_fuzz, *subsys_locked, *subsys_port2;
static struct tgt_listener listeners[3];
static char file_path[64];
static int file_fd = -1;
static struct ns_spec ns_specs[] = {
	{ 3, "mem:128K", false, 4096, false, false, 2 },
	{ 1, "mem:1M", false, 0, true, true },
	{ 4, file_path, false, 4096, true, true },
	{ 1024, "mem:8K", false, 0, true, true },
};

/* Per input. */
static bool hdgst, ddgst;
static uint8_t hpda;
static uint32_t h2c_chunk;
static struct tgt_listener *listener;
static bool second_worker;
static uint16_t next_cid;
static uint16_t last_cntlid;
static bool wrote;
static const uint8_t zeros[65536];
static bool trace; /* FUZZ_TRACE=1: one line per command sent and answered */

/* The target broke the protocol as a host sees it: a finding, not a harness problem. */
static void __attribute__((noreturn, format(printf, 2, 3))) target_bug(const struct conn *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\n==fuzz_target_cmds== TARGET BUG on slot %d (qid %u): ", (int)(c - conns), c->qid);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

/* ---- Sending ---- */

static void out_append(struct conn *c, const void *p, size_t len)
{
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 65536;

		while (cap < c->out_len + len)
			cap *= 2;
		c->out = realloc(c->out, cap);
		if (!c->out)
			abort();
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, p, len);
	c->out_len += len;
}

/* Bytes [off, off+len) of src zero-padded to any length; returns the running data digest. */
static uint32_t out_append_data(struct conn *c, const uint8_t *src, uint32_t src_len, uint32_t off,
				uint32_t len, uint32_t crc)
{
	while (len) {
		const uint8_t *p = zeros;
		uint32_t n = len < sizeof(zeros) ? len : sizeof(zeros);

		if (off < src_len) {
			p = src + off;
			if (n > src_len - off)
				n = src_len - off;
		}
		out_append(c, p, n);
		crc = nvmf_tcp_digest_update(crc, p, n);
		off += n;
		len -= n;
	}
	return crc;
}

static void out_append_ddgst(struct conn *c, uint32_t crc, bool corrupt)
{
	uint32_t d = nvmf_tcp_digest_final(crc) ^ (corrupt ? 1 : 0);

	out_append(c, &d, sizeof(d));
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->ic_done = c->connected = c->sqflow_off = false;
	c->qid = 0;
	c->out_len = c->out_off = 0;
	if (c->eng_live)
		ntcp_conn_destroy(&c->eng);
	c->eng_live = c->term_seen = false;
	c->rx_pend = NULL;
	memset(c->pend, 0, sizeof(c->pend));
	c->first_open = false;
}

static void flush_out(struct conn *c)
{
	while (c->fd >= 0 && c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		conn_close(c); /* the target hung up */
		return;
	}
	c->out_len = c->out_off = 0;
}

static void send_capsule(struct conn *c, const struct nvme_command *sqe, const uint8_t *src, uint32_t src_len,
			 uint32_t incapsule, bool bad_ddgst)
{
	uint8_t hdr[256] = { 0 };
	size_t hl = nvmf_tcp_cmd_encode((struct nvme_tcp_cmd_pdu *)hdr, &c->tx_framing, sqe, incapsule);

	out_append(c, hdr, hl);
	if (incapsule) {
		uint32_t crc = out_append_data(c, src, src_len, 0, incapsule, NVMF_TCP_DIGEST_INIT);

		if (c->tx_framing.ddgst)
			out_append_ddgst(c, crc, bad_ddgst);
	}
}

/* Answer an R2T: its window in H2CData PDUs of at most h2c_chunk bytes. */
static void send_h2c(struct conn *c, const struct pending *p, uint16_t ttag, uint32_t off, uint32_t len)
{
	while (len) {
		uint8_t hdr[256] = { 0 };
		uint32_t n = h2c_chunk && len > h2c_chunk ? h2c_chunk : len;
		size_t hl = nvmf_tcp_data_encode((struct nvme_tcp_data_pdu *)hdr, nvme_tcp_h2c_data, &c->tx_framing,
						 p->cid, ttag, off, n, n == len ? NVME_TCP_F_DATA_LAST : 0);
		uint32_t crc;

		out_append(c, hdr, hl);
		crc = out_append_data(c, p->src, p->src_len, off, n, NVMF_TCP_DIGEST_INIT);
		if (c->tx_framing.ddgst)
			out_append_ddgst(c, crc, p->bad_ddgst);
		off += n;
		len -= n;
	}
}

/* ---- Receiving: what a host accepts, and nothing else ---- */

static struct pending *pending_find(struct conn *c, uint16_t cid)
{
	for (int i = 0; i < MAX_PENDING; i++) {
		if (c->pend[i].used && c->pend[i].cid == cid)
			return &c->pend[i];
	}
	return NULL;
}

static struct pending *outstanding(struct conn *c, uint16_t cid, const char *what)
{
	struct pending *p = pending_find(c, cid);

	if (!p)
		target_bug(c, "%s for command id %u, which was never sent on this connection", what, cid);
	if (p->done)
		target_bug(c, "%s for command id %u (opcode %#x), which was already completed (status %#x)", what, cid,
			   p->opcode, p->status);
	return p;
}

/* Both halves of a fused pair answered: the pair runs as one or not at all, so either both succeed
 * or neither does (a miscompare fails the write with Failed Fused Command, a write that fails its
 * own checks the compare). Halves whose entries were reused meanwhile are not checked. */
static void check_pair(struct conn *c, const struct pending *p)
{
	const struct pending *o = p->fused ? pending_find(c, p->partner) : NULL;

	if (!o || !o->done || !o->fused || o->partner != p->cid)
		return;
	if ((p->status == NVME_SC_SUCCESS) != (o->status == NVME_SC_SUCCESS))
		target_bug(c, "fused pair: one half succeeded, the other did not: cid %u opcode %#x status %#x, "
			   "cid %u opcode %#x status %#x", p->cid, p->opcode, p->status, o->cid, o->opcode, o->status);
}

/* The engine has a whole header from the target, its digest checked. */
static enum ntcp_verdict harness_rx_header(struct ntcp_conn *e, const void *h, const struct nvmf_tcp_pdu_layout *l)
{
	struct conn *c = e->owner;
	struct nvmf_tcp_fatal fatal;

	switch (l->type) {
	case nvme_tcp_icresp: {
		const struct nvme_tcp_icresp_pdu *r = h;

		if (nvmf_tcp_icresp_validate(r, hdgst, ddgst, &fatal))
			target_bug(c, "ICResp a host refuses (%s, field offset %u)", nvmf_tcp_fes_name(fatal.fes),
				   fatal.fei);
		c->ic_done = true;
		e->before_ic = false;
		c->tx_framing.pda = r->cpda;
		return NTCP_GO;
	}
	case nvme_tcp_rsp: {
		const struct nvme_tcp_rsp_pdu *r = h;
		struct pending *p = outstanding(c, r->cqe.command_id, "CapsuleResp");

		p->done = true;
		p->status = nvme_status_code(nvme_cqe_status(r->cqe.status));
		p->result = r->cqe.result;
		if (trace)
			fprintf(stderr, "  slot %d < cid %u status %#x result %#llx\n", (int)(c - conns), p->cid,
				p->status, (unsigned long long)p->result);
		check_pair(c, p);
		return NTCP_GO;
	}
	case nvme_tcp_r2t: {
		const struct nvme_tcp_r2t_pdu *r = h;
		struct pending *p = outstanding(c, r->command_id, "R2T");

		if (p->sgl_type != NVME_SGL_TRANSPORT_DATA_BLOCK || !p->sgl_psdt)
			target_bug(c, "R2T for opcode %#x, whose SGL (type %#x) does not ask for one", p->opcode,
				   p->sgl_type);
		if (r->r2t_length == 0 || (uint64_t)r->r2t_offset + r->r2t_length > p->sgl_len)
			target_bug(c, "R2T for bytes %u+%u of opcode %#x, whose SGL describes %u", r->r2t_offset,
				   r->r2t_length, p->opcode, p->sgl_len);
		if (trace)
			fprintf(stderr, "  slot %d < cid %u R2T %u+%u\n", (int)(c - conns), p->cid, r->r2t_offset,
				r->r2t_length);
		send_h2c(c, p, r->ttag, r->r2t_offset, r->r2t_length);
		return NTCP_GO;
	}
	case nvme_tcp_c2h_data: {
		const struct nvme_tcp_data_pdu *d = h;
		struct pending *p = outstanding(c, d->command_id, "C2HData");

		if (p->sgl_type != NVME_SGL_TRANSPORT_DATA_BLOCK || !p->sgl_psdt)
			target_bug(c, "C2HData for opcode %#x, whose SGL (type %#x) offers no buffer", p->opcode,
				   p->sgl_type);
		if (d->data_length != l->data_len || (uint64_t)d->data_offset + d->data_length > p->sgl_len)
			target_bug(c, "C2HData of bytes %u+%u (PDU data %u) for opcode %#x, whose SGL describes %u",
				   d->data_offset, d->data_length, l->data_len, p->opcode, p->sgl_len);
		if ((d->hdr.flags & NVME_TCP_F_DATA_SUCCESS) && !c->sqflow_off)
			target_bug(c, "C2HData with SUCCESS on a queue that kept SQ flow control");
		c->rx_pend = p;
		c->rx_c2h = *d; /* the data itself is dropped: only its digest is checked */
		return NTCP_GO;
	}
	case nvme_tcp_c2h_term:
		if (trace)
			fprintf(stderr, "  slot %d < C2HTermReq fes %u\n", (int)(c - conns),
				((const struct nvme_tcp_term_pdu *)h)->fes);
		/* Fatal: the target closes; so do we, and its offending-header copy is not looked at. */
		c->term_seen = true;
		return NTCP_STOP;
	default:
		target_bug(c, "PDU type %#x passed the host's header checks", l->type);
	}
}

static enum ntcp_verdict harness_rx_data_done(struct ntcp_conn *e, bool digest_ok)
{
	struct conn *c = e->owner;
	const struct nvme_tcp_data_pdu *d = &c->rx_c2h;
	struct pending *p = c->rx_pend;

	if (!p) /* a TermReq's quoted header */
		return NTCP_GO;
	if (!digest_ok)
		target_bug(c, "C2HData for opcode %#x with a wrong data digest", p->opcode);
	if (trace)
		fprintf(stderr, "  slot %d < cid %u C2HData %u+%u%s\n", (int)(c - conns), p->cid, d->data_offset,
			d->data_length, d->hdr.flags & NVME_TCP_F_DATA_SUCCESS ? " SUCCESS" : "");
	if ((d->hdr.flags & NVME_TCP_F_DATA_SUCCESS) && (d->hdr.flags & NVME_TCP_F_DATA_LAST)) {
		p->done = true;
		check_pair(c, p);
	}
	c->rx_pend = NULL;
	return NTCP_GO;
}

static void harness_rx_bad_header(struct ntcp_conn *e, const struct nvmf_tcp_fatal *fatal)
{
	uint32_t have;
	const uint8_t *h = ntcp_rx_header(e, &have);

	if (fatal->fes == NVME_TCP_FES_HDR_DIGEST_ERR)
		target_bug(e->owner, "%s with a wrong header digest", nvmf_tcp_pdu_type_name(h[0]));
	target_bug(e->owner, "a PDU header a host refuses: type %#x flags %#x hlen %u pdo %u plen %u (%s, field offset %u)",
		   h[0], h[1], h[2], h[3], ((const struct nvme_tcp_hdr *)h)->plen, nvmf_tcp_fes_name(fatal->fes),
		   fatal->fei);
}

static const struct ntcp_conn_ops harness_ops = {
	.rx_header = harness_rx_header,
	.rx_data_done = harness_rx_data_done,
	.rx_bad_header = harness_rx_bad_header,
	/* No tx_release: the harness sends through its own buffer, not the engine's ring. */
};

static void rx_feed(struct conn *c, const uint8_t *p, size_t avail)
{
	ntcp_rx_feed(&c->eng, p, (uint32_t)avail);
	if (c->term_seen)
		conn_close(c);
}

static void conn_read(struct conn *c)
{
	static uint8_t buf[65536];

	for (int round = 0; round < 64 && c->fd >= 0; round++) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n > 0) {
			rx_feed(c, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		conn_close(c); /* EOF or reset: the target closed the queue */
	}
}

/* Move bytes both ways on every open connection until done(arg) or ms milliseconds have passed. */
static bool pump(uint32_t ms, bool (*done)(void *), void *arg)
{
	uint64_t end = tr_now_ms() + ms;

	for (;;) {
		struct pollfd pfd[NR_SLOTS];
		struct conn *map[NR_SLOTS];
		int n = 0, left;

		for (int i = 0; i < NR_SLOTS; i++) {
			flush_out(&conns[i]);
			if (conns[i].fd < 0)
				continue;
			pfd[n].fd = conns[i].fd;
			pfd[n].events = POLLIN | (conns[i].out_len > conns[i].out_off ? POLLOUT : 0);
			map[n++] = &conns[i];
		}
		if (done && done(arg))
			return true;
		left = (int)((int64_t)end - (int64_t)tr_now_ms());
		if (n == 0 || left <= 0)
			return false;
		if (poll(pfd, (nfds_t)n, left) < 0 && errno != EINTR)
			abort();
		for (int i = 0; i < n; i++) {
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				conn_read(map[i]);
		}
	}
}

struct wait_one {
	struct conn *c;
	uint16_t cid;
};

static bool one_done(void *arg)
{
	struct wait_one *w = arg;
	struct pending *p = pending_find(w->c, w->cid);

	return w->c->fd < 0 || !p || p->done;
}

static bool ic_done(void *arg)
{
	struct conn *c = arg;

	return c->fd < 0 || c->ic_done;
}

/* Everything sent has its answer, apart from AERs, which wait for an event. */
static bool all_done(void *arg)
{
	(void)arg;
	for (int i = 0; i < NR_SLOTS; i++) {
		for (int j = 0; conns[i].fd >= 0 && j < MAX_PENDING; j++) {
			const struct pending *p = &conns[i].pend[j];

			if (p->used && !p->done && p->opcode != nvme_admin_async_event && !p->parked)
				return false;
		}
	}
	return true;
}

static void note_timeout(const struct conn *c, const struct pending *p)
{
	static int reported;

	if (reported++ < 10)
		fprintf(stderr, "fuzz_target_cmds: no answer within %d ms to opcode %#x (fctype %#x) on slot %d "
			"(qid %u)\n", CMD_WAIT_MS, p->opcode, p->fctype, (int)(c - conns), c->qid);
}

/* Wait for a command's completion; false if the connection died or the target never answered. */
static bool wait_cmd(struct conn *c, uint16_t cid)
{
	struct wait_one w = { c, cid };
	struct pending *p;

	if (!pump(CMD_WAIT_MS, one_done, &w) && (p = pending_find(c, cid)) && !p->done && c->fd >= 0)
		note_timeout(c, p);
	p = c->fd >= 0 ? pending_find(c, cid) : NULL;
	return p && p->done;
}

/* ---- Connections and commands ---- */

static void conn_open(int slot)
{
	struct conn *c = &conns[slot];
	struct nvme_tcp_icreq_pdu icreq;
	int sv[2];

	conn_close(c);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
		abort();
	tgt_worker_post_conn(&tgt->workers[second_worker && (slot & 1) ? 1 : 0], sv[1], listener);
	c->fd = sv[0];
	c->tx_framing = (struct nvmf_tcp_framing){ .hdgst = hdgst, .ddgst = ddgst };
	if (ntcp_conn_init(&c->eng, sv[0], NVMF_TCP_SIDE_HOST, &harness_ops, c, 0, 1))
		abort();
	c->eng_live = true;
	c->eng.rx_framing = (struct nvmf_tcp_framing){ .hdgst = hdgst, .ddgst = ddgst, .pda = hpda,
						       .max_data = TGT_MAX_XFER };
	nvmf_tcp_icreq_encode(&icreq, hdgst, ddgst, 0);
	icreq.hpda = hpda;
	out_append(c, &icreq, sizeof(icreq));
	pump(CMD_WAIT_MS, ic_done, c);
}

/* A slot for a new command: a free or finished entry; waits a while if the pipeline is full. */
static struct pending *pending_new(struct conn *c)
{
	for (int tries = 0; tries < 2; tries++) {
		for (int i = 0; i < MAX_PENDING; i++) {
			if (!c->pend[i].used || c->pend[i].done)
				return &c->pend[i];
		}
		pump(DRAIN_WAIT_MS, all_done, NULL);
		if (c->fd < 0)
			return NULL;
	}
	return NULL;
}

/* Send one command; in-capsule data is the first 'incapsule' bytes of src (zero-padded), R2Ts are
 * answered from src too. Returns the command ID, or -1 if the connection is closed. */
static int submit(struct conn *c, struct nvme_command *sqe, const uint8_t *src, uint32_t src_len,
		  uint32_t incapsule, bool bad_ddgst)
{
	/* Looked up first: pending_new() may hand out a FIRST's entry once it is answered. */
	struct pending *first = c->first_open ? pending_find(c, c->first_cid) : NULL;
	struct pending *p = c->fd >= 0 ? pending_new(c) : NULL;
	uint8_t fuse = sqe->opcode == nvme_admin_fabrics ? 0 : sqe->flags & SQE_FUSE_MASK; /* byte 1 is not FUSE there */

	if (!p)
		return -1;
	if (first == p)
		first = NULL;
	sqe->command_id = ++next_cid;
	*p = (struct pending){
		.used = true,
		.cid = sqe->command_id,
		.opcode = sqe->opcode,
		.fctype = ((const struct nvmf_common_command *)sqe)->fctype,
		.sgl_psdt = sqe->opcode == nvme_admin_fabrics ||
			    (sqe->flags & NVME_CMD_PSDT_MASK) == NVME_CMD_PSDT_SGL,
		.sgl_type = sqe->dptr.type,
		.sgl_len = sqe->dptr.length,
		.src = src,
		.src_len = src_len,
		.bad_ddgst = bad_ddgst,
	};
	/* Whatever comes next on the queue ends a FIRST's wait: it pairs with a SECOND, else it fails. */
	if (first) {
		first->parked = false;
		if (fuse == SQE_FUSE_SECOND) {
			first->fused = p->fused = true;
			first->partner = p->cid;
			p->partner = first->cid;
		}
	}
	c->first_open = fuse == SQE_FUSE_FIRST && c->connected && c->qid;
	c->first_cid = p->cid;
	p->parked = c->first_open;
	if (trace)
		fprintf(stderr, "slot %d (qid %u%s) > cid %u opcode %#x/%#x%s nsid %u cdw10 %#x SGL %#x/%u "
			"in-capsule %u\n", (int)(c - conns), c->qid, c->connected ? "" : ", no Connect", p->cid,
			p->opcode, p->opcode == nvme_admin_fabrics ? p->fctype : 0,
			(const char *const[]){ "", " FIRST", " SECOND", " FUSE=3" }[fuse], sqe->nsid, sqe->cdw10,
			p->sgl_type, p->sgl_len, incapsule);
	send_capsule(c, sqe, src, src_len, incapsule, bad_ddgst);
	flush_out(c);
	return sqe->command_id;
}

static void set_sgl(struct nvme_command *sqe, uint8_t type, uint32_t len)
{
	memset(&sqe->dptr, 0, sizeof(sqe->dptr));
	sqe->dptr.type = type;
	sqe->dptr.length = len;
}

static uint8_t ns_lba_shift(uint32_t nsid)
{
	for (size_t i = 0; i < sizeof(ns_specs) / sizeof(ns_specs[0]); i++) {
		if (ns_specs[i].nsid == nsid)
			return ns_specs[i].lba_size == 4096 ? 12 : 9;
	}
	return 9;
}

/* Data mode 0/1: the SGL a well-behaved host would write for this command; 0 = no data. */
static uint64_t auto_length(const struct conn *c, const struct nvme_command *sqe, uint32_t data_len, bool *h2c)
{
	bool io = c->connected && c->qid != 0;
	uint8_t op = sqe->opcode;

	*h2c = op == nvme_admin_fabrics ? ((const struct nvmf_common_command *)sqe)->fctype & 1 : (op & 3) == 1;
	if (op == nvme_admin_fabrics && ((const struct nvmf_common_command *)sqe)->fctype != nvmf_type_connect)
		return sqe->dptr.length ? sqe->dptr.length : *h2c ? data_len : 0;
	if (op != nvme_admin_fabrics && !(op & 3))
		return 0;
	if (io && (op == nvme_cmd_read || op == nvme_cmd_write || op == nvme_cmd_compare))
		return (uint64_t)((sqe->cdw12 & 0xffff) + 1) << ns_lba_shift(sqe->nsid);
	if (io && op == nvme_cmd_dsm)
		return ((sqe->cdw10 & 0xff) + 1) * sizeof(struct nvme_dsm_range);
	if (sqe->dptr.length)
		return sqe->dptr.length;
	if (*h2c)
		return data_len;
	if (!io && op == nvme_admin_get_log_page) {
		uint64_t numd = (sqe->cdw10 >> 16) | ((uint64_t)(sqe->cdw11 & 0xffff) << 16);

		return (numd + 1) * 4;
	}
	return 4096;
}

static void do_cmd(struct conn *c, const uint8_t *rec_sqe, const uint8_t *data, uint32_t data_len, unsigned mode,
		   bool nowait, bool bad_ddgst)
{
	struct nvme_command sqe;
	uint32_t incapsule = 0;
	int cid;

	if (c->fd < 0)
		return;
	memcpy(&sqe, rec_sqe, sizeof(sqe));
	if (mode <= 1) {
		uint32_t inline_max = c->connected && c->qid ? TGT_INLINE_DATA_SIZE : TGT_ADMIN_INLINE_DATA_SIZE;
		bool h2c;
		uint64_t len = auto_length(c, &sqe, data_len, &h2c);

		if (len > UINT32_MAX)
			len = UINT32_MAX;
		sqe.flags = (uint8_t)((sqe.flags & ~NVME_CMD_PSDT_MASK) | NVME_CMD_PSDT_SGL);
		if (len && h2c && mode == 0 && len <= inline_max) {
			set_sgl(&sqe, NVME_SGL_DATA_BLOCK_OFFSET, (uint32_t)len);
			incapsule = (uint32_t)len;
		} else {
			set_sgl(&sqe, NVME_SGL_TRANSPORT_DATA_BLOCK, (uint32_t)len);
		}
	} else if (mode == 2) {
		if (sqe.dptr.type == NVME_SGL_DATA_BLOCK_OFFSET)
			incapsule = data_len;
	} else {
		incapsule = data_len;
	}
	if (c->connected && c->qid)
		wrote = true;
	cid = submit(c, &sqe, data, data_len, incapsule, bad_ddgst);
	/* An AER on an admin queue is parked until an event, a fused FIRST until its queue's next command:
	 * nothing to wait for. */
	if (cid < 0 || nowait || (sqe.opcode == nvme_admin_async_event && !(c->connected && c->qid)) ||
	    (c->first_open && c->first_cid == cid))
		return;
	wait_cmd(c, (uint16_t)cid);
}

/* The two hosts that must authenticate (DH-HMAC-CHAP), as the target starts with them. */
static void auth_hosts_reset(void)
{
	const char *why;

	tgt_host_auth_free_all(tgt);
	if (tgt_host_auth_set(tgt, AUTH_HOSTNQN, AUTH_SECRET, NULL, "sha256", "null", &why) ||
	    tgt_host_auth_set(tgt, AUTH_DH_HOSTNQN, AUTH_SECRET, AUTH_SECRET, "sha512", "ffdhe2048", &why))
		abort();
}

static void put_nqn(char *dst, unsigned sel, const uint8_t *raw, uint32_t raw_len, bool host)
{
	static const char *const subs[] = { FUZZ_NQN, NVME_DISC_SUBSYS_NQN, LOCKED_NQN, PORT2_NQN };
	static const char *const hosts[] = { FUZZ_HOSTNQN, OTHER_HOSTNQN, AUTH_HOSTNQN, AUTH_DH_HOSTNQN };

	memset(dst, 0, NVME_NQN_SIZE);
	if (host)
		sel = sel == 0 || sel == 1 ? sel : sel == 2 ? 4 : sel == 3 ? 5 : sel == 4 ? 6 : sel == 5 ? 7 : sel - 4;
	switch (sel) {
	case 0: case 1: case 2: case 3:
		strcpy(dst, host ? hosts[sel] : subs[sel]);
		break;
	case 4: /* empty */
		break;
	case 5: /* no terminator within the field */
		memset(dst, 'a', NVME_NQN_SIZE);
		memcpy(dst, "nqn.2026-11.io.tightrope:", 25);
		break;
	case 6: /* the longest that fits, and unknown */
		memset(dst, 'z', NVME_NQN_SIZE - 1);
		memcpy(dst, "nqn.2026-11.io.tightrope:", 25);
		break;
	default:
		memcpy(dst, raw, raw_len < NVME_NQN_SIZE ? raw_len : NVME_NQN_SIZE);
		break;
	}
}

static uint8_t byte_at(const uint8_t *data, uint32_t len, uint32_t i)
{
	return i < len ? data[i] : 0;
}

static void do_connect(struct conn *c, const uint8_t *rec_sqe, const uint8_t *data, uint32_t data_len,
		       unsigned mode)
{
	struct nvmf_connect_command cmd;
	struct nvmf_connect_data *d = (struct nvmf_connect_data *)c->connect_data;
	const uint8_t *raw = data_len > 21 ? data + 21 : zeros;
	uint32_t raw_len = data_len > 21 ? data_len - 21 : 0;
	uint8_t cntlid_sel = byte_at(data, data_len, 2);
	uint16_t raw_cntlid = (uint16_t)(byte_at(data, data_len, 3) | byte_at(data, data_len, 4) << 8);
	uint32_t incapsule = 0;
	struct pending *p;
	int cid;

	memcpy(&cmd, rec_sqe, sizeof(cmd));
	cmd.opcode = nvme_admin_fabrics;
	cmd.fctype = nvmf_type_connect;
	memset(d, 0, sizeof(*d));
	for (int i = 0; i < 16; i++)
		d->hostid[i] = byte_at(data, data_len, 5 + (uint32_t)i);
	switch (cntlid_sel) {
	case 0:
		d->cntlid = cmd.qid == 0 ? NVME_CNTLID_DYNAMIC : last_cntlid;
		break;
	case 1:
		d->cntlid = last_cntlid;
		break;
	case 2:
		d->cntlid = NVME_CNTLID_DYNAMIC;
		break;
	case 3:
		d->cntlid = raw_cntlid;
		break;
	default:
		d->cntlid = (uint16_t)(last_cntlid + (int8_t)raw_cntlid);
		break;
	}
	put_nqn(d->subsysnqn, byte_at(data, data_len, 0) & 7, raw, raw_len, false);
	put_nqn(d->hostnqn, byte_at(data, data_len, 1) & 7, raw, raw_len, true);
	switch (mode) {
	case 0:
		set_sgl((struct nvme_command *)&cmd, NVME_SGL_DATA_BLOCK_OFFSET, sizeof(*d));
		incapsule = sizeof(*d);
		break;
	case 1:
		set_sgl((struct nvme_command *)&cmd, NVME_SGL_TRANSPORT_DATA_BLOCK, sizeof(*d));
		break;
	case 2:
		if (cmd.dptr.type == NVME_SGL_DATA_BLOCK_OFFSET)
			incapsule = cmd.dptr.length > 3 * TGT_ADMIN_INLINE_DATA_SIZE ? 3 * TGT_ADMIN_INLINE_DATA_SIZE
										  : cmd.dptr.length;
		break;
	default:
		incapsule = sizeof(*d);
		break;
	}
	if (c->fd < 0)
		conn_open((int)(c - conns));
	cid = submit(c, (struct nvme_command *)&cmd, c->connect_data, sizeof(*d), incapsule, false);
	if (cid < 0 || !wait_cmd(c, (uint16_t)cid))
		return;
	p = pending_find(c, (uint16_t)cid);
	if (p->status != NVME_SC_SUCCESS)
		return;
	c->connected = true;
	c->qid = cmd.qid;
	c->sqflow_off = cmd.cattr & NVMF_TREQ_DISABLE_SQFLOW;
	if (cmd.qid == 0)
		last_cntlid = (uint16_t)p->result;
}

/* ---- Namespaces ---- */

/* Before a namespace change: the target has taken in everything sent so far, so whether a parked
 * AER gets the event does not depend on thread timing. AERs are not answered before an event:
 * a Keep Alive behind them on their queue marks that the target has read them. */
static void barrier(void)
{
	pump(CMD_WAIT_MS, all_done, NULL);
	for (int i = 0; i < NR_SLOTS; i++) {
		struct conn *c = &conns[i];
		struct nvme_command ka = { .opcode = nvme_admin_keep_alive };
		bool parked = false;
		int cid;

		for (int j = 0; c->fd >= 0 && j < MAX_PENDING; j++)
			parked |= c->pend[j].used && !c->pend[j].done && c->pend[j].opcode == nvme_admin_async_event;
		if (parked && (cid = submit(c, &ka, NULL, 0, 0, false)) >= 0)
			wait_cmd(c, (uint16_t)cid);
	}
}

static int ns_add(struct ns_spec *n)
{
	struct tgt_ns_params p = { .path = n->path, .nsid = n->nsid, .readonly = n->readonly,
				   .lba_size = n->lba_size, .anagrpid = n->anagrpid };

	return tgt_subsys_add_ns(subsys_fuzz, &p) == (int)n->nsid ? 0 : -1;
}

static void ns_toggle(struct ns_spec *n)
{
	if (n->present) {
		if (tgt_subsys_remove_ns(subsys_fuzz, n->nsid))
			abort();
	} else if (ns_add(n)) {
		abort();
	}
	n->present = !n->present;
	if (trace)
		fprintf(stderr, "namespace %u %s\n", n->nsid, n->present ? "added" : "removed");
}

/* An ANA change on a port, as `tightrope ctl set-ana` makes it: events, the log, I/O statuses. */
static void ana_change(const uint8_t *sqe)
{
	static const enum nvme_ana_state states[] = { NVME_ANA_OPTIMIZED, NVME_ANA_NONOPTIMIZED, NVME_ANA_INACCESSIBLE,
						      NVME_ANA_PERSISTENT_LOSS, NVME_ANA_CHANGE };

	if (tgt_ana_set(tgt, sqe[1] & 3, sqe[2] % 3 + 1u, states[sqe[3] % 5]))
		abort();
	if (trace)
		fprintf(stderr, "port %u: ANA group %u %s\n", sqe[1] & 3, sqe[2] % 3 + 1u,
			tgt_ana_state_name(states[sqe[3] % 5]));
}

/* Every port back to its first ANA states (group 1 optimized, the others inaccessible). */
static void ana_reset(void)
{
	for (int p = 0; p <= TGT_MAX_PORTID; p++)
		for (int g = 0; g <= TGT_MAX_ANAGRPS; g++)
			atomic_store(&tgt->ana_state[p][g], 0);
}

/* ---- Between inputs ---- */

static bool target_quiet(void)
{
	struct tgt_subsys *all[] = { subsys_fuzz, subsys_locked, subsys_port2, tgt->discovery };
	bool quiet = true;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]) && quiet; i++) {
		pthread_mutex_lock(&all[i]->lock);
		quiet = all[i]->ctrls == NULL;
		pthread_mutex_unlock(&all[i]->lock);
	}
	for (int i = 0; i < tgt->nr_workers && quiet; i++) {
		struct tgt_worker *w = &tgt->workers[i];

		/* Worker-local fields, read from here only to learn that the worker went idle. */
		quiet = !__atomic_load_n(&w->queues, __ATOMIC_ACQUIRE) &&
			!__atomic_load_n(&w->ring_inflight, __ATOMIC_ACQUIRE) &&
			!__atomic_load_n(&w->ring_pending, __ATOMIC_ACQUIRE);
		pthread_mutex_lock(&w->mbox_lock);
		quiet = quiet && !w->mbox;
		pthread_mutex_unlock(&w->mbox_lock);
	}
	return quiet;
}

static void zero_ram(struct tgt_subsys *s)
{
	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 1; i <= TGT_MAX_NSID; i++) {
		if (s->ns[i] && s->ns[i]->mem && !s->ns[i]->readonly)
			madvise(s->ns[i]->mem, s->ns[i]->size, MADV_DONTNEED); /* reads as zeros again */
	}
	pthread_mutex_unlock(&s->lock);
}

/* Close everything, wait until the target has let go of it all, and put its state back. */
static void end_input(void)
{
	struct tgt_subsys *all[] = { subsys_fuzz, subsys_locked, subsys_port2, tgt->discovery };
	uint64_t deadline;

	for (int i = 0; i < NR_SLOTS; i++)
		conn_close(&conns[i]);
	deadline = tr_now_ms() + QUIET_WAIT_MS;
	while (!target_quiet()) {
		if (tr_now_ms() > deadline) {
			fprintf(stderr, "\n==fuzz_target_cmds== TARGET BUG: %d s after every connection closed, "
				"a controller, queue or backend I/O is still alive\n", QUIET_WAIT_MS / 1000);
			abort();
		}
		usleep(50);
	}
	for (size_t i = 0; i < sizeof(ns_specs) / sizeof(ns_specs[0]); i++) {
		if (ns_specs[i].present != ns_specs[i].initial)
			ns_toggle(&ns_specs[i]);
	}
	if (wrote) {
		zero_ram(subsys_fuzz);
		zero_ram(subsys_locked);
		zero_ram(subsys_port2);
		if (ftruncate(file_fd, 0) || ftruncate(file_fd, FILE_NS_SIZE))
			abort();
	}
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		pthread_mutex_lock(&all[i]->lock);
		all[i]->next_cntlid = 1;
		pthread_mutex_unlock(&all[i]->lock);
	}
	auth_hosts_reset(); /* their failure counts too: the next input must not find them locked out */
	ana_reset();
}

/* ---- The controller slot 0 starts with ---- */

static void setup_slot0(enum setup mode)
{
	struct conn *c = &conns[0];
	uint8_t sqe[64] = { 0 }, cdata[21] = { 0 };
	struct nvmf_connect_command *cc = (struct nvmf_connect_command *)sqe;
	struct nvmf_property_command *ps = (struct nvmf_property_command *)sqe;
	struct nvme_command *sf = (struct nvme_command *)sqe;

	cc->sqsize = 31;
	cc->kato = mode == SETUP_DISCOVERY ? 0 : 30000;
	cdata[0] = mode == SETUP_DISCOVERY ? 1 : 0;
	do_connect(c, sqe, cdata, sizeof(cdata), 0);
	if (!c->connected || mode == SETUP_DISABLED)
		return;
	memset(sqe, 0, sizeof(sqe));
	ps->opcode = nvme_admin_fabrics;
	ps->fctype = nvmf_type_property_set;
	ps->offset = NVME_REG_CC;
	ps->value = NVME_CC_ENABLE | (6 << 16) | (4 << 20);
	do_cmd(c, sqe, NULL, 0, 0, false, false);
	if (mode == SETUP_DISCOVERY)
		return;
	memset(sqe, 0, sizeof(sqe));
	sf->opcode = nvme_admin_set_features;
	sf->cdw10 = NVME_FEAT_NUM_QUEUES;
	sf->cdw11 = 3 | (3 << 16);
	do_cmd(c, sqe, NULL, 0, 0, false, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t chunks[] = { 0, 4096, 1536, 512 };
	static const uint8_t hpdas[] = { 0, 1, 3, 31 };
	static struct tgt_listener *const lsn[] = { NULL, &listeners[0], &listeners[1], &listeners[2] };
	size_t off = HDR_LEN;

	if (size < HDR_LEN)
		return 0;
	hdgst = data[0] & 1;
	ddgst = data[0] & 2;
	listener = lsn[(data[0] >> 4) & 3];
	second_worker = data[0] & 0x40;
	h2c_chunk = chunks[data[1] & 3];
	hpda = hpdas[(data[1] >> 2) & 3];
	next_cid = 0;
	last_cntlid = 0;
	wrote = false;
	if ((enum setup)((data[0] >> 2) & 3) != SETUP_NONE)
		setup_slot0((enum setup)((data[0] >> 2) & 3));

	while (size - off >= REC_HDR) {
		uint8_t kind = data[off];
		const uint8_t *sqe = data + off + 1;
		uint32_t len = (uint32_t)data[off + 65] | (uint32_t)data[off + 66] << 8;
		const uint8_t *payload = data + off + REC_HDR;
		struct conn *c = &conns[(kind >> 3) & 3];
		unsigned mode = (kind >> 5) & 3;

		off += REC_HDR;
		if (len > size - off)
			len = (uint32_t)(size - off);
		off += len;
		if (trace && (kind & 7) != ACT_CMD && (kind & 7) != ACT_CMD2 && (kind & 7) != ACT_CMD_BAD_DDGST)
			fprintf(stderr, "slot %d: %s\n", (int)(c - conns),
				(const char *const[]){ "", "OPEN", "CONNECT", "CLOSE", "NS", "SYNC" }[kind & 7]);
		switch ((enum action)(kind & 7)) {
		case ACT_CMD:
		case ACT_CMD2:
		case ACT_CMD_BAD_DDGST:
			do_cmd(c, sqe, payload, len, mode, kind & 0x80, (kind & 7) == ACT_CMD_BAD_DDGST);
			break;
		case ACT_OPEN:
			conn_open((int)(c - conns));
			break;
		case ACT_CONNECT:
			do_connect(c, sqe, payload, len, mode);
			break;
		case ACT_CLOSE:
			conn_close(c);
			break;
		case ACT_NS:
			barrier();
			if (sqe[0] & 0x80)
				ana_change(sqe);
			else
				ns_toggle(&ns_specs[sqe[0] & 3]);
			break;
		case ACT_SYNC:
			pump(CMD_WAIT_MS, all_done, NULL);
			break;
		}
	}
	/* Let what was pipelined finish, so its answers are checked too; then tear it all down. */
	pump(DRAIN_WAIT_MS, all_done, NULL);
	end_input();
	return 0;
}

/* Seeds go into the first corpus directory when it is empty; never in merge or crash modes, nor in
 * a -fork job, whose directory is a scratch one. */
static void maybe_write_seeds(int argc, char **argv)
{
	const char *dir = NULL;
	struct stat st;
	struct dirent *e;
	DIR *d;

	if (getenv("FUZZ_NO_SEEDS"))
		return;
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-') {
			if (strstr(argv[i], "merge") || strstr(argv[i], "minimize") || strstr(argv[i], "cleanse") ||
			    strstr(argv[i], "seed_inputs"))
				return;
			continue;
		}
		if (!dir)
			dir = argv[i];
	}
	if (!dir || stat(dir, &st) || !S_ISDIR(st.st_mode) || !(d = opendir(dir)))
		return;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			closedir(d);
			return;
		}
	}
	closedir(d);
	fuzz_cmds_write_seeds(dir);
}

static enum tr_log_level log_level_from_env(void)
{
	const char *v = getenv("FUZZ_LOG");

	if (!v)
		return TR_LOG_ERR;
	if (!strcmp(v, "debug"))
		return TR_LOG_DEBUG;
	return !strcmp(v, "info") ? TR_LOG_INFO : TR_LOG_WARN;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const struct tgt_ns_params small_ns = { .path = "mem:64K", .nsid = 1 };
	struct tgt_ns_params ro_ns = { .path = "mem:64K", .nsid = 2, .readonly = true };
	const char *tmp = getenv("TMPDIR");
	char tmpl[4096];
	sigset_t alrm;

	tr_log_set_level(log_level_from_env());
	trace = getenv("FUZZ_TRACE") != NULL;
	for (int i = 0; i < NR_SLOTS; i++)
		conns[i].fd = -1;

	/* The file namespace: a temporary file on a disk file system (so that O_DIRECT through io_uring
	 * is what runs), unlinked at once and opened by the target as /proc/self/fd/N, also when an NS
	 * record adds it again; nothing is left behind whichever way the process ends. */
	snprintf(tmpl, sizeof(tmpl), "%s/fuzz-target-cmds-XXXXXX", tmp && *tmp ? tmp : "/var/tmp");
	file_fd = mkstemp(tmpl);
	if (file_fd < 0 || unlink(tmpl) || ftruncate(file_fd, FILE_NS_SIZE))
		abort();
	snprintf(file_path, sizeof(file_path), "/proc/self/fd/%d", file_fd);

	/* The workers inherit a mask without SIGALRM, so libFuzzer's -timeout alarm reaches the fuzzing
	 * thread (it ignores the signal on any other) even while a worker is stuck. */
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &alrm, NULL);
	if (tgt_init(2))
		abort();
	pthread_sigmask(SIG_UNBLOCK, &alrm, NULL);
	subsys_fuzz = tgt_subsys_create(FUZZ_NQN, NULL, NULL);
	subsys_locked = tgt_subsys_create(LOCKED_NQN, NULL, NULL);
	subsys_port2 = tgt_subsys_create(PORT2_NQN, NULL, NULL);
	if (!subsys_fuzz || !subsys_locked || !subsys_port2)
		abort();
	for (size_t i = 0; i < sizeof(ns_specs) / sizeof(ns_specs[0]); i++) {
		if (ns_specs[i].initial && ns_add(&ns_specs[i]))
			abort();
	}
	if (tgt_subsys_add_ns(subsys_fuzz, &ro_ns) != 2 || tgt_subsys_add_ns(subsys_locked, &small_ns) != 1 ||
	    tgt_subsys_add_ns(subsys_port2, &small_ns) != 1 || tgt_subsys_allow_host(subsys_locked, FUZZ_HOSTNQN))
		abort();
	subsys_port2->port_mask = 1u << 2;

	/* Listeners as the discovery log and Connect see them; nothing accepts on them (fd -1): the
	 * harness hands its socketpairs to the workers itself, naming one of these as the port. */
	listeners[0] = (struct tgt_listener){ .fd = -1, .portid = 1, .traddr = "192.0.2.1", .trsvcid = "4420" };
	listeners[1] = (struct tgt_listener){ .fd = -1, .portid = 2, .traddr = "::", .trsvcid = "4420", .ipv6 = true };
	listeners[2] = (struct tgt_listener){ .fd = -1, .portid = 3, .traddr = "0.0.0.0", .trsvcid = "8009",
					      .discovery_only = true };
	pthread_mutex_lock(&tgt->lock);
	listeners[0].next = &listeners[1];
	listeners[1].next = &listeners[2];
	tgt->listeners = &listeners[0];
	pthread_mutex_unlock(&tgt->lock);

	auth_hosts_reset();
	maybe_write_seeds(*argc, *argv);
	return 0;
}
