/* tightrope bench: one workload engine for a remote namespace (through the host library, no FUSE)
 * and a local file or block device (io_uring, O_DIRECT), so both are measured by the same code. */
#ifndef TIGHTROPE_BENCH_H
#define TIGHTROPE_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tightrope/host.h"

/* BENCH_CAW: fused compare-and-write pairs at random blocks (remote only); each pair counts as one
 * write of bs bytes. */
enum bench_rw { BENCH_READ, BENCH_WRITE, BENCH_RANDREAD, BENCH_RANDWRITE, BENCH_RANDRW, BENCH_RW, BENCH_CAW };

/* Latency histogram: 32 linear sub-buckets per power of two of nanoseconds (about 3% error). */
#define BENCH_HIST_SUB 32
#define BENCH_HIST_BUCKETS (64 * BENCH_HIST_SUB)

struct bench_lat {
	uint64_t ios, bytes;
	uint64_t min_ns, max_ns;
	double sum_ns, sumsq_ns;
	uint64_t hist[BENCH_HIST_BUCKETS];
};

void bench_lat_add(struct bench_lat *l, uint64_t ns, uint32_t bytes);
void bench_lat_merge(struct bench_lat *into, const struct bench_lat *from);
double bench_lat_mean(const struct bench_lat *l);
double bench_lat_stddev(const struct bench_lat *l);
uint64_t bench_lat_percentile(const struct bench_lat *l, double pct);

struct bench_job_stats {
	struct bench_lat read, write;
	double runtime_s; /* measured time, after ramp */
	double usr_cpu, sys_cpu; /* percent of one core over the run: the job thread; in total, the whole process */
	uint64_t miscompares; /* --rw caw: pairs whose compare failed (never expected: each job knows its blocks) */
	int error;
};

/* Where the I/O goes: a remote namespace or a local file/device. */
struct bench_target {
	bool remote;
	/* remote */
	struct tr_ctrl_opts conn;
	uint32_t nsid;
	uint32_t poll_us; /* poll mode of the job queues (tr_ctrl_set_poll_us), 0 = off */
	/* local */
	const char *filename;
	bool buffered;
};

struct bench_cfg {
	enum bench_rw rw;
	uint32_t bs;
	int iodepth;
	int numjobs;
	int rwmixread;
	uint64_t offset, size; /* size 0 = to the end of the namespace/file */
	double runtime_s, ramp_s;
	bool time_based;
	bool dsync; /* a flush after each write, like dd oflag=dsync */
	bool verify, verify_only;
	uint64_t seed;
	FILE *progress; /* where the live status line goes while the job runs; NULL: nowhere */
};

struct bench_result {
	int numjobs;
	struct bench_job_stats *jobs;
	struct bench_job_stats total;
	double wall_s;
	uint64_t capacity; /* bytes of the namespace or file */
	uint32_t lba_size;
	/* --verify: the first mismatch, if any */
	bool verify_failed;
	uint64_t verify_offset;
	char what[256]; /* "nvme-tcp 127.0.0.1:4420 nqn nsid 1" or the file name */
};

/* Run the job; 0 or -errno with 'why' set. result->jobs is malloc'd: free with bench_result_free. */
int bench_run(const struct bench_target *t, const struct bench_cfg *cfg, struct bench_result *result, char *why,
	      size_t whylen);
void bench_result_free(struct bench_result *r);

/* Output: fio-like text, fio's JSON layout, ioping-like summary. */
void bench_report_text(FILE *out, const struct bench_cfg *cfg, const struct bench_result *r);
void bench_report_json(FILE *out, const struct bench_cfg *cfg, const struct bench_result *r, bool last);
void bench_report_ioping(FILE *out, const struct bench_result *r);
const char *bench_rw_name(enum bench_rw rw);

/* --plot: one row per run (a sweep value, or a single run with x = 0). */
struct bench_plot_row {
	long x;
	const struct bench_result *local, *remote;
};
/* Draw the comparison or sweep and the latency histogram as SVG; 0 or -errno. */
int bench_plot_svg(const char *path, const char *sweep_key, const struct bench_plot_row *rows, int n);

#endif
