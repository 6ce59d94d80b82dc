/* cmocka tests of the host process's block requests (src/host/blkreq.c): the aligned extent, chunks
 * of the controller's transfer size, read-modify-write, range checks against the namespace, and what
 * follows each completion; commands go to a fake that records them and answers as told. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "host/blkreq.h"

#define LBA 9 /* 512-byte blocks */
#define MAX_XFER (128 * 1024)

/* The fake I/O queue: every command it is given, and what to answer to the n-th one. */
struct fake {
	struct blkreq_cmd cmds[32];
	int n;
	int answer_at; /* the call (0-based) that gets 'answer'; -1 = never */
	int answer;
};

static int fake_send(void *ctx, const struct blkreq_cmd *c)
{
	struct fake *f = ctx;

	if (f->n == f->answer_at) {
		f->answer_at = -1;
		return f->answer;
	}
	assert_true(f->n < 32);
	f->cmds[f->n++] = *c;
	return 0;
}

static struct fake fake(void)
{
	return (struct fake){ .answer_at = -1 };
}

/* Complete every command in flight with 'status'; what the last completion says. */
static enum blkreq_next complete_all(struct blkreq *r, int status)
{
	enum blkreq_next next = BLKREQ_PENDING;
	uint32_t n = r->inflight;

	for (uint32_t i = 0; i < n; i++) {
		next = blkreq_complete(r, status);
		if (i + 1 < n)
			assert_int_equal(next, BLKREQ_PENDING);
	}
	return next;
}

static void assert_cmd(const struct blkreq_cmd *c, enum blkreq_kind op, uint64_t slba, uint32_t nlb, uint32_t len)
{
	assert_int_equal(c->op, op);
	assert_int_equal(c->nsid, 1);
	assert_int_equal(c->slba, slba);
	assert_int_equal(c->nlb, nlb);
	assert_int_equal(c->len, len);
}

static void test_aligned_read(void **state)
{
	struct blkreq r;
	struct fake f = fake();

	(void)state;
	assert_int_equal(blkreq_init(&r, BLKREQ_READ, 1, 4096, 8192, LBA, NULL, NULL), 0);
	assert_int_equal(r.aoff, 4096);
	assert_int_equal(r.alen, 8192);
	assert_false(r.rmw_read);
	assert_int_equal(blkreq_submit(&r, MAX_XFER, fake_send, &f), BLKREQ_PENDING);
	assert_int_equal(f.n, 1);
	assert_cmd(&f.cmds[0], BLKREQ_READ, 8, 16, 8192);
	assert_ptr_equal(f.cmds[0].buf, r.buf);
	assert_int_equal(complete_all(&r, 0), BLKREQ_REPLY);
	assert_int_equal(r.nvme_err, 0);
	blkreq_release(&r);
}

static void test_aligned_write(void **state)
{
	uint8_t data[1024];
	struct blkreq r;
	struct fake f = fake();

	(void)state;
	memset(data, 0xab, sizeof(data));
	assert_int_equal(blkreq_init(&r, BLKREQ_WRITE, 1, 512, sizeof(data), LBA, data, NULL), 0);
	assert_false(r.rmw_read);
	assert_null(r.wdata);
	assert_memory_equal(r.buf, data, sizeof(data));
	assert_int_equal(blkreq_submit(&r, MAX_XFER, fake_send, &f), BLKREQ_PENDING);
	assert_int_equal(f.n, 1);
	assert_cmd(&f.cmds[0], BLKREQ_WRITE, 1, 2, 1024);
	assert_int_equal(complete_all(&r, 0), BLKREQ_REPLY);
	blkreq_release(&r);
}

/* An unaligned write: the covering extent is read, the new bytes merged at their place, the extent
 * written back; 'aoff'/'alen' is the extent expected for off/size. */
static void check_rmw(uint64_t off, size_t size, uint64_t aoff, uint32_t alen)
{
	uint8_t *data = malloc(size), *want = malloc(alen);
	struct blkreq r;
	struct fake f = fake();

	for (size_t i = 0; i < size; i++)
		data[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(blkreq_init(&r, BLKREQ_WRITE, 1, off, size, LBA, data, NULL), 0);
	memset(data, 0, size); /* the request keeps its own copy */
	assert_int_equal(r.aoff, aoff);
	assert_int_equal(r.alen, alen);
	assert_true(r.rmw_read);
	assert_int_equal(blkreq_submit(&r, MAX_XFER, fake_send, &f), BLKREQ_PENDING);
	assert_int_equal(f.n, 1);
	assert_cmd(&f.cmds[0], BLKREQ_READ, aoff >> LBA, alen >> LBA, alen);
	memset(r.buf, 0xee, alen); /* what the "target" had there */
	assert_int_equal(complete_all(&r, 0), BLKREQ_RESUBMIT);
	memset(want, 0xee, alen);
	for (size_t i = 0; i < size; i++)
		want[off - aoff + i] = (uint8_t)(i * 7 + 1);
	assert_memory_equal(r.buf, want, alen);
	assert_false(r.rmw_read);
	assert_int_equal(blkreq_submit(&r, MAX_XFER, fake_send, &f), BLKREQ_PENDING);
	assert_int_equal(f.n, 2);
	assert_cmd(&f.cmds[1], BLKREQ_WRITE, aoff >> LBA, alen >> LBA, alen);
	assert_int_equal(complete_all(&r, 0), BLKREQ_REPLY);
	blkreq_release(&r);
	free(data);
	free(want);
}

static void test_unaligned_head(void **state)
{
	(void)state;
	check_rmw(1000, 536, 512, 1024); /* 1000..1536: starts inside block 1, ends on a boundary */
}

static void test_unaligned_tail(void **state)
{
	(void)state;
	check_rmw(1024, 700, 1024, 1024); /* 1024..1724: starts on a boundary, ends inside block 3 */
}

static void test_unaligned_both(void **state)
{
	(void)state;
	check_rmw(1000, 2000, 512, 2560); /* 1000..3000 */
	check_rmw(100, 10, 0, 512); /* inside one block */
}

/* More than one transfer: chunks of max_xfer in order, the last one short, each at its place in
 * the buffer. */
static void test_larger_than_max_xfer(void **state)
{
	struct blkreq r;
	struct fake f = fake();

	(void)state;
	assert_int_equal(blkreq_init(&r, BLKREQ_READ, 1, 1 << 20, 300 * 1024, LBA, NULL, NULL), 0);
	assert_int_equal(blkreq_submit(&r, MAX_XFER, fake_send, &f), BLKREQ_PENDING);
	assert_int_equal(r.nr_chunks, 3);
	assert_int_equal(f.n, 3);
	assert_cmd(&f.cmds[0], BLKREQ_READ, 2048, 256, MAX_XFER);
	assert_cmd(&f.cmds[1], BLKREQ_READ, 2304, 256, MAX_XFER);
	assert_cmd(&f.cmds[2], BLKREQ_READ, 2560, 88, 44 * 1024);
	assert_ptr_equal(f.cmds[1].buf, r.buf + MAX_XFER);
	assert_ptr_equal(f.cmds[2].buf, r.buf + 2 * MAX_XFER);
	assert_int_equal(complete_all(&r, 0), BLKREQ_REPLY);
	blkreq_release(&r);
}

/* An unaligned write over several transfers: every chunk is read, then every chunk written. */
static void test_large_unaligned_write(void **state)
{
	static uint8_t data[MAX_XFER + 100];
	struct blkreq r;
	struct fake f = fake();

	(void)state;
	assert_int_equal(blkreq_init(&r, BLKREQ_WRITE, 1, 10, sizeof(data), LBA, data, NULL), 0);
	assert_int_equal(r.alen, MAX_XFER + 512);
	assert_int_equal(blkreq_submit(&r, MAX_XFER, fake_send, &f), BLKREQ_PENDING);
	assert_int_equal(f.n, 2);
	assert_cmd(&f.cmds[0], BLKREQ_READ, 0, 256, MAX_XFER);
	assert_cmd(&f.cmds[1], BLKREQ_READ, 256, 1, 512);
	assert_int_equal(complete_all(&r, 0), BLKREQ_RESUBMIT);
	assert_int_equal(blkreq_submit(&r, MAX_XFER, fake_send, &f), BLKREQ_PENDING);
	assert_int_equal(f.n, 4);
	assert_cmd(&f.cmds[2], BLKREQ_WRITE, 0, 256, MAX_XFER);
	assert_cmd(&f.cmds[3], BLKREQ_WRITE, 256, 1, 512);
	assert_int_equal(complete_all(&r, 0), BLKREQ_REPLY);
	blkreq_release(&r);
}

static void test_zero_length(void **state)
{
	size_t size = 0;
	struct blkreq r;
	struct fake f = fake();

	(void)state;
	assert_int_equal(blkreq_fit(BLKREQ_READ, 4096, &size, 100, LBA), 1);
	assert_int_equal(blkreq_fit(BLKREQ_WRITE, 4096, &size, 100, LBA), 1);
	assert_int_equal(blkreq_fit(BLKREQ_DEALLOCATE, 4096, &size, 100, LBA), -EINVAL);
	assert_int_equal(blkreq_fit(BLKREQ_ZEROES, 4096, &size, 100, LBA), -EINVAL);
	/* Even sent, a request with nothing to move is answered at once, not left hanging. */
	assert_int_equal(blkreq_init(&r, BLKREQ_READ, 1, 4096, 0, LBA, NULL, NULL), 0);
	assert_int_equal(r.alen, 0);
	assert_int_equal(blkreq_submit(&r, MAX_XFER, fake_send, &f), BLKREQ_REPLY);
	assert_int_equal(f.n, 0);
	blkreq_release(&r);
}

/* A namespace of 100 blocks ends at byte 51200. */
static void test_namespace_end(void **state)
{
	size_t size;

	(void)state;
	size = 1000;
	assert_int_equal(blkreq_fit(BLKREQ_READ, 51000, &size, 100, LBA), 0);
	assert_int_equal(size, 200); /* a read across the end is cut there */
	size = 512;
	assert_int_equal(blkreq_fit(BLKREQ_READ, 51200, &size, 100, LBA), 1);
	assert_int_equal(blkreq_fit(BLKREQ_READ, 99999, &size, 100, LBA), 1);
	size = 1000;
	assert_int_equal(blkreq_fit(BLKREQ_WRITE, 51000, &size, 100, LBA), -ENOSPC);
	assert_int_equal(size, 1000);
	size = 200;
	assert_int_equal(blkreq_fit(BLKREQ_WRITE, 51000, &size, 100, LBA), 0);
	size = 1024;
	assert_int_equal(blkreq_fit(BLKREQ_DEALLOCATE, 50688, &size, 100, LBA), -EINVAL);
	size = 512;
	assert_int_equal(blkreq_fit(BLKREQ_DEALLOCATE, 50688, &size, 100, LBA), 0);
	size = 0;
	assert_int_equal(blkreq_fit(BLKREQ_FLUSH, 0, &size, 100, LBA), 0);
}

static void test_dsm_ranges(void **state)
{
	size_t size;
	struct blkreq r;
	struct fake f = fake();

	(void)state;
	size = 1000;
	assert_int_equal(blkreq_fit(BLKREQ_ZEROES, 512, &size, 1000, LBA), -EINVAL); /* unaligned length */
	size = 512;
	assert_int_equal(blkreq_fit(BLKREQ_ZEROES, 100, &size, 1000, LBA), -EINVAL); /* unaligned offset */
	size = (size_t)65536 << LBA;
	assert_int_equal(blkreq_fit(BLKREQ_DEALLOCATE, 0, &size, 1 << 20, LBA), 0);
	size = (size_t)65537 << LBA;
	assert_int_equal(blkreq_fit(BLKREQ_DEALLOCATE, 0, &size, 1 << 20, LBA), -EINVAL);
	/* One command over the whole range, however long: no transfer size applies. */
	assert_int_equal(blkreq_init(&r, BLKREQ_DEALLOCATE, 1, 4096, (size_t)1024 << LBA, LBA, NULL, NULL), 0);
	assert_null(r.buf);
	assert_int_equal(blkreq_submit(&r, MAX_XFER, fake_send, &f), BLKREQ_PENDING);
	assert_int_equal(f.n, 1);
	assert_cmd(&f.cmds[0], BLKREQ_DEALLOCATE, 8, 1024, 0);
	assert_int_equal(complete_all(&r, 0), BLKREQ_REPLY);
	blkreq_release(&r);
}

static void test_flush(void **state)
{
	struct blkreq r;
	struct fake f = fake();

	(void)state;
	assert_int_equal(blkreq_init(&r, BLKREQ_FLUSH, 1, 0, 0, LBA, NULL, NULL), 0);
	assert_int_equal(blkreq_submit(&r, MAX_XFER, fake_send, &f), BLKREQ_PENDING);
	assert_int_equal(f.n, 1);
	assert_cmd(&f.cmds[0], BLKREQ_FLUSH, 0, 0, 0);
	assert_null(f.cmds[0].buf);
	assert_int_equal(complete_all(&r, 0), BLKREQ_REPLY);
	blkreq_release(&r);
}

/* A full queue part-way through: what went out completes, the request waits, then the rest goes. */
static void test_queue_full(void **state)
{
	struct blkreq r;
	struct fake f = fake();

	(void)state;
	assert_int_equal(blkreq_init(&r, BLKREQ_READ, 1, 0, 3 * MAX_XFER, LBA, NULL, NULL), 0);
	f.answer_at = 1;
	f.answer = -EAGAIN;
	assert_int_equal(blkreq_submit(&r, MAX_XFER, fake_send, &f), BLKREQ_PENDING);
	assert_int_equal(f.n, 1);
	assert_int_equal(complete_all(&r, 0), BLKREQ_WAIT);
	assert_int_equal(blkreq_submit(&r, MAX_XFER, fake_send, &f), BLKREQ_PENDING);
	assert_int_equal(f.n, 3);
	assert_cmd(&f.cmds[1], BLKREQ_READ, 256, 256, MAX_XFER);
	assert_cmd(&f.cmds[2], BLKREQ_READ, 512, 256, MAX_XFER);
	assert_int_equal(complete_all(&r, 0), BLKREQ_REPLY);
	blkreq_release(&r);

	/* Full before anything went out: it waits in line itself. */
	f = fake();
	f.answer_at = 0;
	f.answer = -EAGAIN;
	assert_int_equal(blkreq_init(&r, BLKREQ_READ, 1, 0, 4096, LBA, NULL, NULL), 0);
	assert_int_equal(blkreq_submit(&r, MAX_XFER, fake_send, &f), BLKREQ_WAIT);
	assert_int_equal(r.inflight, 0);
	blkreq_release(&r);
}

/* A broken path sends the whole request again after the reconnect, up to BLKREQ_MAX_RETRIES times. */
static void test_transport_error_retries(void **state)
{
	struct blkreq r;
	struct fake f = fake();

	(void)state;
	assert_int_equal(blkreq_init(&r, BLKREQ_READ, 1, 0, 2 * MAX_XFER, LBA, NULL, NULL), 0);
	for (int i = 0; i < BLKREQ_MAX_RETRIES; i++) {
		assert_int_equal(blkreq_submit(&r, MAX_XFER, fake_send, &f), BLKREQ_PENDING);
		assert_int_equal(blkreq_complete(&r, 0), BLKREQ_PENDING);
		assert_int_equal(blkreq_complete(&r, -ECONNRESET), BLKREQ_WAIT);
		assert_int_equal(r.next_chunk, 0);
		assert_int_equal(r.nvme_err, 0);
	}
	assert_int_equal(f.n, 2 * BLKREQ_MAX_RETRIES);
	assert_int_equal(blkreq_submit(&r, MAX_XFER, fake_send, &f), BLKREQ_PENDING);
	assert_int_equal(complete_all(&r, -ETIMEDOUT), BLKREQ_FAILED);
	assert_int_equal(r.retries, BLKREQ_MAX_RETRIES + 1);
	blkreq_release(&r);
}

/* An NVMe error ends the request with the first status; a failed read of a read-modify-write
 * writes nothing. A command the queue refuses outright (-EINVAL) fails it too. */
static void test_nvme_error(void **state)
{
	uint8_t data[10] = { 1 };
	struct blkreq r;
	struct fake f = fake();

	(void)state;
	assert_int_equal(blkreq_init(&r, BLKREQ_WRITE, 1, 3, sizeof(data), LBA, data, NULL), 0);
	assert_int_equal(blkreq_submit(&r, MAX_XFER, fake_send, &f), BLKREQ_PENDING);
	assert_int_equal(complete_all(&r, 0x281), BLKREQ_REPLY);
	assert_int_equal(r.nvme_err, 0x281);
	assert_true(r.rmw_read);
	assert_int_equal(f.n, 1);
	blkreq_release(&r);

	f = fake();
	assert_int_equal(blkreq_init(&r, BLKREQ_READ, 1, 0, 2 * MAX_XFER, LBA, NULL, NULL), 0);
	assert_int_equal(blkreq_submit(&r, MAX_XFER, fake_send, &f), BLKREQ_PENDING);
	assert_int_equal(blkreq_complete(&r, 0x2), BLKREQ_PENDING);
	assert_int_equal(blkreq_complete(&r, 0x4), BLKREQ_REPLY);
	assert_int_equal(r.nvme_err, 0x2);
	blkreq_release(&r);

	f = fake();
	f.answer_at = 0;
	f.answer = -EINVAL;
	assert_int_equal(blkreq_init(&r, BLKREQ_READ, 1, 0, 4096, LBA, NULL, NULL), 0);
	assert_int_equal(blkreq_submit(&r, MAX_XFER, fake_send, &f), BLKREQ_REPLY);
	assert_int_equal(r.nvme_err, -EINVAL);
	blkreq_release(&r);
}

/* Buffers go back to the pool and come out again for a request of the same size class, a write's
 * data copied over whatever the last one left; the pool holds no more than max_bytes, and nothing
 * larger than 1 MiB. */
static void test_pool(void **state)
{
	struct blkreq_pool pool = { .max_bytes = 2 * 4096 + 8192 };
	uint8_t data[4096], *first, *big;
	struct blkreq r, r2, r3, r4;

	(void)state;
	memset(data, 0xab, sizeof(data));
	assert_int_equal(blkreq_init(&r, BLKREQ_READ, 1, 0, 4096, LBA, NULL, &pool), 0);
	first = r.buf;
	assert_int_equal((uintptr_t)first % 4096, 0);
	memset(first, 0x11, 4096);
	blkreq_release(&r);
	assert_null(r.buf);
	assert_int_equal(pool.held, 4096);

	/* 3 KiB, block-aligned: the 4 KiB class again, the same buffer, with the write's bytes in it. */
	assert_int_equal(blkreq_init(&r, BLKREQ_WRITE, 1, 512, 3072, LBA, data, &pool), 0);
	assert_ptr_equal(r.buf, first);
	assert_memory_equal(r.buf, data, 3072);
	assert_int_equal(pool.held, 0);

	/* 6 KiB needs the 8 KiB class: not the one just freed. */
	blkreq_release(&r);
	assert_int_equal(blkreq_init(&r, BLKREQ_READ, 1, 0, 6144, LBA, NULL, &pool), 0);
	assert_ptr_not_equal(r.buf, first);
	assert_int_equal(pool.held, 4096);

	/* Three more 4 KiB ones back: the pool takes the first two (8 + 8 KiB of 16), not the third. */
	assert_int_equal(blkreq_init(&r2, BLKREQ_READ, 1, 0, 4096, LBA, NULL, &pool), 0);
	assert_int_equal(blkreq_init(&r3, BLKREQ_READ, 1, 0, 4096, LBA, NULL, &pool), 0);
	assert_int_equal(blkreq_init(&r4, BLKREQ_READ, 1, 0, 4096, LBA, NULL, &pool), 0);
	assert_int_equal(pool.held, 0);
	blkreq_release(&r);
	assert_int_equal(pool.held, 8192);
	blkreq_release(&r2);
	blkreq_release(&r3);
	assert_int_equal(pool.held, 8192 + 2 * 4096);
	blkreq_release(&r4);
	assert_int_equal(pool.held, 8192 + 2 * 4096);

	/* Larger than the largest class: allocated and freed, never kept. */
	pool.max_bytes = 64u << 20;
	assert_int_equal(blkreq_init(&r, BLKREQ_READ, 1, 0, (2u << 20) + 512, LBA, NULL, &pool), 0);
	big = r.buf;
	big[(2u << 20) + 511] = 1;
	blkreq_release(&r);
	assert_int_equal(pool.held, 8192 + 2 * 4096);

	/* No pool: allocated and freed. Commands without data take no buffer from it. */
	assert_int_equal(blkreq_init(&r, BLKREQ_READ, 1, 0, 4096, LBA, NULL, NULL), 0);
	blkreq_release(&r);
	assert_int_equal(blkreq_init(&r, BLKREQ_FLUSH, 1, 0, 0, LBA, NULL, &pool), 0);
	assert_null(r.buf);
	blkreq_release(&r);
	assert_int_equal(pool.held, 8192 + 2 * 4096);

	blkreq_pool_drain(&pool);
	assert_int_equal(pool.held, 0);
	for (int c = 0; c < BLKREQ_POOL_CLASSES; c++)
		assert_null(pool.free[c]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aligned_read),
		cmocka_unit_test(test_aligned_write),
		cmocka_unit_test(test_unaligned_head),
		cmocka_unit_test(test_unaligned_tail),
		cmocka_unit_test(test_unaligned_both),
		cmocka_unit_test(test_larger_than_max_xfer),
		cmocka_unit_test(test_large_unaligned_write),
		cmocka_unit_test(test_zero_length),
		cmocka_unit_test(test_namespace_end),
		cmocka_unit_test(test_dsm_ranges),
		cmocka_unit_test(test_flush),
		cmocka_unit_test(test_queue_full),
		cmocka_unit_test(test_transport_error_retries),
		cmocka_unit_test(test_nvme_error),
		cmocka_unit_test(test_pool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
