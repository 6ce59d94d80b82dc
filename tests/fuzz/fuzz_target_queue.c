/* libFuzzer harness for the target's whole receive path: fuzz bytes go through a socketpair into
 * a real worker's queue (PDU framing, Connect, admin, I/O and discovery handlers, RAM backend).
 * The first input byte picks a valid prefix (none, ICReq, admin or discovery Connect + enable, or an
 * I/O queue Connect to a controller kept alive for the whole run) so fuzzing reaches deep states. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "nvme/tcp_pdu.h"
#include "target/target.h"
#include "target/worker.h"
#include "util/log.h"

#define FUZZ_NQN "nqn.2026-11.io.tightrope:fuzz"
#define FUZZ_HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-00000000f022"

enum prefix_kind { PREFIX_NONE, PREFIX_ICREQ, PREFIX_ADMIN, PREFIX_DISCOVERY, PREFIX_IO_QUEUE };

static size_t put_connect(uint8_t *out, const struct nvmf_tcp_framing *f, const char *subnqn, uint16_t qid,
			  uint16_t cntlid)
{
	struct nvmf_connect_command c = { .opcode = nvme_admin_fabrics, .fctype = nvmf_type_connect,
					  .command_id = 1, .qid = qid, .sqsize = 31 };
	struct nvmf_connect_data d = { .cntlid = cntlid };
	size_t n;

	strcpy(d.subsysnqn, subnqn);
	strcpy(d.hostnqn, FUZZ_HOSTNQN);
	c.dptr.type = NVME_SGL_DATA_BLOCK_OFFSET;
	c.dptr.length = sizeof(d);
	n = nvmf_tcp_cmd_encode((struct nvme_tcp_cmd_pdu *)out, f, (struct nvme_command *)&c, sizeof(d));
	memcpy(out + n, &d, sizeof(d));
	n += sizeof(d);
	if (f->ddgst) {
		uint32_t crc = nvmf_tcp_digest(&d, sizeof(d));

		memcpy(out + n, &crc, 4);
		n += 4;
	}
	return n;
}

static size_t build_prefix(uint8_t *out, enum prefix_kind kind, bool hdgst, bool ddgst)
{
	struct nvmf_tcp_framing f = { .hdgst = hdgst, .ddgst = ddgst };
	size_t n = 0;

	if (kind == PREFIX_NONE)
		return 0;
	n += nvmf_tcp_icreq_encode((struct nvme_tcp_icreq_pdu *)out, hdgst, ddgst, 0);
	if (kind == PREFIX_ICREQ)
		return n;
	if (kind == PREFIX_IO_QUEUE)
		return n + put_connect(out + n, &f, FUZZ_NQN, 1, 1);
	n += put_connect(out + n, &f, kind == PREFIX_DISCOVERY ? NVME_DISC_SUBSYS_NQN : FUZZ_NQN, 0, 0xffff);
	/* Property Set CC.EN with 64/16-byte entries, so admin commands are accepted. */
	struct nvmf_property_command p = { .opcode = nvme_admin_fabrics, .fctype = nvmf_type_property_set,
					   .command_id = 2, .offset = NVME_REG_CC,
					   .value = 1 | (6 << 16) | (4 << 20) };
	n += nvmf_tcp_cmd_encode((struct nvme_tcp_cmd_pdu *)(out + n), &f, (struct nvme_command *)&p, 0);
	return n;
}

/* Controller 1 lives for the whole run (KATO 0), with I/O queues granted, for PREFIX_IO_QUEUE. */
static void open_persistent_admin(void)
{
	static uint8_t buf[8192];
	struct nvme_command sf = { .opcode = nvme_admin_set_features, .command_id = 3,
				   .cdw10 = NVME_FEAT_NUM_QUEUES, .cdw11 = 3 | (3 << 16) };
	struct nvmf_tcp_framing f = { 0 };
	size_t n = build_prefix(buf, PREFIX_ADMIN, false, false);
	size_t got = 0, want = 128 + 3 * 24;
	int sv[2];

	n += nvmf_tcp_cmd_encode((struct nvme_tcp_cmd_pdu *)(buf + n), &f, &sf, 0);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		abort();
	tgt_worker_post_conn(&tgt->workers[0], sv[1], NULL);
	if (send(sv[0], buf, n, 0) != (ssize_t)n)
		abort();
	while (got < want) {
		ssize_t r = recv(sv[0], buf, want - got, 0);

		if (r <= 0)
			abort();
		got += (size_t)r;
	}
	/* sv[0] stays open: the controller must outlive every input. */
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct tgt_ns_params p = { .path = "mem:1M", .nsid = 1 };
	struct tgt_subsys *s;

	(void)argc;
	(void)argv;
	tr_log_set_level(TR_LOG_ERR);
	if (tgt_init(1))
		abort();
	s = tgt_subsys_create(FUZZ_NQN, NULL, NULL);
	if (!s || tgt_subsys_add_ns(s, &p) != 1)
		abort();
	p.path = "mem:64K";
	p.nsid = 2;
	p.readonly = true;
	if (tgt_subsys_add_ns(s, &p) != 2)
		abort();
	open_persistent_admin();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t prefix[4096], sink[65536];
	int sv[2];
	size_t off = 0, plen;
	struct pollfd pfd;

	if (size < 1)
		return 0;
	plen = build_prefix(prefix, (enum prefix_kind)((data[0] & 7) % 5), data[0] & 8, data[0] & 16);
	data++;
	size--;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
		return 0;
	tgt_worker_post_conn(&tgt->workers[0], sv[1], NULL);

	/* Feed prefix + input while draining replies, then half-close and read until the target hangs up. */
	pfd.fd = sv[0];
	while (off < plen + size) {
		const uint8_t *src = off < plen ? prefix + off : data + (off - plen);
		size_t len = off < plen ? plen - off : size - (off - plen);
		ssize_t w = send(sv[0], src, len, MSG_NOSIGNAL);

		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN)
			break;
		pfd.events = POLLIN | POLLOUT;
		if (poll(&pfd, 1, 1000) <= 0)
			break;
		if (pfd.revents & POLLIN) {
			ssize_t r = recv(sv[0], sink, sizeof(sink), 0);
			if (r == 0)
				break;
		}
		if (pfd.revents & (POLLHUP | POLLERR))
			break;
	}
	shutdown(sv[0], SHUT_WR);
	for (;;) {
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 2000) <= 0)
			break;
		if (recv(sv[0], sink, sizeof(sink), 0) <= 0)
			break;
	}
	close(sv[0]);
	return 0;
}
