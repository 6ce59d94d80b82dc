/* NVMe/TCP TLS pre-shared keys (TP 8011): the PSK interchange format "NVMeTLSkey-1:HH:<base64 of the
 * key and its CRC-32>:", the PSK identity, and the derivation configured PSK -> retained PSK -> TLS
 * PSK exactly as libnvme 1.13 (nvme-cli 2.13, Debian 13) computes what it puts in the kernel's .nvme
 * keyring for the Linux 6.12 host and target. OpenSSL does the cryptography. */
#ifndef TIGHTROPE_NVME_TLS_PSK_H
#define TIGHTROPE_NVME_TLS_PSK_H

#include <stddef.h>
#include <stdint.h>

#define NVME_TLS_PSK_MAX 48
/* "NVMeTLSkey-1:HH:" + base64 of 48 + 4 bytes (72 characters) + ":" + NUL */
#define NVME_TLS_PSK_STR_MAX (16 + 72 + 2)
/* "NVMe1R02 " + two NQNs of up to 255 characters, spaces, a base64 SHA-384 digest and NUL */
#define NVME_TLS_IDENTITY_MAX (9 + 255 + 1 + 255 + 1 + 64 + 1)
/* "<identity> NVMeTLSkey-v:HH:...:" as nvme-cli's --keyfile writes it (without the newline) */
#define NVME_TLS_KEYFILE_LINE_MAX (NVME_TLS_IDENTITY_MAX + NVME_TLS_PSK_STR_MAX)

/* The interchange format's HH: how the configured PSK becomes the retained PSK. */
enum nvme_tls_hash {
	NVME_TLS_HASH_NONE = 0, /* the configured PSK is the retained PSK (32 or 48 bytes) */
	NVME_TLS_HASH_SHA256 = 1, /* 32-byte key, TLS_AES_128_GCM_SHA256 */
	NVME_TLS_HASH_SHA384 = 2, /* 48-byte key, TLS_AES_256_GCM_SHA384 */
};

struct nvme_tls_psk {
	uint8_t key[NVME_TLS_PSK_MAX];
	uint32_t len; /* 32 or 48 */
	uint8_t hash; /* enum nvme_tls_hash */
};

/* Parse a PSK in the interchange form. 0, or -EINVAL (not "NVMeTLSkey-1:HH:base64:", HH not 00-02,
 * bad base64), -ERANGE (a key whose length does not fit HH: 01 needs 32 bytes, 02 48, 00 either),
 * -EBADMSG (its CRC-32 does not match). */
int nvme_tls_psk_parse(const char *str, struct nvme_tls_psk *out);
/* Write a PSK in the interchange form; out holds NVME_TLS_PSK_STR_MAX bytes. 0 or -EINVAL. */
int nvme_tls_psk_format(const struct nvme_tls_psk *psk, char *out, size_t outlen);
/* What gen-tls-key writes: a configured PSK for hash 1 (32 bytes) or 2 (48 bytes), the given
 * secret or a random one when secret is NULL. 0, -EINVAL or -EIO. */
int nvme_tls_psk_generate(const uint8_t *secret, uint8_t hash, struct nvme_tls_psk *out);

/* The hash of the TLS cipher suite the PSK is for: HH, or for HH 00 the key's length (32 SHA-256,
 * 48 SHA-384). This names the identity ("NVMe0R01") and hashes the second derivation step. */
uint8_t nvme_tls_psk_cipher(const struct nvme_tls_psk *psk);
/* The retained PSK for a host: the configured PSK itself for HH 00, else
 * HKDF-Expand(HKDF-Extract(0, configured), LE16(L) || "tls13 HostNQN" || hostnqn, L), L the key's length.
 * out holds NVME_TLS_PSK_MAX bytes; returns L, or -EINVAL / -EIO. */
int nvme_tls_psk_retained(const struct nvme_tls_psk *configured, const char *hostnqn, uint8_t *out);
/* The PSK identity for a host/subsystem pair and the TLS PSK that goes with it, as libnvme 1.13:
 * version 0 "NVMe0R0c <hostnqn> <subnqn>", version 1 "NVMe1R0c <hostnqn> <subnqn> <digest>" (c the
 * cipher hash, digest the base64 of HMAC(retained, hostnqn " " subnqn " NVMe-over-Fabrics")); the
 * TLS PSK is HKDF-Expand(HKDF-Extract(0, retained), LE16(L) || "tls13 nvme-tls-psk" || context, L)
 * with context the identity for version 0 and "0c <digest>" for version 1. identity holds
 * idlen bytes (NVME_TLS_IDENTITY_MAX suffices); tls gets the TLS PSK and its cipher hash. 0, -EINVAL
 * (a version other than 0 or 1, a missing or too long NQN, a short buffer) or -EIO. */
int nvme_tls_psk_derive(const struct nvme_tls_psk *configured, unsigned version, const char *hostnqn,
			const char *subnqn, char *identity, size_t idlen, struct nvme_tls_psk *tls);
/* "<identity> NVMeTLSkey-<v>:<HH>:<base64>:", the line nvme-cli 2.13 appends to a --keyfile and
 * `nvme tls-key --export` prints for a key in the keyring: v is the identity's version digit, so
 * it reads "NVMeTLSkey-0:" for a version 0 identity. out holds NVME_TLS_KEYFILE_LINE_MAX bytes.
 * 0 or -EINVAL. */
int nvme_tls_keyfile_line(const char *identity, const struct nvme_tls_psk *tls, char *out, size_t outlen);

#endif
