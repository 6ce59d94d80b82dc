/* cmocka tests of `tightrope bench --rw caw`'s block generations (src/bench/caw.c): a pair compares
 * what the block holds and writes the next generation, a block with a pair out is skipped, a
 * miscompare leaves the generation, and the pattern of each generation is what the bench documents. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bench/caw.h"

#define BS 4096
#define START (1u << 20)

static uint8_t cmp[BS], data[BS], expect[BS];

static void test_generations_advance(void **state)
{
	struct bench_caw c;
	uint64_t off;

	(void)state;
	assert_int_equal(bench_caw_init(&c, START, 4 * BS, BS), 0);
	assert_true(bench_caw_next(&c, 6, &off, cmp, data)); /* 6 % 4 blocks: block 2 */
	assert_int_equal(off, START + 2 * BS);
	memset(expect, 0, BS);
	assert_memory_equal(cmp, expect, BS); /* generation 0: zeros */
	bench_caw_pattern(expect, BS, off, 1);
	assert_memory_equal(data, expect, BS);
	bench_caw_done(&c, off, true);
	assert_true(bench_caw_next(&c, 2, &off, cmp, data));
	assert_int_equal(off, START + 2 * BS);
	assert_memory_equal(cmp, expect, BS); /* what the last pair wrote */
	bench_caw_pattern(expect, BS, off, 2);
	assert_memory_equal(data, expect, BS);
	bench_caw_done(&c, off, false); /* a miscompare: still generation 1 */
	assert_true(bench_caw_next(&c, 2, &off, cmp, data));
	bench_caw_pattern(expect, BS, off, 1);
	assert_memory_equal(cmp, expect, BS);
	bench_caw_free(&c);
}

static void test_busy_blocks_skipped(void **state)
{
	struct bench_caw c;
	uint64_t off[4], more;

	(void)state;
	assert_int_equal(bench_caw_init(&c, START, 4 * BS + 100, BS), 0); /* the tail is no block */
	assert_int_equal(c.nblocks, 4);
	for (int i = 0; i < 4; i++)
		assert_true(bench_caw_next(&c, 1, &off[i], cmp, data));
	for (int i = 0; i < 4; i++) /* 1, 2, 3, then around to 0 */
		assert_int_equal(off[i], START + (uint64_t)((i + 1) % 4) * BS);
	assert_false(bench_caw_next(&c, 1, &more, cmp, data));
	bench_caw_done(&c, off[2], true);
	assert_true(bench_caw_next(&c, 0, &more, cmp, data));
	assert_int_equal(more, off[2]);
	bench_caw_free(&c);
}

static void test_pattern_layout(void **state)
{
	uint64_t w[4];

	(void)state;
	bench_caw_pattern(expect, BS, 8192, 7);
	for (uint32_t p = 0; p < BS; p += BENCH_CAW_PIECE) {
		memcpy(w, expect + p, sizeof(w));
		assert_memory_equal(expect + p, "trcawgen", 8);
		assert_int_equal(w[1], 8192 + p);
		assert_int_equal(w[2], 7);
	}
	bench_caw_pattern(cmp, BS, 8192, 8);
	assert_memory_not_equal(cmp, expect, BS);
	bench_caw_pattern(cmp, BS, 12288, 7);
	assert_memory_not_equal(cmp + 24, expect + 24, BS - 24); /* the noise differs by offset too */
}

static void test_too_many_blocks(void **state)
{
	struct bench_caw c;

	(void)state;
	assert_int_equal(bench_caw_init(&c, 0, (BENCH_CAW_MAX_BLOCKS + 1) * 512, 512), -EFBIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generations_advance),
		cmocka_unit_test(test_busy_blocks_skipped),
		cmocka_unit_test(test_pattern_layout),
		cmocka_unit_test(test_too_many_blocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
