/* RAM namespace backend: an anonymous mapping, touched lazily. Reads without a buffer are served
 * straight from it (no copy); deallocate and write-zeroes give pages back to the kernel. A read of
 * a range that was never written is served from one shared zero buffer: reading fresh anonymous
 * memory would fault every page in (a first pass over a new namespace ran ten times slower). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "target/target.h"

/* Queues on different workers may touch the same bytes at once. Writes, zeroing and copied reads
 * take striped locks by 1 MiB region, so each of them sees or replaces whole blocks and a copied
 * read (the one a data digest is computed over) is never torn. A mapped read is copied by the
 * kernel later, inside sendmsg, unlocked: it may see a racing write's bytes, as a read through any
 * page cache may; NVMe leaves the order of overlapping commands on different queues open. */
#define MEM_STRIPES 64
#define MEM_REGION_SHIFT 20
/* Sizes are whole pages, which either block size divides; zeroing drops the whole pages in a range. */
#define MEM_PAGE UINT64_C(4096)
/* Written-to tracking: one bit per 64 KiB chunk, set before the first write lands in it. */
#define MEM_CHUNK_SHIFT 16

struct mem_ns {
	pthread_rwlock_t stripes[MEM_STRIPES];
	_Atomic uint64_t *written; /* a bit per chunk; never cleared (zeroing leaves zeros anyway) */
};

/* What an unwritten range reads as: the largest transfer's worth of zeros, shared and never written. */
static uint8_t mem_zeros[TGT_MAX_XFER] __attribute__((aligned(4096))); /* in .bss, not the file */

static void chunks_mark(struct mem_ns *m, uint64_t off, uint64_t len)
{
	for (uint64_t c = off >> MEM_CHUNK_SHIFT; c <= (off + len - 1) >> MEM_CHUNK_SHIFT; c++) {
		uint64_t bit = UINT64_C(1) << (c % 64);

		if (!(atomic_load_explicit(&m->written[c / 64], memory_order_relaxed) & bit))
			atomic_fetch_or_explicit(&m->written[c / 64], bit, memory_order_relaxed);
	}
}

/* Was no byte of the range ever written? Then it reads as zeros without touching the mapping. */
static bool chunks_unwritten(const struct mem_ns *m, uint64_t off, uint64_t len)
{
	if (len == 0 || len > sizeof(mem_zeros))
		return false;
	for (uint64_t c = off >> MEM_CHUNK_SHIFT; c <= (off + len - 1) >> MEM_CHUNK_SHIFT; c++) {
		if (atomic_load_explicit(&m->written[c / 64], memory_order_relaxed) & (UINT64_C(1) << (c % 64)))
			return false;
	}
	return true;
}

static uint64_t stripes_of(uint64_t off, uint64_t len)
{
	uint64_t first = off >> MEM_REGION_SHIFT, last = (off + len - 1) >> MEM_REGION_SHIFT, mask = 0;

	if (len == 0)
		return 0;
	if (last - first >= MEM_STRIPES - 1)
		return ~0ull;
	for (uint64_t r = first; r <= last; r++)
		mask |= 1ull << (r % MEM_STRIPES);
	return mask;
}

/* In ascending stripe order, so two ranges never wait for each other crosswise. */
static void stripes_lock(struct mem_ns *m, uint64_t mask, bool exclusive)
{
	for (int i = 0; i < MEM_STRIPES; i++) {
		if (!(mask & (1ull << i)))
			continue;
		if (exclusive)
			pthread_rwlock_wrlock(&m->stripes[i]);
		else
			pthread_rwlock_rdlock(&m->stripes[i]);
	}
}

static void stripes_unlock(struct mem_ns *m, uint64_t mask)
{
	for (int i = 0; i < MEM_STRIPES; i++)
		if (mask & (1ull << i))
			pthread_rwlock_unlock(&m->stripes[i]);
}

static void mem_zero(struct tgt_ns *ns, uint64_t off, uint64_t len)
{
	uint64_t start = (off + MEM_PAGE - 1) & ~(MEM_PAGE - 1), end = (off + len) & ~(MEM_PAGE - 1);

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
	struct mem_ns *m = ns->priv;
	uint64_t mask = stripes_of(io->offset, io->len);

	(void)worker;
	switch (io->op) {
	case TGT_IO_READ:
		if (chunks_unwritten(m, io->offset, io->len)) {
			if (io->buf)
				memset(io->buf, 0, io->len);
			else
				io->mapped = mem_zeros;
			break;
		}
		if (!io->buf) {
			io->mapped = ns->mem + io->offset;
			break;
		}
		stripes_lock(m, mask, false);
		memcpy(io->buf, ns->mem + io->offset, io->len);
		stripes_unlock(m, mask);
		break;
	case TGT_IO_WRITE:
		stripes_lock(m, mask, true);
		chunks_mark(m, io->offset, io->len);
		memcpy(ns->mem + io->offset, io->buf, io->len);
		stripes_unlock(m, mask);
		break;
	case TGT_IO_FLUSH:
		break;
	case TGT_IO_WRITE_ZEROES:
	case TGT_IO_DISCARD:
		stripes_lock(m, mask, true);
		mem_zero(ns, io->offset, io->len);
		stripes_unlock(m, mask);
		break;
	}
	io->complete(io, 0);
}

static void mem_destroy(struct tgt_ns *ns)
{
	struct mem_ns *m = ns->priv;

	munmap(ns->mem, ns->size);
	for (int i = 0; i < MEM_STRIPES; i++)
		pthread_rwlock_destroy(&m->stripes[i]);
	free(m->written);
	free(m);
	ns->priv = NULL;
}

static const struct tgt_backend_ops mem_ops = {
	.kind = "mem",
	.submit = mem_submit,
	.destroy = mem_destroy,
};

int tgt_backend_mem_open(struct tgt_ns *ns, uint64_t size)
{
	struct mem_ns *m;
	void *p;

	if (size < MEM_PAGE || size % MEM_PAGE)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (m)
		m->written = calloc(((size - 1) >> MEM_CHUNK_SHIFT) / 64 + 1, sizeof(*m->written));
	if (!m || !m->written) {
		free(m);
		return -ENOMEM;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		int err = -errno;

		free(m->written);
		free(m);
		return err;
	}
	/* 2 MiB pages where the kernel has them (THP in madvise mode, Debian's default): a 4 KiB random
	 * read then costs one TLB entry per 2 MiB instead of a page walk per I/O, which a VM's nested
	 * paging makes dear. Never-written ranges are not touched (reads of them use the zero buffer). */
	madvise(p, size, MADV_HUGEPAGE);
	for (int i = 0; i < MEM_STRIPES; i++)
		pthread_rwlock_init(&m->stripes[i], NULL);
	ns->mem = p;
	ns->size = size;
	ns->priv = m;
	ns->ops = &mem_ops;
	return 0;
}
