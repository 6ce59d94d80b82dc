/* Host-side subcommands with nvme-cli's flags and output: discover, id-ctrl. Also the shared
 * connection options and the host NQN/ID that is generated once and kept. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "nvme/spec.h"
#include "tightrope/host.h"
#include "util/log.h"

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

static const char *state_dir(char *buf, size_t len)
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
		state_dir(dir, sizeof(dir));
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

static const struct option conn_long[] = {
	{ "transport", required_argument, NULL, 't' },
	{ "traddr", required_argument, NULL, 'a' },
	{ "trsvcid", required_argument, NULL, 's' },
	{ "nqn", required_argument, NULL, 'n' },
	{ "hostnqn", required_argument, NULL, 'q' },
	{ "hostid", required_argument, NULL, 'I' },
	{ "nr-io-queues", required_argument, NULL, 'i' },
	{ "queue-size", required_argument, NULL, 'Q' },
	{ "keep-alive-tmo", required_argument, NULL, 'k' },
	{ "hdr-digest", no_argument, NULL, 'g' },
	{ "data-digest", no_argument, NULL, 'G' },
	{ "output-format", required_argument, NULL, 'o' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 } };

struct conn_args {
	struct tr_ctrl_opts o;
	bool json;
};

static long parse_num(const char *s, const char *what, long min, long max)
{
	char *end;
	long v = strtol(s, &end, 0);

	if (*s == 0 || *end || v < min || v > max) {
		fprintf(stderr, "invalid %s '%s' (%ld..%ld)\n", what, s, min, max);
		exit(2);
	}
	return v;
}

/* Parse nvme-cli's connection flags; returns 0, or 1 when --help was given, or 2 on bad usage. */
static int parse_conn(int argc, char **argv, struct conn_args *a, const char *usage, bool need_nqn)
{
	const char *hostnqn = NULL, *hostid = NULL;
	int c;

	tr_ctrl_opts_init(&a->o);
	a->json = false;
	optind = 1;
	while ((c = getopt_long(argc, argv, "t:a:s:n:q:I:i:Q:k:gGo:vh", conn_long, NULL)) != -1) {
		switch (c) {
		case 't':
			if (strcmp(optarg, "tcp")) {
				fprintf(stderr, "transport '%s' is not supported: tightrope speaks tcp\n", optarg);
				return 2;
			}
			break;
		case 'a': a->o.traddr = optarg; break;
		case 's': a->o.trsvcid = optarg; break;
		case 'n': a->o.subnqn = optarg; break;
		case 'q': hostnqn = optarg; break;
		case 'I': hostid = optarg; break;
		case 'i': a->o.nr_io_queues = (int)parse_num(optarg, "nr-io-queues", 1, 1024); break;
		case 'Q': a->o.queue_size = (int)parse_num(optarg, "queue-size", 16, 1024); break;
		case 'k': a->o.kato_s = (int)parse_num(optarg, "keep-alive-tmo", 0, 65535); break;
		case 'g': a->o.hdr_digest = true; break;
		case 'G': a->o.data_digest = true; break;
		case 'o':
			if (strcmp(optarg, "json") && strcmp(optarg, "normal")) {
				fprintf(stderr, "output format '%s': use normal or json\n", optarg);
				return 2;
			}
			a->json = !strcmp(optarg, "json");
			break;
		case 'v': tr_log_set_level(TR_LOG_DEBUG); break;
		case 'h': fputs(usage, stdout); return 1;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (!a->o.traddr || (need_nqn && !a->o.subnqn)) {
		fprintf(stderr, "%s is required\n%s", !a->o.traddr ? "--traddr (-a)" : "--nqn (-n)", usage);
		return 2;
	}
	return cli_host_identity(&a->o, hostnqn, hostid) ? 2 : 0;
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

int cmd_discover(int argc, char **argv)
{
	static const char usage[] =
		"usage: tightrope discover -t tcp -a TRADDR [-s TRSVCID] [-q HOSTNQN] [-I HOSTID] [-g] [-G] [-o json]\n"
		"Connect to the discovery controller at TRADDR:TRSVCID (default 4420) and print its log.\n";
	struct nvmf_disc_log_entry *e = NULL;
	struct conn_args a;
	uint64_t nr = 0, gen = 0;
	char why[256] = "";
	int rc = parse_conn(argc, argv, &a, usage, false), err;

	if (rc)
		return rc == 1 ? 0 : rc;
	err = tr_discover(&a.o, &e, &nr, &gen, why, sizeof(why));
	if (err) {
		fprintf(stderr, "failed to discover at %s:%s: %s\n", a.o.traddr, a.o.trsvcid, why[0] ? why : tr_status_str(err));
		return 1;
	}
	if (a.json)
		printf("{\n  \"genctr\":%llu,\n  \"records\":[\n", (unsigned long long)gen);
	else
		printf("\nDiscovery Log Number of Records %llu, Generation counter %llu\n", (unsigned long long)nr,
		       (unsigned long long)gen);
	for (uint64_t i = 0; i < nr; i++) {
		char treq[96], eflags[128], svc[NVMF_TRSVCID_SIZE + 1], addr[NVMF_TRADDR_SIZE + 1],
			nqn[NVME_NQN_SIZE + 1];

		treq_str(e[i].treq, treq, sizeof(treq));
		eflags_str(e[i].eflags, eflags, sizeof(eflags));
		field(svc, e[i].trsvcid, sizeof(e[i].trsvcid));
		field(addr, e[i].traddr, sizeof(e[i].traddr));
		field(nqn, e[i].subnqn, sizeof(e[i].subnqn));
		if (a.json) {
			printf("    {\n");
			json_str("trtype", trtype_str(e[i].trtype), false);
			json_str("adrfam", adrfam_str(e[i].adrfam), false);
			json_str("subtype", subtype_str(e[i].subtype), false);
			json_str("treq", treq, false);
			printf("      \"portid\":%u,\n", e[i].portid);
			json_str("trsvcid", svc, false);
			json_str("subnqn", nqn, false);
			json_str("traddr", addr, false);
			json_str("eflags", eflags, false);
			json_str("sectype", e[i].tsas[0] == 0 ? "none" : "tls", true);
			printf("    }%s\n", i + 1 < nr ? "," : "");
		} else {
			printf("=====Discovery Log Entry %llu======\n", (unsigned long long)i);
			printf("trtype:  %s\nadrfam:  %s\nsubtype: %s\ntreq:    %s\nportid:  %u\ntrsvcid: %s\n",
			       trtype_str(e[i].trtype), adrfam_str(e[i].adrfam), subtype_str(e[i].subtype), treq,
			       e[i].portid, svc);
			printf("subnqn:  %s\ntraddr:  %s\neflags:  %s\n", nqn, addr, eflags);
			if (e[i].trtype == NVMF_TRTYPE_TCP)
				printf("sectype: %s\n", e[i].tsas[0] == 0 ? "none" : "tls");
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
