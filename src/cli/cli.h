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

struct tr_ctrl_opts;
/* Fill in the host NQN and ID: given ones, else /etc/nvme/hostnqn|hostid, else one generated once
 * and kept in tightrope's state directory. 0 or -errno. */
int cli_host_identity(struct tr_ctrl_opts *o, const char *hostnqn, const char *hostid);
int cmd_id_ctrl(int argc, char **argv);
/* tightrope's state directory: $TIGHTROPE_STATE_DIR, else /var/lib/tightrope for root, else
 * ~/.local/state/tightrope. */
const char *cli_state_dir(char *buf, size_t len);

#endif
