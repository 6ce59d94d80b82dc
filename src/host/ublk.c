/* The host process's ublk front end: one ublk device (/dev/ublkbN) per namespace with one ublk queue per
 * host I/O queue (as many as the kernel allows), all served by the event loop through one io_uring of
 * 128-byte SQEs (IORING_OP_URING_CMD). A request the kernel hands us becomes an io.c block request on the
 * tag's own buffer: ours, given to the kernel in FETCH_REQ and COMMIT_AND_FETCH_REQ (it copies the data
 * between that buffer and the request's pages), so nothing but the descriptors is mmap'd. The facts
 * (commands, layouts, offsets, what START/STOP/DEL wait for) are Linux 6.1's to 6.12's
 * drivers/block/ublk_drv.c and include/uapi/linux/ublk_cmd.h. Where ublk fails, the loop device does. */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/ublk_cmd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "host/ublk.h"
#include "util/log.h"

#define UBLK_CONTROL "/dev/ublk-control"
#define UBLK_DEPTH 64 /* tags per queue */
#define UBLK_MAX_QUEUES 16
#define UBLK_BUF_BYTES (256u << 10) /* per tag: the device's max_io_buf_bytes; larger I/O is split */
#define RING_ENTRIES 1024

/* Linux 6.2+ also takes commands as ioctl numbers (UBLK_F_CMD_IOCTL_ENCODE), and a kernel built without
 * CONFIG_BLKDEV_UBLK_LEGACY_OPCODES only those; 6.1 only the plain numbers, which we try first. */
#define ENC_CTRL(op) _IOWR('u', op, struct ublksrv_ctrl_cmd)
#define ENC_IO(op) _IOWR('u', op, struct ublksrv_io_cmd)

/* A device's life: STARTING (START_DEV runs in a thread: the kernel reads the partition table through
 * us meanwhile), LIVE or FAILED, then STOPPED (STOP_DEV done: the kernel aborts the fetches). */
enum ud_state { UD_STARTING, UD_LIVE, UD_FAILED, UD_STOPPED };

struct ublk_queue;

struct ublk_tag {
	struct ublk_queue *q;
	uint16_t tag;
	uint8_t op; /* the request's UBLK_IO_OP_* while it is ours */
	bool with_kernel; /* a FETCH or COMMIT_AND_FETCH is outstanding */
	uint8_t *buf;
};

struct ublk_queue {
	struct ublk_dev *d;
	uint16_t id;
	const struct ublksrv_io_desc *descs; /* the kernel's, read-only */
	size_t descs_len;
	uint8_t *bufs; /* depth * UBLK_BUF_BYTES */
	struct ublk_tag tags[UBLK_DEPTH];
};

struct ublk_dev {
	struct hostd *h;
	uint32_t nsid, id;
	int cfd; /* /dev/ublkcN, -1 once released */
	uint16_t nr_queues, depth;
	int with_kernel; /* commands the kernel holds: the char device is closed only when none is left */
	int owned; /* requests in io.c's hands: their buffers stay until they are back */
	_Atomic int state;
	_Atomic bool start_done, stopped;
	pthread_t thread;
	bool starting; /* the START_DEV thread is to be joined (by the event loop) */
	bool join_start; /* ... by the thread that stops the device */
	bool gone; /* the namespace went: delete the device once it is released */
	char name[32]; /* /dev/ublkbN */
	struct ublk_dev *next;
	struct ublk_queue *q;
};

/* The process's ring and devices: one host process per subsystem, one event loop thread. */
static struct {
	struct io_uring ring;
	bool ring_ok;
	bool encode; /* the kernel wants ioctl-encoded commands */
	int pending; /* SQEs not submitted yet */
	struct ublk_dev *devs;
} ctx;

static struct tr_ratelimit ublk_rl = TR_RATELIMIT_INIT(5000, 5);

static const char *const ud_state_names[] = { "starting", "live", "failed", "stopped" };

/* The one place a device's state changes (from the threads that start and stop it): STARTING -> LIVE or
 * FAILED, any -> STOPPED. */
static void ud_set_state(struct ublk_dev *d, enum ud_state to)
{
	enum ud_state from = atomic_exchange(&d->state, to);

	if (to != UD_STOPPED && from != UD_STARTING)
		tr_err("%s: illegal ublk state change %s -> %s", d->name, ud_state_names[from], ud_state_names[to]);
	tr_debug("%s: ublk device %s -> %s", d->name, ud_state_names[from], ud_state_names[to]);
}

bool ublk_supported(void)
{
	return access(UBLK_CONTROL, R_OK | W_OK) == 0;
}

/* ---- Control commands: each on a ring of its own, waited for (START and STOP from threads) ---- */

static int ctrl_cmd(unsigned op, uint32_t dev_id, void *buf, uint16_t len, uint64_t data0)
{
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct ublksrv_ctrl_cmd *c;
	int fd = open(UBLK_CONTROL, O_RDWR | O_CLOEXEC), err;

	if (fd < 0)
		return -errno;
	err = io_uring_queue_init(4, &ring, IORING_SETUP_SQE128);
	if (err) {
		close(fd);
		return err;
	}
	sqe = io_uring_get_sqe(&ring);
	if (!sqe) { /* cannot be: the ring is new */
		io_uring_queue_exit(&ring);
		close(fd);
		return -EBUSY;
	}
	memset(sqe, 0, sizeof(*sqe)); /* the first 64 bytes; the command fills the rest it uses */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = ctx.encode ? ENC_CTRL(op) : op;
	c = (void *)sqe->cmd;
	*c = (struct ublksrv_ctrl_cmd){ .dev_id = dev_id, .queue_id = (uint16_t)-1, /* not a queue's command */
					.len = len, .addr = (uintptr_t)buf, .data = { data0 } };
	err = io_uring_submit(&ring);
	if (err >= 0) {
		do
			err = io_uring_wait_cqe(&ring, &cqe);
		while (err == -EINTR);
	}
	if (!err) {
		err = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
	}
	io_uring_queue_exit(&ring);
	close(fd);
	return err;
}

/* A first command: in the plain numbering, else (refused as unknown) as an ioctl number from then on. */
static int ctrl_cmd_probe(unsigned op, uint32_t dev_id, void *buf, uint16_t len)
{
	int err = ctrl_cmd(op, dev_id, buf, len, 0);

	if ((err == -EINVAL || err == -EOPNOTSUPP) && !ctx.encode) {
		ctx.encode = true;
		if (ctrl_cmd(op, dev_id, buf, len, 0) == 0)
			return 0;
		ctx.encode = false;
	}
	return err;
}

static int set_params(const struct ublk_dev *d, const struct ns_dev *ns)
{
	struct ublk_params p = { .len = sizeof(p), .types = UBLK_PARAM_TYPE_BASIC | UBLK_PARAM_TYPE_DISCARD };
	uint32_t shift = ns->lba_shift;

	/* A volatile cache: the kernel sends flushes, which become NVMe Flush. */
	p.basic.attrs = UBLK_ATTR_VOLATILE_CACHE;
	p.basic.logical_bs_shift = p.basic.physical_bs_shift = (uint8_t)shift;
	p.basic.io_min_shift = p.basic.io_opt_shift = (uint8_t)shift;
	p.basic.max_sectors = UBLK_BUF_BYTES >> 9;
	p.basic.dev_sectors = ns->nsze << (shift - 9);
	p.discard.discard_granularity = 1u << shift;
	p.discard.max_discard_sectors = BLKREQ_MAX_DSM_BLOCKS << (shift - 9);
	p.discard.max_write_zeroes_sectors = BLKREQ_MAX_DSM_BLOCKS << (shift - 9);
	p.discard.max_discard_segments = 1; /* what ublk takes */
	return ctrl_cmd(UBLK_CMD_SET_PARAMS, d->id, &p, sizeof(p), 0);
}

/* ---- The I/O ring ---- */

static bool ring_init(void)
{
	struct io_uring_params p = { .flags = IORING_SETUP_SQE128 | IORING_SETUP_CQSIZE,
				     .cq_entries = 4 * RING_ENTRIES };
	int err;

	if (ctx.ring_ok)
		return true;
	err = io_uring_queue_init_params(RING_ENTRIES, &ctx.ring, &p);
	if (err)
		tr_warn("ublk: no io_uring: %s", strerror(-err));
	ctx.ring_ok = !err;
	return ctx.ring_ok;
}

int ublk_pollfd(void)
{
	return ctx.ring_ok ? ctx.ring.ring_fd : -1;
}

void ublk_submit(void)
{
	int err;
	unsigned suppressed;

	if (!ctx.ring_ok || !ctx.pending)
		return;
	err = io_uring_submit(&ctx.ring);
	if (err >= 0)
		ctx.pending = 0;
	else if (tr_ratelimit(&ublk_rl, &suppressed))
		tr_warn("ublk: io_uring_submit: %s", strerror(-err));
}

/* Queue a FETCH or COMMIT_AND_FETCH of tag 't', with the tag's buffer (and a commit's result). */
static void io_cmd(struct ublk_tag *t, unsigned op, int result)
{
	struct ublk_dev *d = t->q->d;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ctx.ring);
	struct ublksrv_io_cmd *c;

	if (!sqe) {
		ctx.pending = 1;
		ublk_submit();
		sqe = io_uring_get_sqe(&ctx.ring);
	}
	if (!sqe) {
		tr_err("%s: no room in the ring for queue %u tag %u", d->name, t->q->id, t->tag);
		return;
	}
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = d->cfd;
	sqe->cmd_op = ctx.encode ? ENC_IO(op) : op;
	sqe->user_data = (uintptr_t)t;
	c = (void *)sqe->cmd;
	/* The buffer goes with FETCH and COMMIT alike, whatever the request. */
	*c = (struct ublksrv_io_cmd){ .q_id = t->q->id, .tag = t->tag, .result = result, .addr = (uintptr_t)t->buf };
	t->with_kernel = true;
	d->with_kernel++;
	ctx.pending++;
}

/* A request is done: its result to the kernel (bytes for a read or write, else 0; or -errno), and the
 * tag waits for the next one. */
static void commit(struct ublk_tag *t, int res)
{
	if (t->q->d->cfd >= 0 && ctx.ring_ok)
		io_cmd(t, UBLK_IO_COMMIT_AND_FETCH_REQ, res);
}

static void tag_done(void *arg, int err, const void *data, size_t len)
{
	struct ublk_tag *t = arg;
	bool rw = t->op == UBLK_IO_OP_READ || t->op == UBLK_IO_OP_WRITE;

	t->q->d->owned--;
	if (!t->buf)
		return; /* the process is ending and the device went */
	if (!err && t->op == UBLK_IO_OP_READ && data)
		memcpy(t->buf, data, len);
	commit(t, err ? err : rw ? (int)len : 0);
}

/* The kernel handed tag 't' a request: its descriptor says what. */
static void tag_start(struct ublk_tag *t)
{
	struct ublk_dev *d = t->q->d;
	const struct ublksrv_io_desc *iod = &t->q->descs[t->tag];
	struct ns_dev *ns = hostd_ns_by_nsid(d->h, d->nsid);
	uint64_t off = iod->start_sector << 9;
	size_t size = (size_t)iod->nr_sectors << 9;
	enum blkreq_kind kind;
	int fit;

	t->op = ublksrv_get_op(iod);
	switch (t->op) {
	case UBLK_IO_OP_READ: kind = BLKREQ_READ; break;
	case UBLK_IO_OP_WRITE: kind = BLKREQ_WRITE; break;
	case UBLK_IO_OP_FLUSH: kind = BLKREQ_FLUSH, off = 0, size = 0; break;
	case UBLK_IO_OP_DISCARD: kind = BLKREQ_DEALLOCATE; break;
	case UBLK_IO_OP_WRITE_ZEROES: kind = BLKREQ_ZEROES; break;
	default: commit(t, -EOPNOTSUPP); return;
	}
	if (!ns) {
		commit(t, -ENODEV); /* the namespace went; the device is being stopped */
		return;
	}
	if (size > UBLK_BUF_BYTES && (kind == BLKREQ_READ || kind == BLKREQ_WRITE)) {
		commit(t, -EIO);
		return;
	}
	fit = blkreq_fit(kind, off, &size, ns->nsze, ns->lba_shift);
	if (fit) {
		commit(t, fit < 0 ? fit : -EIO); /* past the end: the namespace shrank */
		return;
	}
	d->owned++;
	if (hostd_io_start_cb(d->h, kind, ns, off, size, kind == BLKREQ_WRITE ? t->buf : NULL, tag_done, t)) {
		d->owned--;
		commit(t, -ENOMEM);
	}
}

static void on_cqe(struct ublk_tag *t, int res, bool serving)
{
	struct ublk_dev *d = t->q->d;
	unsigned suppressed;

	t->with_kernel = false;
	d->with_kernel--;
	if (res == UBLK_IO_RES_OK && serving)
		tag_start(t);
	else if (res != UBLK_IO_RES_OK && res != UBLK_IO_RES_ABORT && tr_ratelimit(&ublk_rl, &suppressed))
		tr_warn("%s: the kernel refused a command of queue %u tag %u: %s", d->name, t->q->id, t->tag,
			strerror(res < 0 ? -res : EPROTO));
}

static void reap(bool serving)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&ctx.ring, head, cqe)
	{
		on_cqe((struct ublk_tag *)(uintptr_t)cqe->user_data, cqe->res, serving);
		n++;
	}
	io_uring_cq_advance(&ctx.ring, n);
}

/* ---- A device's life ---- */

static void *del_main(void *arg);

/* Nothing of ours is with the kernel any more: unmap, close the char device (DEL_DEV waits for that). */
static void dev_release(struct ublk_dev *d)
{
	pthread_t t;

	for (int i = 0; i < d->nr_queues; i++) {
		if (d->q[i].descs)
			munmap((void *)d->q[i].descs, d->q[i].descs_len);
		if (d->q[i].bufs && !d->owned) {
			munmap(d->q[i].bufs, (size_t)d->depth * UBLK_BUF_BYTES);
			d->q[i].bufs = NULL;
			for (int k = 0; k < d->depth; k++)
				d->q[i].tags[k].buf = NULL;
		}
		d->q[i].descs = NULL;
	}
	if (d->cfd >= 0)
		close(d->cfd);
	d->cfd = -1;
	if (d->gone && pthread_create(&t, NULL, del_main, d) == 0)
		pthread_detach(t);
}

static void dev_delete(struct ublk_dev *d)
{
	int err = ctrl_cmd(UBLK_CMD_DEL_DEV, d->id, NULL, 0, 0);

	if (err)
		tr_warn("%s: cannot delete ublk device %u: %s", d->name, d->id, strerror(-err));
}

static void *del_main(void *arg)
{
	dev_delete(arg);
	return NULL;
}

static int queue_setup(struct ublk_dev *d, struct ublk_queue *q)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	/* Each queue's descriptors sit at a stride of the largest queue's, rounded to pages. */
	size_t stride = (UBLK_MAX_QUEUE_DEPTH * sizeof(struct ublksrv_io_desc) + page - 1) / page * page;
	void *m;

	q->d = d;
	q->descs_len = (d->depth * sizeof(struct ublksrv_io_desc) + page - 1) / page * page;
	m = mmap(NULL, q->descs_len, PROT_READ, MAP_SHARED, d->cfd, (off_t)(UBLKSRV_CMD_BUF_OFFSET + q->id * stride));
	if (m == MAP_FAILED)
		return -errno;
	q->descs = m;
	m = mmap(NULL, (size_t)d->depth * UBLK_BUF_BYTES, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return -errno;
	q->bufs = m;
	for (int t = 0; t < d->depth; t++)
		q->tags[t] = (struct ublk_tag){ .q = q, .tag = (uint16_t)t, .buf = q->bufs + (size_t)t * UBLK_BUF_BYTES };
	return 0;
}

static int open_cdev(struct ublk_dev *d)
{
	char cdev[32];

	snprintf(cdev, sizeof(cdev), "/dev/ublkc%u", d->id);
	/* devtmpfs makes the node as the device is added; a udev may take a moment more. */
	for (int i = 0; i < 100; i++) {
		d->cfd = open(cdev, O_RDWR | O_CLOEXEC);
		if (d->cfd >= 0 || errno != ENOENT)
			break;
		usleep(10000);
	}
	return d->cfd < 0 ? -errno : 0;
}

/* The host I/O queues of the first path that has them: one ublk queue each. */
static uint16_t nr_queues(struct hostd *h)
{
	for (int i = 0; i < MAX_PATHS; i++)
		if (h->paths[i].used && h->paths[i].ctrl) {
			int n = tr_ctrl_nr_io_queues(h->paths[i].ctrl);

			return (uint16_t)(n < 1 ? 1 : n > UBLK_MAX_QUEUES ? UBLK_MAX_QUEUES : n);
		}
	return 1;
}

static void *start_main(void *arg)
{
	struct ublk_dev *d = arg;
	/* Waits until every tag has fetched, then adds the disk (and reads its partition table). */
	int err = ctrl_cmd(UBLK_CMD_START_DEV, d->id, NULL, 0, (uint64_t)getpid());

	if (err)
		tr_warn("%s: START_DEV: %s", d->name, strerror(-err));
	ud_set_state(d, err ? UD_FAILED : UD_LIVE);
	atomic_store(&d->start_done, true);
	return NULL;
}

/* ADD_DEV, SET_PARAMS, the queues' descriptors and buffers; NULL (nothing left behind) when one fails. */
static struct ublk_dev *dev_add(struct hostd *h, const struct ns_dev *ns)
{
	struct ublksrv_ctrl_dev_info info = { .nr_hw_queues = nr_queues(h), .queue_depth = UBLK_DEPTH,
					      .max_io_buf_bytes = UBLK_BUF_BYTES, .dev_id = (uint32_t)-1,
					      .ublksrv_pid = getpid() };
	struct ublk_dev *d;
	int err;

	err = ctrl_cmd_probe(UBLK_CMD_ADD_DEV, (uint32_t)-1, &info, sizeof(info)); /* -1: the kernel picks N */
	if (err) {
		tr_warn("%s: namespace %u: no ublk device (ADD_DEV: %s)", h->name, ns->nsid, strerror(-err));
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (d)
		d->q = calloc(info.nr_hw_queues, sizeof(*d->q));
	if (!d || !d->q || !info.nr_hw_queues || info.queue_depth > UBLK_DEPTH) {
		free(d ? d->q : NULL);
		free(d);
		d = &(struct ublk_dev){ .id = info.dev_id, .name = "ublk" };
		dev_delete(d);
		return NULL;
	}
	*d = (struct ublk_dev){ .h = h, .nsid = ns->nsid, .id = info.dev_id, .cfd = -1, .q = d->q,
				.nr_queues = info.nr_hw_queues, .depth = info.queue_depth };
	snprintf(d->name, sizeof(d->name), "/dev/ublkb%u", d->id);
	err = set_params(d, ns);
	if (!err)
		err = open_cdev(d);
	for (uint16_t i = 0; !err && i < d->nr_queues; i++) {
		d->q[i].id = i;
		err = queue_setup(d, &d->q[i]);
	}
	if (err) {
		tr_warn("%s: namespace %u: ublk device %u not set up: %s", h->name, ns->nsid, d->id, strerror(-err));
		dev_release(d);
		dev_delete(d);
		free(d->q);
		free(d);
		return NULL;
	}
	return d;
}

static void dev_stop(struct ublk_dev *d);

static struct ublk_dev *dev_create(struct hostd *h, const struct ns_dev *ns)
{
	struct ublk_dev *d;

	if (!ring_init() || !(d = dev_add(h, ns)))
		return NULL;
	for (int i = 0; i < d->nr_queues; i++)
		for (int t = 0; t < d->depth; t++)
			io_cmd(&d->q[i].tags[t], UBLK_IO_FETCH_REQ, 0);
	ublk_submit();
	d->next = ctx.devs;
	ctx.devs = d;
	if (ctx.pending || pthread_create(&d->thread, NULL, start_main, d)) {
		/* Never started, so stopping waits for no I/O of ours: the kernel aborts what was fetched,
		 * then the event loop releases it and a thread deletes it. */
		tr_warn("%s: namespace %u: ublk device %u not started", h->name, ns->nsid, d->id);
		ud_set_state(d, UD_FAILED);
		d->gone = true;
		dev_stop(d);
		return NULL;
	}
	d->starting = true;
	return d;
}

/* STOP_DEV, off the event loop: the kernel removes the disk (after our answers to what is in flight) and
 * aborts the fetches; the event loop then releases the device. */
static void dev_stop(struct ublk_dev *d)
{
	int err;

	if (atomic_load(&d->state) == UD_LIVE)
		unmount_users(d->name);
	err = ctrl_cmd(UBLK_CMD_STOP_DEV, d->id, NULL, 0, 0);
	if (err)
		tr_warn("%s: STOP_DEV: %s", d->name, strerror(-err));
	ud_set_state(d, UD_STOPPED);
	atomic_store(&d->stopped, true);
}

static void *detach_main(void *arg)
{
	struct ublk_dev *d = arg;

	if (d->join_start)
		pthread_join(d->thread, NULL);
	dev_stop(d);
	return NULL;
}

void ublk_serve(void)
{
	if (!ctx.ring_ok)
		return;
	reap(true);
	for (struct ublk_dev *d = ctx.devs; d; d = d->next)
		if (atomic_load(&d->stopped) && !d->with_kernel && !d->owned && d->cfd >= 0)
			dev_release(d);
	ublk_submit();
}

void ublk_release_all(void)
{
	for (struct ublk_dev *d = ctx.devs; d; d = d->next) {
		if (d->starting)
			pthread_join(d->thread, NULL);
		d->starting = false;
		if (!atomic_load(&d->stopped) && !d->join_start)
			dev_stop(d);
		/* The aborts of the stopped device's fetches, so the char device is free to go. */
		for (int i = 0; i < 200 && d->with_kernel && ctx.ring_ok; i++) {
			struct io_uring_cqe *cqe;
			struct __kernel_timespec ts = { .tv_nsec = 10000000 };

			io_uring_wait_cqe_timeout(&ctx.ring, &cqe, &ts);
			reap(false);
		}
		d->gone = false;
		dev_release(d);
		dev_delete(d);
	}
	if (ctx.ring_ok)
		io_uring_queue_exit(&ctx.ring);
	ctx.ring_ok = false;
}

void ublk_cleanup_dead(const char *dev, int pid)
{
	struct ublksrv_ctrl_dev_info info = { 0 };
	unsigned id;
	char tail;
	int err;

	if (sscanf(dev, "/dev/ublkb%u%c", &id, &tail) != 1 ||
	    ctrl_cmd_probe(UBLK_CMD_GET_DEV_INFO, id, &info, sizeof(info)))
		return; /* gone already */
	/* Still that process's, or stopped with no server at all (the kernel forgets the pid when it stops
	 * the device of a server that died); anything else is another process's now. */
	if (info.ublksrv_pid != pid && !(info.ublksrv_pid <= 0 && info.state == UBLK_S_DEV_DEAD))
		return;
	unmount_users(dev);
	err = ctrl_cmd(UBLK_CMD_DEL_DEV, id, NULL, 0, 0);
	if (err)
		fprintf(stderr, "cannot delete %s (ublk device %u): %s\n", dev, id, strerror(-err));
}

/* ---- The namespace's block device: ublk or loop ---- */

void blkdev_attach_start(struct hostd *h, struct ns_dev *ns)
{
	if (h->o.blkdev != HOSTD_BLKDEV_LOOP && ublk_supported()) {
		ns->ublk = dev_create(h, ns);
		if (ns->ublk || h->o.blkdev == HOSTD_BLKDEV_UBLK)
			return;
		tr_info("%s: namespace %u: a loop device instead", h->name, ns->nsid);
	}
	loop_attach_start(h, ns);
}

bool blkdev_attaching(const struct ns_dev *ns)
{
	return ns->job || (ns->ublk && ns->ublk->starting);
}

bool blkdev_attach_collect(struct hostd *h, struct ns_dev *ns, bool wait)
{
	struct ublk_dev *d = ns->ublk;

	if (!d)
		return loop_attach_collect(ns, wait);
	if (!d->starting || (!wait && !atomic_load(&d->start_done)))
		return false;
	pthread_join(d->thread, NULL);
	d->starting = false;
	if (atomic_load(&d->state) == UD_LIVE) {
		snprintf(ns->loop, sizeof(ns->loop), "%s", d->name);
		tr_info("%s: namespace %u is %s (and %s/n%u): %u queues of %u", h->name, ns->nsid, d->name, h->mnt,
			ns->nsid, d->nr_queues, d->depth);
		return true;
	}
	blkdev_detach_async(ns);
	if (!wait && h->state != HS_DELETING && h->o.blkdev == HOSTD_BLKDEV_AUTO) {
		tr_info("%s: namespace %u: a loop device instead", h->name, ns->nsid);
		loop_attach_start(h, ns);
	}
	return true;
}

void blkdev_detach(struct ns_dev *ns)
{
	if (!ns->ublk) {
		loop_detach(ns);
		return;
	}
	if (!atomic_load(&ns->ublk->stopped))
		dev_stop(ns->ublk);
	ns->loop[0] = 0;
}

/* The namespace went (from the event loop): the device is stopped by a thread, then released and
 * deleted. That thread joins a start still running (which may wait for I/O the event loop serves). */
void blkdev_detach_async(struct ns_dev *ns)
{
	struct ublk_dev *d = ns->ublk;
	pthread_t t;

	if (!d) {
		loop_detach_async(ns);
		return;
	}
	d->join_start = d->starting;
	d->starting = false;
	d->gone = true;
	ns->ublk = NULL;
	ns->loop[0] = 0;
	if (pthread_create(&t, NULL, detach_main, d) == 0) {
		pthread_detach(t);
		return;
	}
	d->starting = d->join_start; /* left to ublk_release_all */
	d->join_start = false;
}

void blkdev_set_capacity(const struct ns_dev *ns)
{
	if (!ns->ublk)
		loop_set_capacity(ns);
	else
		tr_warn("%s: keeps the size it had: ublk cannot change it (connect again for the new one)",
			ns->ublk->name);
}
