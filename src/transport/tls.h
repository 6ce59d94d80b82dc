/* TLS 1.3 with external pre-shared keys under an NVMe/TCP connection (TP 8011), on either side,
 * through OpenSSL: a non-blocking handshake, then the byte stream the engine (tcp_conn.c) reads and
 * writes. Small writes are gathered into full records; the kernel's TLS (kTLS) takes the session
 * over where OpenSSL and the kernel offer it. */
#ifndef TIGHTROPE_TRANSPORT_TLS_H
#define TIGHTROPE_TRANSPORT_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define NTLS_PSK_MAX 48 /* SHA-384 */
#define NTLS_IDENTITY_MAX 1024 /* "NVMe0R0x <hostnqn> <subnqn>": two NQNs of up to 223 bytes and more */

/* A TLS PSK and the identity it goes by; hash is 1 (SHA-256) or 2 (SHA-384): the hash the PSK is
 * used with, and so the cipher suite (TLS_AES_128_GCM_SHA256 or TLS_AES_256_GCM_SHA384). */
struct ntls_psk {
	uint8_t key[NTLS_PSK_MAX];
	size_t len;
	uint8_t hash;
	char identity[NTLS_IDENTITY_MAX];
};

/* The server looks a client's identity up: 0 with *psk filled, or -ENOKEY for an identity it does
 * not know (the handshake then fails). */
typedef int (*ntls_find_psk)(void *arg, const char *identity, struct ntls_psk *psk);

struct ntls;

/* A session on a connected non-blocking socket (the caller keeps owning it). NULL on failure. */
struct ntls *ntls_server_new(int fd, ntls_find_psk find, void *arg);
struct ntls *ntls_client_new(int fd, const struct ntls_psk *psk);
void ntls_free(struct ntls *t);

/* Drive the handshake: 0 done, -EAGAIN (call again when the socket is readable, or writable if
 * ntls_wants_write), or -EPROTO / -ECONNRESET with ntls_why saying what went wrong. */
int ntls_handshake(struct ntls *t);
bool ntls_wants_write(const struct ntls *t);
const char *ntls_why(const struct ntls *t);
/* After the handshake: the identity the peer used, the cipher suite, whether kTLS sends/receives. */
const char *ntls_identity(const struct ntls *t);
const char *ntls_cipher(const struct ntls *t);
bool ntls_ktls(const struct ntls *t);

/* recv()/sendmsg() over the session: the same returns, -1 with errno EAGAIN, EPIPE, EPROTO... */
ssize_t ntls_recv(struct ntls *t, void *buf, size_t len);
/* Takes what it can of iov (copying small pieces into a record-sized buffer); the bytes taken are
 * the session's to deliver: ntls_flush pushes them on. */
ssize_t ntls_sendv(struct ntls *t, const struct iovec *iov, int iovcnt);
/* Push out what sendv took (it writes only when its buffer is full, so a turn of the event loop
 * ends in one write): 0 when all is on the socket, -1 with errno EAGAIN or another. */
int ntls_flush(struct ntls *t);
bool ntls_send_pending(const struct ntls *t);
/* Decrypted bytes waiting inside the session that a poll of the socket would not announce. */
bool ntls_recv_pending(const struct ntls *t);

/* Does the first byte a peer sent start a TLS handshake record? */
static inline bool ntls_is_handshake_byte(uint8_t b)
{
	return b == 0x16;
}

#endif
