/* What `tightrope bench` prints: fio-like text, fio's JSON layout (jobs[].read|write with iops,
 * bw_bytes, lat_ns.percentile) so fio tooling reads it, and ioping's latency summary. */
#include <stdio.h>

#include "bench/bench.h"

static const double percentiles[] = { 1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99, 99.5, 99.9, 99.95, 99.99 };
#define NR_PCT (sizeof(percentiles) / sizeof(percentiles[0]))

static void human(char *out, size_t len, double v, const char *unit)
{
	static const char *const si[] = { "", "k", "M", "G" };
	int i = 0;

	while (v >= 1000 && i < 3)
		v /= 1000, i++;
	snprintf(out, len, i ? "%.1f%s%s" : "%.0f%s%s", v, si[i], unit);
}

static void text_dir(FILE *out, const char *name, const struct bench_lat *l, double runtime_s)
{
	char iops[32];
	double mib = (double)l->bytes / 1048576.0, bw = runtime_s > 0 ? mib / runtime_s : 0;
	bool usec = l->max_ns < 10000000;
	double div = usec ? 1e3 : 1e6;

	if (!l->ios)
		return;
	human(iops, sizeof(iops), runtime_s > 0 ? (double)l->ios / runtime_s : 0, "");
	fprintf(out, "  %s: IOPS=%s, BW=%.1fMiB/s (%.1fMB/s)(%.1fMiB/%.0fmsec)\n", name, iops, bw,
		bw * 1.048576, mib, runtime_s * 1000);
	fprintf(out, "    lat (%s): min=%.1f, max=%.1f, avg=%.2f, stdev=%.2f\n", usec ? "usec" : "msec",
		(double)l->min_ns / div, (double)l->max_ns / div, bench_lat_mean(l) / div, bench_lat_stddev(l) / div);
	fprintf(out, "    lat percentiles (%s):\n", usec ? "usec" : "msec");
	for (size_t i = 0; i < NR_PCT; i++) {
		fprintf(out, "%s%6.2fth=[%7.1f]%s", i % 4 == 0 ? "     | " : " ", percentiles[i],
			(double)bench_lat_percentile(l, percentiles[i]) / div,
			i % 4 == 3 || i + 1 == NR_PCT ? "\n" : ",");
	}
}

void bench_report_text(FILE *out, const struct bench_cfg *cfg, const struct bench_result *r)
{
	fprintf(out, "%s: rw=%s, bs=%u, iodepth=%d, numjobs=%d%s\n", r->what, bench_rw_name(cfg->rw), cfg->bs,
		cfg->iodepth, cfg->numjobs, cfg->dsync ? ", dsync" : "");
	for (int i = 0; i < r->numjobs; i++) {
		const struct bench_job_stats *j = &r->jobs[i];

		fprintf(out, "job%d: (groupid=0, jobs=1): err=%3d\n", i, -j->error);
		text_dir(out, "read", &j->read, j->runtime_s);
		text_dir(out, "write", &j->write, j->runtime_s);
		fprintf(out, "  cpu          : usr=%.2f%%, sys=%.2f%%\n", j->usr_cpu, j->sys_cpu);
	}
	if (r->numjobs > 1) {
		fprintf(out, "all jobs:\n");
		text_dir(out, "read", &r->total.read, r->total.runtime_s);
		text_dir(out, "write", &r->total.write, r->total.runtime_s);
	}
	fprintf(out, "process cpu    : usr=%.2f%%, sys=%.2f%% (all threads of this process)\n", r->total.usr_cpu,
		r->total.sys_cpu);
	if (cfg->rw == BENCH_CAW)
		fprintf(out, "compare-and-write: %llu pairs written (each counted above as one write of %u bytes), "
			     "%llu miscompares%s\n",
			(unsigned long long)r->total.write.ios, cfg->bs, (unsigned long long)r->total.miscompares,
			r->total.miscompares ? " (FAILED: none were expected)" : "");
	if (cfg->verify || cfg->verify_only) {
		if (r->verify_failed)
			fprintf(out, "verify: FAILED: bad data at byte offset %llu\n",
				(unsigned long long)r->verify_offset);
		else
			fprintf(out, "verify: OK (%llu bytes read back and checked)\n",
				(unsigned long long)r->total.read.bytes);
	}
}

static void json_lat(FILE *out, const char *key, const struct bench_lat *l, const char *ind)
{
	fprintf(out, "%s\"%s\" : {\n%s  \"min\" : %llu,\n%s  \"max\" : %llu,\n%s  \"mean\" : %.6f,\n"
		     "%s  \"stddev\" : %.6f,\n%s  \"N\" : %llu,\n%s  \"percentile\" : {\n",
		ind, key, ind, (unsigned long long)l->min_ns, ind, (unsigned long long)l->max_ns, ind, bench_lat_mean(l),
		ind, bench_lat_stddev(l), ind, (unsigned long long)l->ios, ind);
	for (size_t i = 0; i < NR_PCT; i++)
		fprintf(out, "%s    \"%.6f\" : %llu%s\n", ind, percentiles[i],
			(unsigned long long)bench_lat_percentile(l, percentiles[i]), i + 1 < NR_PCT ? "," : "");
	fprintf(out, "%s  }\n%s}", ind, ind);
}

static void json_dir(FILE *out, const char *key, const struct bench_lat *l, double runtime_s, const char *ind)
{
	double bw = runtime_s > 0 ? (double)l->bytes / runtime_s : 0;
	char ind2[32];

	snprintf(ind2, sizeof(ind2), "%s  ", ind);
	fprintf(out, "%s\"%s\" : {\n", ind, key);
	fprintf(out, "%s\"io_bytes\" : %llu,\n%s\"io_kbytes\" : %llu,\n%s\"bw_bytes\" : %.0f,\n%s\"bw\" : %.0f,\n",
		ind2, (unsigned long long)l->bytes, ind2, (unsigned long long)(l->bytes / 1024), ind2, bw, ind2,
		bw / 1024);
	fprintf(out, "%s\"iops\" : %.6f,\n%s\"runtime\" : %.0f,\n%s\"total_ios\" : %llu,\n", ind2,
		runtime_s > 0 ? (double)l->ios / runtime_s : 0, ind2, runtime_s * 1000, ind2,
		(unsigned long long)l->ios);
	/* fio reports completion latency (clat) and total latency (lat); here they are one and the same. */
	json_lat(out, "clat_ns", l, ind2);
	fprintf(out, ",\n");
	json_lat(out, "lat_ns", l, ind2);
	fprintf(out, "\n%s}", ind);
}

static void json_job(FILE *out, const struct bench_cfg *cfg, const char *name, const struct bench_job_stats *j,
		     const char *ind)
{
	char ind2[32];

	snprintf(ind2, sizeof(ind2), "%s  ", ind);
	fprintf(out, "%s{\n%s\"jobname\" : \"%s\",\n%s\"groupid\" : 0,\n%s\"error\" : %d,\n", ind, ind2, name, ind2,
		ind2, -j->error);
	fprintf(out, "%s\"job options\" : { \"rw\" : \"%s\", \"bs\" : \"%u\", \"iodepth\" : \"%d\" },\n", ind2,
		bench_rw_name(cfg->rw), cfg->bs, cfg->iodepth);
	json_dir(out, "read", &j->read, j->runtime_s, ind2);
	fprintf(out, ",\n");
	json_dir(out, "write", &j->write, j->runtime_s, ind2);
	fprintf(out, ",\n%s\"usr_cpu\" : %.6f,\n%s\"sys_cpu\" : %.6f\n%s}", ind2, j->usr_cpu, ind2, j->sys_cpu, ind);
}

/* The "jobs" array and tightrope's "total", "verify" and "caw" members of a fio-style object. */
void bench_report_json(FILE *out, const struct bench_cfg *cfg, const struct bench_result *r, bool last)
{
	fprintf(out, "  \"target\" : \"%s\",\n  \"jobs\" : [\n", r->what);
	for (int i = 0; i < r->numjobs; i++) {
		char name[32];

		snprintf(name, sizeof(name), "job%d", i);
		json_job(out, cfg, name, &r->jobs[i], "    ");
		fprintf(out, "%s\n", i + 1 < r->numjobs ? "," : "");
	}
	fprintf(out, "  ],\n  \"total\" :\n");
	json_job(out, cfg, "all jobs", &r->total, "    ");
	if (cfg->verify || cfg->verify_only)
		fprintf(out, ",\n  \"verify\" : { \"ok\" : %s, \"bad_offset\" : %lld }", r->verify_failed ? "false" : "true",
			r->verify_failed ? (long long)r->verify_offset : -1LL);
	if (cfg->rw == BENCH_CAW)
		fprintf(out, ",\n  \"caw\" : { \"pairs\" : %llu, \"miscompares\" : %llu }",
			(unsigned long long)r->total.write.ios, (unsigned long long)r->total.miscompares);
	fprintf(out, "%s\n", last ? "" : ",");
}

void bench_report_ioping(FILE *out, const struct bench_result *r)
{
	const struct bench_lat *l = r->total.read.ios ? &r->total.read : &r->total.write;
	double t = r->total.runtime_s;

	fprintf(out, "\n--- %s (ioping-style) statistics ---\n", r->what);
	fprintf(out, "%llu requests completed in %.1f ms, %.1f KiB %s, %.0f iops, %.2f MiB/s\n",
		(unsigned long long)l->ios, t * 1000, (double)l->bytes / 1024, l == &r->total.read ? "read" : "written",
		t > 0 ? (double)l->ios / t : 0, t > 0 ? (double)l->bytes / 1048576.0 / t : 0);
	fprintf(out, "min/avg/max/mdev = %.1f us / %.1f us / %.1f us / %.1f us\n", (double)l->min_ns / 1e3,
		bench_lat_mean(l) / 1e3, (double)l->max_ns / 1e3, bench_lat_stddev(l) / 1e3);
}
