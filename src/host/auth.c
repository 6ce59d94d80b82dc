/* DH-HMAC-CHAP on one host queue, as the Linux kernel's host runs it on the wire: AUTH_Negotiate (every
 * hash and DH group, in the kernel's order), the controller's Challenge, our Reply (response R1, our
 * own challenge C2 when the controller is to prove itself too, our DH public value), Success1 with the
 * controller's R2 checked, Success2. Authentication Send and Receive run synchronously on the queue,
 * which nothing else uses yet. What the kernel answers with AUTH_Failure2 we answer with it too. */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/auth.h"
#include "host/queue.h"
#include "nvme/auth_msg.h"
#include "nvme/dhchap.h"
#include "util/log.h"

/* A Receive's allocation length: the kernel's CHAP_BUF_SIZE, room for an ffdhe8192 Challenge. */
#define AUTH_BUF 4096

static const uint8_t offered_hashes[] = { NVME_AUTH_HASH_SHA256, NVME_AUTH_HASH_SHA384, NVME_AUTH_HASH_SHA512 };
static const uint8_t offered_dhgroups[] = { NVME_AUTH_DHGROUP_NULL, NVME_AUTH_DHGROUP_2048, NVME_AUTH_DHGROUP_3072,
					    NVME_AUTH_DHGROUP_4096, NVME_AUTH_DHGROUP_6144, NVME_AUTH_DHGROUP_8192 };

/* One transaction on one queue. Wiped before it is freed: it holds the session key. */
struct txn {
	struct host_auth *a;
	struct hq *q;
	const char *hostnqn, *subnqn;
	char *why;
	size_t whylen;
	uint16_t tid;
	uint8_t hashid, dhgid, hl;
	uint32_t s1, s2; /* S2 stays 0 without a controller secret, as the kernel sends it */
	uint8_t c1[NVME_AUTH_MAX_DIGEST], c2[NVME_AUTH_MAX_DIGEST];
	uint8_t r1[NVME_AUTH_MAX_DIGEST], r2[NVME_AUTH_MAX_DIGEST];
	uint8_t pub[NVME_AUTH_MAX_DH_VALUE], sess[NVME_AUTH_MAX_DH_VALUE];
	size_t dh_len; /* of both; 0 for the null group */
	uint8_t explanation; /* set when the controller is to be told with an AUTH_Failure2 */
	uint8_t buf[AUTH_BUF];
};

static int fail(struct txn *t, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct txn *t, int err, const char *fmt, ...)
{
	int n = snprintf(t->why, t->whylen, "queue %u: ", t->q->qid);
	va_list ap;

	va_start(ap, fmt);
	if (n > 0 && (size_t)n < t->whylen)
		vsnprintf(t->why + n, t->whylen - (size_t)n, fmt, ap);
	va_end(ap);
	return err;
}

/* Authentication Send (len bytes of t->buf) or Receive (into t->buf). 'what' names the message for
 * the error; NULL leaves 'why' alone (the Failure2 after an error already described). */
static int auth_cmd(struct txn *t, bool send, uint32_t len, const char *what)
{
	struct nvmf_auth_command c = { .opcode = nvme_admin_fabrics,
				       .fctype = send ? nvmf_type_auth_send : nvmf_type_auth_receive,
				       .spsp0 = NVME_AUTH_SPSP,
				       .spsp1 = NVME_AUTH_SPSP,
				       .secp = NVME_AUTH_SECP_INBAND,
				       .len = len }; /* TL for a Send, AL for a Receive */
	uint32_t saved_inline = t->q->inline_max;
	int status;

	/* The message travels in the capsule, as the kernel's host sends it (and as Connect's data does). */
	if (send && len > t->q->inline_max)
		t->q->inline_max = len;
	status = hq_exec(t->q, (struct nvme_command *)&c, t->buf, len, NULL);
	t->q->inline_max = saved_inline;
	if (!status || !what)
		return status < 0 ? status : status ? -EREMOTEIO : 0;
	if (status < 0)
		return fail(t, status, "Authentication %s (%s): %s", send ? "Send" : "Receive", what,
			    t->q->why[0] ? t->q->why : strerror(-status));
	return fail(t, -EREMOTEIO, "Authentication %s (%s): status %#x (%s)", send ? "Send" : "Receive", what, status,
		    tr_status_str(status));
}

/* Give up on something the controller sent or we could not do, telling the controller why. */
static int refuse(struct txn *t, int err, uint8_t explanation, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int refuse(struct txn *t, int err, uint8_t explanation, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	t->explanation = explanation;
	return fail(t, err, "%s", msg);
}

/* Receive the next message, which must be 'expect' of this transaction (or the controller's Failure1),
 * as the kernel's nvme_auth_receive_validate checks it; then decode it into m. */
static int receive(struct txn *t, uint8_t expect, struct nvme_auth_msg *m)
{
	const char *name = nvme_auth_msg_name(expect);
	uint8_t type, id, exp;
	uint16_t tid;
	int err;

	memset(t->buf, 0, sizeof(t->buf));
	err = auth_cmd(t, false, sizeof(t->buf), name);
	type = t->buf[0], id = t->buf[1], tid = (uint16_t)(t->buf[4] | t->buf[5] << 8);
	/* A Failure1 is a common message; kernels before 6.4 sent theirs as a DH-HMAC-CHAP one. */
	if ((type == NVME_AUTH_COMMON_MESSAGES || type == NVME_AUTH_DHCHAP_MESSAGES) && id == NVME_AUTH_ID_FAILURE1 &&
	    (!err || tid == t->tid))
		return fail(t, -EACCES, "authentication failed: refused by the controller (AUTH_Failure1: %s)%s",
			    nvme_auth_failure_name(t->buf[7]), err ? ", which then ended the connection" : "");
	/* Linux's target ends the association as it sends a Failure1, and the end may overtake it. */
	if (err == -ECONNRESET)
		return fail(t, -EACCES,
			    "authentication failed: the controller ended the connection instead of sending "
			    "%s (%s)",
			    name, t->q->why);
	if (err)
		return err;
	if (type != NVME_AUTH_DHCHAP_MESSAGES || id != expect)
		return fail(t, -EPROTO, "authentication failed: expected %s, the controller sent %s (type %u, id %#x)",
			    name, nvme_auth_msg_name(id), type, id);
	if (tid != t->tid)
		return fail(t, -EPROTO, "authentication failed: %s for transaction %u, ours is %u", name, tid, t->tid);
	exp = (uint8_t)nvme_auth_msg_decode(t->buf, sizeof(t->buf), false, m);
	if (exp)
		return refuse(t, -EPROTO, exp, "authentication failed: malformed %s (%s)", name,
			      nvme_auth_failure_name(exp));
	return 0;
}

/* The Challenge: a hash and a DH group we offered, a DH value of the group's size; then our half of
 * the Diffie-Hellman exchange and the session key. */
static int take_challenge(struct txn *t, const struct nvme_auth_msg *m)
{
	const char *group = nvme_dhgroup_name(m->dhgid);
	size_t dh_size = nvme_dhgroup_size(m->dhgid);
	struct nvme_dh *dh;
	int err;

	if (!memchr(offered_hashes, m->hashid, sizeof(offered_hashes)) || m->hl != nvme_auth_hash_len(m->hashid))
		return refuse(t, -EPROTO, NVME_AUTH_FAIL_HASH_UNUSABLE,
			      "authentication failed: the Challenge names hash %u with %u-byte values", m->hashid,
			      m->hl);
	if (!memchr(offered_dhgroups, m->dhgid, sizeof(offered_dhgroups)))
		return refuse(t, -EPROTO, NVME_AUTH_FAIL_DHGROUP_UNUSABLE,
			      "authentication failed: the Challenge names DH group %u, which we did not offer",
			      m->dhgid);
	if (m->dhvlen != dh_size)
		return refuse(t, -EPROTO, NVME_AUTH_FAIL_INCORRECT_PAYLOAD,
			      "authentication failed: the Challenge's DH value is %u bytes, %s's are %zu", m->dhvlen,
			      group, dh_size);
	t->hashid = m->hashid, t->dhgid = m->dhgid, t->hl = m->hl, t->s1 = m->seqnum;
	memcpy(t->c1, m->value, t->hl);
	if (!dh_size)
		return 0;
	dh = nvme_dh_generate(m->dhgid, t->pub);
	if (!dh)
		return refuse(t, -EIO, NVME_AUTH_FAIL_FAILED, "authentication failed: cannot make a %s key", group);
	err = nvme_dh_derive(dh, m->dh_value, m->dhvlen, t->sess);
	nvme_dh_free(dh);
	if (err)
		return refuse(t, err, NVME_AUTH_FAIL_INCORRECT_PAYLOAD,
			      "authentication failed: the controller's %s public value is %s", group,
			      err == -EINVAL ? "not a member of the group" : "unusable");
	t->dh_len = dh_size;
	return 0;
}

/* A response: ours (HOST: the host secret, C1, S1) or the one the controller must send (CTRL: the
 * controller secret, C2, S2). */
static int response(struct txn *t, enum nvme_dhchap_role role, uint8_t *out)
{
	bool host = role == NVME_DHCHAP_HOST;
	struct nvme_dhchap_response_in in = {
		.hashid = t->hashid,
		.key = host ? t->a->host_key : t->a->ctrl_key,
		.key_len = host ? t->a->host_key_len : t->a->ctrl_key_len,
		.challenge = host ? t->c1 : t->c2,
		.session_key = t->dh_len ? t->sess : NULL,
		.session_key_len = t->dh_len,
		.seqnum = host ? t->s1 : t->s2,
		.t_id = t->tid,
		.sc_c = NVME_AUTH_SC_C_NONE,
		.role = role,
		.hostnqn = t->hostnqn,
		.subnqn = t->subnqn,
	};

	return nvme_dhchap_response(&in, out);
}

static int send_reply(struct txn *t)
{
	bool bidi = t->a->have_ctrl;
	size_t len;
	int err;

	if (response(t, NVME_DHCHAP_HOST, t->r1))
		return refuse(t, -EIO, NVME_AUTH_FAIL_FAILED, "authentication failed: cannot compute our response");
	if (bidi) {
		if (nvme_dhchap_random(t->c2, t->hl))
			return refuse(t, -EIO, NVME_AUTH_FAIL_FAILED, "authentication failed: no random challenge");
		t->s2 = nvme_dhchap_seqnum();
	}
	len = nvme_auth_encode_reply(t->buf, sizeof(t->buf), t->tid, t->s2, t->r1, bidi ? t->c2 : NULL, t->hl,
				     t->dh_len ? t->pub : NULL, (uint16_t)t->dh_len);
	err = auth_cmd(t, true, (uint32_t)len, nvme_auth_msg_name(NVME_AUTH_ID_REPLY));
	if (err)
		t->explanation = NVME_AUTH_FAIL_FAILED;
	return err;
}

/* Success1: its hash length ours; with a controller secret, the controller's response must be there
 * and be R2 (the kernel's host accepts a Success1 without one: we do not). */
static int check_success1(struct txn *t, const struct nvme_auth_msg *m)
{
	if (t->buf[6] != t->hl)
		return refuse(t, -EPROTO, NVME_AUTH_FAIL_HASH_UNUSABLE,
			      "authentication failed: DH-HMAC-CHAP_Success1 has hash length %u, not %u", t->buf[6],
			      t->hl);
	if (!t->a->have_ctrl)
		return 0;
	if (!m->value)
		return refuse(t, -EACCES, NVME_AUTH_FAIL_FAILED,
			      "controller authentication failed: DH-HMAC-CHAP_Success1 carries no response (RVALID 0)");
	if (response(t, NVME_DHCHAP_CTRL, t->r2))
		return refuse(t, -EIO, NVME_AUTH_FAIL_FAILED,
			      "controller authentication failed: cannot compute its expected response");
	if (!nvme_dhchap_equal(t->r2, m->value, t->hl))
		return refuse(t, -EACCES, NVME_AUTH_FAIL_FAILED,
			      "controller authentication failed: its response does not prove the controller secret");
	return 0;
}

static int transaction(struct txn *t)
{
	struct nvme_auth_msg m;
	size_t len = nvme_auth_encode_negotiate(t->buf, sizeof(t->buf), t->tid, offered_hashes, sizeof(offered_hashes),
						offered_dhgroups, sizeof(offered_dhgroups));
	int err = auth_cmd(t, true, (uint32_t)len, nvme_auth_msg_name(NVME_AUTH_ID_NEGOTIATE));

	if (!err)
		err = receive(t, NVME_AUTH_ID_CHALLENGE, &m);
	if (!err)
		err = take_challenge(t, &m);
	if (!err)
		err = send_reply(t);
	if (!err)
		err = receive(t, NVME_AUTH_ID_SUCCESS1, &m);
	if (!err)
		err = check_success1(t, &m);
	if (!err && t->a->have_ctrl) {
		len = nvme_auth_encode_success2(t->buf, sizeof(t->buf), t->tid);
		err = auth_cmd(t, true, (uint32_t)len, nvme_auth_msg_name(NVME_AUTH_ID_SUCCESS2));
	}
	if (err && t->explanation) {
		/* The controller ends the association on it: whatever it answers changes nothing. */
		len = nvme_auth_encode_failure(t->buf, sizeof(t->buf), true, t->tid, t->explanation);
		auth_cmd(t, true, (uint32_t)len, NULL);
	}
	return err;
}

int host_auth_queue(struct host_auth *a, struct hq *q, uint32_t result, bool lenient, const char *hostnqn,
		    const char *subnqn, char *why, size_t whylen)
{
	struct txn *t;
	int err;

	if (q->qid == 0) /* a new association: nothing proven yet */
		a->authenticated = a->ctrl_authenticated = false;
	if (result & NVME_CONNECT_AUTHREQ_ASCR) {
		snprintf(why, whylen,
			 "queue %u: the controller asks for secure channel concatenation (AUTHREQ.ASCR), "
			 "which tightrope does not support",
			 q->qid);
		return -EOPNOTSUPP;
	}
	if (!(result & NVME_CONNECT_AUTHREQ_ATR)) {
		if (!a->have_ctrl || lenient)
			return 0;
		snprintf(why, whylen,
			 "queue %u: controller did not authenticate itself: its Connect asks for no "
			 "authentication, and a controller secret was given",
			 q->qid);
		return -EACCES;
	}
	if (!a->have_host) {
		snprintf(why, whylen, "queue %u: controller requires authentication; no --dhchap-secret given", q->qid);
		return -ENOKEY;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	*t = (struct txn){
		.a = a, .q = q, .hostnqn = hostnqn, .subnqn = subnqn, .why = why, .whylen = whylen, .tid = a->next_tid++
	};
	err = transaction(t);
	if (!err && q->qid == 0) {
		a->authenticated = true;
		a->ctrl_authenticated = a->have_ctrl;
		a->hashid = t->hashid;
		a->dhgid = t->dhgid;
		tr_info("ctrl %u (%s): authenticated with hash hmac(%s) dhgroup %s", result & 0xffff, subnqn,
			nvme_auth_hash_name(t->hashid), nvme_dhgroup_name(t->dhgid));
		if (a->have_ctrl)
			tr_info("ctrl %u (%s): controller authenticated", result & 0xffff, subnqn);
	} else if (!err) {
		tr_debug("ctrl %u (%s): queue %u authenticated (transaction %u)", result & 0xffff, subnqn, q->qid,
			 t->tid);
	}
	OPENSSL_cleanse(t, sizeof(*t));
	free(t);
	return err;
}

/* ---- The secrets ---- */

static int load_key(const char *secret, const char *option, const char *nqn, uint8_t *out, size_t *out_len, char *why,
		    size_t whylen)
{
	struct nvme_dhchap_key key;
	int err = nvme_dhchap_key_parse(secret, &key), n;

	if (err) {
		snprintf(why, whylen, "%s: %s", option,
			 err == -EBADMSG	  ? "CRC mismatch: the secret was mistyped or cut"
				 : err == -ERANGE ? "the key is not 32, 48 or 64 bytes"
						  : "not a DHHC-1 secret (DHHC-1:NN:base64:, NN 00 to 03)");
		return -EINVAL;
	}
	n = nvme_dhchap_key_transform(&key, nqn, out);
	OPENSSL_cleanse(&key, sizeof(key));
	if (n < 0) {
		snprintf(why, whylen, "%s: cannot transform the secret with the NQN %s", option, nqn);
		return -EINVAL;
	}
	*out_len = (size_t)n;
	return 0;
}

int host_auth_init(struct host_auth *a, const char *secret, const char *ctrl_secret, const char *hostnqn,
		   const char *subnqn, char *why, size_t whylen)
{
	int err = 0;

	memset(a, 0, sizeof(*a));
	a->have_host = secret && secret[0];
	a->have_ctrl = ctrl_secret && ctrl_secret[0];
	if (a->have_ctrl && !a->have_host) {
		snprintf(why, whylen, "--dhchap-ctrl-secret needs --dhchap-secret: the host proves itself first");
		return -EINVAL;
	}
	if (a->have_host)
		err = load_key(secret, "--dhchap-secret", hostnqn, a->host_key, &a->host_key_len, why, whylen);
	if (!err && a->have_ctrl)
		err = load_key(ctrl_secret, "--dhchap-ctrl-secret", subnqn, a->ctrl_key, &a->ctrl_key_len, why, whylen);
	if (err)
		host_auth_clear(a);
	return err;
}

void host_auth_clear(struct host_auth *a)
{
	OPENSSL_cleanse(a, sizeof(*a));
}
