/* A Prometheus metrics endpoint over HTTP (libmicrohttpd), for the target and the host process: GET
 * /metrics answered with what the owner's render function returns, from a thread of its own. */
#ifndef TIGHTROPE_UTIL_METRICS_HTTP_H
#define TIGHTROPE_UTIL_METRICS_HTTP_H

#include <stddef.h>

struct tr_metrics_http;

/* The exposition (text format 0.0.4) in a malloc'd buffer of *len bytes, or NULL (answered 500).
 * Called on the endpoint's thread. */
typedef char *(*tr_metrics_render_fn)(void *ctx, size_t *len);

/* Listen on "ADDR:PORT" (numeric; IPv6 as [::1]:9100) and serve; 0 or -errno (logged). */
int tr_metrics_http_start(const char *spec, tr_metrics_render_fn render, void *ctx, struct tr_metrics_http **out);
/* Stop serving (NULL: nothing to do); render is not called once this returns. */
void tr_metrics_http_stop(struct tr_metrics_http *m);

#endif
