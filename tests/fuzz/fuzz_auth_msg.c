/* libFuzzer harness for the in-band authentication message decoder (src/nvme/auth_msg.c): the first
 * byte picks the direction (to the controller or to the host), the rest is one message. Whatever it
 * accepts must point only inside the message, and encoding what it decoded must decode to the same. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "nvme/auth_msg.h"

static bool inside(const uint8_t *base, size_t len, const uint8_t *p, size_t n)
{
	return !p || (p >= base && p + n <= base + len);
}

/* The message again from its decoded fields; 0 for the kinds whose encoder takes other inputs. */
static size_t reencode(const struct nvme_auth_msg *m, bool to_controller, uint8_t *out, size_t cap)
{
	switch (m->auth_id) {
	case NVME_AUTH_ID_NEGOTIATE:
		return nvme_auth_encode_negotiate(out, cap, m->t_id, m->hashes, m->nr_hashes, m->dhgroups,
						  m->nr_dhgroups);
	case NVME_AUTH_ID_CHALLENGE:
		return nvme_auth_encode_challenge(out, cap, m->t_id, m->hashid, m->dhgid, m->seqnum, m->value, m->hl,
						  m->dh_value, m->dhvlen);
	case NVME_AUTH_ID_REPLY:
		return nvme_auth_encode_reply(out, cap, m->t_id, m->seqnum, m->value, m->host_challenge, m->hl,
					      m->dh_value, m->dhvlen);
	case NVME_AUTH_ID_SUCCESS1:
		return nvme_auth_encode_success1(out, cap, m->t_id, m->value, m->hl);
	case NVME_AUTH_ID_SUCCESS2:
		return nvme_auth_encode_success2(out, cap, m->t_id);
	default:
		return nvme_auth_encode_failure(out, cap, to_controller, m->t_id, m->rescode_exp);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t again[4096];
	struct nvme_auth_msg m, m2;
	bool to_controller;

	if (size < 1)
		return 0;
	to_controller = data[0] & 1;
	data++, size--;
	if (nvme_auth_msg_decode(data, size, to_controller, &m))
		return 0;
	if (!inside(data, size, m.value, m.hl) || !inside(data, size, m.host_challenge, m.hl) ||
	    !inside(data, size, m.dh_value, m.dhvlen) || !inside(data, size, m.hashes, m.nr_hashes) ||
	    !inside(data, size, m.dhgroups, m.nr_dhgroups))
		abort();
	size_t n = reencode(&m, to_controller, again, sizeof(again));
	if (!n || nvme_auth_msg_decode(again, n, to_controller, &m2) || m2.auth_id != m.auth_id || m2.t_id != m.t_id ||
	    m2.hl != m.hl || m2.dhvlen != m.dhvlen || m2.seqnum != m.seqnum || m2.nr_hashes != m.nr_hashes ||
	    (m.value && memcmp(m2.value, m.value, m.hl)) || (m.dh_value && memcmp(m2.dh_value, m.dh_value, m.dhvlen)))
		abort();
	return 0;
}
