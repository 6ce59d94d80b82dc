/* Setting a host queue up: the TCP connection (with a deadline), the ICReq/ICResp exchange and
 * the Fabrics Connect, each failure told in words an operator can check against the target. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host/queue.h"
#include "transport/tls.h"
#include "util/clock.h"
#include "util/log.h"

static int tcp_connect(const char *addr, const char *port, int timeout_ms, char *peer, size_t peerlen,
		       char *why, size_t whylen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *res, *ai;
	int fd = -1, err, one = 1;

	err = getaddrinfo(addr, port, &hints, &res);
	if (err) {
		snprintf(why, whylen, "cannot resolve %s:%s: %s", addr, port, gai_strerror(err));
		return -EHOSTUNREACH;
	}
	err = -ECONNREFUSED;
	for (ai = res; ai; ai = ai->ai_next) {
		struct pollfd pfd;
		socklen_t sl = sizeof(err);
		int soerr = 0;

		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			err = -errno;
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS) {
			err = -errno;
		} else {
			pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
			if (poll(&pfd, 1, timeout_ms) <= 0)
				err = -ETIMEDOUT;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) || soerr)
				err = -(soerr ? soerr : errno);
			else
				err = 0;
		}
		if (err == 0)
			break;
		close(fd);
		fd = -1;
	}
	if (fd >= 0) {
		snprintf(peer, peerlen, "%s%s%s:%s", strchr(addr, ':') ? "[" : "", addr, strchr(addr, ':') ? "]" : "",
			 port);
	} else {
		snprintf(why, whylen, "connect to %s:%s: %s", addr, port,
			 err == -ETIMEDOUT ? "timed out" : err == -ECONNREFUSED ? "connection refused" : strerror(-err));
	}
	freeaddrinfo(res);
	return fd >= 0 ? fd : err;
}

/* Blocking-with-deadline exchanges used only during queue setup, on the socket or through its TLS
 * session (which may hold decrypted bytes no poll announces: it is read before waiting). */
static int wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	return poll(&pfd, 1, tr_ms_until(deadline)) > 0 ? 0 : -ETIMEDOUT;
}

static int recv_full(struct hq *q, void *buf, size_t len, uint64_t deadline)
{
	size_t got = 0;

	while (got < len) {
		uint8_t *p = (uint8_t *)buf + got;
		ssize_t n = q->conn.tls ? ntls_recv(q->conn.tls, p, len - got) : recv(q->fd, p, len - got, MSG_DONTWAIT);

		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		if (wait_fd(q->fd, POLLIN, deadline))
			return -ETIMEDOUT;
	}
	return 0;
}

static int send_full(struct hq *q, const void *buf, size_t len, uint64_t deadline)
{
	size_t sent = 0;

	while (sent < len || (q->conn.tls && ntls_send_pending(q->conn.tls))) {
		struct iovec iov = { .iov_base = (uint8_t *)buf + sent, .iov_len = len - sent };
		ssize_t n;

		if (!q->conn.tls)
			n = send(q->fd, iov.iov_base, iov.iov_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		else if (sent < len)
			n = ntls_sendv(q->conn.tls, &iov, 1);
		else
			n = ntls_flush(q->conn.tls);
		if (n > 0)
			sent += (size_t)n;
		else if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		else if ((n < 0 || sent < len) && wait_fd(q->fd, POLLOUT, deadline))
			return -ETIMEDOUT;
	}
	return 0;
}

/* TLS 1.3 with the queue's PSK, before anything NVMe/TCP is said. */
static int tls_handshake(struct hq *q, const struct ntls_psk *psk, uint64_t deadline, char *why, size_t whylen)
{
	struct ntls *t = ntls_client_new(q->fd, psk);
	int err;

	if (!t) {
		snprintf(why, whylen, "out of memory for a TLS session");
		return -ENOMEM;
	}
	while ((err = ntls_handshake(t)) == -EAGAIN) {
		if (wait_fd(q->fd, ntls_wants_write(t) ? POLLOUT : POLLIN, deadline)) {
			err = -ETIMEDOUT;
			break;
		}
	}
	if (err) {
		snprintf(why, whylen, "TLS handshake with %s (identity \"%s\"): %s", q->peer, psk->identity,
			 err == -ETIMEDOUT ? "timed out" : ntls_why(t));
		ntls_free(t);
		return err;
	}
	q->conn.tls = t;
	tr_debug("queue %u to %s: TLS 1.3, %s%s", q->qid, q->peer, ntls_cipher(t), ntls_ktls(t) ? ", kernel TLS" : "");
	return 0;
}

/* Why an ICResp field is unacceptable, in terms an operator can check against the target. */
static const char *icresp_rule(uint32_t offset)
{
	switch (offset) {
	case offsetof(struct nvme_tcp_icresp_pdu, pfv): return "only 0, NVMe/TCP 1.0, is supported";
	case offsetof(struct nvme_tcp_icresp_pdu, cpda): return "this host supports no data alignment, CPDA 0";
	case offsetof(struct nvme_tcp_icresp_pdu, digest): return "the digests granted differ from those asked for";
	case offsetof(struct nvme_tcp_icresp_pdu, maxdata): return "must be at least 4096 and a multiple of 4";
	default: return "invalid";
	}
}

static uint32_t icresp_field_value(const struct nvme_tcp_icresp_pdu *icresp, uint32_t offset)
{
	switch (offset) {
	case offsetof(struct nvme_tcp_icresp_pdu, pfv): return icresp->pfv;
	case offsetof(struct nvme_tcp_icresp_pdu, cpda): return icresp->cpda;
	case offsetof(struct nvme_tcp_icresp_pdu, digest): return icresp->digest;
	case offsetof(struct nvme_tcp_icresp_pdu, maxdata): return icresp->maxdata;
	default: return 0;
	}
}

static int icreq_exchange(struct hq *q, const struct hq_params *p, char *why, size_t whylen)
{
	uint64_t deadline = tr_now_ns() + (uint64_t)p->connect_timeout_ms * 1000000ull;
	struct nvme_tcp_icreq_pdu icreq;
	union {
		struct nvme_tcp_icresp_pdu icresp;
		struct nvme_tcp_term_pdu term;
		uint8_t raw[128 + NVME_TCP_TERM_MAX_DATA];
	} in;
	struct nvmf_tcp_pdu_layout layout;
	struct nvmf_tcp_fatal fatal;
	char what[128];
	int err;

	nvmf_tcp_icreq_encode(&icreq, p->hdgst, p->ddgst, 0);
	err = send_full(q, &icreq, sizeof(icreq), deadline);
	if (!err)
		err = recv_full(q, in.raw, sizeof(struct nvme_tcp_hdr), deadline);
	if (err) {
		snprintf(why, whylen, "ICReq to %s: %s", q->peer, err == -ETIMEDOUT ? "timed out" : strerror(-err));
		return err;
	}
	if (nvmf_tcp_pdu_decode(&in.icresp.hdr, NVMF_TCP_SIDE_HOST, &q->conn.rx_framing, true, &layout, &fatal)) {
		hq_describe_bad_header(what, sizeof(what), &in.icresp.hdr, "", &fatal);
		snprintf(why, whylen, "%s answered ICReq with a %s", q->peer, what);
		return -EPROTO;
	}
	err = recv_full(q, in.raw + sizeof(struct nvme_tcp_hdr), layout.plen - sizeof(struct nvme_tcp_hdr),
			deadline);
	if (err) {
		snprintf(why, whylen, "ICResp from %s: %s", q->peer, strerror(-err));
		return err;
	}
	if (layout.type == nvme_tcp_c2h_term) {
		hq_describe_term(what, sizeof(what), &in.term, layout.plen);
		/* A port that requires TLS answers a plain ICReq so (the kernel's closes the connection). */
		snprintf(why, whylen, "%s refused ICReq with a %s%s", q->peer, what,
			 q->conn.tls ? "" : "; if the port requires TLS, connect with --tls-key");
		return -EPROTO;
	}
	if (nvmf_tcp_icresp_validate(&in.icresp, p->hdgst, p->ddgst, &fatal)) {
		const char *field = nvmf_tcp_field_name(nvme_tcp_icresp, fatal.fei);

		snprintf(why, whylen, "%s: bad %s %u in ICResp (%s)", q->peer, field ? field : "field",
			 icresp_field_value(&in.icresp, fatal.fei), icresp_rule(fatal.fei));
		return -EPROTO;
	}
	q->maxh2cdata = in.icresp.maxdata;
	q->tx.pda = in.icresp.cpda;
	return 0;
}

struct hq *hq_open(const struct hq_params *p, char *why, size_t whylen)
{
	char peer[sizeof(((struct hq *)NULL)->peer)] = "";
	int fd = tcp_connect(p->traddr, p->trsvcid, (int)p->connect_timeout_ms, peer, sizeof(peer), why, whylen);
	struct hq *q;

	if (fd < 0)
		return NULL;
	q = hq_attach(p, fd, 0);
	if (!q) {
		close(fd);
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	memcpy(q->peer, peer, sizeof(q->peer));
	if ((p->tls && tls_handshake(q, p->tls, tr_now_ns() + (uint64_t)p->connect_timeout_ms * 1000000ull, why,
				     whylen)) ||
	    icreq_exchange(q, p, why, whylen) != 0) {
		hq_close(q);
		return NULL;
	}
	return q;
}

int hq_fabrics_connect(struct hq *q, const char *subnqn, const char *hostnqn, const uint8_t hostid[16],
		       uint16_t cntlid_in, uint32_t kato_ms, uint8_t cattr, uint32_t *result, char *why, size_t whylen)
{
	struct nvmf_connect_command c = { .opcode = nvme_admin_fabrics, .fctype = nvmf_type_connect,
					  .qid = q->qid, .sqsize = (uint16_t)(q->depth - 1), .cattr = cattr,
					  .kato = kato_ms };
	struct nvmf_connect_data d = { .cntlid = cntlid_in };
	struct nvme_completion cqe = { 0 };
	uint32_t saved_inline = q->inline_max;
	int status;

	memcpy(d.hostid, hostid, 16);
	snprintf(d.subsysnqn, sizeof(d.subsysnqn), "%s", subnqn);
	snprintf(d.hostnqn, sizeof(d.hostnqn), "%s", hostnqn);
	q->inline_max = sizeof(d); /* Connect data always travels in the capsule */
	status = hq_exec(q, (struct nvme_command *)&c, &d, sizeof(d), &cqe);
	q->inline_max = saved_inline;
	if (status < 0) {
		snprintf(why, whylen, "Connect to %s: %s", q->peer, q->why[0] ? q->why : strerror(-status));
		return status;
	}
	if (status) {
		uint32_t ipo = (uint32_t)cqe.result & 0xffff;
		uint16_t sc = nvme_status_code((uint16_t)status);
		const char *what = "refused";

		if (sc == NVME_SC_CONNECT_INVALID_HOST)
			what = "host not allowed";
		else if (sc == NVME_SC_CONNECT_INVALID_PARAM && ipo == offsetof(struct nvmf_connect_data, subsysnqn))
			what = "no such subsystem";
		else if (sc == NVME_SC_CONNECT_INVALID_PARAM && ipo == offsetof(struct nvmf_connect_data, cntlid))
			what = "no such controller";
		else if (sc == NVME_SC_CONNECT_INVALID_PARAM && ipo == offsetof(struct nvmf_connect_data, hostnqn))
			what = "host NQN refused";
		snprintf(why, whylen, "Connect to %s (%s, queue %u): %s (status %#x: %s)", q->peer, subnqn, q->qid, what,
			 status, tr_status_str(status));
		return status;
	}
	*result = (uint32_t)cqe.result;
	return 0;
}
