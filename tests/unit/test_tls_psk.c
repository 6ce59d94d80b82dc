/* cmocka tests of NVMe/TCP TLS PSKs (src/nvme/tls_psk.c): the interchange form with the NVMe/TCP
 * specification's example key (also libnvme's test/psk.c), round trips, every refusal, and the
 * derivation against values computed by another implementation: RFC 5869 written out with Python's
 * hmac and hashlib, with libnvme 1.13's info encoding (LE16(L) || label || context):
 *   def hkdf(h, ikm, info, L):
 *       prk = hmac.new(b'\0' * h().digest_size, ikm, h).digest(); t = okm = b''; i = 1
 *       while len(okm) < L: t = hmac.new(prk, t + info + bytes([i]), h).digest(); okm += t; i += 1
 *       return okm[:L]
 *   retained = hkdf(sha, key, struct.pack('<H', L) + b'tls13 HostNQN' + host, L)
 *   tls_psk = hkdf(sha, retained, struct.pack('<H', L) + b'tls13 nvme-tls-psk' + context, L)
 * with context the identity (version 0) or b'%02d %s' % (cipher, digest) (version 1), digest =
 * base64(hmac.new(retained, host + b' ' + sub + b' NVMe-over-Fabrics', sha).digest()). That
 * generator reproduces libnvme 1.16's own version 1 "compat" identities for these keys and NQNs
 * (test/psk.c's test_data_identity_compat), which checks its first step independently. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "nvme/tls_psk.h"

/* The specification's example PSK: 32 bytes; the 48-byte one repeats its second half. */
#define KEY32_B64 "VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ"
#define KEY48_B64 "VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwP/w0S89ELi3W2LxIcLXVsDn8kXZQ=="
#define KEY32_HEX "5512dbb6737d0106f65975b773dfb011ffc344bcf442e2dd6d8bc4870b5d5b03"
#define KEY48_HEX KEY32_HEX "ffc344bcf442e2dd6d8bc4870b5d5b03"
#define HOST "nqn.psk-test-host"
#define SUB "nqn.psk-test-subsys"

struct vector {
	const char *configured;
	unsigned version;
	const char *retained, *identity, *tls_psk, *exported;
};

static const struct vector vectors[] = {
	{ "NVMeTLSkey-1:01:" KEY32_B64 ":", 0, "ad4cdadfcbaf4e353fcbd09aac891c4d75c5300fe5ee7bb04ae87726a312eddc",
	  "NVMe0R01 " HOST " " SUB, "09fb1983ac6d6d0353e7cae4f23daddd651c367fa347c59d9cf6936f5a83eafb",
	  "NVMeTLSkey-0:01:CfsZg6xtbQNT58rk8j2t3WUcNn+jR8WdnPaTb1qD6vtAwkgy:" },
	{ "NVMeTLSkey-1:01:" KEY32_B64 ":", 1, "ad4cdadfcbaf4e353fcbd09aac891c4d75c5300fe5ee7bb04ae87726a312eddc",
	  "NVMe1R01 " HOST " " SUB " 66GuqV08TsAGII39teWUfwQwizjv06Jy8jOcX3NAAzM=",
	  "b9f5ab2a41ba6e72a23a12066302a2f775fa6c0942c8e0b18ca8ac07edf305e2",
	  "NVMeTLSkey-1:01:ufWrKkG6bnKiOhIGYwKi93X6bAlCyOCxjKisB+3zBeJQbOf1:" },
	{ "NVMeTLSkey-1:02:" KEY48_B64 ":", 0,
	  "12d2452bc4783f50286bf940ad1caa05a304065e379024d9278ca7c9d8a42400c47029f198bfcdf5f14c07cb04eb7306",
	  "NVMe0R02 " HOST " " SUB,
	  "2ee4754186a625b28a3936ef4a40d839c3ad958b2e017562ee07e2501f172ce999dc9c29033ea7ee33f814f192c13f47",
	  "NVMeTLSkey-0:02:LuR1QYamJbKKOTbvSkDYOcOtlYsuAXVi7gfiUB8XLOmZ3JwpAz6n7jP4FPGSwT9H/GxJ3g==:" },
	{ "NVMeTLSkey-1:02:" KEY48_B64 ":", 1,
	  "12d2452bc4783f50286bf940ad1caa05a304065e379024d9278ca7c9d8a42400c47029f198bfcdf5f14c07cb04eb7306",
	  "NVMe1R02 " HOST " " SUB " RsKmYJ3nAn1ApjjMloJFbAkLPivONDAX/xW327YBUsn2eGShXSjCZvBaOxscLqmz",
	  "fcefe2e2a2e682b1447dcabf1ec268f78f08c63cd075753abcc8bda2c5c34d48d3014aa8d76ad80107e4f5c9f27e2149",
	  "NVMeTLSkey-1:02:/O/i4qLmgrFEfcq/HsJo948IxjzQdXU6vMi9osXDTUjTAUqo12rYAQfk9cnyfiFJi0lZvg==:" },
	/* HH 00: the configured PSK is the retained PSK; its length picks the hash. */
	{ "NVMeTLSkey-1:00:" KEY32_B64 ":", 0, KEY32_HEX, "NVMe0R01 " HOST " " SUB,
	  "e2b16189378b34adba9fec995ab479040cedec0bc7c6b47728ee4d8de6ff52ba",
	  "NVMeTLSkey-0:01:4rFhiTeLNK26n+yZWrR5BAzt7AvHxrR3KO5Njeb/Uro0kaau:" },
	{ "NVMeTLSkey-1:00:" KEY32_B64 ":", 1, KEY32_HEX,
	  "NVMe1R01 " HOST " " SUB " quJVUJjp/BImWR0UQay/MjSfEgyAr6TyBOWybS/B404=",
	  "d50f6d3dd79345b6e8217744524df5ac0dc66964ff70cc5fd18e1b9d57ce7fcf",
	  "NVMeTLSkey-1:01:1Q9tPdeTRbboIXdEUk31rA3GaWT/cMxf0Y4bnVfOf88LAKxX:" },
	{ "NVMeTLSkey-1:00:" KEY48_B64 ":", 0, KEY48_HEX, "NVMe0R02 " HOST " " SUB,
	  "9cb989c1d40fdcdc1bb729d6691901bfcd0b310f060f558d4a63c7afc2a0923f2d0610073fded349d25d6b3f91980826",
	  "NVMeTLSkey-0:02:nLmJwdQP3NwbtynWaRkBv80LMQ8GD1WNSmPHr8Kgkj8tBhAHP97TSdJdaz+RmAgmMOamfw==:" },
	{ "NVMeTLSkey-1:00:" KEY48_B64 ":", 1, KEY48_HEX,
	  "NVMe1R02 " HOST " " SUB " dyoPfSR5TBRaPMI5/FXUlJv2XMDtmQ7Q9Xrj89aBKbyRYkQeT5V1wNvIpnMDRTQW",
	  "f6259eaeaab509d2e42bc494098bd1ccc4334b2528a1a34ea95fbe27e3fa75e3422d260a299110afa42170521b02d689",
	  "NVMeTLSkey-1:02:9iWerqq1CdLkK8SUCYvRzMQzSyUooaNOqV++J+P6deNCLSYKKZEQr6QhcFIbAtaJk3bBRQ==:" },
};

static void hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

static void test_spec_example(void **state)
{
	struct nvme_tls_psk k;
	char h[2 * NVME_TLS_PSK_MAX + 1];

	(void)state;
	assert_int_equal(nvme_tls_psk_parse("NVMeTLSkey-1:01:" KEY32_B64 ":", &k), 0);
	assert_int_equal(k.len, 32);
	assert_int_equal(k.hash, NVME_TLS_HASH_SHA256);
	hex(k.key, k.len, h);
	assert_string_equal(h, KEY32_HEX);
	assert_int_equal(nvme_tls_psk_parse("NVMeTLSkey-1:02:" KEY48_B64 ":", &k), 0);
	assert_int_equal(k.len, 48);
	assert_int_equal(k.hash, NVME_TLS_HASH_SHA384);
	hex(k.key, k.len, h);
	assert_string_equal(h, KEY48_HEX);
	/* An untransformed key may have either length, which picks the cipher suite's hash. */
	assert_int_equal(nvme_tls_psk_parse("NVMeTLSkey-1:00:" KEY48_B64 ":", &k), 0);
	assert_int_equal(k.hash, NVME_TLS_HASH_NONE);
	assert_int_equal(nvme_tls_psk_cipher(&k), NVME_TLS_HASH_SHA384);
	assert_int_equal(nvme_tls_psk_parse("NVMeTLSkey-1:00:" KEY32_B64 ":", &k), 0);
	assert_int_equal(nvme_tls_psk_cipher(&k), NVME_TLS_HASH_SHA256);
}

static void test_round_trip(void **state)
{
	static const char *const keys[] = { "NVMeTLSkey-1:01:" KEY32_B64 ":", "NVMeTLSkey-1:02:" KEY48_B64 ":",
					    "NVMeTLSkey-1:00:" KEY32_B64 ":", "NVMeTLSkey-1:00:" KEY48_B64 ":" };
	struct nvme_tls_psk k, back;
	char buf[NVME_TLS_PSK_STR_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		assert_int_equal(nvme_tls_psk_parse(keys[i], &k), 0);
		assert_int_equal(nvme_tls_psk_format(&k, buf, sizeof(buf)), 0);
		assert_string_equal(buf, keys[i]);
	}
	for (uint8_t hash = 1; hash <= 2; hash++) {
		assert_int_equal(nvme_tls_psk_generate(NULL, hash, &k), 0);
		assert_int_equal(k.len, hash == 1 ? 32 : 48);
		assert_int_equal(k.hash, hash);
		assert_int_equal(nvme_tls_psk_format(&k, buf, sizeof(buf)), 0);
		assert_int_equal(strlen(buf), hash == 1 ? 65 : 89); /* the lengths libnvme insists on */
		assert_int_equal(nvme_tls_psk_parse(buf, &back), 0);
		assert_int_equal(back.len, k.len);
		assert_int_equal(back.hash, hash);
		assert_memory_equal(back.key, k.key, k.len);
	}
	/* A given secret is the key, unchanged: gen-tls-key --secret. */
	assert_int_equal(nvme_tls_psk_parse("NVMeTLSkey-1:02:" KEY48_B64 ":", &back), 0);
	assert_int_equal(nvme_tls_psk_generate(back.key, 2, &k), 0);
	assert_int_equal(nvme_tls_psk_format(&k, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "NVMeTLSkey-1:02:" KEY48_B64 ":");
}

static void test_parse_refusals(void **state)
{
	struct nvme_tls_psk k;
	char bad[NVME_TLS_PSK_STR_MAX + 8];

	(void)state;
	assert_int_equal(nvme_tls_psk_parse("NVMeTLSkey-2:01:" KEY32_B64 ":", &k), -EINVAL);
	assert_int_equal(nvme_tls_psk_parse("NVMeTLSKey-1:01:" KEY32_B64 ":", &k), -EINVAL);
	assert_int_equal(nvme_tls_psk_parse("NVMeTLSkey-1:03:" KEY32_B64 ":", &k), -EINVAL); /* no such HH */
	assert_int_equal(nvme_tls_psk_parse("NVMeTLSkey-1:1:" KEY32_B64 ":", &k), -EINVAL);
	assert_int_equal(nvme_tls_psk_parse("NVMeTLSkey-1:01" KEY32_B64 ":", &k), -EINVAL);
	assert_int_equal(nvme_tls_psk_parse("NVMeTLSkey-1:01:" KEY32_B64, &k), -EINVAL); /* no closing ':' */
	assert_int_equal(nvme_tls_psk_parse("NVMeTLSkey-1:01:" KEY32_B64 ":x", &k), -EINVAL);
	assert_int_equal(nvme_tls_psk_parse("NVMeTLSkey-1:01:" KEY32_B64 "A:", &k), -EINVAL); /* not 4k chars */
	assert_int_equal(nvme_tls_psk_parse("NVMeTLSkey-1:01: " KEY32_B64 ":", &k), -EINVAL);
	assert_int_equal(nvme_tls_psk_parse("NVMeTLSkey-1:01:!!!!" KEY32_B64 ":", &k), -EINVAL);
	assert_int_equal(nvme_tls_psk_parse("NVMeTLSkey-1:01:AA=A" KEY32_B64 ":", &k), -EINVAL);
	assert_int_equal(nvme_tls_psk_parse("NVMeTLSkey-1:02:" KEY32_B64 "A===:", &k), -EINVAL);
	/* Lengths that do not fit HH: SHA-256's key is 32 bytes, SHA-384's 48. */
	assert_int_equal(nvme_tls_psk_parse("NVMeTLSkey-1:01::", &k), -ERANGE);
	assert_int_equal(nvme_tls_psk_parse("NVMeTLSkey-1:01:" KEY48_B64 ":", &k), -ERANGE);
	assert_int_equal(nvme_tls_psk_parse("NVMeTLSkey-1:02:" KEY32_B64 ":", &k), -ERANGE);
	assert_int_equal(nvme_tls_psk_parse("NVMeTLSkey-1:00:AAAAAAAAAAAAAAAAAAAAAAAAAAAA:", &k), -ERANGE);
	assert_int_equal(nvme_tls_psk_parse("NVMeTLSkey-1:00:" KEY48_B64 "AAAAAAAAAAAAAAAA:", &k), -EINVAL);
	assert_int_equal(nvme_tls_psk_parse("NVMeTLSkey-1:00:" KEY32_B64 KEY32_B64 ":", &k), -ERANGE);
	/* One character changed: the CRC no longer matches. */
	snprintf(bad, sizeof(bad), "NVMeTLSkey-1:01:%s:", KEY32_B64);
	bad[20] = bad[20] == 'A' ? 'B' : 'A';
	assert_int_equal(nvme_tls_psk_parse(bad, &k), -EBADMSG);
	snprintf(bad, sizeof(bad), "NVMeTLSkey-1:02:%s:", KEY48_B64);
	bad[82] = bad[82] == 'A' ? 'B' : 'A'; /* in the CRC itself */
	assert_int_equal(nvme_tls_psk_parse(bad, &k), -EBADMSG);
}

static void test_other_refusals(void **state)
{
	struct nvme_tls_psk k, tls;
	char buf[NVME_TLS_KEYFILE_LINE_MAX], nqn[300];
	uint8_t out[NVME_TLS_PSK_MAX];

	(void)state;
	assert_int_equal(nvme_tls_psk_generate(NULL, 0, &k), -EINVAL); /* gen-tls-key takes 1 or 2 */
	assert_int_equal(nvme_tls_psk_generate(NULL, 3, &k), -EINVAL);
	assert_int_equal(nvme_tls_psk_parse("NVMeTLSkey-1:01:" KEY32_B64 ":", &k), 0);
	assert_int_equal(nvme_tls_psk_format(&k, buf, NVME_TLS_PSK_STR_MAX - 30), -EINVAL);
	k.hash = 2; /* a 32-byte key labelled SHA-384 */
	assert_int_equal(nvme_tls_psk_format(&k, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(nvme_tls_psk_retained(&k, HOST, out), -EINVAL);
	k.hash = 3;
	assert_int_equal(nvme_tls_psk_format(&k, buf, sizeof(buf)), -EINVAL);
	k.hash = 0;
	k.len = 31;
	assert_int_equal(nvme_tls_psk_format(&k, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(nvme_tls_psk_parse("NVMeTLSkey-1:01:" KEY32_B64 ":", &k), 0);
	assert_int_equal(nvme_tls_psk_derive(&k, 2, HOST, SUB, buf, sizeof(buf), &tls), -EINVAL);
	assert_int_equal(nvme_tls_psk_derive(&k, 0, NULL, SUB, buf, sizeof(buf), &tls), -EINVAL);
	assert_int_equal(nvme_tls_psk_derive(&k, 0, HOST, "", buf, sizeof(buf), &tls), -EINVAL);
	assert_int_equal(nvme_tls_psk_derive(&k, 0, HOST, SUB, buf, 20, &tls), -EINVAL); /* identity too long */
	memset(nqn, 'q', 256);
	nqn[256] = 0;
	assert_int_equal(nvme_tls_psk_derive(&k, 1, nqn, SUB, buf, sizeof(buf), &tls), -EINVAL);
	assert_int_equal(nvme_tls_psk_derive(&k, 0, HOST, nqn, buf, sizeof(buf), &tls), -EINVAL);
	nqn[255] = 0; /* the longest an NQN can be, both of them, with a SHA-384 digest */
	assert_int_equal(nvme_tls_psk_parse("NVMeTLSkey-1:02:" KEY48_B64 ":", &k), 0);
	assert_int_equal(nvme_tls_psk_derive(&k, 1, nqn, nqn, buf, NVME_TLS_IDENTITY_MAX, &tls), 0);
	assert_int_equal(strlen(buf), NVME_TLS_IDENTITY_MAX - 1);
	assert_int_equal(nvme_tls_keyfile_line("psk NVMe0R01 a b", &tls, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(nvme_tls_keyfile_line("NVMe0R01 " HOST " " SUB, &tls, buf, 40), -EINVAL);
}

static void test_derivation(void **state)
{
	char h[2 * NVME_TLS_PSK_MAX + 1], identity[NVME_TLS_IDENTITY_MAX], line[NVME_TLS_KEYFILE_LINE_MAX];
	char want_line[NVME_TLS_KEYFILE_LINE_MAX];
	struct nvme_tls_psk k, tls;
	uint8_t retained[NVME_TLS_PSK_MAX];
	int n;

	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vector *v = &vectors[i];

		print_message("%s identity version %u\n", v->configured, v->version);
		assert_int_equal(nvme_tls_psk_parse(v->configured, &k), 0);
		n = nvme_tls_psk_retained(&k, HOST, retained);
		assert_int_equal(n, (int)k.len);
		hex(retained, (size_t)n, h);
		assert_string_equal(h, v->retained);
		assert_int_equal(nvme_tls_psk_derive(&k, v->version, HOST, SUB, identity, sizeof(identity), &tls), 0);
		assert_string_equal(identity, v->identity);
		assert_int_equal(tls.len, k.len);
		assert_int_equal(tls.hash, nvme_tls_psk_cipher(&k));
		hex(tls.key, tls.len, h);
		assert_string_equal(h, v->tls_psk);
		assert_int_equal(nvme_tls_keyfile_line(identity, &tls, line, sizeof(line)), 0);
		snprintf(want_line, sizeof(want_line), "%s %s", v->identity, v->exported);
		assert_string_equal(line, want_line);
	}
	/* Another host NQN is another retained PSK; another subsystem only another TLS PSK. */
	assert_int_equal(nvme_tls_psk_parse(vectors[0].configured, &k), 0);
	assert_int_equal(nvme_tls_psk_retained(&k, HOST "2", retained), 32);
	hex(retained, 32, h);
	assert_string_not_equal(h, vectors[0].retained);
	assert_int_equal(nvme_tls_psk_derive(&k, 0, HOST, SUB "2", identity, sizeof(identity), &tls), 0);
	hex(tls.key, tls.len, h);
	assert_string_not_equal(h, vectors[0].tls_psk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_example),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_other_refusals),
		cmocka_unit_test(test_derivation),
	};

	return cmocka_run_group_tests_name("tls_psk", tests, NULL, NULL);
}
