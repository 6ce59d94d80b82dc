/* Persistent reservations (src/nvme/resv.c): blktests nvme/054's sequence with the kernel target's
 * answers, every transition, every refusal, the notices and fencing each asks for, and Report's layout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "nvme/resv.h"
#include "nvme/spec.h"

#define CONFLICT (NVME_SC_RESERVATION_CONFLICT | NVME_SC_DNR)
#define INVALID (NVME_SC_INVALID_FIELD | NVME_SC_DNR)

static const uint8_t A[16] = { 0xa }, B[16] = { 0xb }, C[16] = { 0xc };

/* What a command asked the caller to do, in order. */
struct seen {
	int n;
	struct {
		uint8_t host;
		char what; /* 'g' reg preempted, 'r' released, 'p' preempted, 'X' abort */
	} ev[32];
};

static void on_notify(void *arg, const uint8_t hostid[16], enum nvme_resv_notice type)
{
	struct seen *s = arg;

	s->ev[s->n].host = hostid[0];
	s->ev[s->n++].what = type == NVME_RESV_NOTICE_REG_PREEMPTED ? 'g' : type == NVME_RESV_NOTICE_RELEASED ? 'r' : 'p';
}

static void on_abort(void *arg, const uint8_t hostid[16])
{
	struct seen *s = arg;

	s->ev[s->n].host = hostid[0];
	s->ev[s->n++].what = 'X';
}

static struct seen seen;
static const struct nvme_resv_effects fx = { on_notify, on_abort, &seen };

static uint32_t cdw(unsigned action, unsigned rtype)
{
	return action | rtype << 8;
}

static uint16_t reg(struct nvme_resv *r, const uint8_t *h, unsigned act, uint64_t crkey, uint64_t nrkey)
{
	return nvme_resv_register(r, h, act, crkey, nrkey, &fx);
}

static uint16_t acq(struct nvme_resv *r, const uint8_t *h, unsigned act, unsigned rtype, uint64_t crkey,
		    uint64_t prkey)
{
	return nvme_resv_acquire(r, h, cdw(act, rtype), crkey, prkey, &fx);
}

static uint16_t rel(struct nvme_resv *r, const uint8_t *h, unsigned act, unsigned rtype, uint64_t crkey)
{
	return nvme_resv_release(r, h, cdw(act, rtype), crkey, &fx);
}

static int setup(void **state)
{
	(void)state;
	memset(&seen, 0, sizeof(seen));
	return 0;
}

/* Report's header and first entry, as nvme-cli's resv-report prints them. */
static void expect_report(const struct nvme_resv *r, uint32_t gen, uint8_t rtype, uint16_t regctl, int rcsts0,
			  uint64_t rkey0)
{
	uint8_t buf[4096];

	assert_int_equal(nvme_resv_report(r, true, buf, sizeof(buf)), 0);
	assert_int_equal(buf[0] | buf[1] << 8 | buf[2] << 16 | (uint32_t)buf[3] << 24, gen);
	assert_int_equal(buf[4], rtype);
	assert_int_equal(buf[5] | buf[6] << 8, regctl);
	if (!regctl)
		return;
	assert_int_equal(buf[64] | buf[65] << 8, 0xffff);
	assert_int_equal(buf[66], rcsts0);
	uint64_t k = 0;
	for (int i = 0; i < 8; i++)
		k |= (uint64_t)buf[72 + i] << (8 * i);
	assert_int_equal(k, rkey0);
}

/* blktests nvme/054 against the kernel target: the same reports after the same commands. */
static void test_blktests_054(void **state)
{
	struct nvme_resv r;

	(void)state;
	nvme_resv_init(&r);
	expect_report(&r, 0, 0, 0, 0, 0);
	assert_int_equal(reg(&r, A, NVME_RESV_REGISTER, 0, 4), 0);
	expect_report(&r, 1, 0, 1, 0, 4);
	assert_int_equal(reg(&r, A, NVME_RESV_REPLACE, 4, 5), 0);
	expect_report(&r, 2, 0, 1, 0, 5);
	assert_int_equal(reg(&r, A, NVME_RESV_UNREGISTER, 5, 0), 0);
	expect_report(&r, 3, 0, 0, 0, 0);
	assert_int_equal(reg(&r, A, NVME_RESV_REGISTER, 0, 4), 0);
	assert_int_equal(acq(&r, A, NVME_RESV_ACQUIRE, 1, 4, 0), 0);
	expect_report(&r, 4, 1, 1, 1, 4);
	assert_int_equal(acq(&r, A, NVME_RESV_PREEMPT, 2, 4, 4), 0);
	expect_report(&r, 5, 2, 1, 1, 4);
	assert_int_equal(rel(&r, A, NVME_RESV_RELEASE, 2, 4), 0);
	expect_report(&r, 5, 0, 1, 0, 4);
	assert_int_equal(acq(&r, A, NVME_RESV_ACQUIRE, 1, 4, 0), 0);
	expect_report(&r, 5, 1, 1, 1, 4);
	assert_int_equal(rel(&r, A, NVME_RESV_CLEAR, 0, 4), 0);
	expect_report(&r, 6, 0, 0, 0, 0);
	assert_int_equal(seen.n, 0);
}

static void test_register_rules(void **state)
{
	struct nvme_resv r;

	(void)state;
	nvme_resv_init(&r);
	assert_int_equal(reg(&r, A, NVME_RESV_REGISTER, 0, 7), 0);
	assert_int_equal(reg(&r, A, NVME_RESV_REGISTER, 0, 7), 0);	  /* again, same key */
	assert_int_equal(reg(&r, A, NVME_RESV_REGISTER, 0, 8), CONFLICT); /* again, another key */
	assert_int_equal(reg(&r, B, NVME_RESV_UNREGISTER, 0, 0), CONFLICT); /* not registered */
	assert_int_equal(reg(&r, B, NVME_RESV_REPLACE, 0, 1), CONFLICT);
	assert_int_equal(reg(&r, A, NVME_RESV_UNREGISTER, 6, 0), CONFLICT); /* wrong key */
	assert_int_equal(reg(&r, A, NVME_RESV_REPLACE, 6, 9), CONFLICT);
	assert_int_equal(reg(&r, A, NVME_RESV_REPLACE | NVME_RESV_IEKEY, 6, 9), 0); /* IEKEY: key ignored */
	assert_non_null(nvme_resv_find(&r, A));
	assert_int_equal(nvme_resv_find(&r, A)->rkey, 9);
	assert_int_equal(reg(&r, A, NVME_RESV_UNREGISTER | NVME_RESV_IEKEY, 1, 0), 0);
	assert_null(nvme_resv_find(&r, A));
	assert_int_equal(reg(&r, A, 3, 0, 0), INVALID); /* reserved action */
	assert_int_equal(reg(&r, A, NVME_RESV_REGISTER | 1u << 30, 0, 1), INVALID); /* reserved CPTPL */
	assert_int_equal(reg(&r, A, NVME_RESV_REGISTER | 3u << 30, 0, 1), 0);
	assert_true(r.ptpl);
	assert_int_equal(reg(&r, A, NVME_RESV_REPLACE | 2u << 30, 1, 2), 0);
	assert_false(r.ptpl);
	assert_int_equal(r.generation, 6); /* every successful Register, Unregister or Replace moves it */
}

static void test_registrant_bound(void **state)
{
	struct nvme_resv r;
	uint8_t h[16] = { 0 };

	(void)state;
	nvme_resv_init(&r);
	for (int i = 0; i < NVME_RESV_MAX_REGISTRANTS; i++) {
		h[1] = (uint8_t)i;
		assert_int_equal(reg(&r, h, NVME_RESV_REGISTER, 0, 1), 0);
	}
	h[1] = 0xff;
	assert_int_equal(reg(&r, h, NVME_RESV_REGISTER, 0, 1), NVME_SC_INTERNAL);
	assert_int_equal(r.nreg, NVME_RESV_MAX_REGISTRANTS);
}

/* Two hosts: A holds Write Exclusive; B (registered or not) reads but cannot write. */
static void test_access_by_type(void **state)
{
	static const struct {
		uint8_t rtype;
		uint16_t reg_read, reg_write, unreg_read, unreg_write;
	} t[] = {
		{ NVME_RESV_WRITE_EXCLUSIVE, 0, CONFLICT, 0, CONFLICT },
		{ NVME_RESV_EXCLUSIVE_ACCESS, CONFLICT, CONFLICT, CONFLICT, CONFLICT },
		{ NVME_RESV_WRITE_EXCLUSIVE_REG_ONLY, 0, 0, 0, CONFLICT },
		{ NVME_RESV_EXCLUSIVE_ACCESS_REG_ONLY, 0, 0, CONFLICT, CONFLICT },
		{ NVME_RESV_WRITE_EXCLUSIVE_ALL_REGS, 0, 0, 0, CONFLICT },
		{ NVME_RESV_EXCLUSIVE_ACCESS_ALL_REGS, 0, 0, CONFLICT, CONFLICT },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct nvme_resv r;

		nvme_resv_init(&r);
		assert_int_equal(nvme_resv_check(&r, C, NVME_RESV_ACCESS_WRITE), 0); /* no reservation */
		assert_int_equal(reg(&r, A, NVME_RESV_REGISTER, 0, 1), 0);
		assert_int_equal(reg(&r, B, NVME_RESV_REGISTER, 0, 2), 0);
		assert_int_equal(acq(&r, A, NVME_RESV_ACQUIRE, t[i].rtype, 1, 0), 0);
		assert_int_equal(nvme_resv_check(&r, A, NVME_RESV_ACCESS_WRITE), 0);
		assert_int_equal(nvme_resv_check(&r, A, NVME_RESV_ACCESS_READ), 0);
		assert_int_equal(nvme_resv_check(&r, B, NVME_RESV_ACCESS_READ), t[i].reg_read);
		assert_int_equal(nvme_resv_check(&r, B, NVME_RESV_ACCESS_WRITE), t[i].reg_write);
		assert_int_equal(nvme_resv_check(&r, C, NVME_RESV_ACCESS_READ), t[i].unreg_read);
		assert_int_equal(nvme_resv_check(&r, C, NVME_RESV_ACCESS_WRITE), t[i].unreg_write);
		assert_int_equal(nvme_resv_check(&r, C, NVME_RESV_ACCESS_NONE), 0);
	}
}

static void test_acquire_rules(void **state)
{
	struct nvme_resv r;

	(void)state;
	nvme_resv_init(&r);
	assert_int_equal(acq(&r, A, NVME_RESV_ACQUIRE, 1, 0, 0), CONFLICT); /* not registered */
	reg(&r, A, NVME_RESV_REGISTER, 0, 1);
	reg(&r, B, NVME_RESV_REGISTER, 0, 2);
	assert_int_equal(acq(&r, A, NVME_RESV_ACQUIRE, 1, 9, 0), CONFLICT); /* wrong key */
	assert_int_equal(acq(&r, A, NVME_RESV_ACQUIRE | NVME_RESV_IEKEY, 1, 1, 0), INVALID);
	assert_int_equal(acq(&r, A, NVME_RESV_ACQUIRE, 0, 1, 0), INVALID);
	assert_int_equal(acq(&r, A, NVME_RESV_ACQUIRE, 7, 1, 0), INVALID);
	assert_int_equal(acq(&r, A, 3, 1, 1, 0), INVALID);
	assert_int_equal(acq(&r, A, NVME_RESV_ACQUIRE, 1, 1, 0), 0);
	assert_int_equal(acq(&r, A, NVME_RESV_ACQUIRE, 1, 1, 0), 0);	 /* again: no change */
	assert_int_equal(acq(&r, A, NVME_RESV_ACQUIRE, 2, 1, 0), CONFLICT); /* another type */
	assert_int_equal(acq(&r, B, NVME_RESV_ACQUIRE, 1, 2, 0), CONFLICT); /* held by A */
	assert_int_equal(r.generation, 2); /* acquiring changes no registration */
}

static void test_release_rules(void **state)
{
	struct nvme_resv r;

	(void)state;
	nvme_resv_init(&r);
	reg(&r, A, NVME_RESV_REGISTER, 0, 1);
	reg(&r, B, NVME_RESV_REGISTER, 0, 2);
	reg(&r, C, NVME_RESV_REGISTER, 0, 3);
	assert_int_equal(acq(&r, A, NVME_RESV_ACQUIRE, NVME_RESV_WRITE_EXCLUSIVE_REG_ONLY, 1, 0), 0);
	assert_int_equal(rel(&r, B, NVME_RESV_RELEASE, 3, 2), 0); /* not the holder: success, no change */
	assert_int_equal(r.rtype, NVME_RESV_WRITE_EXCLUSIVE_REG_ONLY);
	assert_int_equal(rel(&r, A, NVME_RESV_RELEASE, 3, 9), CONFLICT); /* wrong key */
	assert_int_equal(rel(&r, A, NVME_RESV_RELEASE | NVME_RESV_IEKEY, 3, 1), INVALID);
	assert_int_equal(rel(&r, A, NVME_RESV_RELEASE, 1, 1), CONFLICT); /* another type */
	assert_int_equal(rel(&r, A, 2, 3, 1), INVALID);
	assert_int_equal(rel(&r, A, NVME_RESV_RELEASE, 3, 1), 0);
	assert_int_equal(r.rtype, NVME_RESV_NONE);
	/* A Registrants Only reservation released: the other registrants hear of it. */
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.ev[0].host, 0xb);
	assert_int_equal(seen.ev[1].host, 0xc);
	assert_int_equal(seen.ev[0].what, 'r');
	/* A plain Write Exclusive released: nobody is told. */
	seen.n = 0;
	assert_int_equal(acq(&r, A, NVME_RESV_ACQUIRE, NVME_RESV_WRITE_EXCLUSIVE, 1, 0), 0);
	assert_int_equal(rel(&r, A, NVME_RESV_RELEASE, 1, 1), 0);
	assert_int_equal(seen.n, 0);
}

static void test_holder_unregisters(void **state)
{
	struct nvme_resv r;

	(void)state;
	nvme_resv_init(&r);
	reg(&r, A, NVME_RESV_REGISTER, 0, 1);
	reg(&r, B, NVME_RESV_REGISTER, 0, 2);
	acq(&r, B, NVME_RESV_ACQUIRE, NVME_RESV_EXCLUSIVE_ACCESS_REG_ONLY, 2, 0);
	assert_int_equal(reg(&r, B, NVME_RESV_UNREGISTER, 2, 0), 0);
	assert_int_equal(r.rtype, NVME_RESV_NONE); /* the holder took its reservation with it */
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.ev[0].host, 0xa);
	assert_int_equal(seen.ev[0].what, 'r');
	/* All Registrants: it lasts while anyone is registered. */
	reg(&r, B, NVME_RESV_REGISTER, 0, 2);
	acq(&r, A, NVME_RESV_ACQUIRE, NVME_RESV_WRITE_EXCLUSIVE_ALL_REGS, 1, 0);
	assert_int_equal(acq(&r, B, NVME_RESV_ACQUIRE, NVME_RESV_WRITE_EXCLUSIVE_ALL_REGS, 2, 0), 0); /* B holds it too */
	assert_int_equal(reg(&r, A, NVME_RESV_UNREGISTER, 1, 0), 0);
	assert_int_equal(r.rtype, NVME_RESV_WRITE_EXCLUSIVE_ALL_REGS);
	assert_int_equal(nvme_resv_check(&r, A, NVME_RESV_ACCESS_WRITE), CONFLICT);
	assert_int_equal(nvme_resv_check(&r, B, NVME_RESV_ACCESS_WRITE), 0);
	assert_int_equal(rel(&r, B, NVME_RESV_RELEASE, NVME_RESV_WRITE_EXCLUSIVE_ALL_REGS, 2), 0);
	assert_int_equal(r.rtype, NVME_RESV_NONE);
	acq(&r, B, NVME_RESV_ACQUIRE, NVME_RESV_WRITE_EXCLUSIVE_ALL_REGS, 2, 0);
	assert_int_equal(reg(&r, B, NVME_RESV_UNREGISTER, 2, 0), 0);
	assert_int_equal(r.rtype, NVME_RESV_NONE); /* the last registrant gone */
}

/* B preempts A's Write Exclusive by A's key: B holds it, A is unregistered and told; with abort, A's
 * commands are fenced first. */
static void test_preempt_and_abort(void **state)
{
	struct nvme_resv r;

	(void)state;
	for (int abort = 0; abort < 2; abort++) {
		nvme_resv_init(&r);
		seen.n = 0;
		reg(&r, A, NVME_RESV_REGISTER, 0, 1);
		reg(&r, B, NVME_RESV_REGISTER, 0, 2);
		acq(&r, A, NVME_RESV_ACQUIRE, NVME_RESV_WRITE_EXCLUSIVE, 1, 0);
		assert_int_equal(acq(&r, B, abort ? NVME_RESV_PREEMPT_ABORT : NVME_RESV_PREEMPT,
				     NVME_RESV_WRITE_EXCLUSIVE, 2, 1), 0);
		assert_null(nvme_resv_find(&r, A));
		assert_int_equal(r.rtype, NVME_RESV_WRITE_EXCLUSIVE);
		assert_int_equal(nvme_resv_check(&r, B, NVME_RESV_ACCESS_WRITE), 0);
		assert_int_equal(nvme_resv_check(&r, A, NVME_RESV_ACCESS_WRITE), CONFLICT);
		assert_int_equal(nvme_resv_check(&r, A, NVME_RESV_ACCESS_READ), 0);
		assert_int_equal(seen.n, abort ? 2 : 1);
		if (abort) {
			assert_int_equal(seen.ev[0].what, 'X');
			assert_int_equal(seen.ev[0].host, 0xa);
		}
		assert_int_equal(seen.ev[seen.n - 1].what, 'g');
		assert_int_equal(seen.ev[seen.n - 1].host, 0xa);
		assert_int_equal(r.generation, 3);
	}
}

static void test_preempt_other_cases(void **state)
{
	struct nvme_resv r;

	(void)state;
	nvme_resv_init(&r);
	reg(&r, A, NVME_RESV_REGISTER, 0, 1);
	reg(&r, B, NVME_RESV_REGISTER, 0, 2);
	reg(&r, C, NVME_RESV_REGISTER, 0, 3);
	/* No reservation: preempting removes the registrants with that key; an unknown key conflicts. */
	assert_int_equal(acq(&r, A, NVME_RESV_PREEMPT, 1, 1, 7), CONFLICT);
	assert_int_equal(acq(&r, A, NVME_RESV_PREEMPT, 1, 1, 3), 0);
	assert_null(nvme_resv_find(&r, C));
	assert_int_equal(r.rtype, NVME_RESV_NONE);
	/* A reservation held by A; B preempts with a key that is not the holder's: only those go. */
	reg(&r, C, NVME_RESV_REGISTER, 0, 3);
	acq(&r, A, NVME_RESV_ACQUIRE, NVME_RESV_WRITE_EXCLUSIVE, 1, 0);
	assert_int_equal(acq(&r, B, NVME_RESV_PREEMPT, 1, 2, 3), 0);
	assert_null(nvme_resv_find(&r, C));
	assert_int_equal(r.holder, 0);
	assert_int_equal(acq(&r, B, NVME_RESV_PREEMPT, 1, 2, 0), INVALID); /* key 0, not All Registrants */
	/* The holder changes its own type: the others hear the reservation was released. */
	seen.n = 0;
	assert_int_equal(acq(&r, A, NVME_RESV_PREEMPT, NVME_RESV_EXCLUSIVE_ACCESS, 1, 1), 0);
	assert_int_equal(r.rtype, NVME_RESV_EXCLUSIVE_ACCESS);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.ev[0].what, 'r');
	assert_int_equal(seen.ev[0].host, 0xb);
	/* All Registrants, preempted with key 0: the actor holds it alone, everyone else is unregistered. */
	rel(&r, A, NVME_RESV_RELEASE, NVME_RESV_EXCLUSIVE_ACCESS, 1);
	reg(&r, C, NVME_RESV_REGISTER, 0, 3);
	acq(&r, A, NVME_RESV_ACQUIRE, NVME_RESV_EXCLUSIVE_ACCESS_ALL_REGS, 1, 0);
	seen.n = 0;
	assert_int_equal(acq(&r, C, NVME_RESV_PREEMPT_ABORT, NVME_RESV_WRITE_EXCLUSIVE, 3, 0), 0);
	assert_int_equal(r.nreg, 1);
	assert_non_null(nvme_resv_find(&r, C));
	assert_int_equal(r.rtype, NVME_RESV_WRITE_EXCLUSIVE);
	assert_int_equal(nvme_resv_check(&r, A, NVME_RESV_ACCESS_WRITE), CONFLICT);
	assert_int_equal(nvme_resv_check(&r, C, NVME_RESV_ACCESS_WRITE), 0);
	assert_int_equal(seen.n, 4); /* abort and notice for A, then for B */
}

static void test_clear(void **state)
{
	struct nvme_resv r;
	uint32_t gen;

	(void)state;
	nvme_resv_init(&r);
	reg(&r, A, NVME_RESV_REGISTER, 0, 1);
	reg(&r, B, NVME_RESV_REGISTER, 0, 2);
	acq(&r, B, NVME_RESV_ACQUIRE, NVME_RESV_EXCLUSIVE_ACCESS, 2, 0);
	gen = r.generation;
	assert_int_equal(rel(&r, A, NVME_RESV_CLEAR, 0, 9), CONFLICT); /* wrong key */
	assert_int_equal(rel(&r, C, NVME_RESV_CLEAR, 0, 0), CONFLICT); /* not registered */
	assert_int_equal(rel(&r, A, NVME_RESV_CLEAR, 0, 1), 0);
	assert_int_equal(r.nreg, 0);
	assert_int_equal(r.rtype, NVME_RESV_NONE);
	assert_int_equal(r.generation, gen + 1);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.ev[0].host, 0xb);
	assert_int_equal(seen.ev[0].what, 'p');
}

static void test_report_layout(void **state)
{
	struct nvme_resv r;
	uint8_t buf[64 + 2 * 64 + 10];

	(void)state;
	nvme_resv_init(&r);
	reg(&r, A, NVME_RESV_REGISTER | 3u << 30, 0, 0x1122334455667788ull);
	reg(&r, B, NVME_RESV_REGISTER, 0, 2);
	reg(&r, C, NVME_RESV_REGISTER, 0, 3);
	acq(&r, B, NVME_RESV_ACQUIRE, NVME_RESV_WRITE_EXCLUSIVE, 2, 0);
	assert_int_equal(nvme_resv_report(&r, false, buf, sizeof(buf)), NVME_SC_HOST_ID_INCONSISTENT | NVME_SC_DNR);
	assert_int_equal(nvme_resv_report(&r, true, buf, 63), INVALID);
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(nvme_resv_report(&r, true, buf, sizeof(buf)), 0);
	assert_int_equal(buf[5], 3); /* REGCTL counts every registrant, though two entries fit */
	assert_int_equal(buf[9], 1); /* PTPLS */
	assert_memory_equal(buf + 64 + 16, A, 16);
	assert_int_equal(buf[64 + 2], 0);
	assert_int_equal(buf[64 + 8], 0x88);
	assert_int_equal(buf[64 + 15], 0x11);
	assert_memory_equal(buf + 128 + 16, B, 16);
	assert_int_equal(buf[128 + 2], 1); /* B holds it */
	for (size_t i = 192; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0); /* no partial third entry */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_blktests_054, setup),
		cmocka_unit_test_setup(test_register_rules, setup),
		cmocka_unit_test_setup(test_registrant_bound, setup),
		cmocka_unit_test_setup(test_access_by_type, setup),
		cmocka_unit_test_setup(test_acquire_rules, setup),
		cmocka_unit_test_setup(test_release_rules, setup),
		cmocka_unit_test_setup(test_holder_unregisters, setup),
		cmocka_unit_test_setup(test_preempt_and_abort, setup),
		cmocka_unit_test_setup(test_preempt_other_cases, setup),
		cmocka_unit_test_setup(test_clear, setup),
		cmocka_unit_test_setup(test_report_layout, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
