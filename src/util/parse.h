/* Strict parsing of numbers from command lines and requests: the whole string is a number within
 * the range, or the caller gets an error to report (never a silent 0, never an exit). */
#ifndef TIGHTROPE_UTIL_PARSE_H
#define TIGHTROPE_UTIL_PARSE_H

#include <errno.h>
#include <stdlib.h>

/* Decimal; 0, -EINVAL (not a number, or junk after it) or -ERANGE (outside min..max). */
static inline int tr_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

#endif
