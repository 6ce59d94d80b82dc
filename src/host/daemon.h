/* The per-controller host process behind `tightrope connect`: owns the controller, exposes each
 * namespace as a FUSE file and a loop block device, recovers from lost paths like the kernel. */
#ifndef TIGHTROPE_HOST_DAEMON_H
#define TIGHTROPE_HOST_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

#include "tightrope/host.h"

struct hostd_opts {
	struct tr_ctrl_opts conn;
	int reconnect_delay_s; /* default 10 */
	int ctrl_loss_tmo_s; /* default 600; -1 = forever */
	int fast_io_fail_tmo_s; /* default -1 = hold I/O until ctrl_loss_tmo */
	bool no_loop; /* only the FUSE file, no /dev/loopN */
	const char *state_dir;
};

/* Start a host process that connects and serves; returns once it is live (0, name set) or has
 * failed (-errno, 'why' set). The process keeps running after the caller exits. */
int hostd_connect(const struct hostd_opts *o, char *name, size_t namelen, char *why, size_t whylen);

struct hostd_record;

/* Every controller this host holds, as recorded by the host processes, with liveness checked (a
 * record whose process is gone says HREC_DEAD): their number, the records in *recs (NULL for none),
 * to be freed with hostd_list_free. */
int hostd_list(const char *state_dir, struct hostd_record **recs);
void hostd_list_free(struct hostd_record *recs, int n);

/* Orderly disconnect of one controller (by name, e.g. "tr0"); cleans up after a dead process. */
int hostd_disconnect(const char *state_dir, const char *name, char *why, size_t whylen);

#endif
