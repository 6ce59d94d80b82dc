/* Building a Prometheus text exposition: see metrics_text.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/metrics_text.h"

void tr_metrics_printf(struct tr_metrics_text *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	while (!o->failed) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf ? o->buf + o->len : NULL, o->buf ? o->cap - o->len : 0, fmt, ap);
		va_end(ap);
		if (n >= 0 && o->buf && (size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		/* Grown to twice its size and the line, then the line is printed again. */
		size_t cap = o->cap * 2 + (size_t)(n < 0 ? 0 : n) + 4096;
		char *b = n < 0 ? NULL : realloc(o->buf, cap);

		if (!b) {
			o->failed = true;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
}

const char *tr_metrics_escape(const char *s, char *buf, size_t size)
{
	size_t n = 0;

	for (; *s && n + 3 < size; s++) {
		if (*s == '\\' || *s == '"' || *s == '\n')
			buf[n++] = '\\';
		buf[n++] = *s == '\n' ? 'n' : *s;
	}
	buf[n] = 0;
	return buf;
}
