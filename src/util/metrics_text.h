/* Building a Prometheus text exposition (format 0.0.4): a growing buffer written printf-style, and
 * label values escaped as the format says. Shared by the target's and the host process's metrics. */
#ifndef TIGHTROPE_UTIL_METRICS_TEXT_H
#define TIGHTROPE_UTIL_METRICS_TEXT_H

#include <stdbool.h>
#include <stddef.h>

struct tr_metrics_text {
	char *buf; /* malloc'd (NULL to start), the caller's to free */
	size_t len, cap;
	bool failed; /* out of memory: the rest is dropped and the caller answers 500 */
};

__attribute__((format(printf, 2, 3))) void tr_metrics_printf(struct tr_metrics_text *o, const char *fmt, ...);
/* A label value with backslash, double quote and newline escaped, into buf of size bytes (cut short
 * rather than overrun); returns buf. */
const char *tr_metrics_escape(const char *s, char *buf, size_t size);

#endif
