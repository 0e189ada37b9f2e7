/* log.h - one-line log records on stderr.
 *
 * "2026-11-22T08:40:00.123Z exportd[1234] info: job 5f1c...: message".
 * Callers put the context (job id, request id) in the message; secrets
 * (API keys, passwords, conninfo) must never be passed here.
 */
#ifndef EXPORTD_LOG_H
#define EXPORTD_LOG_H

enum log_level {
	LOG_DEBUG,
	LOG_INFO,
	LOG_WARN,
	LOG_ERROR,
};

/* progname is not copied; it must outlive all logging. */
void log_init(const char *progname, enum log_level level);
void log_set_level(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
