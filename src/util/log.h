/* Logging: one line per event to stderr, with a timestamp and a level, safe from any thread. */
#ifndef TIGHTROPE_UTIL_LOG_H
#define TIGHTROPE_UTIL_LOG_H

#include <stdatomic.h>
#include <stdbool.h>

enum tr_log_level { TR_LOG_ERR, TR_LOG_WARN, TR_LOG_INFO, TR_LOG_DEBUG };

void tr_log_set_level(enum tr_log_level level);
enum tr_log_level tr_log_get_level(void);
void tr_log(enum tr_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define tr_err(...) tr_log(TR_LOG_ERR, __VA_ARGS__)
#define tr_warn(...) tr_log(TR_LOG_WARN, __VA_ARGS__)
#define tr_info(...) tr_log(TR_LOG_INFO, __VA_ARGS__)
#define tr_debug(...)                                    \
	do {                                             \
		if (tr_log_get_level() >= TR_LOG_DEBUG)  \
			tr_log(TR_LOG_DEBUG, __VA_ARGS__); \
	} while (0)

/* A rate limit for lines a peer can cause over and over (refused connections, exhausted
 * descriptors): at most `burst` lines per `interval_ms`, then silence until the interval ends,
 * when the next line reports how many were suppressed. Safe from any thread. */
struct tr_ratelimit {
	unsigned interval_ms;
	unsigned burst;
	_Atomic unsigned long long start_ms;
	_Atomic unsigned printed;
	_Atomic unsigned suppressed;
};
#define TR_RATELIMIT_INIT(interval, n) { .interval_ms = (interval), .burst = (n) }

/* True if a line may be logged now; *suppressed gets the count dropped since the last one. */
bool tr_ratelimit(struct tr_ratelimit *rl, unsigned *suppressed);

#endif
