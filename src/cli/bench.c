/* `tightrope bench`: fio's workload options against a remote namespace (connect's flags) or a local
 * file/device (--filename); modes: --latency (ioping), --dsync (dd oflag=dsync), --compare, --sweep. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/sweep.h"
#include "cli/cli.h"
#include "util/log.h"
#include "util/parse.h"

static const char usage[] =
	"usage: tightrope bench [remote: -t tcp -a TRADDR [-s TRSVCID] -n NQN [--nsid N] [-q HOSTNQN] [-g] [-G]\n"
	"                               [-k KATO] [--disable-sqflow] [-S DHCHAP_SECRET [-C DHCHAP_CTRL_SECRET]]\n"
	"                               [--poll | --poll-us US]]\n"
	"                       [local: --filename PATH [--buffered]]\n"
	"                       [--rw randread|randwrite|randrw|read|write|rw|caw] [--bs 4k] [--iodepth 1]\n"
	"                       [--numjobs 1] [--rwmixread 50] [--size BYTES] [--offset BYTES]\n"
	"                       [--runtime SEC] [--ramp_time SEC] [--time_based] [--verify] [--verify_only]\n"
	"                       [--dsync] [--latency] [--compare LOCAL] [--sweep numjobs=1,2,4|iodepth=1,8,32]\n"
	"                       [--plot FILE.svg] [--output-format normal|json] [--seed N] [--eta auto|always|never]\n"
	"Measure a remote NVMe/TCP namespace and/or a local file or device with the same engine.\n"
	"--compare LOCAL runs the job on LOCAL, then on the remote namespace, and prints remote/local.\n"
	"--rw caw (or compare-and-write): fused Compare and Write pairs of --bs bytes at random blocks\n"
	"(remote only); each job zeroes its own part of the region first and knows what every block holds,\n"
	"so no compare should fail: miscompares are counted and fail the run. IOPS are pairs per second.\n"
	"--poll-us US: a job waiting for completions spins on its socket for up to US microseconds before\n"
	"it sleeps (lower latency at low depth, a busy core); --poll is --poll-us 50.\n"
	"--eta: the live status line (elapsed share, MiB/s, IOPS, time left), redrawn each second: auto (the\n"
	"default) shows it when standard output is a terminal and the output is not JSON.\n";

enum {
	OPT_NSID = 1000, OPT_FILENAME, OPT_BUFFERED, OPT_RW, OPT_BS, OPT_IODEPTH, OPT_NUMJOBS, OPT_RWMIX, OPT_SIZE,
	OPT_OFFSET, OPT_RUNTIME, OPT_RAMP, OPT_TIME_BASED, OPT_VERIFY, OPT_VERIFY_ONLY, OPT_DSYNC, OPT_LATENCY,
	OPT_COMPARE, OPT_SWEEP, OPT_PLOT, OPT_SEED, OPT_DISABLE_SQFLOW, OPT_POLL, OPT_POLL_US,
	OPT_ETA
};

static const struct option bench_long[] = {
	CLI_CONN_OPTIONS,
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
	{ "eta", required_argument, NULL, OPT_ETA },
	{ "poll", no_argument, NULL, OPT_POLL },
	{ "poll-us", required_argument, NULL, OPT_POLL_US },
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

/* --sweep key=v1,v2,...: the key is checked, each value parsed as a size (4k etc.). */
static int parse_sweep(char *arg, struct bench_sweep *sw)
{
	char *eq = strchr(arg, '='), *tok, *save = NULL;
	uint64_t v64;

	if (!eq)
		return bad("sweep (key=v1,v2,...)", arg);
	*eq = 0;
	sw->key = arg;
	if (strcmp(sw->key, "numjobs") && strcmp(sw->key, "iodepth") && strcmp(sw->key, "bs"))
		return bad("sweep key (numjobs, iodepth or bs)", sw->key);
	for (tok = strtok_r(eq + 1, ",", &save); tok && sw->n < BENCH_SWEEP_MAX; tok = strtok_r(NULL, ",", &save)) {
		if (parse_size(tok, &v64) || v64 == 0)
			return bad("sweep value", tok);
		sw->values[sw->n++] = (long)v64;
	}
	if (!sw->n)
		return bad("sweep", eq + 1);
	return 0;
}

/* What the command line gives beyond the session itself. */
struct bench_args {
	struct bench_session s;
	struct cli_conn cc; /* into s.remote.conn */
	enum { ETA_AUTO, ETA_ALWAYS, ETA_NEVER } eta;
};

/* The remote namespace's flags (connect's names); 0, 2 for a bad value, -1 when 'c' is not one. */
static int parse_remote_opt(int c, struct bench_args *a)
{
	struct tr_ctrl_opts *conn = &a->s.remote.conn;
	uint64_t v64;
	char *end;
	unsigned long kato;
	long poll_us;
	int rc = cli_conn_option(c, optarg, &a->cc);

	if (rc == -EPROTONOSUPPORT)
		return bad("transport (tightrope speaks tcp)", optarg);
	if (rc == 0)
		return 0;
	switch (c) {
	case 'k':
		/* connect's flag and range, in seconds; 0 turns keep-alive off. */
		kato = strtoul(optarg, &end, 10);
		if (end == optarg || *end || kato > 65535)
			return bad("keep-alive-tmo (0..65535 seconds)", optarg);
		conn->kato_s = (int)kato;
		break;
	case OPT_DISABLE_SQFLOW: conn->disable_sqflow = true; break;
	case OPT_POLL: a->s.remote.poll_us = CLI_DEFAULT_POLL_US; break;
	case OPT_POLL_US:
		if (tr_parse_long(optarg, 0, CLI_MAX_POLL_US, &poll_us))
			return bad("poll-us (0..1000000)", optarg);
		a->s.remote.poll_us = (uint32_t)poll_us;
		break;
	case OPT_NSID:
		if (parse_size(optarg, &v64) || v64 == 0 || v64 > 0xfffffffe)
			return bad("nsid", optarg);
		a->s.remote.nsid = (uint32_t)v64;
		break;
	default: return -1;
	}
	return 0;
}

/* A bounded whole-number flag (fio's size syntax): 0, or 2 after saying what is wrong. */
static int parse_int(const char *what, uint64_t min, uint64_t max, int *out)
{
	uint64_t v;

	if (parse_size(optarg, &v) || v < min || v > max)
		return bad(what, optarg);
	*out = (int)v;
	return 0;
}

static int parse_rw(struct bench_cfg *cfg)
{
	static const char *const names[] = { "read", "write", "randread", "randwrite", "randrw", "rw", "caw" };
	const int nr = (int)(sizeof(names) / sizeof(names[0]));
	int i;

	for (i = 0; i < nr && strcmp(optarg, names[i]); i++)
		;
	if (!strcmp(optarg, "compare-and-write"))
		i = BENCH_CAW;
	if (i == nr)
		return bad("rw", optarg);
	cfg->rw = (enum bench_rw)i;
	return 0;
}

/* The job's shape (fio's names); 0, 2 for a bad value, -1 when 'c' is not one. */
static int parse_job_opt(int c, struct bench_cfg *cfg)
{
	uint64_t v;

	switch (c) {
	case OPT_RW: return parse_rw(cfg);
	case OPT_BS:
		if (parse_size(optarg, &v) || v < 512 || v > (1u << 20) || v % 512)
			return bad("bs (512..1M, a multiple of 512)", optarg);
		cfg->bs = (uint32_t)v;
		break;
	case OPT_IODEPTH: return parse_int("iodepth (1..1023)", 1, 1023, &cfg->iodepth);
	case OPT_NUMJOBS: return parse_int("numjobs (1..256)", 1, 256, &cfg->numjobs);
	case OPT_RWMIX: return parse_int("rwmixread (0..100)", 0, 100, &cfg->rwmixread);
	case OPT_SIZE: return parse_size(optarg, &cfg->size) ? bad("size", optarg) : 0;
	case OPT_OFFSET: return parse_size(optarg, &cfg->offset) ? bad("offset", optarg) : 0;
	case OPT_RUNTIME: return parse_seconds(optarg, &cfg->runtime_s) ? bad("runtime", optarg) : 0;
	case OPT_RAMP: return parse_seconds(optarg, &cfg->ramp_s) ? bad("ramp_time", optarg) : 0;
	case OPT_SEED: return parse_size(optarg, &cfg->seed) ? bad("seed", optarg) : 0;
	case OPT_TIME_BASED: cfg->time_based = true; break;
	case OPT_VERIFY: cfg->verify = true; break;
	case OPT_VERIFY_ONLY: cfg->verify_only = true; break;
	case OPT_DSYNC: cfg->dsync = true; break;
	default: return -1;
	}
	return 0;
}

/* The rest: output, local file, modes; 0, 1 after --help, 2 for bad usage. */
static int parse_other_opt(int c, struct bench_args *a)
{
	struct bench_session *s = &a->s;

	switch (c) {
	case 'o':
		if (strcmp(optarg, "json") && strcmp(optarg, "normal"))
			return bad("output format", optarg);
		s->json = !strcmp(optarg, "json");
		return 0;
	case 'v': tr_log_set_level(TR_LOG_DEBUG); return 0;
	case 'h': fputs(usage, stdout); return 1;
	case OPT_FILENAME: s->local.filename = optarg; return 0;
	case OPT_BUFFERED: s->local.buffered = true; return 0;
	case OPT_LATENCY: s->latency = true; return 0;
	case OPT_COMPARE: s->compare = optarg; return 0;
	case OPT_PLOT: s->plot = optarg; return 0;
	case OPT_SWEEP: return parse_sweep(optarg, &s->sweep);
	case OPT_ETA:
		if (strcmp(optarg, "auto") && strcmp(optarg, "always") && strcmp(optarg, "never"))
			return bad("eta (auto, always or never)", optarg);
		a->eta = optarg[1] == 'u' ? ETA_AUTO : optarg[1] == 'l' ? ETA_ALWAYS : ETA_NEVER;
		return 0;
	default: fputs(usage, stderr); return 2;
	}
}

/* Modes that set the job, and what goes with what; 0 or 2. */
static int settle(struct bench_args *a)
{
	struct bench_session *s = &a->s;
	struct bench_cfg *cfg = &s->cfg;

	if (s->latency) {
		/* ioping: one 4 KiB random read at a time. */
		cfg->rw = BENCH_RANDREAD;
		cfg->iodepth = 1;
		cfg->numjobs = 1;
		if (cfg->runtime_s == 0)
			cfg->runtime_s = 5;
		cfg->time_based = true;
	}
	if (cfg->verify_only)
		cfg->verify = true;
	if (cfg->rw == BENCH_CAW && (cfg->verify || cfg->dsync))
		return bad("--rw caw with", cfg->verify ? "--verify" : "--dsync");
	if (cfg->runtime_s == 0 && cfg->time_based)
		return bad("runtime", "0 (time_based needs --runtime)");
	s->have_remote = s->remote.conn.traddr != NULL;
	if (s->compare)
		s->local.filename = s->compare;
	/* A fused pair is an NVMe command: there is nothing to run it on in a file. */
	if (cfg->rw == BENCH_CAW && s->local.filename)
		return bad("--rw caw (fused compare-and-write runs on a remote namespace only) with a local file",
			   s->local.filename);
	if (s->have_remote && !s->remote.conn.subnqn)
		return bad("remote target", "--nqn (-n) is required with --traddr");
	if (!s->have_remote && !s->local.filename) {
		fprintf(stderr, "tightrope bench: name a remote namespace (-a/-n) or a local --filename\n%s", usage);
		return 2;
	}
	if (s->compare && !s->have_remote)
		return bad("--compare", "needs a remote namespace too (-a/-n)");
	/* Like fio's --eta: nothing extra where no one watches, or where a program reads JSON (asked for
	 * anyway, the line goes beside the JSON, to standard error). */
	if (a->eta == ETA_ALWAYS || (a->eta == ETA_AUTO && !s->json && isatty(STDOUT_FILENO)))
		cfg->progress = s->json ? stderr : stdout;
	if (s->have_remote && cli_host_identity(&s->remote.conn, a->cc.hostnqn, a->cc.hostid))
		return 2;
	s->local.remote = false;
	return 0;
}

int cmd_bench(int argc, char **argv)
{
	struct bench_args a = {
		.s = { .cfg = { .rw = BENCH_RANDREAD, .bs = 4096, .iodepth = 1, .numjobs = 1, .rwmixread = 50,
				.seed = 0x7472 },
		       .remote = { .remote = true, .nsid = 1 } },
	};
	int c, rc;

	tr_ctrl_opts_init(&a.s.remote.conn);
	a.s.remote.conn.kato_s = 5;
	a.cc.o = &a.s.remote.conn;
	optind = 1;
	while ((c = getopt_long(argc, argv, CLI_CONN_SHORTOPTS "k:o:vh", bench_long, NULL)) != -1) {
		rc = parse_remote_opt(c, &a);
		if (rc < 0)
			rc = parse_job_opt(c, &a.s.cfg);
		if (rc < 0)
			rc = parse_other_opt(c, &a);
		if (rc)
			return rc == 1 ? 0 : rc;
	}
	if (optind < argc)
		return bad("argument", argv[optind]);
	rc = settle(&a);
	return rc ? rc : bench_session_run(&a.s);
}
