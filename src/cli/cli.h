/* Subcommands of the `tightrope` command: each parses its arguments and calls the library. */
#ifndef TIGHTROPE_CLI_H
#define TIGHTROPE_CLI_H

int cmd_target(int argc, char **argv);
int cmd_ctl(int argc, char **argv);
int cmd_discover(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_connect(int argc, char **argv);
int cmd_connect_all(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_list_subsys(int argc, char **argv);
int cmd_disconnect(int argc, char **argv);
int cmd_disconnect_all(int argc, char **argv);
int cmd_id_ns(int argc, char **argv);
int cmd_gen_dhchap_key(int argc, char **argv);
int cmd_check_dhchap_key(int argc, char **argv);
int cmd_gen_tls_key(int argc, char **argv);
int cmd_check_tls_key(int argc, char **argv);

struct tr_ctrl_opts;

/* Poll mode (--poll-us on target and bench, --poll for this default): spin this long after the last
 * I/O before sleeping. 50 us covers a QD1 round trip on loopback with room to spare. */
#define CLI_DEFAULT_POLL_US 50
#define CLI_MAX_POLL_US 1000000

/* opts.c: the flags naming a controller and the host (nvme-cli's names): getopt_long entries and
 * short options for the commands that take them, and their parser. */
#define CLI_CONN_SHORTOPTS "t:a:s:n:q:I:gGS:C:"
/* Long-only options (nvme-cli has no letters for them). */
#define CLI_OPT_TLS 0x180
#define CLI_OPT_TLS_KEY 0x181
#define CLI_CONN_OPTIONS                                         \
	{ "transport", required_argument, NULL, 't' },           \
	{ "traddr", required_argument, NULL, 'a' },              \
	{ "trsvcid", required_argument, NULL, 's' },             \
	{ "nqn", required_argument, NULL, 'n' },                 \
	{ "hostnqn", required_argument, NULL, 'q' },             \
	{ "hostid", required_argument, NULL, 'I' },              \
	{ "hdr-digest", no_argument, NULL, 'g' },                \
	{ "data-digest", no_argument, NULL, 'G' },               \
	{ "dhchap-secret", required_argument, NULL, 'S' },       \
	{ "dhchap-ctrl-secret", required_argument, NULL, 'C' },  \
	{ "tls", no_argument, NULL, CLI_OPT_TLS },               \
	{ "tls-key", required_argument, NULL, CLI_OPT_TLS_KEY }

/* Where they go: the controller options, and the host's identity to settle once all are read. */
struct cli_conn {
	struct tr_ctrl_opts *o;
	const char *hostnqn, *hostid;
};

/* Take option 'c' if it is one of these: 0 when taken, 1 when it is none of them, -EPROTONOSUPPORT
 * for a transport other than tcp (the command says so in its own words). A DH-HMAC-CHAP secret is
 * copied and overwritten in place, in argv: the host process behind `connect` is a fork of this one
 * and would show it in /proc/PID/cmdline for as long as it runs. */
int cli_conn_option(int c, char *arg, struct cli_conn *cc);

/* Fill in the host NQN and ID: given ones, else /etc/nvme/hostnqn|hostid, else one generated once
 * and kept in tightrope's state directory. 0 or -errno. */
int cli_host_identity(struct tr_ctrl_opts *o, const char *hostnqn, const char *hostid);
int cmd_id_ctrl(int argc, char **argv);
/* tightrope's state directory: $TIGHTROPE_STATE_DIR, else /var/lib/tightrope for root, else
 * ~/.local/state/tightrope. */
const char *cli_state_dir(char *buf, size_t len);

#endif
