/* Running a `tightrope bench` invocation: each sweep value's job on the local file and/or the remote
 * namespace, printed as it finishes (text or fio's JSON), then the sweep table and the plot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/sweep.h"

struct run_out {
	struct bench_result local, remote;
	bool has_local, has_remote;
	long sweep_value;
};

/* The job of run 'i': the session's, with the swept parameter set to its value. */
static struct bench_cfg run_cfg(const struct bench_session *s, int i)
{
	struct bench_cfg cfg = s->cfg;
	const struct bench_sweep *sw = &s->sweep;

	if (!sw->n)
		return cfg;
	if (!strcmp(sw->key, "numjobs"))
		cfg.numjobs = (int)sw->values[i];
	else if (!strcmp(sw->key, "iodepth"))
		cfg.iodepth = (int)sw->values[i];
	else
		cfg.bs = (uint32_t)sw->values[i];
	return cfg;
}

static int run_one(const struct bench_target *t, const struct bench_cfg *cfg, struct bench_result *res,
		   const char *label)
{
	char why[256] = "";
	int err = bench_run(t, cfg, res, why, sizeof(why));

	if (err) {
		fprintf(stderr, "tightrope bench: %s: %s\n", label, why[0] ? why : strerror(-err));
		return err;
	}
	return 0;
}

static void print_json_run(const struct bench_session *s, const struct bench_cfg *cfg, const struct run_out *ro,
			   bool last)
{
	const struct bench_result *rs[2] = { ro->has_local ? &ro->local : NULL, ro->has_remote ? &ro->remote : NULL };

	for (int k = 0; k < 2; k++) {
		if (!rs[k])
			continue;
		printf("  {\n  \"label\" : \"%s\",\n", k ? "remote" : "local");
		if (s->sweep.n)
			printf("  \"%s\" : %ld,\n", s->sweep.key, ro->sweep_value);
		bench_report_json(stdout, cfg, rs[k], true);
		printf("  }%s\n", !last || (k == 0 && rs[1]) ? "," : "");
	}
}

static void print_text_run(const struct bench_session *s, const struct bench_cfg *cfg, const struct run_out *ro)
{
	if (ro->has_local)
		bench_report_text(stdout, cfg, &ro->local);
	if (ro->has_remote)
		bench_report_text(stdout, cfg, &ro->remote);
	if (s->latency)
		bench_report_ioping(stdout, ro->has_remote ? &ro->remote : &ro->local);
	if (ro->has_local && ro->has_remote)
		bench_print_compare(stdout, &ro->local, &ro->remote);
}

static void print_sweep_table(const struct bench_session *s, const struct run_out *runs, int nruns)
{
	printf("\n%-10s %12s %12s %12s %12s", s->sweep.key, "IOPS", "MiB/s", "avg (us)", "p99 (us)");
	printf(s->compare ? " %12s %12s %14s\n" : "\n", "local IOPS", "local MiB/s", "remote/local");
	for (int i = 0; i < nruns; i++) {
		const struct run_out *ro = &runs[i];
		const struct bench_result *r = ro->has_remote ? &ro->remote : &ro->local;
		const struct bench_lat *lat = bench_result_main_lat(r);
		double iops = bench_result_iops(r), local_iops = bench_result_iops(&ro->local);

		if (!ro->has_remote && !ro->has_local)
			continue;
		printf("%-10ld %12.0f %12.1f %12.1f %12.1f", ro->sweep_value, iops, bench_result_mibs(r),
		       bench_lat_mean(lat) / 1e3, (double)bench_lat_percentile(lat, 99) / 1e3);
		if (s->compare && ro->has_local)
			printf(" %12.0f %12.1f %14.2f", local_iops, bench_result_mibs(&ro->local),
			       local_iops > 0 ? iops / local_iops : 0);
		printf("\n");
	}
}

static void write_plot(const struct bench_session *s, const struct run_out *runs, int nruns)
{
	struct bench_plot_row rows[BENCH_SWEEP_MAX];
	int err;

	for (int i = 0; i < nruns; i++)
		rows[i] = (struct bench_plot_row){ .x = runs[i].sweep_value,
						   .local = runs[i].has_local ? &runs[i].local : NULL,
						   .remote = runs[i].has_remote ? &runs[i].remote : NULL };
	err = bench_plot_svg(s->plot, s->sweep.n ? s->sweep.key : NULL, rows, nruns);
	if (err)
		fprintf(stderr, "tightrope bench: cannot write %s: %s\n", s->plot, strerror(-err));
	else
		fprintf(stderr, "plot written to %s\n", s->plot);
}

/* Run 'i' on the local file (alone, or first for --compare) and on the remote namespace; 0 or 1. */
static int run_both(const struct bench_session *s, const struct bench_cfg *cfg, struct run_out *ro)
{
	int rc = 0;

	if (s->local.filename && (!s->have_remote || s->compare)) {
		rc = run_one(&s->local, cfg, &ro->local, s->local.filename) ? 1 : 0;
		ro->has_local = !rc;
	}
	if (!rc && s->have_remote) {
		rc = run_one(&s->remote, cfg, &ro->remote, "remote") ? 1 : 0;
		ro->has_remote = !rc;
	}
	return rc;
}

int bench_session_run(const struct bench_session *s)
{
	int nruns = s->sweep.n ? s->sweep.n : 1, rc = 0;
	struct run_out *runs = calloc((size_t)nruns, sizeof(*runs));

	if (!runs)
		return 1;
	if (s->json)
		printf("{\n  \"fio version\" : \"tightrope-bench\",\n  \"runs\" : [\n");
	for (int i = 0; i < nruns && !rc; i++) {
		struct bench_cfg cfg = run_cfg(s, i);
		struct run_out *ro = &runs[i];

		ro->sweep_value = s->sweep.n ? s->sweep.values[i] : 0;
		rc = run_both(s, &cfg, ro);
		if (s->json)
			print_json_run(s, &cfg, ro, i + 1 == nruns);
		else if (!s->sweep.n)
			print_text_run(s, &cfg, ro);
		if ((ro->has_local && ro->local.verify_failed) || (ro->has_remote && ro->remote.verify_failed))
			rc = 1;
		if (ro->has_remote && ro->remote.total.miscompares) /* --rw caw: a miscompare is a failure */
			rc = 1;
	}
	if (s->json)
		printf("  ]\n}\n");
	if (s->sweep.n && !s->json)
		print_sweep_table(s, runs, nruns);
	if (s->plot && !rc)
		write_plot(s, runs, nruns);
	for (int i = 0; i < nruns; i++) {
		bench_result_free(&runs[i].local);
		bench_result_free(&runs[i].remote);
	}
	free(runs);
	return rc;
}
