/* read_block: the smallest whole program on tightrope's host library. It connects to an NVMe/TCP
 * target, picks a namespace, prints its size and block size, reads block 0 and prints its first 64
 * bytes. It uses nothing but the public header, so it builds against an installed library with
 *	cc read_block.c $(pkg-config --cflags --libs tightrope)
 * usage: read_block ADDR PORT SUBSYSTEM-NQN [NSID] */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tightrope/host.h>

/* Every host names itself with an NQN (real ones keep theirs in /etc/nvme/hostnqn). A target that
 * lets in only some hosts (tightrope target -H, nvmet's allowed_hosts) must list this one. */
#define EXAMPLE_HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:7e6e0c52-3c5a-4a44-9c3b-7a1d2f5e0b01"
#define DUMP_BYTES 64

/* I/O is asynchronous: a submission returns at once and the callback runs later, from inside
 * tr_ioq_poll() on the same thread, with the NVMe status (0 = success) or a negative errno. */
struct read_state {
	bool done;
	int status;
};

static void read_done(void *arg, int status)
{
	struct read_state *st = arg;

	st->done = true;
	st->status = status;
}

/* Offset, 16 bytes in hex, the same as text: the layout of `hexdump -C`. */
static void hexdump(const unsigned char *p, size_t len)
{
	for (size_t off = 0; off < len; off += 16) {
		size_t end = off + 16 < len ? off + 16 : len;

		printf("%04zx:", off);
		for (size_t i = off; i < end; i++)
			printf(" %02x", p[i]);
		printf("  |");
		for (size_t i = off; i < end; i++)
			putchar(isprint(p[i]) ? p[i] : '.');
		printf("|\n");
	}
}

/* Read block 0 of the namespace through the first I/O queue and wait for it. */
static int read_block0(struct tr_ctrl *ctrl, uint32_t nsid, unsigned char *buf, uint32_t lba_size)
{
	struct tr_ioq *q = tr_ctrl_ioq(ctrl, 0);
	struct read_state st = { 0 };
	int err;

	if (!q) {
		fprintf(stderr, "the controller granted no I/O queue\n");
		return -1;
	}
	err = tr_ioq_read(q, nsid, 0, 1, buf, lba_size, read_done, &st);
	if (err) {
		fprintf(stderr, "submitting the read: %s\n", strerror(-err));
		return -1;
	}
	/* Polling sends the command and runs the completion; -1 waits until something completes. A
	 * queue that fails completes every command with an error first, so the loop always ends. */
	while (!st.done)
		if (tr_ioq_poll(q, -1) < 0 && !st.done)
			break;
	if (!st.done || st.status) {
		fprintf(stderr, "reading block 0: %s\n",
			tr_ioq_error(q) ? tr_ioq_error(q) : tr_status_str(st.done ? st.status : -EIO));
		return -1;
	}
	return 0;
}

/* Print the namespace's geometry and the start of its block 0. */
static int show_namespace(struct tr_ctrl *ctrl, uint32_t nsid)
{
	uint64_t blocks;
	uint32_t lba_size;
	unsigned char *buf;
	int err = tr_ctrl_ns_geometry(ctrl, nsid, &blocks, &lba_size);

	if (err) {
		fprintf(stderr, "namespace %u: %s\n", nsid, err == -ENOENT ? "not active" : tr_status_str(err));
		return -1;
	}
	printf("namespace %u: %llu blocks of %u bytes (%llu bytes)\n", nsid, (unsigned long long)blocks, lba_size,
	       (unsigned long long)(blocks * lba_size));
	buf = malloc(lba_size);
	if (!buf) {
		fprintf(stderr, "out of memory\n");
		return -1;
	}
	err = read_block0(ctrl, nsid, buf, lba_size);
	if (!err) {
		printf("block 0, first %d bytes:\n", DUMP_BYTES);
		hexdump(buf, lba_size < DUMP_BYTES ? lba_size : DUMP_BYTES);
	}
	free(buf);
	return err;
}

int main(int argc, char **argv)
{
	struct tr_ctrl_opts opts;
	struct tr_ctrl *ctrl;
	char why[256] = "";
	uint32_t nsid = 0;
	int err, rc = 1;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: %s ADDR PORT SUBSYSTEM-NQN [NSID]\n", argv[0]);
		return 2;
	}
	/* Defaults first (nvme-cli's), then what this program needs: one I/O queue for one thread. */
	tr_ctrl_opts_init(&opts);
	opts.traddr = argv[1];
	opts.trsvcid = argv[2];
	opts.subnqn = argv[3];
	opts.hostnqn = EXAMPLE_HOSTNQN;
	opts.nr_io_queues = 1;
	err = tr_ctrl_connect(&opts, &ctrl, why, sizeof(why));
	if (err) {
		fprintf(stderr, "connecting to %s port %s: %s\n", argv[1], argv[2], why[0] ? why : strerror(-err));
		return 1;
	}
	/* "Attach" a namespace: the one asked for, else the first active one. */
	if (argc == 5) {
		nsid = (uint32_t)strtoul(argv[4], NULL, 0);
	} else {
		err = tr_ctrl_active_ns(ctrl, &nsid, 1);
		if (err < 1)
			fprintf(stderr, "%s: %s\n", argv[3], err < 0 ? tr_status_str(err) : "no active namespace");
	}
	if (nsid && show_namespace(ctrl, nsid) == 0)
		rc = 0;
	/* An orderly goodbye: the controller is shut down (CC.SHN) and every queue closed. */
	tr_ctrl_disconnect(ctrl);
	return rc;
}
