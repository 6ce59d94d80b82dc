/* cmocka tests of the shared NVMe/TCP connection engine (src/transport/tcp_conn.c) in both roles:
 * whole PDU streams fed one byte at a time and in random splits, with and without digests and data
 * alignment; digest and header errors; parking; socket reads with direct data placement; the send
 * ring's partial sends, wrap-around and release cookies; TermReqs. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "transport/tcp_conn.h"

#define MAX_EVENTS 64
#define SINK_SIZE (1u << 20)

/* ---- A byte stream of PDUs, built with the codec's encoders ---- */

struct stream {
	uint8_t *buf;
	size_t len, cap;
	uint8_t *payload; /* every data byte in order, as the receiver should see it */
	size_t payload_len;
};

static void stream_init(struct stream *s)
{
	s->cap = 4u << 20;
	s->buf = calloc(1, s->cap);
	s->payload = calloc(1, s->cap);
	s->len = s->payload_len = 0;
	assert_non_null(s->buf);
	assert_non_null(s->payload);
}

static void stream_free(struct stream *s)
{
	free(s->buf);
	free(s->payload);
}

static void fill_pattern(uint8_t *p, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)((i * 131u + seed * 7u) ^ (i >> 8));
}

/* Data after a header: the bytes, then the data digest if the framing has one. */
static void stream_data(struct stream *s, const struct nvmf_tcp_framing *f, uint32_t len, uint32_t seed)
{
	uint8_t *p = s->buf + s->len;

	fill_pattern(p, len, seed);
	memcpy(s->payload + s->payload_len, p, len);
	s->payload_len += len;
	s->len += len;
	if (f->ddgst) {
		uint32_t d = nvmf_tcp_digest(p, len);

		memcpy(s->buf + s->len, &d, sizeof(d));
		s->len += sizeof(d);
	}
}

static void stream_cmd(struct stream *s, const struct nvmf_tcp_framing *f, uint16_t cid, uint32_t incapsule)
{
	struct nvme_command cmd = { .opcode = nvme_cmd_write, .command_id = cid };

	s->len += nvmf_tcp_cmd_encode((struct nvme_tcp_cmd_pdu *)(s->buf + s->len), f, &cmd, incapsule);
	if (incapsule)
		stream_data(s, f, incapsule, cid);
}

static void stream_data_pdu(struct stream *s, enum nvmf_tcp_pdu_type type, const struct nvmf_tcp_framing *f,
			    uint16_t cid, uint32_t len)
{
	s->len += nvmf_tcp_data_encode((struct nvme_tcp_data_pdu *)(s->buf + s->len), type, f, cid, 1, 0, len,
				       NVME_TCP_F_DATA_LAST);
	stream_data(s, f, len, cid + 1000u);
}

static void stream_rsp(struct stream *s, const struct nvmf_tcp_framing *f, uint16_t cid)
{
	struct nvme_completion cqe = { .command_id = cid };

	s->len += nvmf_tcp_rsp_encode((struct nvme_tcp_rsp_pdu *)(s->buf + s->len), f->hdgst, &cqe);
}

static void stream_r2t(struct stream *s, const struct nvmf_tcp_framing *f, uint16_t cid)
{
	s->len += nvmf_tcp_r2t_encode((struct nvme_tcp_r2t_pdu *)(s->buf + s->len), f->hdgst, cid, 3, 0, 8192);
}

/* A TermReq from `sender`, quoting `quoted` bytes (received as the PDU's data, without digests). */
static void stream_term(struct stream *s, enum nvmf_tcp_side sender, uint32_t quoted)
{
	struct nvmf_tcp_fatal fatal = { .fes = NVME_TCP_FES_INVALID_PDU_HDR, .fei = 2 };
	struct nvmf_tcp_framing none = { 0 };

	s->len += nvmf_tcp_term_encode((struct nvme_tcp_term_pdu *)(s->buf + s->len), sender, &fatal, quoted);
	stream_data(s, &none, quoted, 77);
}

/* ---- The owner: records what the engine reports ---- */

struct owner {
	uint8_t types[MAX_EVENTS];
	int nr_headers;
	bool digest_ok[MAX_EVENTS];
	int nr_done;
	int nr_bad;
	struct nvmf_tcp_fatal fatal;
	uint8_t *sink;
	size_t sink_used;
	int park_type; /* park (once per header) on a PDU of this type; -1 never */
	int parked;
	void *released[MAX_EVENTS];
	int nr_released;
};

static enum ntcp_verdict own_rx_header(struct ntcp_conn *c, const void *hdr, const struct nvmf_tcp_pdu_layout *l)
{
	struct owner *o = c->owner;

	assert_int_equal(((const struct nvme_tcp_hdr *)hdr)->type, l->type);
	if (l->type == o->park_type && !o->parked) {
		o->parked = 1;
		return NTCP_PARK;
	}
	o->parked = 0;
	assert_true(o->nr_headers < MAX_EVENTS);
	o->types[o->nr_headers++] = l->type;
	if (l->type == nvme_tcp_icreq || l->type == nvme_tcp_icresp)
		c->before_ic = false; /* as an owner does once the exchange is done */
	if (l->data_len) {
		assert_true(o->sink_used + l->data_len <= SINK_SIZE);
		ntcp_rx_data_to(c, o->sink + o->sink_used);
		o->sink_used += l->data_len;
	}
	return NTCP_GO;
}

static enum ntcp_verdict own_rx_data_done(struct ntcp_conn *c, bool digest_ok)
{
	struct owner *o = c->owner;

	assert_true(o->nr_done < MAX_EVENTS);
	o->digest_ok[o->nr_done++] = digest_ok;
	assert_int_equal(c->rx_state, NTCP_RX_HDR); /* ready for the next header already */
	return NTCP_GO;
}

static void own_rx_bad_header(struct ntcp_conn *c, const struct nvmf_tcp_fatal *fatal)
{
	struct owner *o = c->owner;

	o->nr_bad++;
	o->fatal = *fatal;
}

static void own_tx_release(struct ntcp_conn *c, void *cookie)
{
	struct owner *o = c->owner;

	assert_true(o->nr_released < MAX_EVENTS);
	o->released[o->nr_released++] = cookie;
}

static const struct ntcp_conn_ops own_ops = {
	.rx_header = own_rx_header,
	.rx_data_done = own_rx_data_done,
	.rx_bad_header = own_rx_bad_header,
	.tx_release = own_tx_release,
};

static void owner_init(struct owner *o)
{
	memset(o, 0, sizeof(*o));
	o->sink = calloc(1, SINK_SIZE);
	assert_non_null(o->sink);
	o->park_type = -1;
}

static void conn_setup(struct ntcp_conn *c, struct owner *o, int fd, enum nvmf_tcp_side side,
		       const struct nvmf_tcp_framing *f, bool before_ic)
{
	owner_init(o);
	assert_int_equal(ntcp_conn_init(c, fd, side, &own_ops, o, 65536, 16), 0);
	c->rx_framing = *f;
	c->before_ic = before_ic;
}

static void conn_teardown(struct ntcp_conn *c, struct owner *o)
{
	ntcp_conn_destroy(c);
	free(o->sink);
}

/* Feed the whole stream in pieces: size 1, or random sizes from the seed (0 = one piece). */
static void feed_split(struct ntcp_conn *c, const struct stream *s, unsigned seed, bool bytewise)
{
	size_t off = 0;

	srand(seed);
	while (off < s->len) {
		size_t n = bytewise ? 1 : seed ? 1 + (size_t)rand() % 300 : s->len;

		if (n > s->len - off)
			n = s->len - off;
		assert_int_equal(ntcp_rx_feed(c, s->buf + off, (uint32_t)n), n);
		off += n;
	}
}

/* ---- Streams each role receives ---- */

/* What a target receives: ICReq, commands with and without in-capsule data, H2CData, H2CTermReq. */
static void build_target_stream(struct stream *s, const struct nvmf_tcp_framing *f, const uint8_t **types,
				int *nr_types, int *nr_data)
{
	static const uint8_t t[] = { nvme_tcp_icreq, nvme_tcp_cmd,	nvme_tcp_cmd,	   nvme_tcp_h2c_data,
				     nvme_tcp_cmd,   nvme_tcp_h2c_data, nvme_tcp_cmd,	   nvme_tcp_h2c_term };

	stream_init(s);
	s->len += nvmf_tcp_icreq_encode((struct nvme_tcp_icreq_pdu *)s->buf, f->hdgst, f->ddgst, 0);
	stream_cmd(s, f, 1, 0);
	stream_cmd(s, f, 2, 100);
	stream_data_pdu(s, nvme_tcp_h2c_data, f, 3, 5000);
	stream_cmd(s, f, 4, 8192);
	stream_data_pdu(s, nvme_tcp_h2c_data, f, 5, 1);
	stream_cmd(s, f, 6, 3);
	stream_term(s, NVMF_TCP_SIDE_HOST, 24);
	*types = t;
	*nr_types = (int)sizeof(t);
	*nr_data = 6; /* the PDUs with data: commands 2, 4 and 6, both H2CData, the TermReq */
}

/* What a host receives: CapsuleResp, R2T, C2HData of several sizes, C2HTermReq. */
static void build_host_stream(struct stream *s, const struct nvmf_tcp_framing *f, const uint8_t **types,
			      int *nr_types, int *nr_data)
{
	static const uint8_t t[] = { nvme_tcp_rsp,	nvme_tcp_r2t,	   nvme_tcp_c2h_data, nvme_tcp_rsp,
				     nvme_tcp_c2h_data, nvme_tcp_c2h_data, nvme_tcp_c2h_term };

	stream_init(s);
	stream_rsp(s, f, 1);
	stream_r2t(s, f, 2);
	stream_data_pdu(s, nvme_tcp_c2h_data, f, 3, 4096);
	stream_rsp(s, f, 3);
	stream_data_pdu(s, nvme_tcp_c2h_data, f, 4, 7);
	stream_data_pdu(s, nvme_tcp_c2h_data, f, 5, 70000);
	stream_term(s, NVMF_TCP_SIDE_TARGET, 72);
	*types = t;
	*nr_types = (int)sizeof(t);
	*nr_data = 4; /* the three C2HData and the TermReq */
}

typedef void (*build_fn)(struct stream *, const struct nvmf_tcp_framing *, const uint8_t **, int *, int *);

/* Every framing a connection can have: digests off/on, and data alignment (PDA) for data PDUs. */
static const struct nvmf_tcp_framing framings[] = {
	{ .hdgst = false, .ddgst = false, .max_data = 1u << 20, .max_incapsule = 16384 },
	{ .hdgst = true, .ddgst = false, .max_data = 1u << 20, .max_incapsule = 16384 },
	{ .hdgst = false, .ddgst = true, .max_data = 1u << 20, .max_incapsule = 16384 },
	{ .hdgst = true, .ddgst = true, .max_data = 1u << 20, .max_incapsule = 16384 },
	{ .hdgst = true, .ddgst = true, .pda = 7, .max_data = 1u << 20, .max_incapsule = 16384 },
	{ .hdgst = false, .ddgst = false, .pda = 1, .max_data = 1u << 20, .max_incapsule = 16384 },
};

static void check_role(enum nvmf_tcp_side side, build_fn build, bool before_ic)
{
	for (size_t fi = 0; fi < sizeof(framings) / sizeof(framings[0]); fi++) {
		/* One piece, byte at a time, and five random splittings. */
		for (unsigned mode = 0; mode < 7; mode++) {
			struct stream s;
			struct ntcp_conn c;
			struct owner o;
			const uint8_t *types;
			int nr_types, nr_data;

			build(&s, &framings[fi], &types, &nr_types, &nr_data);
			conn_setup(&c, &o, -1, side, &framings[fi], before_ic);
			feed_split(&c, &s, mode >= 2 ? mode * 7919u : 0, mode == 1);
			assert_int_equal(o.nr_bad, 0);
			assert_int_equal(o.nr_headers, nr_types);
			assert_memory_equal(o.types, types, (size_t)nr_types);
			assert_int_equal(o.nr_done, nr_data);
			for (int i = 0; i < o.nr_done; i++)
				assert_true(o.digest_ok[i]);
			assert_int_equal(o.sink_used, s.payload_len);
			assert_memory_equal(o.sink, s.payload, s.payload_len);
			assert_int_equal(c.rx_state, NTCP_RX_HDR);
			assert_int_equal(c.rx_have, 0);
			conn_teardown(&c, &o);
			stream_free(&s);
		}
	}
}

static void test_target_role_splits(void **state)
{
	(void)state;
	check_role(NVMF_TCP_SIDE_TARGET, build_target_stream, true);
}

static void test_host_role_splits(void **state)
{
	(void)state;
	check_role(NVMF_TCP_SIDE_HOST, build_host_stream, false);
}

/* ---- Errors ---- */

static const struct nvmf_tcp_framing digests = { .hdgst = true, .ddgst = true, .max_data = 1u << 20,
						 .max_incapsule = 16384 };

/* A data digest that does not match fails that PDU only: the next one is received as usual. */
static void test_data_digest_mismatch(void **state)
{
	struct stream s;
	struct ntcp_conn c;
	struct owner o;
	size_t first_end;

	(void)state;
	stream_init(&s);
	stream_data_pdu(&s, nvme_tcp_c2h_data, &digests, 1, 5000);
	first_end = s.len;
	stream_data_pdu(&s, nvme_tcp_c2h_data, &digests, 2, 300);
	s.buf[first_end - 1] ^= 0x01; /* the first PDU's data digest */
	for (unsigned bytewise = 0; bytewise < 2; bytewise++) {
		conn_setup(&c, &o, -1, NVMF_TCP_SIDE_HOST, &digests, false);
		feed_split(&c, &s, 0, bytewise);
		assert_int_equal(o.nr_headers, 2);
		assert_int_equal(o.nr_done, 2);
		assert_false(o.digest_ok[0]);
		assert_true(o.digest_ok[1]);
		assert_int_equal(o.nr_bad, 0);
		conn_teardown(&c, &o);
	}
	stream_free(&s);
}

/* A header digest that does not match stops the connection before the owner sees the header. */
static void test_header_digest_mismatch(void **state)
{
	struct stream s;
	struct ntcp_conn c;
	struct owner o;
	uint32_t used;

	(void)state;
	stream_init(&s);
	stream_cmd(&s, &digests, 1, 0);
	stream_cmd(&s, &digests, 2, 0);
	s.buf[72 + 4 + 10] ^= 0x80; /* inside the second capsule's SQE */
	conn_setup(&c, &o, -1, NVMF_TCP_SIDE_TARGET, &digests, false);
	used = ntcp_rx_feed(&c, s.buf, (uint32_t)s.len);
	assert_int_equal(used, s.len); /* the whole bad header was taken, nothing after it */
	assert_int_equal(o.nr_headers, 1);
	assert_int_equal(o.nr_bad, 1);
	assert_int_equal(o.fatal.fes, NVME_TCP_FES_HDR_DIGEST_ERR);
	assert_int_equal(ntcp_rx_feed(&c, s.buf, 8), 0); /* stopped for good */
	conn_teardown(&c, &o);
	stream_free(&s);
}

/* A header the framing rules refuse is reported after its common header, with the field's offset. */
static void test_malformed_header(void **state)
{
	struct stream s;
	struct ntcp_conn c;
	struct owner o;

	(void)state;
	stream_init(&s);
	stream_rsp(&s, &digests, 1);
	stream_rsp(&s, &digests, 2);
	s.buf[28 + 2] = 25; /* the second PDU's hlen */
	conn_setup(&c, &o, -1, NVMF_TCP_SIDE_HOST, &digests, false);
	assert_int_equal(ntcp_rx_feed(&c, s.buf, (uint32_t)s.len), 28 + 8);
	assert_int_equal(o.nr_headers, 1);
	assert_int_equal(o.nr_bad, 1);
	assert_int_equal(o.fatal.fes, NVME_TCP_FES_INVALID_PDU_HDR);
	assert_int_equal(o.fatal.fei, 2);
	conn_teardown(&c, &o);

	/* A PDU the receiving side must never get: a capsule sent to a host. */
	stream_free(&s);
	stream_init(&s);
	stream_cmd(&s, &digests, 1, 0);
	conn_setup(&c, &o, -1, NVMF_TCP_SIDE_HOST, &digests, false);
	ntcp_rx_feed(&c, s.buf, (uint32_t)s.len);
	assert_int_equal(o.nr_headers, 0);
	assert_int_equal(o.nr_bad, 1);
	assert_int_equal(o.fatal.fei, 0);
	conn_teardown(&c, &o);
	stream_free(&s);
}

/* The owner parks on a header: nothing more is consumed until it resumes, and then the same header
 * comes again, followed by the rest of the stream. */
static void test_park_and_resume(void **state)
{
	struct stream s;
	struct ntcp_conn c;
	struct owner o;
	uint32_t used;

	(void)state;
	stream_init(&s);
	stream_cmd(&s, &digests, 1, 0);
	stream_cmd(&s, &digests, 2, 4000);
	stream_cmd(&s, &digests, 3, 0);
	conn_setup(&c, &o, -1, NVMF_TCP_SIDE_TARGET, &digests, false);
	o.park_type = nvme_tcp_cmd;
	o.parked = 1; /* let the first capsule through */
	used = ntcp_rx_feed(&c, s.buf, (uint32_t)s.len);
	assert_int_equal(o.nr_headers, 1);
	assert_true(ntcp_rx_parked(&c));
	assert_int_equal(used, 2 * (72 + 4)); /* up to the end of the second header */
	assert_int_equal(ntcp_rx_feed(&c, s.buf + used, 10), 0);
	o.park_type = -1;
	assert_int_equal(ntcp_rx_unpark(&c), NTCP_GO);
	assert_false(ntcp_rx_parked(&c));
	assert_int_equal(ntcp_rx_feed(&c, s.buf + used, (uint32_t)(s.len - used)), s.len - used);
	assert_int_equal(o.nr_headers, 3);
	assert_int_equal(o.nr_done, 1);
	assert_true(o.digest_ok[0]);
	assert_memory_equal(o.sink, s.payload, s.payload_len);
	conn_teardown(&c, &o);
	stream_free(&s);
}

/* ---- Reading a socket ---- */

static void socket_pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
}

static void write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

/* Large data goes straight into the owner's buffer; the pump reports idle, then the peer's close. */
static void test_pump_socket(void **state)
{
	struct stream s;
	struct ntcp_conn c;
	struct owner o;
	const uint8_t *types;
	int nr_types, nr_data, sv[2];
	size_t off = 0;

	(void)state;
	build_host_stream(&s, &digests, &types, &nr_types, &nr_data);
	socket_pair(sv);
	conn_setup(&c, &o, sv[0], NVMF_TCP_SIDE_HOST, &digests, false);
	while (off < s.len) { /* in pieces a socket buffer holds, pumping in between */
		size_t n = s.len - off < 10000 ? s.len - off : 10000;

		write_all(sv[1], s.buf + off, n);
		off += n;
		assert_int_equal(ntcp_rx_pump(&c, 1000), NTCP_RX_IDLE);
	}
	assert_int_equal(o.nr_headers, nr_types);
	assert_int_equal(o.nr_done, nr_data);
	for (int i = 0; i < o.nr_done; i++)
		assert_true(o.digest_ok[i]);
	assert_memory_equal(o.sink, s.payload, s.payload_len);
	close(sv[1]);
	assert_int_equal(ntcp_rx_pump(&c, 1000), NTCP_RX_EOF);
	conn_teardown(&c, &o);
	close(sv[0]);
	stream_free(&s);
}

/* ---- The send ring ---- */

static size_t read_some(int fd, uint8_t *p, size_t cap)
{
	ssize_t n = recv(fd, p, cap, MSG_DONTWAIT);

	return n > 0 ? (size_t)n : 0;
}

/* Entries leave in order, across the ring's end, and each cookie is released once its bytes are
 * out - not before, even when the socket takes only part of an entry. */
static void test_tx_ring(void **state)
{
	struct ntcp_conn c;
	struct owner o;
	int sv[2], sndbuf = 4096, cookies[8];
	static uint8_t big[1u << 20], got[1u << 20];
	size_t have = 0;

	(void)state;
	socket_pair(sv);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	conn_setup(&c, &o, sv[0], NVMF_TCP_SIDE_TARGET, &digests, false);
	assert_int_equal(ntcp_tx_resize(&c, 4), 0);
	fill_pattern(big, sizeof(big), 5);

	/* Small entries, many times round a ring of four. */
	for (int round = 0; round < 10; round++) {
		assert_int_equal(ntcp_tx_push(&c, big + round * 10, 10, NULL), 0);
		assert_int_equal(ntcp_tx_push(&c, big + round * 10 + 10, 5, &cookies[round % 8]), 0);
		assert_int_equal(ntcp_tx_room(&c), 2);
		assert_int_equal(ntcp_tx_flush(&c), 0);
		assert_false(ntcp_tx_pending(&c));
		assert_int_equal(o.nr_released, round + 1);
		assert_ptr_equal(o.released[round], &cookies[round % 8]);
		have += read_some(sv[1], got + have, sizeof(got) - have);
	}
	assert_int_equal(have, 150);
	for (int round = 0; round < 10; round++)
		assert_memory_equal(got + round * 15, big + round * 10, 15);

	/* One entry larger than the socket takes: -EAGAIN, no release until the last byte is out. */
	o.nr_released = 0;
	assert_int_equal(ntcp_tx_push(&c, big, sizeof(big), &cookies[0]), 0);
	assert_true(ntcp_tx_refers_to(&c, big + 100, 1));
	assert_false(ntcp_tx_refers_to(&c, got, sizeof(got)));
	have = 0;
	for (int spins = 0; spins < 100000; spins++) {
		int err = ntcp_tx_flush(&c);

		if (err == 0)
			break;
		assert_int_equal(err, -EAGAIN);
		assert_int_equal(o.nr_released, 0);
		have += read_some(sv[1], got + have, sizeof(got) - have);
	}
	assert_int_equal(o.nr_released, 1);
	while (have < sizeof(big))
		have += read_some(sv[1], got + have, sizeof(got) - have);
	assert_memory_equal(got, big, sizeof(big));

	/* A full ring refuses; a dropped ring releases nothing. */
	for (int i = 0; i < 4; i++)
		assert_int_equal(ntcp_tx_push(&c, big, 1, &cookies[1]), 0);
	assert_int_equal(ntcp_tx_push(&c, big, 1, NULL), -ENOBUFS);
	assert_int_equal(ntcp_tx_resize(&c, 2), -ENOBUFS);
	assert_int_equal(ntcp_tx_resize(&c, 8), 0);
	assert_int_equal(ntcp_tx_room(&c), 4);
	ntcp_tx_drop(&c);
	assert_false(ntcp_tx_pending(&c));
	assert_int_equal(o.nr_released, 1);
	conn_teardown(&c, &o);

	/* An owner without tx_release (the host's queue) may push no cookie: it could never get it back. */
	{
		struct ntcp_conn_ops no_release = own_ops;

		no_release.tx_release = NULL;
		owner_init(&o);
		assert_int_equal(ntcp_conn_init(&c, sv[0], NVMF_TCP_SIDE_HOST, &no_release, &o, 0, 4), 0);
		assert_int_equal(ntcp_tx_push(&c, big, 1, &cookies[0]), -EINVAL);
		assert_int_equal(ntcp_tx_push(&c, big, 1, NULL), 0);
		assert_int_equal(ntcp_tx_flush(&c), 0);
		conn_teardown(&c, &o);
	}
	close(sv[0]);
	close(sv[1]);
}

/* A TermReq quotes the header being received and goes out before the sending side shuts. */
static void test_send_term(void **state)
{
	struct stream s;
	struct ntcp_conn c;
	struct owner o;
	int sv[2];
	uint8_t got[256];
	size_t have = 0;
	const struct nvme_tcp_term_pdu *t = (const void *)got;

	(void)state;
	stream_init(&s);
	stream_cmd(&s, &digests, 1, 0);
	s.buf[2] = 99; /* hlen */
	socket_pair(sv);
	conn_setup(&c, &o, sv[0], NVMF_TCP_SIDE_TARGET, &digests, false);
	ntcp_rx_feed(&c, s.buf, (uint32_t)s.len);
	assert_int_equal(o.nr_bad, 1);
	assert_int_equal(ntcp_tx_push(&c, s.buf, 10, NULL), 0); /* dropped in favour of the TermReq */
	ntcp_send_term(&c, o.fatal.fes, o.fatal.fei);
	for (ssize_t n; (n = read(sv[1], got + have, sizeof(got) - have)) > 0;)
		have += (size_t)n;
	assert_int_equal(have, sizeof(*t) + 8);
	assert_int_equal(t->hdr.type, nvme_tcp_c2h_term);
	assert_int_equal(t->hdr.plen, sizeof(*t) + 8);
	assert_int_equal(t->fes, NVME_TCP_FES_INVALID_PDU_HDR);
	assert_int_equal(t->feil, 2);
	assert_memory_equal(got + sizeof(*t), s.buf, 8);
	conn_teardown(&c, &o);
	close(sv[0]);
	close(sv[1]);
	stream_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_target_role_splits),
		cmocka_unit_test(test_host_role_splits),
		cmocka_unit_test(test_data_digest_mismatch),
		cmocka_unit_test(test_header_digest_mismatch),
		cmocka_unit_test(test_malformed_header),
		cmocka_unit_test(test_park_and_resume),
		cmocka_unit_test(test_pump_socket),
		cmocka_unit_test(test_tx_ring),
		cmocka_unit_test(test_send_term),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
