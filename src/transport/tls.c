/* TLS 1.3 with external PSKs for NVMe/TCP through OpenSSL 3: the contexts both sides share, the
 * PSK callbacks, a non-blocking handshake, and a record-sized send buffer so that a 24-byte PDU
 * header does not become a TLS record of its own. */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "transport/tls.h"

#define OUT_CAP 16384 /* one TLS record's plaintext */
#define DIRECT_MIN 8192 /* larger pieces are encrypted from where they lie, not copied first */
#define SUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384"
#define WBUF_SIZE (256 * 1024) /* encrypted records gathered before a write() */
#define RBUF_SIZE (64 * 1024) /* read-ahead: records taken from the socket per read() */

struct ntls {
	SSL *ssl;
	int fd;
	bool server, done, want_write, ktls_send;
	ntls_find_psk find;
	void *find_arg;
	struct ntls_psk psk; /* the client's own; the server's once found */
	char identity[NTLS_IDENTITY_MAX]; /* what the peer named (server side) */
	char why[160];
	/* Bytes taken from the caller and not yet on the socket: a gathered record (out), or a large
	 * piece of the caller's own that OpenSSL has begun and must be offered again unchanged. */
	uint8_t out[OUT_CAP];
	size_t out_off, out_len;
	size_t direct_len;
};

static SSL_CTX *server_ctx, *client_ctx;
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;
static int ex_index = -1;

/* TLS_AES_128_GCM_SHA256 for a SHA-256 PSK, TLS_AES_256_GCM_SHA384 for a SHA-384 one. */
static SSL_SESSION *psk_session(SSL *ssl, const struct ntls_psk *psk)
{
	static const unsigned char aes128[2] = { 0x13, 0x01 }, aes256[2] = { 0x13, 0x02 };
	const SSL_CIPHER *cipher = SSL_CIPHER_find(ssl, psk->hash == 2 ? aes256 : aes128);
	SSL_SESSION *s = cipher ? SSL_SESSION_new() : NULL;

	if (s && (!SSL_SESSION_set1_master_key(s, psk->key, psk->len) || !SSL_SESSION_set_cipher(s, cipher) ||
		  !SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION))) {
		SSL_SESSION_free(s);
		s = NULL;
	}
	return s;
}

static int client_psk_cb(SSL *ssl, const EVP_MD *md, const unsigned char **id, size_t *idlen, SSL_SESSION **sess)
{
	struct ntls *t = SSL_get_ex_data(ssl, ex_index);
	SSL_SESSION *s = psk_session(ssl, &t->psk);

	/* After a HelloRetryRequest the suite is fixed: a PSK of another hash cannot be offered. */
	if (s && md && md != SSL_CIPHER_get_handshake_digest(SSL_SESSION_get0_cipher(s))) {
		SSL_SESSION_free(s);
		s = NULL;
	}
	*sess = s;
	*id = (const unsigned char *)t->psk.identity;
	*idlen = strlen(t->psk.identity);
	return s ? 1 : 0;
}

static int server_psk_cb(SSL *ssl, const unsigned char *identity, size_t len, SSL_SESSION **sess)
{
	struct ntls *t = SSL_get_ex_data(ssl, ex_index);

	*sess = NULL;
	if (len >= sizeof(t->identity) || memchr(identity, 0, len)) {
		snprintf(t->why, sizeof(t->why), "a PSK identity of %zu bytes, or with a NUL in it", len);
		return 1; /* no PSK: the handshake fails */
	}
	memcpy(t->identity, identity, len);
	t->identity[len] = 0;
	if (t->find(t->find_arg, t->identity, &t->psk)) {
		snprintf(t->why, sizeof(t->why), "unknown PSK identity \"%.100s\"", t->identity);
		return 1;
	}
	*sess = psk_session(ssl, &t->psk);
	return 1;
}

static SSL_CTX *ctx_new(bool server)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());

	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	if (!SSL_CTX_set_ciphersuites(ctx, SUITES)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* A peer whose TCP connection just ends is an end of stream, not a protocol error; where the
	 * kernel has TLS, it carries the records (sends then stay plain sendmsg). */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_ENABLE_KTLS);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (server) {
		/* Nothing after Finished: the kernel's host hands the socket to kernel TLS right then and
		 * cannot take a NewSessionTicket ("unhandled TLS record 22"). Nor are sessions resumed. */
		SSL_CTX_set_num_tickets(ctx, 0);
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_psk_find_session_callback(ctx, server_psk_cb);
	} else {
		SSL_CTX_set_psk_use_session_callback(ctx, client_psk_cb);
	}
	return ctx;
}

static void ctx_init(void)
{
	ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	server_ctx = ctx_new(true);
	client_ctx = ctx_new(false);
}

/* The socket under OpenSSL, with the records it writes gathered into one buffer that goes out in
 * large writes: written one 16 KiB record per write(), a 128 KiB read cost the sending core more in
 * TCP than in AES (perf: 52 % kernel, 32 % libcrypto). Reads take what the socket has, several
 * records at a time (read-ahead). */
static bool attach_socket(struct ntls *t)
{
	BIO *sock = BIO_new_socket(t->fd, BIO_NOCLOSE), *wbuf = BIO_new(BIO_f_buffer());

	if (!sock || !wbuf || !BIO_set_write_buffer_size(wbuf, WBUF_SIZE) || !BIO_up_ref(sock)) {
		BIO_free(sock);
		BIO_free(wbuf);
		return false;
	}
	BIO_push(wbuf, sock); /* the chain holds the second reference */
	SSL_set_bio(t->ssl, sock, wbuf);
	SSL_set_read_ahead(t->ssl, 1);
	SSL_set_default_read_buffer_len(t->ssl, RBUF_SIZE);
	return true;
}

static struct ntls *session_new(int fd, bool server)
{
	struct ntls *t;

	pthread_once(&ctx_once, ctx_init);
	if (!(server ? server_ctx : client_ctx) || ex_index < 0)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->fd = fd;
	t->server = server;
	t->ssl = SSL_new(server ? server_ctx : client_ctx);
	if (!t->ssl || !attach_socket(t) || !SSL_set_ex_data(t->ssl, ex_index, t)) {
		ntls_free(t);
		return NULL;
	}
	if (server)
		SSL_set_accept_state(t->ssl);
	else
		SSL_set_connect_state(t->ssl);
	return t;
}

struct ntls *ntls_server_new(int fd, ntls_find_psk find, void *arg)
{
	struct ntls *t = session_new(fd, true);

	if (t) {
		t->find = find;
		t->find_arg = arg;
	}
	return t;
}

struct ntls *ntls_client_new(int fd, const struct ntls_psk *psk)
{
	struct ntls *t = session_new(fd, false);

	/* Offer only the suite of the PSK's hash: a server choosing the other one would skip the PSK. */
	if (t && !SSL_set_ciphersuites(t->ssl, psk->hash == 2 ? "TLS_AES_256_GCM_SHA384" : "TLS_AES_128_GCM_SHA256")) {
		ntls_free(t);
		return NULL;
	}
	if (t)
		t->psk = *psk;
	return t;
}

void ntls_free(struct ntls *t)
{
	if (!t)
		return;
	SSL_free(t->ssl);
	OPENSSL_cleanse(&t->psk, sizeof(t->psk));
	OPENSSL_cleanse(t->out, sizeof(t->out));
	free(t);
}

/* OpenSSL's verdict on a failed call as errno, with the reason kept for ntls_why. */
static int ssl_failure(struct ntls *t, int ret, const char *during)
{
	int err = SSL_get_error(t->ssl, ret);
	unsigned long e;

	t->want_write = err == SSL_ERROR_WANT_WRITE;
	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
		return -EAGAIN;
	if (err == SSL_ERROR_ZERO_RETURN)
		return -ECONNRESET;
	e = ERR_peek_last_error();
	if (!t->why[0] || strcmp(during, "handshake"))
		snprintf(t->why, sizeof(t->why), "%s: %s", during,
			 e ? ERR_reason_error_string(e)
			 : err == SSL_ERROR_SYSCALL ? "connection closed or reset" : "error");
	ERR_clear_error();
	return err == SSL_ERROR_SYSCALL ? -ECONNRESET : -EPROTO;
}

int ntls_handshake(struct ntls *t)
{
	int ret;

	if (t->done)
		return 0;
	ret = SSL_do_handshake(t->ssl);
	if (ret != 1)
		return ssl_failure(t, ret, "handshake");
	t->want_write = false;
	/* A client without a certificate check must see its PSK used, or anyone could answer. */
	if (!t->server && !SSL_session_reused(t->ssl)) {
		snprintf(t->why, sizeof(t->why), "the server did not take our PSK");
		return -EPROTO;
	}
	t->ktls_send = BIO_get_ktls_send(SSL_get_wbio(t->ssl));
	t->done = true;
	return 0;
}

bool ntls_wants_write(const struct ntls *t)
{
	return t->want_write;
}

const char *ntls_why(const struct ntls *t)
{
	return t->why[0] ? t->why : "unknown TLS error";
}

const char *ntls_identity(const struct ntls *t)
{
	return t->server ? t->identity : t->psk.identity;
}

const char *ntls_cipher(const struct ntls *t)
{
	return SSL_get_cipher_name(t->ssl);
}

bool ntls_ktls(const struct ntls *t)
{
	return t->ktls_send;
}

ssize_t ntls_recv(struct ntls *t, void *buf, size_t len)
{
	size_t n = 0;
	int ret = SSL_read_ex(t->ssl, buf, len, &n);

	if (ret == 1)
		return (ssize_t)n;
	/* close_notify, or (SSL_OP_IGNORE_UNEXPECTED_EOF) the connection simply ended. */
	if (SSL_get_error(t->ssl, ret) == SSL_ERROR_ZERO_RETURN)
		return 0;
	errno = -ssl_failure(t, ret, "receive");
	return -1;
}

bool ntls_recv_pending(const struct ntls *t)
{
	return SSL_has_pending(t->ssl); /* decrypted bytes, or records read ahead and not yet opened */
}

bool ntls_send_pending(const struct ntls *t)
{
	return t->out_len > t->out_off || t->direct_len || BIO_wpending(SSL_get_wbio(t->ssl)) > 0;
}

/* Push the encrypted records gathered in the write buffer to the socket. */
static int wflush(struct ntls *t)
{
	BIO *w = SSL_get_wbio(t->ssl);

	if (BIO_wpending(w) <= 0 || BIO_flush(w) > 0)
		return 0;
	t->want_write = BIO_should_retry(w);
	errno = t->want_write ? EAGAIN : EPIPE;
	return -1;
}

/* Encrypt what out[] holds into the write buffer (which goes to the socket by itself when full). */
static int drain_out(struct ntls *t)
{
	while (t->out_len > t->out_off) {
		size_t n = 0;
		int ret = SSL_write_ex(t->ssl, t->out + t->out_off, t->out_len - t->out_off, &n);

		if (ret != 1) {
			errno = -ssl_failure(t, ret, "send");
			return -1;
		}
		t->out_off += n;
	}
	t->out_off = t->out_len = 0;
	return 0;
}

int ntls_flush(struct ntls *t)
{
	return drain_out(t) ? -1 : wflush(t);
}

/* A large piece written from the caller's memory; a write OpenSSL could not finish is retried with
 * the same length, as it requires (the caller still holds the same bytes at iov[0]). */
static ssize_t send_direct(struct ntls *t, const struct iovec *v)
{
	size_t len = t->direct_len ? t->direct_len : v->iov_len, n = 0;
	int ret = SSL_write_ex(t->ssl, v->iov_base, len, &n);

	if (ret != 1) {
		ret = ssl_failure(t, ret, "send");
		t->direct_len = ret == -EAGAIN ? len : 0;
		errno = -ret;
		return -1;
	}
	t->direct_len = 0;
	return (ssize_t)n; /* taken: the write buffer holds it until the next flush */
}

ssize_t ntls_sendv(struct ntls *t, const struct iovec *iov, int iovcnt)
{
	size_t taken = 0;

	if (t->ktls_send) { /* the kernel encrypts: our buffers go to it as they are */
		struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };

		return sendmsg(t->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	if (drain_out(t))
		return -1;
	if (iovcnt > 0 && (t->direct_len || iov[0].iov_len >= DIRECT_MIN))
		return send_direct(t, &iov[0]);
	/* Gather small pieces into one full record, with the start of a large piece behind them (a
	 * PDU header and the first of its data): no record is a few bytes long. */
	for (int i = 0; i < iovcnt && t->out_len < OUT_CAP; i++) {
		size_t n = iov[i].iov_len;

		if (n > OUT_CAP - t->out_len)
			n = OUT_CAP - t->out_len;
		memcpy(t->out + t->out_len, iov[i].iov_base, n);
		t->out_len += n;
		taken += n;
		if (n < iov[i].iov_len)
			break;
	}
	if (drain_out(t) && errno != EAGAIN)
		return -1;
	return (ssize_t)taken; /* ours to deliver: ntls_flush sends the write buffer on */
}
