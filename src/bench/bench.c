/* The workload engine behind `tightrope bench`: job threads each owning one I/O queue (remote) or
 * one io_uring (local), a fio-style offset generator, latency histograms, the verify pattern and
 * fused compare-and-write pairs (caw.c). */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/caw.h"
#include "bench/progress.h"
#include "nvme/spec.h"
#include "util/clock.h"
#include "util/log.h"

/* ---- Verify pattern: every 512-byte block says where it belongs, the rest is seeded noise ---- */

#define VERIFY_BLOCK 512
#define VERIFY_MAGIC 0x7469676874726f70ull /* "tightrop" */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void pattern_fill(uint8_t *buf, uint32_t len, uint64_t offset, uint64_t seed)
{
	for (uint32_t b = 0; b < len; b += VERIFY_BLOCK) {
		uint64_t *w = (uint64_t *)(void *)(buf + b), s = (offset + b) ^ seed;

		w[0] = VERIFY_MAGIC;
		w[1] = offset + b;
		for (uint32_t i = 2; i < VERIFY_BLOCK / 8; i++)
			w[i] = splitmix(&s);
	}
}

/* Returns the byte offset of the first mismatch within buf, or -1. */
static int64_t pattern_check(const uint8_t *buf, uint32_t len, uint64_t offset, uint64_t seed)
{
	uint8_t expect[VERIFY_BLOCK];

	for (uint32_t b = 0; b < len; b += VERIFY_BLOCK) {
		pattern_fill(expect, VERIFY_BLOCK, offset + b, seed);
		if (memcmp(expect, buf + b, VERIFY_BLOCK)) {
			for (uint32_t i = 0; i < VERIFY_BLOCK; i++)
				if (expect[i] != buf[b + i])
					return (int64_t)(b + i);
		}
	}
	return -1;
}

/* ---- Jobs ---- */

enum slot_op { OP_READ, OP_WRITE, OP_FLUSH, OP_CAW };

struct job;

struct slot {
	struct job *job;
	uint8_t *buf;
	uint64_t off;
	enum slot_op op;
	bool then_flush;
	bool busy;
	uint64_t start_ns;
};

struct job {
	int index;
	const struct bench_target *t;
	const struct bench_cfg *cfg;
	struct bench_result *res;
	struct bench_job_stats *st;
	pthread_t thread;

	/* engine */
	struct tr_ioq *ioq;
	uint32_t lba_shift;
	struct io_uring ring;
	bool ring_ok;
	int fd;
	int pending_submits;

	/* workload */
	uint64_t area_start, area_len; /* bytes this job may touch */
	uint64_t seq_next;
	uint64_t rng;
	uint64_t issued_bytes, target_bytes;
	int inflight;
	bool stop_issuing;
	bool verify_phase_read;
	uint64_t measure_from_ns, end_ns;
	struct slot *slots;
	struct bench_caw caw; /* --rw caw: the generation of each block of the area */
	int error;
	char why[200];
	/* The live progress line (NULL without one): this job's counts, and who waits for it to end. */
	struct bench_job_counts *counts;
	struct bench_live *live;
};

static int engine_submit(struct job *j, struct slot *s);

static void slot_done(struct job *j, struct slot *s, int status)
{
	uint64_t done = tr_now_ns();

	j->inflight--;
	s->busy = false;
	if (s->op == OP_CAW) {
		bool miscompare = status > 0 && nvme_status_code((uint16_t)status) == NVME_SC_COMPARE_FAILED;

		bench_caw_done(&j->caw, s->off, status == 0);
		if (miscompare) {
			j->st->miscompares++; /* counted and reported, not the end of the job */
			return;
		}
	}
	if (status) {
		if (!j->error) {
			/* A transport failure says more in the queue's own words than as an errno. */
			const char *cause = status < 0 && j->ioq ? tr_ioq_error(j->ioq) : NULL;

			j->error = status < 0 ? status : -EIO;
			snprintf(j->why, sizeof(j->why), "%s at byte %llu failed: %s",
				 s->op == OP_READ ? "read" : s->op == OP_WRITE ? "write"
				 : s->op == OP_CAW ? "compare-and-write" : "flush",
				 (unsigned long long)s->off, cause ? cause : tr_status_str(status));
		}
		j->stop_issuing = true;
		return;
	}
	if (s->op == OP_WRITE && s->then_flush) {
		/* dsync: the write counts once the flush behind it is done too. */
		s->op = OP_FLUSH;
		if (engine_submit(j, s) == 0) {
			s->busy = true;
			j->inflight++;
			return;
		}
		j->error = -EIO;
		j->stop_issuing = true;
		return;
	}
	if (s->op == OP_READ && (j->cfg->verify || j->cfg->verify_only)) {
		int64_t bad = pattern_check(s->buf, j->cfg->bs, s->off, j->cfg->seed);

		if (bad >= 0 && !j->res->verify_failed) {
			j->res->verify_failed = true;
			j->res->verify_offset = s->off + (uint64_t)bad;
		}
	}
	if (j->counts)
		bench_job_count(j->counts, s->op == OP_READ ? 0 : 1, j->cfg->bs);
	/* Only I/O started after the ramp counts. */
	if (s->start_ns >= j->measure_from_ns)
		bench_lat_add(s->op == OP_READ ? &j->st->read : &j->st->write, done - s->start_ns, j->cfg->bs);
}

/* ---- Remote engine: the host library's I/O queue ---- */

static void remote_cb(void *arg, int status)
{
	struct slot *s = arg;

	slot_done(s->job, s, status);
}

static int remote_submit(struct job *j, struct slot *s)
{
	uint32_t nlb = j->cfg->bs >> j->lba_shift;
	uint64_t slba = s->off >> j->lba_shift;

	switch (s->op) {
	case OP_READ:
		return tr_ioq_read(j->ioq, j->t->nsid, slba, nlb, s->buf, j->cfg->bs, remote_cb, s);
	case OP_WRITE:
		return tr_ioq_write(j->ioq, j->t->nsid, slba, nlb, s->buf, j->cfg->bs, false, remote_cb, s);
	case OP_CAW: /* compare what the block holds (the buffer's first half), write the second */
		return tr_ioq_compare_and_write(j->ioq, j->t->nsid, slba, nlb, s->buf, s->buf + j->cfg->bs, j->cfg->bs,
						remote_cb, s);
	default:
		return tr_ioq_flush(j->ioq, j->t->nsid, remote_cb, s);
	}
}

/* ---- Local engine: io_uring on the file or device ---- */

static int local_submit(struct job *j, struct slot *s)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&j->ring);

	if (!sqe)
		return -EAGAIN;
	if (s->op == OP_READ)
		io_uring_prep_read(sqe, j->fd, s->buf, j->cfg->bs, s->off);
	else if (s->op == OP_WRITE)
		io_uring_prep_write(sqe, j->fd, s->buf, j->cfg->bs, s->off);
	else
		io_uring_prep_fsync(sqe, j->fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data(sqe, s);
	j->pending_submits++;
	return 0;
}

static int engine_submit(struct job *j, struct slot *s)
{
	return j->t->remote ? remote_submit(j, s) : local_submit(j, s);
}

static int engine_poll(struct job *j)
{
	if (j->t->remote) {
		int n = tr_ioq_poll(j->ioq, -1);

		return n < 0 ? n : 0;
	}
	{
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		int err = io_uring_submit_and_wait(&j->ring, 1);

		j->pending_submits = 0;
		if (err < 0 && err != -EINTR)
			return err;
		io_uring_for_each_cqe(&j->ring, head, cqe) {
			struct slot *s = io_uring_cqe_get_data(cqe);
			int status = 0;

			if (cqe->res < 0)
				status = cqe->res;
			else if (s->op != OP_FLUSH && (uint32_t)cqe->res != j->cfg->bs)
				status = -EIO; /* a short transfer means the end of the file */
			seen++;
			slot_done(j, s, status);
		}
		io_uring_cq_advance(&j->ring, seen);
		return 0;
	}
}

/* ---- Workload ---- */

static bool rw_is_random(enum bench_rw rw)
{
	return rw == BENCH_RANDREAD || rw == BENCH_RANDWRITE || rw == BENCH_RANDRW;
}

static enum slot_op next_op(struct job *j)
{
	switch (j->cfg->rw) {
	case BENCH_READ:
	case BENCH_RANDREAD:
		return OP_READ;
	case BENCH_WRITE:
	case BENCH_RANDWRITE:
		return OP_WRITE;
	default:
		return splitmix(&j->rng) % 100 < (uint64_t)j->cfg->rwmixread ? OP_READ : OP_WRITE;
	}
}

static bool next_io(struct job *j, struct slot *s)
{
	const struct bench_cfg *c = j->cfg;
	uint64_t now = tr_now_ns(), blocks = j->area_len / c->bs;

	if (j->stop_issuing || blocks == 0)
		return false;
	if (j->end_ns && now >= j->end_ns)
		return false;
	if (c->verify || c->verify_only) {
		/* Verify: write the whole area in order, then read it all back. */
		if (j->seq_next >= j->area_len) {
			if (j->verify_phase_read || j->inflight)
				return false;
			j->verify_phase_read = true;
			j->seq_next = 0;
		}
		s->op = j->verify_phase_read || c->verify_only ? OP_READ : OP_WRITE;
		if (c->verify_only)
			j->verify_phase_read = true;
		s->off = j->area_start + j->seq_next;
		j->seq_next += c->bs;
	} else {
		if (!c->time_based && j->issued_bytes >= j->target_bytes)
			return false;
		s->op = c->rw == BENCH_CAW ? OP_CAW : next_op(j);
		if (s->op == OP_CAW) {
			/* Every block of the area with a pair out: wait for one to come back. */
			if (!bench_caw_next(&j->caw, splitmix(&j->rng), &s->off, s->buf, s->buf + c->bs))
				return false;
		} else if (rw_is_random(c->rw)) {
			s->off = j->area_start + (splitmix(&j->rng) % blocks) * c->bs;
		} else {
			if (j->seq_next + c->bs > blocks * c->bs)
				j->seq_next = 0;
			s->off = j->area_start + j->seq_next;
			j->seq_next += c->bs;
		}
	}
	s->then_flush = c->dsync && s->op == OP_WRITE;
	/* Only a verify pass needs each block to name its offset; other writes reuse the buffer as is. */
	if (s->op == OP_WRITE && (c->verify || c->verify_only))
		pattern_fill(s->buf, c->bs, s->off, c->seed);
	j->issued_bytes += c->bs;
	s->start_ns = now;
	return true;
}

/* b - a, in seconds */
static double tv_seconds(const struct timeval *b, const struct timeval *a)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_usec - a->tv_usec) / 1e6;
}

static void *job_main(void *arg)
{
	struct job *j = arg;
	const struct bench_cfg *c = j->cfg;
	struct rusage ru0, ru1;
	uint64_t t0, t_measure;
	bool verify = c->verify || c->verify_only;

	getrusage(RUSAGE_THREAD, &ru0);
	t0 = tr_now_ns();
	j->measure_from_ns = t0 + (uint64_t)(c->ramp_s * 1e9);
	if (c->runtime_s > 0)
		j->end_ns = t0 + (uint64_t)((c->runtime_s + c->ramp_s) * 1e9);
	if (verify)
		j->end_ns = 0; /* a verify pass always covers its whole area */

	for (;;) {
		/* Keep iodepth commands in flight; wait for completions; repeat. */
		for (int i = 0; i < c->iodepth && !j->stop_issuing; i++) {
			struct slot *s = &j->slots[i];
			int err;

			if (s->busy)
				continue;
			if (!next_io(j, s))
				break;
			err = engine_submit(j, s);
			if (err == -EAGAIN && s->op == OP_CAW && j->inflight) {
				/* The controller's MAXCMD left fewer than two entries per pair: take this one
				 * back and wait for some to come back. */
				bench_caw_done(&j->caw, s->off, false);
				j->issued_bytes -= c->bs;
				break;
			}
			if (err) {
				j->error = err;
				snprintf(j->why, sizeof(j->why), "submit: %s", tr_status_str(err));
				j->stop_issuing = true;
				break;
			}
			s->busy = true;
			j->inflight++;
		}
		if (j->inflight == 0) {
			/* A verify pass switches to reading back once every write is done. */
			if (verify && !j->verify_phase_read && !j->stop_issuing && j->seq_next >= j->area_len) {
				j->verify_phase_read = true;
				j->seq_next = 0;
				continue;
			}
			break;
		}
		if (engine_poll(j) < 0) {
			if (!j->error) {
				j->error = -EIO;
				snprintf(j->why, sizeof(j->why), "the I/O queue failed");
			}
			break;
		}
	}
	t_measure = tr_now_ns();
	getrusage(RUSAGE_THREAD, &ru1);
	j->st->runtime_s = (double)(t_measure - (j->measure_from_ns < t_measure ? j->measure_from_ns : t0)) / 1e9;
	{
		double wall = (double)(t_measure - t0) / 1e9;

		j->st->usr_cpu = wall > 0 ? 100.0 * tv_seconds(&ru1.ru_utime, &ru0.ru_utime) / wall : 0;
		j->st->sys_cpu = wall > 0 ? 100.0 * tv_seconds(&ru1.ru_stime, &ru0.ru_stime) / wall : 0;
	}
	j->st->error = j->error;
	if (j->live)
		atomic_fetch_sub_explicit(&j->live->running, 1, memory_order_release);
	return NULL;
}

/* ---- Setup ---- */

static int local_open(const struct bench_target *t, bool write, uint64_t *capacity, uint32_t *lba_size,
		      char *why, size_t whylen)
{
	int fd = open(t->filename, (write ? O_RDWR : O_RDONLY) | (t->buffered ? 0 : O_DIRECT) | O_CLOEXEC);
	struct stat st;

	if (fd < 0) {
		snprintf(why, whylen, "cannot open %s: %s", t->filename, strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st)) {
		close(fd);
		return -errno;
	}
	*lba_size = 512;
	if (S_ISBLK(st.st_mode)) {
		int ssz = 512;

		if (ioctl(fd, BLKGETSIZE64, capacity) || ioctl(fd, BLKSSZGET, &ssz)) {
			snprintf(why, whylen, "%s: cannot read the device size: %s", t->filename, strerror(errno));
			close(fd);
			return -EIO;
		}
		*lba_size = (uint32_t)ssz;
	} else {
		*capacity = (uint64_t)st.st_size;
	}
	return fd;
}

static bool cfg_writes(const struct bench_cfg *c)
{
	return (c->verify && !c->verify_only) || c->rw == BENCH_WRITE || c->rw == BENCH_RANDWRITE ||
	       c->rw == BENCH_RANDRW || c->rw == BENCH_RW || c->rw == BENCH_CAW;
}

void bench_result_free(struct bench_result *r)
{
	free(r->jobs);
	r->jobs = NULL;
}

/* What bench_run opened and the region the jobs work on. */
struct bench_dev {
	struct tr_ctrl *ctrl; /* remote */
	int fd; /* local, else -1 */
	uint64_t capacity; /* bytes */
	uint32_t lba_size;
	uint64_t start, len; /* the region */
};

/* Connect with an I/O queue per job, deep enough for iodepth; check the namespace and the transfer
 * size. 0 or -errno with 'why' set; d->ctrl is set once connected, also on a later error. */
static int remote_open(const struct bench_target *t, const struct bench_cfg *cfg, struct bench_dev *d,
		       struct bench_result *res, char *why, size_t whylen)
{
	struct tr_ctrl_opts o = t->conn;
	struct nvme_id_ns *id = aligned_alloc(4096, 4096);
	int err;

	o.nr_io_queues = cfg->numjobs;
	/* A compare-and-write pair takes two entries. */
	if (o.queue_size < cfg->iodepth * (cfg->rw == BENCH_CAW ? 2 : 1) + 1)
		o.queue_size = cfg->iodepth * (cfg->rw == BENCH_CAW ? 2 : 1) + 1;
	err = id ? tr_ctrl_connect(&o, &d->ctrl, why, whylen) : -ENOMEM;
	if (!err) {
		err = tr_ctrl_identify(d->ctrl, NVME_ID_CNS_NS, t->nsid, id);
		if (err || id->nsze == 0) {
			snprintf(why, whylen, "namespace %u of %s: %s", t->nsid, o.subnqn,
				 err ? tr_status_str(err) : "not active");
			err = err ? err : -ENODEV;
		}
	}
	if (!err) {
		tr_ctrl_set_poll_us(d->ctrl, t->poll_us);
		d->lba_size = 1u << id->lbaf[id->flbas & 0xf].ds;
		d->capacity = id->nsze * d->lba_size;
		if (tr_ctrl_nr_io_queues(d->ctrl) < cfg->numjobs) {
			snprintf(why, whylen, "the controller granted %d I/O queues for %d jobs",
				 tr_ctrl_nr_io_queues(d->ctrl), cfg->numjobs);
			err = -ENOSPC;
		} else if (cfg->rw == BENCH_CAW &&
			   !(tr_ctrl_identify_data(d->ctrl)->fuses & NVME_CTRL_FUSES_COMPARE_WRITE)) {
			snprintf(why, whylen, "the controller does not support fused compare-and-write (FUSES is %#x)",
				 tr_ctrl_identify_data(d->ctrl)->fuses);
			err = -EOPNOTSUPP;
		} else if (cfg->bs > tr_ctrl_max_xfer(d->ctrl)) {
			snprintf(why, whylen, "bs %u exceeds the controller's largest transfer (%u)", cfg->bs,
				 tr_ctrl_max_xfer(d->ctrl));
			err = -EINVAL;
		}
	}
	free(id);
	snprintf(res->what, sizeof(res->what), "nvme-tcp %s:%s %s nsid %u", o.traddr, o.trsvcid, o.subnqn, t->nsid);
	return err;
}

static void bench_close(struct bench_dev *d)
{
	if (d->ctrl)
		tr_ctrl_disconnect(d->ctrl);
	if (d->fd >= 0)
		close(d->fd);
}

/* Open the namespace or file and check that the block size and the region fit it; 0 or -errno with
 * 'why' set, and nothing left open. */
static int bench_open(const struct bench_target *t, const struct bench_cfg *cfg, struct bench_dev *d,
		      struct bench_result *res, char *why, size_t whylen)
{
	int err;

	*d = (struct bench_dev){ .fd = -1, .lba_size = 512 };
	if (cfg->rw == BENCH_CAW && !t->remote) {
		snprintf(why, whylen, "--rw caw (fused compare-and-write) is an NVMe command: it needs a remote "
			 "namespace, not %s", t->filename);
		return -EINVAL;
	}
	if (t->remote) {
		err = remote_open(t, cfg, d, res, why, whylen);
	} else {
		d->fd = local_open(t, cfg_writes(cfg), &d->capacity, &d->lba_size, why, whylen);
		err = d->fd < 0 ? d->fd : 0;
		snprintf(res->what, sizeof(res->what), "%s", t->filename);
	}
	if (!err && (cfg->bs % d->lba_size || cfg->bs % VERIFY_BLOCK)) {
		snprintf(why, whylen, "bs %u is not a multiple of the %u-byte block", cfg->bs, d->lba_size);
		err = -EINVAL;
	}
	d->start = cfg->offset;
	d->len = cfg->size ? cfg->size : d->capacity > d->start ? d->capacity - d->start : 0;
	if (!err && (d->start % d->lba_size || d->start + d->len > d->capacity || d->len < cfg->bs)) {
		snprintf(why, whylen, "the region %llu+%llu does not fit the %llu bytes there",
			 (unsigned long long)d->start, (unsigned long long)d->len, (unsigned long long)d->capacity);
		err = -EINVAL;
	}
	if (!err && cfg->rw == BENCH_CAW && d->len / cfg->bs / (uint64_t)cfg->numjobs > BENCH_CAW_MAX_BLOCKS) {
		snprintf(why, whylen, "--rw caw keeps the generation of at most %llu blocks per job: give a smaller "
			 "--size", BENCH_CAW_MAX_BLOCKS);
		err = -EFBIG;
	} else if (!err && cfg->rw == BENCH_CAW && d->len / cfg->bs < (uint64_t)cfg->numjobs) {
		snprintf(why, whylen, "--rw caw gives each job a part of the region: %llu bytes are less than a block "
			 "of %u for each of %d jobs", (unsigned long long)d->len, cfg->bs, cfg->numjobs);
		err = -EINVAL;
	}
	res->capacity = d->capacity;
	res->lba_size = d->lba_size;
	if (err)
		bench_close(d);
	return err;
}

/* Job i: its area of the region, its slots and buffers, its queue or ring; 0 or -ENOMEM. */
static int job_setup(struct job *j, int i, const struct bench_target *t, const struct bench_cfg *cfg,
		     struct bench_result *res, const struct bench_dev *d)
{
	int err = 0;

	j->index = i;
	j->t = t;
	j->cfg = cfg;
	j->res = res;
	j->st = &res->jobs[i];
	j->fd = d->fd;
	j->rng = cfg->seed * 0x9e3779b97f4a7c15ull + (uint64_t)i + 1;
	/* fio: every job works on the whole region; a verify pass splits it so jobs don't race, and so
	 * does compare-and-write, where each job must know what its blocks hold. */
	if (cfg->verify || cfg->verify_only || cfg->rw == BENCH_CAW) {
		uint64_t slice = d->len / (uint64_t)cfg->numjobs / cfg->bs * cfg->bs;

		j->area_start = d->start + slice * (uint64_t)i;
		j->area_len = slice;
	} else {
		j->area_start = d->start;
		j->area_len = d->len;
	}
	j->target_bytes = d->len;
	if (cfg->rw == BENCH_CAW) {
		j->target_bytes = j->area_len;
		err = bench_caw_init(&j->caw, j->area_start, j->area_len, cfg->bs);
	}
	j->slots = calloc((size_t)cfg->iodepth, sizeof(*j->slots));
	if (!j->slots)
		return -ENOMEM;
	for (int k = 0; k < cfg->iodepth; k++) {
		/* A compare-and-write slot holds what to compare, then what to write. */
		size_t len = (size_t)cfg->bs * (cfg->rw == BENCH_CAW ? 2 : 1);

		j->slots[k].job = j;
		j->slots[k].buf = aligned_alloc(4096, (len + 4095) / 4096 * 4096);
		if (!j->slots[k].buf)
			err = -ENOMEM;
		else
			pattern_fill(j->slots[k].buf, cfg->bs, 0, cfg->seed); /* non-zero data, once */
	}
	if (t->remote) {
		j->ioq = tr_ctrl_ioq(d->ctrl, i);
		j->lba_shift = (uint32_t)__builtin_ctz(d->lba_size);
	} else if (io_uring_queue_init((unsigned)cfg->iodepth * 2, &j->ring, 0) == 0) {
		j->ring_ok = true;
	} else {
		err = -ENOMEM;
	}
	return err;
}

/* Run the first n jobs, each on its thread, and wait for them (drawing the progress line meanwhile
 * if 'live'); the CPU the process as a whole used (keep-alive and main threads too), which is what a
 * user compares. 0 or -EAGAIN. */
static int run_jobs(struct job *jobs, int n, struct bench_result *res, uint64_t t0, struct bench_live *live)
{
	struct rusage ru0, ru1;
	uint64_t run_t0 = tr_now_ns();
	int err = 0, started = 0;
	double wall;

	getrusage(RUSAGE_SELF, &ru0);
	for (int i = 0; i < n; i++) {
		if (live)
			atomic_fetch_add_explicit(&live->running, 1, memory_order_relaxed);
		if (pthread_create(&jobs[i].thread, NULL, job_main, &jobs[i])) {
			if (live)
				atomic_fetch_sub_explicit(&live->running, 1, memory_order_relaxed);
			err = -EAGAIN;
			break;
		}
		started++;
	}
	if (live)
		bench_progress_watch(live);
	for (int i = 0; i < started; i++)
		pthread_join(jobs[i].thread, NULL);
	getrusage(RUSAGE_SELF, &ru1);
	res->wall_s = (double)(tr_now_ns() - t0) / 1e9;
	wall = (double)(tr_now_ns() - run_t0) / 1e9;
	res->total.usr_cpu = wall > 0 ? 100.0 * tv_seconds(&ru1.ru_utime, &ru0.ru_utime) / wall : 0;
	res->total.sys_cpu = wall > 0 ? 100.0 * tv_seconds(&ru1.ru_stime, &ru0.ru_stime) / wall : 0;
	return err;
}

/* Merge the jobs' statistics into the total and free what they held; the first job's error stands
 * for the run unless 'err' is already one. */
static int finish_jobs(struct job *jobs, const struct bench_cfg *cfg, struct bench_result *res, int err, char *why,
		       size_t whylen)
{
	for (int i = 0; i < cfg->numjobs; i++) {
		struct job *j = &jobs[i];

		if (j->error && !err) {
			err = j->error;
			snprintf(why, whylen, "job %d: %s", i, j->why);
		}
		bench_lat_merge(&res->total.read, &res->jobs[i].read);
		bench_lat_merge(&res->total.write, &res->jobs[i].write);
		if (res->jobs[i].runtime_s > res->total.runtime_s)
			res->total.runtime_s = res->jobs[i].runtime_s;
		res->total.miscompares += res->jobs[i].miscompares;
		bench_caw_free(&j->caw);
		if (j->ring_ok)
			io_uring_queue_exit(&j->ring);
		for (int k = 0; j->slots && k < cfg->iodepth; k++)
			free(j->slots[k].buf);
		free(j->slots);
	}
	return err;
}

/* What the progress line needs to know of the jobs, and their counters; NULL if out of memory (the run
 * goes on without a line). */
static struct bench_live *live_setup(struct job *jobs, const struct bench_cfg *cfg, uint64_t t0)
{
	/* fio's letters: upper case sequential, lower case random; m for a mix. */
	static const char modes[] = { [BENCH_READ] = 'R', [BENCH_WRITE] = 'W', [BENCH_RANDREAD] = 'r',
				      [BENCH_RANDWRITE] = 'w', [BENCH_RANDRW] = 'm', [BENCH_RW] = 'M',
				      [BENCH_CAW] = 'c' };
	struct bench_live *live = calloc(1, sizeof(*live));

	if (live)
		live->jobs = calloc((size_t)cfg->numjobs, sizeof(*live->jobs));
	if (!live || !live->jobs) {
		free(live);
		return NULL;
	}
	live->njobs = cfg->numjobs;
	live->t0_ns = t0;
	live->runtime_s = cfg->verify ? 0 : cfg->runtime_s;
	live->ramp_s = cfg->ramp_s;
	live->time_based = cfg->time_based && !cfg->verify;
	live->mode = modes[cfg->rw];
	live->out = cfg->progress;
	for (int i = 0; i < cfg->numjobs; i++) {
		struct job *j = &jobs[i];

		j->counts = &live->jobs[i];
		j->live = live;
		/* A verify pass writes its area, then reads it back (--verify_only: reads it). */
		if (cfg->verify)
			live->total_bytes += j->area_len * (cfg->verify_only ? 1 : 2);
		else
			live->total_bytes += j->target_bytes;
	}
	return live;
}

int bench_run(const struct bench_target *t, const struct bench_cfg *cfg, struct bench_result *res, char *why,
	      size_t whylen)
{
	struct bench_dev d;
	struct job *jobs;
	struct bench_live *live = NULL;
	uint64_t t0;
	int err, rc;

	memset(res, 0, sizeof(*res));
	res->numjobs = cfg->numjobs;
	err = bench_open(t, cfg, &d, res, why, whylen);
	if (err)
		return err;

	jobs = calloc((size_t)cfg->numjobs, sizeof(*jobs));
	res->jobs = calloc((size_t)cfg->numjobs, sizeof(*res->jobs));
	if (!jobs || !res->jobs) {
		free(jobs);
		bench_close(&d);
		return -ENOMEM;
	}
	for (int i = 0; i < cfg->numjobs && !err; i++)
		err = job_setup(&jobs[i], i, t, cfg, res, &d);
	/* --rw caw: every job's blocks at generation 0 (zeros) before the clock starts. */
	for (int i = 0; i < cfg->numjobs && !err && cfg->rw == BENCH_CAW; i++)
		err = bench_caw_zero(jobs[i].ioq, t->nsid, jobs[i].caw.start, jobs[i].caw.nblocks * cfg->bs,
				     jobs[i].lba_shift, cfg->iodepth, why, whylen);
	t0 = tr_now_ns();
	if (!err && cfg->progress)
		live = live_setup(jobs, cfg, t0);
	rc = run_jobs(jobs, err ? 0 : cfg->numjobs, res, t0, live);
	err = finish_jobs(jobs, cfg, res, err ? err : rc, why, whylen);
	if (live)
		free(live->jobs);
	free(live);
	free(jobs);
	bench_close(&d);
	return err;
}

const char *bench_rw_name(enum bench_rw rw)
{
	static const char *const names[] = { "read", "write", "randread", "randwrite", "randrw", "rw", "caw" };

	return names[rw];
}
