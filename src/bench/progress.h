/* The live progress line of `tightrope bench` (fio's status line): what the job threads publish
 * while they run, and the watcher that draws it from the main thread. */
#ifndef TIGHTROPE_BENCH_PROGRESS_H
#define TIGHTROPE_BENCH_PROGRESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* One job's completions so far, ramp included; [0] reads, [1] writes. Written by the job's thread
 * alone (a relaxed load and store, no locked add), read by the watcher. */
struct bench_job_counts {
	_Atomic uint64_t ios[2], bytes[2];
};

struct bench_live {
	struct bench_job_counts *jobs;
	int njobs;
	_Atomic int running; /* job threads not yet done */
	uint64_t t0_ns;
	double runtime_s, ramp_s;
	bool time_based;
	uint64_t total_bytes; /* what the jobs will move when they run to a size (0: unknown) */
	char mode; /* fio's letter for the workload: R, W, M sequential, r, w, m random (M, m mixed) */
	FILE *out;
};

/* A completion of 'bytes' in direction 'dir' (0 read, 1 write): the job thread's side. */
static inline void bench_job_count(struct bench_job_counts *c, int dir, uint32_t bytes)
{
	atomic_store_explicit(&c->ios[dir], atomic_load_explicit(&c->ios[dir], memory_order_relaxed) + 1,
			      memory_order_relaxed);
	atomic_store_explicit(&c->bytes[dir], atomic_load_explicit(&c->bytes[dir], memory_order_relaxed) + bytes,
			      memory_order_relaxed);
}

/* Redraw the line on live->out once a second until no job runs, then erase it. */
void bench_progress_watch(const struct bench_live *live);

#endif
