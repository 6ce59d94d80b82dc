/* The NVMe/TCP connection engine shared by target and host: one function per receive state, a
 * running data digest, and a send ring flushed with as few sendmsg calls as the socket allows. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "transport/tcp_conn.h"
#include "transport/tls.h"

#define TX_BATCH_IOV 128 /* iovecs gathered per sendmsg when the ring wraps */
#define RXBUF_ALIGN 4096

int ntcp_conn_init(struct ntcp_conn *c, int fd, enum nvmf_tcp_side side, const struct ntcp_conn_ops *ops,
		   void *owner, uint32_t rxbuf_size, uint32_t tx_cap)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->side = side;
	c->ops = ops;
	c->owner = owner;
	c->before_ic = true;
	c->rx_state = NTCP_RX_HDR;
	c->rx_hold = NTCP_GO;
	c->rxbuf_size = rxbuf_size;
	/* Page-aligned on purpose: how data copied from here lines up with a page-aligned destination
	 * decides the speed of glibc's memcpy (its ERMS variant). From a malloc'd buffer, copies ran at
	 * a fraction of it on this machine and 128 KiB reads through the host fell from 5.4 to 3-4 GiB/s;
	 * page-aligned, they run as fast as before the shared engine (bench/RESULTS.md). */
	if (rxbuf_size && posix_memalign((void **)&c->rxbuf, RXBUF_ALIGN, rxbuf_size))
		c->rxbuf = NULL;
	c->tx_cap = tx_cap;
	c->tx_iov = calloc(tx_cap, sizeof(*c->tx_iov));
	c->tx_cookie = calloc(tx_cap, sizeof(*c->tx_cookie));
	if ((rxbuf_size && !c->rxbuf) || !c->tx_iov || !c->tx_cookie) {
		ntcp_conn_destroy(c);
		return -ENOMEM;
	}
	return 0;
}

void ntcp_conn_destroy(struct ntcp_conn *c)
{
	free(c->rxbuf);
	free(c->tx_iov);
	free(c->tx_cookie);
	c->rxbuf = NULL;
	c->tx_iov = NULL;
	c->tx_cookie = NULL;
	c->tx_cap = c->tx_count = 0;
}

/* ---- Receive: one function per state, each consuming what it can of p[0, avail) ---- */

static void rx_expect_header(struct ntcp_conn *c)
{
	c->rx_state = NTCP_RX_HDR;
	c->rx_have = 0;
	c->rx_dst = NULL;
}

void ntcp_rx_data_to(struct ntcp_conn *c, void *dst)
{
	c->rx_dst = dst;
}

uint32_t ntcp_rx_data_received(const struct ntcp_conn *c)
{
	switch (c->rx_state) {
	case NTCP_RX_DATA: return c->rx_layout.data_len - c->rx_left;
	case NTCP_RX_DDGST: return c->rx_layout.data_len;
	default: return 0;
	}
}

static void rx_hold(struct ntcp_conn *c, enum ntcp_verdict v)
{
	c->rx_hold = v;
}

/* All of the PDU's data (and its digest) is in: ready for the next header first, since the owner
 * may act on the connection from the callback. */
static void rx_data_done(struct ntcp_conn *c, bool digest_ok)
{
	rx_expect_header(c);
	rx_hold(c, c->ops->rx_data_done(c, digest_ok));
}

/* Hand a complete header to the owner, then set up for its data, if any. */
static void rx_deliver_header(struct ntcp_conn *c)
{
	enum ntcp_verdict v;

	c->rx_dst = NULL;
	v = c->ops->rx_header(c, c->rx_hdr, &c->rx_layout);
	rx_hold(c, v);
	if (v != NTCP_GO)
		return;
	if (!c->rx_layout.data_len) {
		rx_expect_header(c);
		return;
	}
	c->rx_crc = NVMF_TCP_DIGEST_INIT;
	c->rx_state = c->rx_layout.pad ? NTCP_RX_PAD : NTCP_RX_DATA;
	c->rx_left = c->rx_layout.pad ? c->rx_layout.pad : c->rx_layout.data_len;
}

static void rx_bad_header(struct ntcp_conn *c, uint16_t fes, uint32_t fei)
{
	struct nvmf_tcp_fatal fatal = { .fes = fes, .fei = fei };

	rx_hold(c, NTCP_STOP);
	c->ops->rx_bad_header(c, &fatal);
}

static uint32_t rx_header_bytes(struct ntcp_conn *c, const uint8_t *p, uint32_t avail)
{
	uint32_t want = c->rx_have < sizeof(struct nvme_tcp_hdr) ? sizeof(struct nvme_tcp_hdr) : c->rx_layout.hdr_total;
	uint32_t take = want - c->rx_have < avail ? want - c->rx_have : avail;
	struct nvmf_tcp_fatal fatal;

	memcpy(c->rx_hdr + c->rx_have, p, take);
	c->rx_have += take;
	if (c->rx_have == sizeof(struct nvme_tcp_hdr) && want == sizeof(struct nvme_tcp_hdr) &&
	    nvmf_tcp_pdu_decode((const struct nvme_tcp_hdr *)c->rx_hdr, c->side, &c->rx_framing, c->before_ic,
				&c->rx_layout, &fatal)) {
		rx_bad_header(c, fatal.fes, fatal.fei);
		return take;
	}
	if (c->rx_have < sizeof(struct nvme_tcp_hdr) || c->rx_have < c->rx_layout.hdr_total)
		return take;
	if (c->rx_layout.hdr_total > c->rx_layout.hlen && !nvmf_tcp_hdgst_ok(c->rx_hdr, c->rx_layout.hlen)) {
		rx_bad_header(c, NVME_TCP_FES_HDR_DIGEST_ERR, 0);
		return take;
	}
	rx_deliver_header(c);
	return take;
}

static uint32_t rx_pad_bytes(struct ntcp_conn *c, uint32_t avail)
{
	uint32_t take = c->rx_left < avail ? c->rx_left : avail;

	c->rx_left -= take;
	if (c->rx_left == 0) {
		c->rx_state = NTCP_RX_DATA;
		c->rx_left = c->rx_layout.data_len;
	}
	return take;
}

/* Data bytes; p may already be where they belong (received straight into the owner's buffer). */
static uint32_t rx_data_bytes(struct ntcp_conn *c, const uint8_t *p, uint32_t avail)
{
	uint32_t take = c->rx_left < avail ? c->rx_left : avail;

	if (c->rx_dst) {
		if (p != c->rx_dst)
			memcpy(c->rx_dst, p, take);
		c->rx_dst += take;
	}
	if (c->rx_layout.ddgst_len)
		c->rx_crc = nvmf_tcp_digest_update(c->rx_crc, p, take);
	c->rx_left -= take;
	if (c->rx_left)
		return take;
	if (c->rx_layout.ddgst_len) {
		c->rx_state = NTCP_RX_DDGST;
		c->rx_left = NVME_TCP_DIGEST_LEN;
	} else {
		rx_data_done(c, true);
	}
	return take;
}

static uint32_t rx_ddgst_bytes(struct ntcp_conn *c, const uint8_t *p, uint32_t avail)
{
	uint32_t take = c->rx_left < avail ? c->rx_left : avail;
	uint32_t got;

	memcpy(c->rx_ddgst + NVME_TCP_DIGEST_LEN - c->rx_left, p, take);
	c->rx_left -= take;
	if (c->rx_left == 0) {
		memcpy(&got, c->rx_ddgst, sizeof(got));
		rx_data_done(c, got == nvmf_tcp_digest_final(c->rx_crc));
	}
	return take;
}

static uint32_t rx_step(struct ntcp_conn *c, const uint8_t *p, uint32_t avail)
{
	switch (c->rx_state) {
	case NTCP_RX_HDR: return rx_header_bytes(c, p, avail);
	case NTCP_RX_PAD: return rx_pad_bytes(c, avail);
	case NTCP_RX_DATA: return rx_data_bytes(c, p, avail);
	case NTCP_RX_DDGST: return rx_ddgst_bytes(c, p, avail);
	}
	return avail;
}

uint32_t ntcp_rx_feed(struct ntcp_conn *c, const uint8_t *p, uint32_t len)
{
	uint32_t used = 0;

	while (used < len && c->rx_hold == NTCP_GO)
		used += rx_step(c, p + used, len - used);
	return used;
}

/* Consume rxbuf[pos, len); keep what is left if the owner parks. */
static void rx_feed_buf(struct ntcp_conn *c, uint32_t pos, uint32_t len)
{
	pos += ntcp_rx_feed(c, c->rxbuf + pos, len - pos);
	c->rxbuf_pos = c->rx_hold == NTCP_PARK ? pos : 0;
	c->rxbuf_len = c->rx_hold == NTCP_PARK ? len : 0;
}

enum ntcp_verdict ntcp_rx_unpark(struct ntcp_conn *c)
{
	if (c->rx_hold != NTCP_PARK)
		return c->rx_hold;
	rx_hold(c, NTCP_GO);
	rx_deliver_header(c);
	if (c->rx_hold == NTCP_GO)
		rx_feed_buf(c, c->rxbuf_pos, c->rxbuf_len);
	return c->rx_hold;
}

static ssize_t conn_recv(struct ntcp_conn *c, void *buf, size_t len)
{
	return c->tls ? ntls_recv(c->tls, buf, len) : recv(c->fd, buf, len, MSG_DONTWAIT);
}

enum ntcp_rx_result ntcp_rx_pump(struct ntcp_conn *c, int max_rounds)
{
	/* Past the round limit, a TLS session may still hold decrypted bytes that no poll of the socket
	 * announces: those are read too (at most one record's worth). */
	for (int round = 0; round < max_rounds || (c->tls && ntls_recv_pending(c->tls)); round++) {
		ssize_t n;
		size_t asked;

		if (c->rx_hold != NTCP_GO)
			return NTCP_RX_HELD;
		if (c->rx_state == NTCP_RX_DATA && c->rx_dst && c->rx_left >= NTCP_RX_DIRECT_MIN) {
			asked = c->rx_left;
			n = conn_recv(c, c->rx_dst, asked);
			if (n > 0)
				ntcp_rx_feed(c, c->rx_dst, (uint32_t)n);
		} else {
			asked = c->rxbuf_size;
			n = conn_recv(c, c->rxbuf, asked);
			if (n > 0)
				rx_feed_buf(c, 0, (uint32_t)n);
		}
		/* A short read emptied the socket: stop without the recv that would say EAGAIN, one syscall
		 * less per wake-up, which at QD1 sits between the command and its reply. The owners wait
		 * level-triggered (epoll without EPOLLET, poll), so bytes that came meanwhile still wake them.
		 * A TLS session reads records, not what the socket holds: it reads on. */
		if (n > 0 && ((size_t)n == asked || c->tls))
			continue;
		if (n > 0)
			return c->rx_hold != NTCP_GO ? NTCP_RX_HELD : NTCP_RX_IDLE;
		if (n == 0)
			return NTCP_RX_EOF;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return NTCP_RX_IDLE;
		if (errno == EINTR)
			continue;
		c->rx_errno = errno;
		return NTCP_RX_ERROR;
	}
	return c->rx_hold != NTCP_GO ? NTCP_RX_HELD : NTCP_RX_BUSY;
}

/* ---- Send ---- */

int ntcp_tx_push(struct ntcp_conn *c, const void *base, size_t len, void *cookie)
{
	uint32_t slot;

	if (cookie && !c->ops->tx_release)
		return -EINVAL;
	if (c->tx_count == c->tx_cap)
		return -ENOBUFS;
	slot = (c->tx_head + c->tx_count) % c->tx_cap;
	c->tx_iov[slot] = (struct iovec){ .iov_base = (void *)base, .iov_len = len };
	c->tx_cookie[slot] = cookie;
	c->tx_count++;
	return 0;
}

/* Retire `sent` bytes from the head of the ring, releasing entries that are wholly on the wire. */
static void tx_advance(struct ntcp_conn *c, size_t sent)
{
	while (c->tx_count && (sent > 0 || c->tx_iov[c->tx_head].iov_len == 0)) {
		struct iovec *v = &c->tx_iov[c->tx_head];
		void *cookie = c->tx_cookie[c->tx_head];

		if (sent < v->iov_len) {
			v->iov_base = (uint8_t *)v->iov_base + sent;
			v->iov_len -= sent;
			return;
		}
		sent -= v->iov_len;
		c->tx_head = (c->tx_head + 1) % c->tx_cap;
		c->tx_count--;
		if (cookie)
			c->ops->tx_release(c, cookie);
	}
}

static ssize_t conn_send(struct ntcp_conn *c, struct msghdr *msg)
{
	if (c->tls)
		return ntls_sendv(c->tls, msg->msg_iov, (int)msg->msg_iovlen);
	return sendmsg(c->fd, msg, MSG_DONTWAIT | MSG_NOSIGNAL);
}

bool ntcp_tx_pending(const struct ntcp_conn *c)
{
	return c->tx_count != 0 || (c->tls && ntls_send_pending(c->tls));
}

int ntcp_tx_flush(struct ntcp_conn *c)
{
	if (c->tls && ntls_flush(c->tls))
		return errno == EAGAIN ? -EAGAIN : -errno;
	while (c->tx_count) {
		struct iovec batch[TX_BATCH_IOV];
		struct msghdr msg = { 0 };
		uint32_t n = c->tx_count;
		ssize_t sent;

		if (c->tx_head + n <= c->tx_cap) { /* contiguous: send from the ring itself */
			msg.msg_iov = &c->tx_iov[c->tx_head];
			n = n < IOV_MAX ? n : IOV_MAX;
		} else {
			n = n < TX_BATCH_IOV ? n : TX_BATCH_IOV;
			for (uint32_t i = 0; i < n; i++)
				batch[i] = c->tx_iov[(c->tx_head + i) % c->tx_cap];
			msg.msg_iov = batch;
		}
		msg.msg_iovlen = n;
		sent = conn_send(c, &msg);
		if (sent < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return -EAGAIN;
			if (errno == EINTR)
				continue;
			return -errno;
		}
		tx_advance(c, (size_t)sent);
	}
	/* The ring is empty; what the TLS session took goes out now, in one write. */
	if (c->tls && ntls_flush(c->tls) && errno != EAGAIN)
		return -errno;
	return c->tls && ntls_send_pending(c->tls) ? -EAGAIN : 0;
}

int ntcp_tx_resize(struct ntcp_conn *c, uint32_t cap)
{
	struct iovec *iov;
	void **cookie;

	if (cap < c->tx_count)
		return -ENOBUFS;
	iov = calloc(cap, sizeof(*iov));
	cookie = calloc(cap, sizeof(*cookie));
	if (!iov || !cookie) {
		free(iov);
		free(cookie);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < c->tx_count; i++) {
		iov[i] = c->tx_iov[(c->tx_head + i) % c->tx_cap];
		cookie[i] = c->tx_cookie[(c->tx_head + i) % c->tx_cap];
	}
	free(c->tx_iov);
	free(c->tx_cookie);
	c->tx_iov = iov;
	c->tx_cookie = cookie;
	c->tx_cap = cap;
	c->tx_head = 0;
	return 0;
}

void ntcp_tx_drop(struct ntcp_conn *c)
{
	c->tx_count = 0;
	c->tx_head = 0;
}

bool ntcp_tx_refers_to(const struct ntcp_conn *c, const void *base, size_t len)
{
	const uint8_t *lo = base, *hi = lo + len;

	for (uint32_t i = 0; i < c->tx_count; i++) {
		const struct iovec *v = &c->tx_iov[(c->tx_head + i) % c->tx_cap];
		const uint8_t *p = v->iov_base;

		if (p < hi && p + v->iov_len > lo)
			return true;
	}
	return false;
}

bool ntcp_tx_rebase(struct ntcp_conn *c, const void *cookie, uint32_t back, const void *base, size_t len, void *to)
{
	const uint8_t *lo = base, *hi = lo + len;

	for (uint32_t i = 0; i < c->tx_count; i++) {
		struct iovec *v;
		const uint8_t *p;

		if (c->tx_cookie[(c->tx_head + i) % c->tx_cap] != cookie)
			continue;
		if (i < back)
			return false; /* that piece is on the wire already */
		v = &c->tx_iov[(c->tx_head + i - back) % c->tx_cap];
		p = v->iov_base;
		if (p < lo || p >= hi)
			return false;
		v->iov_base = (uint8_t *)to + (p - lo);
		return true;
	}
	return false;
}

void ntcp_send_term(struct ntcp_conn *c, uint16_t fes, uint32_t fei)
{
	struct nvmf_tcp_fatal fatal = { .fes = fes, .fei = fei };
	uint32_t offending = c->rx_have < NVME_TCP_TERM_MAX_DATA ? c->rx_have : NVME_TCP_TERM_MAX_DATA;
	size_t hl;

	memcpy(c->term_pdu + sizeof(struct nvme_tcp_term_pdu), c->rx_hdr, offending);
	hl = nvmf_tcp_term_encode((struct nvme_tcp_term_pdu *)c->term_pdu, c->side, &fatal, offending);
	ntcp_tx_drop(c);
	if (ntcp_tx_push(c, c->term_pdu, hl + offending, NULL) == 0)
		ntcp_tx_flush(c);
	shutdown(c->fd, SHUT_WR);
	rx_hold(c, NTCP_STOP);
}
