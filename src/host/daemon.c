/* The host process behind `tightrope connect`: one event loop serves FUSE requests for each
 * namespace through the controller's I/O queues, keeps an AER armed, and on a lost path runs the
 * kernel's error recovery (park I/O, reconnect every reconnect_delay, give up at ctrl_loss_tmo). */
#define FUSE_USE_VERSION 35
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <linux/loop.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host/daemon.h"
#include "nvme/spec.h"
#include "util/log.h"

#define MAX_NS 64
#define ROOT_INO 1
/* How often a request goes again after its commands were lost with the path, as the kernel's
 * nvme_max_retries: a command the target never answers must end in an error, not a loop. */
#define MAX_RETRIES 5

enum hostd_state { S_LIVE, S_CONNECTING, S_DELETING };

/* Attaching a loop device makes the kernel read through our FUSE file, so it runs in a thread of
 * its own while the event loop serves those reads. Whoever finishes second frees the job. */
enum { JOB_RUNNING, JOB_DONE, JOB_ORPHANED };
struct loop_job {
	pthread_t thread;
	char file[PATH_MAX + 16];
	char name[16];
	uint32_t nsid, block_size;
	char dev[32];
	_Atomic int state;
};

struct ns_dev {
	uint32_t nsid;
	uint64_t nsze;
	uint32_t lba_shift;
	char loop[32];
	struct loop_job *job;
};

enum req_kind { REQ_READ, REQ_WRITE, REQ_FLUSH, REQ_DEALLOCATE, REQ_ZEROES };

struct io_req {
	struct hostd *h;
	fuse_req_t req;
	enum req_kind kind;
	uint32_t nsid;
	uint64_t off; /* what the caller asked for */
	size_t size;
	uint64_t aoff; /* the block-aligned extent that goes on the wire */
	uint32_t alen;
	uint8_t *buf;
	const uint8_t *wdata; /* a copy of the caller's write data */
	bool rmw_read; /* an unaligned write: read the extent first */
	uint32_t next_chunk, nr_chunks, inflight;
	bool transport_err;
	int nvme_err;
	int retries; /* times sent again after a transport error */
	uint64_t first_ns;
	struct io_req *next;
};

struct hostd {
	struct hostd_opts o;
	char name[16];
	char dir[PATH_MAX - 64], json_path[PATH_MAX], sock_path[PATH_MAX], mnt[PATH_MAX];
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
	bool fail_fast;
	pthread_t teardown_thread;
	bool teardown_threaded; /* teardown_thread exists and is to be joined */
	_Atomic bool teardown_done;
	bool teardown_started;
	const char *exit_reason;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- The state record `list` reads ---- */

static void write_state(struct hostd *h)
{
	json_object *o = json_object_new_object(), *nss = json_object_new_array();
	const struct nvme_id_ctrl *id = h->ctrl ? tr_ctrl_identify_data(h->ctrl) : NULL;
	static const char *const names[] = { "live", "connecting", "deleting" };
	char tmp[PATH_MAX + 8], sn[21] = "", mn[41] = "", fr[9] = "";
	int max_attempts = h->o.ctrl_loss_tmo_s < 0 ? -1 : h->o.ctrl_loss_tmo_s / (h->o.reconnect_delay_s ? h->o.reconnect_delay_s : 1);

	if (id) {
		snprintf(sn, sizeof(sn), "%.20s", id->sn);
		snprintf(mn, sizeof(mn), "%.40s", id->mn);
		snprintf(fr, sizeof(fr), "%.8s", id->fr);
		for (char *p = sn + strlen(sn); p > sn && p[-1] == ' ';)
			*--p = 0;
		for (char *p = mn + strlen(mn); p > mn && p[-1] == ' ';)
			*--p = 0;
		for (char *p = fr + strlen(fr); p > fr && p[-1] == ' ';)
			*--p = 0;
	}
	json_object_object_add(o, "name", json_object_new_string(h->name));
	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(o, "state", json_object_new_string(names[h->state]));
	json_object_object_add(o, "attempt", json_object_new_int(h->attempt));
	json_object_object_add(o, "max_attempts", json_object_new_int(max_attempts));
	json_object_object_add(o, "next_attempt_in_s",
			       json_object_new_int(h->state == S_CONNECTING && h->next_attempt_ns > mono_ns()
							   ? (int)((h->next_attempt_ns - mono_ns()) / 1000000000ull)
							   : 0));
	json_object_object_add(o, "written_at", json_object_new_int64((int64_t)time(NULL)));
	json_object_object_add(o, "transport", json_object_new_string("tcp"));
	json_object_object_add(o, "traddr", json_object_new_string(h->o.conn.traddr));
	json_object_object_add(o, "trsvcid", json_object_new_string(h->o.conn.trsvcid));
	json_object_object_add(o, "subnqn", json_object_new_string(h->o.conn.subnqn));
	json_object_object_add(o, "hostnqn", json_object_new_string(h->o.conn.hostnqn));
	json_object_object_add(o, "cntlid", json_object_new_int(h->ctrl ? tr_ctrl_cntlid(h->ctrl) : 0));
	json_object_object_add(o, "serial", json_object_new_string(sn));
	json_object_object_add(o, "model", json_object_new_string(mn));
	json_object_object_add(o, "firmware", json_object_new_string(fr));
	json_object_object_add(o, "mountpoint", json_object_new_string(h->mnt));
	json_object_object_add(o, "last_error", json_object_new_string(h->last_error));
	for (int i = 0; i < h->nr_ns; i++) {
		json_object *n = json_object_new_object();
		char file[PATH_MAX + 16];

		snprintf(file, sizeof(file), "%s/n%u", h->mnt, h->ns[i].nsid);
		json_object_object_add(n, "nsid", json_object_new_int((int)h->ns[i].nsid));
		json_object_object_add(n, "file", json_object_new_string(file));
		json_object_object_add(n, "loop", json_object_new_string(h->ns[i].loop));
		json_object_object_add(n, "nsze", json_object_new_int64((int64_t)h->ns[i].nsze));
		json_object_object_add(n, "lba_size", json_object_new_int(1 << h->ns[i].lba_shift));
		json_object_array_add(nss, n);
	}
	json_object_object_add(o, "namespaces", nss);
	snprintf(tmp, sizeof(tmp), "%s.tmp", h->json_path);
	if (json_object_to_file_ext(tmp, o, JSON_C_TO_STRING_PRETTY) == 0)
		rename(tmp, h->json_path);
	json_object_put(o);
}

/* ---- Namespaces ---- */

static struct ns_dev *ns_by_nsid(struct hostd *h, uint32_t nsid)
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

static void loop_attach_start(struct hostd *h, struct ns_dev *ns);
static void loop_detach_async(struct ns_dev *ns);
static void loop_detach(struct ns_dev *ns);

/* Bring the namespace list in line with the controller's: new ones appear, removed ones go. */
static void ns_refresh(struct hostd *h)
{
	uint32_t nsids[MAX_NS];
	int n = tr_ctrl_active_ns(h->ctrl, nsids, MAX_NS);

	if (n < 0) {
		tr_warn("%s: cannot read the active namespace list: %s", h->name, tr_status_str(n));
		return;
	}
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
		if (h->se) {
			char name[16];

			snprintf(name, sizeof(name), "n%u", h->ns[i].nsid);
			fuse_lowlevel_notify_inval_entry(h->se, ROOT_INO, name, strlen(name));
		}
		h->ns[i] = h->ns[--h->nr_ns];
	}
	for (int k = 0; k < n; k++) {
		struct ns_dev *ns = ns_by_nsid(h, nsids[k]);
		uint64_t nsze;
		uint32_t shift;

		if (ns_identify(h, nsids[k], &nsze, &shift))
			continue;
		if (ns) {
			if (ns->nsze != nsze) {
				tr_info("%s: namespace %u resized to %llu blocks", h->name, ns->nsid, (unsigned long long)nsze);
				ns->nsze = nsze;
				if (h->se)
					fuse_lowlevel_notify_inval_inode(h->se, ROOT_INO + ns->nsid, 0, 0);
				if (ns->loop[0]) {
					int fd = open(ns->loop, O_RDONLY | O_CLOEXEC);

					if (fd >= 0) {
						ioctl(fd, LOOP_SET_CAPACITY, 0);
						close(fd);
					}
				}
			}
			continue;
		}
		if (h->nr_ns == MAX_NS)
			break;
		ns = &h->ns[h->nr_ns++];
		*ns = (struct ns_dev){ .nsid = nsids[k], .nsze = nsze, .lba_shift = shift };
		tr_info("%s: namespace %u: %llu blocks of %u bytes", h->name, ns->nsid, (unsigned long long)nsze,
			1u << shift);
		if (!h->o.no_loop && h->se && h->state != S_DELETING)
			loop_attach_start(h, ns);
	}
	write_state(h);
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

/* ---- Loop devices (attached from a helper thread: the kernel reads through our FUSE file) ---- */

static void *loop_attach_main(void *arg)
{
	struct loop_job *job = arg;
	int ctl, nr, lfd = -1, ffd = -1, ok = 0, expect = JOB_RUNNING;
	char dev[32] = "";

	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	ffd = open(job->file, O_RDWR | O_CLOEXEC);
	/* Another attach may grab the same free device between GET_FREE and CONFIGURE: try again. */
	for (int tries = 0; ctl >= 0 && ffd >= 0 && !ok && tries < 16; tries++) {
		/* Direct I/O: the loop driver then keeps many requests in flight through our FUSE file
		 * (as AIO) instead of one synchronous read or write at a time, and no second page cache. */
		struct loop_config cfg = { .fd = (uint32_t)ffd, .block_size = job->block_size,
					   .info.lo_flags = LO_FLAGS_DIRECT_IO };
		size_t n = strnlen(job->file, sizeof(cfg.info.lo_file_name) - 1);

		nr = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (nr < 0)
			break;
		snprintf(dev, sizeof(dev), "/dev/loop%d", nr);
		lfd = open(dev, O_RDWR | O_CLOEXEC);
		if (lfd < 0)
			break;
		memcpy(cfg.info.lo_file_name, job->file, n); /* informational only: a prefix will do */
		ok = ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0;
		if (!ok && errno == EINVAL && ioctl(lfd, LOOP_SET_FD, ffd) == 0) {
			ok = 1; /* a kernel before 5.8 */
			ioctl(lfd, LOOP_SET_BLOCK_SIZE, (unsigned long)job->block_size);
		}
		if (!ok && errno != EBUSY)
			break;
		close(lfd);
		lfd = -1;
	}
	if (ok) {
		snprintf(job->dev, sizeof(job->dev), "%s", dev);
		tr_info("%s: namespace %u is %s (and %s)", job->name, job->nsid, dev, job->file);
	} else {
		tr_warn("%s: namespace %u: no loop device (%s); the file %s still works", job->name, job->nsid,
			strerror(errno), job->file);
	}
	if (ffd >= 0)
		close(ffd);
	if (lfd >= 0)
		close(lfd);
	if (ctl >= 0)
		close(ctl);
	if (!atomic_compare_exchange_strong(&job->state, &expect, JOB_DONE)) {
		/* The namespace went away while we attached: undo, and clean up after ourselves. */
		struct ns_dev gone = { 0 };

		snprintf(gone.loop, sizeof(gone.loop), "%s", job->dev);
		loop_detach(&gone);
		pthread_detach(pthread_self());
		free(job);
	}
	return NULL;
}

static void loop_attach_start(struct hostd *h, struct ns_dev *ns)
{
	struct loop_job *job = calloc(1, sizeof(*job));

	if (!job)
		return;
	snprintf(job->file, sizeof(job->file), "%s/n%u", h->mnt, ns->nsid);
	snprintf(job->name, sizeof(job->name), "%s", h->name);
	job->nsid = ns->nsid;
	job->block_size = 1u << ns->lba_shift;
	atomic_store(&job->state, JOB_RUNNING);
	if (pthread_create(&job->thread, NULL, loop_attach_main, job)) {
		free(job);
		return;
	}
	ns->job = job;
}

/* A finished attach: take its device. 'wait' joins a running one (only off the event loop). */
static bool loop_attach_collect(struct ns_dev *ns, bool wait)
{
	struct loop_job *job = ns->job;

	if (!job || (!wait && atomic_load(&job->state) != JOB_DONE))
		return false;
	pthread_join(job->thread, NULL);
	snprintf(ns->loop, sizeof(ns->loop), "%s", job->dev);
	free(job);
	ns->job = NULL;
	return true;
}

static void *detach_main(void *arg)
{
	loop_detach(arg);
	free(arg);
	return NULL;
}

/* Detach without blocking the event loop (an unmount on top reads through our FUSE file). */
static void loop_detach_async(struct ns_dev *ns)
{
	int expect = JOB_RUNNING;
	pthread_t t;

	if (ns->job && !atomic_compare_exchange_strong(&ns->job->state, &expect, JOB_ORPHANED))
		loop_attach_collect(ns, true); /* it had finished: its device is ours to detach */
	ns->job = NULL;
	if (ns->loop[0]) {
		struct ns_dev *copy = malloc(sizeof(*copy));

		if (copy) {
			*copy = *ns;
			if (pthread_create(&t, NULL, detach_main, copy) == 0)
				pthread_detach(t);
			else
				free(copy);
		}
	}
	ns->loop[0] = 0;
}

/* Unmount whatever is mounted from 'dev' (a filesystem the user put on our loop device). */
static void unmount_users(const char *dev)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char mp[PATH_MAX], src[PATH_MAX];
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 || sscanf(sep + 3, "%*s %4095s", src) != 1)
			continue;
		if (strcmp(src, dev))
			continue;
		if (umount2(mp, 0) == 0)
			tr_info("unmounted %s from %s", dev, mp);
		else if (umount2(mp, MNT_DETACH) == 0)
			tr_warn("%s was busy: detached lazily from %s", dev, mp);
		else
			tr_warn("cannot unmount %s from %s: %s", dev, mp, strerror(errno));
	}
	fclose(f);
}

static void loop_detach(struct ns_dev *ns)
{
	int fd;

	if (!ns->loop[0])
		return;
	unmount_users(ns->loop);
	fd = open(ns->loop, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		if (ioctl(fd, LOOP_CLR_FD, 0))
			tr_warn("%s: cannot detach: %s", ns->loop, strerror(errno));
		close(fd);
	}
	ns->loop[0] = 0;
}

/* ---- I/O requests from FUSE ---- */

static void req_reply(struct io_req *r);
static void req_fail(struct io_req *r, int err);
static void req_submit(struct io_req *r);

/* What a failed request was, for its log line. */
static const char *req_kind_name(const struct io_req *r)
{
	return r->kind == REQ_READ ? "read" : r->kind == REQ_WRITE ? "write" : "command";
}

static void chunk_done(void *arg, int status)
{
	struct io_req *r = arg;

	r->inflight--;
	if (status < 0)
		r->transport_err = true;
	else if (status && !r->nvme_err)
		r->nvme_err = status;
	if (r->inflight)
		return;
	if (r->transport_err) {
		/* The path is gone: this request waits for the reconnect (or fast_io_fail). A command
		 * that timed out takes the path down with it and would time out again after every
		 * reconnect (e.g. a write the target never sends R2T for), so the retries are counted. */
		r->transport_err = false;
		if (++r->retries > MAX_RETRIES) {
			tr_warn("%s: %s of %zu bytes at %llu on namespace %u failed: the path broke under it %d times",
				r->h->name, req_kind_name(r), r->size, (unsigned long long)r->off, r->nsid, r->retries);
			req_fail(r, EIO);
			return;
		}
		r->next_chunk = 0;
		r->next = r->h->waiting;
		r->h->waiting = r;
		return;
	}
	if (r->next_chunk < r->nr_chunks) {
		/* The queue was full part-way through: the event loop submits the rest. */
		r->next = r->h->waiting;
		r->h->waiting = r;
		return;
	}
	if (!r->nvme_err && r->rmw_read) {
		/* An unaligned write: the extent is read, now merge the new bytes and write it back. */
		memcpy(r->buf + (r->off - r->aoff), r->wdata, r->size);
		r->rmw_read = false;
		r->next_chunk = 0;
		req_submit(r);
		return;
	}
	req_reply(r);
}

static void req_free(struct io_req *r)
{
	free(r->buf);
	free((void *)r->wdata);
	free(r);
}

static void req_reply(struct io_req *r)
{
	if (r->nvme_err) {
		tr_warn("%s: %s of %zu bytes at %llu on namespace %u failed: %s", r->h->name,
			req_kind_name(r), r->size,
			(unsigned long long)r->off, r->nsid, tr_status_str(r->nvme_err));
		fuse_reply_err(r->req, EIO);
	} else if (r->kind == REQ_READ) {
		fuse_reply_buf(r->req, (const char *)r->buf + (r->off - r->aoff), r->size);
	} else if (r->kind == REQ_WRITE) {
		fuse_reply_write(r->req, r->size);
	} else {
		fuse_reply_err(r->req, 0);
	}
	req_free(r);
}

static void req_fail(struct io_req *r, int err)
{
	fuse_reply_err(r->req, err);
	req_free(r);
}

static void req_submit(struct io_req *r)
{
	struct hostd *h = r->h;
	struct ns_dev *ns = ns_by_nsid(h, r->nsid);
	uint32_t max = tr_ctrl_max_xfer(h->ctrl);

	if (!ns) {
		req_fail(r, ENODEV);
		return;
	}
	if (r->kind == REQ_READ || r->kind == REQ_WRITE)
		r->nr_chunks = (r->alen + max - 1) / max;
	else
		r->nr_chunks = 1;
	while (r->next_chunk < r->nr_chunks) {
		struct tr_ioq *q = tr_ctrl_ioq(h->ctrl, h->rr++ % tr_ctrl_nr_io_queues(h->ctrl));
		uint64_t off = r->aoff + (uint64_t)r->next_chunk * max;
		uint32_t len = r->alen - r->next_chunk * max < max ? r->alen - r->next_chunk * max : max;
		uint64_t slba = off >> ns->lba_shift;
		uint32_t nlb = len >> ns->lba_shift;
		uint8_t *p = r->buf + (off - r->aoff);
		int err;

		switch (r->kind) {
		case REQ_READ:
			err = tr_ioq_read(q, r->nsid, slba, nlb, p, len, chunk_done, r);
			break;
		case REQ_WRITE:
			err = r->rmw_read ? tr_ioq_read(q, r->nsid, slba, nlb, p, len, chunk_done, r)
					  : tr_ioq_write(q, r->nsid, slba, nlb, p, len, false, chunk_done, r);
			break;
		case REQ_FLUSH:
			err = tr_ioq_flush(q, r->nsid, chunk_done, r);
			break;
		case REQ_DEALLOCATE:
			err = tr_ioq_deallocate(q, r->nsid, slba, r->alen >> ns->lba_shift, chunk_done, r);
			break;
		default:
			err = tr_ioq_write_zeroes(q, r->nsid, slba, r->alen >> ns->lba_shift, chunk_done, r);
			break;
		}
		if (err == -EAGAIN || (err < 0 && err != -EINVAL)) {
			/* Queue full or failed: wait in line; retried when there is room or a new path. */
			if (r->inflight == 0) {
				r->next = h->waiting;
				h->waiting = r;
			}
			return;
		}
		if (err) {
			r->nvme_err = err;
			if (!r->inflight)
				req_reply(r);
			return;
		}
		r->inflight++;
		r->next_chunk++;
	}
}

static bool path_up(struct hostd *h)
{
	char why[8];

	return h->ctrl && tr_ctrl_health(h->ctrl, why, sizeof(why)) == 0;
}

/* New I/O while the path is down waits (unless fast_io_fail has passed). While deleting, I/O still
 * goes out as long as the path lasts: the teardown itself unmounts a filesystem from our loop device
 * and flushes it, and those writes must reach the target (the kernel host too keeps I/O going while
 * a controller is being deleted). With the path gone a deletion never reconnects, so it fails. */
static void req_start(struct hostd *h, struct io_req *r)
{
	r->h = h;
	r->first_ns = mono_ns();
	if (h->fail_fast || (h->state == S_DELETING && !path_up(h))) {
		req_fail(r, EIO);
		return;
	}
	if (h->state == S_CONNECTING) {
		r->next = h->waiting;
		h->waiting = r;
		return;
	}
	req_submit(r);
}

static struct io_req *req_new(fuse_req_t req, enum req_kind kind, uint32_t nsid, uint64_t off, size_t size,
			      uint32_t lba_shift)
{
	struct io_req *r = calloc(1, sizeof(*r));
	uint64_t mask = (1ull << lba_shift) - 1;

	if (!r)
		return NULL;
	r->req = req;
	r->kind = kind;
	r->nsid = nsid;
	r->off = off;
	r->size = size;
	r->aoff = off & ~mask;
	r->alen = (uint32_t)(((off + size + mask) & ~mask) - r->aoff);
	if (kind == REQ_READ || kind == REQ_WRITE) {
		r->buf = aligned_alloc(4096, (r->alen + 4095) / 4096 * 4096);
		if (!r->buf) {
			free(r);
			return NULL;
		}
	}
	return r;
}

/* ---- FUSE filesystem: / holds one file per namespace, nN ---- */

static struct hostd *fuse_host(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct ns_dev *ns_by_ino(struct hostd *h, fuse_ino_t ino)
{
	return ino > ROOT_INO ? ns_by_nsid(h, (uint32_t)(ino - ROOT_INO)) : NULL;
}

static void fill_attr(struct hostd *h, fuse_ino_t ino, struct stat *st)
{
	struct ns_dev *ns = ns_by_ino(h, ino);

	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (ino == ROOT_INO) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else if (ns) {
		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 1;
		st->st_size = (off_t)(ns->nsze << ns->lba_shift);
		st->st_blksize = 1 << ns->lba_shift;
		st->st_blocks = st->st_size / 512;
	}
	st->st_uid = getuid();
	st->st_gid = getgid();
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct hostd *h = fuse_host(req);
	struct fuse_entry_param e = { 0 };
	unsigned nsid;
	char tail;

	if (parent != ROOT_INO || sscanf(name, "n%u%c", &nsid, &tail) != 1 || !ns_by_nsid(h, nsid)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	e.ino = ROOT_INO + nsid;
	e.attr_timeout = 1.0;
	e.entry_timeout = 1.0;
	fill_attr(h, e.ino, &e.attr);
	fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct hostd *h = fuse_host(req);
	struct stat st;

	(void)fi;
	if (ino != ROOT_INO && !ns_by_ino(h, ino)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_attr(h, ino, &st);
	fuse_reply_attr(req, &st, 1.0);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct hostd *h = fuse_host(req);
	char *buf = calloc(1, size), name[32];
	size_t used = 0;

	(void)fi;
	if (ino != ROOT_INO || !buf) {
		free(buf);
		fuse_reply_err(req, ino != ROOT_INO ? ENOTDIR : ENOMEM);
		return;
	}
	/* Entries: ".", "..", then namespaces; 'off' is the index of the next one. */
	for (off_t i = off; i < h->nr_ns + 2; i++) {
		struct stat st = { .st_ino = ROOT_INO, .st_mode = S_IFDIR };
		size_t n;

		if (i >= 2) {
			snprintf(name, sizeof(name), "n%u", h->ns[i - 2].nsid);
			st.st_ino = ROOT_INO + h->ns[i - 2].nsid;
			st.st_mode = S_IFREG;
		}
		n = fuse_add_direntry(req, buf + used, size - used, i == 0 ? "." : i == 1 ? ".." : name, &st, i + 1);
		if (n > size - used)
			break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (!ns_by_ino(fuse_host(req), ino)) {
		fuse_reply_err(req, ino == ROOT_INO ? EISDIR : ENOENT);
		return;
	}
	/* No page cache on our side: every read and write goes to the target, as with O_DIRECT. */
	fi->direct_io = 1;
	fi->keep_cache = 0;
	fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct hostd *h = fuse_host(req);
	struct ns_dev *ns = ns_by_ino(h, ino);
	uint64_t end;
	struct io_req *r;

	(void)fi;
	if (!ns) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	end = ns->nsze << ns->lba_shift;
	if ((uint64_t)off >= end || size == 0) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if ((uint64_t)off + size > end)
		size = (size_t)(end - (uint64_t)off);
	r = req_new(req, REQ_READ, ns->nsid, (uint64_t)off, size, ns->lba_shift);
	if (!r) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	req_start(h, r);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *data, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct hostd *h = fuse_host(req);
	struct ns_dev *ns = ns_by_ino(h, ino);
	struct io_req *r;
	uint64_t mask;

	(void)fi;
	if (!ns) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if ((uint64_t)off + size > ns->nsze << ns->lba_shift) {
		fuse_reply_err(req, ENOSPC);
		return;
	}
	r = req_new(req, REQ_WRITE, ns->nsid, (uint64_t)off, size, ns->lba_shift);
	if (!r) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	mask = (1ull << ns->lba_shift) - 1;
	if (((uint64_t)off | size) & mask) {
		/* Not whole blocks: read-modify-write; keep the caller's bytes until the read is back. */
		uint8_t *copy = malloc(size);

		if (!copy) {
			req_fail(r, ENOMEM);
			return;
		}
		memcpy(copy, data, size);
		r->wdata = copy;
		r->rmw_read = true;
	} else {
		memcpy(r->buf, data, size);
	}
	req_start(h, r);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct hostd *h = fuse_host(req);
	struct ns_dev *ns = ns_by_ino(h, ino);
	struct io_req *r;

	(void)datasync, (void)fi;
	if (!ns) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* fsync, and the loop device's REQ_PREFLUSH, become an NVMe Flush. */
	r = req_new(req, REQ_FLUSH, ns->nsid, 0, 0, ns->lba_shift);
	if (!r) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	req_start(h, r);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino, (void)fi;
	fuse_reply_err(req, 0); /* close(2): nothing is cached here */
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
			 struct fuse_file_info *fi)
{
	struct hostd *h = fuse_host(req);
	struct ns_dev *ns = ns_by_ino(h, ino);
	struct io_req *r;
	enum req_kind kind;
	uint64_t mask;

	(void)fi;
	if (!ns) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	mask = (1ull << ns->lba_shift) - 1;
	if (mode == (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE))
		kind = REQ_DEALLOCATE;
	else if (mode == FALLOC_FL_ZERO_RANGE || mode == (FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE))
		kind = REQ_ZEROES;
	else {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	if (((uint64_t)off | (uint64_t)len) & mask || (uint64_t)(off + len) > ns->nsze << ns->lba_shift ||
	    (uint64_t)len >> ns->lba_shift > 65536 || len <= 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	r = req_new(req, kind, ns->nsid, (uint64_t)off, (size_t)len, ns->lba_shift);
	if (!r) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	req_start(h, r);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* The kernel sends an AIO on a direct_io file (and so every I/O of a loop device in
	 * direct-I/O mode) as a background request, and keeps no more than max_background of those
	 * in flight (12 by default): that, not the target, capped queue depth. */
	conn->max_background = 1024;
	conn->congestion_threshold = 768;
	if (conn->capable & FUSE_CAP_ASYNC_DIO)
		conn->want |= FUSE_CAP_ASYNC_DIO;
}

static const struct fuse_lowlevel_ops fuse_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.readdir = op_readdir,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.fsync = op_fsync,
	.fallocate = op_fallocate,
};

static int fuse_start(struct hostd *h, char *why, size_t whylen)
{
	char *argv[] = { "tightrope", "-o", "allow_other,default_permissions,fsname=tightrope,subtype=nvme-tcp", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);

	if (geteuid() != 0)
		argv[2] = "-odefault_permissions,fsname=tightrope,subtype=nvme-tcp";
	mkdir(h->mnt, 0755);
	h->se = fuse_session_new(&args, &fuse_ops, sizeof(fuse_ops), h);
	if (!h->se || fuse_session_mount(h->se, h->mnt)) {
		snprintf(why, whylen, "cannot mount the FUSE view at %.180s (is /dev/fuse there?)", h->mnt);
		if (h->se)
			fuse_session_destroy(h->se);
		h->se = NULL;
		return -EIO;
	}
	/* Non-blocking, so the event loop can take every queued request in one pass. */
	fcntl(fuse_session_fd(h->se), F_SETFL, fcntl(fuse_session_fd(h->se), F_GETFL) | O_NONBLOCK);
	return 0;
}

/* ---- Error recovery, in the kernel's words ---- */

static void fail_waiting(struct hostd *h, int err)
{
	struct io_req *r = h->waiting;

	h->waiting = NULL;
	while (r) {
		struct io_req *next = r->next;

		req_fail(r, err);
		r = next;
	}
}

/* Submit every waiting request again (the list is LIFO; requests in flight have no order). */
static void resubmit_waiting(struct hostd *h)
{
	struct io_req *r = h->waiting;

	h->waiting = NULL;
	while (r) {
		struct io_req *next = r->next;

		r->next = NULL;
		req_submit(r);
		r = next;
	}
}

static void start_recovery(struct hostd *h, const char *why)
{
	snprintf(h->last_error, sizeof(h->last_error), "%s", why);
	tr_warn("%s: %s", h->name, why);
	tr_warn("%s: starting error recovery", h->name);
	tr_ctrl_teardown(h->ctrl); /* in-flight commands come back as transport errors and wait */
	h->state = S_CONNECTING;
	h->lost_ns = mono_ns();
	h->attempt = 0;
	h->next_attempt_ns = h->lost_ns + (uint64_t)h->o.reconnect_delay_s * 1000000000ull;
	tr_info("%s: Reconnecting in %d seconds...", h->name, h->o.reconnect_delay_s);
	write_state(h);
}

static void start_teardown(struct hostd *h, const char *reason);

static void try_reconnect(struct hostd *h)
{
	char why[256] = "";
	uint64_t now = mono_ns();
	int err;

	h->attempt++;
	err = tr_ctrl_reconnect(h->ctrl, why, sizeof(why));
	if (!err) {
		tr_info("%s: Successfully reconnected (%d attempt)", h->name, h->attempt);
		h->state = S_LIVE;
		h->fail_fast = false;
		h->last_error[0] = 0;
		ns_refresh(h);
		resubmit_waiting(h); /* everything held through the outage goes again */
		write_state(h);
		return;
	}
	snprintf(h->last_error, sizeof(h->last_error), "%s", why);
	tr_warn("%s: Failed reconnect attempt %d: %s", h->name, h->attempt, why);
	if (h->o.ctrl_loss_tmo_s >= 0 && now - h->lost_ns >= (uint64_t)h->o.ctrl_loss_tmo_s * 1000000000ull) {
		/* The kernel's two lines: the reconnect work giving up, then the deletion. */
		tr_warn("%s: Removing controller... (ctrl_loss_tmo %d s passed)", h->name, h->o.ctrl_loss_tmo_s);
		tr_warn("%s: Removing ctrl: NQN \"%s\"", h->name, h->o.conn.subnqn);
		start_teardown(h, "ctrl_loss_tmo");
		return;
	}
	h->next_attempt_ns = mono_ns() + (uint64_t)h->o.reconnect_delay_s * 1000000000ull;
	tr_info("%s: Reconnecting in %d seconds...", h->name, h->o.reconnect_delay_s);
	write_state(h);
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

static void start_teardown(struct hostd *h, const char *reason)
{
	if (h->teardown_started)
		return;
	h->teardown_started = true;
	h->exit_reason = reason;
	if (h->state != S_LIVE)
		fail_waiting(h, EIO); /* no path: nothing waiting can ever complete */
	h->state = S_DELETING;
	write_state(h);
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
		start_teardown(h, "disconnect");
		return;
	}
	write_state(h);
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

static int io_inflight(struct hostd *h)
{
	int n = 0;

	for (int i = 0; h->ctrl && i < tr_ctrl_nr_io_queues(h->ctrl); i++)
		n += tr_ioq_inflight(tr_ctrl_ioq(h->ctrl, i));
	return n;
}

/* Deletion is over once the devices are gone and no request is left, waiting or (while the path
 * lasts) in flight. */
static bool deletion_done(struct hostd *h)
{
	return h->state == S_DELETING && atomic_load(&h->teardown_done) && !h->waiting &&
	       !(io_inflight(h) && path_up(h));
}

static void event_loop(struct hostd *h)
{
	while (!deletion_done(h)) {
		struct pollfd pfd[2 + 64];
		int n = 0, nq = h->state != S_CONNECTING && h->ctrl ? tr_ctrl_nr_io_queues(h->ctrl) : 0, timeout = 100;
		uint32_t aen;

		if (h->se)
			pfd[n++] = (struct pollfd){ .fd = fuse_session_fd(h->se), .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = h->ctl_fd, .events = POLLIN };
		for (int i = 0; i < nq && i < 64; i++) {
			struct tr_ioq *q = tr_ctrl_ioq(h->ctrl, i);

			pfd[n++] = (struct pollfd){ .fd = tr_ioq_fd(q),
						    .events = POLLIN | (tr_ioq_tx_pending(q) ? POLLOUT : 0) };
		}
		if (h->state == S_DELETING)
			timeout = 20;
		poll(pfd, (nfds_t)n, timeout);
		/* A bounded batch, so the queues' sockets are served between batches. */
		for (int batch = 0; h->se && pfd[0].revents & POLLIN && batch < 64; batch++) {
			int res = fuse_session_receive_buf(h->se, &h->fbuf);

			if (res > 0) {
				fuse_session_process_buf(h->se, &h->fbuf);
				continue;
			}
			if (res < 0 && res != -EINTR && res != -EAGAIN && h->state != S_DELETING)
				start_teardown(h, "FUSE mount went away");
			break;
		}
		if (pfd[h->se ? 1 : 0].revents & POLLIN)
			ctl_accept(h);

		if (h->state == S_LIVE) {
			char why[256];
			int rc;

			for (int i = 0; i < tr_ctrl_nr_io_queues(h->ctrl); i++)
				tr_ioq_poll(tr_ctrl_ioq(h->ctrl, i), 0);
			/* Requests blocked on a full queue go again now that some completed. */
			resubmit_waiting(h);
			rc = tr_ctrl_poll_admin(h->ctrl, &aen);
			if (rc == 1) {
				tr_info("%s: asynchronous event %#x: rescanning namespaces", h->name, aen);
				clear_event_log(h, aen);
				ns_refresh(h);
			}
			if (tr_ctrl_health(h->ctrl, why, sizeof(why)))
				start_recovery(h, why);
		} else if (h->state == S_CONNECTING) {
			if (h->o.fast_io_fail_tmo_s >= 0 && !h->fail_fast &&
			    mono_ns() - h->lost_ns >= (uint64_t)h->o.fast_io_fail_tmo_s * 1000000000ull) {
				tr_warn("%s: fast_io_fail_tmo (%d s) passed: failing I/O until reconnected", h->name,
					h->o.fast_io_fail_tmo_s);
				h->fail_fast = true;
				fail_waiting(h, EIO);
			}
			if (mono_ns() >= h->next_attempt_ns)
				try_reconnect(h);
		} else if (h->ctrl) {
			/* Deleting: I/O completes and goes on while the path lasts; a broken path is not
			 * recovered, so whatever waits for one fails. */
			for (int i = 0; i < tr_ctrl_nr_io_queues(h->ctrl); i++)
				tr_ioq_poll(tr_ctrl_ioq(h->ctrl, i), 0);
			if (path_up(h))
				resubmit_waiting(h);
			else
				fail_waiting(h, EIO);
		}
		for (int i = 0; i < h->nr_ns && !h->teardown_started; i++)
			if (loop_attach_collect(&h->ns[i], false))
				write_state(h);
	}
}

static void hostd_main(struct hostd *h, int report_fd)
{
	char why[256] = "", msg[320];
	int err;

	h->reply_fd = -1;
	/* Every FUSE request gets a buffer of its size: keep freed memory in the heap rather than giving
	 * it back and faulting it in again, and take even 1 MiB buffers from there, not from mmap. */
	mallopt(M_MMAP_THRESHOLD, 4 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	h->ctl_fd = ctl_listen(h->sock_path);
	err = tr_ctrl_connect(&h->o.conn, &h->ctrl, why, sizeof(why));
	if (!err && h->ctl_fd < 0)
		err = -EIO, snprintf(why, sizeof(why), "cannot listen on %s", h->sock_path);
	if (!err)
		err = fuse_start(h, why, sizeof(why));
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
	h->state = S_LIVE;
	ns_refresh(h);
	/* Tell `connect` once the loop devices exist, so `list` right after shows them. */
	for (int tries = 0; tries < 500; tries++) {
		bool pending = false;

		for (int i = 0; i < h->nr_ns; i++)
			pending |= h->ns[i].job && !loop_attach_collect(&h->ns[i], false);
		if (!pending)
			break;
		{
			struct pollfd pfd = { .fd = fuse_session_fd(h->se), .events = POLLIN };

			if (poll(&pfd, 1, 10) > 0 && fuse_session_receive_buf(h->se, &h->fbuf) > 0)
				fuse_session_process_buf(h->se, &h->fbuf);
			for (int i = 0; i < tr_ctrl_nr_io_queues(h->ctrl); i++)
				tr_ioq_poll(tr_ctrl_ioq(h->ctrl, i), 0);
		}
	}
	write_state(h);
	snprintf(msg, sizeof(msg), "OK %s\n", h->name);
	(void)!write(report_fd, msg, strlen(msg));
	close(report_fd);

	event_loop(h);
	if (h->teardown_threaded)
		pthread_join(h->teardown_thread, NULL); /* done already: the loop waited for teardown_done */

	/* Teardown: flush each namespace, shut the controller down, leave nothing behind. */
	if (h->state == S_DELETING && h->ctrl && tr_ctrl_health(h->ctrl, why, sizeof(why)) == 0) {
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
		{
			struct hostd *h = calloc(1, sizeof(*h));
			char log[PATH_MAX + 8];
			int fd;

			if (h)
				h->o = *o;
			if (!h || claim_name(h)) {
				(void)!write(pipefd[1], "ERR no free controller name\n", 28);
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
			hostd_main(h, pipefd[1]);
		}
		_exit(1);
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

/* ---- list / disconnect from the CLI ---- */

/* A killed host process stays a zombie until its reaper (init, or a container's PID 1, which may be
 * slow) collects it; it serves nothing by then, so it counts as dead. */
static bool pid_alive(int pid)
{
	char path[64], buf[512];
	const char *state;
	ssize_t n;
	int fd;

	if (pid <= 0 || (kill(pid, 0) && errno != EPERM))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno != ENOENT;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = 0;
	/* "pid (comm) S ...": comm may hold spaces and parentheses, the state follows the last ')'. */
	state = strrchr(buf, ')');
	return !(state && (state[1] == ' ') && (state[2] == 'Z' || state[2] == 'X'));
}

json_object *hostd_list(const char *state_dir)
{
	json_object *arr = json_object_new_array();
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/ctrl", state_dir);
	d = opendir(dir);
	if (!d)
		return arr;
	while ((de = readdir(d))) {
		char path[PATH_MAX + 256];
		size_t len = strlen(de->d_name);
		json_object *o, *v;

		if (len < 6 || strcmp(de->d_name + len - 5, ".json"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		o = json_object_from_file(path);
		if (!o || !json_object_object_get_ex(o, "name", &v)) {
			json_object_put(o);
			continue;
		}
		if (json_object_object_get_ex(o, "pid", &v) && !pid_alive(json_object_get_int(v)))
			json_object_object_add(o, "state", json_object_new_string("dead"));
		json_object_array_add(arr, o);
	}
	closedir(d);
	return arr;
}

/* What a killed host process left: its mounts, loop devices and files. */
static void cleanup_dead(const char *state_dir, json_object *o, const char *name)
{
	json_object *nss, *v;
	char p[PATH_MAX + 64];

	if (json_object_object_get_ex(o, "namespaces", &nss)) {
		for (size_t i = 0; i < json_object_array_length(nss); i++) {
			json_object *n = json_object_array_get_idx(nss, i);
			struct ns_dev ns = { 0 };

			if (json_object_object_get_ex(n, "loop", &v) && json_object_get_string(v)[0]) {
				snprintf(ns.loop, sizeof(ns.loop), "%s", json_object_get_string(v));
				loop_detach(&ns);
			}
		}
	}
	if (json_object_object_get_ex(o, "mountpoint", &v) && json_object_get_string(v)[0]) {
		umount2(json_object_get_string(v), MNT_DETACH);
		rmdir(json_object_get_string(v));
	}
	snprintf(p, sizeof(p), "%s/ctrl/%s.sock", state_dir, name);
	unlink(p);
	snprintf(p, sizeof(p), "%s/ctrl/%s.json", state_dir, name);
	unlink(p);
}

int hostd_disconnect(const char *state_dir, const char *name, char *why, size_t whylen)
{
	char path[PATH_MAX + 64];
	json_object *o, *v;
	int pid = 0, err = 0;

	snprintf(path, sizeof(path), "%s/ctrl/%s.json", state_dir, name);
	o = json_object_from_file(path);
	if (!o) {
		snprintf(why, whylen, "no controller %s", name);
		return -ENOENT;
	}
	if (json_object_object_get_ex(o, "pid", &v))
		pid = json_object_get_int(v);
	if (pid_alive(pid)) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		char reply[16] = "";
		struct timeval tv = { .tv_sec = 60 };

		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/ctrl/%s.sock", state_dir, name);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		ssize_t got = -1;

		errno = 0;
		if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) ||
		    write(fd, "disconnect\n", 11) != 11 || (got = read(fd, reply, sizeof(reply) - 1)) <= 0) {
			snprintf(why, whylen, "%s (pid %d) did not answer the disconnect: %s", name, pid,
				 got == 0 ? "it closed the connection" : strerror(errno));
			err = -ETIMEDOUT;
		}
		if (fd >= 0)
			close(fd);
		for (int i = 0; i < 200 && pid_alive(pid); i++)
			usleep(50000); /* the process exits right after answering */
		if (err && !pid_alive(pid)) {
			/* It died instead of answering (killed a moment ago, or crashed while tearing down):
			 * what it left behind is ours to clean up, as for any dead one. */
			cleanup_dead(state_dir, o, name);
			err = 0;
		}
	} else {
		cleanup_dead(state_dir, o, name);
	}
	json_object_put(o);
	return err;
}
