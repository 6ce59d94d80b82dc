/* `tightrope bench --rw caw`: fused compare-and-write pairs that always compare equal, because the
 * job remembers, per block of its area, which generation of the block pattern it last wrote. */
#ifndef TIGHTROPE_BENCH_CAW_H
#define TIGHTROPE_BENCH_CAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tightrope/host.h"

/* Each 512-byte piece of a block of generation g > 0 starts with this magic, its byte offset in the
 * namespace and g; the rest is noise derived from those. Generation 0 is all zeros. */
#define BENCH_CAW_MAGIC 0x6e65677761637274ull /* the bytes "trcawgen" as a little-endian word */
#define BENCH_CAW_PIECE 512
/* The most blocks a job tracks (4 bytes each): 256 MiB of memory; a larger area needs --size. */
#define BENCH_CAW_MAX_BLOCKS (64ull << 20)
#define BENCH_CAW_BUSY 0x80000000u

struct bench_caw {
	uint32_t *gen; /* per block: the generation last written, with BENCH_CAW_BUSY while a pair is out */
	uint64_t nblocks;
	uint64_t start; /* the area's first byte */
	uint32_t bs; /* a block here is one I/O: bs bytes at a multiple of bs from start */
};

/* The job's area: 0, -ENOMEM, or -EFBIG beyond BENCH_CAW_MAX_BLOCKS. */
int bench_caw_init(struct bench_caw *c, uint64_t start, uint64_t len, uint32_t bs);
void bench_caw_free(struct bench_caw *c);
/* The next pair, at the first block from 'pick' (a random number) that has no pair out: its byte
 * offset in *off, what to compare in cmp and what to write in data (bs bytes each). False when
 * every block has a pair out. */
bool bench_caw_next(struct bench_caw *c, uint64_t pick, uint64_t *off, uint8_t *cmp, uint8_t *data);
/* The pair at 'off' is done: written (its block moves to the next generation) or not. */
void bench_caw_done(struct bench_caw *c, uint64_t off, bool written);
/* A block's content at generation g. */
void bench_caw_pattern(uint8_t *buf, uint32_t len, uint64_t off, uint32_t gen);
/* Before the timed run: Write Zeroes over the area (so every block holds generation 0), up to
 * 'depth' commands at a time. 0, or the failing status / -errno with 'why' set. */
int bench_caw_zero(struct tr_ioq *q, uint32_t nsid, uint64_t start, uint64_t len, uint32_t lba_shift, int depth,
		   char *why, size_t whylen);

#endif
