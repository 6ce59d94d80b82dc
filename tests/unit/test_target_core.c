/* cmocka tests of the target's transport-neutral core and its command handlers through a fake
 * transport: no sockets, no PDUs. Commands go in through the same core entry points the TCP
 * transport uses (tgt_cmd_begin/prepare/proceed/data_ready); replies come out through the fake's
 * queue_response. Covers Connect (admin and I/O), properties and enabling, Identify, Keep Alive,
 * writes by "R2T" and reads on a RAM namespace, the statuses for bad commands, what --metrics
 * counts of them, and fused Compare and Write with the statuses for halves that do not pair. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "target/cmd.h"
#include "util/log.h"

#define SUBNQN "nqn.2026-12.io.tightrope:core-test"
#define HOSTNQN "nqn.2026-12.io.tightrope:core-host"
#define NS_BYTES (1u << 20)
#define MAX_SLOTS 64

/* ---- The fake transport ---- */

struct fake_queue {
	struct tgt_queue q;
	struct tgt_cmd boot; /* the slot before Connect, as the TCP transport's */
	struct tgt_cmd *slots;
	bool slot_busy[MAX_SLOTS];
	/* The last reply. */
	int responses;
	struct nvme_completion cqe;
	struct nvme_completion log[8]; /* the last replies, oldest first (fused pairs answer twice) */
	int nlog;
	uint8_t data[8192];
	uint32_t data_len;
	/* What the "host" sends when the core fetches a write's data. */
	const uint8_t *h2c;
	int fetches;
	bool closed, shut;
	char why[64];
};

static struct fake_queue *fake(struct tgt_queue *q)
{
	return (struct fake_queue *)((char *)q - offsetof(struct fake_queue, q));
}

static void fake_queue_response(struct tgt_cmd *cmd)
{
	struct fake_queue *f = fake(cmd->queue);

	f->responses++;
	f->cqe = cmd->cqe;
	if (f->nlog < (int)(sizeof(f->log) / sizeof(f->log[0])))
		f->log[f->nlog++] = cmd->cqe;
	f->data_len = 0;
	if (cmd->c2h_data) {
		f->data_len = cmd->data_len < sizeof(f->data) ? cmd->data_len : sizeof(f->data);
		memcpy(f->data, cmd->c2h_data, f->data_len);
	}
	tgt_cmd_retire(cmd); /* "on the wire" at once */
}

static void fake_fetch_data(struct tgt_cmd *cmd)
{
	struct fake_queue *f = fake(cmd->queue);

	tgt_cmd_set_state(cmd, TGT_CMD_WAIT_H2C);
	f->fetches++;
	memcpy(cmd->buf, f->h2c, cmd->data_len);
	tgt_cmd_data_ready(cmd);
}

static void fake_free_slot(struct tgt_cmd *cmd)
{
	struct fake_queue *f = fake(cmd->queue);

	if (cmd != &f->boot)
		f->slot_busy[cmd - f->slots] = false;
}

static int fake_alloc_slots(struct tgt_queue *q, uint16_t qid, uint16_t size)
{
	struct fake_queue *f = fake(q);

	(void)qid;
	if (size > MAX_SLOTS)
		return -ENOMEM;
	f->slots = calloc(size, sizeof(*f->slots));
	if (!f->slots)
		return -ENOMEM;
	for (uint16_t i = 0; i < size; i++)
		f->slots[i].queue = q;
	return 0;
}

static void fake_close(struct tgt_queue *q, const char *why)
{
	struct fake_queue *f = fake(q);

	f->closed = true;
	snprintf(f->why, sizeof(f->why), "%s", why);
}

static void fake_shutdown(struct tgt_queue *q)
{
	fake(q)->shut = true;
}

static void fake_nop(struct tgt_queue *q)
{
	(void)q;
}

static void fake_on_event(struct tgt_queue *q, uint32_t events)
{
	(void)q;
	(void)events;
}

static bool fake_rx_waits(const struct tgt_queue *q, uint32_t *need)
{
	(void)q;
	*need = 0;
	return false;
}

static const struct tgt_transport_ops fake_ops = {
	.name = "fake",
	.queue_response = fake_queue_response,
	.fetch_data = fake_fetch_data,
	.free_slot = fake_free_slot,
	.alloc_slots = fake_alloc_slots,
	.close = fake_close,
	.shutdown = fake_shutdown,
	.on_event = fake_on_event,
	.flush = fake_nop,
	.resume_rx = fake_nop,
	.rx_waits_for_bufs = fake_rx_waits,
	.destroy = fake_nop,
};

static void fake_init(struct fake_queue *f)
{
	memset(f, 0, sizeof(*f));
	f->q.ops = &fake_ops;
	f->q.target = tgt;
	f->q.refs = 1;
	f->q.size = 1;
	f->q.state = TGT_Q_CONNECTING; /* the transport's handshake is done */
	snprintf(f->q.peer, sizeof(f->q.peer), "fake");
	f->boot.queue = &f->q;
}

/* Hand one command to the core as a transport would; in-capsule data if incapsule, else data by "R2T". */
static struct tgt_cmd *submit(struct fake_queue *f, struct nvme_command sqe, const void *data, uint32_t len,
			      bool incapsule)
{
	struct tgt_cmd *cmd = &f->boot;
	uint16_t status;

	if (f->slots) {
		int i = 0;

		while (i < f->q.size && f->slot_busy[i])
			i++;
		assert_true(i < f->q.size);
		f->slot_busy[i] = true;
		cmd = &f->slots[i];
	}
	assert_int_equal(cmd->state, TGT_CMD_FREE);
	sqe.flags |= NVME_CMD_PSDT_SGL;
	sqe.dptr = (struct nvme_sgl_desc){ .length = len,
					   .type = incapsule ? NVME_SGL_DATA_BLOCK_OFFSET : NVME_SGL_TRANSPORT_DATA_BLOCK };
	f->h2c = data;
	tgt_cmd_begin(cmd, &sqe);
	status = tgt_cmd_prepare(cmd, incapsule ? len : 0);
	if (incapsule) {
		tgt_cmd_set_state(cmd, TGT_CMD_RECV_DATA);
		if (!status)
			memcpy(cmd->buf, data, len);
		tgt_cmd_data_ready(cmd);
	} else if (status) {
		tgt_cmd_complete(cmd, status);
	} else {
		tgt_cmd_proceed(cmd);
	}
	return cmd;
}

/* Run one command; the status of its reply (the fake answers synchronously: RAM namespaces complete
 * inline). */
static uint16_t run(struct fake_queue *f, struct nvme_command sqe, const void *data, uint32_t len, bool incapsule)
{
	int before = f->responses;
	struct tgt_cmd *cmd = submit(f, sqe, data, len, incapsule);

	assert_int_equal(f->responses, before + 1);
	assert_int_equal(cmd->state, TGT_CMD_FREE); /* the slot went back once its reply was "sent" */
	assert_int_equal(f->cqe.command_id, sqe.command_id);
	return nvme_cqe_status(f->cqe.status);
}

static uint16_t fabrics_connect(struct fake_queue *f, uint16_t qid, uint16_t cntlid, const char *hostnqn)
{
	struct nvmf_connect_command c = { .opcode = nvme_admin_fabrics, .fctype = nvmf_type_connect, .qid = qid,
					  .sqsize = 31, .kato = qid ? 0 : 30000 };
	struct nvmf_connect_data d = { .cntlid = cntlid };
	struct nvme_command sqe;

	snprintf(d.subsysnqn, sizeof(d.subsysnqn), "%s", SUBNQN);
	snprintf(d.hostnqn, sizeof(d.hostnqn), "%s", hostnqn);
	memcpy(&sqe, &c, sizeof(sqe));
	return run(f, sqe, &d, sizeof(d), true);
}

static uint16_t prop(struct fake_queue *f, uint8_t fctype, uint32_t offset, bool eight, uint64_t value)
{
	struct nvmf_property_command p = { .opcode = nvme_admin_fabrics, .fctype = fctype, .attrib = eight,
					   .offset = offset, .value = value };
	struct nvme_command sqe;

	memcpy(&sqe, &p, sizeof(sqe));
	return run(f, sqe, NULL, 0, false);
}

/* ---- Fixtures: a target with one subsystem and a 1 MiB RAM namespace; an enabled controller ---- */

static struct fake_queue admin, ioq;

static int setup(void **state)
{
	struct tgt_ns_params p = { .path = "mem:1M", .nsid = 1 };
	struct tgt_subsys *s;

	(void)state;
	tr_log_set_level(TR_LOG_ERR);
	if (tgt_init(1))
		return -1;
	s = tgt_subsys_create(SUBNQN, NULL, NULL);
	if (!s)
		return -1;
	s->allow_any_host = true;
	return tgt_subsys_add_ns(s, &p) == 1 ? 0 : -1; /* the NSID it took */
}

/* What a transport does when its connection ends: off the controller, which goes with its admin
 * queue, and the queue's reference dropped. */
static void fake_disconnect(struct fake_queue *f)
{
	struct tgt_ctrl *ctrl = f->q.ctrl;

	if (!ctrl)
		return;
	pthread_mutex_lock(&ctrl->lock);
	if (ctrl->queues[f->q.qid] == &f->q)
		ctrl->queues[f->q.qid] = NULL;
	pthread_mutex_unlock(&ctrl->lock);
	if (tgt_queue_is_admin(&f->q))
		tgt_ctrl_fatal(ctrl, "test over");
	f->q.ctrl = NULL;
	tgt_ctrl_put(ctrl);
	tgt_queue_ns_drop(&f->q);
	free(f->slots);
	f->slots = NULL;
}

static int teardown(void **state)
{
	(void)state;
	fake_disconnect(&ioq);
	fake_disconnect(&admin);
	tgt_shutdown();
	return 0;
}

/* ---- Tests ---- */

static void test_command_before_connect(void **state)
{
	struct fake_queue f;
	struct nvme_command ka = { .opcode = nvme_admin_keep_alive, .command_id = 7 };

	(void)state;
	fake_init(&f);
	assert_int_equal(run(&f, ka, NULL, 0, false), NVME_SC_CMD_SEQ_ERROR | NVME_SC_DNR);
	assert_int_equal(f.q.state, TGT_Q_CONNECTING);
}

static void test_connect_and_enable(void **state)
{
	uint16_t cntlid;

	(void)state;
	fake_init(&admin);
	assert_int_equal(fabrics_connect(&admin, 0, 0xffff, HOSTNQN), 0);
	assert_int_equal(admin.q.state, TGT_Q_LIVE);
	assert_non_null(admin.q.ctrl);
	assert_int_equal(admin.q.size, 32);
	cntlid = (uint16_t)admin.cqe.result;
	assert_int_equal(cntlid, admin.q.ctrl->cntlid);

	assert_int_equal(prop(&admin, nvmf_type_property_get, NVME_REG_CSTS, false, 0), 0);
	assert_int_equal(admin.cqe.result & NVME_CSTS_RDY, 0);
	assert_int_equal(prop(&admin, nvmf_type_property_set, NVME_REG_CC, false, NVME_CC_ENABLE | (6u << 16) | (4u << 20)),
			 0);
	assert_int_equal(prop(&admin, nvmf_type_property_get, NVME_REG_CSTS, false, 0), 0);
	assert_int_equal(admin.cqe.result & NVME_CSTS_RDY, NVME_CSTS_RDY);

	/* An I/O queue joins the controller; a wrong controller ID is refused with the IPO set. */
	fake_init(&ioq);
	assert_int_equal(fabrics_connect(&ioq, 1, (uint16_t)(cntlid + 100), HOSTNQN) & NVME_SC_MASK,
			 NVME_SC_CONNECT_INVALID_PARAM);
	assert_int_equal(ioq.q.state, TGT_Q_CONNECTING);
	fake_init(&ioq);
	assert_int_equal(fabrics_connect(&ioq, 1, cntlid, HOSTNQN), 0);
	assert_int_equal(ioq.q.state, TGT_Q_LIVE);
	assert_ptr_equal(ioq.q.ctrl, admin.q.ctrl);
}

static void test_identify(void **state)
{
	struct nvme_command id = { .opcode = nvme_admin_identify, .command_id = 3, .cdw10 = NVME_ID_CNS_CTRL };
	const struct nvme_id_ctrl *ctrl = (const void *)admin.data;
	const struct nvme_id_ns *ns = (const void *)admin.data;

	(void)state;
	assert_int_equal(run(&admin, id, NULL, 4096, false), 0);
	assert_int_equal(admin.data_len, 4096);
	assert_string_equal(ctrl->subnqn, SUBNQN);
	assert_int_equal(ctrl->mdts, TGT_MDTS);

	id.cdw10 = NVME_ID_CNS_NS;
	id.nsid = 1;
	assert_int_equal(run(&admin, id, NULL, 4096, false), 0);
	assert_int_equal(ns->nsze, NS_BYTES / 512);

	/* A reply shorter than the structure is cut to what the host asked for. */
	id.cdw10 = NVME_ID_CNS_CTRL;
	assert_int_equal(run(&admin, id, NULL, 64, false), 0);
	assert_int_equal(admin.data_len, 64);
}

static void test_bad_commands(void **state)
{
	struct nvme_command c = { .opcode = 0x7c, .command_id = 9 }; /* unassigned; 0x7f is Fabrics */
	uint8_t buf[512] = { 0 };

	(void)state;
	assert_int_equal(run(&admin, c, NULL, 0, false), NVME_SC_INVALID_OPCODE | NVME_SC_DNR);
	c.nsid = 1; /* as nvmet, an I/O command's namespace is looked up before its opcode */
	assert_int_equal(run(&ioq, c, NULL, 0, false), NVME_SC_INVALID_OPCODE | NVME_SC_DNR);
	/* Reads of an inactive namespace and past the end of an active one. */
	c = (struct nvme_command){ .opcode = nvme_cmd_read, .command_id = 10, .nsid = 2 };
	assert_int_equal(run(&ioq, c, NULL, 512, false), NVME_SC_INVALID_NS | NVME_SC_DNR);
	c.nsid = 1;
	c.cdw10 = NS_BYTES / 512; /* SLBA one past the last */
	assert_int_equal(run(&ioq, c, NULL, 512, false) & NVME_SC_MASK, NVME_SC_LBA_RANGE);
	/* A data length that disagrees with the block count. */
	c.cdw10 = 0;
	assert_int_equal(run(&ioq, c, NULL, 1024, false) & NVME_SC_MASK, NVME_SC_SGL_INVALID_DATA);
	/* In-capsule data is taken up to 16 KiB on an I/O queue, 8 KiB on the admin queue. */
	c = (struct nvme_command){ .opcode = nvme_cmd_write, .command_id = 11, .nsid = 1 };
	assert_int_equal(run(&ioq, c, buf, 512, true), 0);
	assert_int_equal(run(&admin, c, buf, 9000, true) & NVME_SC_MASK, NVME_SC_SGL_INVALID_DATA);
	assert_int_equal(admin.q.stats.errors > 0, true);
}

static void test_write_then_read(void **state)
{
	static uint8_t out[8192], in[8192];
	struct nvme_command w = { .opcode = nvme_cmd_write, .command_id = 20, .nsid = 1, .cdw10 = 100,
				  .cdw12 = 15 }; /* 16 blocks */
	struct nvme_command r = w;
	struct nvme_command ka = { .opcode = nvme_admin_keep_alive, .command_id = 21 };
	int fetches = ioq.fetches;

	(void)state;
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(run(&ioq, w, out, sizeof(out), false), 0);
	assert_int_equal(ioq.fetches, fetches + 1); /* the data came by "R2T" */
	r.opcode = nvme_cmd_read;
	r.command_id = 22;
	assert_int_equal(run(&ioq, r, NULL, sizeof(in), false), 0);
	memcpy(in, ioq.data, ioq.data_len);
	assert_int_equal(ioq.data_len, sizeof(in));
	assert_memory_equal(in, out, sizeof(out));
	/* The submission queue head moves with every command on a queue with SQ flow control. */
	assert_int_equal(ioq.cqe.sq_id, 1);
	assert_int_equal(ioq.cqe.sq_head, ioq.q.sqhd);
	assert_int_equal(run(&admin, ka, NULL, 0, false), 0);
	assert_int_equal(atomic_load(&ioq.q.stats.inflight), 0);
}

/* --metrics: what the core counts shows in the exposition, by namespace, opcode and status. */
static void test_metrics(void **state)
{
	static uint8_t buf[4096];
	struct nvme_command w = { .opcode = nvme_cmd_write, .command_id = 30, .nsid = 1, .cdw12 = 7 };
	struct nvme_command r = w;
	const char *p;
	size_t len;
	char *text;

	(void)state;
	atomic_store(&tgt->metrics.on, true);
	assert_int_equal(run(&ioq, w, buf, sizeof(buf), true), 0);
	r.opcode = nvme_cmd_read;
	assert_int_equal(run(&ioq, r, NULL, sizeof(buf), false), 0);
	assert_int_equal(run(&ioq, r, NULL, sizeof(buf), false), 0);
	r.cdw10 = NS_BYTES / 512; /* past the end: LBA Out of Range, SCT 0 SC 0x80 */
	assert_int_equal(run(&ioq, r, NULL, sizeof(buf), false) & NVME_SC_MASK, NVME_SC_LBA_RANGE);
	atomic_store(&tgt->metrics.on, false);

	text = tgt_metrics_render(tgt, &len);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	assert_non_null(strstr(text, "tightrope_target_commands_total{subsys=\"" SUBNQN "\",nsid=\"1\",op=\"read\"} 2\n"));
	assert_non_null(strstr(text, "tightrope_target_commands_total{subsys=\"" SUBNQN "\",nsid=\"1\",op=\"write\"} 1\n"));
	assert_non_null(strstr(text, "tightrope_target_bytes_total{subsys=\"" SUBNQN "\",nsid=\"1\",op=\"read\"} 8192\n"));
	assert_non_null(strstr(text, "tightrope_target_command_errors_total{subsys=\"" SUBNQN
				     "\",op=\"read\",status=\"0x080\"} 1\n"));
	p = strstr(text, "tightrope_target_command_duration_seconds_bucket{subsys=\"" SUBNQN
			 "\",nsid=\"1\",op=\"read\",le=\"+Inf\"} 2\n");
	assert_non_null(p);
	assert_non_null(strstr(p, "_count{subsys=\"" SUBNQN "\",nsid=\"1\",op=\"read\"} 2\n"));
	assert_non_null(strstr(text, "tightrope_target_controllers{subsys=\"" SUBNQN "\"} 1\n"));
	assert_non_null(strstr(text, "tightrope_target_queues{subsys=\"" SUBNQN "\"} 2\n"));
	free(text);
}

/* ---- Fused Compare and Write ---- */

/* The status the reply to cid had, among the replies since nlog was reset; -1 if none. */
static int status_of(const struct fake_queue *f, uint16_t cid)
{
	for (int i = 0; i < f->nlog; i++)
		if (f->log[i].command_id == cid)
			return nvme_cqe_status(f->log[i].status);
	return -1;
}

static struct nvme_command fused_cmd(uint8_t opcode, uint8_t fuse, uint16_t cid, uint32_t slba)
{
	return (struct nvme_command){ .opcode = opcode, .flags = fuse, .command_id = cid, .nsid = 1, .cdw10 = slba,
				      .cdw12 = 7 }; /* 8 blocks, 4 KiB */
}

/* A pair: compare with cmp, write new; first's data in-capsule or by "R2T", the second's the other way. */
static void fused_pair(uint16_t cid, uint32_t slba, const void *cmp, const void *new, bool first_incapsule)
{
	ioq.nlog = 0;
	submit(&ioq, fused_cmd(nvme_cmd_compare, NVME_CMD_FUSE_FIRST, cid, slba), cmp, 4096, first_incapsule);
	assert_int_equal(ioq.nlog, 0); /* the first waits for its second */
	submit(&ioq, fused_cmd(nvme_cmd_write, NVME_CMD_FUSE_SECOND, cid + 1, slba), new, 4096, !first_incapsule);
	assert_int_equal(ioq.nlog, 2);
	assert_int_equal(ioq.log[0].command_id, cid); /* the compare's answer first */
}

static void read_back(uint32_t slba, uint8_t *out)
{
	struct nvme_command r = { .opcode = nvme_cmd_read, .command_id = 49, .nsid = 1, .cdw10 = slba, .cdw12 = 7 };

	assert_int_equal(run(&ioq, r, NULL, 4096, false), 0);
	memcpy(out, ioq.data, 4096);
}

static void test_fused_compare_and_write(void **state)
{
	static uint8_t a[4096], b[4096], got[4096];
	struct nvme_command w = { .opcode = nvme_cmd_write, .command_id = 40, .nsid = 1, .cdw10 = 200, .cdw12 = 7 };

	(void)state;
	memset(a, 0xa5, sizeof(a));
	memset(b, 0x5b, sizeof(b));
	assert_int_equal(run(&ioq, w, a, sizeof(a), true), 0);
	/* Equal: both succeed and the write lands (data by R2T first, then in-capsule first). */
	fused_pair(41, 200, a, b, false);
	assert_int_equal(status_of(&ioq, 41), 0);
	assert_int_equal(status_of(&ioq, 42), 0);
	read_back(200, got);
	assert_memory_equal(got, b, sizeof(b));
	fused_pair(43, 200, b, a, true);
	assert_int_equal(status_of(&ioq, 43) | status_of(&ioq, 44), 0);
	/* Not equal: Compare Failure, the write aborted as Failed Fused Command, nothing written. */
	fused_pair(45, 200, b, b, true);
	assert_int_equal(status_of(&ioq, 45), NVME_SC_COMPARE_FAILED | NVME_SC_DNR);
	assert_int_equal(status_of(&ioq, 46), NVME_SC_FUSED_FAIL | NVME_SC_DNR);
	read_back(200, got);
	assert_memory_equal(got, a, sizeof(a));
	/* The lock is free again: nothing registered, plain I/O back on the counter. */
	assert_int_equal(atomic_load(&ioq.q.ns_cache[1]->gate->fused), 0);
	assert_null(ioq.q.ns_cache[1]->gate->head);
	assert_int_equal(atomic_load(&ioq.q.stats.inflight), 0);
}

static void test_fused_halves_that_do_not_pair(void **state)
{
	static uint8_t a[4096];
	struct nvme_command c;

	(void)state;
	/* A second with no first. */
	ioq.nlog = 0;
	submit(&ioq, fused_cmd(nvme_cmd_write, NVME_CMD_FUSE_SECOND, 50, 0), a, 4096, true);
	assert_int_equal(status_of(&ioq, 50), NVME_SC_FUSED_MISSING | NVME_SC_DNR);
	/* A first followed by a plain command: the first is aborted, the plain one runs. */
	ioq.nlog = 0;
	submit(&ioq, fused_cmd(nvme_cmd_compare, NVME_CMD_FUSE_FIRST, 51, 0), a, 4096, true);
	c = fused_cmd(nvme_cmd_read, 0, 52, 0);
	submit(&ioq, c, NULL, 4096, false);
	assert_int_equal(status_of(&ioq, 51), NVME_SC_FUSED_MISSING | NVME_SC_DNR);
	assert_int_equal(status_of(&ioq, 52), 0);
	/* A first that is not a Compare; the second after it fails with it. */
	ioq.nlog = 0;
	submit(&ioq, fused_cmd(nvme_cmd_read, NVME_CMD_FUSE_FIRST, 53, 0), NULL, 4096, false);
	submit(&ioq, fused_cmd(nvme_cmd_write, NVME_CMD_FUSE_SECOND, 54, 0), a, 4096, true);
	assert_int_equal(status_of(&ioq, 53), NVME_SC_INVALID_FIELD | NVME_SC_DNR);
	assert_int_equal(status_of(&ioq, 54), NVME_SC_FUSED_FAIL | NVME_SC_DNR);
	/* A first past the namespace's end: its own status; the second fails with it. */
	ioq.nlog = 0;
	submit(&ioq, fused_cmd(nvme_cmd_compare, NVME_CMD_FUSE_FIRST, 55, NS_BYTES / 512), a, 4096, true);
	submit(&ioq, fused_cmd(nvme_cmd_write, NVME_CMD_FUSE_SECOND, 56, NS_BYTES / 512), a, 4096, true);
	assert_int_equal(status_of(&ioq, 55), NVME_SC_LBA_RANGE | NVME_SC_DNR);
	assert_int_equal(status_of(&ioq, 56), NVME_SC_FUSED_FAIL | NVME_SC_DNR);
	/* A second that is not a Write: Invalid Field; its first is aborted as missing its second. */
	ioq.nlog = 0;
	submit(&ioq, fused_cmd(nvme_cmd_compare, NVME_CMD_FUSE_FIRST, 57, 0), a, 4096, true);
	submit(&ioq, fused_cmd(nvme_cmd_compare, NVME_CMD_FUSE_SECOND, 58, 0), a, 4096, true);
	assert_int_equal(status_of(&ioq, 57), NVME_SC_FUSED_MISSING | NVME_SC_DNR);
	assert_int_equal(status_of(&ioq, 58), NVME_SC_INVALID_FIELD | NVME_SC_DNR);
	/* Halves naming different blocks: both Invalid Field. */
	ioq.nlog = 0;
	submit(&ioq, fused_cmd(nvme_cmd_compare, NVME_CMD_FUSE_FIRST, 59, 0), a, 4096, true);
	submit(&ioq, fused_cmd(nvme_cmd_write, NVME_CMD_FUSE_SECOND, 60, 8), a, 4096, true);
	assert_int_equal(status_of(&ioq, 59), NVME_SC_INVALID_FIELD | NVME_SC_DNR);
	assert_int_equal(status_of(&ioq, 60), NVME_SC_INVALID_FIELD | NVME_SC_DNR);
	/* The reserved FUSE value, and fused admin commands. */
	assert_int_equal(run(&ioq, fused_cmd(nvme_cmd_write, 3, 61, 0), a, 4096, true),
			 NVME_SC_INVALID_FIELD | NVME_SC_DNR);
	c = (struct nvme_command){ .opcode = nvme_admin_keep_alive, .flags = NVME_CMD_FUSE_FIRST, .command_id = 62 };
	assert_int_equal(run(&admin, c, NULL, 0, false), NVME_SC_INVALID_FIELD | NVME_SC_DNR);
	assert_int_equal(atomic_load(&ioq.q.stats.inflight), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_command_before_connect),
		cmocka_unit_test(test_connect_and_enable),
		cmocka_unit_test(test_identify),
		cmocka_unit_test(test_bad_commands),
		cmocka_unit_test(test_write_then_read),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_fused_compare_and_write),
		cmocka_unit_test(test_fused_halves_that_do_not_pair),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
