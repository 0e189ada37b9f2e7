#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *log_progname = "exportd";
static enum log_level log_threshold = LOG_INFO;

void log_init(const char *progname, enum log_level level)
{
	log_progname = progname;
	log_threshold = level;
}

void log_set_level(enum log_level level)
{
	log_threshold = level;
}

static const char *log_level_name(enum log_level level)
{
	static const char *const names[] = {"debug", "info", "warn", "error"};

	return names[level];
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[2048], stamp[32];
	struct timeval tv;
	struct tm tm;
	va_list ap;
	int n;

	if (level < log_threshold) {
		return;
	}
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	if (strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		stamp[0] = '\0';
	}
	n = snprintf(line, sizeof(line), "%s.%03ldZ %s[%ld] %s: ", stamp, (long)tv.tv_usec / 1000,
		     log_progname, (long)getpid(), log_level_name(level));
	if (n < 0 || (size_t)n >= sizeof(line)) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One write per record so lines from several processes don't interleave. */
	fprintf(stderr, "%s\n", line);
	fflush(stderr);
}
