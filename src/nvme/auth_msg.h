/* NVMe in-band authentication messages (NVMe Base 2.0, 8.13.5.x; TP 8006): the AUTH_Negotiate and
 * DH-HMAC-CHAP Challenge/Reply/Success1/Success2/Failure payloads that Authentication Send and
 * Receive carry, as the Linux kernel lays them out. Pure decode/validate and encode: no crypto. */
#ifndef TIGHTROPE_NVME_AUTH_MSG_H
#define TIGHTROPE_NVME_AUTH_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvme/spec.h"

enum nvme_auth_type { NVME_AUTH_COMMON_MESSAGES = 0x00, NVME_AUTH_DHCHAP_MESSAGES = 0x01 };

enum nvme_auth_id {
	NVME_AUTH_ID_NEGOTIATE = 0x00, /* auth type "common" */
	NVME_AUTH_ID_CHALLENGE = 0x01, /* the rest: auth type DH-HMAC-CHAP */
	NVME_AUTH_ID_REPLY = 0x02,
	NVME_AUTH_ID_SUCCESS1 = 0x03,
	NVME_AUTH_ID_SUCCESS2 = 0x04,
	NVME_AUTH_ID_FAILURE2 = 0xf0, /* host to controller */
	NVME_AUTH_ID_FAILURE1 = 0xf1, /* controller to host */
};

#define NVME_AUTH_PROTOCOL_DHCHAP 0x01 /* the authentication protocol identifier of DH-HMAC-CHAP */
#define NVME_AUTH_SC_C_NONE 0x00 /* secure channel concatenation: none (TLS concatenation is 01h/02h) */
#define NVME_AUTH_ID_LIST_MAX 60 /* hash and DH group identifiers in one protocol descriptor */
#define NVME_AUTH_HASH_LIST_MAX 30
#define NVME_AUTH_DHG_LIST_MAX 30
#define NVME_AUTH_MAX_DIGEST 64 /* SHA-512 */
#define NVME_AUTH_MAX_DH_VALUE 1024 /* ffdhe8192: 8192 bits */

/* DH groups (RFC 7919's ffdhe groups, and "null": no Diffie-Hellman exchange). */
enum nvme_auth_dhgroup {
	NVME_AUTH_DHGROUP_NULL = 0x00,
	NVME_AUTH_DHGROUP_2048 = 0x01,
	NVME_AUTH_DHGROUP_3072 = 0x02,
	NVME_AUTH_DHGROUP_4096 = 0x03,
	NVME_AUTH_DHGROUP_6144 = 0x04,
	NVME_AUTH_DHGROUP_8192 = 0x05,
};

/* Failure reason (always "authentication failed") and its explanations. */
#define NVME_AUTH_FAILURE_REASON_FAILED 0x01
enum nvme_auth_failure_exp {
	NVME_AUTH_FAIL_FAILED = 0x01,
	NVME_AUTH_FAIL_PROTOCOL_UNUSABLE = 0x02,
	NVME_AUTH_FAIL_SCC_MISMATCH = 0x03,
	NVME_AUTH_FAIL_HASH_UNUSABLE = 0x04,
	NVME_AUTH_FAIL_DHGROUP_UNUSABLE = 0x05,
	NVME_AUTH_FAIL_INCORRECT_PAYLOAD = 0x06,
	NVME_AUTH_FAIL_INCORRECT_PROTOCOL_MESSAGE = 0x07,
};

struct nvme_auth_dhchap_descriptor {
	uint8_t authid;
	uint8_t rsvd;
	uint8_t halen;
	uint8_t dhlen;
	uint8_t idlist[NVME_AUTH_ID_LIST_MAX]; /* halen hash identifiers at 0, dhlen group identifiers at 30 */
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_auth_dhchap_descriptor, 64);

struct nvme_auth_negotiate {
	uint8_t auth_type;
	uint8_t auth_id;
	uint16_t rsvd;
	uint16_t t_id;
	uint8_t sc_c;
	uint8_t napd;
	struct nvme_auth_dhchap_descriptor desc[]; /* napd of them */
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_auth_negotiate, 8);

struct nvme_auth_challenge {
	uint8_t auth_type;
	uint8_t auth_id;
	uint16_t rsvd1;
	uint16_t t_id;
	uint8_t hl;
	uint8_t rsvd2;
	uint8_t hashid;
	uint8_t dhgid;
	uint16_t dhvlen;
	uint32_t seqnum;
	uint8_t cval[]; /* hl bytes, then dhvlen bytes of DH value */
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_auth_challenge, 16);

struct nvme_auth_reply {
	uint8_t auth_type;
	uint8_t auth_id;
	uint16_t rsvd1;
	uint16_t t_id;
	uint8_t hl;
	uint8_t rsvd2;
	uint8_t cvalid; /* bit 0: the host's own challenge follows (bidirectional) */
	uint8_t rsvd3;
	uint16_t dhvlen;
	uint32_t seqnum;
	uint8_t rval[]; /* hl bytes of response, hl bytes of challenge, dhvlen bytes of DH value */
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_auth_reply, 16);
#define NVME_AUTH_REPLY_CVALID 0x01

struct nvme_auth_success1 {
	uint8_t auth_type;
	uint8_t auth_id;
	uint16_t rsvd1;
	uint16_t t_id;
	uint8_t hl;
	uint8_t rsvd2;
	uint8_t rvalid; /* bit 0: the controller's response follows */
	uint8_t rsvd3[7];
	uint8_t rval[];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_auth_success1, 16);

struct nvme_auth_success2 {
	uint8_t auth_type;
	uint8_t auth_id;
	uint16_t rsvd1;
	uint16_t t_id;
	uint8_t rsvd2[10];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_auth_success2, 16);

struct nvme_auth_failure {
	uint8_t auth_type;
	uint8_t auth_id;
	uint16_t rsvd1;
	uint16_t t_id;
	uint8_t rescode;
	uint8_t rescode_exp;
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_auth_failure, 8);

/* A received message, decoded: pointers into the caller's buffer. */
struct nvme_auth_msg {
	uint8_t auth_id;
	uint16_t t_id;
	/* Negotiate: the DH-HMAC-CHAP descriptor's lists. */
	uint8_t sc_c;
	const uint8_t *hashes, *dhgroups;
	uint8_t nr_hashes, nr_dhgroups;
	/* Challenge, Reply, Success1. */
	uint8_t hl, hashid, dhgid;
	uint32_t seqnum;
	const uint8_t *value; /* challenge (Challenge), response (Reply, Success1 if valid) */
	const uint8_t *host_challenge; /* Reply with cvalid */
	const uint8_t *dh_value;
	uint16_t dhvlen;
	/* Failure. */
	uint8_t rescode, rescode_exp;
};

/* Validate and decode a message received in an Authentication Send (host to controller: Negotiate,
 * Reply, Success2, Failure2) or Receive (controller to host: Challenge, Success1, Failure1).
 * 0, or the Failure explanation a peer would be told (NVME_AUTH_FAIL_*). */
int nvme_auth_msg_decode(const void *buf, size_t len, bool to_controller, struct nvme_auth_msg *out);

/* Encoders: fill buf (cap bytes) and return the message's length, or 0 if it does not fit. */
size_t nvme_auth_encode_negotiate(void *buf, size_t cap, uint16_t t_id, const uint8_t *hashes, uint8_t nr_hashes,
				  const uint8_t *dhgroups, uint8_t nr_dhgroups);
size_t nvme_auth_encode_challenge(void *buf, size_t cap, uint16_t t_id, uint8_t hashid, uint8_t dhgid,
				  uint32_t seqnum, const uint8_t *cval, uint8_t hl, const uint8_t *dhv, uint16_t dhvlen);
size_t nvme_auth_encode_reply(void *buf, size_t cap, uint16_t t_id, uint32_t seqnum, const uint8_t *rval,
			      const uint8_t *host_challenge, uint8_t hl, const uint8_t *dhv, uint16_t dhvlen);
size_t nvme_auth_encode_success1(void *buf, size_t cap, uint16_t t_id, const uint8_t *rval, uint8_t hl);
size_t nvme_auth_encode_success2(void *buf, size_t cap, uint16_t t_id);
size_t nvme_auth_encode_failure(void *buf, size_t cap, bool to_controller, uint16_t t_id, uint8_t explanation);

const char *nvme_auth_msg_name(uint8_t auth_id);
const char *nvme_auth_failure_name(uint8_t explanation);

#endif
