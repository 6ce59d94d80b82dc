/* cmocka tests of the host's ANA log page parser (src/host/ana.c): well-formed pages with and
 * without NSID lists, and each way a page from the network can lie about its own size or contents. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "host/ana.h"

/* A page builder: the header, then groups appended one by one with their NSIDs. */
struct page {
	uint8_t b[4096];
	size_t len;
};

static void page_init(struct page *p, uint64_t chgcnt)
{
	struct nvme_ana_log_header h = { .chgcnt = chgcnt };

	memset(p, 0, sizeof(*p));
	memcpy(p->b, &h, sizeof(h));
	p->len = sizeof(h);
}

static void page_group(struct page *p, uint32_t grpid, uint8_t state, uint32_t nnsids, const uint32_t *nsids)
{
	struct nvme_ana_log_header *h = (struct nvme_ana_log_header *)p->b;
	struct nvme_ana_group_desc d = { .grpid = grpid, .nnsids = nnsids, .chgcnt = 1, .state = state };

	memcpy(p->b + p->len, &d, sizeof(d));
	p->len += sizeof(d);
	if (nnsids) /* memcpy's source may not be NULL, even for 0 bytes */
		memcpy(p->b + p->len, nsids, nnsids * 4);
	p->len += nnsids * 4;
	h->ngrps++;
}

static void test_two_groups(void **state)
{
	static const uint32_t ns1[] = { 1, 2 }, ns2[] = { 3 };
	struct ana_table t;
	struct page p;
	char why[128] = "";

	(void)state;
	page_init(&p, 7);
	page_group(&p, 1, NVME_ANA_OPTIMIZED, 2, ns1);
	page_group(&p, 2, NVME_ANA_INACCESSIBLE, 1, ns2);
	assert_int_equal(ana_log_parse(p.b, p.len, 32, &t, why, sizeof(why)), 0);
	assert_int_equal(t.chgcnt, 7);
	assert_int_equal(t.nr, 2);
	assert_int_equal(ana_group_state(&t, 1), NVME_ANA_OPTIMIZED);
	assert_int_equal(ana_group_state(&t, 2), NVME_ANA_INACCESSIBLE);
	assert_int_equal(ana_group_state(&t, 3), 0);
	/* The buffer may be longer than the page (we read the most it could be): trailing zeros are fine. */
	assert_int_equal(ana_log_parse(p.b, sizeof(p.b), 32, &t, why, sizeof(why)), 0);
	assert_int_equal(t.nr, 2);
}

static void test_groups_only(void **state)
{
	struct ana_table t;
	struct page p;
	char why[128] = "";

	(void)state;
	page_init(&p, 1);
	page_group(&p, 5, NVME_ANA_NONOPTIMIZED, 0, NULL);
	page_group(&p, 6, NVME_ANA_CHANGE, 0, NULL);
	assert_int_equal(ana_log_parse(p.b, p.len, 0, &t, why, sizeof(why)), 0);
	assert_int_equal(ana_group_state(&t, 5), NVME_ANA_NONOPTIMIZED);
	assert_int_equal(ana_group_state(&t, 6), NVME_ANA_CHANGE);
	assert_false(ana_state_usable(NVME_ANA_CHANGE));
	assert_true(ana_state_usable(NVME_ANA_NONOPTIMIZED));
	assert_string_equal(ana_state_name(NVME_ANA_PERSISTENT_LOSS), "persistent-loss");
}

/* Each lie is refused, with a reason, and leaves the table as it was. */
static void expect_refused(const struct page *p, size_t len, uint32_t anagrpmax, const char *needle)
{
	struct ana_table t = { .chgcnt = 99, .nr = 1, .g = { { .grpid = 9, .state = NVME_ANA_OPTIMIZED } } };
	char why[128] = "";

	assert_int_equal(ana_log_parse(p->b, len, anagrpmax, &t, why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, needle));
	assert_int_equal(t.chgcnt, 99);
	assert_int_equal(ana_group_state(&t, 9), NVME_ANA_OPTIMIZED);
}

static void test_refusals(void **state)
{
	static const uint32_t nsids[] = { 1, 2, 3, 4 };
	struct nvme_ana_log_header *h;
	struct page p;

	(void)state;
	page_init(&p, 1);
	expect_refused(&p, 8, 0, "shorter than");

	/* A descriptor cut short, and NSIDs that run past the bytes received. */
	page_group(&p, 1, NVME_ANA_OPTIMIZED, 4, nsids);
	expect_refused(&p, 16 + 20, 0, "runs past");
	expect_refused(&p, p.len - 4, 0, "NSIDs past");

	/* A header that claims more groups than there are bytes for, or more than we take. */
	h = (struct nvme_ana_log_header *)p.b;
	h->ngrps = 2;
	expect_refused(&p, p.len, 0, "runs past");
	h->ngrps = ANA_MAX_GROUPS + 1;
	expect_refused(&p, sizeof(p.b), 0, "more than");

	/* Group 0, a group above ANAGRPMAX, a reserved state, a group listed twice. */
	page_init(&p, 1);
	page_group(&p, 0, NVME_ANA_OPTIMIZED, 0, NULL);
	expect_refused(&p, p.len, 0, "out of range");
	page_init(&p, 1);
	page_group(&p, 33, NVME_ANA_OPTIMIZED, 0, NULL);
	expect_refused(&p, p.len, 32, "out of range");
	page_init(&p, 1);
	page_group(&p, 2, 0x05, 0, NULL);
	expect_refused(&p, p.len, 0, "reserved state");
	page_init(&p, 1);
	page_group(&p, 2, NVME_ANA_OPTIMIZED, 1, nsids);
	page_group(&p, 2, NVME_ANA_INACCESSIBLE, 0, NULL);
	expect_refused(&p, p.len, 0, "listed twice");

	/* A count so large that NNSIDs * 4 overflows 32 bits must not wrap into "fits". */
	page_init(&p, 1);
	page_group(&p, 3, NVME_ANA_OPTIMIZED, 0, NULL);
	((struct nvme_ana_group_desc *)(p.b + sizeof(struct nvme_ana_log_header)))->nnsids = 0x40000001u;
	expect_refused(&p, sizeof(p.b), 0, "NSIDs past");
}

static void test_log_size(void **state)
{
	(void)state;
	assert_int_equal(ana_log_size(1, 0), 16 + 32);
	assert_int_equal(ana_log_size(2, 1024), 16 + 64 + 4096);
	assert_int_equal(ana_log_size(0xffffffffu, 0xffffffffu), ANA_LOG_MAX_BYTES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_groups),
		cmocka_unit_test(test_groups_only),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_log_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
