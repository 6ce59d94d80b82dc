/* cmocka tests of the bench latency histogram (src/bench/hist.c): mean, standard deviation and
 * percentiles on known samples, the edges of its buckets, an empty one, and merging two. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bench/bench.h"

static struct bench_lat a, b;

static int reset(void **state)
{
	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	return 0;
}

static void test_empty(void **state)
{
	(void)state;
	assert_int_equal(a.ios, 0);
	assert_true(bench_lat_mean(&a) == 0);
	assert_true(bench_lat_stddev(&a) == 0);
	assert_int_equal(bench_lat_percentile(&a, 50), 0);
	assert_int_equal(bench_lat_percentile(&a, 99.99), 0);
}

/* Below 32 ns every nanosecond has a bucket of its own: percentiles are exact. */
static void test_small_exact(void **state)
{
	(void)state;
	for (uint64_t ns = 1; ns <= 20; ns++)
		bench_lat_add(&a, ns, 4096);
	assert_int_equal(a.ios, 20);
	assert_int_equal(a.bytes, 20 * 4096);
	assert_int_equal(a.min_ns, 1);
	assert_int_equal(a.max_ns, 20);
	assert_float_equal(bench_lat_mean(&a), 10.5, 1e-9);
	assert_float_equal(bench_lat_stddev(&a), sqrt(35.0), 1e-9); /* sample variance of 1..20 */
	assert_int_equal(bench_lat_percentile(&a, 50), 10);
	assert_int_equal(bench_lat_percentile(&a, 5), 1);
	assert_int_equal(bench_lat_percentile(&a, 0), 1); /* at least one sample */
	assert_int_equal(bench_lat_percentile(&a, 51), 11); /* the 10.2th sample: the 11th */
	assert_int_equal(bench_lat_percentile(&a, 99), 20);
	assert_int_equal(bench_lat_percentile(&a, 100), 20);
}

/* Above, a power of two is cut into 32 buckets: 1024..1055 is one (width 32, reported by its
 * middle, 1040), 1056 starts the next. */
static void test_bucket_edges(void **state)
{
	(void)state;
	bench_lat_add(&a, 1024, 512);
	bench_lat_add(&a, 1055, 512);
	bench_lat_add(&a, 1056, 512);
	bench_lat_add(&a, 100000, 512); /* in 98304..100351, whose middle is 99328 */
	assert_int_equal(bench_lat_percentile(&a, 25), 1040);
	assert_int_equal(bench_lat_percentile(&a, 50), 1040);
	assert_int_equal(bench_lat_percentile(&a, 75), 1072);
	assert_int_equal(bench_lat_percentile(&a, 100), 99328);
	assert_float_equal(bench_lat_mean(&a), (1024 + 1055 + 1056 + 100000) / 4.0, 1e-9);
	/* A bucket's middle is never reported beyond the largest (or below the smallest) sample seen. */
	reset(NULL);
	bench_lat_add(&a, 98304, 512);
	bench_lat_add(&a, 98305, 512);
	assert_int_equal(bench_lat_percentile(&a, 100), 98305);
	reset(NULL);
	bench_lat_add(&a, 100351, 512);
	assert_int_equal(bench_lat_percentile(&a, 50), 100351);
}

/* From 32 to 63 ns buckets are 1 ns wide: exact still; from 64 they are 2 ns wide. */
static void test_first_split_octave(void **state)
{
	(void)state;
	bench_lat_add(&a, 31, 0);
	bench_lat_add(&a, 32, 0);
	bench_lat_add(&a, 40, 0);
	bench_lat_add(&a, 63, 0);
	bench_lat_add(&a, 64, 0);
	bench_lat_add(&a, 1000, 0);
	assert_int_equal(bench_lat_percentile(&a, 15), 31); /* the 1st of 6 */
	assert_int_equal(bench_lat_percentile(&a, 30), 32); /* the 2nd */
	assert_int_equal(bench_lat_percentile(&a, 50), 40);
	assert_int_equal(bench_lat_percentile(&a, 60), 63);
	assert_int_equal(bench_lat_percentile(&a, 80), 65); /* 64..65 is the first 2 ns bucket: its middle */
}

/* Whatever the value, the reported one is within a bucket's error (1/32 of its power of two) and
 * within what was seen. */
static void test_error_bound(void **state)
{
	(void)state;
	for (uint64_t ns = 100; ns < 50000000000ull; ns = ns * 3 + 7) {
		uint64_t p;

		reset(NULL);
		bench_lat_add(&a, ns, 0);
		bench_lat_add(&a, ns * 2, 0);
		p = bench_lat_percentile(&a, 50);
		assert_true(p >= ns && p <= ns + ns / 32 + 1);
	}
}

static void test_merge(void **state)
{
	(void)state;
	bench_lat_merge(&a, &b); /* empty into empty: still empty */
	assert_int_equal(a.ios, 0);
	for (uint64_t ns = 1; ns <= 10; ns++)
		bench_lat_add(&b, ns + 10, 100);
	bench_lat_merge(&a, &b); /* into an empty one: a copy */
	assert_int_equal(a.ios, 10);
	assert_int_equal(a.min_ns, 11);
	assert_int_equal(a.max_ns, 20);
	memset(&b, 0, sizeof(b));
	for (uint64_t ns = 1; ns <= 10; ns++)
		bench_lat_add(&b, ns, 200);
	bench_lat_merge(&a, &b);
	assert_int_equal(a.ios, 20);
	assert_int_equal(a.bytes, 10 * 100 + 10 * 200);
	assert_int_equal(a.min_ns, 1);
	assert_int_equal(a.max_ns, 20);
	assert_float_equal(bench_lat_mean(&a), 10.5, 1e-9);
	assert_int_equal(bench_lat_percentile(&a, 50), 10);
	assert_int_equal(bench_lat_percentile(&a, 55), 11);
	memset(&b, 0, sizeof(b));
	bench_lat_merge(&a, &b); /* an empty one changes nothing */
	assert_int_equal(a.ios, 20);
	assert_int_equal(a.min_ns, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_empty, reset),
		cmocka_unit_test_setup(test_small_exact, reset),
		cmocka_unit_test_setup(test_bucket_edges, reset),
		cmocka_unit_test_setup(test_first_split_octave, reset),
		cmocka_unit_test_setup(test_error_bound, reset),
		cmocka_unit_test_setup(test_merge, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
