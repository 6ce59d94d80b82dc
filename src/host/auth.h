/* The host's side of DH-HMAC-CHAP in-band authentication (NVMe Base 2.0, 8.13.5; TP 8006): one
 * controller's secrets, and the exchange on one queue right after its Fabrics Connect, as the Linux
 * kernel's host (drivers/nvme/host/auth.c) runs it on the wire. */
#ifndef TIGHTROPE_HOST_AUTH_H
#define TIGHTROPE_HOST_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvme/dhchap_key.h"

struct hq;

struct host_auth {
	bool have_host, have_ctrl; /* a host secret; a controller secret too (bidirectional) */
	/* The secrets as the protocol uses them: transformed with the host NQN and the subsystem NQN. */
	uint8_t host_key[NVME_DHCHAP_KEY_MAX], ctrl_key[NVME_DHCHAP_KEY_MAX];
	size_t host_key_len, ctrl_key_len;
	uint16_t next_tid; /* transaction IDs: one counter per controller, as the kernel's */
	/* What the admin queue's last transaction settled on: logged, and shown by `list`. */
	bool authenticated, ctrl_authenticated;
	uint8_t hashid, dhgid;
};

/* Parse (nvme_dhchap_key_parse) and transform the secrets, either of which may be NULL; a controller
 * secret needs a host secret. 0, or -EINVAL with 'why' saying which secret is wrong and how (never
 * what it is). */
int host_auth_init(struct host_auth *a, const char *secret, const char *ctrl_secret, const char *hostnqn,
		   const char *subnqn, char *why, size_t whylen);
/* Wipe the keys. */
void host_auth_clear(struct host_auth *a);

/* Queue q's Connect completed with 'result'. Authenticate when it asks (AUTHREQ.ATR); refuse secure
 * channel concatenation (ASCR), and a controller that asks for nothing while we hold its secret unless
 * 'lenient' (a discovery controller: Linux never authenticates one, and what it lists is only a list).
 * 0 when the queue may be used, else -errno with 'why'. */
int host_auth_queue(struct host_auth *a, struct hq *q, uint32_t result, bool lenient, const char *hostnqn,
		    const char *subnqn, char *why, size_t whylen);

#endif
