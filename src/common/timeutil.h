/* timeutil.h - clocks and sleeps in milliseconds. */
#ifndef EXPORTD_TIMEUTIL_H
#define EXPORTD_TIMEUTIL_H

/* Monotonic clock, for timeouts and intervals. */
long long timeutil_now_ms(void);
/* A random value in [0, max) for jitter; not for secrets. */
long long timeutil_jitter_ms(long long max);

#endif
