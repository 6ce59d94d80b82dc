/* `tightrope bench`: fio's workload options against a remote namespace (connect's flags) or a local
 * file/device (--filename); modes: --latency (ioping), --dsync (dd oflag=dsync), --compare, --sweep. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "cli/cli.h"
#include "util/log.h"

static const char usage[] =
	"usage: tightrope bench [remote: -t tcp -a TRADDR [-s TRSVCID] -n NQN [--nsid N] [-q HOSTNQN] [-g] [-G]\n"
	"                               [-k KATO] [--disable-sqflow]]\n"
	"                       [local: --filename PATH [--buffered]]\n"
	"                       [--rw randread|randwrite|randrw|read|write|rw] [--bs 4k] [--iodepth 1]\n"
	"                       [--numjobs 1] [--rwmixread 50] [--size BYTES] [--offset BYTES]\n"
	"                       [--runtime SEC] [--ramp_time SEC] [--time_based] [--verify] [--verify_only]\n"
	"                       [--dsync] [--latency] [--compare LOCAL] [--sweep numjobs=1,2,4|iodepth=1,8,32]\n"
	"                       [--plot FILE.svg] [--output-format normal|json] [--seed N]\n"
	"Measure a remote NVMe/TCP namespace and/or a local file or device with the same engine.\n"
	"--compare LOCAL runs the job on LOCAL, then on the remote namespace, and prints remote/local.\n";

enum {
	OPT_NSID = 1000, OPT_FILENAME, OPT_BUFFERED, OPT_RW, OPT_BS, OPT_IODEPTH, OPT_NUMJOBS, OPT_RWMIX, OPT_SIZE,
	OPT_OFFSET, OPT_RUNTIME, OPT_RAMP, OPT_TIME_BASED, OPT_VERIFY, OPT_VERIFY_ONLY, OPT_DSYNC, OPT_LATENCY,
	OPT_COMPARE, OPT_SWEEP, OPT_PLOT, OPT_SEED, OPT_DISABLE_SQFLOW
};

static const struct option bench_long[] = {
	{ "transport", required_argument, NULL, 't' },
	{ "traddr", required_argument, NULL, 'a' },
	{ "trsvcid", required_argument, NULL, 's' },
	{ "nqn", required_argument, NULL, 'n' },
	{ "hostnqn", required_argument, NULL, 'q' },
	{ "hostid", required_argument, NULL, 'I' },
	{ "hdr-digest", no_argument, NULL, 'g' },
	{ "data-digest", no_argument, NULL, 'G' },
	{ "keep-alive-tmo", required_argument, NULL, 'k' },
	{ "output-format", required_argument, NULL, 'o' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "nsid", required_argument, NULL, OPT_NSID },
	{ "filename", required_argument, NULL, OPT_FILENAME },
	{ "buffered", no_argument, NULL, OPT_BUFFERED },
	{ "rw", required_argument, NULL, OPT_RW },
	{ "readwrite", required_argument, NULL, OPT_RW },
	{ "bs", required_argument, NULL, OPT_BS },
	{ "iodepth", required_argument, NULL, OPT_IODEPTH },
	{ "numjobs", required_argument, NULL, OPT_NUMJOBS },
	{ "rwmixread", required_argument, NULL, OPT_RWMIX },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "offset", required_argument, NULL, OPT_OFFSET },
	{ "runtime", required_argument, NULL, OPT_RUNTIME },
	{ "ramp_time", required_argument, NULL, OPT_RAMP },
	{ "time_based", no_argument, NULL, OPT_TIME_BASED },
	{ "verify", optional_argument, NULL, OPT_VERIFY },
	{ "verify_only", no_argument, NULL, OPT_VERIFY_ONLY },
	{ "dsync", no_argument, NULL, OPT_DSYNC },
	{ "latency", no_argument, NULL, OPT_LATENCY },
	{ "compare", required_argument, NULL, OPT_COMPARE },
	{ "disable-sqflow", no_argument, NULL, OPT_DISABLE_SQFLOW },
	{ "sweep", required_argument, NULL, OPT_SWEEP },
	{ "plot", required_argument, NULL, OPT_PLOT },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ 0 } };

/* fio-style sizes: 4k, 128K, 1m, 1g (binary units). */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (end == s)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': v <<= 10, end++; break;
	case 'm': case 'M': v <<= 20, end++; break;
	case 'g': case 'G': v <<= 30, end++; break;
	case 't': case 'T': v <<= 40, end++; break;
	default: break;
	}
	if (*end == 'i' || *end == 'I')
		end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_seconds(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || v < 0)
		return -EINVAL;
	if (!strcmp(end, "ms"))
		v /= 1000;
	else if (!strcmp(end, "m"))
		v *= 60;
	else if (*end && strcmp(end, "s"))
		return -EINVAL;
	*out = v;
	return 0;
}

static int bad(const char *what, const char *v)
{
	fprintf(stderr, "tightrope bench: invalid %s '%s'\n", what, v);
	return 2;
}

struct sweep {
	const char *key;
	long values[32];
	int n;
};

static void print_compare_row(const char *name, double local, double remote, int decimals)
{
	printf("%-22s%14.*f%14.*f", name, decimals, local, decimals, remote);
	printf("%14.2f\n", local > 0 ? remote / local : 0);
}

static const struct bench_lat *main_lat(const struct bench_result *r)
{
	return r->total.read.ios >= r->total.write.ios ? &r->total.read : &r->total.write;
}

static double iops(const struct bench_result *r)
{
	double t = r->total.runtime_s;

	return t > 0 ? (double)(r->total.read.ios + r->total.write.ios) / t : 0;
}

static double mibs(const struct bench_result *r)
{
	double t = r->total.runtime_s;

	return t > 0 ? (double)(r->total.read.bytes + r->total.write.bytes) / 1048576.0 / t : 0;
}

static void print_compare(const struct bench_result *l, const struct bench_result *r)
{
	printf("\n%-22s%14s%14s%14s\n", "", "local", "remote", "remote/local");
	print_compare_row("IOPS", iops(l), iops(r), 0);
	print_compare_row("bandwidth (MiB/s)", mibs(l), mibs(r), 1);
	print_compare_row("latency avg (us)", bench_lat_mean(main_lat(l)) / 1e3, bench_lat_mean(main_lat(r)) / 1e3,
			  1);
	print_compare_row("latency p99 (us)", (double)bench_lat_percentile(main_lat(l), 99) / 1e3,
			  (double)bench_lat_percentile(main_lat(r), 99) / 1e3, 1);
	print_compare_row("latency max (us)", (double)main_lat(l)->max_ns / 1e3, (double)main_lat(r)->max_ns / 1e3,
			  1);
	print_compare_row("CPU usr+sys (%)", l->total.usr_cpu + l->total.sys_cpu, r->total.usr_cpu + r->total.sys_cpu,
			  1);
}

struct run_out {
	struct bench_result local, remote;
	bool has_local, has_remote;
	long sweep_value;
};

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

int cmd_bench(int argc, char **argv)
{
	struct bench_cfg cfg = { .rw = BENCH_RANDREAD, .bs = 4096, .iodepth = 1, .numjobs = 1, .rwmixread = 50,
				 .seed = 0x7472 };
	struct bench_target remote = { .remote = true, .nsid = 1 }, local = { 0 };
	const char *hostnqn = NULL, *hostid = NULL, *compare = NULL, *plot = NULL;
	struct sweep sweep = { 0 };
	struct run_out *runs;
	int nruns, c, rc = 0;
	bool json = false, latency = false, have_remote;
	uint64_t v64;

	tr_ctrl_opts_init(&remote.conn);
	remote.conn.kato_s = 5;
	optind = 1;
	while ((c = getopt_long(argc, argv, "t:a:s:n:q:I:gGk:o:vh", bench_long, NULL)) != -1) {
		switch (c) {
		case 't':
			if (strcmp(optarg, "tcp"))
				return bad("transport (tightrope speaks tcp)", optarg);
			break;
		case 'a': remote.conn.traddr = optarg; break;
		case 's': remote.conn.trsvcid = optarg; break;
		case 'n': remote.conn.subnqn = optarg; break;
		case 'q': hostnqn = optarg; break;
		case 'I': hostid = optarg; break;
		case 'g': remote.conn.hdr_digest = true; break;
		case 'G': remote.conn.data_digest = true; break;
		case 'k': {
			/* connect's flag and range, in seconds; 0 turns keep-alive off. */
			char *end;
			unsigned long kato = strtoul(optarg, &end, 10);

			if (end == optarg || *end || kato > 65535)
				return bad("keep-alive-tmo (0..65535 seconds)", optarg);
			remote.conn.kato_s = (int)kato;
			break;
		}
		case OPT_DISABLE_SQFLOW: remote.conn.disable_sqflow = true; break;
		case 'o':
			if (strcmp(optarg, "json") && strcmp(optarg, "normal"))
				return bad("output format", optarg);
			json = !strcmp(optarg, "json");
			break;
		case 'v': tr_log_set_level(TR_LOG_DEBUG); break;
		case 'h': fputs(usage, stdout); return 0;
		case OPT_NSID:
			if (parse_size(optarg, &v64) || v64 == 0 || v64 > 0xfffffffe)
				return bad("nsid", optarg);
			remote.nsid = (uint32_t)v64;
			break;
		case OPT_FILENAME: local.filename = optarg; break;
		case OPT_BUFFERED: local.buffered = true; break;
		case OPT_RW: {
			static const char *const names[] = { "read", "write", "randread", "randwrite", "randrw", "rw" };
			int i;

			for (i = 0; i < 6 && strcmp(optarg, names[i]); i++)
				;
			if (i == 6)
				return bad("rw", optarg);
			cfg.rw = (enum bench_rw)i;
			break;
		}
		case OPT_BS:
			if (parse_size(optarg, &v64) || v64 < 512 || v64 > (1u << 20) || v64 % 512)
				return bad("bs (512..1M, a multiple of 512)", optarg);
			cfg.bs = (uint32_t)v64;
			break;
		case OPT_IODEPTH:
			if (parse_size(optarg, &v64) || v64 < 1 || v64 > 1023)
				return bad("iodepth (1..1023)", optarg);
			cfg.iodepth = (int)v64;
			break;
		case OPT_NUMJOBS:
			if (parse_size(optarg, &v64) || v64 < 1 || v64 > 256)
				return bad("numjobs (1..256)", optarg);
			cfg.numjobs = (int)v64;
			break;
		case OPT_RWMIX:
			if (parse_size(optarg, &v64) || v64 > 100)
				return bad("rwmixread (0..100)", optarg);
			cfg.rwmixread = (int)v64;
			break;
		case OPT_SIZE:
			if (parse_size(optarg, &cfg.size))
				return bad("size", optarg);
			break;
		case OPT_OFFSET:
			if (parse_size(optarg, &cfg.offset))
				return bad("offset", optarg);
			break;
		case OPT_RUNTIME:
			if (parse_seconds(optarg, &cfg.runtime_s))
				return bad("runtime", optarg);
			break;
		case OPT_RAMP:
			if (parse_seconds(optarg, &cfg.ramp_s))
				return bad("ramp_time", optarg);
			break;
		case OPT_TIME_BASED: cfg.time_based = true; break;
		case OPT_VERIFY: cfg.verify = true; break;
		case OPT_VERIFY_ONLY: cfg.verify_only = true; break;
		case OPT_DSYNC: cfg.dsync = true; break;
		case OPT_LATENCY: latency = true; break;
		case OPT_COMPARE: compare = optarg; break;
		case OPT_PLOT: plot = optarg; break;
		case OPT_SEED:
			if (parse_size(optarg, &cfg.seed))
				return bad("seed", optarg);
			break;
		case OPT_SWEEP: {
			char *eq = strchr(optarg, '='), *tok, *save = NULL;

			if (!eq)
				return bad("sweep (key=v1,v2,...)", optarg);
			*eq = 0;
			sweep.key = optarg;
			if (strcmp(sweep.key, "numjobs") && strcmp(sweep.key, "iodepth") && strcmp(sweep.key, "bs"))
				return bad("sweep key (numjobs, iodepth or bs)", sweep.key);
			for (tok = strtok_r(eq + 1, ",", &save); tok && sweep.n < 32; tok = strtok_r(NULL, ",", &save)) {
				if (parse_size(tok, &v64) || v64 == 0)
					return bad("sweep value", tok);
				sweep.values[sweep.n++] = (long)v64;
			}
			if (!sweep.n)
				return bad("sweep", eq + 1);
			break;
		}
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind < argc)
		return bad("argument", argv[optind]);
	if (latency) {
		/* ioping: one 4 KiB random read at a time. */
		cfg.rw = BENCH_RANDREAD;
		cfg.iodepth = 1;
		cfg.numjobs = 1;
		if (cfg.runtime_s == 0)
			cfg.runtime_s = 5;
		cfg.time_based = true;
	}
	if (cfg.verify_only)
		cfg.verify = true;
	if (cfg.runtime_s == 0 && cfg.time_based)
		return bad("runtime", "0 (time_based needs --runtime)");
	have_remote = remote.conn.traddr != NULL;
	if (compare)
		local.filename = compare;
	if (have_remote && !remote.conn.subnqn)
		return bad("remote target", "--nqn (-n) is required with --traddr");
	if (!have_remote && !local.filename) {
		fprintf(stderr, "tightrope bench: name a remote namespace (-a/-n) or a local --filename\n%s", usage);
		return 2;
	}
	if (compare && !have_remote)
		return bad("--compare", "needs a remote namespace too (-a/-n)");
	if (have_remote && cli_host_identity(&remote.conn, hostnqn, hostid))
		return 2;
	local.remote = false;

	nruns = sweep.n ? sweep.n : 1;
	runs = calloc((size_t)nruns, sizeof(*runs));
	if (!runs)
		return 1;
	if (json)
		printf("{\n  \"fio version\" : \"tightrope-bench\",\n  \"runs\" : [\n");
	for (int i = 0; i < nruns && !rc; i++) {
		struct bench_cfg rc_cfg = cfg;
		struct run_out *ro = &runs[i];

		if (sweep.n) {
			ro->sweep_value = sweep.values[i];
			if (!strcmp(sweep.key, "numjobs"))
				rc_cfg.numjobs = (int)sweep.values[i];
			else if (!strcmp(sweep.key, "iodepth"))
				rc_cfg.iodepth = (int)sweep.values[i];
			else
				rc_cfg.bs = (uint32_t)sweep.values[i];
		}
		if (local.filename && (!have_remote || compare)) {
			rc = run_one(&local, &rc_cfg, &ro->local, local.filename) ? 1 : 0;
			ro->has_local = !rc;
		}
		if (!rc && have_remote) {
			rc = run_one(&remote, &rc_cfg, &ro->remote, "remote") ? 1 : 0;
			ro->has_remote = !rc;
		}
		if (json) {
			const struct bench_result *rs[2] = { ro->has_local ? &ro->local : NULL,
							     ro->has_remote ? &ro->remote : NULL };

			for (int k = 0; k < 2; k++) {
				if (!rs[k])
					continue;
				printf("  {\n  \"label\" : \"%s\",\n", k ? "remote" : "local");
				if (sweep.n)
					printf("  \"%s\" : %ld,\n", sweep.key, ro->sweep_value);
				bench_report_json(stdout, &rc_cfg, rs[k], true);
				printf("  }%s\n", i + 1 < nruns || (k == 0 && rs[1]) ? "," : "");
			}
		} else if (!sweep.n) {
			if (ro->has_local)
				bench_report_text(stdout, &rc_cfg, &ro->local);
			if (ro->has_remote)
				bench_report_text(stdout, &rc_cfg, &ro->remote);
			if (latency)
				bench_report_ioping(stdout, ro->has_remote ? &ro->remote : &ro->local);
			if (ro->has_local && ro->has_remote)
				print_compare(&ro->local, &ro->remote);
		}
		if ((ro->has_local && ro->local.verify_failed) || (ro->has_remote && ro->remote.verify_failed))
			rc = 1;
	}
	if (json)
		printf("  ]\n}\n");
	if (sweep.n && !json) {
		printf("\n%-10s %12s %12s %12s %12s", sweep.key, "IOPS", "MiB/s", "avg (us)", "p99 (us)");
		printf(compare ? " %12s %12s %14s\n" : "\n", "local IOPS", "local MiB/s", "remote/local");
		for (int i = 0; i < nruns; i++) {
			const struct run_out *ro = &runs[i];
			const struct bench_result *r = ro->has_remote ? &ro->remote : &ro->local;

			if (!ro->has_remote && !ro->has_local)
				continue;
			printf("%-10ld %12.0f %12.1f %12.1f %12.1f", ro->sweep_value, iops(r), mibs(r),
			       bench_lat_mean(main_lat(r)) / 1e3, (double)bench_lat_percentile(main_lat(r), 99) / 1e3);
			if (compare && ro->has_local)
				printf(" %12.0f %12.1f %14.2f", iops(&ro->local), mibs(&ro->local),
				       iops(&ro->local) > 0 ? iops(r) / iops(&ro->local) : 0);
			printf("\n");
		}
	}
	if (plot && !rc) {
		struct bench_plot_row rows[32];
		int err;

		for (int i = 0; i < nruns; i++)
			rows[i] = (struct bench_plot_row){ .x = runs[i].sweep_value,
							   .local = runs[i].has_local ? &runs[i].local : NULL,
							   .remote = runs[i].has_remote ? &runs[i].remote : NULL };
		err = bench_plot_svg(plot, sweep.n ? sweep.key : NULL, rows, nruns);

		if (err)
			fprintf(stderr, "tightrope bench: cannot write %s: %s\n", plot, strerror(-err));
		else
			fprintf(stderr, "plot written to %s\n", plot);
	}
	for (int i = 0; i < nruns; i++) {
		bench_result_free(&runs[i].local);
		bench_result_free(&runs[i].remote);
	}
	free(runs);
	return rc;
}
