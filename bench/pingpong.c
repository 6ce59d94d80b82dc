/* Raw TCP limits that tightrope is measured against: the ping-pong round trip (QD1 latency's floor), with
 * each side sleeping in recv or spinning on a non-blocking socket, and one stream of large sends (the
 * ceiling of one connection's throughput). Usage: see usage() below. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

/* Returns 0 when the peer has closed the connection before the first byte, else 1. On a non-blocking
 * socket (spin mode) it spins on EAGAIN: no poll, no sleep, as a polling target would. */
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
			if (errno == EINTR || errno == EAGAIN)
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
			if (errno == EINTR || errno == EAGAIN)
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

/* "block" (the default): sleep in recv until data comes; "spin": a non-blocking socket polled in a loop. */
static int arg_spin(const char *s)
{
	if (!strcmp(s, "block"))
		return 0;
	if (!strcmp(s, "spin"))
		return 1;
	fprintf(stderr, "pingpong: wait mode must be block or spin, not '%s'\n", s);
	exit(2);
}

static void set_spin(int fd, int spin)
{
	int fl = fcntl(fd, F_GETFL);

	if (spin && (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK)))
		die("O_NONBLOCK");
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Listens on 127.0.0.1:PORT, says so on stdout, and returns the first connection. */
static int accept_one(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1, lfd, fd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
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
	return fd;
}

static int connect_to(const char *host, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = -1;

	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "pingpong: bad IPv4 address '%s'\n", host);
		exit(2);
	}
	/* The server may still be starting: retry for up to 5 seconds. */
	for (int tries = 0; tries < 500; tries++) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die("socket");
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		close(fd);
		usleep(10000);
	}
	die("connect");
	return -1;
}

/* One connection: read REQ-sized requests (the size comes first, as 4 bytes), answer REPLY bytes. */
static int server(int port, size_t reply, int spin)
{
	int fd = accept_one(port);
	uint32_t req_len;
	char *req, *rep = calloc(1, reply);

	if (!rep)
		die("malloc");
	nodelay(fd);
	if (!recv_all(fd, &req_len, sizeof(req_len)) || req_len == 0 || req_len > (1u << 20))
		return 1;
	req = malloc(req_len);
	if (!req)
		die("malloc");
	set_spin(fd, spin);
	while (recv_all(fd, req, req_len))
		send_all(fd, rep, reply);
	close(fd);
	free(req);
	free(rep);
	return 0;
}

static int client(const char *host, int port, long rounds, size_t req_len, size_t reply, int spin)
{
	uint64_t *lat = calloc((size_t)rounds, sizeof(*lat));
	char *req = calloc(1, req_len), *rep = malloc(reply);
	uint32_t len32 = (uint32_t)req_len;
	double sum = 0;
	int fd;

	if (!lat || !req || !rep)
		die("malloc");
	fd = connect_to(host, port);
	nodelay(fd);
	send_all(fd, &len32, sizeof(len32));
	set_spin(fd, spin);
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

/* ---- the stream: one connection, large blocking send()s on one side and recv()s on the other ---- */

#define STREAM_MAGIC 0x5354524du /* "STRM" */

struct stream_hdr { /* what the client asks for, in host order (both ends are on this machine) */
	uint32_t magic;
	uint32_t server_sends; /* 1: server → client, like tightrope's reads; 0: client → server */
	uint32_t chunk;	       /* bytes per send() and per recv() */
	uint32_t ramp_ms, run_ms;
};

static uint64_t cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000ull +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000ull;
}

/* The measured window, the same on both sides: RAMP after the first byte moved, RUN long. Each side reports
 * the share of a core it used in it; the receiver also reports what it received in it. */
struct window {
	uint64_t start, t0, t1, cpu0, cpu1, bytes;
	int state; /* 0 ramping, 1 measuring, 2 done */
};

/* Returns 1 when the window has just closed. */
static int window_tick(struct window *w, const struct stream_hdr *h, size_t moved)
{
	uint64_t now = now_ns();

	if (!w->start)
		w->start = now;
	if (w->state == 0 && now - w->start >= (uint64_t)h->ramp_ms * 1000000ull) {
		w->state = 1;
		w->t0 = now;
		w->cpu0 = cpu_ns();
		return 0;
	}
	if (w->state == 1) {
		w->bytes += moved;
		if (now - w->t0 >= (uint64_t)h->run_ms * 1000000ull) {
			w->state = 2;
			w->t1 = now;
			w->cpu1 = cpu_ns();
			return 1;
		}
	}
	return 0;
}

static void window_print(const struct window *w, const struct stream_hdr *h, const char *side, int receiver)
{
	double s = (double)(w->t1 - w->t0) / 1e9;

	printf("stream %s chunk %u side %s", h->server_sends ? "server-to-client" : "client-to-server", h->chunk,
	       side);
	if (receiver)
		printf(" mibs %.1f bytes %llu seconds %.3f", (double)w->bytes / 1048576.0 / s,
		       (unsigned long long)w->bytes, s);
	printf(" cpu_pct %.0f\n", w->t1 > w->t0 ? (double)(w->cpu1 - w->cpu0) / (double)(w->t1 - w->t0) * 100 : 0.0);
	fflush(stdout);
}

/* Receives until the window closes, then closes the connection, which stops the sender (EPIPE/ECONNRESET). */
static void stream_recv(int fd, const struct stream_hdr *h, char *buf, const char *side)
{
	struct window w = { 0 };

	for (;;) {
		ssize_t n = recv(fd, buf, h->chunk, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ECONNRESET;
			die("stream recv");
		}
		if (window_tick(&w, h, (size_t)n))
			break;
	}
	close(fd);
	window_print(&w, h, side, 1);
}

/* Sends until the receiver closes; reports its CPU over the same window by its own clock. */
static void stream_send(int fd, const struct stream_hdr *h, const char *buf, const char *side)
{
	struct window w = { 0 };

	for (;;) {
		ssize_t n = send(fd, buf, h->chunk, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			break;
		if (n < 0)
			die("stream send");
		window_tick(&w, h, (size_t)n);
	}
	close(fd);
	if (w.state == 1) { /* the receiver closed first, as it should: the window ends now */
		w.t1 = now_ns();
		w.cpu1 = cpu_ns();
	}
	window_print(&w, h, side, 0);
}

static char *stream_buf(uint32_t chunk)
{
	char *buf = malloc(chunk);

	if (!buf)
		die("malloc");
	memset(buf, 0x5a, chunk); /* real pages, not the shared zero page */
	return buf;
}

static int stream_server(int port)
{
	int fd = accept_one(port);
	struct stream_hdr h;
	char *buf;

	if (!recv_all(fd, &h, sizeof(h)) || h.magic != STREAM_MAGIC || h.chunk == 0 || h.chunk > (64u << 20))
		return 1;
	buf = stream_buf(h.chunk);
	if (h.server_sends)
		stream_send(fd, &h, buf, "server");
	else
		stream_recv(fd, &h, buf, "server");
	free(buf);
	return 0;
}

static int stream_client(const char *host, int port, const char *dir, long chunk, long ramp_ms, long run_ms)
{
	struct stream_hdr h = { STREAM_MAGIC, 0, (uint32_t)chunk, (uint32_t)ramp_ms, (uint32_t)run_ms };
	int fd;
	char *buf;

	if (!strcmp(dir, "read"))
		h.server_sends = 1;
	else if (strcmp(dir, "write")) {
		fprintf(stderr, "pingpong: stream direction must be read (server sends) or write, not '%s'\n", dir);
		return 2;
	}
	buf = stream_buf(h.chunk);
	fd = connect_to(host, port);
	send_all(fd, &h, sizeof(h));
	if (h.server_sends)
		stream_recv(fd, &h, buf, "client");
	else
		stream_send(fd, &h, buf, "client");
	free(buf);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: pingpong server PORT REPLY_BYTES [block|spin]\n"
			"       pingpong client HOST PORT ROUNDS REQ_BYTES REPLY_BYTES [block|spin]\n"
			"       pingpong stream-server PORT\n"
			"       pingpong stream-client HOST PORT read|write CHUNK_BYTES RAMP_MS RUN_MS\n"
			"  block: sleep in recv (the default); spin: poll a non-blocking socket in a loop\n"
			"  stream read: the server sends, as a target does for reads; write: the client sends\n");
	return 2;
}

int main(int argc, char **argv)
{
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "server"))
		return server((int)arg_num(argv[2], 1, 65535), (size_t)arg_num(argv[3], 1, 1 << 24),
			      argc == 5 && arg_spin(argv[4]));
	if ((argc == 7 || argc == 8) && !strcmp(argv[1], "client"))
		return client(argv[2], (int)arg_num(argv[3], 1, 65535), arg_num(argv[4], 1, 100000000),
			      (size_t)arg_num(argv[5], 1, 1 << 20), (size_t)arg_num(argv[6], 1, 1 << 24),
			      argc == 8 && arg_spin(argv[7]));
	if (argc == 3 && !strcmp(argv[1], "stream-server"))
		return stream_server((int)arg_num(argv[2], 1, 65535));
	if (argc == 8 && !strcmp(argv[1], "stream-client"))
		return stream_client(argv[2], (int)arg_num(argv[3], 1, 65535), argv[4], arg_num(argv[5], 1, 64 << 20),
				     arg_num(argv[6], 0, 600000), arg_num(argv[7], 1, 600000));
	return usage();
}
