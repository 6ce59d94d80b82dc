/* libFuzzer harness for the host's receive path: fuzz bytes play the controller's side of a queue
 * (CapsuleResp, C2HData, R2T, TermReq, digests) against a read, a write, a flush and, when the selector
 * says so, a fused Compare and Write pair in flight (which must call back once, however its halves end). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "host/queue.h"
#include "util/log.h"

#define READ_LEN 8192
#define WRITE_LEN 16384
#define CAW_LEN 4096
#define NR_CMDS 4

struct cmd_state {
	int calls;
	int status;
	uint8_t *buf, *buf2; /* buf2: a fused pair's write data */
};

/* The buffer goes back to the caller with the completion, as an application would reuse it: a
 * queue that still reads or writes it afterwards is caught by ASan as a use after free. */
static void cmd_done(void *arg, int status)
{
	struct cmd_state *c = arg;

	c->calls++;
	c->status = status;
	free(c->buf);
	free(c->buf2);
	c->buf = c->buf2 = NULL;
}

/* What the host sent (capsules, H2CData) is of no interest, but must not fill the socket. */
static void drain(int fd)
{
	static uint8_t sink[65536];

	while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
		;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Every protocol error is logged; at this rate the log would be all the fuzzer does. */
	tr_log_set_level(TR_LOG_ERR);
	return 0;
}

/* Input: one selector byte, then the controller's bytes. Selector bits: 0 header digest, 1 data
 * digest, 2 write data in the capsule instead of behind an R2T, 3 a fused pair too, 4-7 delivery: 0 = all at once,
 * else chunks of 2^(n+2) bytes with a poll after each, so the host's sends (H2CData) interleave
 * with its receives and PDUs straddle recv boundaries. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cmd_state cmds[NR_CMDS] = { 0 };
	struct hq_params p = { .qid = 1, .depth = 8, .timeout_ms = 1000 };
	struct nvme_command rd = { .opcode = nvme_cmd_read, .nsid = 1, .cdw12 = READ_LEN / 512 - 1 };
	struct nvme_command wr = { .opcode = nvme_cmd_write, .nsid = 1, .cdw12 = WRITE_LEN / 512 - 1 };
	struct nvme_command fl = { .opcode = nvme_cmd_flush, .nsid = 1 };
	struct nvme_command cmp = { .opcode = nvme_cmd_compare, .flags = NVME_CMD_FUSE_FIRST, .nsid = 1,
				    .cdw12 = CAW_LEN / 512 - 1 };
	struct nvme_command cw = { .opcode = nvme_cmd_write, .flags = NVME_CMD_FUSE_SECOND, .nsid = 1,
				   .cdw12 = CAW_LEN / 512 - 1 };
	bool fused;
	char why[sizeof(((struct hq *)NULL)->why)];
	size_t off = 0, chunk;
	bool inline_write;
	struct hq *q;
	int sv[2], err;

	if (size < 1)
		return 0;
	p.hdgst = data[0] & 1;
	p.ddgst = data[0] & 2;
	inline_write = data[0] & 4;
	fused = data[0] & 8;
	chunk = data[0] >> 4 ? (size_t)1 << ((data[0] >> 4) + 2) : SIZE_MAX;
	data++;
	size--;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		abort();
	/* Heap buffers of the exact transfer size, so ASan sees any byte written past them. */
	cmds[0].buf = malloc(READ_LEN);
	cmds[1].buf = malloc(WRITE_LEN);
	cmds[3].buf = malloc(CAW_LEN);
	cmds[3].buf2 = malloc(CAW_LEN);
	if (!cmds[0].buf || !cmds[1].buf || !cmds[3].buf || !cmds[3].buf2)
		abort();
	memset(cmds[3].buf, 0x11, CAW_LEN);
	memset(cmds[3].buf2, 0x22, CAW_LEN);
	memset(cmds[1].buf, 0xa5, WRITE_LEN);
	/* maxh2cdata below the write's length, so one R2T window may take several H2CData PDUs. */
	q = hq_attach(&p, sv[0], 4096);
	if (!q)
		abort();
	q->inline_max = inline_write ? WRITE_LEN : 0;
	/* A fresh queue of depth 8 has room for all five. */
	if (hq_submit(q, &rd, cmds[0].buf, READ_LEN, cmd_done, &cmds[0], NULL) ||
	    hq_submit(q, &wr, cmds[1].buf, WRITE_LEN, cmd_done, &cmds[1], NULL) ||
	    hq_submit(q, &fl, NULL, 0, cmd_done, &cmds[2], NULL))
		abort();
	if (!fused)
		cmd_done(&cmds[3], 0); /* not sent: counted as called back once */
	else if (hq_submit_fused(q, &cmp, cmds[3].buf, &cw, cmds[3].buf2, CAW_LEN, cmd_done, &cmds[3]))
		abort();

	/* Whatever the socket cannot take is cut off, as by a controller that dies mid-PDU. */
	while (off < size && !q->error) {
		size_t len = size - off < chunk ? size - off : chunk;
		ssize_t n = send(sv[1], data + off, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n <= 0)
			break;
		off += (size_t)n;
		if (chunk != SIZE_MAX) {
			hq_poll(q, 0);
			drain(sv[1]);
		}
	}
	/* EOF: from here hq_poll must end, with every command completed or the queue failed. */
	shutdown(sv[1], SHUT_WR);
	while (q->inflight > 0 && !q->error) {
		if (hq_poll(q, 100) < 0)
			break;
		drain(sv[1]);
	}
	if (!q->error && q->inflight != 0)
		abort();
	err = q->error;
	memcpy(why, q->why, sizeof(why));
	/* Closing must not call a command back a second time. */
	hq_close(q);
	for (int i = 0; i < NR_CMDS; i++) {
		if (cmds[i].calls != 1) {
			fprintf(stderr, "command %d got %d callbacks (queue error %d: %s)\n", i, cmds[i].calls, err,
				why);
			abort();
		}
	}
	close(sv[1]);
	return 0;
}
