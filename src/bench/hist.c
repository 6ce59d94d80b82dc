/* The bench's latency histogram: 32 linear sub-buckets per power of two of nanoseconds (about 3%
 * error), its mean, standard deviation and percentiles, and merging the jobs' into a total. */
#include <math.h>

#include "bench/bench.h"

static int hist_index(uint64_t ns)
{
	int msb;

	if (ns < BENCH_HIST_SUB)
		return (int)ns;
	msb = 63 - __builtin_clzll(ns);
	/* Bucket = power of two, then the next five bits below the leading one. */
	return (msb - 4) * BENCH_HIST_SUB + (int)((ns >> (msb - 5)) & (BENCH_HIST_SUB - 1));
}

static uint64_t hist_value(int idx)
{
	int msb = idx / BENCH_HIST_SUB + 4;
	uint64_t sub = (uint64_t)(idx % BENCH_HIST_SUB);

	if (idx < BENCH_HIST_SUB)
		return (uint64_t)idx;
	/* The middle of the bucket; from 32 to 63 ns buckets are 1 ns wide and have none (a shift by
	 * msb - 6 = -1 there was undefined, and reported 2^63, clamped to the largest sample). */
	return (1ull << msb) + (sub << (msb - 5)) + (msb > 5 ? 1ull << (msb - 6) : 0);
}

void bench_lat_add(struct bench_lat *l, uint64_t ns, uint32_t bytes)
{
	int idx = hist_index(ns);

	if (l->ios == 0 || ns < l->min_ns)
		l->min_ns = ns;
	if (ns > l->max_ns)
		l->max_ns = ns;
	l->ios++;
	l->bytes += bytes;
	l->sum_ns += (double)ns;
	l->sumsq_ns += (double)ns * (double)ns;
	l->hist[idx < BENCH_HIST_BUCKETS ? idx : BENCH_HIST_BUCKETS - 1]++;
}

void bench_lat_merge(struct bench_lat *into, const struct bench_lat *from)
{
	if (!from->ios)
		return;
	if (!into->ios || from->min_ns < into->min_ns)
		into->min_ns = from->min_ns;
	if (from->max_ns > into->max_ns)
		into->max_ns = from->max_ns;
	into->ios += from->ios;
	into->bytes += from->bytes;
	into->sum_ns += from->sum_ns;
	into->sumsq_ns += from->sumsq_ns;
	for (int i = 0; i < BENCH_HIST_BUCKETS; i++)
		into->hist[i] += from->hist[i];
}

double bench_lat_mean(const struct bench_lat *l)
{
	return l->ios ? l->sum_ns / (double)l->ios : 0;
}

double bench_lat_stddev(const struct bench_lat *l)
{
	double mean = bench_lat_mean(l), var;

	if (l->ios < 2)
		return 0;
	var = (l->sumsq_ns - (double)l->ios * mean * mean) / (double)(l->ios - 1);
	return var > 0 ? sqrt(var) : 0;
}

uint64_t bench_lat_percentile(const struct bench_lat *l, double pct)
{
	uint64_t want, seen = 0;

	if (!l->ios)
		return 0;
	want = (uint64_t)ceil(pct / 100.0 * (double)l->ios);
	if (want == 0)
		want = 1;
	for (int i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += l->hist[i];
		if (seen >= want) {
			uint64_t v = hist_value(i);

			/* Never report beyond what was actually seen. */
			return v > l->max_ns ? l->max_ns : v < l->min_ns ? l->min_ns : v;
		}
	}
	return l->max_ns;
}
