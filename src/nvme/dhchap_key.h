/* DH-HMAC-CHAP secrets in the representation nvme-cli's gen-dhchap-key writes and the Linux kernel
 * reads: "DHHC-1:NN:<base64 of the key and its CRC-32>:", where NN names the hash the secret is
 * transformed with before use (00 none, 01 SHA-256, 02 SHA-384, 03 SHA-512; NVMe Base 2.0,
 * 8.13.5.8). Parsing, writing, the transformation and generation; OpenSSL does the cryptography. */
#ifndef TIGHTROPE_NVME_DHCHAP_KEY_H
#define TIGHTROPE_NVME_DHCHAP_KEY_H

#include <stddef.h>
#include <stdint.h>

#define NVME_DHCHAP_KEY_MAX 64
/* "DHHC-1:NN:" + base64 of 64 + 4 bytes (92 characters) + ":" + NUL */
#define NVME_DHCHAP_SECRET_MAX (10 + 92 + 2)

enum nvme_auth_hash {
	NVME_AUTH_HASH_NONE = 0,
	NVME_AUTH_HASH_SHA256 = 1,
	NVME_AUTH_HASH_SHA384 = 2,
	NVME_AUTH_HASH_SHA512 = 3,
};

struct nvme_dhchap_key {
	uint8_t key[NVME_DHCHAP_KEY_MAX];
	uint32_t len; /* 32, 48 or 64 */
	uint8_t hash; /* enum nvme_auth_hash: how the key is transformed before use */
};

/* "sha256" ..., or NULL for an unknown identifier; the digest length in bytes, or 0. */
const char *nvme_auth_hash_name(uint8_t hash);
size_t nvme_auth_hash_len(uint8_t hash);

/* Parse a secret. 0, or -EINVAL (not the DHHC-1 form, bad base64, an unknown hash), -ERANGE (a
 * key that is not 32, 48 or 64 bytes), -EBADMSG (its CRC-32 does not match). */
int nvme_dhchap_key_parse(const char *secret, struct nvme_dhchap_key *out);
/* Write a key in the DHHC-1 form; out must hold NVME_DHCHAP_SECRET_MAX bytes. 0 or -EINVAL. */
int nvme_dhchap_key_format(const struct nvme_dhchap_key *key, char *out, size_t outlen);
/* The key as the protocol uses it: itself for hash 00, else HMAC-hash(key, NQN || "NVMe-over-Fabrics"),
 * as the kernel's nvme_auth_transform_key. out holds NVME_DHCHAP_KEY_MAX bytes; returns its length
 * or -EINVAL / -EIO. */
int nvme_dhchap_key_transform(const struct nvme_dhchap_key *key, const char *nqn, uint8_t *out);
/* What gen-dhchap-key writes: a secret of len bytes (given, or random when secret is NULL),
 * transformed with hash for the NQN when hash is not 00, labelled with hash. 0 or -errno. */
int nvme_dhchap_key_generate(const uint8_t *secret, uint32_t len, uint8_t hash, const char *nqn,
			     struct nvme_dhchap_key *out);

#endif
