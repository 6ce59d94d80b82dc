/* `tightrope target`: parse the command line (or a config file) into subsystems, namespaces,
 * hosts and listeners, then run the target until SIGINT/SIGTERM. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "target/resv.h"
#include "target/control.h"
#include "util/log.h"
#include "util/parse.h"

#define DEFAULT_SUBSYS_NQN "nqn.2026-11.io.tightrope:default"
#define DEFAULT_LISTEN_ADDR "127.0.0.1"
#define MAX_LISTENS 16 /* --listen options */
#define MAX_SUBSYS 32 /* --subsys options */
#define MAX_HOSTS 64 /* --allow-host options per subsystem */
#define MAX_WORKERS 256
#define MAX_CONNECTIONS_LIMIT 1000000 /* --max-connections, and the descriptors we count on */
#define MAX_TIMEOUT_S 4000000 /* seconds that still fit in u32 milliseconds */
#define MIN_BUF_BUDGET (1u << 20)
#define PORT_MAX 65535
/* Long options with no short form. */
enum { OPT_DHCHAP_SECRET = 0x100, OPT_DHCHAP_CTRL_SECRET, OPT_DHCHAP_HASH, OPT_DHCHAP_DHGROUP, OPT_TLS_KEY,
       OPT_TLS, OPT_CNTLID_MIN, OPT_CNTLID_MAX, OPT_ANA_STATE, OPT_POLL, OPT_POLL_US, OPT_METRICS };
#define MAX_ANA_STATES 64 /* --ana-state options */

static void target_usage(FILE *out)
{
	fprintf(out,
		"usage: tightrope target [options]\n"
		"\n"
		"  -l, --listen ADDR:PORT     listen here (repeatable; IPv6 as [::1]:4420); default 127.0.0.1:4420\n"
		"  -D, --discovery-port PORT  also serve discovery alone on PORT (8009 by convention)\n"
		"  -n, --subsys NQN           add a subsystem; the options below apply to the last one\n"
		"  -N, --ns SPEC              add a namespace: mem:SIZE, a file or a block device,\n"
		"                             with optional ,ro ,buffered ,nsid=N ,lbs=512|4096 ,anagrpid=N;\n"
		"                             or a Ceph RBD image: rbd:POOL/IMAGE[,conf=PATH][,id=CLIENT]\n"
		"  -H, --allow-host NQN       allow only these hosts (repeatable; default: any host)\n"
		"      --dhchap-secret KEY    the last --allow-host must authenticate with this DH-HMAC-CHAP\n"
		"                             secret (DHHC-1:..., as nvme gen-dhchap-key writes it)\n"
		"      --dhchap-ctrl-secret KEY  and the target proves itself to it with this one\n"
		"      --dhchap-hash HASH     its preferred hash: sha256 (default), sha384, sha512\n"
		"      --dhchap-dhgroup GROUP its DH group: null (default), ffdhe2048 ... ffdhe8192\n"
		"      --tls-key KEY          the last --allow-host's configured TLS PSK (NVMeTLSkey-1:01:...:,\n"
		"                             as nvme gen-tls-key writes it)\n"
		"      --tls MODE             TLS 1.3 on the --listen and discovery ports: none (default),\n"
		"                             allowed (beside plain connections) or required\n"
		"      --serial SN            serial number (default: derived from the NQN)\n"
		"      --cntlid-min N, --cntlid-max N  controller IDs of this subsystem come from N..N\n"
		"                             (default 1..65519; disjoint ranges where two targets serve it)\n"
		"      --ana-state GROUP:STATE  ANA group GROUP's state on the last --listen port: optimized,\n"
		"                             non-optimized, inaccessible, persistent-loss or change (default:\n"
		"                             group 1 optimized, every other group inaccessible)\n"
		"      --model MN             model number (default: tightrope)\n"
		"  -c, --config FILE          load an nvmetcli-style JSON config (and 'ctl save' writes it back)\n"
		"  -S, --ctl PATH             control socket (default " TGT_DEFAULT_CTL_PATH "; 'none' = off)\n"
		"      --metrics ADDR:PORT    serve Prometheus metrics at http://ADDR:PORT/metrics (off by default)\n"
		"  -w, --workers N            worker threads (default: one per CPU)\n"
		"      --max-connections N    refuse connections beyond N (default: 8192, or fewer if the\n"
		"                             descriptor limit or half the RAM (worst case) says so)\n"
		"      --handshake-timeout S  close a connection that has not done ICReq and Connect in S\n"
		"                             seconds (default 10; 0 = never)\n"
		"      --idle-timeout S       tear down a controller with keep-alive off (KATO 0) after S\n"
		"                             seconds without a command (default 3600; 0 = never)\n"
		"      --buffer-budget SIZE   command data buffers hosts may make the target hold, all\n"
		"                             workers together (default: 1/8 of RAM, 64M..8G)\n"
		"      --target-id UUID       this target's identity, from which serials and namespace IDs\n"
		"                             derive (default: created once, kept in STATE/target-id)\n"
		"      --poll-us US           poll mode: a worker busy with I/O in the last US microseconds\n"
		"                             looks for more without sleeping (lower latency, a spinning\n"
		"                             core while I/O flows; default 0 = always sleep)\n"
		"      --poll                 the same as --poll-us 50\n"
		"  -v, --verbose              debug logging\n"
		"\n"
		"Without --subsys or --config, exports %s with one 1 GiB RAM namespace.\n",
		DEFAULT_SUBSYS_NQN);
}

/* "ADDR:PORT", "[v6]:PORT", "ADDR" or ":PORT" */
static int split_hostport(const char *arg, char *addr, size_t alen, char *port, size_t plen)
{
	const char *colon;
	long n;

	if (arg[0] == '[') {
		const char *end = strchr(arg, ']');

		if (!end || (size_t)(end - arg - 1) >= alen)
			return -EINVAL;
		snprintf(addr, alen, "%.*s", (int)(end - arg - 1), arg + 1);
		colon = end[1] == ':' ? end + 1 : NULL;
	} else {
		colon = strrchr(arg, ':');
		if (colon && strchr(arg, ':') != colon)
			colon = NULL; /* a bare IPv6 address */
		snprintf(addr, alen, "%.*s", colon ? (int)(colon - arg) : (int)strlen(arg), arg);
	}
	snprintf(port, plen, "%s", colon && colon[1] ? colon + 1 : TGT_DEFAULT_TRSVCID);
	if (!addr[0])
		snprintf(addr, alen, "0.0.0.0");
	/* Digits only: strtol would take a sign or leading blanks that getaddrinfo then reads otherwise. */
	return strspn(port, "0123456789") == strlen(port) && !tr_parse_long(port, 1, PORT_MAX, &n) ? 0 : -EINVAL;
}

static int parse_ns_spec(char *spec, struct tgt_ns_params *p)
{
	char *save = NULL, *tok = strtok_r(spec, ",", &save);

	memset(p, 0, sizeof(*p));
	p->path = tok;
	if (!tok || !*tok)
		return -EINVAL;
	while ((tok = strtok_r(NULL, ",", &save))) {
		long v;

		if (!strcmp(tok, "ro") || !strcmp(tok, "readonly"))
			p->readonly = true;
		else if (!strcmp(tok, "buffered"))
			p->buffered = true;
		else if (!strncmp(tok, "nsid=", 5) && !tr_parse_long(tok + 5, 1, TGT_MAX_NSID, &v))
			p->nsid = (uint32_t)v;
		else if (!strncmp(tok, "lbs=", 4) && !tr_parse_long(tok + 4, 1, UINT32_MAX, &v))
			p->lba_size = (uint32_t)v; /* which sizes the storage takes, the backend says */
		else if (!strncmp(tok, "anagrpid=", 9) && !tr_parse_long(tok + 9, 1, TGT_MAX_ANAGRPS, &v))
			p->anagrpid = (uint32_t)v;
		else if (!strncmp(tok, "conf=", 5) && !strncmp(p->path, TGT_RBD_PREFIX, strlen(TGT_RBD_PREFIX)))
			p->rbd_conf = tok + 5; /* rbd: the ceph.conf and the client id */
		else if (!strncmp(tok, "id=", 3) && !strncmp(p->path, TGT_RBD_PREFIX, strlen(TGT_RBD_PREFIX)))
			p->rbd_id = tok + 3;
		else
			return -EINVAL;
	}
	return 0;
}

/* A host's DH-HMAC-CHAP settings (nvmet's hosts/NQN/dhchap_*), given after its --allow-host. */
struct pending_host_auth {
	char *key, *ctrl_key, *hash, *dhgroup, *tls_key;
};

struct pending_subsys {
	char *nqn, *serial, *model;
	long cntlid_min, cntlid_max; /* 0: not given */
	char *ns[TGT_MAX_NSID];
	int nr_ns;
	char *hosts[MAX_HOSTS];
	struct pending_host_auth host_auth[MAX_HOSTS];
	int nr_hosts;
};

static int build_host_auth(const char *hostnqn, const struct pending_host_auth *pa)
{
	const char *why;

	if (pa->tls_key && tgt_host_tls_set(tgt, hostnqn, pa->tls_key, &why)) {
		fprintf(stderr, "tightrope: --allow-host %s: %s\n", hostnqn, why);
		return -EINVAL;
	}
	if (!pa->key && !pa->ctrl_key && !pa->hash && !pa->dhgroup)
		return 0;
	if (!pa->key) {
		fprintf(stderr, "tightrope: --allow-host %s: DH-HMAC-CHAP options without --dhchap-secret\n", hostnqn);
		return -EINVAL;
	}
	if (tgt_host_auth_set(tgt, hostnqn, pa->key, pa->ctrl_key, pa->hash, pa->dhgroup, &why)) {
		fprintf(stderr, "tightrope: --allow-host %s: %s\n", hostnqn, why);
		return -EINVAL;
	}
	return 0;
}

static int build_subsys(const struct pending_subsys *ps)
{
	struct tgt_subsys *s = tgt_subsys_create(ps->nqn, ps->serial, ps->model);

	if (!s) {
		int err = -errno;

		fprintf(stderr, "tightrope: subsystem %s: %s\n", ps->nqn,
			err == -EEXIST ? "given twice"
			: err == -EINVAL ? "not a valid NQN (nqn.yyyy-mm.domain:name)" : strerror(-err));
		return err;
	}
	if ((ps->cntlid_min || ps->cntlid_max) &&
	    tgt_subsys_set_cntlid_range(s, ps->cntlid_min ? ps->cntlid_min : 1,
					ps->cntlid_max ? ps->cntlid_max : NVME_CNTLID_MAX)) {
		fprintf(stderr, "tightrope: subsystem %s: --cntlid-min/--cntlid-max must make a range within 1..%u\n",
			ps->nqn, NVME_CNTLID_MAX);
		return -ERANGE;
	}
	for (int i = 0; i < ps->nr_hosts; i++) {
		if (tgt_subsys_allow_host(s, ps->hosts[i])) {
			fprintf(stderr, "tightrope: --allow-host %s: not a valid host NQN\n", ps->hosts[i]);
			return -EINVAL;
		}
		if (build_host_auth(ps->hosts[i], &ps->host_auth[i]))
			return -EINVAL;
	}
	for (int i = 0; i < ps->nr_ns; i++) {
		struct tgt_ns_params p;
		char *spec = strdup(ps->ns[i]);
		int err = spec ? parse_ns_spec(spec, &p) : -ENOMEM;

		if (!err)
			err = tgt_subsys_add_ns(s, &p);
		free(spec);
		if (err < 0) {
			fprintf(stderr, "tightrope: --ns %s: %s\n", ps->ns[i],
				err == -EINVAL ? "bad namespace spec or size" : strerror(-err));
			return err;
		}
	}
	return 0;
}

/* Limits on what peers can make the target hold; -1 = the default. */
struct limits {
	long max_connections;
	long handshake_s;
	long idle_s;
	uint64_t buf_budget; /* 0 = the default */
};

static int parse_limit(int opt, const char *arg, struct limits *l)
{
	long *dst = opt == 'M' ? &l->max_connections : opt == 'T' ? &l->handshake_s : &l->idle_s;
	long min = opt == 'M' ? 1 : 0, max = opt == 'M' ? MAX_CONNECTIONS_LIMIT : MAX_TIMEOUT_S;
	int err = tr_parse_long(arg, min, max, dst);

	if (err)
		fprintf(stderr, "tightrope: --%s: expected a number from %ld to %ld\n",
			opt == 'M' ? "max-connections" : opt == 'T' ? "handshake-timeout" : "idle-timeout", min, max);
	return err;
}

/* Every connection is a descriptor: take all the kernel allows (the hard limit), and by default
 * accept no more connections than that leaves room for, with backends and the control socket. */
static void apply_limits(const struct limits *l)
{
	struct rlimit rl;
	long fds = 1024;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			if (setrlimit(RLIMIT_NOFILE, &rl))
				tr_warn("cannot raise the descriptor limit to %llu: %s",
					(unsigned long long)rl.rlim_max, strerror(errno));
		}
		getrlimit(RLIMIT_NOFILE, &rl);
		fds = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > MAX_CONNECTIONS_LIMIT ? MAX_CONNECTIONS_LIMIT
											 : (long)rl.rlim_cur;
	}
	if (l->buf_budget)
		tgt_set_buffer_budget(l->buf_budget);
	/* The default connection cap keeps within the descriptors and, at worst, within half the RAM
	 * beside the buffer budget. */
	uint64_t ram = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t by_ram = ram / 2 > tgt->buf_budget ? (ram / 2 - tgt->buf_budget) / tgt_conn_worst_bytes() : 16;
	long cap = fds > 512 ? fds - 256 : fds / 2;

	if (cap > TGT_MAX_CONNECTIONS_CAP)
		cap = TGT_MAX_CONNECTIONS_CAP;
	if ((uint64_t)cap > by_ram)
		cap = by_ram < 16 ? 16 : (long)by_ram;
	tgt->max_connections = (int)cap;
	if (l->max_connections > 0)
		tgt->max_connections = (int)l->max_connections;
	if (l->handshake_s >= 0)
		tgt->handshake_timeout_ms = (uint32_t)(l->handshake_s * 1000);
	if (l->idle_s >= 0)
		tgt->idle_timeout_ms = (uint32_t)(l->idle_s * 1000);
	tr_info("limits: %d connections (of %ld descriptors), handshake %u ms, idle with keep-alive off %u s, "
		"buffer budget %llu MiB; worst case %llu KiB per connection, %llu MiB in all",
		tgt->max_connections, fds, tgt->handshake_timeout_ms, tgt->idle_timeout_ms / 1000,
		(unsigned long long)(tgt->buf_budget >> 20), (unsigned long long)(tgt_conn_worst_bytes() >> 10),
		(unsigned long long)((tgt->buf_budget + tgt_conn_worst_bytes() * (uint64_t)tgt->max_connections) >> 20));
}

/* The identity serials and namespace IDs derive from: pinned, or kept in the state directory. */
static int target_identity(const char *pinned)
{
	char dir[512];
	int err;

	/* Reservations with Persist Through Power Loss live beside the identity. */
	if (tgt_resv_store_init(cli_state_dir(dir, sizeof(dir))))
		return -ENOMEM;
	if (pinned) {
		if (tgt_target_id_set(pinned)) {
			fprintf(stderr, "tightrope: --target-id %s: expected a UUID\n", pinned);
			return -EINVAL;
		}
		return 0;
	}
	err = tgt_target_id_load(cli_state_dir(dir, sizeof(dir)));
	if (err && err != -EINVAL)
		tr_err("cannot keep the target's identity in %s/target-id: %s (pin one with --target-id)", dir,
		       strerror(-err));
	return err;
}

/* What the command line asks for, before anything is built from it. */
struct target_args {
	struct pending_subsys subs[MAX_SUBSYS];
	int nr_subs;
	char *listens[MAX_LISTENS];
	int nr_listens;
	struct pending_ana {
		uint16_t portid; /* the last --listen's, 1-based */
		long grpid;
		int state;
	} ana[MAX_ANA_STATES];
	int nr_ana;
	const char *config, *ctl_path, *disc_port, *target_id;
	const char *metrics; /* --metrics ADDR:PORT, or NULL */
	struct limits limits;
	long workers;
	long poll_us;
	int tls; /* enum tgt_tls_mode of the command line's ports */
};

static int add_host_auth_option(struct pending_host_auth *pa, int c, char *arg)
{
	char **dst = c == OPT_DHCHAP_SECRET	 ? &pa->key
		     : c == OPT_DHCHAP_CTRL_SECRET ? &pa->ctrl_key
		     : c == OPT_DHCHAP_HASH	 ? &pa->hash
		     : c == OPT_TLS_KEY		 ? &pa->tls_key
						 : &pa->dhgroup;

	*dst = arg;
	return 0;
}

/* --ns, --allow-host, --serial, --model: they apply to the last --subsys; before any, to the default
 * subsystem; --dhchap-*, to its last --allow-host. 0, -E2BIG when there is no room for one more,
 * -ENOENT for a --dhchap-* option before any --allow-host. */
static int add_subsys_option(struct target_args *a, int c, char *arg)
{
	struct pending_subsys *cur = a->nr_subs ? &a->subs[a->nr_subs - 1] : NULL;

	if (!cur) {
		cur = &a->subs[a->nr_subs++];
		cur->nqn = DEFAULT_SUBSYS_NQN;
	}
	if (c == 'N' && cur->nr_ns < TGT_MAX_NSID)
		cur->ns[cur->nr_ns++] = arg;
	else if (c == 'H' && cur->nr_hosts < MAX_HOSTS)
		cur->hosts[cur->nr_hosts++] = arg;
	else if (c >= OPT_DHCHAP_SECRET && c <= OPT_TLS_KEY && cur->nr_hosts)
		return add_host_auth_option(&cur->host_auth[cur->nr_hosts - 1], c, arg);
	else if (c >= OPT_DHCHAP_SECRET && c <= OPT_TLS_KEY)
		return -ENOENT;
	else if (c == OPT_CNTLID_MIN || c == OPT_CNTLID_MAX)
		return tr_parse_long(arg, 1, NVME_CNTLID_MAX, c == OPT_CNTLID_MIN ? &cur->cntlid_min : &cur->cntlid_max)
			       ? -ERANGE
			       : 0;
	else if (c == 's')
		cur->serial = arg;
	else if (c == 'm')
		cur->model = arg;
	else
		return -E2BIG;
	return 0;
}

/* The options that take a number or a size; 0, or 2 after saying what is wrong. */
static int parse_number_option(struct target_args *a, int c, const char *arg)
{
	switch (c) {
	case 'B':
		if (tgt_parse_size(arg, &a->limits.buf_budget) || a->limits.buf_budget < MIN_BUF_BUDGET) {
			fprintf(stderr, "tightrope: --buffer-budget: expected a size of 1M or more\n");
			return 2;
		}
		return 0;
	case 'w':
		if (tr_parse_long(arg, 1, MAX_WORKERS, &a->workers)) {
			fprintf(stderr, "tightrope: --workers must be 1..%d\n", MAX_WORKERS);
			return 2;
		}
		return 0;
	case OPT_POLL_US:
		if (tr_parse_long(arg, 0, CLI_MAX_POLL_US, &a->poll_us)) {
			fprintf(stderr, "tightrope: --poll-us must be 0..%d\n", CLI_MAX_POLL_US);
			return 2;
		}
		return 0;
	default: /* 'M', 'T', 'O' */
		return parse_limit(c, arg, &a->limits) ? 2 : 0;
	}
}

static int too_many(int c)
{
	fprintf(stderr, "tightrope: too many of option -%c\n", c);
	return 2;
}

/* --ana-state GROUP:STATE, for the last --listen's port (the default port 1 before any). */
static int add_ana_state(struct target_args *a, const char *arg)
{
	char group[16];
	const char *colon = strchr(arg, ':');
	struct pending_ana *pa = &a->ana[a->nr_ana];

	if (a->nr_ana == MAX_ANA_STATES)
		return too_many(OPT_ANA_STATE);
	/* The group number alone, copied: argv stays as given (ps shows it). */
	snprintf(group, sizeof(group), "%.*s", colon ? (int)(colon - arg) : 0, arg);
	pa->state = colon ? tgt_ana_state_parse(colon + 1) : -1;
	if (!colon || tr_parse_long(group, 1, TGT_MAX_ANAGRPS, &pa->grpid) || pa->state < 0) {
		fprintf(stderr, "tightrope: --ana-state: expected GROUP:STATE, GROUP 1..%d, STATE optimized, "
				"non-optimized, inaccessible, persistent-loss or change\n", TGT_MAX_ANAGRPS);
		return 2;
	}
	pa->portid = (uint16_t)(a->nr_listens ? a->nr_listens : 1);
	a->nr_ana++;
	return -1;
}

/* One option; -1 to go on, else the exit status (0 after --help, 2 for bad usage). */
static int parse_target_option(struct target_args *a, int c, char *arg)
{
	switch (c) {
	case 'l':
		if (a->nr_listens == MAX_LISTENS)
			return too_many(c);
		a->listens[a->nr_listens++] = arg;
		return -1;
	case 'n':
		if (a->nr_subs == MAX_SUBSYS)
			return too_many(c);
		a->subs[a->nr_subs++].nqn = arg;
		return -1;
	case 'N':
	case 'H':
	case 's':
	case 'm':
		return add_subsys_option(a, c, arg) ? too_many(c) : -1;
	case OPT_CNTLID_MIN:
	case OPT_CNTLID_MAX:
		if (!add_subsys_option(a, c, arg))
			return -1;
		fprintf(stderr, "tightrope: --cntlid-min/--cntlid-max: 1..%u\n", NVME_CNTLID_MAX);
		return 2;
	case OPT_ANA_STATE:
		return add_ana_state(a, arg);
	case OPT_DHCHAP_SECRET:
	case OPT_DHCHAP_CTRL_SECRET:
	case OPT_DHCHAP_HASH:
	case OPT_DHCHAP_DHGROUP:
	case OPT_TLS_KEY:
		if (add_subsys_option(a, c, arg) == 0)
			return -1;
		fprintf(stderr, "tightrope: --dhchap-* and --tls-key follow the --allow-host they are for\n");
		return 2;
	case OPT_TLS:
		a->tls = tgt_tls_mode_parse(arg);
		if (a->tls >= 0)
			return -1;
		fprintf(stderr, "tightrope: --tls %s: none, allowed or required\n", arg);
		return 2;
	case 'D': a->disc_port = arg; return -1;
	case 'c': a->config = arg; return -1;
	case 'S': a->ctl_path = arg; return -1;
	case OPT_METRICS: a->metrics = arg; return -1;
	case 'I': a->target_id = arg; return -1;
	case 'B':
	case 'M':
	case 'T':
	case 'O':
	case 'w':
	case OPT_POLL_US:
		return parse_number_option(a, c, arg) ? 2 : -1;
	case OPT_POLL: a->poll_us = CLI_DEFAULT_POLL_US; return -1;
	case 'v': tr_log_set_level(TR_LOG_DEBUG); return -1;
	case 'h': target_usage(stdout); return 0;
	default: target_usage(stderr); return 2;
	}
}

/* The whole command line into 'a'; -1 to run the target, else the exit status. */
static int parse_target_args(int argc, char **argv, struct target_args *a)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "discovery-port", required_argument, NULL, 'D' },
		{ "subsys", required_argument, NULL, 'n' },
		{ "ns", required_argument, NULL, 'N' },
		{ "allow-host", required_argument, NULL, 'H' },
		{ "dhchap-secret", required_argument, NULL, OPT_DHCHAP_SECRET },
		{ "dhchap-ctrl-secret", required_argument, NULL, OPT_DHCHAP_CTRL_SECRET },
		{ "dhchap-hash", required_argument, NULL, OPT_DHCHAP_HASH },
		{ "dhchap-dhgroup", required_argument, NULL, OPT_DHCHAP_DHGROUP },
		{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
		{ "tls", required_argument, NULL, OPT_TLS },
		{ "serial", required_argument, NULL, 's' },
		{ "model", required_argument, NULL, 'm' },
		{ "cntlid-min", required_argument, NULL, OPT_CNTLID_MIN },
		{ "cntlid-max", required_argument, NULL, OPT_CNTLID_MAX },
		{ "ana-state", required_argument, NULL, OPT_ANA_STATE },
		{ "config", required_argument, NULL, 'c' },
		{ "ctl", required_argument, NULL, 'S' },
		{ "metrics", required_argument, NULL, OPT_METRICS },
		{ "workers", required_argument, NULL, 'w' },
		{ "target-id", required_argument, NULL, 'I' },
		{ "max-connections", required_argument, NULL, 'M' },
		{ "handshake-timeout", required_argument, NULL, 'T' },
		{ "idle-timeout", required_argument, NULL, 'O' },
		{ "buffer-budget", required_argument, NULL, 'B' },
		{ "poll", no_argument, NULL, OPT_POLL },
		{ "poll-us", required_argument, NULL, OPT_POLL_US },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c, rc;

	memset(a, 0, sizeof(*a));
	a->ctl_path = TGT_DEFAULT_CTL_PATH;
	a->limits = (struct limits){ .max_connections = -1, .handshake_s = -1, .idle_s = -1 };
	a->workers = sysconf(_SC_NPROCESSORS_ONLN);
	while ((c = getopt_long(argc, argv, "l:D:n:N:H:c:S:w:vh", opts, NULL)) != -1) {
		rc = parse_target_option(a, c, optarg);
		if (rc >= 0)
			return rc;
	}
	if (optind < argc) {
		fprintf(stderr, "tightrope: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!a->config && a->nr_subs == 0) {
		a->subs[0].nqn = DEFAULT_SUBSYS_NQN;
		a->subs[0].ns[0] = "mem:1G";
		a->subs[0].nr_ns = 1;
		a->nr_subs = 1;
	}
	return -1;
}

/* The --listen addresses, else the default one, and the --discovery-port; 0 or -errno. */
static int add_listeners(const struct target_args *a)
{
	char addr[256], port[16];
	int err = 0;

	for (int i = 0; i < a->nr_listens && !err; i++) {
		err = split_hostport(a->listens[i], addr, sizeof(addr), port, sizeof(port));
		if (err)
			fprintf(stderr, "tightrope: --listen %s: expected ADDR:PORT\n", a->listens[i]);
		else
			err = tgt_listener_add(addr, port, false, (uint16_t)(i + 1), (enum tgt_tls_mode)a->tls);
	}
	if (!err && !a->nr_listens && !tgt->listeners) {
		tr_info("no --listen given: listening on " DEFAULT_LISTEN_ADDR ":" TGT_DEFAULT_TRSVCID " only");
		err = tgt_listener_add(DEFAULT_LISTEN_ADDR, TGT_DEFAULT_TRSVCID, false, 1, (enum tgt_tls_mode)a->tls);
	}
	if (!err && a->disc_port) {
		/* The discovery port shares the first listener's address. */
		err = split_hostport(a->nr_listens ? a->listens[0] : DEFAULT_LISTEN_ADDR, addr, sizeof(addr), port,
				     sizeof(port));
		if (!err)
			err = tgt_listener_add(addr, a->disc_port, true, 0, (enum tgt_tls_mode)a->tls);
	}
	return err;
}

/* The control socket, its directory made first; 0 or -errno. */
static int start_control(const char *ctl_path, struct tgt_control **ctl)
{
	char dir[256];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", ctl_path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		mkdir(dir, 0755);
	}
	/* Logs why it refused: another live target, or a path that is not a socket. */
	return tgt_control_start(ctl_path, ctl);
}

/* Everything the arguments describe, in the order that lets each step use the last; 0 or -errno. */
static int build_target(const struct target_args *a, struct tgt_control **ctl)
{
	int err = target_identity(a->target_id);

	if (err)
		return err;
	apply_limits(&a->limits);
	if (a->poll_us) {
		atomic_store(&tgt->poll_us, (uint32_t)a->poll_us);
		tr_info("poll mode: workers spin for up to %ld us after their last I/O before sleeping", a->poll_us);
	}
	/* The config first: it may pin the identity that the command line's subsystems derive from. */
	if (a->config) {
		err = tgt_config_load(a->config);
		tgt->config_path = strdup(a->config);
	}
	for (int i = 0; i < a->nr_subs && !err; i++)
		err = build_subsys(&a->subs[i]);
	if (!err)
		err = add_listeners(a);
	for (int i = 0; i < a->nr_ana && !err; i++)
		err = tgt_ana_set(tgt, a->ana[i].portid, (uint32_t)a->ana[i].grpid, a->ana[i].state);
	if (!err && strcmp(a->ctl_path, "none"))
		err = start_control(a->ctl_path, ctl);
	if (!err && a->metrics)
		err = tgt_metrics_start(tgt, a->metrics); /* logs what is wrong */
	return err;
}

int cmd_target(int argc, char **argv)
{
	static struct target_args args; /* large: every subsystem's namespace list */
	struct tgt_control *ctl = NULL;
	sigset_t mask;
	int err = parse_target_args(argc, argv, &args);

	if (err >= 0)
		return err;

	/* Signals are taken by the main loop's signalfd; workers inherit the blocked mask. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGPIPE);
	sigaddset(&mask, SIGHUP); /* reload, as daemons do */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);

	err = tgt_init((int)args.workers);
	if (!err)
		err = build_target(&args, &ctl);
	if (!err)
		err = tgt_run();
	/* Before the registries go: the control and metrics threads read them. */
	tgt_control_stop(ctl);
	tgt_metrics_stop();
	tgt_shutdown();
	if (!err)
		tr_info("stopped");
	return err ? 1 : 0;
}
