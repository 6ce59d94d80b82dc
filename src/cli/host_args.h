/* What the host-side subcommands (host.c, host_list.c) share: nvme-cli's connection flags as parsed,
 * and the state directory the host processes keep their records in. */
#ifndef TIGHTROPE_CLI_HOST_ARGS_H
#define TIGHTROPE_CLI_HOST_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "host/daemon.h"
#include "tightrope/host.h"

struct conn_args {
	struct tr_ctrl_opts o;
	bool json;
	int reconnect_delay, ctrl_loss_tmo, fast_io_fail_tmo;
	const char *device;
	uint32_t nsid;
	bool no_loop;
	enum hostd_blkdev blkdev;
	enum hostd_iopolicy iopolicy;
	bool iopolicy_set;
	bool foreground; /* connect: be the host process (systemd's tightrope-connect@.service) */
	const char *config; /* connect-all -J/--config: libnvme's JSON config, "none" for none */
	bool via_units; /* connect-all --units: each controller as a tightrope-connect@ unit */
	const char *metrics; /* connect --metrics ADDR:PORT */
};

/* Parse nvme-cli's connection flags; returns 0, or 1 when --help was given, or 2 on bad usage.
 * need_nqn: 0 = an address is needed, 1 = an address and -n, 2 = neither (local verbs). */
int parse_conn(int argc, char **argv, struct conn_args *a, const char *usage, int need_nqn);
const char *state_dir_path(void);
/* connect, as `tightrope connect` does it: 0 or 1 (said why). */
int cli_connect_one(const struct conn_args *a);
/* connect-all's work after discovery through a's address: 0, or 1 if anything failed. */
int cli_connect_discovered(const struct conn_args *a);
/* connect-all without an address: what /etc/nvme/discovery.conf and config.json list (autoconnect.c). */
int cli_autoconnect(int argc, char **argv, const struct conn_args *a);
/* Is a's subsystem attached through a's address already? */
bool cli_already_connected(const struct conn_args *a);
/* `systemctl start tightrope-connect@OPTIONS.service` for a's controller: 0, or 1 (said why). */
int cli_start_unit(const struct conn_args *a);

#endif
