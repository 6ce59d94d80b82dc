/* `tightrope bench --rw caw`: the per-block generations that make every compare of a pair match, the
 * block pattern of each generation, and zeroing a job's area before the run (generation 0). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/caw.h"

int bench_caw_init(struct bench_caw *c, uint64_t start, uint64_t len, uint32_t bs)
{
	*c = (struct bench_caw){ .start = start, .bs = bs, .nblocks = len / bs };
	if (c->nblocks > BENCH_CAW_MAX_BLOCKS)
		return -EFBIG;
	c->gen = calloc(c->nblocks ? c->nblocks : 1, sizeof(*c->gen));
	return c->gen ? 0 : -ENOMEM;
}

void bench_caw_free(struct bench_caw *c)
{
	free(c->gen);
	c->gen = NULL;
}

static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Cheap enough to fill two blocks per pair: one mix per 512-byte piece, then a running sum. */
void bench_caw_pattern(uint8_t *buf, uint32_t len, uint64_t off, uint32_t gen)
{
	if (gen == 0) {
		memset(buf, 0, len);
		return;
	}
	for (uint32_t p = 0; p < len; p += BENCH_CAW_PIECE) {
		uint64_t *w = (uint64_t *)(void *)(buf + p), x = mix((off + p) ^ ((uint64_t)gen << 44));

		w[0] = BENCH_CAW_MAGIC;
		w[1] = off + p;
		w[2] = gen;
		for (uint32_t i = 3; i < BENCH_CAW_PIECE / 8; i++)
			w[i] = x += 0x9e3779b97f4a7c15ull;
	}
}

bool bench_caw_next(struct bench_caw *c, uint64_t pick, uint64_t *off, uint8_t *cmp, uint8_t *data)
{
	uint64_t b = c->nblocks ? pick % c->nblocks : 0;

	/* At most one probe more than there are pairs out. */
	for (uint64_t tries = 0; tries < c->nblocks; tries++, b = b + 1 == c->nblocks ? 0 : b + 1) {
		uint32_t g = c->gen[b];

		if (g & BENCH_CAW_BUSY)
			continue;
		c->gen[b] = g | BENCH_CAW_BUSY;
		*off = c->start + b * c->bs;
		bench_caw_pattern(cmp, c->bs, *off, g);
		/* Past 2^31 - 1 generations (never, in practice) the pattern starts again at 1. */
		bench_caw_pattern(data, c->bs, *off, g + 1 < BENCH_CAW_BUSY ? g + 1 : 1);
		return true;
	}
	return false;
}

void bench_caw_done(struct bench_caw *c, uint64_t off, bool written)
{
	uint64_t b = (off - c->start) / c->bs;
	uint32_t g = c->gen[b] & ~BENCH_CAW_BUSY;

	/* Not written (a miscompare): the block keeps the generation the job believed; a block that
	 * miscompared once will keep miscomparing, and every one is counted. */
	c->gen[b] = written ? (g + 1 < BENCH_CAW_BUSY ? g + 1 : 1) : g;
}

struct zero_wait {
	int inflight;
	int status;
};

static void zero_done(void *arg, int status)
{
	struct zero_wait *w = arg;

	w->inflight--;
	if (status && !w->status)
		w->status = status;
}

int bench_caw_zero(struct tr_ioq *q, uint32_t nsid, uint64_t start, uint64_t len, uint32_t lba_shift, int depth,
		   char *why, size_t whylen)
{
	uint64_t lba = start >> lba_shift, end = (start + len) >> lba_shift;
	struct zero_wait w = { 0 };
	int err = 0, n;

	for (;;) {
		while (!err && !w.status && lba < end && w.inflight < depth) {
			uint32_t nlb = end - lba < 65536 ? (uint32_t)(end - lba) : 65536;

			err = tr_ioq_write_zeroes(q, nsid, lba, nlb, zero_done, &w);
			if (err == -EAGAIN && w.inflight) {
				err = 0;
				break;
			}
			if (!err) {
				w.inflight++;
				lba += nlb;
			}
		}
		/* Stop only with nothing out: the callbacks write to 'w' on this stack. */
		if (!w.inflight)
			break;
		n = tr_ioq_poll(q, -1);
		if (n < 0) {
			err = n; /* the failed queue has completed everything */
			break;
		}
	}
	if (!err)
		err = w.status;
	if (err)
		snprintf(why, whylen, "zeroing blocks %llu+%llu with Write Zeroes before the run: %s",
			 (unsigned long long)(start >> lba_shift), (unsigned long long)(len >> lba_shift),
			 err < 0 && tr_ioq_error(q) ? tr_ioq_error(q) : tr_status_str(err));
	return err;
}
