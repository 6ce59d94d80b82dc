/* `tightrope bench --compare`: the same job's figures side by side, local against remote, and the
 * per-result figures (IOPS, MiB/s, main latency) the tables and the plot share. */
#include <stdio.h>

#include "bench/sweep.h"

const struct bench_lat *bench_result_main_lat(const struct bench_result *r)
{
	return r->total.read.ios >= r->total.write.ios ? &r->total.read : &r->total.write;
}

double bench_result_iops(const struct bench_result *r)
{
	double t = r->total.runtime_s;

	return t > 0 ? (double)(r->total.read.ios + r->total.write.ios) / t : 0;
}

double bench_result_mibs(const struct bench_result *r)
{
	double t = r->total.runtime_s;

	return t > 0 ? (double)(r->total.read.bytes + r->total.write.bytes) / 1048576.0 / t : 0;
}

static void print_compare_row(FILE *out, const char *name, double local, double remote, int decimals)
{
	fprintf(out, "%-22s%14.*f%14.*f", name, decimals, local, decimals, remote);
	fprintf(out, "%14.2f\n", local > 0 ? remote / local : 0);
}

void bench_print_compare(FILE *out, const struct bench_result *l, const struct bench_result *r)
{
	const struct bench_lat *ll = bench_result_main_lat(l), *rl = bench_result_main_lat(r);

	fprintf(out, "\n%-22s%14s%14s%14s\n", "", "local", "remote", "remote/local");
	print_compare_row(out, "IOPS", bench_result_iops(l), bench_result_iops(r), 0);
	print_compare_row(out, "bandwidth (MiB/s)", bench_result_mibs(l), bench_result_mibs(r), 1);
	print_compare_row(out, "latency avg (us)", bench_lat_mean(ll) / 1e3, bench_lat_mean(rl) / 1e3, 1);
	print_compare_row(out, "latency p99 (us)", (double)bench_lat_percentile(ll, 99) / 1e3,
			  (double)bench_lat_percentile(rl, 99) / 1e3, 1);
	print_compare_row(out, "latency max (us)", (double)ll->max_ns / 1e3, (double)rl->max_ns / 1e3, 1);
	print_compare_row(out, "CPU usr+sys (%)", l->total.usr_cpu + l->total.sys_cpu,
			  r->total.usr_cpu + r->total.sys_cpu, 1);
}
