/* cmocka tests of the controller registers (src/target/ctrl.c: CAP, VS, CC, CSTS through Property
 * Get/Set) and of spec.h's field helpers, read against values written out from the NVMe base spec,
 * so that naming the fields changed no bit a host sees. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "target/target.h"
#include "util/log.h"

#define SUBNQN "nqn.2026-11.io.tightrope:unit-regs"
#define HOSTNQN "nqn.2026-11.io.tightrope:unit-host"

/* Register offsets and CC/CSTS bits from the spec's figures, not from spec.h. */
enum { REG_CAP = 0x00, REG_VS = 0x08, REG_CC = 0x14, REG_CSTS = 0x1c };
#define CC_EN 0x1u
#define CC_GOOD (CC_EN | (6u << 16) | (4u << 20)) /* IOSQES 64 bytes, IOCQES 16 bytes, MPS 0, CSS NVM */
#define CC_SHN_NORMAL (1u << 14)
#define CSTS_RDY 0x1u
#define CSTS_CFS 0x2u
#define CSTS_SHST_COMPLETE (2u << 2)

static int ctrl_up(void **state)
{
	static const uint8_t hostid[16] = { 1 };
	struct tgt_subsys *s;

	tr_log_set_level(TR_LOG_ERR);
	if (tgt_init(1))
		return -1;
	s = tgt_subsys_create(SUBNQN, NULL, NULL);
	*state = s ? tgt_ctrl_create(s, HOSTNQN, hostid, 0, 0) : NULL;
	return *state ? 0 : -1;
}

static int ctrl_down(void **state)
{
	tgt_ctrl_fatal(*state, "test over");
	tgt_shutdown();
	return 0;
}

static uint64_t get(struct tgt_ctrl *c, uint32_t offset, bool eight)
{
	uint64_t v = 0xdeadbeef;

	assert_int_equal(tgt_ctrl_property_get(c, offset, eight, &v), 0);
	return v;
}

static void test_cap_vs(void **state)
{
	struct tgt_ctrl *c = *state;
	uint64_t v;

	/* MQES 1023 (0-based), CQR, TO 15 x 500 ms, CSS bit 37 (NVM), MPSMIN = MPSMAX = 0. */
	assert_int_equal(tgt_ctrl_cap(), 0x200f0103ffull);
	assert_int_equal(get(c, REG_CAP, true), 0x200f0103ffull);
	assert_int_equal(tgt_ctrl_property_get(c, REG_CAP, false, &v), -EINVAL); /* CAP is 8 bytes */
	assert_int_equal(get(c, REG_VS, false), 0x00010300); /* 1.3.0 */
	assert_int_equal(tgt_ctrl_property_get(c, REG_VS, true, &v), -EINVAL);
	assert_int_equal(tgt_ctrl_property_get(c, 0x20, false, &v), -EINVAL); /* NSSR: not offered */
}

static void test_cc_enable_disable(void **state)
{
	struct tgt_ctrl *c = *state;

	assert_int_equal(get(c, REG_CSTS, false), 0);
	assert_int_equal(tgt_ctrl_property_set(c, REG_CC, CC_GOOD), 0);
	assert_int_equal(get(c, REG_CC, false), CC_GOOD);
	assert_int_equal(get(c, REG_CSTS, false), CSTS_RDY);
	assert_int_equal(tgt_ctrl_property_set(c, REG_CC, CC_GOOD & ~CC_EN), 0);
	assert_int_equal(get(c, REG_CSTS, false), 0);
	/* Only CC is writable. */
	assert_int_equal(tgt_ctrl_property_set(c, REG_CSTS, CSTS_RDY), -EINVAL);
	assert_int_equal(tgt_ctrl_property_set(c, REG_CAP, 0), -EINVAL);
}

static void test_cc_unsupported(void **state)
{
	static const uint32_t bad[] = {
		CC_EN | (7u << 16) | (4u << 20), /* 128-byte SQEs */
		CC_EN | (6u << 16) | (5u << 20), /* 32-byte CQEs */
		CC_GOOD | (1u << 7), /* 8 KiB pages */
		CC_GOOD | (6u << 4), /* CSS 110b: all I/O command sets */
	};
	struct tgt_ctrl *c = *state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(tgt_ctrl_property_set(c, REG_CC, 0), 0);
		assert_int_equal(tgt_ctrl_property_set(c, REG_CC, bad[i]), 0);
		if (get(c, REG_CSTS, false) != CSTS_CFS)
			fail_msg("CC %#x: CSTS %#llx, expected CFS", bad[i], (unsigned long long)get(c, REG_CSTS, false));
	}
}

static void test_cc_shutdown(void **state)
{
	struct tgt_ctrl *c = *state;

	assert_int_equal(tgt_ctrl_property_set(c, REG_CC, CC_GOOD), 0);
	assert_int_equal(tgt_ctrl_property_set(c, REG_CC, CC_GOOD | CC_SHN_NORMAL), 0);
	assert_int_equal(get(c, REG_CSTS, false), CSTS_RDY | CSTS_SHST_COMPLETE);
	assert_int_equal(tgt_ctrl_property_set(c, REG_CC, CC_GOOD), 0);
	assert_int_equal(get(c, REG_CSTS, false), CSTS_RDY);
}

static void test_status_helpers(void **state)
{
	(void)state;
	assert_int_equal(nvme_status_code(NVME_SC_INVALID_FIELD | NVME_SC_DNR), 0x002);
	assert_int_equal(nvme_status_code(0x7184), 0x184); /* CRD and More set too */
	assert_int_equal(nvme_cqe_status(0x8005), 0x4002); /* DNR, Invalid Field, phase 1 */
	assert_int_equal(nvme_cqe_status_field(NVME_SC_CONNECT_INVALID_HOST | NVME_SC_DNR), 0x8308);
	assert_int_equal(nvme_cqe_status(nvme_cqe_status_field(0x7fff)), 0x7fff);
}

static void test_command_fields(void **state)
{
	(void)state;
	assert_int_equal(NVME_IDENTIFY_CNS(0xabcd0103u), 0x03);
	assert_int_equal(NVME_IDENTIFY_CSI(0x05001234u), 0x05);
	assert_int_equal(NVME_LOG_LID(0x00ff0070u), 0x70);
	assert_int_equal(NVME_LOG_NUMD(0xabcd0002u, 0xffff1234u), 0x1234abcdu);
	assert_int_equal(NVME_FEAT_FID(0x80000107u), 0x07);
	assert_true(0x80000107u & NVME_FEAT_SAVE);
	assert_int_equal(NVME_FEAT_NSQR(0x00020003u), 4);
	assert_int_equal(NVME_FEAT_NCQR(0x00020003u), 3);
	assert_int_equal(NVME_FEAT_NSQR(0x0000ffffu), 0x10000); /* reserved: above the maximum */
	assert_true(NVME_FEAT_NSQR(0x0000ffffu) > NVME_FEAT_NUM_QUEUES_MAX);
	assert_int_equal(NVME_FEAT_NUM_QUEUES_RESULT(4, 2), 0x00010003u);
	assert_int_equal(NVME_RW_NLB(0xffffffffu), 0x10000);
	assert_int_equal(NVME_RW_NLB(0), 1);
	assert_int_equal(NVME_DSM_NR(0x1ff), 256);
	assert_int_equal(NVMF_CONNECT_CATTR_DISABLE_SQFLOW, 0x04);
	assert_int_equal(NVME_CTRL_QES(6, 6), 0x66);
	assert_int_equal(NVME_CAP_MQES(0x10000), 0xffff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cap_vs, ctrl_up, ctrl_down),
		cmocka_unit_test_setup_teardown(test_cc_enable_disable, ctrl_up, ctrl_down),
		cmocka_unit_test_setup_teardown(test_cc_unsupported, ctrl_up, ctrl_down),
		cmocka_unit_test_setup_teardown(test_cc_shutdown, ctrl_up, ctrl_down),
		cmocka_unit_test(test_status_helpers),
		cmocka_unit_test(test_command_fields),
	};

	return cmocka_run_group_tests_name("regs", tests, NULL, NULL);
}
