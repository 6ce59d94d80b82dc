/* Host-side subcommands with nvme-cli's flags and output: discover, id-ctrl, id-ns, connect,
 * connect-all, disconnect (list and list-subsys: host_list.c). Also the shared connection options
 * and the host NQN/ID that is generated once and kept. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/host_args.h"
#include "host/daemon.h"
#include "host/record.h"
#include "nvme/spec.h"
#include "tightrope/host.h"
#include "util/log.h"
#include <systemd/sd-daemon.h>

static char hostnqn_buf[NVME_NQN_SIZE];

static int read_line(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	if (!fgets(out, (int)len, f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	out[strcspn(out, "\r\n")] = 0;
	return out[0] ? 0 : -1;
}

const char *cli_state_dir(char *buf, size_t len)
{
	const char *env = getenv("TIGHTROPE_STATE_DIR"), *home = getenv("HOME");

	if (env)
		snprintf(buf, len, "%s", env);
	else if (geteuid() == 0 || !home)
		snprintf(buf, len, "/var/lib/tightrope");
	else
		snprintf(buf, len, "%s/.local/state/tightrope", home);
	return buf;
}

/* The host's identity, like nvme-cli: /etc/nvme/hostnqn and hostid when they exist, otherwise a
 * UUID-based NQN generated once and kept in tightrope's state directory. */
int cli_host_identity(struct tr_ctrl_opts *o, const char *hostnqn, const char *hostid)
{
	char dir[512], path[600], id[64] = "";

	if (!hostid && read_line("/etc/nvme/hostid", id, sizeof(id)) == 0)
		hostid = id;
	if (!hostnqn && read_line("/etc/nvme/hostnqn", hostnqn_buf, sizeof(hostnqn_buf)) == 0)
		hostnqn = hostnqn_buf;
	if (!hostnqn) {
		cli_state_dir(dir, sizeof(dir));
		snprintf(path, sizeof(path), "%s/hostnqn", dir);
		if (read_line(path, hostnqn_buf, sizeof(hostnqn_buf))) {
			char uuid[40] = "";
			FILE *f;

			if (read_line("/proc/sys/kernel/random/uuid", uuid, sizeof(uuid)))
				return -EIO;
			snprintf(hostnqn_buf, sizeof(hostnqn_buf), "nqn.2014-08.org.nvmexpress:uuid:%s", uuid);
			mkdir(dir, 0755);
			f = fopen(path, "w");
			if (f) {
				fprintf(f, "%s\n", hostnqn_buf);
				fclose(f);
			}
		}
		hostnqn = hostnqn_buf;
	}
	o->hostnqn = hostnqn;
	/* The host ID defaults to the UUID inside a uuid-style NQN, as nvme-cli does. */
	if (!hostid && strstr(hostnqn, ":uuid:"))
		hostid = strstr(hostnqn, ":uuid:") + 6;
	if (hostid) {
		unsigned v[16];

		if (sscanf(hostid, "%2x%2x%2x%2x-%2x%2x-%2x%2x-%2x%2x-%2x%2x%2x%2x%2x%2x", &v[0], &v[1], &v[2], &v[3],
			   &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11], &v[12], &v[13], &v[14],
			   &v[15]) != 16) {
			fprintf(stderr, "invalid host ID %s: expected a UUID\n", hostid);
			return -EINVAL;
		}
		for (int i = 0; i < 16; i++)
			o->hostid[i] = (uint8_t)v[i];
	}
	return 0;
}

enum { OPT_DISABLE_SQFLOW = 1000, OPT_IOPOLICY, OPT_BLKDEV, OPT_FOREGROUND, OPT_UNITS, OPT_METRICS };

/* --blkdev NAME: 0, or -EINVAL for a name that is none of them. */
static int parse_blkdev(const char *name, enum hostd_blkdev *out)
{
	static const char *const names[] = { [HOSTD_BLKDEV_AUTO] = "auto", [HOSTD_BLKDEV_LOOP] = "loop",
					     [HOSTD_BLKDEV_UBLK] = "ublk" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(name, names[i])) {
			*out = (enum hostd_blkdev)i;
			return 0;
		}
	}
	return -EINVAL;
}

static const struct option conn_long[] = {
	CLI_CONN_OPTIONS,
	{ "nr-io-queues", required_argument, NULL, 'i' },
	{ "queue-size", required_argument, NULL, 'Q' },
	{ "keep-alive-tmo", required_argument, NULL, 'k' },
	{ "output-format", required_argument, NULL, 'o' },
	{ "reconnect-delay", required_argument, NULL, 'c' },
	{ "ctrl-loss-tmo", required_argument, NULL, 'l' },
	{ "fast_io_fail_tmo", required_argument, NULL, 'f' },
	{ "device", required_argument, NULL, 'd' },
	{ "namespace-id", required_argument, NULL, 'N' },
	{ "no-loop", no_argument, NULL, 'L' },
	{ "disable-sqflow", no_argument, NULL, OPT_DISABLE_SQFLOW }, /* long only, as nvme-cli's: -S is the secret */
	{ "iopolicy", required_argument, NULL, OPT_IOPOLICY },
	{ "blkdev", required_argument, NULL, OPT_BLKDEV },
	{ "foreground", no_argument, NULL, OPT_FOREGROUND },
	{ "units", no_argument, NULL, OPT_UNITS },
	{ "config", required_argument, NULL, 'J' }, /* nvme-cli 2.x's: libnvme's JSON config, or "none" */
	{ "metrics", required_argument, NULL, OPT_METRICS },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 } };


/* A whole number from min to max into *out; -EINVAL, after saying what is wrong, and *out untouched. */
static int parse_num(const char *s, const char *what, long min, long max, int *out)
{
	char *end;
	long v = strtol(s, &end, 0);

	if (*s == 0 || *end || v < min || v > max) {
		fprintf(stderr, "invalid %s '%s' (%ld..%ld)\n", what, s, min, max);
		return -EINVAL;
	}
	*out = (int)v;
	return 0;
}

/* Parse nvme-cli's connection flags; returns 0, or 1 when --help was given, or 2 on bad usage. */
int parse_conn(int argc, char **argv, struct conn_args *a, const char *usage, int need_nqn)
{
	struct cli_conn cc = { .o = &a->o };
	int c, err, nsid = 1;

	tr_ctrl_opts_init(&a->o);
	a->json = false;
	a->reconnect_delay = 10; /* nvme-cli's and the kernel's defaults */
	a->ctrl_loss_tmo = 600;
	a->fast_io_fail_tmo = -1;
	a->device = NULL;
	a->no_loop = false;
	a->blkdev = HOSTD_BLKDEV_AUTO;
	a->iopolicy = HOSTD_IOPOLICY_NUMA;
	a->iopolicy_set = false;
	a->foreground = false;
	a->via_units = false;
	a->config = NULL;
	a->metrics = NULL;
	optind = 0; /* 0: getopt starts afresh, as autoconnect parses one line after another */
	while ((c = getopt_long(argc, argv, CLI_CONN_SHORTOPTS "i:Q:k:o:c:l:f:d:N:J:Lvh", conn_long, NULL)) != -1) {
		err = cli_conn_option(c, optarg, &cc);
		if (err == -EPROTONOSUPPORT) {
			fprintf(stderr, "transport '%s' is not supported: tightrope speaks tcp\n", optarg);
			return 2;
		}
		if (err == 0)
			continue;
		err = 0;
		switch (c) {
		case 'i': err = parse_num(optarg, "nr-io-queues", 1, 1024, &a->o.nr_io_queues); break;
		case 'Q': err = parse_num(optarg, "queue-size", 16, 1024, &a->o.queue_size); break;
		case 'k': err = parse_num(optarg, "keep-alive-tmo", 0, 65535, &a->o.kato_s); break;
		case 'o':
			if (strcmp(optarg, "json") && strcmp(optarg, "normal")) {
				fprintf(stderr, "output format '%s': use normal or json\n", optarg);
				return 2;
			}
			a->json = !strcmp(optarg, "json");
			break;
		case 'c': err = parse_num(optarg, "reconnect-delay", 1, 3600, &a->reconnect_delay); break;
		case 'l': err = parse_num(optarg, "ctrl-loss-tmo", -1, 1 << 30, &a->ctrl_loss_tmo); break;
		case 'f': err = parse_num(optarg, "fast_io_fail_tmo", -1, 1 << 30, &a->fast_io_fail_tmo); break;
		case 'd': a->device = optarg; break;
		case 'N': err = parse_num(optarg, "namespace-id", 1, 0x7fffffff, &nsid); break;
		case 'L': a->no_loop = true; break;
		case 'J': a->config = optarg; break;
		case OPT_FOREGROUND: a->foreground = true; break;
		case OPT_UNITS: a->via_units = true; break;
		case OPT_METRICS: a->metrics = optarg; break;
		case OPT_DISABLE_SQFLOW: a->o.disable_sqflow = true; break;
		case OPT_BLKDEV:
			if (parse_blkdev(optarg, &a->blkdev)) {
				fprintf(stderr, "blkdev '%s': use auto, ublk or loop\n", optarg);
				return 2;
			}
			break;
		case OPT_IOPOLICY:
			if (hostd_iopolicy_parse(optarg, &a->iopolicy)) {
				fprintf(stderr, "iopolicy '%s': use numa, round-robin or queue-depth\n", optarg);
				return 2;
			}
			a->iopolicy_set = true;
			break;
		case 'v': tr_log_set_level(TR_LOG_DEBUG); break;
		case 'h': fputs(usage, stdout); return 1;
		default: fputs(usage, stderr); return 2;
		}
		if (err)
			return 2;
	}
	a->nsid = (uint32_t)nsid;
	if (need_nqn == 2) /* a verb that needs no address */
		return cli_host_identity(&a->o, cc.hostnqn, cc.hostid) ? 2 : 0;
	if (!a->o.traddr || (need_nqn && !a->o.subnqn)) {
		fprintf(stderr, "%s is required\n%s", !a->o.traddr ? "--traddr (-a)" : "--nqn (-n)", usage);
		return 2;
	}
	return cli_host_identity(&a->o, cc.hostnqn, cc.hostid) ? 2 : 0;
}

static const char *trtype_str(uint8_t t)
{
	return t == NVMF_TRTYPE_TCP ? "tcp" : t == 1 ? "rdma" : t == 2 ? "fc" : t == 0xfe ? "loop" : "unrecognized";
}

static const char *adrfam_str(uint8_t a)
{
	return a == NVMF_ADRFAM_IP4 ? "ipv4" : a == NVMF_ADRFAM_IP6 ? "ipv6" : a == 3 ? "infiniband" : a == 4 ? "fibre-channel" : a == 0xfe ? "intra-host" : "unrecognized";
}

static const char *subtype_str(uint8_t s)
{
	return s == NVMF_SUBTYPE_DISCOVERY ? "discovery subsystem referral"
	       : s == NVMF_SUBTYPE_NVME	   ? "nvme subsystem"
	       : s == NVMF_SUBTYPE_CURRENT_DISCOVERY ? "current discovery subsystem"
						     : "unrecognized";
}

/* libnvme's names for a TCP port's security type. */
static const char *sectype_str(uint8_t t)
{
	return t == NVMF_TCP_SECTYPE_NONE ? "none" : t == 1 ? "tls" : t == NVMF_TCP_SECTYPE_TLS13 ? "tls13" : "reserved";
}

static void treq_str(uint8_t t, char *out, size_t len)
{
	static const char *const secure[] = { "not specified", "required", "not required", "reserved" };

	snprintf(out, len, "%s%s", secure[t & 3], t & NVMF_TREQ_DISABLE_SQFLOW ? ", sq flow control disable supported" : "");
}

static void eflags_str(uint16_t e, char *out, size_t len)
{
	snprintf(out, len, "%s%s%s%s", e == 0 ? "none" : "", e & 2 ? "explicit discovery connections" : "",
		 (e & 2) && (e & 1) ? ", " : "", e & 1 ? "duplicate discovery information" : "");
	if (e & NVMF_DISC_EFLAGS_NCC)
		snprintf(out + strlen(out), len - strlen(out), "%sno cdc connectivity", e & 3 ? ", " : "");
}

/* Discovery log fields are space-padded ASCII; print them trimmed. */
static void field(char *out, const char *in, size_t len)
{
	size_t n = strnlen(in, len);

	while (n && in[n - 1] == ' ')
		n--;
	memcpy(out, in, n);
	out[n] = 0;
}

static void json_str(const char *key, const char *v, bool last)
{
	printf("      \"%s\":\"", key);
	for (; *v; v++)
		printf(*v == '"' || *v == '\\' ? "\\%c" : "%c", *v);
	printf("\"%s\n", last ? "" : ",");
}

/* The discovery log at the address the flags give; 0, or 1 after saying why there is none. */
static int fetch_disc_log(const struct conn_args *a, struct nvmf_disc_log_entry **e, uint64_t *nr, uint64_t *gen)
{
	char why[256] = "";
	int err = tr_discover(&a->o, e, nr, gen, why, sizeof(why));

	if (err)
		fprintf(stderr, "failed to discover at %s:%s: %s\n", a->o.traddr, a->o.trsvcid,
			why[0] ? why : tr_status_str(err));
	return err ? 1 : 0;
}

/* A log entry's space-padded text fields, trimmed. */
struct disc_fields {
	char svc[NVMF_TRSVCID_SIZE + 1], addr[NVMF_TRADDR_SIZE + 1], nqn[NVME_NQN_SIZE + 1];
};

static void disc_fields(const struct nvmf_disc_log_entry *e, struct disc_fields *f)
{
	field(f->svc, e->trsvcid, sizeof(e->trsvcid));
	field(f->addr, e->traddr, sizeof(e->traddr));
	field(f->nqn, e->subnqn, sizeof(e->subnqn));
}

int cmd_discover(int argc, char **argv)
{
	static const char usage[] =
		"usage: tightrope discover -t tcp -a TRADDR [-s TRSVCID] [-q HOSTNQN] [-I HOSTID] [-g] [-G] [-o json]\n"
		"         [-S DHCHAP_SECRET] [-C DHCHAP_CTRL_SECRET]\n"
		"Connect to the discovery controller at TRADDR:TRSVCID (default 4420) and print its log.\n";
	struct nvmf_disc_log_entry *e = NULL;
	struct conn_args a;
	uint64_t nr = 0, gen = 0;
	int rc = parse_conn(argc, argv, &a, usage, false);

	if (rc)
		return rc == 1 ? 0 : rc;
	if (fetch_disc_log(&a, &e, &nr, &gen))
		return 1;
	if (a.json)
		printf("{\n  \"genctr\":%llu,\n  \"records\":[\n", (unsigned long long)gen);
	else
		printf("\nDiscovery Log Number of Records %llu, Generation counter %llu\n", (unsigned long long)nr,
		       (unsigned long long)gen);
	for (uint64_t i = 0; i < nr; i++) {
		char treq[96], eflags[128];
		struct disc_fields f;

		treq_str(e[i].treq, treq, sizeof(treq));
		eflags_str(e[i].eflags, eflags, sizeof(eflags));
		disc_fields(&e[i], &f);
		if (a.json) {
			printf("    {\n");
			json_str("trtype", trtype_str(e[i].trtype), false);
			json_str("adrfam", adrfam_str(e[i].adrfam), false);
			json_str("subtype", subtype_str(e[i].subtype), false);
			json_str("treq", treq, false);
			printf("      \"portid\":%u,\n", e[i].portid);
			json_str("trsvcid", f.svc, false);
			json_str("subnqn", f.nqn, false);
			json_str("traddr", f.addr, false);
			json_str("eflags", eflags, false);
			json_str("sectype", sectype_str(e[i].tsas[0]), true);
			printf("    }%s\n", i + 1 < nr ? "," : "");
		} else {
			printf("=====Discovery Log Entry %llu======\n", (unsigned long long)i);
			printf("trtype:  %s\nadrfam:  %s\nsubtype: %s\ntreq:    %s\nportid:  %u\ntrsvcid: %s\n",
			       trtype_str(e[i].trtype), adrfam_str(e[i].adrfam), subtype_str(e[i].subtype), treq,
			       e[i].portid, f.svc);
			printf("subnqn:  %s\ntraddr:  %s\neflags:  %s\n", f.nqn, f.addr, eflags);
			if (e[i].trtype == NVMF_TRTYPE_TCP)
				printf("sectype: %s\n", sectype_str(e[i].tsas[0]));
		}
	}
	if (a.json)
		printf("  ]\n}\n");
	free(e);
	return 0;
}

int cmd_id_ctrl(int argc, char **argv)
{
	static const char usage[] =
		"usage: tightrope id-ctrl -t tcp -a TRADDR [-s TRSVCID] -n NQN [-q HOSTNQN] [-g] [-G]\n"
		"Connect to a controller and print its Identify Controller data.\n";
	struct tr_ctrl *c;
	struct conn_args a;
	char why[256] = "", sn[21], mn[41], fr[9];
	int rc = parse_conn(argc, argv, &a, usage, true), err;
	const struct nvme_id_ctrl *id;

	if (rc)
		return rc == 1 ? 0 : rc;
	a.o.nr_io_queues = 1;
	err = tr_ctrl_connect(&a.o, &c, why, sizeof(why));
	if (err) {
		fprintf(stderr, "failed to connect to %s at %s:%s: %s\n", a.o.subnqn, a.o.traddr, a.o.trsvcid, why);
		return 1;
	}
	id = tr_ctrl_identify_data(c);
	field(sn, id->sn, sizeof(id->sn));
	field(mn, id->mn, sizeof(id->mn));
	field(fr, id->fr, sizeof(id->fr));
	printf("NVME Identify Controller:\n");
	printf("vid       : %#x\nssvid     : %#x\nsn        : %s\nmn        : %s\nfr        : %s\n", id->vid,
	       id->ssvid, sn, mn, fr);
	printf("mdts      : %u\ncntlid    : %#x\nver       : %#x\noaes      : %#x\nctratt    : %#x\n", id->mdts,
	       id->cntlid, id->ver, id->oaes, id->ctratt);
	printf("kas       : %u\nmaxcmd    : %u\nnn        : %u\nsgls      : %#x\nsubnqn    : %.256s\n", id->kas,
	       id->maxcmd, id->nn, id->sgls, id->subnqn);
	printf("ioccsz    : %u\niorcsz    : %u\nicdoff    : %u\nfcatt     : %#x\nmsdbd     : %u\n", id->ioccsz,
	       id->iorcsz, id->icdoff, id->fcatt, id->msdbd);
	tr_ctrl_disconnect(c);
	return 0;
}

/* ---- connect, connect-all, list, list-subsys, disconnect, disconnect-all: the local devices ---- */

const char *state_dir_path(void)
{
	static char dir[512];

	return cli_state_dir(dir, sizeof(dir));
}

static void hostd_opts_from(struct hostd_opts *h, const struct conn_args *a)
{
	*h = (struct hostd_opts){ .conn = a->o, .reconnect_delay_s = a->reconnect_delay,
				  .ctrl_loss_tmo_s = a->ctrl_loss_tmo, .fast_io_fail_tmo_s = a->fast_io_fail_tmo,
				  .no_loop = a->no_loop, .blkdev = a->blkdev, .state_dir = state_dir_path(), .iopolicy = a->iopolicy,
				  .iopolicy_set = a->iopolicy_set, .foreground = a->foreground, .metrics = a->metrics };
}

/* The control socket of a live host process that holds this subsystem for this host, if any: a
 * connect to another of its portals becomes a path of that process. */
static bool subsys_process(const char *subnqn, const char *hostnqn, char *sock, size_t len)
{
	struct hostd_record *recs;
	int n = hostd_list(state_dir_path(), &recs);
	bool found = false;

	for (int i = 0; i < n && !found; i++) {
		const struct hostd_record *r = &recs[i];

		if (r->state != HREC_DEAD && r->state != HREC_DELETING && r->sock[0] && !strcmp(r->subnqn, subnqn) &&
		    !strcmp(r->hostnqn, hostnqn)) {
			snprintf(sock, len, "%s", r->sock);
			found = true;
		}
	}
	hostd_list_free(recs, n);
	return found;
}

/* Already attached to this subsystem through this address? (connect-all must not double up) The
 * controller's name goes to 'name'. */
static bool connected_as(const char *traddr, const char *trsvcid, const char *subnqn, char *name, size_t len)
{
	struct hostd_record *recs;
	int n = hostd_list(state_dir_path(), &recs);
	bool found = false;

	for (int i = 0; i < n && !found; i++) {
		const struct hostd_record *r = &recs[i];

		if (!strcmp(r->traddr, traddr) && !strcmp(r->trsvcid, trsvcid) && !strcmp(r->subnqn, subnqn) &&
		    r->state != HREC_DEAD) {
			snprintf(name, len, "%s", r->name);
			found = true;
		}
	}
	hostd_list_free(recs, n);
	return found;
}

/* One event loop drives all of a host process's queues: more buy nothing. */
#define HOSTD_MAX_IO_QUEUES 4

bool cli_already_connected(const struct conn_args *a)
{
	char dup[16];

	return connected_as(a->o.traddr, a->o.trsvcid, a->o.subnqn, dup, sizeof(dup));
}

int cli_connect_one(const struct conn_args *a)
{
	struct hostd_opts h;
	char name[32], why[320] = "", dup[16], sock[PATH_MAX];
	int err;

	if (connected_as(a->o.traddr, a->o.trsvcid, a->o.subnqn, dup, sizeof(dup))) {
		fprintf(stderr, "already connected to %s at %s:%s as %s\n", a->o.subnqn, a->o.traddr, a->o.trsvcid, dup);
		return 1;
	}
	/* A unit's instance name is visible to anyone: controllers with secrets are connected here. */
	if (a->via_units && !a->o.dhchap_secret && !a->o.dhchap_ctrl_secret && !a->o.tls_key)
		return cli_start_unit(a);
	if (a->blkdev == HOSTD_BLKDEV_UBLK && !a->no_loop && !ublk_supported()) {
		fprintf(stderr, "--blkdev ublk: this kernel has no ublk (/dev/ublk-control; modprobe ublk_drv)\n");
		return 1;
	}
	hostd_opts_from(&h, a);
	if (h.conn.nr_io_queues > HOSTD_MAX_IO_QUEUES)
		h.conn.nr_io_queues = HOSTD_MAX_IO_QUEUES;
	if (subsys_process(a->o.subnqn, a->o.hostnqn, sock, sizeof(sock))) {
		err = hostd_add_path(sock, &h, name, sizeof(name), why, sizeof(why));
		/* A unit's process that only added a path: started as far as systemd goes, then done. */
		if (!err && a->foreground)
			sd_notifyf(0, "READY=1\nSTATUS=path %s added to the subsystem's host process", name);
	} else {
		err = hostd_connect(&h, name, sizeof(name), why, sizeof(why));
	}
	if (err) {
		fprintf(stderr, "failed to connect to %s at %s:%s: %s\n", a->o.subnqn, a->o.traddr, a->o.trsvcid, why);
		return 1;
	}
	printf("connecting to device: %s\n", name);
	return 0;
}

int cmd_connect(int argc, char **argv)
{
	static const char usage[] =
		"usage: tightrope connect -t tcp -a TRADDR [-s TRSVCID] -n NQN [-q HOSTNQN] [-I HOSTID]\n"
		"         [-i NR_IO_QUEUES] [-Q QUEUE_SIZE] [-k KATO] [-c RECONNECT_DELAY] [-l CTRL_LOSS_TMO]\n"
		"         [--fast_io_fail_tmo SEC] [-g] [-G] [--disable-sqflow] [--no-loop] [--blkdev auto|ublk|loop]\n"
		"         [-S|--dhchap-secret DHHC-1:..] [-C|--dhchap-ctrl-secret DHHC-1:..]\n"
		"         [--tls] [--tls-key NVMeTLSkey-1:..|FILE] [--iopolicy numa|round-robin|queue-depth]\n"
		"         [--foreground] [--metrics ADDR:PORT]\n"
		"Attach a remote namespace: a host process keeps the subsystem's controllers (one path each) and\n"
		"shows each namespace once as a file (FUSE) and a block device (/dev/ublkbN where the kernel has\n"
		"ublk_drv, else /dev/loopN over the file; --blkdev chooses); a connect to another\n"
		"portal of a subsystem already attached adds a path to it (native multipath: ANA states first,\n"
		"then the I/O policy, default numa). See `tightrope list`, `list-subsys`. With -S the host answers a\n"
		"controller's DH-HMAC-CHAP challenge; with -C as well, the controller must prove itself too.\n"
		"With --tls-key every queue runs over TLS 1.3 with the PSK derived from that configured key\n"
		"for this host and subsystem, as the Linux host would find it in its keyring.\n"
		"With --foreground this command is the host process (tightrope-connect@.service): it logs to\n"
		"stderr, tells systemd READY=1 once live, and disconnects in order on SIGTERM.\n"
		"With --metrics the host process serves Prometheus metrics at http://ADDR:PORT/metrics (its\n"
		"first connect decides; a connect that adds a path to it does not change them).\n";
	struct conn_args a;
	int rc = parse_conn(argc, argv, &a, usage, true);

	if (rc)
		return rc == 1 ? 0 : rc;
	return cli_connect_one(&a);
}

/* Every NVMe subsystem the discovery log at a's address lists, each portal a path. */
int cli_connect_discovered(const struct conn_args *a)
{
	struct nvmf_disc_log_entry *e = NULL;
	uint64_t nr = 0, gen = 0;
	int failed = 0;

	if (fetch_disc_log(a, &e, &nr, &gen))
		return 1;
	for (uint64_t i = 0; i < nr; i++) {
		struct conn_args one = *a;
		struct disc_fields f;
		char dup[16];

		if (e[i].subtype != NVMF_SUBTYPE_NVME || e[i].trtype != NVMF_TRTYPE_TCP)
			continue;
		disc_fields(&e[i], &f);
		/* Each portal of a subsystem is a path: the log's address, except for the port we reached
		 * discovery through (the log may give the target's own view of it, a NAT or VM address)
		 * and a wildcard listener's, which the target reports as such. */
		one.o.trsvcid = !strcmp(a->o.trsvcid, f.svc) ? a->o.trsvcid : f.svc;
		if (strcmp(a->o.trsvcid, f.svc) && f.addr[0] && strcmp(f.addr, "0.0.0.0") && strcmp(f.addr, "::"))
			one.o.traddr = f.addr;
		one.o.subnqn = f.nqn;
		if (connected_as(one.o.traddr, one.o.trsvcid, f.nqn, dup, sizeof(dup)))
			continue;
		failed |= cli_connect_one(&one);
	}
	free(e);
	return failed;
}

int cmd_connect_all(int argc, char **argv)
{
	static const char usage[] =
		"usage: tightrope connect-all -t tcp -a TRADDR [-s TRSVCID] [-q HOSTNQN] [connect's options, -S, -C]\n"
		"       tightrope connect-all [-J|--config FILE|none] [--units] [connect's options]\n"
		"Discover, then connect every NVMe subsystem the discovery log lists, each portal a path.\n"
		"Without -a, as nvme-cli does: every discovery controller /etc/nvme/discovery.conf lists (one\n"
		"line of these options each, '#' comments), and what /etc/nvme/config.json (libnvme's format;\n"
		"--config another file, or none) lists: subsystems connected directly, discovery controllers\n"
		"discovered and connected. TIGHTROPE_NVME_CONF_DIR replaces /etc/nvme for both files.\n"
		"--units: each controller (but those with secrets) as `systemctl start tightrope-connect@OPTS`\n"
		"instead of a host process of this command's own (tightrope-autoconnect.service).\n";
	struct conn_args a;
	int rc = parse_conn(argc, argv, &a, usage, 2);

	if (rc)
		return rc == 1 ? 0 : rc;
	if (a.metrics) { /* one endpoint per host process, and this starts one per subsystem */
		fprintf(stderr, "--metrics: one port per host process; give it to a connect of its own\n");
		return 2;
	}
	if (!a.o.traddr)
		return cli_autoconnect(argc, argv, &a);
	return cli_connect_discovered(&a);
}

/* Does 'dev' (trN, /dev/loopN or a FUSE file) belong to controller record 'r'? */
static bool owns_device(const struct hostd_record *r, const char *dev)
{
	if (!strcmp(r->name, dev) || (!strncmp(dev, "/dev/", 5) && !strcmp(r->name, dev + 5)))
		return true;
	for (int k = 0; k < r->nr_ns; k++)
		if (!strcmp(r->ns[k].loop, dev) || !strcmp(r->ns[k].file, dev))
			return true;
	return false;
}

static int disconnect_matching(const char *nqn, const char *dev, bool all)
{
	struct hostd_record *recs;
	int n = hostd_list(state_dir_path(), &recs), found = 0, failed = 0;

	for (int i = 0; i < n; i++) {
		const struct hostd_record *r = &recs[i];
		char why[320] = "";

		if (!all && !(nqn && !strcmp(r->subnqn, nqn)) && !(dev && owns_device(r, dev)))
			continue;
		found++;
		if (hostd_disconnect(state_dir_path(), r->name, why, sizeof(why))) {
			fprintf(stderr, "%s: %s\n", r->name, why);
			failed++;
		}
	}
	hostd_list_free(recs, n);
	if (nqn && !all)
		printf("NQN:%s disconnected %d controller(s)\n", nqn, found - failed);
	if (!found && !all) {
		fprintf(stderr, "no controller matches %s\n", nqn ? nqn : dev);
		return 1;
	}
	return failed ? 1 : 0;
}

int cmd_disconnect(int argc, char **argv)
{
	static const char usage[] = "usage: tightrope disconnect -n NQN | -d DEVICE (trN, /dev/loopN, /dev/ublkbN)\n";
	struct conn_args a;
	int rc = parse_conn(argc, argv, &a, usage, 2);

	if (rc)
		return rc == 1 ? 0 : rc;
	if (!a.o.subnqn && !a.device) {
		fputs(usage, stderr);
		return 2;
	}
	return disconnect_matching(a.o.subnqn, a.device, false);
}

int cmd_disconnect_all(int argc, char **argv)
{
	static const char usage[] = "usage: tightrope disconnect-all\nDisconnect every controller; clean up after dead host processes.\n";
	struct conn_args a;
	int rc = parse_conn(argc, argv, &a, usage, 2);

	if (rc)
		return rc == 1 ? 0 : rc;
	return disconnect_matching(NULL, NULL, true);
}

int cmd_id_ns(int argc, char **argv)
{
	static const char usage[] =
		"usage: tightrope id-ns -t tcp -a TRADDR [-s TRSVCID] -n NQN [-N NSID] [-q HOSTNQN]\n"
		"Connect to a controller and print a namespace's Identify Namespace data.\n";
	struct tr_ctrl *c;
	struct conn_args a;
	struct nvme_id_ns *id;
	char why[256] = "";
	int rc = parse_conn(argc, argv, &a, usage, true), err;

	if (rc)
		return rc == 1 ? 0 : rc;
	a.o.nr_io_queues = 1;
	if (tr_ctrl_connect(&a.o, &c, why, sizeof(why))) {
		fprintf(stderr, "failed to connect to %s at %s:%s: %s\n", a.o.subnqn, a.o.traddr, a.o.trsvcid, why);
		return 1;
	}
	id = aligned_alloc(4096, 4096);
	err = id ? tr_ctrl_identify(c, NVME_ID_CNS_NS, a.nsid, id) : -ENOMEM;
	if (!err) {
		printf("NVME Identify Namespace %u:\n", a.nsid);
		printf("nsze    : %#llx\nncap    : %#llx\nnuse    : %#llx\nnsfeat  : %#x\nnlbaf   : %u\nflbas   : %#x\n",
		       (unsigned long long)id->nsze, (unsigned long long)id->ncap, (unsigned long long)id->nuse, id->nsfeat,
		       id->nlbaf, id->flbas);
		for (int i = 0; i <= id->nlbaf && i < 64; i++)
			printf("lbaf %2d : ms:%-3u lbads:%-2u rp:%#x %s\n", i, id->lbaf[i].ms, id->lbaf[i].ds, id->lbaf[i].rp,
			       i == (id->flbas & 0xf) ? "(in use)" : "");
	} else {
		fprintf(stderr, "identify namespace %u: %s\n", a.nsid, tr_status_str(err));
	}
	free(id);
	tr_ctrl_disconnect(c);
	return err ? 1 : 0;
}
