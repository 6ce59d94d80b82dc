/* Logging to stderr: the whole line is formatted first and written with one write(2), so lines
 * from different threads never interleave. */
#include "util/clock.h"
#include "util/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 1024 /* longer lines are cut */
#define WARN_LIMIT_MS 5000 /* at most WARN_LIMIT_BURST warnings per this many ms */
#define WARN_LIMIT_BURST 200

static _Atomic int log_level = TR_LOG_INFO;
static struct tr_ratelimit warn_limit = TR_RATELIMIT_INIT(WARN_LIMIT_MS, WARN_LIMIT_BURST);

void tr_log_set_level(enum tr_log_level level)
{
	atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

enum tr_log_level tr_log_get_level(void)
{
	return (enum tr_log_level)atomic_load_explicit(&log_level, memory_order_relaxed);
}

void tr_log(enum tr_log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	char line[LOG_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	if (level > tr_log_get_level())
		return;
	/* Warnings are what peers cause (bad PDUs, refused Connects, timeouts), one line per event; a
	 * peer repeating its mistake must not fill the disk or drown the rest, so they share a limit. */
	if (level == TR_LOG_WARN) {
		unsigned suppressed;

		if (!tr_ratelimit(&warn_limit, &suppressed))
			return;
		if (suppressed)
			tr_log(TR_LOG_INFO, "%u warnings suppressed in the last %u ms (more than %u)", suppressed,
			       warn_limit.interval_ms, warn_limit.burst);
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%02d:%02d:%02d.%03ld tightrope %s: ", tm.tm_hour, tm.tm_min,
		     tm.tm_sec, ts.tv_nsec / 1000000, names[level]);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

bool tr_ratelimit(struct tr_ratelimit *rl, unsigned *suppressed)
{
	unsigned long long now = tr_now_ms(), start;
	start = atomic_load(&rl->start_ms);
	if (now - start >= rl->interval_ms && atomic_compare_exchange_strong(&rl->start_ms, &start, now))
		atomic_store(&rl->printed, 0); /* a new interval; one thread opens it */
	if (atomic_fetch_add(&rl->printed, 1) < rl->burst) {
		*suppressed = atomic_exchange(&rl->suppressed, 0);
		return true;
	}
	atomic_fetch_add(&rl->suppressed, 1);
	return false;
}
