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
	const char *metrics; /* connect --metrics ADDR:PORT */
};

/* Parse nvme-cli's connection flags; returns 0, or 1 when --help was given, or 2 on bad usage.
 * need_nqn: 0 = an address is needed, 1 = an address and -n, 2 = neither (local verbs). */
int parse_conn(int argc, char **argv, struct conn_args *a, const char *usage, int need_nqn);
const char *state_dir_path(void);

#endif
