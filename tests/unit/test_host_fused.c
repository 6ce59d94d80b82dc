/* cmocka tests of the host queue's fused Compare and Write (hq_submit_fused in src/host/queue.c): the
 * two capsules leave back to back with the FUSE bits, their data in the capsule or behind R2Ts, and
 * the pair calls back once with one status, whatever order and statuses the controller answers with.
 * The test plays the controller on the other end of a socketpair. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "host/queue.h"
#include "util/log.h"

#define LEN 4096

struct cb_state {
	int calls;
	int status;
};

static void pair_done(void *arg, int status)
{
	struct cb_state *c = arg;

	c->calls++;
	c->status = status;
}

/* One PDU the host sent, as the controller reads it. */
struct pdu {
	struct nvme_tcp_hdr hdr;
	uint8_t body[LEN + 256];
};

static void read_exact(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, (uint8_t *)buf + got, len - got, 0);

		assert_true(n > 0);
		got += (size_t)n;
	}
}

/* The next PDU (no digests): header, then the rest of plen. */
static void read_pdu(int fd, struct pdu *p)
{
	read_exact(fd, &p->hdr, sizeof(p->hdr));
	assert_true(p->hdr.plen >= sizeof(p->hdr) && p->hdr.plen - sizeof(p->hdr) <= sizeof(p->body));
	read_exact(fd, p->body, p->hdr.plen - sizeof(p->hdr));
}

static const struct nvme_command *pdu_cmd(const struct pdu *p)
{
	assert_int_equal(p->hdr.type, nvme_tcp_cmd);
	return (const struct nvme_command *)(const void *)p->body;
}

static void send_cqe(int fd, uint16_t cid, uint16_t status)
{
	struct nvme_completion cqe = { .command_id = cid, .sq_id = 1, .status = nvme_cqe_status_field(status) };
	struct nvme_tcp_rsp_pdu rsp;
	size_t len = nvmf_tcp_rsp_encode(&rsp, false, &cqe);

	assert_int_equal(send(fd, &rsp, len, 0), (ssize_t)len);
}

struct fixture {
	struct hq *q;
	int peer; /* the controller's end */
	uint8_t cmp[LEN], data[LEN];
	struct cb_state cb;
};

static struct fixture *fx_open(uint16_t depth, uint32_t inline_max)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct hq_params p = { .qid = 1, .depth = depth, .timeout_ms = 5000 };
	int sv[2];

	assert_non_null(f);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->q = hq_attach(&p, sv[0], 4096);
	assert_non_null(f->q);
	hq_set_inline_max(f->q, inline_max);
	f->peer = sv[1];
	for (int i = 0; i < LEN; i++) {
		f->cmp[i] = (uint8_t)i;
		f->data[i] = (uint8_t)(255 - i);
	}
	return f;
}

static void fx_close(struct fixture *f)
{
	hq_close(f->q);
	close(f->peer);
	free(f);
}

/* Compare 05h with FUSE 01b and Write 01h with FUSE 10b, on 8 blocks at LBA 100 of namespace 1. */
static int submit_pair(struct fixture *f)
{
	struct nvme_command cmp = { .opcode = nvme_cmd_compare, .flags = NVME_CMD_FUSE_FIRST, .nsid = 1, .cdw10 = 100,
				    .cdw12 = 7 };
	struct nvme_command wr = cmp;

	wr.opcode = nvme_cmd_write;
	wr.flags = NVME_CMD_FUSE_SECOND;
	return hq_submit_fused(f->q, &cmp, f->cmp, &wr, f->data, LEN, pair_done, &f->cb);
}

static void submit_plain(struct fixture *f, uint8_t opcode, void *buf, struct cb_state *cb)
{
	struct nvme_command c = { .opcode = opcode, .nsid = 1, .cdw10 = 7, .cdw12 = 7 };

	assert_int_equal(hq_submit(f->q, &c, buf, buf ? LEN : 0, pair_done, cb, NULL), 0);
}

/* Check the pair's two capsules (in-capsule data) and return their command ids. */
static void expect_pair(const struct pdu *a, const struct pdu *b, const struct fixture *f, uint16_t cid[2])
{
	const struct nvme_command *c = pdu_cmd(a), *w = pdu_cmd(b);

	assert_int_equal(c->opcode, nvme_cmd_compare);
	assert_int_equal(c->flags & 3, 1);
	assert_int_equal(w->opcode, nvme_cmd_write);
	assert_int_equal(w->flags & 3, 2);
	assert_int_equal(c->nsid, w->nsid);
	assert_int_equal(c->cdw10, 100);
	assert_int_equal(w->cdw10, 100);
	assert_int_equal(c->cdw12, 7);
	assert_int_equal(w->cdw12, 7);
	assert_int_equal(c->dptr.length, LEN);
	assert_int_equal(w->dptr.length, LEN);
	assert_int_not_equal(c->command_id, w->command_id);
	assert_int_equal(a->hdr.plen, a->hdr.pdo + LEN);
	assert_memory_equal(a->body + a->hdr.pdo - sizeof(a->hdr), f->cmp, LEN);
	assert_memory_equal(b->body + b->hdr.pdo - sizeof(b->hdr), f->data, LEN);
	cid[0] = c->command_id;
	cid[1] = w->command_id;
}

/* A read before and a flush after: the pair's capsules are the middle two, adjacent. */
static void test_adjacent_with_fuse_bits(void **state)
{
	struct fixture *f = fx_open(8, 8192);
	struct cb_state before = { 0 }, after = { 0 };
	static uint8_t rbuf[LEN];
	struct pdu p[4];
	uint16_t cid[2];

	(void)state;
	submit_plain(f, nvme_cmd_read, rbuf, &before);
	assert_int_equal(submit_pair(f), 0);
	submit_plain(f, nvme_cmd_flush, NULL, &after);
	assert_int_equal(hq_inflight(f->q), 4);
	assert_int_equal(hq_poll(f->q, 0), 0);
	for (int i = 0; i < 4; i++)
		read_pdu(f->peer, &p[i]);
	assert_int_equal(pdu_cmd(&p[0])->opcode, nvme_cmd_read);
	assert_int_equal(pdu_cmd(&p[0])->flags & 3, 0);
	expect_pair(&p[1], &p[2], f, cid);
	assert_int_equal(pdu_cmd(&p[3])->opcode, nvme_cmd_flush);
	assert_int_equal(pdu_cmd(&p[3])->flags & 3, 0);

	/* The write answers first: nothing yet; the compare's answer completes the pair. */
	send_cqe(f->peer, cid[1], 0);
	while (hq_inflight(f->q) > 3)
		assert_true(hq_poll(f->q, 1000) >= 0);
	assert_int_equal(f->cb.calls, 0);
	send_cqe(f->peer, cid[0], 0);
	while (hq_inflight(f->q) > 2)
		assert_true(hq_poll(f->q, 1000) >= 0);
	assert_int_equal(f->cb.calls, 1);
	assert_int_equal(f->cb.status, 0);
	assert_int_equal(before.calls + after.calls, 0);
	fx_close(f);
}

/* Answer the pair with these statuses, the compare's first or not; the callback's status. */
static int answer_pair(uint16_t cmp_status, uint16_t wr_status, bool compare_first)
{
	struct fixture *f = fx_open(4, 8192);
	struct pdu p[2];
	uint16_t cid[2];
	int status;

	assert_int_equal(submit_pair(f), 0);
	assert_int_equal(hq_poll(f->q, 0), 0);
	read_pdu(f->peer, &p[0]);
	read_pdu(f->peer, &p[1]);
	expect_pair(&p[0], &p[1], f, cid);
	send_cqe(f->peer, cid[compare_first ? 0 : 1], compare_first ? cmp_status : wr_status);
	while (hq_inflight(f->q) > 1)
		assert_true(hq_poll(f->q, 1000) >= 0);
	assert_int_equal(f->cb.calls, 0);
	send_cqe(f->peer, cid[compare_first ? 1 : 0], compare_first ? wr_status : cmp_status);
	while (hq_inflight(f->q) > 0)
		assert_true(hq_poll(f->q, 1000) >= 0);
	assert_int_equal(f->cb.calls, 1);
	status = f->cb.status;
	fx_close(f);
	return status;
}

#define DNR NVME_SC_DNR
#define MISCOMPARE (DNR | NVME_SC_COMPARE_FAILED)
#define FUSED_FAIL (DNR | NVME_SC_FUSED_FAIL)

static void test_success_and_miscompare(void **state)
{
	(void)state;
	assert_int_equal(answer_pair(0, 0, true), 0);
	assert_int_equal(answer_pair(0, 0, false), 0);
	/* Miscompare: Compare Failure on the compare, Aborted due to Failed Fused Command on the write. */
	assert_int_equal(answer_pair(MISCOMPARE, FUSED_FAIL, true), MISCOMPARE);
	assert_int_equal(answer_pair(MISCOMPARE, FUSED_FAIL, false), MISCOMPARE);
}

static void test_lone_failure(void **state)
{
	(void)state;
	/* The compare matched, the write failed: the write's status. */
	assert_int_equal(answer_pair(0, NVME_SC_WRITE_FAULT, true), NVME_SC_WRITE_FAULT);
	assert_int_equal(answer_pair(0, DNR | NVME_SC_LBA_RANGE, false), DNR | NVME_SC_LBA_RANGE);
	/* The write was refused and the compare aborted for it: the write names the cause. */
	assert_int_equal(answer_pair(FUSED_FAIL, DNR | NVME_SC_INVALID_FIELD, true), DNR | NVME_SC_INVALID_FIELD);
	/* The compare failed on its own (and the write then aborted): the compare's. */
	assert_int_equal(answer_pair(DNR | NVME_SC_INVALID_NS, FUSED_FAIL, false), DNR | NVME_SC_INVALID_NS);
}

static void test_status_rules(void **state)
{
	(void)state;
	assert_int_equal(hq_fused_status(0, 0), 0);
	assert_int_equal(hq_fused_status(-ECONNRESET, 0), -ECONNRESET);
	assert_int_equal(hq_fused_status(NVME_SC_COMPARE_FAILED, -ETIMEDOUT), -ETIMEDOUT);
	assert_int_equal(hq_fused_status(NVME_SC_FUSED_FAIL, NVME_SC_FUSED_FAIL), NVME_SC_FUSED_FAIL);
	assert_int_equal(hq_fused_status(NVME_SC_FUSED_FAIL, 0), NVME_SC_FUSED_FAIL);
}

/* Data behind R2Ts (nothing in the capsule): each half gets its own data, in the order asked. */
static void test_r2t_data(void **state)
{
	struct fixture *f = fx_open(4, 0);
	struct pdu p[2], d;
	uint16_t cid[2];

	(void)state;
	assert_int_equal(submit_pair(f), 0);
	assert_int_equal(hq_poll(f->q, 0), 0);
	read_pdu(f->peer, &p[0]);
	read_pdu(f->peer, &p[1]);
	assert_int_equal(p[0].hdr.plen, sizeof(struct nvme_tcp_cmd_pdu));
	assert_int_equal(p[1].hdr.plen, sizeof(struct nvme_tcp_cmd_pdu));
	assert_int_equal(pdu_cmd(&p[0])->flags & 3, 1);
	assert_int_equal(pdu_cmd(&p[1])->flags & 3, 2);
	cid[0] = pdu_cmd(&p[0])->command_id;
	cid[1] = pdu_cmd(&p[1])->command_id;
	for (int k = 1; k >= 0; k--) { /* the write's data first, then the compare's */
		struct nvme_tcp_r2t_pdu r2t;
		size_t len = nvmf_tcp_r2t_encode(&r2t, false, cid[k], (uint16_t)(10 + k), 0, LEN);
		const struct nvme_tcp_data_pdu *h = (const void *)&d.hdr;

		assert_int_equal(send(f->peer, &r2t, len, 0), (ssize_t)len);
		assert_true(hq_poll(f->q, 0) >= 0);
		read_pdu(f->peer, &d);
		assert_int_equal(d.hdr.type, nvme_tcp_h2c_data);
		assert_int_equal(h->command_id, cid[k]);
		assert_int_equal(h->data_length, LEN);
		assert_memory_equal((const uint8_t *)&d + d.hdr.pdo, k ? f->data : f->cmp, LEN);
	}
	send_cqe(f->peer, cid[0], 0);
	send_cqe(f->peer, cid[1], 0);
	while (hq_inflight(f->q) > 0)
		assert_true(hq_poll(f->q, 1000) >= 0);
	assert_int_equal(f->cb.calls, 1);
	assert_int_equal(f->cb.status, 0);
	fx_close(f);
}

/* One free entry: the pair is refused whole and nothing of it goes out. */
static void test_one_slot_left(void **state)
{
	struct fixture *f = fx_open(2, 8192);
	struct cb_state plain = { 0 };
	static uint8_t rbuf[LEN];
	struct pdu p;
	uint8_t more;

	(void)state;
	submit_plain(f, nvme_cmd_read, rbuf, &plain);
	assert_int_equal(submit_pair(f), -EAGAIN);
	assert_int_equal(hq_inflight(f->q), 1);
	assert_int_equal(hq_poll(f->q, 0), 0);
	read_pdu(f->peer, &p);
	assert_int_equal(pdu_cmd(&p)->opcode, nvme_cmd_read);
	assert_int_equal(recv(f->peer, &more, 1, MSG_DONTWAIT), -1);
	assert_int_equal(f->cb.calls, 0);
	fx_close(f);
}

/* The connection drops with one half answered: one callback, with the transport error. */
static void test_connection_lost(void **state)
{
	struct fixture *f = fx_open(4, 8192);
	struct pdu p[2];
	uint16_t cid[2];

	(void)state;
	assert_int_equal(submit_pair(f), 0);
	assert_int_equal(hq_poll(f->q, 0), 0);
	read_pdu(f->peer, &p[0]);
	read_pdu(f->peer, &p[1]);
	expect_pair(&p[0], &p[1], f, cid);
	send_cqe(f->peer, cid[0], 0);
	shutdown(f->peer, SHUT_RDWR);
	for (int i = 0; i < 100 && hq_poll(f->q, 100) >= 0; i++)
		;
	assert_int_equal(f->cb.calls, 1);
	assert_int_equal(f->cb.status, -ECONNRESET);
	assert_int_equal(hq_inflight(f->q), 0);
	fx_close(f);
}

/* hq_close with the pair outstanding (a teardown): one callback, and none again. */
static void test_close_fails_pair_once(void **state)
{
	struct fixture *f = fx_open(4, 8192);

	(void)state;
	assert_int_equal(submit_pair(f), 0);
	hq_close(f->q);
	f->q = NULL;
	assert_int_equal(f->cb.calls, 1);
	assert_int_equal(f->cb.status, -ESHUTDOWN);
	fx_close(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_adjacent_with_fuse_bits),
		cmocka_unit_test(test_success_and_miscompare),
		cmocka_unit_test(test_lone_failure),
		cmocka_unit_test(test_status_rules),
		cmocka_unit_test(test_r2t_data),
		cmocka_unit_test(test_one_slot_left),
		cmocka_unit_test(test_connection_lost),
		cmocka_unit_test(test_close_fails_pair_once),
	};

	tr_log_set_level(TR_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
