/* File and block-device namespace backend: reads, writes and flushes go through the owning
 * worker's io_uring (O_DIRECT unless buffered); deallocate and write-zeroes use fallocate. */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <liburing.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "target/target.h"
#include "target/worker.h"
#include "util/log.h"

static void file_cqe(struct tgt_ring_op *op, struct tgt_worker *w, int res);

static struct io_uring_sqe *get_sqe(struct tgt_worker *w, struct tgt_io *io)
{
	io->ring_op.done = file_cqe;
	return tgt_worker_get_sqe(w, &io->ring_op);
}

/* Submit (the rest of) a read or write; short transfers come back here for the remainder. */
static void file_rw(struct tgt_ns *ns, struct tgt_worker *w, struct tgt_io *io)
{
	struct io_uring_sqe *sqe = get_sqe(w, io);
	uint64_t done = io->done_bytes;

	if (!sqe) {
		io->complete(io, -ENOMEM);
		return;
	}
	if (io->op == TGT_IO_READ) {
		io_uring_prep_read(sqe, ns->fd, (uint8_t *)io->buf + done, (unsigned)(io->len - done),
				   io->offset + done);
	} else {
		io_uring_prep_write(sqe, ns->fd, (uint8_t *)io->buf + done, (unsigned)(io->len - done),
				    io->offset + done);
		if (io->fua)
			sqe->rw_flags = RWF_DSYNC;
	}
	io_uring_sqe_set_data(sqe, &io->ring_op); /* again: a prep helper may clear it */
}

static void file_submit(struct tgt_ns *ns, struct tgt_worker *w, struct tgt_io *io)
{
	struct io_uring_sqe *sqe;
	int mode;

	switch (io->op) {
	case TGT_IO_READ:
	case TGT_IO_WRITE:
		file_rw(ns, w, io);
		return;
	case TGT_IO_FLUSH:
		sqe = get_sqe(w, io);
		if (!sqe) {
			io->complete(io, -ENOMEM);
			return;
		}
		io_uring_prep_fsync(sqe, ns->fd, IORING_FSYNC_DATASYNC);
		io_uring_sqe_set_data(sqe, &io->ring_op);
		return;
	case TGT_IO_WRITE_ZEROES:
	case TGT_IO_DISCARD:
		/* Metadata-only on files and thin devices: done inline rather than through the ring. */
		mode = FALLOC_FL_KEEP_SIZE | (io->op == TGT_IO_DISCARD ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE);
		if (fallocate(ns->fd, mode, (off_t)io->offset, (off_t)io->len) == 0) {
			io->complete(io, 0);
			return;
		}
		if (errno == EOPNOTSUPP && io->op == TGT_IO_DISCARD) {
			/* Deallocate is a hint; a device that cannot discard still answers success. */
			io->complete(io, 0);
			return;
		}
		if (errno == EOPNOTSUPP) {
			io->complete(io, tgt_backend_file_zero_fallback(ns, io->offset, io->len));
			return;
		}
		io->complete(io, -errno);
		return;
	}
}

/* The worker's io_uring completed one of this backend's requests (on that worker). */
static void file_cqe(struct tgt_ring_op *op, struct tgt_worker *w, int res)
{
	struct tgt_io *io = (struct tgt_io *)((char *)op - offsetof(struct tgt_io, ring_op));

	if (res < 0) {
		io->complete(io, res);
		return;
	}
	if (io->op == TGT_IO_FLUSH) {
		io->complete(io, 0);
		return;
	}
	if (res == 0) {
		io->complete(io, -EIO); /* past the end of the file: it shrank under us */
		return;
	}
	io->done_bytes += (uint64_t)res;
	if (io->done_bytes < io->len) {
		file_rw(io->ns, w, io);
		return;
	}
	io->complete(io, 0);
}

int tgt_backend_file_zero_fallback(struct tgt_ns *ns, uint64_t off, uint64_t len)
{
	const size_t chunk = 1 << 20;
	void *zeros;
	int err = 0;

	if (posix_memalign(&zeros, TGT_BUF_ALIGN, chunk))
		return -ENOMEM;
	memset(zeros, 0, chunk);
	while (len && !err) {
		size_t n = len < chunk ? (size_t)len : chunk;
		ssize_t w = pwrite(ns->fd, zeros, n, (off_t)off);

		if (w <= 0)
			err = w < 0 ? -errno : -EIO;
		off += (uint64_t)(w > 0 ? w : 0);
		len -= (uint64_t)(w > 0 ? w : 0);
	}
	free(zeros);
	return err;
}

static void file_destroy(struct tgt_ns *ns)
{
	if (!ns->readonly)
		fdatasync(ns->fd);
	close(ns->fd);
}

static int file_size_now(struct tgt_ns *ns, uint64_t *size)
{
	struct stat st;

	if (fstat(ns->fd, &st))
		return -errno;
	if (S_ISBLK(st.st_mode))
		return ioctl(ns->fd, BLKGETSIZE64, size) ? -errno : 0;
	*size = (uint64_t)st.st_size;
	return 0;
}

/* A regular file grows or shrinks with ftruncate; a device's size is its own (grow the device, or
 * the volume under it, and the target follows). Shrinking refuses to cut off written data (any
 * extent past the new end, SEEK_DATA's answer) unless forced. */
static int file_resize(struct tgt_ns *ns, uint64_t size, bool force)
{
	struct stat st;

	if (fstat(ns->fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EOPNOTSUPP;
	if (size < (uint64_t)st.st_size && !force) {
		off_t data = lseek(ns->fd, (off_t)size, SEEK_DATA);

		if (data >= 0 && (uint64_t)data < (uint64_t)st.st_size)
			return -EBUSY;
	}
	return ftruncate(ns->fd, (off_t)size) ? -errno : 0;
}

static const struct tgt_backend_ops file_ops = {
	.kind = "file",
	.submit = file_submit,
	.destroy = file_destroy,
	.size_now = file_size_now,
	.resize = file_resize,
};

int tgt_backend_file_open(struct tgt_ns *ns, const char *path, const struct tgt_ns_params *p)
{
	int flags = (p->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | (p->buffered ? 0 : O_DIRECT);
	struct stat st;
	uint32_t lbs = p->lba_size;
	int fd, err;

	fd = open(path, flags);
	if (fd < 0 && errno == EINVAL && !p->buffered) {
		/* tmpfs and a few others refuse O_DIRECT: fall back to the page cache and say so. */
		fd = open(path, flags & ~O_DIRECT);
		if (fd >= 0) {
			tr_warn("%s: O_DIRECT not supported here; using buffered I/O", path);
			ns->buffered = true;
		}
	}
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto fail;
	}
	if (S_ISBLK(st.st_mode)) {
		uint64_t size;
		int ssz;

		if (ioctl(fd, BLKGETSIZE64, &size) || ioctl(fd, BLKSSZGET, &ssz)) {
			err = -errno;
			goto fail;
		}
		ns->size = size;
		/* The device's logical block size rules; a smaller one would break O_DIRECT. */
		if (!lbs || lbs < (uint32_t)ssz)
			lbs = (uint32_t)ssz;
	} else if (S_ISREG(st.st_mode)) {
		ns->size = (uint64_t)st.st_size;
		if (!lbs)
			lbs = TGT_LBA_SIZE_512;
	} else {
		err = -ENOTBLK;
		goto fail;
	}
	if (lbs != TGT_LBA_SIZE_512 && lbs != TGT_LBA_SIZE_4K) {
		err = -EINVAL;
		goto fail;
	}
	ns->lba_shift = lbs == TGT_LBA_SIZE_4K ? TGT_LBA_SHIFT_4K : TGT_LBA_SHIFT_512;
	if (ns->size < lbs) {
		err = -ENOSPC;
		goto fail;
	}
	ns->fd = fd;
	ns->ops = &file_ops;
	return 0;
fail:
	close(fd);
	return err;
}
