/* tr-verify: a write-and-verify load for a block device inside the QEMU guests, in the spirit of
 * fio's verify (Debian's fio links Ceph, Gluster and RDMA libraries that the guest image does not
 * carry): random 4 KiB O_DIRECT writes, each block stamped with its number, a sequence number and
 * a checksum; reads of already-written blocks checked against what was last acknowledged; a flush
 * every 64 writes; at the end every written block read back and checked. Any I/O error, short
 * transfer or mismatch ends it with "VERIFY-FAIL: ..." and exit 1; success prints "VERIFY-OK".
 * Built static by the test that uses it (no library in the guest).
 * usage: tr-verify DEVICE MIB SECONDS */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLK 4096
#define MAGIC 0x46565254u /* "TRVF" */

struct stamp {
	uint32_t magic;
	uint32_t seq;
	uint64_t block;
	uint64_t sum;
};

static uint64_t rng = 88172645463325252ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The block's contents for a given write: a stamp, then bytes that depend on block and sequence. */
static void fill(uint8_t *buf, uint64_t block, uint32_t seq)
{
	struct stamp s = { .magic = MAGIC, .seq = seq, .block = block };
	uint64_t x = block * 0x9E3779B97F4A7C15ull ^ seq, sum = 0;

	for (size_t i = sizeof(s); i < BLK; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(buf + i, &x, 8);
		sum += x;
	}
	s.sum = sum;
	memcpy(buf, &s, sizeof(s));
}

static void die(const char *what, uint64_t block, const char *why)
{
	printf("VERIFY-FAIL: %s block %llu: %s\n", what, (unsigned long long)block, why);
	fflush(stdout);
	exit(1);
}

static void check_block(int fd, uint8_t *buf, uint8_t *want, uint64_t block, uint32_t seq)
{
	ssize_t n = pread(fd, buf, BLK, (off_t)(block * BLK));

	if (n != BLK)
		die("read", block, n < 0 ? strerror(errno) : "short read");
	fill(want, block, seq);
	if (memcmp(buf, want, BLK)) {
		struct stamp s;

		memcpy(&s, buf, sizeof(s));
		printf("VERIFY-FAIL: block %llu holds seq %u (magic %#x, block %llu), acknowledged seq %u\n",
		       (unsigned long long)block, s.seq, s.magic, (unsigned long long)s.block, seq);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	uint64_t blocks, writes = 0, reads = 0;
	uint32_t *acked, seq = 0;
	uint8_t *buf, *want;
	double start, last_report, secs;
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: tr-verify DEVICE MIB SECONDS\n");
		return 2;
	}
	blocks = strtoull(argv[2], NULL, 10) * (1 << 20) / BLK;
	secs = strtod(argv[3], NULL);
	fd = open(argv[1], O_RDWR | O_DIRECT);
	acked = calloc(blocks, sizeof(*acked));
	if (fd < 0 || !acked || !blocks || posix_memalign((void **)&buf, BLK, BLK) ||
	    posix_memalign((void **)&want, BLK, BLK)) {
		printf("VERIFY-FAIL: cannot open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	start = last_report = now();
	printf("VERIFY: running on %s, %llu blocks, %.0f s\n", argv[1], (unsigned long long)blocks, secs);
	fflush(stdout);
	while (now() - start < secs) {
		uint64_t b = next_rand() % blocks;

		fill(buf, b, ++seq);
		ssize_t n = pwrite(fd, buf, BLK, (off_t)(b * BLK));
		if (n != BLK)
			die("write", b, n < 0 ? strerror(errno) : "short write");
		acked[b] = seq;
		writes++;
		if (writes % 64 == 0 && fdatasync(fd))
			die("flush after", b, strerror(errno));
		if (writes % 4 == 0) {
			uint64_t r = next_rand() % blocks;

			if (acked[r]) {
				check_block(fd, buf, want, r, acked[r]);
				reads++;
			}
		}
		if (now() - last_report >= 5) {
			last_report = now();
			printf("VERIFY: %.0f s, %llu writes, %llu reads\n", last_report - start, (unsigned long long)writes,
			       (unsigned long long)reads);
			fflush(stdout);
		}
	}
	if (fdatasync(fd))
		die("final flush", 0, strerror(errno));
	for (uint64_t b = 0; b < blocks; b++) {
		if (acked[b]) {
			check_block(fd, buf, want, b, acked[b]);
			reads++;
		}
	}
	printf("VERIFY-OK: %llu writes, %llu reads, every acknowledged write read back\n", (unsigned long long)writes,
	       (unsigned long long)reads);
	return 0;
}
