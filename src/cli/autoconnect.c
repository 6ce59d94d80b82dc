/* `tightrope connect-all` without an address (tightrope-autoconnect.service at boot): the discovery
 * controllers /etc/nvme/discovery.conf lists, one line of connect-all's options each, and what
 * /etc/nvme/config.json (libnvme's JSON config: hosts[] with hostnqn, hostid, subsystems[] with nqn
 * and ports[]) lists, read the way nvme-cli reads them, so a box set up for nvme-cli attaches the
 * same subsystems through tightrope. What is connected already is left alone, so it can run again. */
#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/host_args.h"
#include "nvme/spec.h"
#include "tightrope/host.h"

#define MAX_ARGS 64
#define DEFAULT_DISC_TRSVCID "8009" /* a discovery line without --trsvcid: the discovery port */

struct argv_buf {
	char *v[MAX_ARGS + 1];
	int n;
	char store[MAX_ARGS][512]; /* "--key=value" strings made from JSON */
	int stored;
};

static const char *conf_dir(void)
{
	const char *env = getenv("TIGHTROPE_NVME_CONF_DIR");

	return env && *env ? env : "/etc/nvme";
}

static void arg_add(struct argv_buf *b, char *arg)
{
	if (b->n < MAX_ARGS)
		b->v[b->n++] = arg;
	b->v[b->n] = NULL;
}

static void arg_addf(struct argv_buf *b, const char *key, const char *value)
{
	if (b->stored == MAX_ARGS)
		return;
	snprintf(b->store[b->stored], sizeof(b->store[0]), "--%s%s%s", key, value ? "=" : "", value ? value : "");
	arg_add(b, b->store[b->stored++]);
}

/* connect-all's own command line first (argv[0] and its options), so each entry's options override them. */
static void args_start(struct argv_buf *b, int argc, char **argv)
{
	b->n = b->stored = 0;
	for (int i = 0; i < argc; i++)
		arg_add(b, argv[i]);
}

/* Connect what one entry names: a discovery controller's subsystems, or one subsystem. */
static int connect_entry(struct argv_buf *b, const char *where)
{
	static const char usage[] = "(an entry of discovery.conf or config.json: connect-all's options)\n";
	struct conn_args a;
	int rc = parse_conn(b->n, b->v, &a, usage, 2);

	if (rc) {
		fprintf(stderr, "%s: not understood; skipped\n", where);
		return 1;
	}
	if (!a.o.traddr)
		return 0; /* nvme-cli skips entries without an address as well */
	a.foreground = false;
	if (!a.o.subnqn || !strcmp(a.o.subnqn, NVME_DISC_SUBSYS_NQN))
		return cli_connect_discovered(&a);
	return cli_already_connected(&a) ? 0 : cli_connect_one(&a);
}

static int read_discovery_conf(int argc, char **argv)
{
	char path[4096], line[4096], where[4200];
	struct argv_buf b;
	int failed = 0, nr = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/discovery.conf", conf_dir());
	f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? 0 : (fprintf(stderr, "%s: %s\n", path, strerror(errno)), 1);
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *word;

		nr++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		args_start(&b, argc, argv);
		arg_addf(&b, "trsvcid", DEFAULT_DISC_TRSVCID);
		/* As nvme-cli splits it: on blanks and '=', so --traddr=X and --traddr X are the same. */
		while ((word = strsep(&p, " \t=\r\n")))
			if (*word)
				arg_add(&b, word);
		snprintf(where, sizeof(where), "%s:%d", path, nr);
		failed |= connect_entry(&b, where);
	}
	fclose(f);
	return failed;
}

/* A port of libnvme's config as connect options. */
static void port_args(struct argv_buf *b, json_object *port)
{
	static const char *const strings[][2] = {
		{ "traddr", "traddr" },		{ "trsvcid", "trsvcid" },
		{ "dhchap_key", "dhchap-secret" }, { "dhchap_ctrl_key", "dhchap-ctrl-secret" },
		{ "tls_key", "tls-key" },
	};
	static const char *const numbers[][2] = {
		{ "nr_io_queues", "nr-io-queues" },	  { "queue_size", "queue-size" },
		{ "keep_alive_tmo", "keep-alive-tmo" },	  { "reconnect_delay", "reconnect-delay" },
		{ "ctrl_loss_tmo", "ctrl-loss-tmo" },	  { "fast_io_fail_tmo", "fast_io_fail_tmo" },
	};
	static const char *const flags[][2] = {
		{ "hdr_digest", "hdr-digest" }, { "data_digest", "data-digest" }, { "tls", "tls" },
	};
	json_object *v;

	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		if (json_object_object_get_ex(port, strings[i][0], &v) && json_object_is_type(v, json_type_string))
			arg_addf(b, strings[i][1], json_object_get_string(v));
	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++)
		if (json_object_object_get_ex(port, numbers[i][0], &v) && json_object_is_type(v, json_type_int))
			arg_addf(b, numbers[i][1], json_object_get_string(v));
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (json_object_object_get_ex(port, flags[i][0], &v) && json_object_get_boolean(v))
			arg_addf(b, flags[i][1], NULL);
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

static json_object *jarray(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_array) ? v : NULL;
}

/* One host of the config: each subsystem's ports, each an entry. */
static int config_host(json_object *host, int argc, char **argv, const char *path)
{
	json_object *subs = jarray(host, "subsystems");
	int failed = 0;

	for (size_t i = 0; subs && i < json_object_array_length(subs); i++) {
		json_object *s = json_object_array_get_idx(subs, i), *ports = jarray(s, "ports");
		const char *nqn = jstr(s, "nqn");

		for (size_t j = 0; ports && j < json_object_array_length(ports); j++) {
			json_object *port = json_object_array_get_idx(ports, j), *disc;
			const char *transport = jstr(port, "transport");
			struct argv_buf b;
			char where[4200];

			if (!transport || strcmp(transport, "tcp"))
				continue; /* tightrope speaks tcp; the others stay the kernel's */
			args_start(&b, argc, argv);
			arg_addf(&b, "transport", "tcp");
			if (jstr(host, "hostnqn"))
				arg_addf(&b, "hostnqn", jstr(host, "hostnqn"));
			if (jstr(host, "hostid"))
				arg_addf(&b, "hostid", jstr(host, "hostid"));
			if (jstr(host, "dhchap_key"))
				arg_addf(&b, "dhchap-secret", jstr(host, "dhchap_key"));
			if (json_object_object_get_ex(port, "discovery", &disc) && json_object_get_boolean(disc))
				nqn = NVME_DISC_SUBSYS_NQN;
			if (nqn)
				arg_addf(&b, "nqn", nqn);
			if (!nqn || !strcmp(nqn, NVME_DISC_SUBSYS_NQN))
				arg_addf(&b, "trsvcid", DEFAULT_DISC_TRSVCID);
			port_args(&b, port);
			snprintf(where, sizeof(where), "%s: subsystem %s port %zu", path, nqn ? nqn : "?", j);
			failed |= connect_entry(&b, where);
		}
	}
	return failed;
}

static int read_config_json(const char *file, int argc, char **argv)
{
	char path[4096];
	json_object *root, *hosts;
	int failed = 0;

	if (file && !strcmp(file, "none"))
		return 0;
	snprintf(path, sizeof(path), "%s", file ? file : "");
	if (!file)
		snprintf(path, sizeof(path), "%s/config.json", conf_dir());
	if (!file && access(path, F_OK))
		return 0;
	root = json_object_from_file(path);
	/* libnvme writes an array of hosts; an object with "hosts" is taken too. */
	hosts = root && json_object_is_type(root, json_type_array) ? root : root ? jarray(root, "hosts") : NULL;
	if (!hosts) {
		fprintf(stderr, "%s: not libnvme's JSON config (an array of hosts)\n", path);
		json_object_put(root);
		return 1;
	}
	for (size_t i = 0; i < json_object_array_length(hosts); i++)
		failed |= config_host(json_object_array_get_idx(hosts, i), argc, argv, path);
	json_object_put(root);
	return failed;
}

int cli_autoconnect(int argc, char **argv, const struct conn_args *a)
{
	/* parse_conn will run again per entry: copy what it must not overwrite first. */
	char *config = a->config ? strdup(a->config) : NULL;
	int failed = read_discovery_conf(argc, argv);

	failed |= read_config_json(config, argc, argv);
	free(config);
	return failed;
}

/* systemd-escape's rules: [A-Za-z0-9:_.] stay (but a leading '.'), '/' is '-', the rest \xNN. */
static void unit_escape(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (const char *p = in; *p && o + 5 < len; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '/')
			out[o++] = '-';
		else if ((isalnum(c) || c == ':' || c == '_' || c == '.') && !(c == '.' && p == in))
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, len - o, "\\x%02x", c);
	}
	out[o] = 0;
}

/* The instance: the controller's options, those that differ from a plain `connect`'s. */
static void unit_options(const struct conn_args *a, char *out, size_t len)
{
	struct tr_ctrl_opts def;
	char hostnqn[NVME_NQN_SIZE];
	size_t o;

	snprintf(hostnqn, sizeof(hostnqn), "%s", a->o.hostnqn);
	tr_ctrl_opts_init(&def);
	cli_host_identity(&def, NULL, NULL);
	o = (size_t)snprintf(out, len, "-t tcp -a %s -s %s -n %s", a->o.traddr, a->o.trsvcid, a->o.subnqn);
	if (strcmp(hostnqn, def.hostnqn) && o < len)
		o += (size_t)snprintf(out + o, len - o, " -q %s", hostnqn);
	if (memcmp(a->o.hostid, def.hostid, sizeof(def.hostid)) && o < len) {
		const uint8_t *h = a->o.hostid;

		o += (size_t)snprintf(out + o, len - o,
				      " -I %02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", h[0],
				      h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13],
				      h[14], h[15]);
	}
	if (a->o.hdr_digest && o < len)
		o += (size_t)snprintf(out + o, len - o, " -g");
	if (a->o.data_digest && o < len)
		o += (size_t)snprintf(out + o, len - o, " -G");
	if (a->o.tls && o < len)
		snprintf(out + o, len - o, " --tls");
}

int cli_start_unit(const struct conn_args *a)
{
	char opts[1024], esc[4096], unit[4200];
	int status;
	pid_t pid;

	unit_options(a, opts, sizeof(opts));
	unit_escape(opts, esc, sizeof(esc));
	snprintf(unit, sizeof(unit), "tightrope-connect@%s.service", esc);
	if (strlen(unit) > 255) { /* systemd's limit on a unit name */
		fprintf(stderr, "%s: too long for a unit name; connecting without one\n", opts);
		struct conn_args direct = *a;

		direct.via_units = false;
		return cli_connect_one(&direct);
	}
	pid = fork();
	if (pid == 0) {
		execlp("systemctl", "systemctl", "--no-block", "start", unit, (char *)NULL);
		fprintf(stderr, "systemctl: %s\n", strerror(errno));
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "failed to start %s\n", unit);
		return 1;
	}
	printf("started unit: %s\n", unit);
	return 0;
}
