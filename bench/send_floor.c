/* bench/send_floor.c: the least CPU a sender can spend per 4 KiB read reply over loopback, the floor
 * under the target's CPU per I/O at high queue depth. One thread sends what the target sends for a
 * 4 KiB read from a RAM namespace (a 24-byte C2HData header, 4 KiB from a random offset in a 1 GiB
 * region, a 24-byte CapsuleResp), 128 replies per batch, three ways; another thread on another CPU
 * reads and drops the bytes. Only the sender's CPU time (its thread's, user + system) is counted; on
 * loopback it includes the receiving side's TCP processing, as it does for the target.
 *   copy      sendmsg of the batch's iovecs: the kernel copies the payload (what the target does)
 *   zerocopy  the same with MSG_ZEROCOPY (completions read from the error queue)
 *   splice    the payload spliced from a memfd into a pipe, the headers written to it, the pipe
 *             spliced into the socket
 * usage: send_floor copy|zerocopy|splice REPLIES PORT [SENDER_CPU RECEIVER_CPU]
 * prints: mode M replies N cpu_us_per_reply X
 * And the floor under a data digest: ISA-L's CRC32C (what the PDU codec uses) of one payload, from
 * cache and from a random place in the 1 GiB region, and a memcpy of it out of the region.
 * usage: send_floor crc KIB [CPU]     prints: crc KIB K hot_us X cold_us Y copy_us Z
 * build: cc -O2 -o send_floor bench/send_floor.c -lpthread -lisal */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <isa-l/crc.h>

#define REGION (1ul << 30)
#define BLOCK 4096
#define HDR 24
#define BATCH 128
#define PIPE_FLUSH 60 /* replies per pipe fill: two pipe slots each, 256 slots in a 1 MiB pipe */

enum mode { COPY, ZEROCOPY, SPLICE };

static int listen_fd;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity");
}

static double thread_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void *receiver(void *arg)
{
	static char buf[1 << 20];
	int fd;

	pin(*(int *)arg);
	fd = accept(listen_fd, NULL, NULL);
	if (fd < 0)
		die("accept");
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
	return NULL;
}

static uint64_t random_offset(void)
{
	return ((uint64_t)rand() % (REGION / BLOCK)) * BLOCK;
}

static void send_all(int fd, struct msghdr *msg, size_t len, int flags)
{
	while (len) {
		ssize_t n = sendmsg(fd, msg, flags);

		if (n < 0 && errno == ENOBUFS && (flags & MSG_ZEROCOPY))
			continue; /* notifications not read yet: the reads below free them */
		if (n <= 0)
			die("sendmsg");
		len -= (size_t)n;
		while (n > 0) { /* step over what went */
			if ((size_t)n >= msg->msg_iov->iov_len) {
				n -= (ssize_t)msg->msg_iov->iov_len;
				msg->msg_iov++;
				msg->msg_iovlen--;
			} else {
				msg->msg_iov->iov_base = (char *)msg->msg_iov->iov_base + n;
				msg->msg_iov->iov_len -= (size_t)n;
				n = 0;
			}
		}
	}
	if (flags & MSG_ZEROCOPY) { /* drain the completion notifications */
		char control[256];
		struct msghdr em = { .msg_control = control, .msg_controllen = sizeof(control) };

		while (recvmsg(fd, &em, MSG_ERRQUEUE | MSG_DONTWAIT) >= 0)
			em.msg_controllen = sizeof(control);
	}
}

static void batch_sendmsg(int fd, const char *region, const char *hdr, int flags)
{
	struct iovec iov[3 * BATCH];
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 3 * BATCH };

	for (int i = 0; i < BATCH; i++) {
		iov[3 * i] = (struct iovec){ (void *)hdr, HDR };
		iov[3 * i + 1] = (struct iovec){ (void *)(region + random_offset()), BLOCK };
		iov[3 * i + 2] = (struct iovec){ (void *)hdr, HDR };
	}
	send_all(fd, &msg, (size_t)BATCH * (BLOCK + 2 * HDR), flags);
}

static void pipe_to_socket(int pipe_rd, int fd, size_t len)
{
	while (len) {
		ssize_t n = splice(pipe_rd, NULL, fd, NULL, len, SPLICE_F_MORE);

		if (n <= 0)
			die("splice to the socket");
		len -= (size_t)n;
	}
}

static void batch_splice(int fd, int memfd, const int pipefd[2], const char *hdr)
{
	size_t in_pipe = 0;

	for (int i = 0; i < BATCH; i++) {
		loff_t off = (loff_t)random_offset();
		/* The previous reply's CapsuleResp and this one's C2HData header go in one write. */
		size_t hl = i ? 2 * HDR : HDR;

		if (write(pipefd[1], hdr, hl) != (ssize_t)hl)
			die("write to the pipe");
		if (splice(memfd, &off, pipefd[1], NULL, BLOCK, 0) != BLOCK)
			die("splice from the memfd");
		in_pipe += hl + BLOCK;
		if (i == BATCH - 1) {
			if (write(pipefd[1], hdr, HDR) != HDR)
				die("write to the pipe");
			in_pipe += HDR;
		}
		if (i % PIPE_FLUSH == PIPE_FLUSH - 1 || i == BATCH - 1) {
			pipe_to_socket(pipefd[0], fd, in_pipe);
			in_pipe = 0;
		}
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CRC32C and memcpy per payload of 'kib' KiB: from cache, and from cold places in the region. */
static int crc_floor(long kib, int cpu)
{
	size_t len = (size_t)kib << 10, n = REGION / len;
	char *region = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *buf = aligned_alloc(4096, len);
	uint32_t crc = 0;
	int iters = (int)(((size_t)4 << 30) / len); /* 4 GiB of each */
	double t0, t1, t2, t3;

	if (region == MAP_FAILED || !buf || kib <= 0 || len > REGION)
		die("crc setup");
	pin(cpu);
	madvise(region, REGION, MADV_HUGEPAGE);
	memset(region, 0x5a, REGION);
	memset(buf, 0x5a, len);
	srand(1);
	t0 = now_s();
	for (int i = 0; i < iters; i++)
		crc += crc32_iscsi((unsigned char *)buf, (int)len, crc);
	t1 = now_s();
	for (int i = 0; i < iters; i++)
		crc += crc32_iscsi((unsigned char *)region + (size_t)rand() % n * len, (int)len, crc);
	t2 = now_s();
	for (int i = 0; i < iters; i++)
		memcpy(buf, region + (size_t)rand() % n * len, len);
	t3 = now_s();
	printf("crc KIB %ld hot_us %.3f cold_us %.3f copy_us %.3f (%08x)\n", kib, (t1 - t0) * 1e6 / iters,
	       (t2 - t1) * 1e6 / iters, (t3 - t2) * 1e6 / iters, crc);
	return 0;
}

static int parse_mode(const char *s)
{
	return !strcmp(s, "copy") ? COPY : !strcmp(s, "zerocopy") ? ZEROCOPY : !strcmp(s, "splice") ? SPLICE : -1;
}

int main(int argc, char **argv)
{
	int mode = argc >= 4 ? parse_mode(argv[1]) : -1, one = 1, fd, memfd, pipefd[2];
	long replies = argc >= 4 ? atol(argv[2]) : 0;
	int send_cpu = argc >= 6 ? atoi(argv[4]) : -1, recv_cpu = argc >= 6 ? atoi(argv[5]) : -1;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	static char hdr[2 * HDR];
	char *region;
	pthread_t rx;
	double t0;

	if (argc >= 3 && !strcmp(argv[1], "crc"))
		return crc_floor(atol(argv[2]), argc >= 4 ? atoi(argv[3]) : -1);
	if (mode < 0 || replies < BATCH) {
		fprintf(stderr, "usage: send_floor copy|zerocopy|splice REPLIES(>=128) PORT [SENDER_CPU RECEIVER_CPU]\n"
				"       send_floor crc KIB [CPU]\n");
		return 2;
	}
	sa.sin_port = htons((uint16_t)atoi(argv[3]));
	/* The region as the target's RAM namespace holds it: anonymous, in 2 MiB pages where the kernel
	 * has them, every page written; a memfd of the same size for splice. */
	region = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memfd = memfd_create("send_floor", 0);
	if (region == MAP_FAILED || memfd < 0 || ftruncate(memfd, (off_t)REGION) || pipe(pipefd) ||
	    fcntl(pipefd[1], F_SETPIPE_SZ, 1 << 20) < 0)
		die("setup");
	madvise(region, REGION, MADV_HUGEPAGE);
	memset(region, 0x5a, REGION);
	if (mode == SPLICE)
		for (off_t off = 0; off < (off_t)REGION; off += 1 << 20)
			if (pwrite(memfd, region, 1 << 20, off) != 1 << 20)
				die("filling the memfd");
	listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(listen_fd, 1))
		die("listen");
	pthread_create(&rx, NULL, receiver, &recv_cpu);
	pin(send_cpu);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (mode == ZEROCOPY && setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)))
		die("SO_ZEROCOPY");
	srand(1);
	t0 = thread_cpu_s();
	for (long done = 0; done < replies; done += BATCH) {
		if (mode == SPLICE)
			batch_splice(fd, memfd, pipefd, hdr);
		else
			batch_sendmsg(fd, region, hdr, mode == ZEROCOPY ? MSG_ZEROCOPY : 0);
	}
	printf("mode %s replies %ld cpu_us_per_reply %.3f\n", argv[1], replies, (thread_cpu_s() - t0) * 1e6 / (double)replies);
	shutdown(fd, SHUT_WR);
	pthread_join(rx, NULL);
	return 0;
}
