/* Namespaces and their storage: one small interface (submit, destroy) and one file per kind of
 * backend (RAM, files and block devices, Ceph RBD images). Backends complete I/O through
 * tgt_io.complete, maybe inline; file backends use their worker's io_uring through tgt_worker_get_sqe
 * (worker.h), RBD hands librbd's completions back to the worker through tgt_worker_post_remote. */
#ifndef TIGHTROPE_TARGET_BACKEND_H
#define TIGHTROPE_TARGET_BACKEND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tgt_worker;
struct tgt_ns;
struct tgt_resv;
struct tgt_lba_gate;

enum tgt_io_op { TGT_IO_READ, TGT_IO_WRITE, TGT_IO_FLUSH, TGT_IO_WRITE_ZEROES, TGT_IO_DISCARD };

/* A request a worker's io_uring carries: `done` runs on that worker with the CQE's result. */
struct tgt_ring_op {
	void (*done)(struct tgt_ring_op *op, struct tgt_worker *w, int res);
};

/* A completion that arrives on another thread (librbd's) and runs `done` on the submitting worker. */
struct tgt_remote_op {
	struct tgt_remote_op *next;
	void (*done)(struct tgt_remote_op *op, struct tgt_worker *w);
	struct tgt_worker *worker;
	long res;
	/* Stored (release) before the request leaves, loaded (acquire) by the other thread first: the
	 * ordering the foreign library provides anyway, made visible to ThreadSanitizer, which does not
	 * see inside it. */
	_Atomic unsigned armed;
};

struct tgt_io {
	enum tgt_io_op op;
	bool fua;
	uint64_t offset; /* bytes */
	uint64_t len; /* bytes */
	void *buf; /* data for writes; destination for reads, or NULL: "map it" (RAM only) */
	const void *mapped; /* set by a backend that serves a read straight from its memory */
	uint64_t done_bytes; /* progress across short transfers */
	struct tgt_ns *ns;
	void (*complete)(struct tgt_io *io, int err); /* err: 0 or -errno */
	struct tgt_ring_op ring_op; /* file/block backends */
	struct tgt_remote_op remote_op; /* RBD */
	int stage; /* RBD: a FUA write's flush after the write */
};

struct tgt_backend_ops {
	const char *kind;
	/* Start the I/O; completion is always reported through io->complete, maybe inline. */
	void (*submit)(struct tgt_ns *ns, struct tgt_worker *worker, struct tgt_io *io);
	void (*destroy)(struct tgt_ns *ns);
	/* Live resize (NULL: the backend's size is fixed, or it follows its storage itself, as RBD does).
	 * size_now: the storage's size now, which the target compares with the namespace's (a file or
	 * device grown or shrunk from outside, as nvmet's revalidate_size); resize: make it 'size', -EBUSY
	 * if that would cut off data and not 'force', -EOPNOTSUPP where only the outside can (a device). */
	int (*size_now)(struct tgt_ns *ns, uint64_t *size);
	int (*resize)(struct tgt_ns *ns, uint64_t size, bool force);
};

/* Open a namespace's storage from a spec: "mem:SIZE", a regular file or a block device, or
 * "rbd:POOL/IMAGE" (see tgt_rbd_parse_spec). */
struct tgt_ns_params {
	const char *path;
	const char *rbd_conf; /* RBD: ceph.conf and client id given beside the path (the CLI's ,conf= ,id=) */
	const char *rbd_id;
	uint32_t nsid;
	bool readonly;
	bool buffered; /* files and block devices: page cache instead of O_DIRECT */
	uint32_t lba_size; /* 0 = from the device (or 512 for files and RAM) */
	const uint8_t *uuid; /* NULL = derived from the NQN and NSID */
	const uint8_t *nguid;
	uint32_t anagrpid; /* its ANA group, 1..TGT_MAX_ANAGRPS; 0 = the default group, 1 */
};

struct tgt_ns {
	_Atomic int refs;
	uint32_t nsid;
	char *path;
	bool readonly;
	bool buffered;
	uint8_t lba_shift;
	_Atomic uint64_t nlbas; /* atomic: an RBD image's resize changes it while workers read it */
	uint8_t uuid[16];
	uint8_t nguid[16];
	uint8_t eui64[8];
	uint32_t anagrpid; /* fixed while the namespace exists (ANACAP: ANAGRPID does not change) */
	const struct tgt_backend_ops *ops;
	void *priv; /* backend state */
	int fd; /* file/block backends */
	uint8_t *mem; /* RAM backend */
	_Atomic uint64_t size; /* bytes */
	/* Persistent reservations (resv.c), and the reservation's type as the I/O path reads it without
	 * the lock: while it is none, no command needs a check. */
	struct tgt_resv *resv;
	_Atomic uint8_t resv_rtype;
	_Atomic bool resv_in_use; /* set by the first registration: from then on commands are counted */
	struct tgt_ns_shard *metrics; /* one per worker (metrics.h); NULL if none could be had */
	struct tgt_lba_gate *gate; /* the LBA range lock that makes fused Compare and Write atomic */
};

int tgt_backend_mem_open(struct tgt_ns *ns, uint64_t size);
int tgt_backend_file_open(struct tgt_ns *ns, const char *path, const struct tgt_ns_params *p);
int tgt_backend_file_zero_fallback(struct tgt_ns *ns, uint64_t off, uint64_t len);

#define TGT_RBD_PREFIX "rbd:"
#define TGT_RBD_FIELD_MAX 256 /* pool, namespace, image, conf path, client id */
/* "rbd:POOL/[NAMESPACE/]IMAGE[:conf=PATH][:id=CLIENT]" (QEMU's form), taken apart and checked. */
struct tgt_rbd_spec {
	char pool[TGT_RBD_FIELD_MAX];
	char rados_ns[TGT_RBD_FIELD_MAX]; /* "" = the pool's default namespace */
	char image[TGT_RBD_FIELD_MAX];
	char conf[TGT_RBD_FIELD_MAX]; /* "" = librados' default search (CEPH_CONF, /etc/ceph/ceph.conf) */
	char id[TGT_RBD_FIELD_MAX]; /* "" = "admin" */
};
/* 0, or -EINVAL with *why saying what is wrong. conf and id (may be NULL) override the string's. */
int tgt_rbd_parse_spec(const char *path, const char *conf, const char *id, struct tgt_rbd_spec *out,
		       const char **why);
/* The canonical string for a spec (what `ctl save` writes); -ENAMETOOLONG if it does not fit. */
int tgt_rbd_format_spec(const struct tgt_rbd_spec *spec, char *buf, size_t len);
/* Open the image: -EPROTONOSUPPORT when built without librbd. Logs what failed. */
int tgt_backend_rbd_open(struct tgt_ns *ns, const char *subnqn, const struct tgt_ns_params *p);
/* A backend saw its storage change size (the RBD image was resized, on a thread of its own): if
 * `which` is still subnqn's namespace nsid, take the new size and announce the change to every
 * controller (target.c). */
void tgt_ns_resized(const char *subnqn, uint32_t nsid, const struct tgt_ns *which, uint64_t size);
/* Stop announcing resizes (the target is shutting down, its registries about to go); waits for a
 * check under way. Images still close afterwards, on the RBD thread, and at exit. */
void tgt_backend_rbd_quiesce(void);

/* Parse "1G", "512M", "4096" ... into bytes; -EINVAL on junk. */
int tgt_parse_size(const char *s, uint64_t *out);

struct tgt_ns *tgt_ns_open(const char *subnqn, const struct tgt_ns_params *params);
void tgt_ns_get(struct tgt_ns *ns);
void tgt_ns_put(struct tgt_ns *ns);

#endif
