/* The host process's FUSE view: a directory with one file per namespace, nN, whose reads and writes
 * go to the target (io.c), plus the session's start and the event loop's share of serving it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/hostd.h"
#include "util/log.h"

static struct hostd *fuse_host(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct ns_dev *ns_by_ino(struct hostd *h, fuse_ino_t ino)
{
	return ino > ROOT_INO ? hostd_ns_by_nsid(h, (uint32_t)(ino - ROOT_INO)) : NULL;
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

	if (parent != ROOT_INO || sscanf(name, "n%u%c", &nsid, &tail) != 1 || !hostd_ns_by_nsid(h, nsid)) {
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

/* Start a block request on the file's namespace after checking it fits; FUSE hears of every outcome. */
static void io_op(fuse_req_t req, fuse_ino_t ino, enum blkreq_kind kind, uint64_t off, size_t size, const void *data)
{
	struct hostd *h = fuse_host(req);
	struct ns_dev *ns = ns_by_ino(h, ino);
	int fit;

	if (!ns) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fit = blkreq_fit(kind, off, &size, ns->nsze, ns->lba_shift);
	if (fit < 0) {
		fuse_reply_err(req, -fit);
		return;
	}
	if (fit > 0) {
		/* Nothing to move: a read at or past the end, or zero bytes. */
		if (kind == BLKREQ_WRITE)
			fuse_reply_write(req, 0);
		else
			fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (hostd_io_start(h, req, kind, ns, off, size, data))
		fuse_reply_err(req, ENOMEM);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	io_op(req, ino, BLKREQ_READ, (uint64_t)off, size, NULL);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *data, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	(void)fi;
	io_op(req, ino, BLKREQ_WRITE, (uint64_t)off, size, data);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)datasync, (void)fi;
	/* fsync, and the loop device's REQ_PREFLUSH, become an NVMe Flush. */
	io_op(req, ino, BLKREQ_FLUSH, 0, 0, NULL);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino, (void)fi;
	fuse_reply_err(req, 0); /* close(2): nothing is cached here */
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
			 struct fuse_file_info *fi)
{
	enum blkreq_kind kind;

	(void)fi;
	if (!ns_by_ino(fuse_host(req), ino)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (mode == (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE))
		kind = BLKREQ_DEALLOCATE;
	else if (mode == FALLOC_FL_ZERO_RANGE || mode == (FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE))
		kind = BLKREQ_ZEROES;
	else {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	if (off < 0 || len <= 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	io_op(req, ino, kind, (uint64_t)off, (size_t)len, NULL);
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

int hostd_fuse_start(struct hostd *h, char *why, size_t whylen)
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

/* Take up to 'batch' queued requests off the FUSE device; -errno once the mount went away, else 0. */
int hostd_fuse_serve(struct hostd *h, int batch)
{
	for (int i = 0; h->se && i < batch; i++) {
		int res = fuse_session_receive_buf(h->se, &h->fbuf);

		if (res > 0) {
			fuse_session_process_buf(h->se, &h->fbuf);
			continue;
		}
		return res < 0 && res != -EINTR && res != -EAGAIN ? res : 0;
	}
	return 0;
}

/* A namespace went away, or changed size: the kernel forgets what it cached of it. */
void hostd_fuse_ns_gone(struct hostd *h, uint32_t nsid)
{
	char name[16];

	if (!h->se)
		return;
	snprintf(name, sizeof(name), "n%u", nsid);
	fuse_lowlevel_notify_inval_entry(h->se, ROOT_INO, name, strlen(name));
}

void hostd_fuse_ns_resized(struct hostd *h, uint32_t nsid)
{
	if (h->se)
		fuse_lowlevel_notify_inval_inode(h->se, ROOT_INO + nsid, 0, 0);
}
