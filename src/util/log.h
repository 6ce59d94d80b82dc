/* Logging: one line per event to stderr, with a timestamp and a level, safe from any thread. */
#ifndef TIGHTROPE_UTIL_LOG_H
#define TIGHTROPE_UTIL_LOG_H

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

#endif
