/* Inside the host process behind `tightrope connect`: its state, and what its files (daemon.c,
 * io.c, fuse.c, loopdev.c) call in each other. Not for the CLI: that uses daemon.h and record.h. */
#ifndef TIGHTROPE_HOST_HOSTD_H
#define TIGHTROPE_HOST_HOSTD_H

#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "host/blkreq.h"
#include "host/daemon.h"

#define MAX_NS 64
#define ROOT_INO 1

/* The host process's one state. Reconnecting is two states: CONNECTING holds new I/O for the path to
 * come back, FAILING_FAST (fast_io_fail_tmo passed) fails it at once. hostd_set_state() is the only
 * place it changes. */
enum hostd_state {
	HS_STARTING, /* connecting for the first time; nothing is served yet */
	HS_LIVE,
	HS_CONNECTING,
	HS_FAILING_FAST,
	HS_DELETING, /* disconnect or ctrl_loss_tmo: tearing down, never back */
};

struct loop_job;

struct ns_dev {
	uint32_t nsid;
	uint64_t nsze;
	uint32_t lba_shift;
	char loop[32];
	struct loop_job *job;
};

/* A FUSE request on its way through the controller's I/O queues. */
struct io_req {
	struct blkreq b;
	struct hostd *h;
	fuse_req_t req;
	struct io_req *next;
};

struct hostd {
	struct hostd_opts o;
	char name[16];
	char json_path[PATH_MAX], sock_path[PATH_MAX], mnt[PATH_MAX];
	struct tr_ctrl *ctrl;
	enum hostd_state state;
	int attempt;
	uint64_t lost_ns, next_attempt_ns;
	char last_error[256];
	struct ns_dev ns[MAX_NS];
	int nr_ns;
	struct fuse_session *se;
	struct fuse_buf fbuf;
	int ctl_fd;
	int reply_fd; /* a disconnect request waiting for its answer */
	struct io_req *waiting; /* parked during recovery, or blocked on a full queue */
	int rr;
	pthread_t teardown_thread;
	bool teardown_threaded; /* teardown_thread exists and is to be joined */
	_Atomic bool teardown_done; /* set by the teardown thread once the loop devices are gone */
	const char *exit_reason;
};

void hostd_write_state(struct hostd *h);
struct ns_dev *hostd_ns_by_nsid(struct hostd *h, uint32_t nsid);
bool hostd_path_up(struct hostd *h);
void hostd_start_teardown(struct hostd *h, const char *reason);

/* io.c: FUSE requests through the I/O queues; parked ones wait on h->waiting. */
int hostd_io_start(struct hostd *h, fuse_req_t req, enum blkreq_kind kind, const struct ns_dev *ns, uint64_t off,
		   size_t size, const void *wdata);
void hostd_io_fail_waiting(struct hostd *h, int err);
void hostd_io_resubmit_waiting(struct hostd *h);
int hostd_io_inflight(struct hostd *h);

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

#endif
