/* cmocka tests of the in-band authentication messages (src/nvme/auth_msg.c): every message encoded
 * and decoded again, its bytes at the offsets the NVMe Base specification gives (written out by hand
 * here), and each refusal with the Failure explanation a peer would be sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "nvme/auth_msg.h"

static uint8_t buf[2048];
static const uint8_t hashes[] = { 1, 2, 3 }, groups[] = { 0, 1, 2, 3, 4, 5 };

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 13);
}

static void test_negotiate(void **state)
{
	struct nvme_auth_msg m;
	size_t len = nvme_auth_encode_negotiate(buf, sizeof(buf), 0x1234, hashes, 3, groups, 6);

	(void)state;
	assert_int_equal(len, 8 + 64);
	assert_int_equal(buf[0], 0x00); /* common messages */
	assert_int_equal(buf[1], 0x00); /* AUTH_Negotiate */
	assert_int_equal(buf[4] | buf[5] << 8, 0x1234);
	assert_int_equal(buf[7], 1); /* NAPD */
	assert_int_equal(buf[8], 0x01); /* AUTHID: DH-HMAC-CHAP */
	assert_int_equal(buf[10], 3); /* HALEN */
	assert_int_equal(buf[11], 6); /* DHLEN */
	assert_memory_equal(buf + 12, hashes, 3);
	assert_memory_equal(buf + 12 + 30, groups, 6);
	assert_int_equal(nvme_auth_msg_decode(buf, len, true, &m), 0);
	assert_int_equal(m.t_id, 0x1234);
	assert_int_equal(m.nr_hashes, 3);
	assert_int_equal(m.nr_dhgroups, 6);
	assert_memory_equal(m.hashes, hashes, 3);
	assert_memory_equal(m.dhgroups, groups, 6);
	/* Only a host sends it; it must describe DH-HMAC-CHAP with sensible lists and fit. */
	assert_int_equal(nvme_auth_msg_decode(buf, len, false, &m), NVME_AUTH_FAIL_INCORRECT_PROTOCOL_MESSAGE);
	assert_int_equal(nvme_auth_msg_decode(buf, len - 1, true, &m), NVME_AUTH_FAIL_INCORRECT_PAYLOAD);
	buf[8] = 0x02;
	assert_int_equal(nvme_auth_msg_decode(buf, len, true, &m), NVME_AUTH_FAIL_PROTOCOL_UNUSABLE);
	buf[8] = 0x01;
	buf[10] = 31;
	assert_int_equal(nvme_auth_msg_decode(buf, len, true, &m), NVME_AUTH_FAIL_INCORRECT_PAYLOAD);
	buf[10] = 3;
	buf[7] = 0;
	assert_int_equal(nvme_auth_msg_decode(buf, len, true, &m), NVME_AUTH_FAIL_INCORRECT_PAYLOAD);
	buf[7] = 2; /* a second descriptor the message does not hold */
	assert_int_equal(nvme_auth_msg_decode(buf, len, true, &m), NVME_AUTH_FAIL_INCORRECT_PAYLOAD);
	buf[7] = 1;
	buf[0] = 0x01; /* Negotiate is a common message */
	assert_int_equal(nvme_auth_msg_decode(buf, len, true, &m), NVME_AUTH_FAIL_INCORRECT_PROTOCOL_MESSAGE);
}

static void test_challenge(void **state)
{
	uint8_t cval[64], dhv[384];
	struct nvme_auth_msg m;
	size_t len;

	(void)state;
	fill(cval, sizeof(cval), 1);
	fill(dhv, sizeof(dhv), 7);
	len = nvme_auth_encode_challenge(buf, sizeof(buf), 9, 3, 2, 0xa1b2c3d4, cval, 64, dhv, 384);
	assert_int_equal(len, 16 + 64 + 384);
	assert_int_equal(buf[0], 0x01);
	assert_int_equal(buf[1], 0x01);
	assert_int_equal(buf[6], 64); /* HL */
	assert_int_equal(buf[8], 3); /* HASHID */
	assert_int_equal(buf[9], 2); /* DHGID */
	assert_int_equal(buf[10] | buf[11] << 8, 384); /* DHVLEN */
	assert_int_equal(buf[12] | buf[13] << 8 | buf[14] << 16 | (uint32_t)buf[15] << 24, 0xa1b2c3d4); /* SEQNUM */
	assert_int_equal(nvme_auth_msg_decode(buf, len, false, &m), 0);
	assert_int_equal(m.hl, 64);
	assert_int_equal(m.seqnum, 0xa1b2c3d4);
	assert_memory_equal(m.value, cval, 64);
	assert_int_equal(m.dhvlen, 384);
	assert_memory_equal(m.dh_value, dhv, 384);
	assert_int_equal(nvme_auth_msg_decode(buf, len, true, &m), NVME_AUTH_FAIL_INCORRECT_PROTOCOL_MESSAGE);
	assert_int_equal(nvme_auth_msg_decode(buf, len - 1, false, &m), NVME_AUTH_FAIL_INCORRECT_PAYLOAD);
	buf[8] = 4;
	assert_int_equal(nvme_auth_msg_decode(buf, len, false, &m), NVME_AUTH_FAIL_HASH_UNUSABLE);
	buf[8] = 1; /* SHA-256, but HL says 64 */
	assert_int_equal(nvme_auth_msg_decode(buf, len, false, &m), NVME_AUTH_FAIL_INCORRECT_PAYLOAD);
	buf[8] = 3;
	buf[9] = 6;
	assert_int_equal(nvme_auth_msg_decode(buf, len, false, &m), NVME_AUTH_FAIL_DHGROUP_UNUSABLE);
	buf[9] = 0; /* the null group carries no DH value */
	assert_int_equal(nvme_auth_msg_decode(buf, len, false, &m), NVME_AUTH_FAIL_INCORRECT_PAYLOAD);
	len = nvme_auth_encode_challenge(buf, sizeof(buf), 9, 1, 0, 1, cval, 32, NULL, 0);
	assert_int_equal(len, 48);
	assert_int_equal(nvme_auth_msg_decode(buf, len, false, &m), 0);
	assert_null(m.dh_value);
	assert_int_equal(nvme_auth_encode_challenge(buf, 40, 9, 1, 0, 1, cval, 32, NULL, 0), 0); /* does not fit */
}

static void test_reply(void **state)
{
	uint8_t rval[48], chal[48], dhv[256];
	struct nvme_auth_msg m;
	size_t len;

	(void)state;
	fill(rval, sizeof(rval), 3);
	fill(chal, sizeof(chal), 5);
	fill(dhv, sizeof(dhv), 11);
	len = nvme_auth_encode_reply(buf, sizeof(buf), 77, 42, rval, chal, 48, dhv, 256);
	assert_int_equal(len, 16 + 96 + 256);
	assert_int_equal(buf[1], 0x02);
	assert_int_equal(buf[6], 48);
	assert_int_equal(buf[8], 1); /* CVALID */
	assert_int_equal(nvme_auth_msg_decode(buf, len, true, &m), 0);
	assert_int_equal(m.t_id, 77);
	assert_int_equal(m.seqnum, 42);
	assert_memory_equal(m.value, rval, 48);
	assert_memory_equal(m.host_challenge, chal, 48);
	assert_memory_equal(m.dh_value, dhv, 256);
	assert_int_equal(nvme_auth_msg_decode(buf, len - 1, true, &m), NVME_AUTH_FAIL_INCORRECT_PAYLOAD);
	buf[6] = 33;
	assert_int_equal(nvme_auth_msg_decode(buf, len, true, &m), NVME_AUTH_FAIL_INCORRECT_PAYLOAD);
	len = nvme_auth_encode_reply(buf, sizeof(buf), 77, 42, rval, NULL, 32, NULL, 0);
	assert_int_equal(nvme_auth_msg_decode(buf, len, true, &m), 0);
	assert_null(m.host_challenge);
	assert_null(m.dh_value);
	buf[10] = 0x01; /* DHVLEN 1025 */
	buf[11] = 0x04;
	assert_int_equal(nvme_auth_msg_decode(buf, sizeof(buf), true, &m), NVME_AUTH_FAIL_INCORRECT_PAYLOAD);
}

static void test_success_and_failure(void **state)
{
	uint8_t rval[32];
	struct nvme_auth_msg m;
	size_t len;

	(void)state;
	fill(rval, sizeof(rval), 9);
	len = nvme_auth_encode_success1(buf, sizeof(buf), 5, rval, 32);
	assert_int_equal(len, 48);
	assert_int_equal(buf[1], 0x03);
	assert_int_equal(buf[8], 1); /* RVALID */
	assert_int_equal(nvme_auth_msg_decode(buf, len, false, &m), 0);
	assert_memory_equal(m.value, rval, 32);
	assert_int_equal(nvme_auth_msg_decode(buf, len - 1, false, &m), NVME_AUTH_FAIL_INCORRECT_PAYLOAD);
	assert_int_equal(nvme_auth_encode_success1(buf, sizeof(buf), 5, NULL, 32), 16);
	assert_int_equal(nvme_auth_msg_decode(buf, 16, false, &m), 0);
	assert_null(m.value);

	assert_int_equal(nvme_auth_encode_success2(buf, sizeof(buf), 5), 16);
	assert_int_equal(buf[1], 0x04);
	assert_int_equal(nvme_auth_msg_decode(buf, 16, true, &m), 0);
	assert_int_equal(nvme_auth_msg_decode(buf, 16, false, &m), NVME_AUTH_FAIL_INCORRECT_PROTOCOL_MESSAGE);

	assert_int_equal(nvme_auth_encode_failure(buf, sizeof(buf), false, 5, NVME_AUTH_FAIL_HASH_UNUSABLE), 8);
	assert_int_equal(buf[0], 0x00); /* a common message, as the specification and kernel 6.4+ send it */
	assert_int_equal(buf[1], 0xf1);
	assert_int_equal(buf[6], 0x01); /* reason: authentication failed */
	assert_int_equal(buf[7], NVME_AUTH_FAIL_HASH_UNUSABLE);
	assert_int_equal(nvme_auth_msg_decode(buf, 8, false, &m), 0);
	assert_int_equal(m.rescode_exp, NVME_AUTH_FAIL_HASH_UNUSABLE);
	assert_int_equal(nvme_auth_msg_decode(buf, 8, true, &m), NVME_AUTH_FAIL_INCORRECT_PROTOCOL_MESSAGE);
	buf[0] = 0x01; /* older kernels' DH-HMAC-CHAP type is accepted too; any other is not */
	assert_int_equal(nvme_auth_msg_decode(buf, 8, false, &m), 0);
	buf[0] = 0x02;
	assert_int_equal(nvme_auth_msg_decode(buf, 8, false, &m), NVME_AUTH_FAIL_INCORRECT_PROTOCOL_MESSAGE);
	assert_int_equal(nvme_auth_encode_failure(buf, sizeof(buf), true, 5, NVME_AUTH_FAIL_FAILED), 8);
	assert_int_equal(buf[1], 0xf0);
	assert_int_equal(nvme_auth_msg_decode(buf, 8, true, &m), 0);
	assert_int_equal(nvme_auth_msg_decode(buf, 7, true, &m), NVME_AUTH_FAIL_INCORRECT_PAYLOAD);
	buf[1] = 0x05;
	assert_int_equal(nvme_auth_msg_decode(buf, 8, true, &m), NVME_AUTH_FAIL_INCORRECT_PROTOCOL_MESSAGE);
	assert_string_equal(nvme_auth_msg_name(NVME_AUTH_ID_REPLY), "DH-HMAC-CHAP_Reply");
	assert_string_equal(nvme_auth_failure_name(NVME_AUTH_FAIL_DHGROUP_UNUSABLE), "DH group not usable");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_negotiate),
		cmocka_unit_test(test_challenge),
		cmocka_unit_test(test_reply),
		cmocka_unit_test(test_success_and_failure),
	};

	return cmocka_run_group_tests_name("auth_msg", tests, NULL, NULL);
}
