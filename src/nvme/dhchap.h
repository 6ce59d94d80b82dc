/* DH-HMAC-CHAP's cryptography (NVMe Base 2.0, 8.13.5.x), as the Linux kernel computes it: the
 * host's and the controller's responses, the challenge augmented with a Diffie-Hellman session key,
 * and the ffdhe exchange itself. OpenSSL does all of it; this file only orders the bytes. */
#ifndef TIGHTROPE_NVME_DHCHAP_H
#define TIGHTROPE_NVME_DHCHAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvme/auth_msg.h"
#include "nvme/dhchap_key.h"

/* "null", "ffdhe2048" ... "ffdhe8192", or NULL; its identifier from a name (-1 if none). */
const char *nvme_dhgroup_name(uint8_t dhgid);
int nvme_dhgroup_id(const char *name);
/* The group's public values and shared secrets in bytes (its prime's size); 0 for null/unknown. */
size_t nvme_dhgroup_size(uint8_t dhgid);
/* A hash's identifier from "sha256", "hmac(sha256)", "SHA-256" ...; -1 if none. */
int nvme_auth_hash_id(const char *name);

/* Which side a response proves: the host ("HostHost") or the controller ("Controller"). */
enum nvme_dhchap_role { NVME_DHCHAP_HOST, NVME_DHCHAP_CTRL };

struct nvme_dhchap_response_in {
	uint8_t hashid; /* the transaction's hash: the response is its HMAC, hl bytes */
	const uint8_t *key; /* the secret, already transformed (nvme_dhchap_key_transform) */
	size_t key_len;
	const uint8_t *challenge; /* hl bytes: C1 for the host's response, C2 for the controller's */
	const uint8_t *session_key; /* the DH shared secret, or NULL for the null group */
	size_t session_key_len;
	uint32_t seqnum; /* S1 (host's response) or S2 (controller's) */
	uint16_t t_id;
	uint8_t sc_c;
	enum nvme_dhchap_role role;
	const char *hostnqn, *subnqn;
};

/* HMAC(key, Ca || SEQ || TID || SC_C || "HostHost" || NQNh || 00h || NQNs) for the host, or
 * (... "Controller" || NQNs || 00h || NQNh) for the controller; Ca is the challenge, augmented as
 * HMAC(H(session key), C) when a DH group is in use. out holds the hash's length. 0 or -EINVAL/-EIO. */
int nvme_dhchap_response(const struct nvme_dhchap_response_in *in, uint8_t *out);

/* Compare two responses in constant time. */
bool nvme_dhchap_equal(const uint8_t *a, const uint8_t *b, size_t len);

/* One side's ephemeral Diffie-Hellman key in an ffdhe group. */
struct nvme_dh;
/* Generate a key; its public value, padded to the group's size, goes to pub (nvme_dhgroup_size
 * bytes). NULL on failure (an unknown group, or OpenSSL's error). */
struct nvme_dh *nvme_dh_generate(uint8_t dhgid, uint8_t *pub);
/* The shared secret with the peer's public value (which must be the group's size and pass
 * OpenSSL's public-key check), padded to the group's size. 0, -EINVAL (a bad value) or -EIO. */
int nvme_dh_derive(struct nvme_dh *dh, const uint8_t *peer_pub, size_t peer_len, uint8_t *secret);
void nvme_dh_free(struct nvme_dh *dh);

/* Random bytes for challenges; a random non-zero sequence number. 0 or -EIO. */
int nvme_dhchap_random(uint8_t *buf, size_t len);
uint32_t nvme_dhchap_seqnum(void);

#endif
