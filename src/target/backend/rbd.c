/* Ceph RBD namespace backend: an image opened once per namespace through librbd's asynchronous API,
 * on one rados cluster handle per (ceph.conf, client id) that namespaces share. librbd completes on
 * its own threads; each completion is handed back to the worker that submitted it without a lock
 * (tgt_worker_post_remote). Opening, closing and the image-size watch run on other threads (the
 * caller's, and one "rbd" thread of this file), never on a worker. */
#include <errno.h>
#include <pthread.h>
#include <rados/librados.h>
#include <rbd/librbd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "target/target.h"
#include "target/worker.h"
#include "util/log.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

#define RBD_CHECK_S 5 /* the size is read this often besides the header watch's notices */

/* Bounds on Ceph's waits unless the ceph.conf sets its own: a cluster that is down at start refuses
 * the namespace within seconds, and an I/O to a cluster gone away fails in time for a host to retry
 * it before its own I/O timeout (Linux: 30 s) resets the controller. */
static const struct {
	const char *name, *ceph_default, *ours;
} timeouts[] = {
	{ "client_mount_timeout", "300", "10" },
	{ "rados_mon_op_timeout", "0", "10" },
	{ "rados_osd_op_timeout", "0", "10" },
};

struct rbd_cluster {
	struct rbd_cluster *next;
	char conf[TGT_RBD_FIELD_MAX], id[TGT_RBD_FIELD_MAX];
	rados_t rados;
	int refs; /* under clusters_lock */
};

struct rbd_ns {
	struct rbd_ns *next; /* on the rbd thread's active or closing list */
	struct rbd_cluster *cl;
	rados_ioctx_t ioctx;
	rbd_image_t image;
	uint64_t watch;
	bool watching;
	const struct tgt_ns *ns; /* compared, never followed, once the namespace may be gone */
	uint32_t nsid;
	char *subnqn, *name; /* name: "rbd:POOL/IMAGE" for log lines */
	uint64_t size; /* last size seen (rbd thread) */
	bool resize_noticed, gone; /* under mon_lock */
	unsigned checked; /* the sweep that last looked at it (rbd thread) */
	_Atomic bool unreachable; /* an I/O timed out: said once, until one succeeds */
};

static pthread_mutex_t clusters_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rbd_cluster *clusters;

/* The rbd thread: closes images namespaces no longer hold, and follows image sizes. */
static pthread_mutex_t mon_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t mon_cond = PTHREAD_COND_INITIALIZER;
static struct rbd_ns *mon_active, *mon_closing;
static bool mon_started, mon_stop, mon_quiesced, mon_checking, mon_notice;
static pthread_t mon_thread;

/* ---- Cluster handles ---- */

static int set_default_timeouts(rados_t r)
{
	char val[64];
	int err;

	for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
		if (rados_conf_get(r, timeouts[i].name, val, sizeof(val)))
			continue;
		/* Ceph prints seconds as "300" or "300.000000" depending on the option's type. */
		if (strtod(val, NULL) != strtod(timeouts[i].ceph_default, NULL))
			continue; /* the conf file chose */
		err = rados_conf_set(r, timeouts[i].name, timeouts[i].ours);
		if (err)
			return err;
	}
	/* No client-side cache: a write is on the OSDs when librbd completes it, and two targets that
	 * export one image (multipath) never serve each other stale data. */
	return rados_conf_set(r, "rbd_cache", "false");
}

static int cluster_connect(const struct tgt_rbd_spec *sp, rados_t *out, const char **step)
{
	rados_t r;
	int err;

	*step = "rados_create";
	err = rados_create(&r, sp->id[0] ? sp->id : NULL);
	if (err)
		return err;
	*step = sp->conf[0] ? "reading the conf file" : "finding a conf file (CEPH_CONF, /etc/ceph/ceph.conf)";
	err = rados_conf_read_file(r, sp->conf[0] ? sp->conf : NULL);
	if (!err) {
		*step = "CEPH_ARGS";
		err = rados_conf_parse_env(r, NULL);
	}
	if (!err) {
		*step = "setting timeouts";
		err = set_default_timeouts(r);
	}
	if (!err) {
		*step = "connecting to the monitors";
		err = rados_connect(r);
	}
	if (err) {
		rados_shutdown(r);
		return err;
	}
	*out = r;
	return 0;
}

/* A connected handle for (conf, id), shared; the connection is bounded by client_mount_timeout. */
static struct rbd_cluster *cluster_get(const struct tgt_rbd_spec *sp, uint32_t nsid, int *errp)
{
	struct rbd_cluster *cl;
	const char *step;
	int err;

	pthread_mutex_lock(&clusters_lock);
	for (cl = clusters; cl; cl = cl->next) {
		if (!strcmp(cl->conf, sp->conf) && !strcmp(cl->id, sp->id)) {
			cl->refs++;
			pthread_mutex_unlock(&clusters_lock);
			return cl;
		}
	}
	cl = calloc(1, sizeof(*cl));
	err = cl ? cluster_connect(sp, &cl->rados, &step) : -ENOMEM;
	if (err) {
		/* librados says ENOENT when it found no keyring for the client: say where to look. */
		tr_err("namespace %u: Ceph cluster (conf %s, client.%s): %s failed: %s%s", nsid,
		       sp->conf[0] ? sp->conf : "default", sp->id[0] ? sp->id : "admin", cl ? step : "allocation",
		       strerror(-err),
		       err == -ENOENT && cl ? " (no keyring for the client? see the conf's keyring =)" : "");
		free(cl);
		pthread_mutex_unlock(&clusters_lock);
		*errp = err;
		return NULL;
	}
	memcpy(cl->conf, sp->conf, sizeof(cl->conf));
	memcpy(cl->id, sp->id, sizeof(cl->id));
	cl->refs = 1;
	cl->next = clusters;
	clusters = cl;
	pthread_mutex_unlock(&clusters_lock);
	return cl;
}

static void cluster_put(struct rbd_cluster *cl)
{
	struct rbd_cluster **pp;

	pthread_mutex_lock(&clusters_lock);
	if (--cl->refs) {
		pthread_mutex_unlock(&clusters_lock);
		return;
	}
	for (pp = &clusters; *pp != cl; pp = &(*pp)->next)
		;
	*pp = cl->next;
	pthread_mutex_unlock(&clusters_lock);
	rados_shutdown(cl->rados);
	free(cl);
}

/* ---- I/O: submitted on a worker, completed on librbd's thread, finished on the worker ---- */

static void rbd_cb(rbd_completion_t c, void *arg)
{
	struct tgt_io *io = arg;

	(void)atomic_load_explicit(&io->remote_op.armed, memory_order_acquire);
	io->remote_op.res = (long)rbd_aio_get_return_value(c);
	rbd_aio_release(c);
	tgt_worker_post_remote(&io->remote_op);
}

static int rbd_start(struct rbd_ns *rb, struct tgt_io *io)
{
	rbd_completion_t c;
	int err = rbd_aio_create_completion(io, rbd_cb, &c);

	if (err)
		return err;
	if (io->stage == 1) { /* a FUA write's second half */
		err = rbd_aio_flush(rb->image, c);
	} else {
		switch (io->op) {
		case TGT_IO_READ:
			err = rbd_aio_read(rb->image, io->offset, io->len, io->buf, c);
			break;
		case TGT_IO_WRITE:
			err = rbd_aio_write(rb->image, io->offset, io->len, io->buf, c);
			break;
		case TGT_IO_FLUSH:
			err = rbd_aio_flush(rb->image, c);
			break;
		case TGT_IO_WRITE_ZEROES:
			err = rbd_aio_write_zeroes(rb->image, io->offset, io->len, c, 0, 0);
			break;
		case TGT_IO_DISCARD:
			err = rbd_aio_discard(rb->image, io->offset, io->len, c);
			break;
		}
	}
	if (err < 0)
		rbd_aio_release(c);
	return err < 0 ? err : 0;
}

static void rbd_issue(struct rbd_ns *rb, struct tgt_worker *w, struct tgt_io *io)
{
	int err;

	atomic_store_explicit(&io->remote_op.armed, 1, memory_order_release);
	err = rbd_start(rb, io);

	if (err) {
		io->complete(io, err);
		return;
	}
	/* Counted after the submit: the count only drops on this thread, so the order is safe. */
	tgt_worker_remote_begin(w);
}

static bool cluster_gone(long res)
{
	return res == -ETIMEDOUT || res == -ENOTCONN || res == -ESHUTDOWN;
}

/* One line when the cluster goes (timeouts), one when it answers again; other errors rate-limited. */
static void note_result(struct rbd_ns *rb, const struct tgt_io *io, long res)
{
	static const char *const names[] = { "read", "write", "flush", "write-zeroes", "deallocate" };
	static struct tr_ratelimit rl = TR_RATELIMIT_INIT(10000, 5);
	unsigned suppressed;

	if (cluster_gone(res)) {
		if (!atomic_exchange(&rb->unreachable, true))
			tr_warn("namespace %u (%s): Ceph cluster unreachable: %s: I/O fails with Namespace Not "
				"Ready until it answers again",
				rb->nsid, rb->name, strerror((int)-res));
	} else if (res < 0) {
		if (tr_ratelimit(&rl, &suppressed))
			tr_warn("namespace %u (%s): %s of %llu bytes at %llu failed: %s%s", rb->nsid, rb->name,
				names[io->op], (unsigned long long)io->len, (unsigned long long)io->offset,
				strerror((int)-res), suppressed ? " (and others: this line is rate-limited)" : "");
	} else if (atomic_load_explicit(&rb->unreachable, memory_order_relaxed) &&
		   atomic_exchange(&rb->unreachable, false)) {
		tr_info("namespace %u (%s): Ceph cluster answers again", rb->nsid, rb->name);
	}
}

static void rbd_done(struct tgt_remote_op *op, struct tgt_worker *w)
{
	struct tgt_io *io = container_of(op, struct tgt_io, remote_op);
	struct rbd_ns *rb = io->ns->priv;
	long res = op->res;

	if (res >= 0 && io->op == TGT_IO_READ && (uint64_t)res != io->len)
		res = -EIO; /* short: the image shrank under the read */
	if (res >= 0 && io->op == TGT_IO_WRITE && io->fua && io->stage == 0) {
		io->stage = 1;
		rbd_issue(rb, w, io);
		return;
	}
	note_result(rb, io, res);
	io->complete(io, res < 0 ? (int)res : 0);
}

static void rbd_submit(struct tgt_ns *ns, struct tgt_worker *w, struct tgt_io *io)
{
	io->stage = 0;
	io->remote_op.worker = w;
	io->remote_op.done = rbd_done;
	rbd_issue(ns->priv, w, io);
}

/* ---- The rbd thread: closing, and following the image's size ---- */

static void rbd_ns_close(struct rbd_ns *rb)
{
	if (rb->watching)
		rbd_update_unwatch(rb->image, rb->watch);
	if (rb->image)
		rbd_close(rb->image);
	if (rb->ioctx)
		rados_ioctx_destroy(rb->ioctx);
	if (rb->cl)
		cluster_put(rb->cl);
	free(rb->subnqn);
	free(rb->name);
	free(rb);
}

/* librbd's thread: the image header changed (a resize, among others). */
static void watch_cb(void *arg)
{
	struct rbd_ns *rb = arg;

	pthread_mutex_lock(&mon_lock);
	rb->resize_noticed = true;
	mon_notice = true;
	pthread_cond_broadcast(&mon_cond);
	pthread_mutex_unlock(&mon_lock);
}

/* Called with mon_lock held; drops it around librbd and the target's registries. */
static void check_sizes(unsigned sweep, bool all)
{
	struct rbd_ns *rb;

	for (;;) {
		uint64_t size;

		for (rb = mon_active; rb; rb = rb->next) {
			if (rb->checked != sweep && (all || rb->resize_noticed))
				break;
		}
		if (!rb || mon_quiesced)
			return;
		rb->checked = sweep;
		rb->resize_noticed = false;
		mon_checking = true;
		pthread_mutex_unlock(&mon_lock);
		/* Only this thread closes images, so rb and its image outlive the call. */
		if (!rbd_get_size(rb->image, &size) && size != rb->size) {
			bool gone;

			tr_info("namespace %u (%s): image resized from %llu to %llu bytes", rb->nsid, rb->name,
				(unsigned long long)rb->size, (unsigned long long)size);
			rb->size = size;
			pthread_mutex_lock(&mon_lock);
			gone = rb->gone;
			pthread_mutex_unlock(&mon_lock);
			if (!gone)
				tgt_ns_resized(rb->subnqn, rb->nsid, rb->ns, size);
		}
		pthread_mutex_lock(&mon_lock);
		mon_checking = false;
		pthread_cond_broadcast(&mon_cond);
	}
}

static void *monitor_main(void *arg)
{
	struct timespec due;
	unsigned sweep = 0;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &due);
	pthread_mutex_lock(&mon_lock);
	while (!mon_stop || mon_closing || mon_active) {
		struct rbd_ns *rb = mon_closing;
		struct timespec now;

		if (mon_stop && !rb && (rb = mon_active)) /* at exit: close what nobody closed */
			mon_active = rb->next;
		else if (rb)
			mon_closing = rb->next;
		if (rb) {
			pthread_mutex_unlock(&mon_lock);
			rbd_ns_close(rb);
			pthread_mutex_lock(&mon_lock);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (mon_notice || now.tv_sec >= due.tv_sec) {
			bool all = now.tv_sec >= due.tv_sec;

			mon_notice = false;
			if (all)
				due.tv_sec = now.tv_sec + RBD_CHECK_S;
			check_sizes(++sweep, all);
			continue;
		}
		pthread_cond_timedwait(&mon_cond, &mon_lock, &due);
	}
	pthread_mutex_unlock(&mon_lock);
	return NULL;
}

static void monitor_exit(void)
{
	pthread_mutex_lock(&mon_lock);
	mon_stop = true;
	pthread_cond_broadcast(&mon_cond);
	pthread_mutex_unlock(&mon_lock);
	pthread_join(mon_thread, NULL);
}

/* Called with mon_lock held. */
static int monitor_start(void)
{
	pthread_condattr_t attr;
	int err;

	if (mon_started)
		return 0;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_destroy(&mon_cond);
	pthread_cond_init(&mon_cond, &attr);
	pthread_condattr_destroy(&attr);
	err = pthread_create(&mon_thread, NULL, monitor_main, NULL);
	if (err)
		return -err;
	pthread_setname_np(mon_thread, "rbd");
	mon_started = true;
	atexit(monitor_exit);
	return 0;
}

void tgt_backend_rbd_quiesce(void)
{
	pthread_mutex_lock(&mon_lock);
	mon_quiesced = true;
	while (mon_checking)
		pthread_cond_wait(&mon_cond, &mon_lock);
	pthread_mutex_unlock(&mon_lock);
}

/* The namespace's last reference went, maybe on a worker: the rbd thread closes the image. */
static void rbd_destroy(struct tgt_ns *ns)
{
	struct rbd_ns *rb = ns->priv, **pp;

	pthread_mutex_lock(&mon_lock);
	for (pp = &mon_active; *pp && *pp != rb; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = rb->next;
	rb->gone = true;
	rb->next = mon_closing;
	mon_closing = rb;
	pthread_cond_broadcast(&mon_cond);
	pthread_mutex_unlock(&mon_lock);
	ns->priv = NULL;
}

static const struct tgt_backend_ops rbd_ops = {
	.kind = "rbd",
	.submit = rbd_submit,
	.destroy = rbd_destroy,
};

/* ---- Opening ---- */

static int open_image(struct rbd_ns *rb, const struct tgt_rbd_spec *sp, const struct tgt_ns_params *p)
{
	int err;

	rb->cl = cluster_get(sp, p->nsid, &err);
	if (!rb->cl)
		return err;
	err = rados_ioctx_create(rb->cl->rados, sp->pool, &rb->ioctx);
	if (err) {
		rb->ioctx = NULL;
		tr_err("namespace %u: %s: pool \"%s\": %s", p->nsid, rb->name, sp->pool,
		       err == -ENOENT ? "no such pool" : strerror(-err));
		return err;
	}
	rados_ioctx_set_namespace(rb->ioctx, sp->rados_ns[0] ? sp->rados_ns : NULL);
	err = p->readonly ? rbd_open_read_only(rb->ioctx, sp->image, &rb->image, NULL)
			  : rbd_open(rb->ioctx, sp->image, &rb->image, NULL);
	if (err) {
		rb->image = NULL;
		tr_err("namespace %u: %s: image \"%s\" in pool \"%s\": %s", p->nsid, rb->name, sp->image, sp->pool,
		       err == -ENOENT ? "no such image" : strerror(-err));
		return err;
	}
	err = rbd_get_size(rb->image, &rb->size);
	if (err) {
		tr_err("namespace %u: %s: cannot read the image's size: %s", p->nsid, rb->name, strerror(-err));
		return err;
	}
	/* Without the watch the periodic check still sees a resize, only later. */
	rb->watching = !rbd_update_watch(rb->image, &rb->watch, watch_cb, rb);
	if (!rb->watching)
		tr_warn("namespace %u: %s: no header watch; resizes are noticed within %d s", p->nsid, rb->name,
			RBD_CHECK_S);
	return 0;
}

static int rbd_ns_setup(struct tgt_ns *ns, struct rbd_ns *rb, const struct tgt_rbd_spec *sp, const char *subnqn,
			const struct tgt_ns_params *p)
{
	uint32_t lbs = p->lba_size ? p->lba_size : TGT_LBA_SIZE_512;
	char canon[5 * TGT_RBD_FIELD_MAX + 32];
	int err;

	if (lbs != TGT_LBA_SIZE_512 && lbs != TGT_LBA_SIZE_4K) {
		tr_err("namespace %u: %s: lbs must be 512 or 4096", p->nsid, p->path);
		return -EINVAL;
	}
	rb->nsid = p->nsid;
	rb->ns = ns;
	rb->subnqn = strdup(subnqn);
	if (asprintf(&rb->name, "rbd:%s/%s%s%s", sp->pool, sp->rados_ns, sp->rados_ns[0] ? "/" : "", sp->image) < 0)
		rb->name = NULL;
	if (!rb->subnqn || !rb->name || tgt_rbd_format_spec(sp, canon, sizeof(canon)))
		return -ENOMEM;
	err = open_image(rb, sp, p);
	if (err)
		return err;
	if (rb->size < lbs) {
		tr_err("namespace %u: %s: image of %llu bytes is smaller than a block", p->nsid, rb->name,
		       (unsigned long long)rb->size);
		return -ENOSPC;
	}
	/* The path as `ctl save` writes it: the CLI's ,conf= ,id= folded into the string. */
	free(ns->path);
	ns->path = strdup(canon);
	if (!ns->path)
		return -ENOMEM;
	ns->size = rb->size;
	ns->lba_shift = lbs == TGT_LBA_SIZE_4K ? TGT_LBA_SHIFT_4K : TGT_LBA_SHIFT_512;
	return 0;
}

int tgt_backend_rbd_open(struct tgt_ns *ns, const char *subnqn, const struct tgt_ns_params *p)
{
	struct tgt_rbd_spec sp;
	struct rbd_ns *rb;
	const char *why;
	int err;

	if (tgt_rbd_parse_spec(p->path, p->rbd_conf, p->rbd_id, &sp, &why)) {
		tr_err("namespace %u: %s: %s (rbd:POOL/[NAMESPACE/]IMAGE[:conf=PATH][:id=CLIENT])", p->nsid, p->path,
		       why);
		return -EINVAL;
	}
	pthread_mutex_lock(&mon_lock);
	err = monitor_start(); /* first: its condition variable is set up before any watch can signal it */
	pthread_mutex_unlock(&mon_lock);
	rb = err ? NULL : calloc(1, sizeof(*rb));
	if (!rb)
		return err ? err : -ENOMEM;
	err = rbd_ns_setup(ns, rb, &sp, subnqn, p);
	pthread_mutex_lock(&mon_lock);
	if (!err) {
		rb->next = mon_active;
		mon_active = rb;
	}
	pthread_mutex_unlock(&mon_lock);
	if (err) {
		rbd_ns_close(rb); /* on this thread: nothing else knows it yet */
		return err;
	}
	ns->priv = rb;
	ns->ops = &rbd_ops;
	return 0;
}
