/* One `tightrope bench` invocation as the CLI parsed it, and its running: a single job, a --compare
 * pair (the same job on a local file, then on the remote namespace), or a --sweep of either over
 * numjobs, iodepth or bs; printed as fio-like text or fio's JSON, with an optional --plot. */
#ifndef TIGHTROPE_BENCH_SWEEP_H
#define TIGHTROPE_BENCH_SWEEP_H

#include <stdbool.h>

#include "bench/bench.h"

#define BENCH_SWEEP_MAX 32

struct bench_sweep {
	const char *key; /* "numjobs", "iodepth" or "bs"; NULL = no sweep */
	long values[BENCH_SWEEP_MAX];
	int n;
};

struct bench_session {
	struct bench_cfg cfg;
	struct bench_target remote, local;
	bool have_remote; /* remote is set up (traddr, subnqn, host identity) */
	const char *compare; /* --compare LOCAL: local.filename is LOCAL too */
	const char *plot; /* --plot FILE.svg */
	struct bench_sweep sweep;
	bool json;
	bool latency; /* --latency: ioping's summary after the report */
};

/* Run it all and print the results on stdout (errors on stderr): the command's exit status, 0, or
 * 1 when a run failed, --verify found a mismatch or a --rw caw pair miscompared. */
int bench_session_run(const struct bench_session *s);

/* The comparison table: local, remote and remote/local for IOPS, bandwidth, latency and CPU. */
void bench_print_compare(FILE *out, const struct bench_result *local, const struct bench_result *remote);

/* A result's figures as the tables and the plot show them: IOPS and MiB/s over the whole run, and
 * the latency of its main direction (reads, unless it wrote more). */
double bench_result_iops(const struct bench_result *r);
double bench_result_mibs(const struct bench_result *r);
const struct bench_lat *bench_result_main_lat(const struct bench_result *r);

#endif
