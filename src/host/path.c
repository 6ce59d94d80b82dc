/* One path of the host process (one controller of the subsystem) through its life: connected in a
 * thread of its own (so the other paths keep serving), the kernel's error recovery when it is lost
 * (its I/O fails over to the other paths, or waits; reconnect every reconnect_delay, give up at
 * ctrl_loss_tmo), its asynchronous events and ANA log, its removal, and the record `list` reads. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "host/hostd.h"
#include "host/record.h"
#include "util/clock.h"
#include "util/log.h"

#define NS_PER_S 1000000000ull

/* ---- The state ---- */

static const char *const state_names[] = { "new", "live", "connecting", "failing fast", "deleting" };

const char *path_state_name(enum path_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

/* A new path goes live or is refused (deleted); a live one that is lost reconnects; reconnecting ends
 * live again, or fails its I/O fast once fast_io_fail_tmo passed; any may be deleted (disconnect,
 * ctrl_loss_tmo, the process ending); deleting is the end. */
static bool state_change_ok(enum path_state from, enum path_state to)
{
	switch (to) {
	case PS_LIVE:
		return from == PS_NEW || from == PS_CONNECTING || from == PS_FAILING_FAST;
	case PS_CONNECTING:
		return from == PS_LIVE;
	case PS_FAILING_FAST:
		return from == PS_CONNECTING;
	case PS_DELETING:
		return from != PS_DELETING;
	default:
		return false;
	}
}

/* The one place p->state changes. A change the table does not allow is a bug that would leave I/O
 * parked or failed wrongly: stop there. */
void path_set_state(struct hpath *p, enum path_state to)
{
	if (!state_change_ok(p->state, to)) {
		tr_err("%s: illegal path state change %s -> %s", p->name, state_names[p->state], state_names[to]);
		abort();
	}
	tr_debug("%s: path state %s -> %s", p->name, state_names[p->state], state_names[to]);
	p->state = to;
}

static bool reconnecting(const struct hpath *p)
{
	return p->state == PS_CONNECTING || p->state == PS_FAILING_FAST;
}

bool path_up(struct hpath *p)
{
	char why[8];

	return p->used && p->state == PS_LIVE && !p->job_running && p->ctrl &&
	       tr_ctrl_health(p->ctrl, why, sizeof(why)) == 0;
}

/* ---- The record `list` reads ---- */

static const char *const auth_names[] = { [TR_AUTH_NONE] = "none", [TR_AUTH_DHCHAP] = "dhchap",
					   [TR_AUTH_DHCHAP_BIDI] = "dhchap-bidirectional" };

static enum hostd_rec_state rec_state(const struct hpath *p)
{
	if (p->state == PS_DELETING || p->h->state == HS_DELETING)
		return HREC_DELETING;
	return p->state == PS_LIVE ? HREC_LIVE : HREC_CONNECTING;
}

static void fill_record(struct hpath *p, struct hostd_record *r)
{
	struct hostd *h = p->h;
	uint64_t now = tr_now_ns();
	int delay = p->o.reconnect_delay_s;

	snprintf(r->name, sizeof(r->name), "%s", p->name);
	r->pid = getpid();
	r->state = rec_state(p);
	r->attempt = p->attempt;
	r->max_attempts = p->o.ctrl_loss_tmo_s < 0 ? -1 : p->o.ctrl_loss_tmo_s / (delay ? delay : 1);
	r->next_attempt_in_s = reconnecting(p) && p->next_attempt_ns > now ? (int)((p->next_attempt_ns - now) / NS_PER_S)
									     : 0;
	r->written_at = (int64_t)time(NULL);
	snprintf(r->traddr, sizeof(r->traddr), "%s", p->traddr);
	snprintf(r->trsvcid, sizeof(r->trsvcid), "%s", p->trsvcid);
	snprintf(r->subnqn, sizeof(r->subnqn), "%s", h->subnqn);
	snprintf(r->hostnqn, sizeof(r->hostnqn), "%s", h->hostnqn);
	r->cntlid = p->cntlid;
	snprintf(r->auth, sizeof(r->auth), "%s", auth_names[p->auth]);
	snprintf(r->serial, sizeof(r->serial), "%s", p->serial);
	snprintf(r->model, sizeof(r->model), "%s", p->model);
	snprintf(r->firmware, sizeof(r->firmware), "%s", p->firmware);
	snprintf(r->mountpoint, sizeof(r->mountpoint), "%s", h->mnt);
	snprintf(r->subsys, sizeof(r->subsys), "%s", h->name);
	snprintf(r->sock, sizeof(r->sock), "%s", h->sock_path);
	snprintf(r->iopolicy, sizeof(r->iopolicy), "%s", mpath_iopolicy_name(h->iopolicy));
	/* The path's ANA state for its first namespace, as nvme-cli's list-subsys shows one per path. */
	for (int i = 0; i < h->nr_ns && !r->ana_state[0]; i++)
		if (h->ns[i].on[p->idx].present)
			snprintf(r->ana_state, sizeof(r->ana_state), "%s",
				 ana_state_name(p->ana ? ana_group_state(&p->ana_tbl, h->ns[i].on[p->idx].grpid)
						       : NVME_ANA_OPTIMIZED));
	snprintf(r->last_error, sizeof(r->last_error), "%s", p->last_error);
	for (int i = 0; i < h->nr_ns; i++) {
		struct hostd_rec_ns *n = &r->ns[r->nr_ns++];

		n->nsid = h->ns[i].nsid;
		snprintf(n->file, sizeof(n->file), "%.4000s/n%u", h->mnt, h->ns[i].nsid);
		snprintf(n->loop, sizeof(n->loop), "%s", h->ns[i].loop);
		n->nsze = h->ns[i].nsze;
		n->lba_size = 1u << h->ns[i].lba_shift;
	}
}

int path_write_record(struct hpath *p)
{
	struct hostd_record *r = calloc(1, sizeof(*r));
	int err = -ENOMEM;

	if (r)
		r->ns = calloc((size_t)p->h->nr_ns + 1, sizeof(*r->ns));
	if (r && r->ns) {
		fill_record(p, r);
		err = hostd_record_write(p->json_path, r);
	}
	if (r)
		hostd_record_clear(r);
	free(r);
	return err;
}

/* Claim the lowest free name trN by creating its record exclusively. A name whose control socket or
 * mount is still there belongs to a host process that lives on after its first path went. */
int path_claim_name(struct hpath *p, const char *state_dir)
{
	for (int i = 0; i < 1024; i++) {
		char other[PATH_MAX + 32];
		int fd;

		snprintf(p->name, sizeof(p->name), "tr%d", i);
		snprintf(p->json_path, sizeof(p->json_path), "%s/ctrl/%s.json", state_dir, p->name);
		fd = open(p->json_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			continue;
		(void)!write(fd, "{}\n", 3);
		close(fd);
		snprintf(other, sizeof(other), "%s/ctrl/%s.sock", state_dir, p->name);
		if (access(other, F_OK) == 0) {
			unlink(p->json_path);
			continue;
		}
		snprintf(other, sizeof(other), "%s/mnt/%s", state_dir, p->name);
		if (access(other, F_OK) == 0) {
			unlink(p->json_path);
			continue;
		}
		return 0;
	}
	p->name[0] = 0;
	return -ENOSPC;
}

/* ---- Connecting, in a thread ---- */

static void wipe_secrets(struct hpath *p)
{
	char **s[] = { &p->secret, &p->ctrl_secret, &p->tls_key };

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		if (*s[i]) {
			memset(*s[i], 0, strlen(*s[i]));
			free(*s[i]);
			*s[i] = NULL;
		}
	}
	p->o.conn.dhchap_secret = p->o.conn.dhchap_ctrl_secret = p->o.conn.tls_key = NULL;
}

/* The connect (a new path: into p->job_ctrl) or reconnect (p->ctrl) and what the controller reports.
 * Touches nothing the event loop uses meanwhile. */
static void *job_main(void *arg)
{
	struct hpath *p = arg;
	int err;

	p->job_why[0] = 0;
	if (p->ctrl)
		err = tr_ctrl_reconnect(p->ctrl, p->job_why, sizeof(p->job_why));
	else
		err = tr_ctrl_connect(&p->o.conn, &p->job_ctrl, p->job_why, sizeof(p->job_why));
	if (!err)
		err = path_probe(p->ctrl ? p->ctrl : p->job_ctrl, p->view, p->job_why, sizeof(p->job_why));
	p->job_err = err;
	atomic_store(&p->job_done, true);
	return NULL;
}

void path_start_job(struct hpath *p)
{
	if (!p->view)
		p->view = calloc(1, sizeof(*p->view));
	atomic_store(&p->job_done, false);
	if (!p->view || pthread_create(&p->job, NULL, job_main, p)) {
		p->job_err = -ENOMEM;
		snprintf(p->job_why, sizeof(p->job_why), "cannot start the connect thread");
		atomic_store(&p->job_done, true);
		return;
	}
	p->job_running = true;
}

static void job_join(struct hpath *p)
{
	if (p->job_running)
		pthread_join(p->job, NULL);
	p->job_running = false;
}

/* The first path, connected before the process serves anything: the same steps, in this thread. */
int path_connect_now(struct hpath *p, char *why, size_t whylen)
{
	int err;

	p->view = calloc(1, sizeof(*p->view));
	if (!p->view)
		return -ENOMEM;
	job_main(p);
	wipe_secrets(p);
	err = p->job_err;
	snprintf(why, whylen, "%s", p->job_why);
	if (!err)
		err = path_adopt(p, p->view, why, whylen);
	if (!err) {
		p->ctrl = p->job_ctrl;
		p->job_ctrl = NULL;
		path_set_state(p, PS_LIVE);
	}
	return err;
}

/* An added path's connect is over: live, or refused and gone; `connect` hears which. */
static void new_path_done(struct hpath *p)
{
	char why[300], msg[320];
	int err;

	job_join(p);
	wipe_secrets(p);
	err = p->job_err;
	snprintf(why, sizeof(why), "%s", p->job_why);
	if (!err && p->h->state != HS_LIVE)
		err = -ESHUTDOWN, snprintf(why, sizeof(why), "the host process is shutting down");
	if (!err)
		err = path_adopt(p, p->view, why, sizeof(why));
	if (err) {
		tr_warn("%s: path to %s:%s refused: %s", p->h->name, p->traddr, p->trsvcid, why);
		snprintf(msg, sizeof(msg), "ERR %s\n", why[0] ? why : strerror(-err));
		if (p->reply_fd >= 0) {
			(void)!write(p->reply_fd, msg, strlen(msg));
			close(p->reply_fd);
			p->reply_fd = -1;
		}
		path_set_state(p, PS_DELETING);
		path_release(p);
		return;
	}
	p->ctrl = p->job_ctrl;
	p->job_ctrl = NULL;
	path_set_state(p, PS_LIVE);
	tr_info("%s: new path %s: NQN \"%s\", addr %s:%s, cntlid %u", p->h->name, p->name, p->h->subnqn, p->traddr,
		p->trsvcid, p->cntlid);
	hostd_write_state(p->h);
	snprintf(msg, sizeof(msg), "OK %s\n", p->name);
	if (p->reply_fd >= 0) {
		(void)!write(p->reply_fd, msg, strlen(msg));
		close(p->reply_fd);
		p->reply_fd = -1;
	}
	hostd_io_resubmit_waiting(p->h);
}

/* ---- Error recovery, in the kernel's words ---- */

static void start_recovery(struct hpath *p, const char *why)
{
	struct hostd *h = p->h;

	snprintf(p->last_error, sizeof(p->last_error), "%.255s", why);
	tr_warn("%s: %s", p->name, why);
	tr_warn("%s: starting error recovery", p->name);
	/* Not routable first: the teardown completes its commands with transport errors, and those go
	 * to the other paths (or wait) at once. */
	path_set_state(p, PS_CONNECTING);
	p->m.recoveries++;
	mpath_paths_changed(h);
	tr_ctrl_teardown(p->ctrl);
	p->lost_ns = tr_now_ns();
	p->attempt = 0;
	p->next_attempt_ns = p->lost_ns + (uint64_t)p->o.reconnect_delay_s * NS_PER_S;
	tr_info("%s: Reconnecting in %d seconds...", p->name, p->o.reconnect_delay_s);
	hostd_io_resubmit_waiting(h);
	hostd_write_state(h);
}

static void reconnect_done(struct hpath *p)
{
	struct hostd *h = p->h;
	char why[300];
	int err;

	job_join(p);
	err = p->job_err;
	snprintf(why, sizeof(why), "%s", p->job_why);
	/* The ANA log is read again with the namespaces, and they must still be the same ones. */
	if (!err && (err = path_adopt(p, p->view, why, sizeof(why))))
		tr_ctrl_teardown(p->ctrl);
	if (!err) {
		tr_info("%s: Successfully reconnected (%d attempt)", p->name, p->attempt);
		path_set_state(p, PS_LIVE);
		p->m.reconnects++;
		p->last_error[0] = 0;
		hostd_io_resubmit_waiting(h); /* what waited through the outage goes again (failback) */
		hostd_write_state(h);
		return;
	}
	snprintf(p->last_error, sizeof(p->last_error), "%.255s", why);
	tr_warn("%s: Failed reconnect attempt %d: %s", p->name, p->attempt, why);
	if (p->o.ctrl_loss_tmo_s >= 0 && tr_now_ns() - p->lost_ns >= (uint64_t)p->o.ctrl_loss_tmo_s * NS_PER_S) {
		/* The kernel's two lines: the reconnect work giving up, then the deletion. */
		tr_warn("%s: Removing controller... (ctrl_loss_tmo %d s passed)", p->name, p->o.ctrl_loss_tmo_s);
		tr_warn("%s: Removing ctrl: NQN \"%s\"", p->name, h->subnqn);
		path_remove(p, "ctrl_loss_tmo");
		return;
	}
	p->next_attempt_ns = tr_now_ns() + (uint64_t)p->o.reconnect_delay_s * NS_PER_S;
	tr_info("%s: Reconnecting in %d seconds...", p->name, p->o.reconnect_delay_s);
	hostd_write_state(h);
}

static void serve_reconnecting(struct hpath *p)
{
	struct hostd *h = p->h;

	if (p->job_running) {
		if (atomic_load(&p->job_done))
			reconnect_done(p);
		return;
	}
	if (p->state == PS_CONNECTING && p->o.fast_io_fail_tmo_s >= 0 &&
	    tr_now_ns() - p->lost_ns >= (uint64_t)p->o.fast_io_fail_tmo_s * NS_PER_S) {
		tr_warn("%s: fast_io_fail_tmo (%d s) passed: failing I/O until reconnected", p->name,
			p->o.fast_io_fail_tmo_s);
		path_set_state(p, PS_FAILING_FAST);
		if (!mpath_can_hold(h))
			hostd_io_fail_waiting(h, EIO);
	}
	if (h->state == HS_LIVE && tr_now_ns() >= p->next_attempt_ns) {
		p->attempt++;
		path_start_job(p);
	}
}

/* ---- Events and ANA ---- */

static void ana_reread(struct hpath *p)
{
	struct hostd *h = p->h;
	char why[200] = "";
	int err = 0;

	p->ana_stale = false;
	if (p->ana) {
		struct path_view *v = calloc(1, sizeof(*v));

		err = v ? path_probe(p->ctrl, v, why, sizeof(why)) : -ENOMEM;
		if (!err)
			err = path_adopt(p, v, why, sizeof(why)); /* takes the new ANA table */
		free(v);
	}
	if (err) {
		tr_warn("%s: ANA log not taken: %s (again in 1 s)", p->name, why[0] ? why : tr_status_str(err));
		p->ana_stale = true;
		p->ana_retry_ns = tr_now_ns() + NS_PER_S;
		return;
	}
	for (int i = 0; i < h->nr_ns; i++)
		h->ns[i].on[p->idx].ana_pending = false;
	for (int i = 0; i < h->nr_ns; i++)
		if (h->ns[i].on[p->idx].present)
			tr_info("%s: namespace %u: ANA group %u %s", p->name, h->ns[i].nsid, h->ns[i].on[p->idx].grpid,
				ana_state_name(mpath_ana_state(h, &h->ns[i], p->idx)));
	mpath_paths_changed(h);
	hostd_write_state(h);
}

/* Read the log page an asynchronous event names (Changed Namespace List for a namespace notice),
 * without Retain: the controller sends no further event of that kind until it is read. */
static void clear_event_log(struct hpath *p, uint32_t aen)
{
	uint8_t lid = (aen >> 16) & 0xff;
	void *log;
	int status;

	if (!lid || lid == NVME_LOG_ANA || !(log = aligned_alloc(4096, 4096)))
		return;
	status = tr_ctrl_get_log(p->ctrl, lid, 0xffffffffu, log, 4096);
	if (status)
		tr_warn("%s: cannot read log page %#x named by the event: %s", p->name, lid, tr_status_str(status));
	free(log);
}

static void serve_live(struct hpath *p)
{
	char why[256];
	uint32_t aen;

	for (int i = 0; i < tr_ctrl_nr_io_queues(p->ctrl); i++)
		tr_ioq_poll(tr_ctrl_ioq(p->ctrl, i), 0);
	if (tr_ctrl_poll_admin(p->ctrl, &aen) == 1) {
		bool ana = (aen & 7) == NVME_AER_TYPE_NOTICE && ((aen >> 8) & 0xff) == NVME_AER_NOTICE_ANA;

		tr_info("%s: asynchronous event %#x: %s", p->name, aen,
			ana ? "ANA change, reading the ANA log" : "rescanning namespaces");
		clear_event_log(p, aen);
		/* Both a rescan and an ANA change read the namespaces and the ANA log again. */
		p->ana_stale = true;
		p->ana_retry_ns = 0;
		if (!p->ana) {
			struct path_view *v = calloc(1, sizeof(*v));

			if (v && path_probe(p->ctrl, v, why, sizeof(why)) == 0 && path_adopt(p, v, why, sizeof(why)))
				tr_warn("%s: %s", p->name, why);
			free(v);
			p->ana_stale = false;
			hostd_write_state(p->h);
		}
	}
	if (p->ana_stale && tr_now_ns() >= p->ana_retry_ns && tr_ctrl_health(p->ctrl, why, sizeof(why)) == 0)
		ana_reread(p);
	if (tr_ctrl_health(p->ctrl, why, sizeof(why))) {
		if (p->h->state == HS_DELETING) {
			/* Nothing reconnects while the process ends: the path is just gone. */
			tr_warn("%s: %s", p->name, why);
			path_set_state(p, PS_DELETING);
			tr_ctrl_teardown(p->ctrl);
			hostd_write_state(p->h);
		} else {
			start_recovery(p, why);
		}
	}
}

/* ---- Removal ---- */

/* Remove one path (disconnect -d, ctrl_loss_tmo); with it the process when it was the last. */
void path_remove(struct hpath *p, const char *why)
{
	struct hostd *h = p->h;

	if (p->state == PS_DELETING)
		return;
	if (hostd_nr_paths(h) <= 1) {
		if (p->reply_fd >= 0) {
			if (h->reply_fd >= 0)
				close(h->reply_fd);
			h->reply_fd = p->reply_fd;
			p->reply_fd = -1;
		}
		hostd_start_teardown(h, why);
		return;
	}
	tr_info("%s: removing path %s (%s)", h->name, p->name, why);
	path_set_state(p, PS_DELETING);
	mpath_paths_changed(h);
	hostd_write_state(h);
}

/* Its connection ends (shut down when it still works), its record goes, and whoever asked hears. */
void path_release(struct hpath *p)
{
	struct hostd *h = p->h;

	job_join(p);
	tr_ctrl_disconnect(p->job_ctrl);
	tr_ctrl_disconnect(p->ctrl); /* what was in flight comes back failed and goes to another path */
	p->ctrl = p->job_ctrl = NULL;
	unlink(p->json_path);
	for (int i = 0; i < h->nr_ns; i++)
		h->ns[i].on[p->idx] = (struct ns_path){ 0 };
	if (p->reply_fd >= 0) {
		(void)!write(p->reply_fd, "ok\n", 3);
		close(p->reply_fd);
	}
	wipe_secrets(p);
	free(p->view);
	*p = (struct hpath){ .h = h, .idx = p->idx, .reply_fd = -1 };
	mpath_paths_changed(h);
}

/* A path being removed goes once what it carries is done, or at once when it is down. While the
 * process ends, its paths stay for the final flush (finish() disconnects them). */
static void serve_deleting(struct hpath *p)
{
	bool up = p->ctrl && !p->job_running && tr_ctrl_health(p->ctrl, (char[8]){ 0 }, 8) == 0;

	if (up)
		for (int i = 0; i < tr_ctrl_nr_io_queues(p->ctrl); i++)
			tr_ioq_poll(tr_ctrl_ioq(p->ctrl, i), 0);
	if (p->h->state == HS_DELETING)
		return;
	if (p->job_running && !atomic_load(&p->job_done))
		return;
	if (!up || path_io_inflight(p) == 0) {
		tr_info("%s: path %s removed", p->h->name, p->name);
		path_release(p);
		hostd_write_state(p->h);
	}
}

void path_serve(struct hpath *p)
{
	if (!p->used)
		return;
	switch (p->state) {
	case PS_NEW:
		if (atomic_load(&p->job_done))
			new_path_done(p);
		break;
	case PS_LIVE:
		serve_live(p);
		break;
	case PS_CONNECTING:
	case PS_FAILING_FAST:
		serve_reconnecting(p);
		break;
	case PS_DELETING:
		serve_deleting(p);
		break;
	}
}
