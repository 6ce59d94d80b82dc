/* `tightrope ctl`: send one request to a running target's control socket and print the reply. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/cli.h"
#include "target/backend.h"
#include "target/control.h"
#include "util/parse.h"

#define REPLY_CHUNK 4096 /* room kept free for each recv() of the reply */
#define REPLY_START 65536 /* first reply buffer; doubled as needed */

static void ctl_usage(FILE *out)
{
	fprintf(out,
		"usage: tightrope ctl [-S SOCKET] [-o json] <request>\n"
		"\n"
		"  list                                  subsystems, namespaces, controllers, queue counters\n"
		"  add-ns SUBSYS PATH [--nsid N] [--readonly] [--buffered]\n"
		"  remove-ns SUBSYS NSID\n"
		"  resize-ns SUBSYS NSID SIZE [--force]  grow or shrink a file namespace (64M, 2G ...); hosts get\n"
		"                                        a namespace notice and pick the size up connected.\n"
		"                                        Shrinking past written data needs --force. A device\n"
		"                                        or file grown from outside is noticed by itself\n"
		"  allow-host SUBSYS HOSTNQN             undoes forbid-host; on a subsystem that lists\n"
		"                                        hosts, adds it (and only listed hosts may connect)\n"
		"  forbid-host SUBSYS HOSTNQN            shut one host out and tear down all its controllers:\n"
		"                                        denied on a subsystem open to any host, taken off\n"
		"                                        the list of one that lists hosts\n"
		"  set-host-auth HOSTNQN [--dhchap-secret KEY] [--dhchap-ctrl-secret KEY]\n"
		"                [--dhchap-hash HASH] [--dhchap-dhgroup GROUP] [--tls-key KEY]\n"
		"                                        the host's DH-HMAC-CHAP settings (nvmet's dhchap_*)\n"
		"                                        and TLS PSK;\n"
		"                                        an empty secret removes it. Its next authentication\n"
		"                                        (a new connection, or a re-authentication) uses them\n"
		"  set-ana PORTID GROUP STATE            ANA group GROUP's state on port PORTID (nvmet's\n"
		"                                        ana_groups/GROUP/ana/state): optimized, non-optimized,\n"
		"                                        inaccessible, persistent-loss or change; hosts\n"
		"                                        connected through the port get an ANA change event\n"
		"  save [PATH]                           write the running config (default: the --config file)\n"
		"  reload [PATH]                         read the config again (default: the --config file) and\n"
		"                                        apply the difference: connections it still allows stay;\n"
		"                                        a config with an error changes nothing (SIGHUP: the same)\n");
}

static json_object *ctl_request(const char *path, json_object *req)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const char *out = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	char *buf = NULL;
	size_t have = 0, cap = 0;
	json_object *reply;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		fprintf(stderr, "tightrope: cannot reach the target's control socket %s: %s\n", path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (send(fd, out, strlen(out), MSG_NOSIGNAL) < 0 || send(fd, "\n", 1, MSG_NOSIGNAL) < 0) {
		fprintf(stderr, "tightrope: control socket: %s\n", strerror(errno));
		close(fd);
		return NULL;
	}
	for (;;) {
		ssize_t n;

		if (have + REPLY_CHUNK + 1 > cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : REPLY_START);

			if (!nb)
				break;
			buf = nb;
		}
		n = recv(fd, buf + have, cap - have - 1, 0);
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	close(fd);
	if (!buf)
		return NULL;
	buf[have] = 0;
	reply = json_tokener_parse(buf);
	free(buf);
	if (!reply)
		fprintf(stderr, "tightrope: the target's reply is not JSON\n");
	return reply;
}

/* Each port, with its ANA groups' states. */
static void print_ports(json_object *reply)
{
	json_object *ports, *v, *groups;

	if (!json_object_object_get_ex(reply, "ports", &ports))
		return;
	for (size_t i = 0; i < json_object_array_length(ports); i++) {
		json_object *p = json_object_array_get_idx(ports, i), *a, *b;

		json_object_object_get_ex(p, "portid", &v);
		json_object_object_get_ex(p, "traddr", &a);
		json_object_object_get_ex(p, "trsvcid", &b);
		printf("port %d  %s:%s", json_object_get_int(v), json_object_get_string(a), json_object_get_string(b));
		if (json_object_object_get_ex(p, "discovery_only", &v) && json_object_get_boolean(v))
			printf("  discovery");
		else if (json_object_object_get_ex(p, "ana_groups", &groups))
			for (size_t j = 0; j < json_object_array_length(groups); j++) {
				json_object *g = json_object_array_get_idx(groups, j);

				json_object_object_get_ex(g, "grpid", &a);
				json_object_object_get_ex(g, "state", &b);
				printf("%s ANA group %d %s", j ? "," : " ", json_object_get_int(a), json_object_get_string(b));
			}
		printf("\n");
	}
}

static void print_list(json_object *reply)
{
	json_object *subs, *v;

	print_ports(reply);

	if (!json_object_object_get_ex(reply, "subsystems", &subs))
		return;
	for (size_t i = 0; i < json_object_array_length(subs); i++) {
		json_object *s = json_object_array_get_idx(subs, i), *nss, *ctrls;

		json_object_object_get_ex(s, "nqn", &v);
		printf("%s\n", json_object_get_string(v));
		if (json_object_object_get_ex(s, "namespaces", &nss)) {
			for (size_t j = 0; j < json_object_array_length(nss); j++) {
				json_object *n = json_object_array_get_idx(nss, j), *a, *b, *c;

				json_object_object_get_ex(n, "nsid", &a);
				json_object_object_get_ex(n, "path", &b);
				json_object_object_get_ex(n, "size", &c);
				printf("  ns %d  %s  %lld bytes\n", json_object_get_int(a), json_object_get_string(b),
				       (long long)json_object_get_int64(c));
			}
		}
		if (json_object_object_get_ex(s, "controllers", &ctrls)) {
			for (size_t j = 0; j < json_object_array_length(ctrls); j++) {
				json_object *c = json_object_array_get_idx(ctrls, j), *a, *b, *q;

				json_object_object_get_ex(c, "cntlid", &a);
				json_object_object_get_ex(c, "hostnqn", &b);
				json_object_object_get_ex(c, "queues", &q);
				printf("  ctrl %d  host %s  %zu queues\n", json_object_get_int(a),
				       json_object_get_string(b), json_object_array_length(q));
			}
		}
	}
}

/* An NSID from the command line; false, said on stderr, if it is not one. */
static bool parse_nsid(const char *arg, long *nsid)
{
	if (!tr_parse_long(arg, 1, UINT32_MAX, nsid))
		return true;
	fprintf(stderr, "tightrope: ctl: %s: expected a namespace ID (1..%u)\n", arg, UINT32_MAX);
	return false;
}

/* The reply as the verb wants it shown: JSON, a forbid-host summary, the list, or the error. */
static void print_reply(json_object *reply, int rc, bool json, const char *verb, char **args)
{
	if (json || (rc == 0 && strcmp(verb, "list") && strcmp(verb, "forbid-host"))) {
		printf("%s\n", json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PRETTY));
	} else if (rc == 0 && !strcmp(verb, "forbid-host")) {
		json_object *n;
		int dropped = json_object_object_get_ex(reply, "dropped", &n) ? json_object_get_int(n) : 0;

		printf("forbade %s on %s: %d controller%s dropped\n", args[1], args[0], dropped, dropped == 1 ? "" : "s");
	} else if (rc == 0) {
		print_list(reply);
	} else {
		json_object *e;

		json_object_object_get_ex(reply, "error", &e);
		fprintf(stderr, "tightrope: ctl %s: %s\n", verb, json_object_get_string(e));
	}
}

/* set-ana PORTID GROUP STATE into the request; false, said on stderr, if a number is not one. The
 * target checks the ranges and the state's name. */
static bool set_ana_request(json_object *req, char **args)
{
	long portid, grpid;

	if (tr_parse_long(args[0], 0, UINT16_MAX, &portid) || tr_parse_long(args[1], 1, UINT32_MAX, &grpid)) {
		fprintf(stderr, "tightrope: ctl set-ana: PORTID and GROUP are numbers\n");
		return false;
	}
	json_object_object_add(req, "portid", json_object_new_int64(portid));
	json_object_object_add(req, "grpid", json_object_new_int64(grpid));
	json_object_object_add(req, "state", json_object_new_string(args[2]));
	return true;
}

/* What the options said, for the request's fields. */
struct ctl_flags {
	/* set-host-auth's fields, by option letter, as the control socket names them. */
	const char *auth[5];
	bool readonly, buffered, force;
	long nsid;
};

static const char *const auth_keys[5] = { "dhchap_key", "dhchap_ctrl_key", "dhchap_hash", "dhchap_dhgroup",
					  "tls_key" };

/* reload [PATH]: the path made absolute, since the target's working directory is not ours; 0 or 1. */
static int reload_request(json_object *req, char **args, int nargs)
{
	char *abs = nargs ? realpath(args[0], NULL) : NULL;

	if (nargs && !abs) {
		fprintf(stderr, "tightrope: ctl reload %s: %s\n", args[0], strerror(errno));
		return 1;
	}
	if (abs)
		json_object_object_add(req, "path", json_object_new_string(abs));
	free(abs);
	return 0;
}

/* resize-ns SUBSYS NSID SIZE [--force]; false, said on stderr, if NSID or SIZE is not one. */
static bool resize_request(json_object *req, char **args, const struct ctl_flags *f)
{
	long nsid;
	uint64_t size;

	if (!parse_nsid(args[1], &nsid))
		return false;
	if (tgt_parse_size(args[2], &size)) {
		fprintf(stderr, "tightrope: ctl resize-ns: %s: expected a size (bytes, or 64M, 2G ...)\n", args[2]);
		return false;
	}
	json_object_object_add(req, "subsys", json_object_new_string(args[0]));
	json_object_object_add(req, "nsid", json_object_new_int64(nsid));
	json_object_object_add(req, "size", json_object_new_int64((int64_t)size));
	json_object_object_add(req, "force", json_object_new_boolean(f->force));
	return true;
}

/* The verb's arguments into the request: 0, 1 (a path that is not there), 2 (usage). */
static int fill_request(json_object *req, const char *verb, char **args, int nargs, const struct ctl_flags *f)
{
	long nsid;

	if (!strcmp(verb, "add-ns") && nargs == 2) {
		json_object_object_add(req, "subsys", json_object_new_string(args[0]));
		json_object_object_add(req, "path", json_object_new_string(args[1]));
		json_object_object_add(req, "nsid", json_object_new_int64(f->nsid));
		json_object_object_add(req, "readonly", json_object_new_boolean(f->readonly));
		json_object_object_add(req, "buffered", json_object_new_boolean(f->buffered));
	} else if (!strcmp(verb, "remove-ns") && nargs == 2 && parse_nsid(args[1], &nsid)) {
		json_object_object_add(req, "subsys", json_object_new_string(args[0]));
		json_object_object_add(req, "nsid", json_object_new_int64(nsid));
	} else if (!strcmp(verb, "resize-ns") && nargs == 3) {
		return resize_request(req, args, f) ? 0 : 2;
	} else if ((!strcmp(verb, "allow-host") || !strcmp(verb, "forbid-host")) && nargs == 2) {
		json_object_object_add(req, "subsys", json_object_new_string(args[0]));
		json_object_object_add(req, "host", json_object_new_string(args[1]));
	} else if (!strcmp(verb, "set-host-auth") && nargs == 1) {
		json_object_object_add(req, "host", json_object_new_string(args[0]));
		for (int i = 0; i < 5; i++)
			if (f->auth[i])
				json_object_object_add(req, auth_keys[i], json_object_new_string(f->auth[i]));
	} else if (!strcmp(verb, "set-ana") && nargs == 3) {
		return set_ana_request(req, args) ? 0 : 2;
	} else if (!strcmp(verb, "reload") && nargs <= 1) {
		return reload_request(req, args, nargs);
	} else if (!strcmp(verb, "save") && nargs <= 1) {
		if (nargs)
			json_object_object_add(req, "path", json_object_new_string(args[0]));
	} else if (!(!strcmp(verb, "list") && nargs == 0)) {
		fprintf(stderr, "tightrope: ctl %s: wrong arguments\n", verb);
		ctl_usage(stderr);
		return 2;
	}
	return 0;
}

int cmd_ctl(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 'S' }, { "output-format", required_argument, NULL, 'o' },
		{ "nsid", required_argument, NULL, 'n' },   { "readonly", no_argument, NULL, 'r' },
		{ "buffered", no_argument, NULL, 'b' },     { "help", no_argument, NULL, 'h' },
		{ "force", no_argument, NULL, 'f' },
		{ "dhchap-secret", required_argument, NULL, 'K' },
		{ "dhchap-ctrl-secret", required_argument, NULL, 'C' },
		{ "dhchap-hash", required_argument, NULL, 'H' },
		{ "dhchap-dhgroup", required_argument, NULL, 'G' },
		{ "tls-key", required_argument, NULL, 'T' },
		{ 0 },
	};
	struct ctl_flags f = { .nsid = 0 };
	const char *path = TGT_DEFAULT_CTL_PATH, *verb;
	bool json = false;
	json_object *req, *reply, *ok;
	int c, rc;

	while ((c = getopt_long(argc, argv, "S:o:n:rbfh", opts, NULL)) != -1) {
		switch (c) {
		case 'K': f.auth[0] = optarg; break;
		case 'C': f.auth[1] = optarg; break;
		case 'H': f.auth[2] = optarg; break;
		case 'G': f.auth[3] = optarg; break;
		case 'T': f.auth[4] = optarg; break;
		case 'S': path = optarg; break;
		case 'o': json = !strcmp(optarg, "json"); break;
		case 'n': if (!parse_nsid(optarg, &f.nsid)) return 2; break;
		case 'r': f.readonly = true; break;
		case 'b': f.buffered = true; break;
		case 'f': f.force = true; break;
		case 'h': ctl_usage(stdout); return 0;
		default: ctl_usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		ctl_usage(stderr);
		return 2;
	}
	verb = argv[optind++];
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string(verb));
	rc = fill_request(req, verb, argv + optind, argc - optind, &f);
	if (rc) {
		json_object_put(req);
		return rc;
	}
	reply = ctl_request(path, req);
	json_object_put(req);
	if (!reply)
		return 1;
	rc = json_object_object_get_ex(reply, "ok", &ok) && json_object_get_boolean(ok) ? 0 : 1;
	print_reply(reply, rc, json, verb, argv + optind);
	json_object_put(reply);
	return rc;
}
