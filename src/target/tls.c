/* The target's side of NVMe/TCP TLS (TP 8011): what a port's policy makes of a connection's first
 * byte, the PSK a client's identity ("NVMe0R01 <hostnqn> <subnqn>") stands for, derived from the
 * host's configured key as Linux 6.12 and nvme-cli derive it, and the identity the queue keeps so
 * that Connect can hold the host to it. tcp.c drives the handshake through these. */
#include <errno.h>
#include <stdarg.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "nvme/tls_psk.h"
#include "target/queue.h"
#include "transport/tls.h"
#include "util/log.h"

static struct tr_ratelimit tls_rl = TR_RATELIMIT_INIT(5000, 10);

static void __attribute__((format(printf, 2, 3))) tls_warn(const struct tgt_queue *q, const char *fmt, ...)
{
	char why[256];
	unsigned suppressed;
	va_list ap;

	if (!tr_ratelimit(&tls_rl, &suppressed))
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	tr_warn("%s: %s%s", q->peer, why, suppressed ? " (and others: this line is rate-limited)" : "");
}

int tgt_tls_first_byte(struct tgt_queue *q, uint8_t b)
{
	bool tls = ntls_is_handshake_byte(b);

	if (tls || q->listener->tls != TGT_TLS_REQUIRED)
		return tls;
	tls_warn(q, "plain NVMe/TCP (first byte %#x) on port %s, which requires TLS: refused", b, q->local_port);
	return -1;
}

bool tgt_tls_parse_identity(const char *id, uint8_t *hash, char *host, char *sub)
{
	const char *h, *s;

	if (strncmp(id, "NVMe0R0", 7) || (id[7] != '1' && id[7] != '2') || id[8] != ' ')
		return false;
	h = id + 9;
	s = strchr(h, ' ');
	if (!s || s == h || (size_t)(s - h) >= NVME_NQN_SIZE || strlen(s + 1) >= NVME_NQN_SIZE || !s[1] ||
	    strchr(s + 1, ' '))
		return false;
	*hash = (uint8_t)(id[7] - '0');
	memcpy(host, h, (size_t)(s - h));
	host[s - h] = 0;
	strcpy(sub, s + 1);
	return true;
}

static int find_psk(void *arg, const char *identity, struct ntls_psk *psk)
{
	struct tgt_queue *q = arg;
	char host[NVME_NQN_SIZE], sub[NVME_NQN_SIZE], configured[TGT_TLS_KEY_STR_MAX], id[NVME_TLS_IDENTITY_MAX];
	struct nvme_tls_psk key, tls;
	uint8_t hash;
	int err = -ENOKEY;

	if (!tgt_tls_parse_identity(identity, &hash, host, sub) || !tgt_host_tls_get(q->target, host, configured))
		return -ENOKEY;
	/* The identity names the suite's hash: it must be the one the host's key is for, and what we
	 * derive for that host and subsystem must be exactly the identity offered. */
	if (!nvme_tls_psk_parse(configured, &key) && nvme_tls_psk_cipher(&key) == hash &&
	    !nvme_tls_psk_derive(&key, 0, host, sub, id, sizeof(id), &tls) && !strcmp(id, identity) &&
	    tls.len <= sizeof(psk->key)) {
		memcpy(psk->key, tls.key, tls.len);
		psk->len = tls.len;
		psk->hash = hash;
		snprintf(psk->identity, sizeof(psk->identity), "%s", identity);
		err = 0;
	}
	OPENSSL_cleanse(&key, sizeof(key));
	OPENSSL_cleanse(&tls, sizeof(tls));
	OPENSSL_cleanse(configured, sizeof(configured));
	return err;
}

struct ntls *tgt_tls_session_new(struct tgt_queue *q, int fd)
{
	return ntls_server_new(fd, find_psk, q);
}

int tgt_tls_established(struct tgt_queue *q, const struct ntls *t)
{
	uint8_t hash;

	if (!tgt_tls_parse_identity(ntls_identity(t), &hash, q->tls_hostnqn, q->tls_subnqn))
		return -EPROTO; /* find_psk took it: cannot happen */
	q->tls = true;
	tr_debug("%s: TLS 1.3 with %s for host \"%s\" and %s%s", q->peer, ntls_cipher(t), q->tls_hostnqn,
		 q->tls_subnqn, ntls_ktls(t) ? " (kernel TLS)" : "");
	return 0;
}

void tgt_tls_failed(struct tgt_queue *q, const struct ntls *t)
{
	tls_warn(q, "TLS handshake failed: %s", ntls_why(t));
}

bool tgt_tls_connect_ok(const struct tgt_queue *q, const char *hostnqn, const char *subnqn)
{
	return !q->tls || (!strcmp(q->tls_hostnqn, hostnqn) && !strcmp(q->tls_subnqn, subnqn));
}
