/* cmocka tests of the TLS layer under NVMe/TCP (src/transport/tls.c) over a socketpair, both sides
 * non-blocking as the target's event loop and the host drive them: the PSK handshake with either
 * cipher suite, refusals (unknown identity, wrong key, a key of the other hash), and bytes through
 * the session in every size, from single bytes to a megabyte, gathered and direct, with the
 * receiver slower than the sender. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "transport/tls.h"

#define ID128 "NVMe0R01 nqn.2014-08.org.nvmexpress:uuid:host nqn.2026-12.io.tightrope:sub"
#define ID256 "NVMe0R02 nqn.2014-08.org.nvmexpress:uuid:host nqn.2026-12.io.tightrope:sub"

struct pair {
	int fd[2];
	struct ntls *server, *client;
	struct ntls_psk server_psk; /* what the server's lookup returns for a known identity */
	int lookups;
};

static int find(void *arg, const char *identity, struct ntls_psk *psk)
{
	struct pair *p = arg;

	p->lookups++;
	if (strcmp(identity, p->server_psk.identity))
		return -ENOKEY;
	*psk = p->server_psk;
	return 0;
}

static void make_psk(struct ntls_psk *psk, uint8_t hash, uint8_t fill, const char *identity)
{
	memset(psk, 0, sizeof(*psk));
	psk->hash = hash;
	psk->len = hash == 2 ? 48 : 32;
	memset(psk->key, fill, psk->len);
	snprintf(psk->identity, sizeof(psk->identity), "%s", identity);
}

static void pair_open(struct pair *p, const struct ntls_psk *client_psk)
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p->fd), 0);
	p->server = ntls_server_new(p->fd[0], find, p);
	p->client = ntls_client_new(p->fd[1], client_psk);
	assert_non_null(p->server);
	assert_non_null(p->client);
}

static void pair_close(struct pair *p)
{
	ntls_free(p->server);
	ntls_free(p->client);
	close(p->fd[0]);
	close(p->fd[1]);
}

/* Both handshakes to the end: 0, or the first failure. */
static int handshake(struct pair *p)
{
	for (int i = 0; i < 1000; i++) {
		int s = ntls_handshake(p->server), c = ntls_handshake(p->client);

		if (s == 0 && c == 0)
			return 0;
		if (s != 0 && s != -EAGAIN)
			return s;
		if (c != 0 && c != -EAGAIN)
			return c;
	}
	return -ETIMEDOUT;
}

static void test_handshake_suites(void **state)
{
	static const struct {
		uint8_t hash;
		const char *id, *cipher;
	} cases[] = { { 1, ID128, "TLS_AES_128_GCM_SHA256" }, { 2, ID256, "TLS_AES_256_GCM_SHA384" } };

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct pair p = { 0 };
		struct ntls_psk psk;

		make_psk(&psk, cases[i].hash, 0x5a, cases[i].id);
		p.server_psk = psk;
		pair_open(&p, &psk);
		assert_int_equal(handshake(&p), 0);
		assert_string_equal(ntls_cipher(p.server), cases[i].cipher);
		assert_string_equal(ntls_cipher(p.client), cases[i].cipher);
		assert_string_equal(ntls_identity(p.server), cases[i].id);
		assert_int_equal(p.lookups, 1);
		assert_false(ntls_ktls(p.server)); /* AF_UNIX: never the kernel's TLS */
		pair_close(&p);
	}
}

static void test_handshake_refusals(void **state)
{
	struct ntls_psk good, bad;
	struct pair p = { 0 };

	(void)state;
	make_psk(&good, 1, 0x11, ID128);
	/* An identity the server does not know. */
	make_psk(&bad, 1, 0x11, "NVMe0R01 nqn.2014-08.org.nvmexpress:uuid:other nqn.2026-12.io.tightrope:sub");
	p.server_psk = good;
	pair_open(&p, &bad);
	assert_int_not_equal(handshake(&p), 0);
	assert_non_null(strstr(ntls_why(p.server), "unknown PSK identity"));
	pair_close(&p);
	/* The right identity, the wrong key: the binder does not verify. */
	memset(&p, 0, sizeof(p));
	make_psk(&bad, 1, 0x12, ID128);
	p.server_psk = good;
	pair_open(&p, &bad);
	assert_int_not_equal(handshake(&p), 0);
	pair_close(&p);
	/* A SHA-384 key where the server holds a SHA-256 one under the same identity. */
	memset(&p, 0, sizeof(p));
	make_psk(&bad, 2, 0x11, ID128);
	p.server_psk = good;
	pair_open(&p, &bad);
	assert_int_not_equal(handshake(&p), 0);
	pair_close(&p);
}

/* Push `total` bytes of a pattern through the client in pieces of `piece`, flushing when told, and
 * read them at the server in reads of `chunk`: the bytes arrive whole and in order. */
static void stream(struct pair *p, size_t total, size_t piece, size_t chunk)
{
	uint8_t *src = malloc(total), *dst = malloc(total);
	size_t sent = 0, got = 0;

	assert_non_null(src);
	assert_non_null(dst);
	for (size_t i = 0; i < total; i++)
		src[i] = (uint8_t)(i * 131 + (i >> 9));
	for (int spins = 0; got < total && spins < 1000000; spins++) {
		if (sent < total) {
			struct iovec iov[3];
			int n = 0;

			for (size_t off = sent; n < 3 && off < total; n++) {
				size_t len = total - off < piece ? total - off : piece;

				iov[n] = (struct iovec){ src + off, len };
				off += len;
			}
			ssize_t k = ntls_sendv(p->client, iov, n);

			if (k > 0)
				sent += (size_t)k;
			else
				assert_int_equal(errno, EAGAIN);
		} else if (ntls_send_pending(p->client)) {
			assert_true(ntls_flush(p->client) == 0 || errno == EAGAIN);
		}
		ssize_t r = ntls_recv(p->server, dst + got, total - got < chunk ? total - got : chunk);

		if (r > 0)
			got += (size_t)r;
		else
			assert_true(r < 0 && errno == EAGAIN);
	}
	assert_int_equal(got, total);
	assert_memory_equal(src, dst, total);
	assert_false(ntls_send_pending(p->client));
	free(src);
	free(dst);
}

static void test_stream(void **state)
{
	struct ntls_psk psk;
	struct pair p = { 0 };

	(void)state;
	make_psk(&psk, 1, 0x33, ID128);
	p.server_psk = psk;
	pair_open(&p, &psk);
	assert_int_equal(handshake(&p), 0);
	stream(&p, 1, 1, 1);
	stream(&p, 100000, 24, 7); /* PDU headers: gathered into records */
	stream(&p, 1 << 20, 131072, 4096); /* 128 KiB data: written from where it lies */
	stream(&p, 1 << 20, 9000, 65536); /* around the gathering limit */
	stream(&p, 3 << 20, 1 << 20, 100); /* a slow reader: the socket fills, writes wait */
	pair_close(&p);
}

/* The peer closing its TCP connection is an end of stream, not an error. */
static void test_eof(void **state)
{
	struct ntls_psk psk;
	struct pair p = { 0 };
	uint8_t b;

	(void)state;
	make_psk(&psk, 1, 0x44, ID128);
	p.server_psk = psk;
	pair_open(&p, &psk);
	assert_int_equal(handshake(&p), 0);
	shutdown(p.fd[1], SHUT_RDWR);
	assert_int_equal(ntls_recv(p.server, &b, 1), 0);
	pair_close(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_suites),
		cmocka_unit_test(test_handshake_refusals),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_eof),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
