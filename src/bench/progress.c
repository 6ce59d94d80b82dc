/* `tightrope bench`'s live status line, like fio's: elapsed share, bandwidth and IOPS of the last
 * second, and the time left, redrawn in place while the jobs run (only where a person watches). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bench/progress.h"
#include "util/clock.h"

#define TICK_NS 100000000ull /* how often the watcher looks whether the jobs are done */
#define LINE_NS 1000000000ull /* how often the line is redrawn: fio's once a second */

struct sample {
	uint64_t ios[2], bytes[2]; /* [0] reads, [1] writes */
	uint64_t at_ns;
};

static void take_sample(const struct bench_live *live, struct sample *s)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < live->njobs; i++) {
		for (int d = 0; d < 2; d++) {
			s->ios[d] += atomic_load_explicit(&live->jobs[i].ios[d], memory_order_relaxed);
			s->bytes[d] += atomic_load_explicit(&live->jobs[i].bytes[d], memory_order_relaxed);
		}
	}
	s->at_ns = tr_now_ns();
}

/* 1234, 12.3k, 1.23M: IOPS the way fio abbreviates them. */
static void fmt_count(char *out, size_t len, double v)
{
	if (v >= 1e6)
		snprintf(out, len, "%.2fM", v / 1e6);
	else if (v >= 1e4)
		snprintf(out, len, "%.1fk", v / 1e3);
	else
		snprintf(out, len, "%.0f", v);
}

/* Share of the run done, 0..1: of its time when it runs for a time, of its bytes otherwise. */
static double done_share(const struct bench_live *live, const struct sample *now)
{
	double by_time = 0, by_bytes = 0, total_s = live->runtime_s + live->ramp_s;

	if (live->runtime_s > 0)
		by_time = (double)(now->at_ns - live->t0_ns) / 1e9 / total_s;
	if (live->total_bytes)
		by_bytes = (double)(now->bytes[0] + now->bytes[1]) / (double)live->total_bytes;
	if (live->time_based)
		by_bytes = 0;
	by_time = by_time > by_bytes ? by_time : by_bytes;
	return by_time > 1 ? 1 : by_time;
}

/* "Jobs: 1 (f=1): [r(1)][45.0%][r=1873MiB/s,w=0KiB/s][r=479k,w=0 IOPS][eta 00m:03s]" */
static int draw(const struct bench_live *live, const struct sample *prev, const struct sample *now,
		int width)
{
	double secs = (double)(now->at_ns - prev->at_ns) / 1e9, share = done_share(live, now), eta;
	double elapsed = (double)(now->at_ns - live->t0_ns) / 1e9;
	char iops[2][16], line[200];
	int running = atomic_load_explicit(&live->running, memory_order_relaxed), n, left;

	for (int d = 0; d < 2; d++)
		fmt_count(iops[d], sizeof(iops[d]), secs > 0 ? (double)(now->ios[d] - prev->ios[d]) / secs : 0);
	eta = share > 0 ? elapsed / share - elapsed : 0;
	left = (int)(eta + 0.999); /* whole seconds, rounded up as fio does */
	n = snprintf(line, sizeof(line), "Jobs: %d (f=%d): [%c(%d)][%.1f%%][r=%.0fMiB/s,w=%.0fMiB/s][r=%s,w=%s IOPS][eta %02dm:%02ds]",
		     running, running, live->mode, running, share * 100,
		     secs > 0 ? (double)(now->bytes[0] - prev->bytes[0]) / secs / 1048576 : 0,
		     secs > 0 ? (double)(now->bytes[1] - prev->bytes[1]) / secs / 1048576 : 0, iops[0], iops[1],
		     left / 60, left % 60);
	/* Pad over what the last line left, so a shorter line leaves no tail behind. */
	fprintf(live->out, "\r%s%*s", line, width > n ? width - n : 0, "");
	fflush(live->out);
	return n;
}

void bench_progress_watch(const struct bench_live *live)
{
	struct sample prev, now;
	int width = 0;

	take_sample(live, &prev);
	prev.at_ns = live->t0_ns;
	while (atomic_load_explicit(&live->running, memory_order_acquire) > 0) {
		struct timespec tick = { 0, (long)TICK_NS };

		nanosleep(&tick, NULL);
		if (atomic_load_explicit(&live->running, memory_order_acquire) == 0)
			break;
		if (tr_now_ns() - prev.at_ns < LINE_NS)
			continue;
		take_sample(live, &now);
		width = draw(live, &prev, &now, width);
		prev = now;
	}
	if (width) {
		/* The report starts on a clean line. */
		fprintf(live->out, "\r%*s\r", width, "");
		fflush(live->out);
	}
}
