/* Namespaces and their storage: one small interface (submit, destroy) and one file per kind of
 * backend (RAM, files and block devices). Backends complete I/O through tgt_io.complete, maybe
 * inline; file backends use their worker's io_uring through tgt_worker_get_sqe (worker.h). */
#ifndef TIGHTROPE_TARGET_BACKEND_H
#define TIGHTROPE_TARGET_BACKEND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct tgt_worker;
struct tgt_ns;

enum tgt_io_op { TGT_IO_READ, TGT_IO_WRITE, TGT_IO_FLUSH, TGT_IO_WRITE_ZEROES, TGT_IO_DISCARD };

/* A request a worker's io_uring carries: `done` runs on that worker with the CQE's result. */
struct tgt_ring_op {
	void (*done)(struct tgt_ring_op *op, struct tgt_worker *w, int res);
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
};

struct tgt_backend_ops {
	const char *kind;
	/* Start the I/O; completion is always reported through io->complete, maybe inline. */
	void (*submit)(struct tgt_ns *ns, struct tgt_worker *worker, struct tgt_io *io);
	void (*destroy)(struct tgt_ns *ns);
};

/* Open a namespace's storage from a spec: "mem:SIZE", a regular file or a block device. */
struct tgt_ns_params {
	const char *path;
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
	uint64_t nlbas;
	uint8_t uuid[16];
	uint8_t nguid[16];
	uint8_t eui64[8];
	uint32_t anagrpid; /* fixed while the namespace exists (ANACAP: ANAGRPID does not change) */
	const struct tgt_backend_ops *ops;
	void *priv; /* backend state */
	int fd; /* file/block backends */
	uint8_t *mem; /* RAM backend */
	uint64_t size; /* bytes */
};

int tgt_backend_mem_open(struct tgt_ns *ns, uint64_t size);
int tgt_backend_file_open(struct tgt_ns *ns, const char *path, const struct tgt_ns_params *p);
int tgt_backend_file_zero_fallback(struct tgt_ns *ns, uint64_t off, uint64_t len);
/* Parse "1G", "512M", "4096" ... into bytes; -EINVAL on junk. */
int tgt_parse_size(const char *s, uint64_t *out);

struct tgt_ns *tgt_ns_open(const char *subnqn, const struct tgt_ns_params *params);
void tgt_ns_get(struct tgt_ns *ns);
void tgt_ns_put(struct tgt_ns *ns);

#endif
