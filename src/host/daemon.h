/* The host process behind `tightrope connect`, one per subsystem: owns a path per controller, exposes
 * each namespace once as a FUSE file and a block device (ublk, else loop), routes I/O over the paths by ANA state
 * and I/O policy, and recovers each lost path like the kernel. */
#ifndef TIGHTROPE_HOST_DAEMON_H
#define TIGHTROPE_HOST_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

#include "tightrope/host.h"

/* The kernel's iopolicy names: numa (the first usable optimized path, kept while it lasts),
 * round-robin (optimized paths in turn), queue-depth (the optimized path with the least in flight). */
enum hostd_iopolicy { HOSTD_IOPOLICY_NUMA, HOSTD_IOPOLICY_RR, HOSTD_IOPOLICY_QD };

/* Which block device each namespace gets: ublk where the kernel has it (else the loop device), or one of them. */
enum hostd_blkdev { HOSTD_BLKDEV_AUTO, HOSTD_BLKDEV_LOOP, HOSTD_BLKDEV_UBLK };

/* The kernel has ublk (/dev/ublk-control is there: modprobe ublk_drv). */
bool ublk_supported(void);

struct hostd_opts {
	struct tr_ctrl_opts conn;
	int reconnect_delay_s; /* default 10 */
	int ctrl_loss_tmo_s; /* default 600; -1 = forever */
	int fast_io_fail_tmo_s; /* default -1 = hold I/O until ctrl_loss_tmo */
	bool no_loop; /* only the FUSE file, no block device */
	enum hostd_blkdev blkdev;
	const char *state_dir;
	enum hostd_iopolicy iopolicy;
	bool iopolicy_set; /* given on the command line: an added path sets the subsystem's too */
	/* Be the host process instead of starting one (a systemd unit's Type=notify main process):
	 * logs to stderr, READY=1 to systemd once live, and hostd_connect returns only on failure. */
	bool foreground;
	const char *metrics; /* --metrics ADDR:PORT: the process's Prometheus endpoint (NULL: none) */
};

/* The policy named 'name' ("numa", "round-robin", "queue-depth"); -EINVAL for another. */
int hostd_iopolicy_parse(const char *name, enum hostd_iopolicy *out);

/* Start a host process that connects and serves; returns once it is live (0, name set) or has
 * failed (-errno, 'why' set). The process keeps running after the caller exits. */
int hostd_connect(const struct hostd_opts *o, char *name, size_t namelen, char *why, size_t whylen);

struct hostd_record;

/* Add a path to the host process of a subsystem that has one: its control socket is 'sock'. Returns
 * once the path is live (0, its name set) or refused (-errno, 'why' set). */
int hostd_add_path(const char *sock, const struct hostd_opts *o, char *name, size_t namelen, char *why,
		   size_t whylen);

/* Every controller this host holds, as recorded by the host processes, with liveness checked (a
 * record whose process is gone says HREC_DEAD): their number, the records in *recs (NULL for none),
 * to be freed with hostd_list_free. */
int hostd_list(const char *state_dir, struct hostd_record **recs);
void hostd_list_free(struct hostd_record *recs, int n);

/* Orderly disconnect of one path (by name, e.g. "tr0"; the host process ends with its last path);
 * cleans up after a dead process. */
int hostd_disconnect(const char *state_dir, const char *name, char *why, size_t whylen);

#endif
