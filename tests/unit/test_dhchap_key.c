/* cmocka tests of DH-HMAC-CHAP secrets (src/nvme/dhchap_key.c): the DHHC-1 form with the NVMe
 * specification's example secret, round trips, every refusal, and the NQN transformation against
 * digests computed by another implementation (Python's hmac and hashlib:
 *   hmac.new(key, (nqn + "NVMe-over-Fabrics").encode(), hashlib.sha256).hexdigest()). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "nvme/dhchap_key.h"

/* The example secret of the NVMe Base specification (and of the kernel's commit that accepts it
 * with every hash identifier). */
#define SPEC_B64 "ia6zGodOr4SEG0Zzaw398rpY0wqipUWj4jWjUh4HWUz6aQ2n"
#define SPEC_KEY_HEX "89aeb31a874eaf84841b46736b0dfdf2ba58d30aa2a545a3e235a3521e07594c"
#define NQN "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000001"

static const char *const transformed_hex[] = {
	NULL,
	"30ec326a9164ef751470fc129b83a2f17593c43d19f4c615c46e65ba3ff72021",
	"b1b647e1306a77ca73842f3252bd58ee3b705e14d89a961238c7d245f628a363ce6fc0ea1e94b21b6143761b782ecfe2",
	"d28594811af5960537d638225d32c07086413bdc3ddda6bb58369e6290b0e05079e20d5edc605aa61f1c9d7e6fd9ed9b"
	"db556ebd87a002fc39e7fdf64f57b480",
};

static void hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

static void test_spec_example(void **state)
{
	struct nvme_dhchap_key k;
	char buf[NVME_DHCHAP_SECRET_MAX], h[2 * NVME_DHCHAP_KEY_MAX + 1];

	(void)state;
	for (int hash = 0; hash <= 3; hash++) {
		snprintf(buf, sizeof(buf), "DHHC-1:%02d:" SPEC_B64 ":", hash);
		assert_int_equal(nvme_dhchap_key_parse(buf, &k), 0);
		assert_int_equal(k.len, 32);
		assert_int_equal(k.hash, hash);
		hex(k.key, k.len, h);
		assert_string_equal(h, SPEC_KEY_HEX);
	}
	/* The trailing colon is optional, as for the kernel. */
	assert_int_equal(nvme_dhchap_key_parse("DHHC-1:00:" SPEC_B64, &k), 0);
}

static void test_round_trip(void **state)
{
	struct nvme_dhchap_key k, back;
	char buf[NVME_DHCHAP_SECRET_MAX];

	(void)state;
	assert_int_equal(nvme_dhchap_key_parse("DHHC-1:01:" SPEC_B64 ":", &k), 0);
	assert_int_equal(nvme_dhchap_key_format(&k, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "DHHC-1:01:" SPEC_B64 ":");
	for (uint32_t len = 32; len <= 64; len += 16) {
		assert_int_equal(nvme_dhchap_key_generate(NULL, len, 0, NULL, &k), 0);
		assert_int_equal(k.len, len);
		assert_int_equal(nvme_dhchap_key_format(&k, buf, sizeof(buf)), 0);
		assert_int_equal(strlen(buf), 10 + 4 * ((len + 4 + 2) / 3) + 1);
		assert_int_equal(nvme_dhchap_key_parse(buf, &back), 0);
		assert_int_equal(back.len, len);
		assert_memory_equal(back.key, k.key, len);
	}
}

static void test_refusals(void **state)
{
	struct nvme_dhchap_key k;
	char bad[NVME_DHCHAP_SECRET_MAX];

	(void)state;
	assert_int_equal(nvme_dhchap_key_parse("DHHC-2:00:" SPEC_B64 ":", &k), -EINVAL);
	assert_int_equal(nvme_dhchap_key_parse("DHHC-1:04:" SPEC_B64 ":", &k), -EINVAL); /* no such hash */
	assert_int_equal(nvme_dhchap_key_parse("DHHC-1:0x:" SPEC_B64 ":", &k), -EINVAL);
	assert_int_equal(nvme_dhchap_key_parse("DHHC-1:00" SPEC_B64 ":", &k), -EINVAL);
	assert_int_equal(nvme_dhchap_key_parse("DHHC-1:00:" SPEC_B64 ":junk", &k), -EINVAL);
	assert_int_equal(nvme_dhchap_key_parse("DHHC-1:00:" SPEC_B64 "A:", &k), -EINVAL); /* not 4k chars */
	assert_int_equal(nvme_dhchap_key_parse("DHHC-1:00:!!!!" SPEC_B64 ":", &k), -EINVAL);
	assert_int_equal(nvme_dhchap_key_parse("DHHC-1:00::", &k), -ERANGE);
	/* 20 bytes of key and CRC: no 32, 48 or 64-byte key. */
	assert_int_equal(nvme_dhchap_key_parse("DHHC-1:00:AAAAAAAAAAAAAAAAAAAAAAAAAAAA:", &k), -ERANGE);
	/* One character changed: the CRC no longer matches. */
	snprintf(bad, sizeof(bad), "DHHC-1:00:%s:", SPEC_B64);
	bad[12] = bad[12] == 'A' ? 'B' : 'A';
	assert_int_equal(nvme_dhchap_key_parse(bad, &k), -EBADMSG);
	k.len = 31;
	k.hash = 0;
	assert_int_equal(nvme_dhchap_key_format(&k, bad, sizeof(bad)), -EINVAL);
	assert_int_equal(nvme_dhchap_key_generate(NULL, 40, 0, NULL, &k), -EINVAL);
	assert_int_equal(nvme_dhchap_key_generate(NULL, 32, 4, NQN, &k), -EINVAL);
	assert_int_equal(nvme_dhchap_key_generate(NULL, 32, 1, NULL, &k), -EINVAL); /* no NQN */
}

static void test_transform(void **state)
{
	struct nvme_dhchap_key k;
	uint8_t out[NVME_DHCHAP_KEY_MAX];
	char h[2 * NVME_DHCHAP_KEY_MAX + 1], buf[NVME_DHCHAP_SECRET_MAX];
	int n;

	(void)state;
	for (int hash = 0; hash <= 3; hash++) {
		snprintf(buf, sizeof(buf), "DHHC-1:%02d:" SPEC_B64 ":", hash);
		assert_int_equal(nvme_dhchap_key_parse(buf, &k), 0);
		n = nvme_dhchap_key_transform(&k, NQN, out);
		assert_int_equal(n, hash ? (int)nvme_auth_hash_len((uint8_t)hash) : 32);
		hex(out, (size_t)n, h);
		assert_string_equal(h, hash ? transformed_hex[hash] : SPEC_KEY_HEX);
	}
	/* What gen-dhchap-key writes for a given secret and hash is the transformed secret. */
	assert_int_equal(nvme_dhchap_key_parse("DHHC-1:00:" SPEC_B64 ":", &k), 0);
	for (int hash = 1; hash <= 3; hash++) {
		struct nvme_dhchap_key gen;

		assert_int_equal(nvme_dhchap_key_generate(k.key, 32, (uint8_t)hash, NQN, &gen), 0);
		assert_int_equal(gen.hash, hash);
		hex(gen.key, gen.len, h);
		assert_string_equal(h, transformed_hex[hash]);
	}
	assert_int_equal(nvme_auth_hash_len(NVME_AUTH_HASH_SHA384), 48);
	assert_string_equal(nvme_auth_hash_name(NVME_AUTH_HASH_SHA512), "sha512");
	assert_null(nvme_auth_hash_name(7));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_example),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_transform),
	};

	return cmocka_run_group_tests_name("dhchap_key", tests, NULL, NULL);
}
