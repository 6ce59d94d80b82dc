/* The one monotonic clock every part of tightrope reads (deadlines, timeouts, keep-alive). */
#ifndef TIGHTROPE_UTIL_CLOCK_H
#define TIGHTROPE_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

#define TR_NSEC_PER_MSEC 1000000ull
#define TR_NSEC_PER_SEC 1000000000ull

static inline uint64_t tr_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * TR_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static inline uint64_t tr_now_ms(void)
{
	return tr_now_ns() / TR_NSEC_PER_MSEC;
}

/* Milliseconds from now until `deadline_ns` (rounded up), 0 once it has passed: a poll() timeout. */
static inline int tr_ms_until(uint64_t deadline_ns)
{
	uint64_t now = tr_now_ns();

	return now >= deadline_ns ? 0 : (int)((deadline_ns - now + TR_NSEC_PER_MSEC - 1) / TR_NSEC_PER_MSEC);
}

#endif
