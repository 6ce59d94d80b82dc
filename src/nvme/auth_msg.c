/* NVMe in-band authentication messages: every length, count and identifier in a received message
 * is checked against the message's own size before anything points into it; the verdict is the
 * Failure explanation the peer is told (NVMe Base 2.0, "DH-HMAC-CHAP_Failure"). */
#include <string.h>

#include "nvme/auth_msg.h"
#include "nvme/dhchap_key.h" /* nvme_auth_hash_len: one table of hash identifiers */

static bool digest_len_ok(uint8_t hl)
{
	return hl == 32 || hl == 48 || hl == 64;
}

static int decode_negotiate(const uint8_t *b, size_t len, struct nvme_auth_msg *m)
{
	const struct nvme_auth_negotiate *n = (const void *)b;

	if (len < sizeof(*n) || n->napd == 0 || sizeof(*n) + (size_t)n->napd * sizeof(n->desc[0]) > len)
		return NVME_AUTH_FAIL_INCORRECT_PAYLOAD;
	m->sc_c = n->sc_c;
	for (unsigned i = 0; i < n->napd; i++) {
		const struct nvme_auth_dhchap_descriptor *d = &n->desc[i];

		if (d->authid != NVME_AUTH_PROTOCOL_DHCHAP)
			continue;
		if (d->halen > NVME_AUTH_HASH_LIST_MAX || d->dhlen > NVME_AUTH_DHG_LIST_MAX || !d->halen || !d->dhlen)
			return NVME_AUTH_FAIL_INCORRECT_PAYLOAD;
		m->hashes = d->idlist;
		m->nr_hashes = d->halen;
		m->dhgroups = d->idlist + NVME_AUTH_HASH_LIST_MAX;
		m->nr_dhgroups = d->dhlen;
		return 0;
	}
	return NVME_AUTH_FAIL_PROTOCOL_UNUSABLE;
}

static int decode_challenge(const uint8_t *b, size_t len, struct nvme_auth_msg *m)
{
	const struct nvme_auth_challenge *c = (const void *)b;

	if (len < sizeof(*c))
		return NVME_AUTH_FAIL_INCORRECT_PAYLOAD;
	if (!nvme_auth_hash_len(c->hashid))
		return NVME_AUTH_FAIL_HASH_UNUSABLE;
	if (c->dhgid > NVME_AUTH_DHGROUP_8192)
		return NVME_AUTH_FAIL_DHGROUP_UNUSABLE;
	if (c->hl != nvme_auth_hash_len(c->hashid) || c->dhvlen > NVME_AUTH_MAX_DH_VALUE ||
	    (c->dhgid == NVME_AUTH_DHGROUP_NULL) != (c->dhvlen == 0) || sizeof(*c) + c->hl + (size_t)c->dhvlen > len)
		return NVME_AUTH_FAIL_INCORRECT_PAYLOAD;
	m->hl = c->hl;
	m->hashid = c->hashid;
	m->dhgid = c->dhgid;
	m->seqnum = c->seqnum;
	m->value = c->cval;
	m->dhvlen = c->dhvlen;
	m->dh_value = c->dhvlen ? c->cval + c->hl : NULL;
	return 0;
}

static int decode_reply(const uint8_t *b, size_t len, struct nvme_auth_msg *m)
{
	const struct nvme_auth_reply *r = (const void *)b;

	if (len < sizeof(*r) || !digest_len_ok(r->hl) || r->dhvlen > NVME_AUTH_MAX_DH_VALUE ||
	    sizeof(*r) + 2 * (size_t)r->hl + r->dhvlen > len)
		return NVME_AUTH_FAIL_INCORRECT_PAYLOAD;
	m->hl = r->hl;
	m->seqnum = r->seqnum;
	m->value = r->rval;
	m->host_challenge = (r->cvalid & NVME_AUTH_REPLY_CVALID) ? r->rval + r->hl : NULL;
	m->dhvlen = r->dhvlen;
	m->dh_value = r->dhvlen ? r->rval + 2 * r->hl : NULL;
	return 0;
}

static int decode_success1(const uint8_t *b, size_t len, struct nvme_auth_msg *m)
{
	const struct nvme_auth_success1 *s = (const void *)b;

	if (len < sizeof(*s))
		return NVME_AUTH_FAIL_INCORRECT_PAYLOAD;
	if (!(s->rvalid & 1))
		return 0;
	if (!digest_len_ok(s->hl) || sizeof(*s) + (size_t)s->hl > len)
		return NVME_AUTH_FAIL_INCORRECT_PAYLOAD;
	m->hl = s->hl;
	m->value = s->rval;
	return 0;
}

int nvme_auth_msg_decode(const void *buf, size_t len, bool to_controller, struct nvme_auth_msg *m)
{
	const uint8_t *b = buf;
	uint8_t type, id;

	memset(m, 0, sizeof(*m));
	if (len < sizeof(struct nvme_auth_failure))
		return NVME_AUTH_FAIL_INCORRECT_PAYLOAD;
	type = b[0];
	id = b[1];
	m->auth_id = id;
	m->t_id = (uint16_t)(b[4] | b[5] << 8);
	/* Negotiate is a common message, the rest DH-HMAC-CHAP's; a Failure is common by the
	 * specification, but kernels before 6.4 sent theirs as DH-HMAC-CHAP messages: either will do. */
	if (id == NVME_AUTH_ID_FAILURE1 || id == NVME_AUTH_ID_FAILURE2) {
		if (type != NVME_AUTH_COMMON_MESSAGES && type != NVME_AUTH_DHCHAP_MESSAGES)
			return NVME_AUTH_FAIL_INCORRECT_PROTOCOL_MESSAGE;
	} else if (type != (id == NVME_AUTH_ID_NEGOTIATE ? NVME_AUTH_COMMON_MESSAGES : NVME_AUTH_DHCHAP_MESSAGES)) {
		return NVME_AUTH_FAIL_INCORRECT_PROTOCOL_MESSAGE;
	}
	switch (id) {
	case NVME_AUTH_ID_NEGOTIATE:
		return to_controller ? decode_negotiate(b, len, m) : NVME_AUTH_FAIL_INCORRECT_PROTOCOL_MESSAGE;
	case NVME_AUTH_ID_REPLY:
		return to_controller ? decode_reply(b, len, m) : NVME_AUTH_FAIL_INCORRECT_PROTOCOL_MESSAGE;
	case NVME_AUTH_ID_SUCCESS2:
		if (!to_controller)
			return NVME_AUTH_FAIL_INCORRECT_PROTOCOL_MESSAGE;
		return len < sizeof(struct nvme_auth_success2) ? NVME_AUTH_FAIL_INCORRECT_PAYLOAD : 0;
	case NVME_AUTH_ID_CHALLENGE:
		return to_controller ? NVME_AUTH_FAIL_INCORRECT_PROTOCOL_MESSAGE : decode_challenge(b, len, m);
	case NVME_AUTH_ID_SUCCESS1:
		return to_controller ? NVME_AUTH_FAIL_INCORRECT_PROTOCOL_MESSAGE : decode_success1(b, len, m);
	case NVME_AUTH_ID_FAILURE1:
	case NVME_AUTH_ID_FAILURE2:
		if (to_controller != (id == NVME_AUTH_ID_FAILURE2))
			return NVME_AUTH_FAIL_INCORRECT_PROTOCOL_MESSAGE;
		m->rescode = b[6];
		m->rescode_exp = b[7];
		return 0;
	default:
		return NVME_AUTH_FAIL_INCORRECT_PROTOCOL_MESSAGE;
	}
}

/* ---- Encoders ---- */

static void *start(void *buf, size_t cap, size_t len, uint8_t type, uint8_t id, uint16_t t_id)
{
	uint8_t *b = buf;

	if (len > cap)
		return NULL;
	memset(b, 0, len);
	b[0] = type;
	b[1] = id;
	b[4] = (uint8_t)t_id;
	b[5] = (uint8_t)(t_id >> 8);
	return b;
}

size_t nvme_auth_encode_negotiate(void *buf, size_t cap, uint16_t t_id, const uint8_t *hashes, uint8_t nr_hashes,
				  const uint8_t *dhgroups, uint8_t nr_dhgroups)
{
	size_t len = sizeof(struct nvme_auth_negotiate) + sizeof(struct nvme_auth_dhchap_descriptor);
	struct nvme_auth_negotiate *n;

	if (nr_hashes > NVME_AUTH_HASH_LIST_MAX || nr_dhgroups > NVME_AUTH_DHG_LIST_MAX)
		return 0;
	n = start(buf, cap, len, NVME_AUTH_COMMON_MESSAGES, NVME_AUTH_ID_NEGOTIATE, t_id);
	if (!n)
		return 0;
	n->sc_c = NVME_AUTH_SC_C_NONE;
	n->napd = 1;
	n->desc[0].authid = NVME_AUTH_PROTOCOL_DHCHAP;
	n->desc[0].halen = nr_hashes;
	n->desc[0].dhlen = nr_dhgroups;
	memcpy(n->desc[0].idlist, hashes, nr_hashes);
	memcpy(n->desc[0].idlist + NVME_AUTH_HASH_LIST_MAX, dhgroups, nr_dhgroups);
	return len;
}

size_t nvme_auth_encode_challenge(void *buf, size_t cap, uint16_t t_id, uint8_t hashid, uint8_t dhgid,
				  uint32_t seqnum, const uint8_t *cval, uint8_t hl, const uint8_t *dhv, uint16_t dhvlen)
{
	size_t len = sizeof(struct nvme_auth_challenge) + hl + (size_t)dhvlen;
	struct nvme_auth_challenge *c = start(buf, cap, len, NVME_AUTH_DHCHAP_MESSAGES, NVME_AUTH_ID_CHALLENGE, t_id);

	if (!c)
		return 0;
	c->hl = hl;
	c->hashid = hashid;
	c->dhgid = dhgid;
	c->dhvlen = dhvlen;
	c->seqnum = seqnum;
	memcpy(c->cval, cval, hl);
	if (dhvlen)
		memcpy(c->cval + hl, dhv, dhvlen);
	return len;
}

size_t nvme_auth_encode_reply(void *buf, size_t cap, uint16_t t_id, uint32_t seqnum, const uint8_t *rval,
			      const uint8_t *host_challenge, uint8_t hl, const uint8_t *dhv, uint16_t dhvlen)
{
	size_t len = sizeof(struct nvme_auth_reply) + 2 * (size_t)hl + dhvlen;
	struct nvme_auth_reply *r = start(buf, cap, len, NVME_AUTH_DHCHAP_MESSAGES, NVME_AUTH_ID_REPLY, t_id);

	if (!r)
		return 0;
	r->hl = hl;
	r->cvalid = host_challenge ? NVME_AUTH_REPLY_CVALID : 0;
	r->dhvlen = dhvlen;
	r->seqnum = seqnum;
	memcpy(r->rval, rval, hl);
	if (host_challenge)
		memcpy(r->rval + hl, host_challenge, hl);
	if (dhvlen)
		memcpy(r->rval + 2 * hl, dhv, dhvlen);
	return len;
}

size_t nvme_auth_encode_success1(void *buf, size_t cap, uint16_t t_id, const uint8_t *rval, uint8_t hl)
{
	size_t len = sizeof(struct nvme_auth_success1) + (rval ? hl : 0);
	struct nvme_auth_success1 *s = start(buf, cap, len, NVME_AUTH_DHCHAP_MESSAGES, NVME_AUTH_ID_SUCCESS1, t_id);

	if (!s)
		return 0;
	s->hl = hl;
	if (rval) {
		s->rvalid = 1;
		memcpy(s->rval, rval, hl);
	}
	return len;
}

size_t nvme_auth_encode_success2(void *buf, size_t cap, uint16_t t_id)
{
	return start(buf, cap, sizeof(struct nvme_auth_success2), NVME_AUTH_DHCHAP_MESSAGES, NVME_AUTH_ID_SUCCESS2,
		     t_id)
		       ? sizeof(struct nvme_auth_success2)
		       : 0;
}

size_t nvme_auth_encode_failure(void *buf, size_t cap, bool to_controller, uint16_t t_id, uint8_t explanation)
{
	struct nvme_auth_failure *f = start(buf, cap, sizeof(*f), NVME_AUTH_COMMON_MESSAGES,
					    to_controller ? NVME_AUTH_ID_FAILURE2 : NVME_AUTH_ID_FAILURE1, t_id);

	if (!f)
		return 0;
	f->rescode = NVME_AUTH_FAILURE_REASON_FAILED;
	f->rescode_exp = explanation;
	return sizeof(*f);
}

const char *nvme_auth_msg_name(uint8_t auth_id)
{
	switch (auth_id) {
	case NVME_AUTH_ID_NEGOTIATE: return "AUTH_Negotiate";
	case NVME_AUTH_ID_CHALLENGE: return "DH-HMAC-CHAP_Challenge";
	case NVME_AUTH_ID_REPLY: return "DH-HMAC-CHAP_Reply";
	case NVME_AUTH_ID_SUCCESS1: return "DH-HMAC-CHAP_Success1";
	case NVME_AUTH_ID_SUCCESS2: return "DH-HMAC-CHAP_Success2";
	case NVME_AUTH_ID_FAILURE1: return "AUTH_Failure1";
	case NVME_AUTH_ID_FAILURE2: return "AUTH_Failure2";
	default: return "unknown authentication message";
	}
}

const char *nvme_auth_failure_name(uint8_t explanation)
{
	switch (explanation) {
	case NVME_AUTH_FAIL_FAILED: return "authentication failed";
	case NVME_AUTH_FAIL_PROTOCOL_UNUSABLE: return "authentication protocol not usable";
	case NVME_AUTH_FAIL_SCC_MISMATCH: return "secure channel concatenation mismatch";
	case NVME_AUTH_FAIL_HASH_UNUSABLE: return "hash function not usable";
	case NVME_AUTH_FAIL_DHGROUP_UNUSABLE: return "DH group not usable";
	case NVME_AUTH_FAIL_INCORRECT_PAYLOAD: return "incorrect payload";
	case NVME_AUTH_FAIL_INCORRECT_PROTOCOL_MESSAGE: return "incorrect protocol message";
	default: return "unknown failure";
	}
}
