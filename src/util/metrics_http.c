/* A metrics endpoint, the target's and the host process's: GET /metrics over HTTP, served by
 * libmicrohttpd on a thread of its own, with a bound on connections and on how long one may sit idle.
 * We parse nothing from the network: MHD does the HTTP; a request gets the owner's exposition, 404
 * or 405. */
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "util/metrics_http.h"

/* Scrapers are few. Past the total, connections wait in the listen backlog for a slot; past the
 * per-address share, they are closed at once, so one client cannot take every slot. */
#define METRICS_MAX_CONNS 16
#define METRICS_MAX_CONNS_PER_IP 8
#define METRICS_CONN_TIMEOUT_S 5 /* a connection that sends no request within this is closed */
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct tr_metrics_http {
	struct MHD_Daemon *daemon;
	tr_metrics_render_fn render;
	void *ctx;
};

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned code, const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_size, void **req_cls)
{
	struct tr_metrics_http *m = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t len;
	char *text;

	(void)version, (void)upload_data, (void)upload_size, (void)req_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET))
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n");
	if (strcmp(url, "/metrics"))
		return reply_text(c, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n");
	text = m->render(m->ctx, &len);
	if (!text)
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "the metrics cannot be had now\n");
	r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* Our own listening socket: errors come out with their errno, and IPv6 needs no flag. */
static int metrics_listen(const char *addr, const char *port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai;
	int fd, one = 1, err = getaddrinfo(addr, port, &hints, &ai);

	if (err) {
		tr_err("metrics: %s:%s: %s", addr, port, gai_strerror(err));
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, METRICS_MAX_CONNS)) {
		err = -errno;
		tr_err("metrics: cannot listen on %s:%s: %s", addr, port, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = err;
	}
	freeaddrinfo(ai);
	return fd;
}

/* "ADDR:PORT" or "[V6ADDR]:PORT", the port required. */
static int split_spec(const char *spec, char *addr, size_t alen, char *port, size_t plen)
{
	const char *colon;

	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');

		if (!end || end[1] != ':' || (size_t)(end - spec - 1) >= alen)
			return -EINVAL;
		snprintf(addr, alen, "%.*s", (int)(end - spec - 1), spec + 1);
		colon = end + 1;
	} else {
		colon = strchr(spec, ':');
		if (!colon || strchr(colon + 1, ':') || (size_t)(colon - spec) >= alen)
			return -EINVAL;
		snprintf(addr, alen, "%.*s", (int)(colon - spec), spec);
	}
	if (!colon[1] || strlen(colon + 1) >= plen || strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return -EINVAL;
	snprintf(port, plen, "%s", colon + 1);
	return addr[0] ? 0 : -EINVAL;
}

int tr_metrics_http_start(const char *spec, tr_metrics_render_fn render, void *ctx, struct tr_metrics_http **out)
{
	struct tr_metrics_http *m;
	char addr[256], port[8];
	int fd;

	if (split_spec(spec, addr, sizeof(addr), port, sizeof(port))) {
		tr_err("metrics: '%s': expected ADDR:PORT ([ADDR]:PORT for IPv6)", spec);
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	fd = m ? metrics_listen(addr, port) : -ENOMEM;
	if (fd < 0) {
		free(m);
		return fd;
	}
	m->render = render;
	m->ctx = ctx;
	m->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL, on_request, m,
				     MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_CONNECTION_LIMIT,
				     (unsigned)METRICS_MAX_CONNS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
				     (unsigned)METRICS_MAX_CONNS_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT,
				     (unsigned)METRICS_CONN_TIMEOUT_S, MHD_OPTION_END);
	if (!m->daemon) {
		tr_err("metrics: cannot start the HTTP server on %s:%s", addr, port);
		close(fd);
		free(m);
		return -EIO;
	}
	tr_info("metrics: serving http://%s%s%s:%s/metrics", strchr(addr, ':') ? "[" : "", addr,
		strchr(addr, ':') ? "]" : "", port);
	*out = m;
	return 0;
}

void tr_metrics_http_stop(struct tr_metrics_http *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->daemon);
	free(m);
}
