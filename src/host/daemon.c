/* The host process behind `tightrope connect`: its lifetime, its one event loop (FUSE requests for
 * each namespace go out through the controller's I/O queues, an AER stays armed), and the kernel's
 * error recovery on a lost path (park I/O, reconnect every reconnect_delay, give up at
 * ctrl_loss_tmo). The FUSE view, I/O, loop devices and the record live in files of their own. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host/hostd.h"
#include "host/record.h"
#include "nvme/spec.h"
#include "util/clock.h"
#include "util/log.h"

/* ---- The state ---- */

static const char *const state_names[] = { "starting", "live", "connecting", "failing fast", "deleting" };

/* Which state may follow which: the first connect goes live; a live controller that loses its path
 * reconnects; reconnecting ends live again, or fails I/O fast once fast_io_fail_tmo passed; any of
 * them may be deleted (disconnect, ctrl_loss_tmo, the mount gone); deleting is the end. */
static bool state_change_ok(enum hostd_state from, enum hostd_state to)
{
	switch (to) {
	case HS_LIVE:
		return from == HS_STARTING || from == HS_CONNECTING || from == HS_FAILING_FAST;
	case HS_CONNECTING:
		return from == HS_LIVE;
	case HS_FAILING_FAST:
		return from == HS_CONNECTING;
	case HS_DELETING:
		return from == HS_LIVE || from == HS_CONNECTING || from == HS_FAILING_FAST;
	default:
		return false;
	}
}

/* The one place h->state changes (it starts as HS_STARTING, zero, in a calloc'd hostd). A change
 * the table does not allow is a bug that would leave I/O parked or failed wrongly: stop there. */
static void set_state(struct hostd *h, enum hostd_state to)
{
	if (!state_change_ok(h->state, to)) {
		tr_err("%s: illegal state change %s -> %s", h->name, state_names[h->state], state_names[to]);
		abort();
	}
	tr_debug("%s: state %s -> %s", h->name, state_names[h->state], state_names[to]);
	h->state = to;
}

static bool reconnecting(const struct hostd *h)
{
	return h->state == HS_CONNECTING || h->state == HS_FAILING_FAST;
}

/* ---- The record `list` reads ---- */

/* Identify fields are space-padded ASCII; the record holds them trimmed. */
static void trimmed(char *out, size_t outlen, const char *in, size_t inlen)
{
	size_t n = strnlen(in, inlen < outlen - 1 ? inlen : outlen - 1);

	while (n && in[n - 1] == ' ')
		n--;
	memcpy(out, in, n);
	out[n] = 0;
}

static const char *const auth_names[] = { [TR_AUTH_NONE] = "none", [TR_AUTH_DHCHAP] = "dhchap",
					   [TR_AUTH_DHCHAP_BIDI] = "dhchap-bidirectional" };

static enum hostd_rec_state rec_state(const struct hostd *h)
{
	return h->state == HS_LIVE ? HREC_LIVE : h->state == HS_DELETING ? HREC_DELETING : HREC_CONNECTING;
}

static void fill_record(struct hostd *h, struct hostd_record *r)
{
	const struct nvme_id_ctrl *id = h->ctrl ? tr_ctrl_identify_data(h->ctrl) : NULL;
	uint64_t now = tr_now_ns();
	int delay = h->o.reconnect_delay_s;

	snprintf(r->name, sizeof(r->name), "%s", h->name);
	r->pid = getpid();
	r->state = rec_state(h);
	r->attempt = h->attempt;
	r->max_attempts = h->o.ctrl_loss_tmo_s < 0 ? -1 : h->o.ctrl_loss_tmo_s / (delay ? delay : 1);
	r->next_attempt_in_s = reconnecting(h) && h->next_attempt_ns > now
				       ? (int)((h->next_attempt_ns - now) / 1000000000ull) : 0;
	r->written_at = (int64_t)time(NULL);
	snprintf(r->traddr, sizeof(r->traddr), "%s", h->o.conn.traddr);
	snprintf(r->trsvcid, sizeof(r->trsvcid), "%s", h->o.conn.trsvcid);
	snprintf(r->subnqn, sizeof(r->subnqn), "%s", h->o.conn.subnqn);
	snprintf(r->hostnqn, sizeof(r->hostnqn), "%s", h->o.conn.hostnqn);
	r->cntlid = h->ctrl ? tr_ctrl_cntlid(h->ctrl) : 0;
	if (h->ctrl)
		snprintf(r->auth, sizeof(r->auth), "%s", auth_names[tr_ctrl_auth(h->ctrl)]);
	if (id) {
		trimmed(r->serial, sizeof(r->serial), id->sn, sizeof(id->sn));
		trimmed(r->model, sizeof(r->model), id->mn, sizeof(id->mn));
		trimmed(r->firmware, sizeof(r->firmware), id->fr, sizeof(id->fr));
	}
	snprintf(r->mountpoint, sizeof(r->mountpoint), "%s", h->mnt);
	snprintf(r->last_error, sizeof(r->last_error), "%s", h->last_error);
	for (int i = 0; i < h->nr_ns; i++) {
		struct hostd_rec_ns *n = &r->ns[r->nr_ns++];

		n->nsid = h->ns[i].nsid;
		snprintf(n->file, sizeof(n->file), "%.4000s/n%u", h->mnt, h->ns[i].nsid);
		snprintf(n->loop, sizeof(n->loop), "%s", h->ns[i].loop);
		n->nsze = h->ns[i].nsze;
		n->lba_size = 1u << h->ns[i].lba_shift;
	}
}

void hostd_write_state(struct hostd *h)
{
	struct hostd_record *r = calloc(1, sizeof(*r));

	if (r)
		r->ns = calloc((size_t)h->nr_ns + 1, sizeof(*r->ns));
	if (r && r->ns) {
		fill_record(h, r);
		hostd_record_write(h->json_path, r);
	}
	if (r)
		hostd_record_clear(r);
	free(r);
}

/* ---- Namespaces ---- */

struct ns_dev *hostd_ns_by_nsid(struct hostd *h, uint32_t nsid)
{
	for (int i = 0; i < h->nr_ns; i++)
		if (h->ns[i].nsid == nsid)
			return &h->ns[i];
	return NULL;
}

static int ns_identify(struct hostd *h, uint32_t nsid, uint64_t *nsze, uint32_t *lba_shift)
{
	struct nvme_id_ns *id = aligned_alloc(4096, 4096);
	int status;

	if (!id)
		return -ENOMEM;
	status = tr_ctrl_identify(h->ctrl, NVME_ID_CNS_NS, nsid, id);
	if (!status) {
		*nsze = id->nsze;
		*lba_shift = id->lbaf[id->flbas & 0xf].ds;
	}
	free(id);
	return status;
}

/* Namespaces the controller no longer lists go, with their devices. */
static void ns_drop_removed(struct hostd *h, const uint32_t *nsids, int n)
{
	for (int i = 0; i < h->nr_ns;) {
		bool still = false;

		for (int k = 0; k < n; k++)
			still |= nsids[k] == h->ns[i].nsid;
		if (still) {
			i++;
			continue;
		}
		tr_info("%s: namespace %u removed by the target; its device goes too", h->name, h->ns[i].nsid);
		loop_detach_async(&h->ns[i]);
		hostd_fuse_ns_gone(h, h->ns[i].nsid);
		h->ns[i] = h->ns[--h->nr_ns];
	}
}

/* Bring the namespace list in line with the controller's: new ones appear, removed ones go. */
static void ns_refresh(struct hostd *h)
{
	uint32_t nsids[MAX_NS];
	int n = tr_ctrl_active_ns(h->ctrl, nsids, MAX_NS);

	if (n < 0) {
		tr_warn("%s: cannot read the active namespace list: %s", h->name, tr_status_str(n));
		return;
	}
	ns_drop_removed(h, nsids, n);
	for (int k = 0; k < n; k++) {
		struct ns_dev *ns = hostd_ns_by_nsid(h, nsids[k]);
		uint64_t nsze;
		uint32_t shift;

		if (ns_identify(h, nsids[k], &nsze, &shift))
			continue;
		if (ns) {
			if (ns->nsze != nsze) {
				tr_info("%s: namespace %u resized to %llu blocks", h->name, ns->nsid,
					(unsigned long long)nsze);
				ns->nsze = nsze;
				hostd_fuse_ns_resized(h, ns->nsid);
				loop_set_capacity(ns);
			}
			continue;
		}
		if (h->nr_ns == MAX_NS)
			break;
		ns = &h->ns[h->nr_ns++];
		*ns = (struct ns_dev){ .nsid = nsids[k], .nsze = nsze, .lba_shift = shift };
		tr_info("%s: namespace %u: %llu blocks of %u bytes", h->name, ns->nsid, (unsigned long long)nsze,
			1u << shift);
		if (!h->o.no_loop && h->se && h->state != HS_DELETING)
			loop_attach_start(h, ns);
	}
	hostd_write_state(h);
}

/* Read the log page an asynchronous event names (Changed Namespace List for a namespace notice),
 * without Retain: the controller sends no further event of that kind until it is read. The kernel
 * host reads it before rescanning too. */
static void clear_event_log(struct hostd *h, uint32_t aen)
{
	uint8_t lid = (aen >> 16) & 0xff;
	void *log;
	int status;

	if (!lid || !(log = aligned_alloc(4096, 4096)))
		return;
	status = tr_ctrl_get_log(h->ctrl, lid, 0xffffffffu, log, 4096);
	if (status)
		tr_warn("%s: cannot read log page %#x named by the event: %s", h->name, lid, tr_status_str(status));
	free(log);
}

bool hostd_path_up(struct hostd *h)
{
	char why[8];

	return h->ctrl && tr_ctrl_health(h->ctrl, why, sizeof(why)) == 0;
}

/* ---- Error recovery, in the kernel's words ---- */

static void start_recovery(struct hostd *h, const char *why)
{
	snprintf(h->last_error, sizeof(h->last_error), "%s", why);
	tr_warn("%s: %s", h->name, why);
	tr_warn("%s: starting error recovery", h->name);
	tr_ctrl_teardown(h->ctrl); /* in-flight commands come back as transport errors and wait */
	set_state(h, HS_CONNECTING);
	h->lost_ns = tr_now_ns();
	h->attempt = 0;
	h->next_attempt_ns = h->lost_ns + (uint64_t)h->o.reconnect_delay_s * 1000000000ull;
	tr_info("%s: Reconnecting in %d seconds...", h->name, h->o.reconnect_delay_s);
	hostd_write_state(h);
}

static void try_reconnect(struct hostd *h)
{
	char why[256] = "";
	uint64_t now = tr_now_ns();
	int err;

	h->attempt++;
	err = tr_ctrl_reconnect(h->ctrl, why, sizeof(why));
	if (!err) {
		tr_info("%s: Successfully reconnected (%d attempt)", h->name, h->attempt);
		set_state(h, HS_LIVE);
		h->last_error[0] = 0;
		ns_refresh(h);
		hostd_io_resubmit_waiting(h); /* everything held through the outage goes again */
		hostd_write_state(h);
		return;
	}
	snprintf(h->last_error, sizeof(h->last_error), "%s", why);
	tr_warn("%s: Failed reconnect attempt %d: %s", h->name, h->attempt, why);
	if (h->o.ctrl_loss_tmo_s >= 0 && now - h->lost_ns >= (uint64_t)h->o.ctrl_loss_tmo_s * 1000000000ull) {
		/* The kernel's two lines: the reconnect work giving up, then the deletion. */
		tr_warn("%s: Removing controller... (ctrl_loss_tmo %d s passed)", h->name, h->o.ctrl_loss_tmo_s);
		tr_warn("%s: Removing ctrl: NQN \"%s\"", h->name, h->o.conn.subnqn);
		hostd_start_teardown(h, "ctrl_loss_tmo");
		return;
	}
	h->next_attempt_ns = tr_now_ns() + (uint64_t)h->o.reconnect_delay_s * 1000000000ull;
	tr_info("%s: Reconnecting in %d seconds...", h->name, h->o.reconnect_delay_s);
	hostd_write_state(h);
}

/* ---- Orderly end: disconnect, or ctrl_loss_tmo ---- */

static void *teardown_main(void *arg)
{
	struct hostd *h = arg;

	/* Unmounting a filesystem on our loop device reads and writes through our FUSE file, so this
	 * runs beside the event loop, which keeps serving until it is done. */
	for (int i = 0; i < h->nr_ns; i++) {
		loop_attach_collect(&h->ns[i], true);
		loop_detach(&h->ns[i]);
	}
	atomic_store(&h->teardown_done, true);
	return NULL;
}

void hostd_start_teardown(struct hostd *h, const char *reason)
{
	if (h->state == HS_DELETING)
		return;
	h->exit_reason = reason;
	if (h->state != HS_LIVE)
		hostd_io_fail_waiting(h, EIO); /* no path: nothing waiting can ever complete */
	set_state(h, HS_DELETING);
	hostd_write_state(h);
	if (pthread_create(&h->teardown_thread, NULL, teardown_main, h) == 0)
		h->teardown_threaded = true;
	else
		teardown_main(h);
}

/* ---- Control socket: "disconnect" or "status", one line ---- */

static void ctl_accept(struct hostd *h)
{
	int fd = accept4(h->ctl_fd, NULL, NULL, SOCK_CLOEXEC);
	char line[64] = "";
	ssize_t n;

	if (fd < 0)
		return;
	n = recv(fd, line, sizeof(line) - 1, 0);
	if (n > 0 && !strncmp(line, "disconnect", 10)) {
		tr_info("%s: disconnect requested", h->name);
		if (h->reply_fd >= 0)
			close(h->reply_fd);
		h->reply_fd = fd;
		hostd_start_teardown(h, "disconnect");
		return;
	}
	hostd_write_state(h);
	(void)!write(fd, "ok\n", 3);
	close(fd);
}

static int ctl_listen(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || strlen(path) >= sizeof(sun.sun_path))
		return -1;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) || listen(fd, 8)) {
		close(fd);
		return -1;
	}
	chmod(path, 0600);
	return fd;
}

/* ---- The event loop ---- */

/* Deletion is over once the devices are gone and no request is left, waiting or (while the path
 * lasts) in flight. */
static bool deletion_done(struct hostd *h)
{
	return h->state == HS_DELETING && atomic_load(&h->teardown_done) && !h->waiting &&
	       !(hostd_io_inflight(h) && hostd_path_up(h));
}

static void poll_io_queues(struct hostd *h)
{
	for (int i = 0; i < tr_ctrl_nr_io_queues(h->ctrl); i++)
		tr_ioq_poll(tr_ctrl_ioq(h->ctrl, i), 0);
}

static void serve_live(struct hostd *h)
{
	char why[256];
	uint32_t aen;

	poll_io_queues(h);
	/* Requests blocked on a full queue go again now that some completed. */
	hostd_io_resubmit_waiting(h);
	if (tr_ctrl_poll_admin(h->ctrl, &aen) == 1) {
		tr_info("%s: asynchronous event %#x: rescanning namespaces", h->name, aen);
		clear_event_log(h, aen);
		ns_refresh(h);
	}
	if (tr_ctrl_health(h->ctrl, why, sizeof(why)))
		start_recovery(h, why);
}

static void serve_reconnecting(struct hostd *h)
{
	if (h->state == HS_CONNECTING && h->o.fast_io_fail_tmo_s >= 0 &&
	    tr_now_ns() - h->lost_ns >= (uint64_t)h->o.fast_io_fail_tmo_s * 1000000000ull) {
		tr_warn("%s: fast_io_fail_tmo (%d s) passed: failing I/O until reconnected", h->name,
			h->o.fast_io_fail_tmo_s);
		set_state(h, HS_FAILING_FAST);
		hostd_io_fail_waiting(h, EIO);
	}
	if (tr_now_ns() >= h->next_attempt_ns)
		try_reconnect(h);
}

/* Deleting: I/O completes and goes on while the path lasts; a broken path is not recovered, so
 * whatever waits for one fails. */
static void serve_deleting(struct hostd *h)
{
	if (!h->ctrl)
		return;
	poll_io_queues(h);
	if (hostd_path_up(h))
		hostd_io_resubmit_waiting(h);
	else
		hostd_io_fail_waiting(h, EIO);
}

static void event_loop(struct hostd *h)
{
	while (!deletion_done(h)) {
		struct pollfd pfd[2 + 64];
		int n = 0, nq = !reconnecting(h) && h->ctrl ? tr_ctrl_nr_io_queues(h->ctrl) : 0;

		if (h->se)
			pfd[n++] = (struct pollfd){ .fd = fuse_session_fd(h->se), .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = h->ctl_fd, .events = POLLIN };
		for (int i = 0; i < nq && i < 64; i++) {
			struct tr_ioq *q = tr_ctrl_ioq(h->ctrl, i);

			pfd[n++] = (struct pollfd){ .fd = tr_ioq_fd(q),
						    .events = POLLIN | (tr_ioq_tx_pending(q) ? POLLOUT : 0) };
		}
		poll(pfd, (nfds_t)n, h->state == HS_DELETING ? 20 : 100);
		/* A bounded batch, so the queues' sockets are served between batches. */
		if (h->se && pfd[0].revents & POLLIN && hostd_fuse_serve(h, 64) < 0 && h->state != HS_DELETING)
			hostd_start_teardown(h, "FUSE mount went away");
		if (pfd[h->se ? 1 : 0].revents & POLLIN)
			ctl_accept(h);

		if (h->state == HS_LIVE)
			serve_live(h);
		else if (reconnecting(h))
			serve_reconnecting(h);
		else
			serve_deleting(h);
		for (int i = 0; i < h->nr_ns && h->state != HS_DELETING; i++)
			if (loop_attach_collect(&h->ns[i], false))
				hostd_write_state(h);
	}
}

/* ---- The process ---- */

/* Connected, the FUSE view mounted and the control socket listening; or -errno with 'why' set. */
static int start_serving(struct hostd *h, char *why, size_t whylen)
{
	int err;

	h->ctl_fd = ctl_listen(h->sock_path);
	err = tr_ctrl_connect(&h->o.conn, &h->ctrl, why, whylen);
	if (!err && h->ctl_fd < 0)
		err = -EIO, snprintf(why, whylen, "cannot listen on %s", h->sock_path);
	if (!err)
		err = hostd_fuse_start(h, why, whylen);
	return err;
}

/* Tell `connect` once the loop devices exist, so `list` right after shows them. */
static void wait_for_loops(struct hostd *h)
{
	for (int tries = 0; tries < 500; tries++) {
		struct pollfd pfd = { .fd = fuse_session_fd(h->se), .events = POLLIN };
		bool pending = false;

		for (int i = 0; i < h->nr_ns; i++)
			pending |= h->ns[i].job && !loop_attach_collect(&h->ns[i], false);
		if (!pending)
			break;
		if (poll(&pfd, 1, 10) > 0)
			hostd_fuse_serve(h, 1);
		poll_io_queues(h);
	}
}

/* Teardown: flush each namespace, shut the controller down, leave nothing behind. */
static void __attribute__((noreturn)) finish(struct hostd *h)
{
	char why[256];

	if (h->state == HS_DELETING && h->ctrl && tr_ctrl_health(h->ctrl, why, sizeof(why)) == 0) {
		for (int i = 0; i < h->nr_ns; i++) {
			struct tr_ioq *q = tr_ctrl_ioq(h->ctrl, 0);

			if (q && tr_ioq_flush(q, h->ns[i].nsid, NULL, NULL) == 0)
				while (tr_ioq_inflight(q) && tr_ioq_poll(q, 1000) >= 0)
					;
		}
	}
	if (h->se) {
		fuse_session_unmount(h->se);
		fuse_session_destroy(h->se);
		free(h->fbuf.mem);
	}
	rmdir(h->mnt);
	tr_ctrl_disconnect(h->ctrl);
	tr_info("%s: removed (%s)", h->name, h->exit_reason ? h->exit_reason : "done");
	unlink(h->json_path);
	unlink(h->sock_path);
	if (h->reply_fd >= 0) {
		(void)!write(h->reply_fd, "ok\n", 3);
		close(h->reply_fd);
	}
	_exit(0);
}

static void __attribute__((noreturn)) hostd_main(struct hostd *h, int report_fd)
{
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
		(void)!write(report_fd, msg, strlen(msg));
		if (h->ctrl)
			tr_ctrl_disconnect(h->ctrl);
		unlink(h->json_path);
		unlink(h->sock_path);
		rmdir(h->mnt);
		_exit(1);
	}
	tr_info("%s: new ctrl: NQN \"%s\", addr %s:%s, cntlid %u", h->name, h->o.conn.subnqn, h->o.conn.traddr,
		h->o.conn.trsvcid, tr_ctrl_cntlid(h->ctrl));
	set_state(h, HS_LIVE);
	ns_refresh(h);
	wait_for_loops(h);
	hostd_write_state(h);
	snprintf(msg, sizeof(msg), "OK %s\n", h->name);
	(void)!write(report_fd, msg, strlen(msg));
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

/* Claim the lowest free name trN by creating its record exclusively. */
static int claim_name(struct hostd *h)
{
	for (int i = 0; i < 1024; i++) {
		int fd;

		snprintf(h->name, sizeof(h->name), "tr%d", i);
		snprintf(h->json_path, sizeof(h->json_path), "%s/ctrl/%s.json", h->o.state_dir, h->name);
		fd = open(h->json_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0) {
			(void)!write(fd, "{}\n", 3);
			close(fd);
			snprintf(h->sock_path, sizeof(h->sock_path), "%s/ctrl/%s.sock", h->o.state_dir, h->name);
			snprintf(h->mnt, sizeof(h->mnt), "%s/mnt/%s", h->o.state_dir, h->name);
			return 0;
		}
	}
	return -ENOSPC;
}

/* The detached grandchild: claim a name, log to STATE_DIR/ctrl/trN.log, and serve. */
static void __attribute__((noreturn)) host_process(const struct hostd_opts *o, int report_fd)
{
	struct hostd *h = calloc(1, sizeof(*h)); /* calloc: the state starts as HS_STARTING */
	char log[PATH_MAX + 8];
	int fd;

	if (h)
		h->o = *o;
	if (!h || claim_name(h)) {
		(void)!write(report_fd, "ERR no free controller name\n", 28);
		_exit(1);
	}
	snprintf(log, sizeof(log), "%s/ctrl/%s.log", o->state_dir, h->name);
	fd = open("/dev/null", O_RDWR);
	dup2(fd, 0);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
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
