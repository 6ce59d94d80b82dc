/* RAM namespace backend: an anonymous mapping, touched lazily. Reads are served straight from
 * it (no copy); deallocate and write-zeroes give pages back to the kernel. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "target/target.h"

static void mem_zero(struct tgt_ns *ns, uint64_t off, uint64_t len)
{
	const uint64_t page = 4096;
	uint64_t start = (off + page - 1) & ~(page - 1), end = (off + len) & ~(page - 1);

	if (start >= end) {
		memset(ns->mem + off, 0, len);
		return;
	}
	memset(ns->mem + off, 0, start - off);
	/* A private anonymous page reads as zeros again once dropped. */
	madvise(ns->mem + start, end - start, MADV_DONTNEED);
	memset(ns->mem + end, 0, off + len - end);
}

static void mem_submit(struct tgt_ns *ns, struct tgt_worker *worker, struct tgt_io *io)
{
	(void)worker;
	switch (io->op) {
	case TGT_IO_READ:
		io->mapped = ns->mem + io->offset;
		break;
	case TGT_IO_WRITE:
		memcpy(ns->mem + io->offset, io->buf, io->len);
		break;
	case TGT_IO_FLUSH:
		break;
	case TGT_IO_WRITE_ZEROES:
	case TGT_IO_DISCARD:
		mem_zero(ns, io->offset, io->len);
		break;
	}
	io->complete(io, 0);
}

static void mem_destroy(struct tgt_ns *ns)
{
	munmap(ns->mem, ns->size);
}

static const struct tgt_backend_ops mem_ops = {
	.kind = "mem",
	.submit = mem_submit,
	.destroy = mem_destroy,
};

int tgt_backend_mem_open(struct tgt_ns *ns, uint64_t size)
{
	void *p;

	if (size < 4096 || size % 4096)
		return -EINVAL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	ns->mem = p;
	ns->size = size;
	ns->ops = &mem_ops;
	return 0;
}
