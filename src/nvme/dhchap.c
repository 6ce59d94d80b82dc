/* DH-HMAC-CHAP's cryptography through OpenSSL 3: HMAC responses, the augmented challenge and the
 * RFC 7919 ffdhe exchange, with the byte order the Linux kernel's nvme-auth uses on the wire. */
#include <errno.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/dh.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nvme/dhchap.h"

/* Each group with its prime's size and the private key length in bits: twice the group's security
 * strength, as NIST SP 800-56A rev. 3 (5.6.1.1.3) allows for safe-prime groups and the Linux
 * kernel generates its keys. Full-length exponents made an ffdhe8192 connect take over a second. */
static const struct {
	uint8_t id;
	const char *name;
	size_t size;
	int priv_bits;
} dhgroups[] = {
	{ NVME_AUTH_DHGROUP_NULL, "null", 0, 0 },	   { NVME_AUTH_DHGROUP_2048, "ffdhe2048", 256, 224 },
	{ NVME_AUTH_DHGROUP_3072, "ffdhe3072", 384, 256 }, { NVME_AUTH_DHGROUP_4096, "ffdhe4096", 512, 304 },
	{ NVME_AUTH_DHGROUP_6144, "ffdhe6144", 768, 352 }, { NVME_AUTH_DHGROUP_8192, "ffdhe8192", 1024, 400 },
};

#define NR_DHGROUPS (sizeof(dhgroups) / sizeof(dhgroups[0]))

static int dhgroup_priv_bits(uint8_t dhgid)
{
	for (size_t i = 0; i < NR_DHGROUPS; i++)
		if (dhgroups[i].id == dhgid)
			return dhgroups[i].priv_bits;
	return 0;
}

const char *nvme_dhgroup_name(uint8_t dhgid)
{
	for (size_t i = 0; i < NR_DHGROUPS; i++)
		if (dhgroups[i].id == dhgid)
			return dhgroups[i].name;
	return NULL;
}

int nvme_dhgroup_id(const char *name)
{
	for (size_t i = 0; i < NR_DHGROUPS; i++)
		if (!strcasecmp(name, dhgroups[i].name))
			return dhgroups[i].id;
	return -1;
}

size_t nvme_dhgroup_size(uint8_t dhgid)
{
	for (size_t i = 0; i < NR_DHGROUPS; i++)
		if (dhgroups[i].id == dhgid)
			return dhgroups[i].size;
	return 0;
}

int nvme_auth_hash_id(const char *name)
{
	static const char *const spellings[][3] = {
		[NVME_AUTH_HASH_SHA256] = { "sha256", "hmac(sha256)", "sha-256" },
		[NVME_AUTH_HASH_SHA384] = { "sha384", "hmac(sha384)", "sha-384" },
		[NVME_AUTH_HASH_SHA512] = { "sha512", "hmac(sha512)", "sha-512" },
	};

	for (int id = NVME_AUTH_HASH_SHA256; id <= NVME_AUTH_HASH_SHA512; id++)
		for (int i = 0; i < 3; i++)
			if (!strcasecmp(name, spellings[id][i]))
				return id;
	return -1;
}

static int hmac_init(EVP_MAC_CTX **ctx, uint8_t hashid, const uint8_t *key, size_t key_len)
{
	const char *digest = nvme_auth_hash_name(hashid);
	EVP_MAC *mac;
	OSSL_PARAM params[2];

	if (!nvme_auth_hash_len(hashid) || !digest)
		return -EINVAL;
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	*ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	EVP_MAC_free(mac);
	if (!*ctx)
		return -EIO;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (!EVP_MAC_init(*ctx, key, key_len, params)) {
		EVP_MAC_CTX_free(*ctx);
		*ctx = NULL;
		return -EIO;
	}
	return 0;
}

/* Ca = HMAC(H(session key), C): the kernel's nvme_auth_augmented_challenge. */
static int augment_challenge(uint8_t hashid, const uint8_t *skey, size_t skey_len, const uint8_t *challenge,
			     uint8_t *out)
{
	size_t hl = nvme_auth_hash_len(hashid), outl = 0;
	uint8_t hashed_key[NVME_AUTH_MAX_DIGEST];
	unsigned int mdl = 0;
	EVP_MAC_CTX *ctx;
	int err;

	if (!EVP_Digest(skey, skey_len, hashed_key, &mdl, EVP_get_digestbyname(nvme_auth_hash_name(hashid)), NULL) ||
	    mdl != hl)
		return -EIO;
	err = hmac_init(&ctx, hashid, hashed_key, hl);
	OPENSSL_cleanse(hashed_key, sizeof(hashed_key));
	if (err)
		return err;
	if (!EVP_MAC_update(ctx, challenge, hl) || !EVP_MAC_final(ctx, out, &outl, hl) || outl != hl)
		err = -EIO;
	EVP_MAC_CTX_free(ctx);
	return err;
}

int nvme_dhchap_response(const struct nvme_dhchap_response_in *in, uint8_t *out)
{
	size_t hl = nvme_auth_hash_len(in->hashid), outl = 0;
	const char *nqn1 = in->role == NVME_DHCHAP_HOST ? in->hostnqn : in->subnqn;
	const char *nqn2 = in->role == NVME_DHCHAP_HOST ? in->subnqn : in->hostnqn;
	const char *label = in->role == NVME_DHCHAP_HOST ? "HostHost" : "Controller";
	uint8_t challenge[NVME_AUTH_MAX_DIGEST], seq[4], tid[2], zero = 0;
	EVP_MAC_CTX *ctx;
	int err;

	if (!hl || !in->key || !in->key_len || !in->challenge)
		return -EINVAL;
	memcpy(challenge, in->challenge, hl);
	if (in->session_key) {
		err = augment_challenge(in->hashid, in->session_key, in->session_key_len, in->challenge, challenge);
		if (err)
			return err;
	}
	seq[0] = (uint8_t)in->seqnum, seq[1] = (uint8_t)(in->seqnum >> 8);
	seq[2] = (uint8_t)(in->seqnum >> 16), seq[3] = (uint8_t)(in->seqnum >> 24);
	tid[0] = (uint8_t)in->t_id, tid[1] = (uint8_t)(in->t_id >> 8);
	err = hmac_init(&ctx, in->hashid, in->key, in->key_len);
	if (err)
		return err;
	if (!EVP_MAC_update(ctx, challenge, hl) || !EVP_MAC_update(ctx, seq, 4) || !EVP_MAC_update(ctx, tid, 2) ||
	    !EVP_MAC_update(ctx, &in->sc_c, 1) || !EVP_MAC_update(ctx, (const uint8_t *)label, strlen(label)) ||
	    !EVP_MAC_update(ctx, (const uint8_t *)nqn1, strlen(nqn1)) || !EVP_MAC_update(ctx, &zero, 1) ||
	    !EVP_MAC_update(ctx, (const uint8_t *)nqn2, strlen(nqn2)) || !EVP_MAC_final(ctx, out, &outl, hl) ||
	    outl != hl)
		err = -EIO;
	EVP_MAC_CTX_free(ctx);
	OPENSSL_cleanse(challenge, sizeof(challenge));
	return err;
}

bool nvme_dhchap_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

/* ---- ffdhe ---- */

struct nvme_dh {
	EVP_PKEY *key;
	uint8_t dhgid;
};

struct nvme_dh *nvme_dh_generate(uint8_t dhgid, uint8_t *pub)
{
	const char *group = nvme_dhgroup_name(dhgid);
	size_t size = nvme_dhgroup_size(dhgid);
	struct nvme_dh *dh = NULL;
	EVP_PKEY_CTX *pctx;
	EVP_PKEY *key = NULL;
	BIGNUM *y = NULL;
	OSSL_PARAM params[3];
	int priv_bits = dhgroup_priv_bits(dhgid);

	if (!size)
		return NULL;
	pctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0);
	params[1] = OSSL_PARAM_construct_int(OSSL_PKEY_PARAM_DH_PRIV_LEN, &priv_bits);
	params[2] = OSSL_PARAM_construct_end();
	if (!pctx || EVP_PKEY_keygen_init(pctx) <= 0 || EVP_PKEY_CTX_set_params(pctx, params) <= 0 ||
	    EVP_PKEY_generate(pctx, &key) <= 0)
		goto out;
	if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PUB_KEY, &y) || BN_bn2binpad(y, pub, (int)size) != (int)size)
		goto out;
	dh = calloc(1, sizeof(*dh));
	if (dh) {
		dh->key = key;
		dh->dhgid = dhgid;
		key = NULL;
	}
out:
	BN_free(y);
	EVP_PKEY_free(key);
	EVP_PKEY_CTX_free(pctx);
	return dh;
}

/* The peer's public value as a key in the same group; NULL if it is not one. */
static EVP_PKEY *peer_key(uint8_t dhgid, const uint8_t *pub, size_t len)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *y = BN_bin2bn(pub, (int)len, NULL);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
	OSSL_PARAM *params = NULL;
	EVP_PKEY *key = NULL;

	if (!bld || !y || !ctx ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, nvme_dhgroup_name(dhgid), 0) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PUB_KEY, y) || !(params = OSSL_PARAM_BLD_to_param(bld)) ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 || EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		key = NULL;
	OSSL_PARAM_free(params);
	EVP_PKEY_CTX_free(ctx);
	BN_free(y);
	OSSL_PARAM_BLD_free(bld);
	if (key) {
		/* 1 < y < p - 1, as RFC 7919 (5.1) asks: in a safe-prime group that leaves out the only
		 * elements of small order (1 and p - 1), which would force a known secret. The full check
		 * (y^q = 1) costs a full-length exponentiation per connection for at most one bit. */
		EVP_PKEY_CTX *check = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
		bool ok = check && EVP_PKEY_public_check_quick(check) == 1;

		EVP_PKEY_CTX_free(check);
		if (!ok) {
			EVP_PKEY_free(key);
			key = NULL;
		}
	}
	return key;
}

int nvme_dh_derive(struct nvme_dh *dh, const uint8_t *peer_pub, size_t peer_len, uint8_t *secret)
{
	size_t size = nvme_dhgroup_size(dh->dhgid), outl = size;
	EVP_PKEY *peer;
	EVP_PKEY_CTX *ctx;
	int err = -EIO;

	if (peer_len != size)
		return -EINVAL;
	peer = peer_key(dh->dhgid, peer_pub, peer_len);
	if (!peer)
		return -EINVAL;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, dh->key, NULL);
	if (ctx && EVP_PKEY_derive_init(ctx) > 0 && EVP_PKEY_CTX_set_dh_pad(ctx, 1) > 0 &&
	    EVP_PKEY_derive_set_peer(ctx, peer) > 0 && EVP_PKEY_derive(ctx, secret, &outl) > 0 && outl == size)
		err = 0;
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer);
	return err;
}

void nvme_dh_free(struct nvme_dh *dh)
{
	if (!dh)
		return;
	EVP_PKEY_free(dh->key);
	free(dh);
}

int nvme_dhchap_random(uint8_t *buf, size_t len)
{
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -EIO;
}

uint32_t nvme_dhchap_seqnum(void)
{
	uint32_t s = 0;

	while (!s)
		if (nvme_dhchap_random((uint8_t *)&s, sizeof(s)))
			s = 1; /* no randomness: still a valid (non-zero) sequence number */
	return s;
}
