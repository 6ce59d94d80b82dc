/* NVMe/TCP TLS PSKs: the interchange form (base64 of the key and its little-endian CRC-32, as
 * libnvme's nvme_import_tls_key checks it), identities, and the two HKDF steps with libnvme 1.13's
 * info encoding. HKDF, HMAC, base64 and randomness are OpenSSL's; the CRC-32 (IEEE, as zlib's) is
 * ISA-L's. */
#include <errno.h>
#include <isa-l/crc.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "nvme/tls_psk.h"

#define PSK_PREFIX "NVMeTLSkey-1:"
#define PSK_CRC_LEN 4
#define NQN_MAX 255 /* characters; the NQN field is 256 bytes with its terminator */
#define DIGEST_SUFFIX "NVMe-over-Fabrics"
#define B64_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

static const char *digest_name(uint8_t hash)
{
	switch (hash) {
	case NVME_TLS_HASH_SHA256: return "SHA256";
	case NVME_TLS_HASH_SHA384: return "SHA384";
	default: return NULL;
	}
}

static uint32_t hash_key_len(uint8_t hash)
{
	return hash == NVME_TLS_HASH_SHA256 ? 32 : hash == NVME_TLS_HASH_SHA384 ? 48 : 0;
}

/* Whether a key of len bytes may carry HH hash: 01 is SHA-256's 32 bytes, 02 SHA-384's 48, and an
 * untransformed key (00) may be either. */
static bool len_fits(uint8_t hash, uint32_t len)
{
	if (hash == NVME_TLS_HASH_NONE)
		return len == 32 || len == 48;
	return len == hash_key_len(hash);
}

static uint32_t key_crc(const uint8_t *key, uint32_t len)
{
	return crc32_gzip_refl(0, key, len); /* zlib's crc32(0, key, len) */
}

/* "NVMeTLSkey-<version>:<HH>:<base64 of key || CRC-32 LE>:" into out. */
static int encode(unsigned version, const struct nvme_tls_psk *psk, char *out, size_t outlen)
{
	uint8_t raw[NVME_TLS_PSK_MAX + PSK_CRC_LEN];
	char b64[4 * (sizeof(raw) + 2) / 3 + 1];
	uint32_t crc;
	int n;

	if (version > 9 || psk->hash > NVME_TLS_HASH_SHA384 || !len_fits(psk->hash, psk->len))
		return -EINVAL;
	memcpy(raw, psk->key, psk->len);
	crc = key_crc(psk->key, psk->len);
	for (int i = 0; i < PSK_CRC_LEN; i++)
		raw[psk->len + i] = (uint8_t)(crc >> (8 * i));
	EVP_EncodeBlock((unsigned char *)b64, raw, (int)psk->len + PSK_CRC_LEN);
	OPENSSL_cleanse(raw, sizeof(raw));
	n = snprintf(out, outlen, "NVMeTLSkey-%u:%02x:%s:", version, psk->hash, b64);
	OPENSSL_cleanse(b64, sizeof(b64));
	return n < 0 || (size_t)n >= outlen ? -EINVAL : 0;
}

int nvme_tls_psk_parse(const char *str, struct nvme_tls_psk *out)
{
	uint8_t raw[NVME_TLS_PSK_MAX + PSK_CRC_LEN + 3];
	const char *hh = str + strlen(PSK_PREFIX), *b64 = hh + 3;
	size_t b64_len, pad;
	uint32_t crc;
	int n;

	if (strncmp(str, PSK_PREFIX, strlen(PSK_PREFIX)) || hh[0] != '0' || hh[1] < '0' || hh[1] > '2' ||
	    hh[2] != ':')
		return -EINVAL;
	b64_len = strspn(b64, B64_CHARS);
	pad = strspn(b64 + b64_len, "="); /* padding only at the end, then ':' and nothing after it */
	if (pad > 2 || b64[b64_len + pad] != ':' || b64[b64_len + pad + 1])
		return -EINVAL;
	b64_len += pad;
	if (b64_len % 4)
		return -EINVAL;
	if (b64_len == 0 || b64_len > 4 * sizeof(raw) / 3)
		return -ERANGE;
	n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)b64_len);
	if (n < 0)
		return -EINVAL;
	n -= (int)pad; /* DecodeBlock counts the bytes padding stands for */
	out->hash = (uint8_t)(hh[1] - '0');
	if (n < PSK_CRC_LEN || !len_fits(out->hash, (uint32_t)n - PSK_CRC_LEN)) {
		OPENSSL_cleanse(raw, sizeof(raw));
		return -ERANGE;
	}
	out->len = (uint32_t)n - PSK_CRC_LEN;
	crc = (uint32_t)raw[out->len] | (uint32_t)raw[out->len + 1] << 8 | (uint32_t)raw[out->len + 2] << 16 |
	      (uint32_t)raw[out->len + 3] << 24;
	if (crc != key_crc(raw, out->len)) {
		OPENSSL_cleanse(raw, sizeof(raw));
		return -EBADMSG;
	}
	memcpy(out->key, raw, out->len);
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

int nvme_tls_psk_format(const struct nvme_tls_psk *psk, char *out, size_t outlen)
{
	return encode(1, psk, out, outlen);
}

int nvme_tls_psk_generate(const uint8_t *secret, uint8_t hash, struct nvme_tls_psk *out)
{
	uint32_t len = hash_key_len(hash);

	if (!len)
		return -EINVAL;
	if (secret)
		memcpy(out->key, secret, len);
	else if (RAND_bytes(out->key, (int)len) != 1)
		return -EIO;
	out->len = len;
	out->hash = hash;
	return 0;
}

uint8_t nvme_tls_psk_cipher(const struct nvme_tls_psk *psk)
{
	if (psk->hash != NVME_TLS_HASH_NONE)
		return psk->hash;
	return psk->len == 48 ? NVME_TLS_HASH_SHA384 : NVME_TLS_HASH_SHA256;
}

/* HKDF-Extract with an all-zero salt of the hash's length, then HKDF-Expand to len bytes with
 * info = LE16(len) || label || context: libnvme 1.13's encoding, which puts the length low byte
 * first and no length byte before label or context (RFC 8446's HkdfLabel has both). */
static int hkdf(uint8_t hash, const uint8_t *key, uint32_t len, const char *label, const char *context,
		uint8_t *out)
{
	uint8_t info[2 + 32 + NVME_TLS_IDENTITY_MAX], salt[NVME_TLS_PSK_MAX] = { 0 };
	size_t label_len = strlen(label), context_len = strlen(context);
	const char *digest = digest_name(hash);
	OSSL_PARAM params[5];
	EVP_KDF_CTX *ctx;
	EVP_KDF *kdf;
	int ok;

	if (!digest || label_len + context_len > sizeof(info) - 2)
		return -EINVAL;
	info[0] = (uint8_t)len;
	info[1] = (uint8_t)(len >> 8);
	memcpy(info + 2, label, label_len);
	memcpy(info + 2 + label_len, context, context_len);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)digest, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, len);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt, hash_key_len(hash));
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, 2 + label_len + context_len);
	params[4] = OSSL_PARAM_construct_end();
	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	ok = ctx && EVP_KDF_derive(ctx, out, len, params) == 1;
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return ok ? (int)len : -EIO;
}

static bool valid_nqn(const char *nqn)
{
	return nqn && *nqn && strlen(nqn) <= NQN_MAX;
}

int nvme_tls_psk_retained(const struct nvme_tls_psk *configured, const char *hostnqn, uint8_t *out)
{
	if (configured->hash > NVME_TLS_HASH_SHA384 || !len_fits(configured->hash, configured->len) ||
	    !valid_nqn(hostnqn))
		return -EINVAL;
	if (configured->hash == NVME_TLS_HASH_NONE) {
		memcpy(out, configured->key, configured->len);
		return (int)configured->len;
	}
	return hkdf(configured->hash, configured->key, configured->len, "tls13 HostNQN", hostnqn, out);
}

/* Version 1's PSK digest: base64 of HMAC-hash(retained, hostnqn " " subnqn " NVMe-over-Fabrics"). */
static int psk_digest(uint8_t hash, const uint8_t *retained, uint32_t len, const char *hostnqn,
		      const char *subnqn, char *out, size_t outlen)
{
	char msg[2 * NQN_MAX + 2 + sizeof(DIGEST_SUFFIX)];
	uint8_t mac[NVME_TLS_PSK_MAX];
	size_t mac_len = 0;
	int n;

	n = snprintf(msg, sizeof(msg), "%s %s " DIGEST_SUFFIX, hostnqn, subnqn);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return -EINVAL;
	if (!EVP_Q_mac(NULL, "HMAC", NULL, digest_name(hash), NULL, retained, len, (const unsigned char *)msg,
		       (size_t)n, mac, sizeof(mac), &mac_len))
		return -EIO;
	if (outlen < 4 * ((mac_len + 2) / 3) + 1)
		return -EINVAL;
	EVP_EncodeBlock((unsigned char *)out, mac, (int)mac_len);
	return 0;
}

int nvme_tls_psk_derive(const struct nvme_tls_psk *configured, unsigned version, const char *hostnqn,
			const char *subnqn, char *identity, size_t idlen, struct nvme_tls_psk *tls)
{
	uint8_t retained[NVME_TLS_PSK_MAX], cipher = nvme_tls_psk_cipher(configured);
	char digest[4 * NVME_TLS_PSK_MAX / 3 + 1], context[4 + sizeof(digest)];
	int n, err;

	if (version > 1 || !valid_nqn(subnqn))
		return -EINVAL;
	n = nvme_tls_psk_retained(configured, hostnqn, retained);
	if (n < 0)
		return n;
	if (version == 0) {
		n = snprintf(identity, idlen, "NVMe0R%02u %s %s", cipher, hostnqn, subnqn);
	} else {
		err = psk_digest(cipher, retained, configured->len, hostnqn, subnqn, digest, sizeof(digest));
		if (err) {
			OPENSSL_cleanse(retained, sizeof(retained));
			return err;
		}
		n = snprintf(identity, idlen, "NVMe1R%02u %s %s %s", cipher, hostnqn, subnqn, digest);
		snprintf(context, sizeof(context), "%02u %s", cipher, digest);
	}
	if (n < 0 || (size_t)n >= idlen) {
		OPENSSL_cleanse(retained, sizeof(retained));
		return -EINVAL;
	}
	n = hkdf(cipher, retained, configured->len, "tls13 nvme-tls-psk", version ? context : identity, tls->key);
	OPENSSL_cleanse(retained, sizeof(retained));
	if (n < 0)
		return n;
	tls->len = (uint32_t)n;
	tls->hash = cipher;
	return 0;
}

int nvme_tls_keyfile_line(const char *identity, const struct nvme_tls_psk *tls, char *out, size_t outlen)
{
	size_t id_len;

	/* The key's version is the identity's ("NVMe0R01 ..." -> "NVMeTLSkey-0:"), as nvme-cli 2.13
	 * passes the version it reads from the key's description to nvme_export_tls_key_versioned. */
	if (!identity || strncmp(identity, "NVMe", 4) || identity[4] < '0' || identity[4] > '9')
		return -EINVAL;
	id_len = strlen(identity);
	if (id_len + 2 > outlen)
		return -EINVAL;
	memcpy(out, identity, id_len);
	out[id_len] = ' ';
	return encode((unsigned)(identity[4] - '0'), tls, out + id_len + 1, outlen - id_len - 1);
}
