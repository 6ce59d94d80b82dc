/* Raw TCP ping-pong: the round-trip floor that tightrope's QD1 latency is measured against.
 * usage: pingpong server PORT REPLY_BYTES | pingpong client HOST PORT ROUNDS REQ_BYTES REPLY_BYTES */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WARMUP 1000

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "pingpong: %s: %s\n", what, strerror(errno));
	exit(1);
}

static long arg_num(const char *s, long lo, long hi)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == 0 || *end || v < lo || v > hi) {
		fprintf(stderr, "pingpong: bad number '%s' (%ld..%ld)\n", s, lo, hi);
		exit(2);
	}
	return v;
}

/* Returns 0 when the peer has closed the connection before the first byte, else 1. */
static int recv_all(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, (char *)buf + got, len - got, 0);

		if (n == 0 && got == 0)
			return 0;
		if (n == 0) {
			errno = ECONNRESET;
			die("recv");
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("recv");
		}
		got += (size_t)n;
	}
	return 1;
}

static void send_all(int fd, const void *buf, size_t len)
{
	size_t sent = 0;

	while (sent < len) {
		ssize_t n = send(fd, (const char *)buf + sent, len - sent, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("send");
		}
		sent += (size_t)n;
	}
}

static void nodelay(int fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		die("TCP_NODELAY");
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* One connection: read REQ-sized requests (the size comes first, as 4 bytes), answer REPLY bytes. */
static int server(int port, size_t reply)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1, lfd, fd;
	uint32_t req_len;
	char *req, *rep = calloc(1, reply);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || !rep)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 1))
		die("bind/listen");
	printf("listening\n");
	fflush(stdout);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die("accept");
	close(lfd);
	nodelay(fd);
	if (!recv_all(fd, &req_len, sizeof(req_len)) || req_len == 0 || req_len > (1u << 20))
		return 1;
	req = malloc(req_len);
	if (!req)
		die("malloc");
	while (recv_all(fd, req, req_len))
		send_all(fd, rep, reply);
	close(fd);
	free(req);
	free(rep);
	return 0;
}

static int client(const char *host, int port, long rounds, size_t req_len, size_t reply)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	uint64_t *lat = calloc((size_t)rounds, sizeof(*lat));
	char *req = calloc(1, req_len), *rep = malloc(reply);
	uint32_t len32 = (uint32_t)req_len;
	double sum = 0;
	int fd = -1;

	if (!lat || !req || !rep)
		die("malloc");
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "pingpong: bad IPv4 address '%s'\n", host);
		return 2;
	}
	/* The server may still be starting: retry for up to 5 seconds. */
	for (int tries = 0; tries < 500; tries++) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die("socket");
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		close(fd);
		fd = -1;
		usleep(10000);
	}
	if (fd < 0)
		die("connect");
	nodelay(fd);
	send_all(fd, &len32, sizeof(len32));
	for (long i = -WARMUP; i < rounds; i++) {
		uint64_t t0 = now_ns();

		send_all(fd, req, req_len);
		if (!recv_all(fd, rep, reply)) {
			errno = ECONNRESET;
			die("recv");
		}
		if (i >= 0)
			lat[i] = now_ns() - t0;
	}
	close(fd);
	for (long i = 0; i < rounds; i++)
		sum += (double)lat[i];
	qsort(lat, (size_t)rounds, sizeof(*lat), cmp_u64);
	printf("rounds %ld request %zu reply %zu avg_us %.2f p50_us %.2f p99_us %.2f min_us %.2f max_us %.2f\n",
	       rounds, req_len, reply, sum / (double)rounds / 1e3, (double)lat[rounds / 2] / 1e3,
	       (double)lat[(size_t)((double)rounds * 0.99)] / 1e3, (double)lat[0] / 1e3,
	       (double)lat[rounds - 1] / 1e3);
	free(lat);
	free(req);
	free(rep);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "server"))
		return server((int)arg_num(argv[2], 1, 65535), (size_t)arg_num(argv[3], 1, 1 << 24));
	if (argc == 7 && !strcmp(argv[1], "client"))
		return client(argv[2], (int)arg_num(argv[3], 1, 65535), arg_num(argv[4], 1, 100000000),
			      (size_t)arg_num(argv[5], 1, 1 << 20), (size_t)arg_num(argv[6], 1, 1 << 24));
	fprintf(stderr, "usage: pingpong server PORT REPLY_BYTES\n"
			"       pingpong client HOST PORT ROUNDS REQ_BYTES REPLY_BYTES\n");
	return 2;
}
