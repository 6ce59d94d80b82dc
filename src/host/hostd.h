/* Inside the host process behind `tightrope connect`: one process per subsystem (subsystem NQN and
 * host NQN) holding one path per controller, as the kernel's native NVMe multipath holds one ns head
 * over its controllers. Its state, and what its files (daemon.c, path.c, mpath.c, io.c, fuse.c,
 * loopdev.c, ublk.c) call in each other. Not for the CLI: that uses daemon.h and record.h. */
#ifndef TIGHTROPE_HOST_HOSTD_H
#define TIGHTROPE_HOST_HOSTD_H

#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "host/ana.h"
#include "host/blkreq.h"
#include "host/daemon.h"

#define MAX_NS 64
#define MAX_PATHS 8
#define ROOT_INO 1

/* The process: STARTING until its first path is live and the FUSE view is up, LIVE while it serves,
 * DELETING once the last path went (disconnect, ctrl_loss_tmo) or the mount did. hostd_set_state()
 * is the only place it changes. */
enum hostd_state {
	HS_STARTING,
	HS_LIVE,
	HS_DELETING,
};

/* One path (one controller), with the kernel's error recovery of its own. NEW: being connected for
 * `connect` (not used for I/O yet). CONNECTING holds I/O for the path to come back, FAILING_FAST
 * (its fast_io_fail_tmo passed) no longer does; DELETING: being removed, drained of what it
 * carries. path_set_state() is the only place it changes. */
enum path_state {
	PS_NEW,
	PS_LIVE,
	PS_CONNECTING,
	PS_FAILING_FAST,
	PS_DELETING,
};

struct loop_job;
struct ublk_dev;

/* What one path says of one namespace. */
struct ns_path {
	bool present; /* in the path's active namespace list */
	bool ana_pending; /* an ANA status came back: not used until the ANA log is read again */
	uint32_t grpid; /* its ANA group on that path */
};

/* One namespace: one FUSE file and one block device (ublk or loop), however many paths reach it. */
struct ns_dev {
	uint32_t nsid;
	uint64_t nsze;
	uint32_t lba_shift;
	uint8_t nguid[16], eui64[8], uuid[16]; /* what the paths must agree on */
	char loop[32]; /* its block device: /dev/loopN, or /dev/ublkbN (ublk.c) */
	struct loop_job *job;
	struct ublk_dev *ublk; /* its ublk device, when it has one */
	int current; /* the path numa and round-robin last chose, -1 for none */
	struct ns_path on[MAX_PATHS];
};

/* What a controller reports of its namespaces and ANA groups, read off the event loop's data. */
struct ns_info {
	uint32_t nsid;
	uint64_t nsze;
	uint32_t lba_shift;
	uint32_t anagrpid;
	uint8_t nguid[16], eui64[8], uuid[16];
};

struct path_view {
	int nr;
	struct ns_info ns[MAX_NS];
	bool have_ana; /* CMIC.ANA: 'ana' holds the log page */
	struct ana_table ana;
};

struct hostd;
struct hostd_metrics;

/* A path's counters for `connect --metrics` (hostd_metrics.c): cumulative over its reconnects,
 * written and read by the event loop only. */
#define HM_OPS (BLKREQ_ZEROES + 1) /* by enum blkreq_kind */
struct hpath_metrics {
	uint64_t cmds[HM_OPS]; /* commands sent */
	uint64_t bytes[HM_OPS]; /* their data (read and write) */
	uint64_t errors; /* answered with an error, or failed by the transport */
	uint64_t failovers; /* answered with a path error: the request went again elsewhere */
	uint64_t recoveries; /* error recoveries started */
	uint64_t reconnects; /* successful ones */
};

struct hpath {
	struct hostd *h;
	int idx;
	bool used;
	char name[16]; /* "trN": its record is STATE_DIR/ctrl/trN.json */
	char json_path[PATH_MAX];
	struct hostd_opts o; /* o.conn's strings point into this struct and the hostd */
	char traddr[NVMF_TRADDR_SIZE + 1], trsvcid[NVMF_TRSVCID_SIZE + 1];
	char *secret, *ctrl_secret, *tls_key; /* until the first connect parsed them, then wiped */
	struct tr_ctrl *ctrl;
	struct tr_ctrl *job_ctrl; /* a new path's controller, while its connect runs */
	/* Copied from the controller at adoption: a reconnect rewrites its Identify data in its thread. */
	uint16_t cntlid;
	uint8_t cmic;
	enum tr_auth auth;
	char serial[21], model[41], firmware[9];
	enum path_state state;
	int attempt;
	uint64_t lost_ns, next_attempt_ns;
	char last_error[256];
	bool ana; /* the controller reports ANA (CMIC bit 3) */
	struct ana_table ana_tbl;
	bool ana_stale; /* read the ANA log again (at ana_retry_ns) */
	uint64_t ana_retry_ns;
	unsigned rr; /* commands sent through its I/O queues: which queue is next (io.c) */
	uint64_t cmds; /* commands sent on this path */
	struct hpath_metrics m;
	/* A connect or reconnect runs in a thread of its own, so the other paths keep serving. */
	pthread_t job;
	bool job_running;
	_Atomic bool job_done;
	int job_err;
	char job_why[256];
	struct path_view *view;
	int reply_fd; /* the `connect` or `disconnect` waiting for this path, or -1 */
};

/* How a front end other than FUSE (ublk.c) hears of a request's end: 0 or -errno, and a read's data. */
typedef void (*hostd_io_done_fn)(void *ctx, int err, const void *data, size_t len);

/* A FUSE request (or, with 'done' set, another front end's) on its way through one of the paths. */
struct io_req {
	struct blkreq b;
	struct hostd *h;
	fuse_req_t req;
	hostd_io_done_fn done;
	void *done_ctx;
	int path; /* where its commands went last */
	uint32_t max_xfer; /* fixed for its life: chunks are numbered by it */
	struct io_req *next;
};

struct hostd {
	struct hostd_opts o; /* the first path's; iopolicy, no_loop and state_dir are the process's */
	char subnqn[NVME_NQN_SIZE + 1], hostnqn[NVME_NQN_SIZE + 1];
	char name[16]; /* the first path's name: the mount and control socket are named after it */
	char sock_path[PATH_MAX], mnt[PATH_MAX];
	enum hostd_state state;
	enum hostd_iopolicy iopolicy;
	struct hpath paths[MAX_PATHS];
	uint32_t max_xfer; /* the smallest of every path's */
	struct ns_dev ns[MAX_NS];
	int nr_ns;
	struct fuse_session *se;
	struct fuse_buf fbuf;
	int ctl_fd;
	int reply_fd; /* a whole-process disconnect waiting for its answer */
	struct io_req *waiting; /* parked: no usable path, or a full queue */
	struct io_req *spare; /* finished requests kept for the next ones (io.c), nr_spare of them */
	int nr_spare;
	struct blkreq_pool bufs; /* and their data buffers */
	pthread_t teardown_thread;
	bool teardown_threaded; /* teardown_thread exists and is to be joined */
	_Atomic bool teardown_done; /* set by the teardown thread once the loop devices are gone */
	const char *exit_reason;
	struct hostd_metrics *metrics; /* --metrics: its endpoint (NULL without) */
};

/* daemon.c */
void hostd_write_state(struct hostd *h);
struct ns_dev *hostd_ns_by_nsid(struct hostd *h, uint32_t nsid);
void hostd_start_teardown(struct hostd *h, const char *reason);
int hostd_nr_paths(const struct hostd *h); /* paths not being deleted */

/* hostd_metrics.c: the --metrics endpoint. Start it (0 without --metrics; -errno with 'why' set),
 * answer its requests for a fresh text (each loop turn), stop it. */
int hostd_metrics_start(struct hostd *h, char *why, size_t whylen);
void hostd_metrics_serve(struct hostd *h);
void hostd_metrics_stop(struct hostd *h);

/* path.c: each path's life, error recovery, the namespaces and ANA groups it reports. */
const char *path_state_name(enum path_state s);
void path_set_state(struct hpath *p, enum path_state to);
bool path_up(struct hpath *p); /* LIVE and every queue healthy */
int path_probe(struct tr_ctrl *c, struct path_view *v, char *why, size_t whylen);
int path_adopt(struct hpath *p, const struct path_view *v, char *why, size_t whylen);
int path_claim_name(struct hpath *p, const char *state_dir);
int path_connect_now(struct hpath *p, char *why, size_t whylen);
void path_start_job(struct hpath *p);
void path_serve(struct hpath *p);
void path_remove(struct hpath *p, const char *why);
void path_release(struct hpath *p);
int path_write_record(struct hpath *p);

/* mpath.c: which path a namespace's next I/O takes, and what a completion status means for it. */
struct hpath *mpath_select(struct hostd *h, struct ns_dev *ns);
uint8_t mpath_ana_state(struct hostd *h, const struct ns_dev *ns, int path);
bool mpath_can_hold(const struct hostd *h);
bool mpath_is_path_error(int status);
void mpath_paths_changed(struct hostd *h);
const char *mpath_iopolicy_name(enum hostd_iopolicy p);

/* io.c: FUSE requests through the paths; parked ones wait on h->waiting. */
int hostd_io_start(struct hostd *h, fuse_req_t req, enum blkreq_kind kind, const struct ns_dev *ns, uint64_t off,
		   size_t size, const void *wdata);
int hostd_io_start_cb(struct hostd *h, enum blkreq_kind kind, const struct ns_dev *ns, uint64_t off, size_t size,
		      const void *wdata, hostd_io_done_fn done, void *ctx);
void hostd_io_fail_waiting(struct hostd *h, int err);
void hostd_io_resubmit_waiting(struct hostd *h);
int hostd_io_inflight(struct hostd *h);
int path_io_inflight(struct hpath *p);

/* fuse.c: the FUSE view, / with one file per namespace, nN. */
int hostd_fuse_start(struct hostd *h, char *why, size_t whylen);
int hostd_fuse_serve(struct hostd *h, int batch);
void hostd_fuse_ns_gone(struct hostd *h, uint32_t nsid);
void hostd_fuse_ns_resized(struct hostd *h, uint32_t nsid);

/* loopdev.c: a loop device over each namespace's FUSE file, attached and detached off the event loop. */
void loop_attach_start(struct hostd *h, struct ns_dev *ns);
bool loop_attach_collect(struct ns_dev *ns, bool wait);
void loop_detach_async(struct ns_dev *ns);
void loop_detach(struct ns_dev *ns);
void loop_set_capacity(const struct ns_dev *ns);
void unmount_users(const char *dev); /* unmount whatever is mounted from 'dev' */

#endif
