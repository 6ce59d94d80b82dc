/* DH-HMAC-CHAP secrets: the DHHC-1 representation (base64 of the key and its little-endian CRC-32,
 * as the Linux kernel's nvme_auth_extract_key checks it), the NQN transformation, generation.
 * HMAC, base64 and randomness are OpenSSL's; the CRC-32 (IEEE, as zlib's) is ISA-L's. */
#include <ctype.h>
#include <errno.h>
#include <isa-l/crc.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "nvme/dhchap_key.h"

#define DHHC_PREFIX "DHHC-1:"
#define DHHC_CRC_LEN 4
#define TRANSFORM_SUFFIX "NVMe-over-Fabrics"
#define NVME_NQN_MAX 256 /* the NQN field's size, terminator included */

static const EVP_MD *hash_md(uint8_t hash)
{
	switch (hash) {
	case NVME_AUTH_HASH_SHA256: return EVP_sha256();
	case NVME_AUTH_HASH_SHA384: return EVP_sha384();
	case NVME_AUTH_HASH_SHA512: return EVP_sha512();
	default: return NULL;
	}
}

const char *nvme_auth_hash_name(uint8_t hash)
{
	switch (hash) {
	case NVME_AUTH_HASH_NONE: return "none";
	case NVME_AUTH_HASH_SHA256: return "sha256";
	case NVME_AUTH_HASH_SHA384: return "sha384";
	case NVME_AUTH_HASH_SHA512: return "sha512";
	default: return NULL;
	}
}

size_t nvme_auth_hash_len(uint8_t hash)
{
	const EVP_MD *md = hash_md(hash);

	return md ? (size_t)EVP_MD_get_size(md) : 0;
}

static uint32_t key_crc(const uint8_t *key, uint32_t len)
{
	return crc32_gzip_refl(0, key, len); /* zlib's crc32(0, key, len) */
}

static bool valid_key_len(uint32_t len)
{
	return len == 32 || len == 48 || len == 64;
}

int nvme_dhchap_key_parse(const char *secret, struct nvme_dhchap_key *out)
{
	uint8_t raw[NVME_DHCHAP_KEY_MAX + DHHC_CRC_LEN + 3];
	const char *b64, *end;
	unsigned hash;
	size_t b64_len;
	int n, pad = 0;
	uint32_t crc;

	const char *nn = secret + strlen(DHHC_PREFIX);

	if (strncmp(secret, DHHC_PREFIX, strlen(DHHC_PREFIX)) || !isxdigit((unsigned char)nn[0]) ||
	    !isxdigit((unsigned char)nn[1]) || nn[2] != ':' || sscanf(nn, "%2x", &hash) != 1 ||
	    !nvme_auth_hash_name((uint8_t)hash))
		return -EINVAL;
	b64 = secret + strlen(DHHC_PREFIX) + 3;
	end = strchr(b64, ':'); /* the trailing ':' is optional, as for the kernel */
	b64_len = end ? (size_t)(end - b64) : strlen(b64);
	if (end && end[1])
		return -EINVAL;
	if (b64_len == 0 || b64_len % 4 || b64_len > 4 * sizeof(raw) / 3)
		return b64_len % 4 ? -EINVAL : -ERANGE;
	n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)b64_len);
	if (n < 0)
		return -EINVAL;
	pad = (b64[b64_len - 1] == '=') + (b64[b64_len - 2] == '='); /* DecodeBlock counts padding */
	n -= pad;
	if (n < DHHC_CRC_LEN || !valid_key_len((uint32_t)n - DHHC_CRC_LEN))
		return -ERANGE;
	out->len = (uint32_t)n - DHHC_CRC_LEN;
	crc = (uint32_t)raw[out->len] | (uint32_t)raw[out->len + 1] << 8 | (uint32_t)raw[out->len + 2] << 16 |
	      (uint32_t)raw[out->len + 3] << 24;
	if (crc != key_crc(raw, out->len))
		return -EBADMSG;
	memcpy(out->key, raw, out->len);
	out->hash = (uint8_t)hash;
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

int nvme_dhchap_key_format(const struct nvme_dhchap_key *key, char *out, size_t outlen)
{
	uint8_t raw[NVME_DHCHAP_KEY_MAX + DHHC_CRC_LEN];
	char b64[4 * (sizeof(raw) + 2) / 3 + 1];
	uint32_t crc;

	if (!valid_key_len(key->len) || !nvme_auth_hash_name(key->hash) || outlen < NVME_DHCHAP_SECRET_MAX)
		return -EINVAL;
	memcpy(raw, key->key, key->len);
	crc = key_crc(key->key, key->len);
	for (int i = 0; i < DHHC_CRC_LEN; i++)
		raw[key->len + i] = (uint8_t)(crc >> (8 * i));
	EVP_EncodeBlock((unsigned char *)b64, raw, (int)key->len + DHHC_CRC_LEN);
	snprintf(out, outlen, DHHC_PREFIX "%02x:%s:", key->hash, b64);
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

static const char *hash_digest_name(uint8_t hash)
{
	switch (hash) {
	case NVME_AUTH_HASH_SHA256: return "SHA256";
	case NVME_AUTH_HASH_SHA384: return "SHA384";
	case NVME_AUTH_HASH_SHA512: return "SHA512";
	default: return NULL;
	}
}

/* HMAC-hash(key, NQN || "NVMe-over-Fabrics") into out; its length or -errno. */
static int transform(const uint8_t *key, uint32_t len, uint8_t hash, const char *nqn, uint8_t *out)
{
	char msg[NVME_NQN_MAX + sizeof(TRANSFORM_SUFFIX)];
	const char *digest = hash_digest_name(hash);
	size_t out_len = 0;
	int n;

	if (!digest || !nqn)
		return -EINVAL;
	n = snprintf(msg, sizeof(msg), "%s" TRANSFORM_SUFFIX, nqn);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return -EINVAL;
	if (!EVP_Q_mac(NULL, "HMAC", NULL, digest, NULL, key, len, (const unsigned char *)msg, (size_t)n, out,
		       NVME_DHCHAP_KEY_MAX, &out_len))
		return -EIO;
	return (int)out_len;
}

int nvme_dhchap_key_transform(const struct nvme_dhchap_key *key, const char *nqn, uint8_t *out)
{
	if (key->hash == NVME_AUTH_HASH_NONE) {
		memcpy(out, key->key, key->len);
		return (int)key->len;
	}
	return transform(key->key, key->len, key->hash, nqn, out);
}

int nvme_dhchap_key_generate(const uint8_t *secret, uint32_t len, uint8_t hash, const char *nqn,
			     struct nvme_dhchap_key *out)
{
	uint8_t raw[NVME_DHCHAP_KEY_MAX];
	int n;

	if (!valid_key_len(len) || !nvme_auth_hash_name(hash))
		return -EINVAL;
	if (secret)
		memcpy(raw, secret, len);
	else if (RAND_bytes(raw, (int)len) != 1)
		return -EIO;
	out->hash = hash;
	if (hash == NVME_AUTH_HASH_NONE) {
		memcpy(out->key, raw, len);
		out->len = len;
	} else {
		n = transform(raw, len, hash, nqn, out->key);
		if (n < 0) {
			OPENSSL_cleanse(raw, sizeof(raw));
			return n;
		}
		out->len = (uint32_t)n;
	}
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}
