/* cmocka tests of DH-HMAC-CHAP's cryptography (src/nvme/dhchap.c): responses against digests
 * computed by another implementation (Python's hmac and hashlib, from the formula in the kernel's
 * nvmet_auth_host_hash / nvmet_auth_ctrl_hash), the ffdhe exchange agreeing from both sides in
 * every group, and the public values it must refuse. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "nvme/dhchap.h"

#define HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:host"
#define SUBNQN "nqn.2024-01.io.tightrope:test"

static void hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

static void seq_bytes(uint8_t *p, size_t n, uint8_t first)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(first + i);
}

/* Python: resp(md, key=bytes(range(hl)), ch=bytes(range(0x40, 0x40 + hl)), seq=0x12345678,
 * tid=0x0102, sc_c=0, skey as given). */
static void check_response(uint8_t hashid, enum nvme_dhchap_role role, int skey_byte, size_t skey_len,
			   const char *want)
{
	size_t hl = nvme_auth_hash_len(hashid);
	uint8_t key[64], ch[64], skey[1024], out[64];
	char got[129];
	struct nvme_dhchap_response_in in = { .hashid = hashid, .key = key, .key_len = hl, .challenge = ch,
					      .seqnum = 0x12345678, .t_id = 0x0102, .role = role,
					      .hostnqn = HOSTNQN, .subnqn = SUBNQN };

	seq_bytes(key, hl, 0);
	seq_bytes(ch, hl, 0x40);
	if (skey_byte >= 0) {
		memset(skey, skey_byte, skey_len);
		in.session_key = skey;
		in.session_key_len = skey_len;
	}
	assert_int_equal(nvme_dhchap_response(&in, out), 0);
	hex(out, hl, got);
	assert_string_equal(got, want);
}

static void test_responses(void **state)
{
	(void)state;
	check_response(NVME_AUTH_HASH_SHA256, NVME_DHCHAP_HOST, -1, 0,
		       "780fdbf64de1f1359cfe67f7b1ebd01bb6e2098cc7367b4f0cb07867fea92715");
	check_response(NVME_AUTH_HASH_SHA256, NVME_DHCHAP_CTRL, -1, 0,
		       "57738a41200dfaf4131dfbbeed14028383210d05827ee9bc2a03a2853917b519");
	check_response(NVME_AUTH_HASH_SHA256, NVME_DHCHAP_HOST, 0xab, 256,
		       "58e638efdec42897054d7367b8316b5ed2ef2313a7e072a8852076fe8a7b426c");
	check_response(NVME_AUTH_HASH_SHA384, NVME_DHCHAP_HOST, 0xab, 384,
		       "41db5abd57110193b92d2b1a1fa7401e2c180cd9489593039e68b4e35fb21d6b39a0a43ddfc0182512d881707dfa7e83");
	check_response(NVME_AUTH_HASH_SHA512, NVME_DHCHAP_CTRL, 0xcd, 384,
		       "e813a14bd631e42ccf9572242ae00f3875cacce2bd9962cf60292ad0c20ac1226768d035233daeb5b64482e84c41c67e"
		       "e3a03c4b95a8c103c367419ab5cc1e17");
}

static void test_response_refusals(void **state)
{
	uint8_t key[32] = { 1 }, ch[32] = { 2 }, out[64];
	struct nvme_dhchap_response_in in = { .hashid = 0, .key = key, .key_len = 32, .challenge = ch,
					      .hostnqn = HOSTNQN, .subnqn = SUBNQN };

	(void)state;
	assert_int_equal(nvme_dhchap_response(&in, out), -EINVAL); /* hash 0 */
	in.hashid = 9;
	assert_int_equal(nvme_dhchap_response(&in, out), -EINVAL);
	in.hashid = NVME_AUTH_HASH_SHA256;
	in.key = NULL;
	assert_int_equal(nvme_dhchap_response(&in, out), -EINVAL);
}

static void test_names(void **state)
{
	(void)state;
	assert_int_equal(nvme_dhgroup_id("ffdhe3072"), NVME_AUTH_DHGROUP_3072);
	assert_int_equal(nvme_dhgroup_id("null"), NVME_AUTH_DHGROUP_NULL);
	assert_int_equal(nvme_dhgroup_id("ffdhe1024"), -1);
	assert_string_equal(nvme_dhgroup_name(NVME_AUTH_DHGROUP_8192), "ffdhe8192");
	assert_null(nvme_dhgroup_name(6));
	assert_int_equal(nvme_dhgroup_size(NVME_AUTH_DHGROUP_NULL), 0);
	assert_int_equal(nvme_dhgroup_size(NVME_AUTH_DHGROUP_6144), 768);
	assert_int_equal(nvme_auth_hash_id("hmac(sha384)"), NVME_AUTH_HASH_SHA384);
	assert_int_equal(nvme_auth_hash_id("SHA-512"), NVME_AUTH_HASH_SHA512);
	assert_int_equal(nvme_auth_hash_id("sha256"), NVME_AUTH_HASH_SHA256);
	assert_int_equal(nvme_auth_hash_id("md5"), -1);
}

/* Both sides of every group reach the same secret, and it is not either public value. */
static void test_dh_agree(void **state)
{
	static uint8_t pa[1024], pb[1024], sa[1024], sb[1024];

	(void)state;
	for (uint8_t g = NVME_AUTH_DHGROUP_2048; g <= NVME_AUTH_DHGROUP_8192; g++) {
		size_t size = nvme_dhgroup_size(g);
		struct nvme_dh *a = nvme_dh_generate(g, pa), *b = nvme_dh_generate(g, pb);

		assert_non_null(a);
		assert_non_null(b);
		assert_memory_not_equal(pa, pb, size);
		assert_int_equal(nvme_dh_derive(a, pb, size, sa), 0);
		assert_int_equal(nvme_dh_derive(b, pa, size, sb), 0);
		assert_memory_equal(sa, sb, size);
		assert_memory_not_equal(sa, pa, size);
		/* A value of the wrong length is refused before any arithmetic. */
		assert_int_equal(nvme_dh_derive(a, pb, size - 1, sa), -EINVAL);
		nvme_dh_free(a);
		nvme_dh_free(b);
	}
	assert_null(nvme_dh_generate(NVME_AUTH_DHGROUP_NULL, pa));
	assert_null(nvme_dh_generate(7, pa));
}

/* Values outside the group, which would force a known secret or leak the private key: 0, 1, and
 * all-ones (larger than the prime). */
static void test_dh_bad_public(void **state)
{
	static uint8_t pub[256], v[256], secret[256];
	struct nvme_dh *dh = nvme_dh_generate(NVME_AUTH_DHGROUP_2048, pub);

	(void)state;
	assert_non_null(dh);
	memset(v, 0, sizeof(v));
	assert_int_equal(nvme_dh_derive(dh, v, sizeof(v), secret), -EINVAL);
	v[255] = 1;
	assert_int_equal(nvme_dh_derive(dh, v, sizeof(v), secret), -EINVAL);
	memset(v, 0xff, sizeof(v)); /* larger than p */
	assert_int_equal(nvme_dh_derive(dh, v, sizeof(v), secret), -EINVAL);
	nvme_dh_free(dh);
}

static void test_random(void **state)
{
	uint8_t a[32], b[32];

	(void)state;
	assert_int_equal(nvme_dhchap_random(a, sizeof(a)), 0);
	assert_int_equal(nvme_dhchap_random(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_not_equal(nvme_dhchap_seqnum(), 0);
	assert_true(nvme_dhchap_equal(a, a, sizeof(a)));
	assert_false(nvme_dhchap_equal(a, b, sizeof(a)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_responses), cmocka_unit_test(test_response_refusals),
		cmocka_unit_test(test_names),	  cmocka_unit_test(test_dh_agree),
		cmocka_unit_test(test_dh_bad_public), cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
