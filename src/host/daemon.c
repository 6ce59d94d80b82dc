/* The host process behind `tightrope connect`, one per subsystem and host NQN: its lifetime, its one
 * event loop (FUSE requests for each namespace go out through the paths multipath routing chooses;
 * each path serves its queues, events and error recovery, path.c), and its orderly end. The FUSE
 * view, I/O, loop devices, paths and the control socket live in files of their own. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "host/hostd.h"
#include "host/hostd_ctl.h"
#include "host/ublk.h"
#include "util/log.h"

/* ---- The state ---- */

static const char *const state_names[] = { "starting", "live", "deleting" };

/* The one place h->state changes (it starts as HS_STARTING, zero, in a calloc'd hostd): STARTING ->
 * LIVE -> DELETING, and nothing else. */
static void set_state(struct hostd *h, enum hostd_state to)
{
	if (to != h->state + 1) {
		tr_err("%s: illegal state change %s -> %s", h->name, state_names[h->state], state_names[to]);
		abort();
	}
	tr_debug("%s: state %s -> %s", h->name, state_names[h->state], state_names[to]);
	h->state = to;
}

void hostd_write_state(struct hostd *h)
{
	for (int i = 0; i < MAX_PATHS; i++)
		if (h->paths[i].used && h->paths[i].state != PS_NEW)
			path_write_record(&h->paths[i]);
}

struct ns_dev *hostd_ns_by_nsid(struct hostd *h, uint32_t nsid)
{
	for (int i = 0; i < h->nr_ns; i++)
		if (h->ns[i].nsid == nsid)
			return &h->ns[i];
	return NULL;
}

int hostd_nr_paths(const struct hostd *h)
{
	int n = 0;

	for (int i = 0; i < MAX_PATHS; i++)
		n += h->paths[i].used && h->paths[i].state != PS_NEW && h->paths[i].state != PS_DELETING;
	return n;
}

/* ---- Orderly end: disconnect, the last path's ctrl_loss_tmo, the mount gone ---- */

static void *teardown_main(void *arg)
{
	struct hostd *h = arg;

	/* Unmounting a filesystem on our loop device reads and writes through our FUSE file, so this
	 * runs beside the event loop, which keeps serving until it is done. */
	for (int i = 0; i < h->nr_ns; i++) {
		blkdev_attach_collect(h, &h->ns[i], true);
		blkdev_detach(&h->ns[i]);
	}
	atomic_store(&h->teardown_done, true);
	return NULL;
}

void hostd_start_teardown(struct hostd *h, const char *reason)
{
	if (h->state == HS_DELETING)
		return;
	h->exit_reason = reason;
	set_state(h, HS_DELETING);
	if (!mpath_can_hold(h))
		hostd_io_fail_waiting(h, EIO); /* no path: nothing waiting can ever complete */
	hostd_write_state(h);
	if (pthread_create(&h->teardown_thread, NULL, teardown_main, h) == 0)
		h->teardown_threaded = true;
	else
		teardown_main(h);
}

/* ---- The event loop ---- */

static bool any_job_running(const struct hostd *h)
{
	for (int i = 0; i < MAX_PATHS; i++)
		if (h->paths[i].used && h->paths[i].job_running)
			return true;
	return false;
}

static bool any_path_up(struct hostd *h)
{
	for (int i = 0; i < MAX_PATHS; i++)
		if (path_up(&h->paths[i]))
			return true;
	return false;
}

/* Deletion is over once the devices are gone, no connect is running and no request is left, waiting
 * or (while a path lasts) in flight. */
static bool deletion_done(struct hostd *h)
{
	return h->state == HS_DELETING && atomic_load(&h->teardown_done) && !h->waiting && !any_job_running(h) &&
	       !(hostd_io_inflight(h) && any_path_up(h));
}

/* The sockets of every path that carries I/O now. */
static int io_pollfds(struct hostd *h, struct pollfd *pfd, int max)
{
	int n = 0;

	for (int i = 0; i < MAX_PATHS; i++) {
		struct hpath *p = &h->paths[i];

		if (!p->used || !p->ctrl || p->job_running || (p->state != PS_LIVE && p->state != PS_DELETING))
			continue;
		for (int k = 0; k < tr_ctrl_nr_io_queues(p->ctrl) && n < max; k++) {
			struct tr_ioq *q = tr_ctrl_ioq(p->ctrl, k);

			pfd[n++] = (struct pollfd){ .fd = tr_ioq_fd(q),
						    .events = POLLIN | (tr_ioq_tx_pending(q) ? POLLOUT : 0) };
		}
	}
	return n;
}

static void serve_paths(struct hostd *h)
{
	for (int i = 0; i < MAX_PATHS; i++)
		path_serve(&h->paths[i]);
	/* Requests parked for a path, or blocked on a full queue, go again; with no path that may come
	 * back they fail (fast_io_fail_tmo passed on every path, or the last one went). */
	if (mpath_can_hold(h))
		hostd_io_resubmit_waiting(h);
	else
		hostd_io_fail_waiting(h, EIO);
	if (h->state == HS_LIVE && hostd_nr_paths(h) == 0 && !any_job_running(h))
		hostd_start_teardown(h, "no path left");
}

/* SIGTERM or SIGINT: an orderly disconnect, as `tightrope disconnect` would (systemctl stop). */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

static void event_loop(struct hostd *h)
{
	while (!deletion_done(h)) {
		struct pollfd pfd[3 + 64];
		int n = 0;

		if (stop_signal && h->state == HS_LIVE)
			hostd_start_teardown(h, stop_signal == SIGTERM ? "SIGTERM" : "SIGINT");

		if (h->se)
			pfd[n++] = (struct pollfd){ .fd = fuse_session_fd(h->se), .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = h->ctl_fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = ublk_pollfd(), .events = POLLIN }; /* -1 (ignored) without ublk */
		n += io_pollfds(h, pfd + n, 64);
		poll(pfd, (nfds_t)n, h->state == HS_DELETING || any_job_running(h) ? 20 : 100);
		/* A bounded batch, so the queues' sockets are served between batches. */
		if (h->se && pfd[0].revents & POLLIN && hostd_fuse_serve(h, 64) < 0 && h->state != HS_DELETING)
			hostd_start_teardown(h, "FUSE mount went away");
		if (pfd[h->se ? 1 : 0].revents & POLLIN)
			hostd_ctl_accept(h);
		ublk_serve(); /* new requests go out with this turn's */
		serve_paths(h);
		ublk_submit(); /* the commits of what completed */
		hostd_metrics_serve(h);
		for (int i = 0; i < h->nr_ns && h->state != HS_DELETING; i++)
			if (blkdev_attach_collect(h, &h->ns[i], false))
				hostd_write_state(h);
	}
}

/* ---- The process ---- */

/* The first path connected, the FUSE view mounted and the control socket listening; or -errno with
 * 'why' set. */
static int start_serving(struct hostd *h, char *why, size_t whylen)
{
	int err;

	h->ctl_fd = hostd_ctl_listen(h->sock_path);
	err = path_connect_now(&h->paths[0], why, whylen);
	if (!err && h->ctl_fd < 0)
		err = -EIO, snprintf(why, whylen, "cannot listen on %.200s", h->sock_path);
	if (!err) /* before the mount: the failure path below has no mount to undo */
		err = hostd_metrics_start(h, why, whylen);
	if (!err)
		err = hostd_fuse_start(h, why, whylen);
	return err;
}

/* Tell `connect` once the block devices exist, so `list` right after shows them. */
static void wait_for_loops(struct hostd *h)
{
	for (int tries = 0; tries < 500; tries++) {
		struct pollfd pfd[2] = { { .fd = fuse_session_fd(h->se), .events = POLLIN },
					 { .fd = ublk_pollfd(), .events = POLLIN } };
		bool pending = false;

		for (int i = 0; i < h->nr_ns; i++)
			pending |= blkdev_attaching(&h->ns[i]) && !blkdev_attach_collect(h, &h->ns[i], false);
		if (!pending)
			break;
		if (poll(pfd, 2, 10) > 0 && pfd[0].revents & POLLIN)
			hostd_fuse_serve(h, 1);
		ublk_serve();
		serve_paths(h);
		ublk_submit();
	}
}

/* A Flush of each namespace through a path that still works, before the controllers go. */
static void final_flush(struct hostd *h)
{
	for (int i = 0; i < MAX_PATHS; i++) {
		struct hpath *p = &h->paths[i];
		struct tr_ioq *q;

		if (!path_up(p) || !(q = tr_ctrl_ioq(p->ctrl, 0)))
			continue;
		for (int k = 0; k < h->nr_ns; k++)
			if (tr_ioq_flush(q, h->ns[k].nsid, NULL, NULL) == 0)
				while (tr_ioq_inflight(q) && tr_ioq_poll(q, 1000) >= 0)
					;
		return;
	}
}

/* Teardown: flush each namespace, shut every controller down, leave nothing behind. */
static void __attribute__((noreturn)) finish(struct hostd *h)
{
	hostd_metrics_stop(h);
	if (h->state == HS_DELETING)
		final_flush(h);
	if (h->se) {
		fuse_session_unmount(h->se);
		fuse_session_destroy(h->se);
		free(h->fbuf.mem);
	}
	rmdir(h->mnt);
	for (int i = 0; i < MAX_PATHS; i++) {
		if (!h->paths[i].used)
			continue;
		tr_info("%s: removed (%s)", h->paths[i].name, h->exit_reason ? h->exit_reason : "done");
		path_release(&h->paths[i]);
	}
	ublk_release_all(); /* stopped by the teardown: delete them */
	unlink(h->sock_path);
	if (h->reply_fd >= 0) {
		(void)!write(h->reply_fd, "ok\n", 3);
		close(h->reply_fd);
	}
	_exit(0);
}

/* Tell whoever started us how the connect went: `connect` through the pipe, or (in the foreground)
 * systemd and stderr. */
static void report(struct hostd *h, int report_fd, const char *msg)
{
	if (report_fd >= 0) {
		(void)!write(report_fd, msg, strlen(msg));
		return;
	}
	if (!strncmp(msg, "OK ", 3)) {
		sd_notifyf(0, "READY=1\nSTATUS=connected to %s at %s:%s as %s", h->subnqn, h->paths[0].traddr,
			   h->paths[0].trsvcid, h->name);
		fprintf(stderr, "connecting to device: %s", msg + 3);
	} else {
		fprintf(stderr, "failed to connect: %s", msg + 4);
	}
}

static void __attribute__((noreturn)) hostd_main(struct hostd *h, int report_fd)
{
	struct hpath *p = &h->paths[0];
	char why[256] = "", msg[320];
	int err;

	h->reply_fd = -1;
	/* Every FUSE request gets a buffer of its size: keep freed memory in the heap rather than giving
	 * it back and faulting it in again, and take even 1 MiB buffers from there, not from mmap. */
	mallopt(M_MMAP_THRESHOLD, 4 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	err = start_serving(h, why, sizeof(why));
	if (err) {
		snprintf(msg, sizeof(msg), "ERR %s\n", why[0] ? why : strerror(-err));
		report(h, report_fd, msg);
		tr_ctrl_disconnect(p->job_ctrl);
		tr_ctrl_disconnect(p->ctrl);
		unlink(p->json_path);
		unlink(h->sock_path);
		rmdir(h->mnt);
		_exit(1);
	}
	tr_info("%s: new ctrl: NQN \"%s\", addr %s:%s, cntlid %u, iopolicy %s", p->name, h->subnqn, p->traddr,
		p->trsvcid, p->cntlid, mpath_iopolicy_name(h->iopolicy));
	set_state(h, HS_LIVE);
	/* The namespaces came with the path, before the FUSE view existed: their loop devices now. */
	for (int i = 0; i < h->nr_ns && !h->o.no_loop; i++)
		blkdev_attach_start(h, &h->ns[i]);
	wait_for_loops(h);
	hostd_write_state(h);
	snprintf(msg, sizeof(msg), "OK %s\n", p->name);
	report(h, report_fd, msg);
	if (report_fd >= 0)
		close(report_fd);

	event_loop(h);
	if (h->teardown_threaded)
		pthread_join(h->teardown_thread, NULL); /* done already: the loop waited for teardown_done */
	finish(h);
}

/* ---- Starting one ---- */

static int make_dirs(const char *state_dir)
{
	char p[PATH_MAX];

	mkdir(state_dir, 0755);
	snprintf(p, sizeof(p), "%s/ctrl", state_dir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/mnt", state_dir);
	mkdir(p, 0755);
	return access(p, W_OK) ? -errno : 0;
}

/* The process's first path, from the options `connect` was given. */
static void first_path(struct hostd *h)
{
	struct hpath *p = &h->paths[0];

	for (int i = 0; i < MAX_PATHS; i++)
		h->paths[i] = (struct hpath){ .h = h, .idx = i, .reply_fd = -1 };
	p->used = true;
	p->o = h->o;
	snprintf(p->traddr, sizeof(p->traddr), "%s", h->o.conn.traddr);
	snprintf(p->trsvcid, sizeof(p->trsvcid), "%s", h->o.conn.trsvcid);
	p->o.conn.traddr = p->traddr;
	p->o.conn.trsvcid = p->trsvcid;
	p->o.conn.subnqn = h->subnqn;
	p->o.conn.hostnqn = h->hostnqn;
	p->secret = h->o.conn.dhchap_secret ? strdup(h->o.conn.dhchap_secret) : NULL;
	p->ctrl_secret = h->o.conn.dhchap_ctrl_secret ? strdup(h->o.conn.dhchap_ctrl_secret) : NULL;
	p->tls_key = h->o.conn.tls_key ? strdup(h->o.conn.tls_key) : NULL;
	p->o.conn.dhchap_secret = p->secret;
	p->o.conn.dhchap_ctrl_secret = p->ctrl_secret;
	p->o.conn.tls_key = p->tls_key;
	h->o.conn.dhchap_secret = h->o.conn.dhchap_ctrl_secret = h->o.conn.tls_key = NULL;
}

/* The detached grandchild: claim a name, log to STATE_DIR/ctrl/trN.log, and serve. */
static void __attribute__((noreturn)) host_process(const struct hostd_opts *o, int report_fd)
{
	struct hostd *h = calloc(1, sizeof(*h)); /* calloc: the state starts as HS_STARTING */
	char log[PATH_MAX + 8];
	int fd;

	if (h) {
		h->o = *o;
		h->iopolicy = o->iopolicy;
		snprintf(h->subnqn, sizeof(h->subnqn), "%s", o->conn.subnqn);
		snprintf(h->hostnqn, sizeof(h->hostnqn), "%s", o->conn.hostnqn);
		first_path(h);
	}
	if (!h || path_claim_name(&h->paths[0], o->state_dir)) {
		if (report_fd >= 0)
			(void)!write(report_fd, "ERR no free controller name\n", 28);
		else
			fprintf(stderr, "failed to connect: no free controller name\n");
		_exit(1);
	}
	snprintf(h->name, sizeof(h->name), "%s", h->paths[0].name);
	snprintf(h->sock_path, sizeof(h->sock_path), "%s/ctrl/%s.sock", o->state_dir, h->name);
	snprintf(h->mnt, sizeof(h->mnt), "%s/mnt/%s", o->state_dir, h->name);
	snprintf(log, sizeof(log), "%s/ctrl/%s.log", o->state_dir, h->name);
	fd = open("/dev/null", O_RDWR);
	dup2(fd, 0);
	/* In the foreground stdout and stderr stay: the journal has them. */
	fd = report_fd < 0 ? -1 : open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	struct sigaction sa = { .sa_handler = on_stop_signal };

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	hostd_main(h, report_fd);
}

int hostd_connect(const struct hostd_opts *o, char *name, size_t namelen, char *why, size_t whylen)
{
	int pipefd[2], err;
	pid_t pid;
	char msg[320] = "";
	ssize_t n, got = 0;

	err = make_dirs(o->state_dir);
	if (err) {
		snprintf(why, whylen, "state directory %s: %s", o->state_dir, strerror(-err));
		return err;
	}
	if (o->foreground)
		host_process(o, -1);
	if (pipe2(pipefd, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* Detach twice so the host process belongs to no terminal and no parent waits for it. */
		close(pipefd[0]);
		setsid();
		if (fork() != 0)
			_exit(0);
		host_process(o, pipefd[1]);
	}
	close(pipefd[1]);
	waitpid(pid, NULL, 0);
	while ((n = read(pipefd[0], msg + got, sizeof(msg) - 1 - (size_t)got)) > 0)
		got += n;
	close(pipefd[0]);
	msg[got] = 0;
	msg[strcspn(msg, "\n")] = 0;
	if (!strncmp(msg, "OK ", 3)) {
		snprintf(name, namelen, "%s", msg + 3);
		return 0;
	}
	snprintf(why, whylen, "%s", !strncmp(msg, "ERR ", 4) ? msg + 4 : "the host process died while connecting");
	return -ECONNREFUSED;
}
