/* In-band authentication on the target: the hosts' credentials (DH-HMAC-CHAP secrets, and the TLS
 * PSKs target/tls.c looks up), and the controller's side of each queue's DH-HMAC-CHAP transaction
 * (NVMe Base 2.0, 8.13.5): Authentication Send carries the host's Negotiate, Reply, Success2 or
 * Failure2; Authentication Receive returns our Challenge, Success1 or Failure1. A queue of a host
 * with a secret answers nothing else until it has authenticated. */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvme/dhchap.h"
#include "nvme/tls_psk.h"
#include "target/cmd.h"
#include "util/clock.h"
#include "util/log.h"

#define AUTH_MAX_MSG 8192 /* the largest Send or Receive we take: a Reply is at most 1,168 bytes */
#define AUTH_FAIL_WINDOW_MS 10000 /* a host that fails this often in this window waits it out */
#define AUTH_FAIL_MAX 10
#define AUTH_FAILED_LINGER_MS 2000 /* a failed queue is closed this long after its Failure1 */

/* Where a queue's transaction stands: what the host must send next, or what we return next. */
enum auth_step {
	STEP_NEGOTIATE, /* waiting for AUTH_Negotiate (Send) */
	STEP_CHALLENGE, /* the next Receive returns our Challenge */
	STEP_REPLY, /* waiting for the host's Reply (Send) */
	STEP_SUCCESS1, /* the next Receive returns Success1 */
	STEP_SUCCESS2, /* waiting for the host's Success2 (bidirectional) */
	STEP_FAILURE1, /* the next Receive returns Failure1 */
	STEP_DONE, /* no transaction under way */
	STEP_FAILED, /* failed: only Disconnect is left */
};

struct tgt_auth {
	enum auth_step step;
	bool authenticated; /* stays while a re-authentication runs, as in the kernel's target */
	uint8_t failure; /* the explanation the next Failure1 carries */
	uint16_t t_id;
	uint8_t hashid, dhgid, hl;
	uint8_t c1[NVME_AUTH_MAX_DIGEST], c2[NVME_AUTH_MAX_DIGEST];
	bool bidirectional;
	uint32_t s1, s2;
	struct nvme_dh *dh;
	uint8_t session_key[NVME_AUTH_MAX_DH_VALUE];
	struct nvme_dhchap_key host_key, ctrl_key;
	bool has_ctrl_key;
	uint8_t want_dhgid, want_hash;
	uint64_t deadline_ms; /* the transaction (or the first authentication) must be done by then */
};

static struct tr_ratelimit fail_rl = TR_RATELIMIT_INIT(5000, 10);

static const char *step_name(enum auth_step s)
{
	static const char *const names[] = { "negotiate", "challenge", "reply", "success1",
					     "success2", "failure1", "done", "failed" };

	return s <= STEP_FAILED ? names[s] : "?";
}

/* Which steps a transaction may take: a bit per target step. A Negotiate may start one from any
 * step but a failed one; any step may fail; a re-authentication left half-done expires to DONE. */
#define TO(s) (1u << (s))
#define ANY_FAIL (TO(STEP_FAILURE1) | TO(STEP_FAILED))
static const unsigned step_transitions[] = {
	[STEP_NEGOTIATE] = TO(STEP_CHALLENGE) | ANY_FAIL,
	[STEP_CHALLENGE] = TO(STEP_CHALLENGE) | TO(STEP_REPLY) | TO(STEP_DONE) | ANY_FAIL,
	[STEP_REPLY] = TO(STEP_CHALLENGE) | TO(STEP_SUCCESS1) | TO(STEP_DONE) | ANY_FAIL,
	[STEP_SUCCESS1] = TO(STEP_CHALLENGE) | TO(STEP_SUCCESS2) | TO(STEP_DONE) | ANY_FAIL,
	[STEP_SUCCESS2] = TO(STEP_CHALLENGE) | TO(STEP_DONE) | ANY_FAIL,
	[STEP_FAILURE1] = ANY_FAIL,
	[STEP_DONE] = TO(STEP_CHALLENGE) | ANY_FAIL,
	[STEP_FAILED] = ANY_FAIL,
};
#undef TO
#undef ANY_FAIL

/* The only place a transaction's step changes. */
static void auth_set_step(struct tgt_auth *a, enum auth_step s)
{
	if (!(step_transitions[a->step] & (1u << s)))
		tr_err("authentication step %s -> %s is not a legal step", step_name(a->step), step_name(s));
	tr_debug("authentication: %s -> %s", step_name(a->step), step_name(s));
	a->step = s;
}

/* ---- Host credentials ---- */

static struct tgt_host_auth *host_auth_find(struct tgt_target *t, const char *hostnqn)
{
	struct tgt_host_auth *h;

	for (h = t->host_auth; h && strcmp(h->nqn, hostnqn); h = h->next)
		;
	return h;
}

/* The host's entry, made on first use; caller holds t->lock. NULL when out of memory. */
static struct tgt_host_auth *host_auth_get(struct tgt_target *t, const char *hostnqn)
{
	struct tgt_host_auth *h = host_auth_find(t, hostnqn);

	if (h)
		return h;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	snprintf(h->nqn, sizeof(h->nqn), "%s", hostnqn);
	h->hash = NVME_AUTH_HASH_SHA256; /* nvmet's defaults */
	h->dhgroup = NVME_AUTH_DHGROUP_NULL;
	h->next = t->host_auth;
	t->host_auth = h;
	return h;
}

static int check_secret(const char *secret, const char *what, const char **why)
{
	struct nvme_dhchap_key k;
	int err;

	if (!secret || !secret[0])
		return 0;
	err = nvme_dhchap_key_parse(secret, &k);
	OPENSSL_cleanse(&k, sizeof(k));
	if (err)
		*why = what;
	return err ? -EINVAL : 0;
}

int tgt_host_auth_set(struct tgt_target *t, const char *hostnqn, const char *key, const char *ctrl_key,
		      const char *hash, const char *dhgroup, const char **why)
{
	int hash_id = hash ? nvme_auth_hash_id(hash) : 0, dhgid = dhgroup ? nvme_dhgroup_id(dhgroup) : 0;
	struct tgt_host_auth *h;

	*why = NULL;
	if (!tgt_valid_nqn(hostnqn))
		*why = "not a valid host NQN";
	else if (hash_id < 0)
		*why = "unknown hash (sha256, sha384 or sha512; hmac(sha256) as nvmet writes it is taken too)";
	else if (dhgid < 0)
		*why = "unknown DH group (null, ffdhe2048, ffdhe3072, ffdhe4096, ffdhe6144 or ffdhe8192)";
	else if (!check_secret(key, "the host secret is not a valid DHHC-1 secret", why))
		check_secret(ctrl_key, "the controller secret is not a valid DHHC-1 secret", why);
	if (*why)
		return -EINVAL;
	pthread_mutex_lock(&t->lock);
	h = host_auth_get(t, hostnqn);
	if (!h) {
		pthread_mutex_unlock(&t->lock);
		*why = "out of memory";
		return -ENOMEM;
	}
	if (key)
		snprintf(h->key, sizeof(h->key), "%s", key);
	if (ctrl_key)
		snprintf(h->ctrl_key, sizeof(h->ctrl_key), "%s", ctrl_key);
	if (hash)
		h->hash = (uint8_t)hash_id;
	if (dhgroup)
		h->dhgroup = (uint8_t)dhgid;
	pthread_mutex_unlock(&t->lock);
	return 0;
}

void tgt_host_auth_free_all(struct tgt_target *t)
{
	pthread_mutex_lock(&t->lock);
	while (t->host_auth) {
		struct tgt_host_auth *h = t->host_auth;

		t->host_auth = h->next;
		OPENSSL_cleanse(h, sizeof(*h)); /* secrets do not outlive their use in freed memory */
		free(h);
	}
	pthread_mutex_unlock(&t->lock);
}

int tgt_host_tls_set(struct tgt_target *t, const char *hostnqn, const char *key, const char **why)
{
	struct nvme_tls_psk k;
	struct tgt_host_auth *h;
	int err = key[0] ? nvme_tls_psk_parse(key, &k) : 0;

	OPENSSL_cleanse(&k, sizeof(k));
	*why = !tgt_valid_nqn(hostnqn) ? "not a valid host NQN"
	       : err		       ? "the TLS key is not a PSK in the interchange form (NVMeTLSkey-1:01:...:)"
					 : NULL;
	if (*why)
		return -EINVAL;
	pthread_mutex_lock(&t->lock);
	h = host_auth_get(t, hostnqn);
	if (h)
		snprintf(h->tls_key, sizeof(h->tls_key), "%s", key);
	pthread_mutex_unlock(&t->lock);
	if (!h)
		*why = "out of memory";
	return h ? 0 : -ENOMEM;
}

bool tgt_host_tls_get(struct tgt_target *t, const char *hostnqn, char *key)
{
	struct tgt_host_auth *h;
	bool found;

	pthread_mutex_lock(&t->lock);
	h = host_auth_find(t, hostnqn);
	found = h && h->tls_key[0];
	if (found)
		memcpy(key, h->tls_key, sizeof(h->tls_key));
	pthread_mutex_unlock(&t->lock);
	return found;
}

bool tgt_host_has_tls(struct tgt_target *t, const char *hostnqn)
{
	char key[TGT_TLS_KEY_STR_MAX];
	bool found = tgt_host_tls_get(t, hostnqn, key);

	OPENSSL_cleanse(key, sizeof(key));
	return found;
}

bool tgt_host_auth_required(struct tgt_target *t, const char *hostnqn)
{
	struct tgt_host_auth *h;
	bool required;

	pthread_mutex_lock(&t->lock);
	h = host_auth_find(t, hostnqn);
	required = h && h->key[0];
	pthread_mutex_unlock(&t->lock);
	return required;
}

/* Take the host's current credentials for a new transaction (a re-authentication sees new keys).
 * False if it has none any more, or has failed too often lately. */
static bool host_auth_load(struct tgt_queue *q, struct tgt_auth *a, const char **why)
{
	struct tgt_target *t = q->target;
	struct tgt_host_auth *h;
	uint64_t now = tr_now_ms();
	bool ok = false;

	pthread_mutex_lock(&t->lock);
	h = host_auth_find(t, q->ctrl->hostnqn);
	if (!h || !h->key[0]) {
		*why = "the host has no secret any more";
	} else if (h->fails >= AUTH_FAIL_MAX && now < h->fail_window_start_ms + AUTH_FAIL_WINDOW_MS) {
		*why = "too many failed attempts: refused for a few seconds";
	} else if (nvme_dhchap_key_parse(h->key, &a->host_key) ||
		   (h->ctrl_key[0] && nvme_dhchap_key_parse(h->ctrl_key, &a->ctrl_key))) {
		*why = "its secret no longer parses";
	} else {
		a->has_ctrl_key = h->ctrl_key[0] != 0;
		a->want_hash = h->hash;
		a->want_dhgid = h->dhgroup;
		ok = true;
	}
	pthread_mutex_unlock(&t->lock);
	return ok;
}

static void host_auth_failed(struct tgt_queue *q)
{
	struct tgt_target *t = q->target;
	struct tgt_host_auth *h;
	uint64_t now = tr_now_ms();

	pthread_mutex_lock(&t->lock);
	h = host_auth_find(t, q->ctrl->hostnqn);
	if (h) {
		if (now >= h->fail_window_start_ms + AUTH_FAIL_WINDOW_MS) {
			h->fail_window_start_ms = now;
			h->fails = 0;
		}
		h->fails++;
	}
	pthread_mutex_unlock(&t->lock);
}

/* ---- A queue's transaction ---- */

static void transaction_clear(struct tgt_auth *a)
{
	nvme_dh_free(a->dh);
	a->dh = NULL;
	OPENSSL_cleanse(a->session_key, sizeof(a->session_key));
	OPENSSL_cleanse(&a->host_key, sizeof(a->host_key));
	OPENSSL_cleanse(&a->ctrl_key, sizeof(a->ctrl_key));
}

/* One line per failure, naming the host and the reason, rate-limited: a peer can fail at will. */
static void auth_fail(struct tgt_queue *q, uint8_t explanation, const char *why)
{
	struct tgt_auth *a = q->auth;
	unsigned suppressed;

	if (tr_ratelimit(&fail_rl, &suppressed))
		tr_warn("%s: host \"%s\" failed authentication (controller %u, queue %u): %s%s", q->peer,
			q->ctrl->hostnqn, q->ctrl->cntlid, q->qid, why,
			suppressed ? " (and others: this line is rate-limited)" : "");
	if (a->step != STEP_FAILED && a->step != STEP_FAILURE1) /* one count per failed transaction */
		host_auth_failed(q);
	auth_set_step(a, STEP_FAILURE1);
	a->failure = explanation;
	a->authenticated = false;
	transaction_clear(a);
}

/* The failure is told: the queue closes shortly unless the host disconnects first. */
static void fail_final(struct tgt_auth *a)
{
	auth_set_step(a, STEP_FAILED);
	a->deadline_ms = tr_now_ms() + AUTH_FAILED_LINGER_MS;
}

/* The host's hash list: ours if offered, else the first one we know (the kernel's target does the
 * same); its DH group list must hold the one configured for the host. */
static void auth_negotiate(struct tgt_queue *q, const struct nvme_auth_msg *m)
{
	struct tgt_auth *a = q->auth;
	const char *why = NULL;
	int hash = -1;

	transaction_clear(a);
	a->t_id = m->t_id;
	a->bidirectional = false;
	if (!host_auth_load(q, a, &why))
		return auth_fail(q, NVME_AUTH_FAIL_FAILED, why);
	if (m->sc_c != NVME_AUTH_SC_C_NONE)
		return auth_fail(q, NVME_AUTH_FAIL_SCC_MISMATCH, "secure channel concatenation asked for; not offered");
	for (unsigned i = 0; i < m->nr_hashes; i++) {
		if (m->hashes[i] == a->want_hash)
			hash = a->want_hash;
		else if (hash < 0 && nvme_auth_hash_len(m->hashes[i]))
			hash = m->hashes[i];
	}
	if (hash < 0)
		return auth_fail(q, NVME_AUTH_FAIL_HASH_UNUSABLE, "no hash it offers is one we have");
	a->dhgid = 0xff;
	for (unsigned i = 0; i < m->nr_dhgroups; i++)
		if (m->dhgroups[i] == a->want_dhgid)
			a->dhgid = a->want_dhgid;
	if (a->dhgid == 0xff)
		return auth_fail(q, NVME_AUTH_FAIL_DHGROUP_UNUSABLE, "it does not offer the DH group configured for it");
	a->hashid = (uint8_t)hash;
	a->hl = (uint8_t)nvme_auth_hash_len(a->hashid);
	auth_set_step(a, STEP_CHALLENGE);
	a->deadline_ms = tr_now_ms() + q->target->handshake_timeout_ms;
}

static int expected_response(struct tgt_queue *q, enum nvme_dhchap_role role, uint8_t *out)
{
	struct tgt_auth *a = q->auth;
	const struct nvme_dhchap_key *key = role == NVME_DHCHAP_HOST ? &a->host_key : &a->ctrl_key;
	const char *nqn = role == NVME_DHCHAP_HOST ? q->ctrl->hostnqn : q->ctrl->subsys->nqn;
	uint8_t transformed[NVME_DHCHAP_KEY_MAX];
	struct nvme_dhchap_response_in in = {
		.hashid = a->hashid, .key = transformed, .challenge = role == NVME_DHCHAP_HOST ? a->c1 : a->c2,
		.session_key = a->dh ? a->session_key : NULL, .session_key_len = nvme_dhgroup_size(a->dhgid),
		.seqnum = role == NVME_DHCHAP_HOST ? a->s1 : a->s2, .t_id = a->t_id, .sc_c = NVME_AUTH_SC_C_NONE,
		.role = role, .hostnqn = q->ctrl->hostnqn, .subnqn = q->ctrl->subsys->nqn,
	};
	int len = nvme_dhchap_key_transform(key, nqn, transformed), err;

	if (len <= 0)
		return -EINVAL;
	in.key_len = (size_t)len;
	err = nvme_dhchap_response(&in, out);
	OPENSSL_cleanse(transformed, sizeof(transformed));
	return err;
}

static void auth_reply(struct tgt_queue *q, const struct nvme_auth_msg *m)
{
	struct tgt_auth *a = q->auth;
	uint8_t want[NVME_AUTH_MAX_DIGEST];

	if (m->hl != a->hl || m->dhvlen != nvme_dhgroup_size(a->dhgid))
		return auth_fail(q, NVME_AUTH_FAIL_INCORRECT_PAYLOAD, "Reply's hash or DH value length is wrong");
	if (a->dh && nvme_dh_derive(a->dh, m->dh_value, m->dhvlen, a->session_key))
		return auth_fail(q, NVME_AUTH_FAIL_DHGROUP_UNUSABLE, "its DH value is not in the group");
	if (expected_response(q, NVME_DHCHAP_HOST, want) || !nvme_dhchap_equal(want, m->value, a->hl))
		return auth_fail(q, NVME_AUTH_FAIL_FAILED, "wrong response (a wrong secret, or a replayed message)");
	a->bidirectional = m->host_challenge != NULL;
	if (a->bidirectional) {
		if (!a->has_ctrl_key)
			return auth_fail(q, NVME_AUTH_FAIL_FAILED, "it asks the controller to authenticate; no "
								   "controller secret is set for it");
		if (m->seqnum == 0)
			return auth_fail(q, NVME_AUTH_FAIL_INCORRECT_PAYLOAD, "a host challenge with sequence number 0");
		memcpy(a->c2, m->host_challenge, a->hl);
		a->s2 = m->seqnum;
	}
	auth_set_step(a, STEP_SUCCESS1);
}

static void auth_done(struct tgt_queue *q)
{
	struct tgt_auth *a = q->auth;
	struct tgt_ctrl *ctrl = q->ctrl;
	bool first = !a->authenticated;

	a->authenticated = true;
	auth_set_step(a, STEP_DONE);
	transaction_clear(a);
	if (tgt_queue_is_admin(q)) {
		pthread_mutex_lock(&ctrl->lock);
		ctrl->admin_authenticated = true;
		pthread_mutex_unlock(&ctrl->lock);
	}
	if (first && tgt_queue_is_admin(q))
		tr_info("ctrl %u: host \"%s\" authenticated with hmac(%s), DH group %s%s", ctrl->cntlid, ctrl->hostnqn,
			nvme_auth_hash_name(a->hashid), nvme_dhgroup_name(a->dhgid),
			a->bidirectional ? "; controller authenticated to it" : "");
	else
		tr_debug("ctrl %u: queue %u authenticated", ctrl->cntlid, q->qid);
}

/* Failure2: the host refused our response (a wrong controller secret, mostly). It reads no
 * Failure1 after that: the queue is done. */
static void auth_host_gave_up(struct tgt_queue *q, const struct nvme_auth_msg *m)
{
	char why[96];

	snprintf(why, sizeof(why), "it refused the controller's response (its Failure2 says: %s)",
		 nvme_auth_failure_name(m->rescode_exp));
	auth_fail(q, NVME_AUTH_FAIL_FAILED, why);
	fail_final(q->auth);
}

/* Authentication Send: one message from the host. The command itself succeeds whatever the message
 * says; a bad message turns the transaction to Failure1, which the next Receive returns. */
static void auth_send(struct tgt_cmd *cmd)
{
	struct tgt_queue *q = cmd->queue;
	struct tgt_auth *a = q->auth;
	struct nvme_auth_msg m;
	int bad = nvme_auth_msg_decode(cmd->buf, cmd->data_len, true, &m);

	if (a->step == STEP_FAILED || a->step == STEP_FAILURE1)
		auth_fail(q, NVME_AUTH_FAIL_FAILED, "a message after a failed transaction");
	else if (bad)
		auth_fail(q, (uint8_t)bad, "malformed or truncated message");
	else if (m.auth_id == NVME_AUTH_ID_NEGOTIATE)
		auth_negotiate(q, &m); /* at any time: a new transaction, or a re-authentication */
	else if (m.auth_id == NVME_AUTH_ID_FAILURE2)
		auth_host_gave_up(q, &m);
	else if (!(m.auth_id == NVME_AUTH_ID_REPLY && a->step == STEP_REPLY) &&
		 !(m.auth_id == NVME_AUTH_ID_SUCCESS2 && a->step == STEP_SUCCESS2))
		auth_fail(q, NVME_AUTH_FAIL_INCORRECT_PROTOCOL_MESSAGE, "a message out of turn (or replayed)");
	else if (m.t_id != a->t_id)
		auth_fail(q, NVME_AUTH_FAIL_INCORRECT_PAYLOAD, "a message from another transaction");
	else if (m.auth_id == NVME_AUTH_ID_REPLY)
		auth_reply(q, &m);
	else
		auth_done(q);
	tgt_cmd_complete(cmd, NVME_SC_SUCCESS);
}

static size_t build_challenge(struct tgt_queue *q, uint8_t *msg, size_t cap)
{
	struct tgt_auth *a = q->auth;
	uint8_t pub[NVME_AUTH_MAX_DH_VALUE];
	size_t dhlen = nvme_dhgroup_size(a->dhgid);

	if (nvme_dhchap_random(a->c1, a->hl))
		return 0;
	a->s1 = nvme_dhchap_seqnum();
	if (dhlen) {
		a->dh = nvme_dh_generate(a->dhgid, pub);
		if (!a->dh)
			return 0;
	}
	return nvme_auth_encode_challenge(msg, cap, a->t_id, a->hashid, a->dhgid, a->s1, a->c1, a->hl,
					  dhlen ? pub : NULL, (uint16_t)dhlen);
}

static size_t build_success1(struct tgt_queue *q, uint8_t *msg, size_t cap)
{
	struct tgt_auth *a = q->auth;
	uint8_t r2[NVME_AUTH_MAX_DIGEST];

	if (a->bidirectional && expected_response(q, NVME_DHCHAP_CTRL, r2))
		return 0;
	return nvme_auth_encode_success1(msg, cap, a->t_id, a->bidirectional ? r2 : NULL, a->hl);
}

/* Authentication Receive: our next message. One the host does not expect (it should be sending)
 * ends the transaction with Failure1. */
static void auth_receive(struct tgt_cmd *cmd)
{
	struct tgt_queue *q = cmd->queue;
	struct tgt_auth *a = q->auth;
	uint8_t msg[sizeof(struct nvme_auth_challenge) + NVME_AUTH_MAX_DIGEST + NVME_AUTH_MAX_DH_VALUE];
	size_t len = 0;

	if (a->step == STEP_CHALLENGE) {
		len = build_challenge(q, msg, sizeof(msg));
		auth_set_step(a, STEP_REPLY);
	} else if (a->step == STEP_SUCCESS1) {
		len = build_success1(q, msg, sizeof(msg));
		if (a->bidirectional)
			auth_set_step(a, STEP_SUCCESS2);
		else if (len)
			auth_done(q);
	} else if (a->step != STEP_FAILURE1) {
		auth_fail(q, NVME_AUTH_FAIL_INCORRECT_PROTOCOL_MESSAGE, "a Receive where a message was due from it");
	}
	if (!len && a->step != STEP_FAILURE1)
		auth_fail(q, NVME_AUTH_FAIL_FAILED, "our own message could not be made (out of memory or randomness)");
	if (a->step == STEP_FAILURE1) {
		len = nvme_auth_encode_failure(msg, sizeof(msg), false, a->t_id, a->failure);
		fail_final(a);
	}
	if (len > cmd->data_len) { /* al too small for the message: the host gets nothing half-made */
		tgt_cmd_complete(cmd, NVME_SC_INVALID_FIELD | NVME_SC_DNR);
		return;
	}
	tgt_cmd_complete(cmd, tgt_cmd_reply(cmd, msg, len));
}

uint16_t tgt_parse_auth_cmd(struct tgt_cmd *cmd)
{
	const struct nvmf_auth_command *c = (const void *)&cmd->sqe;
	struct tgt_queue *q = cmd->queue;
	bool send = c->fctype == nvmf_type_auth_send;

	if (!q->auth) {
		tr_warn("%s: Authentication %s on a queue that needs none", q->peer, send ? "Send" : "Receive");
		return NVME_SC_CMD_SEQ_ERROR | NVME_SC_DNR;
	}
	if (c->secp != NVME_AUTH_SECP_INBAND || c->spsp0 != NVME_AUTH_SPSP || c->spsp1 != NVME_AUTH_SPSP ||
	    c->len == 0 || c->len > AUTH_MAX_MSG || c->len != cmd->data_len ||
	    cmd->xfer != (send ? TGT_XFER_H2C : TGT_XFER_C2H))
		return NVME_SC_INVALID_FIELD | NVME_SC_DNR;
	cmd->execute = send ? auth_send : auth_receive;
	return 0;
}

/* ---- A queue's authentication state ---- */

int tgt_auth_queue_init(struct tgt_queue *q)
{
	q->auth = calloc(1, sizeof(*q->auth));
	if (!q->auth)
		return -ENOMEM;
	q->auth->deadline_ms = tr_now_ms() + q->target->handshake_timeout_ms;
	return 0;
}

void tgt_auth_queue_free(struct tgt_queue *q)
{
	if (!q->auth)
		return;
	transaction_clear(q->auth);
	free(q->auth);
	q->auth = NULL;
}

bool tgt_auth_queue_ready(const struct tgt_queue *q)
{
	return !q->auth || q->auth->authenticated;
}

bool tgt_auth_check_deadline(struct tgt_queue *q, uint64_t now_ms)
{
	struct tgt_auth *a = q->auth;
	static struct tr_ratelimit rl = TR_RATELIMIT_INIT(5000, 10);
	unsigned suppressed;

	if (!a || !q->target->handshake_timeout_ms || a->step == STEP_DONE || now_ms < a->deadline_ms)
		return false;
	if (a->authenticated) { /* a re-authentication left half-done: forget it, as nvmet does */
		auth_set_step(a, STEP_DONE);
		transaction_clear(a);
		return false;
	}
	if (a->step != STEP_FAILED && tr_ratelimit(&rl, &suppressed))
		tr_warn("%s: host \"%s\" did not authenticate queue %u within %u ms; closing%s", q->peer,
			q->ctrl->hostnqn, q->qid, q->target->handshake_timeout_ms,
			suppressed ? " (and others like it: this line is rate-limited)" : "");
	q->ops->close(q, a->step == STEP_FAILED ? "authentication failed" : "authentication timeout");
	return true;
}
