/* backoff.h - how long to wait before trying again: capped exponential,
 * with jitter so that failures at the same moment do not retry together. */
#ifndef EXPORTD_BACKOFF_H
#define EXPORTD_BACKOFF_H

/* The delay before retry n (n >= 1; n < 1 counts as 1): base_ms doubled
 * n - 1 times, at most cap_ms.  Pure; never overflows.  base_ms > 0. */
long long backoff_delay_ms(long long base_ms, long long cap_ms, int n);

/* "Equal jitter": backoff_delay_ms() = d, then a random value in
 * [d/2, d/2 + min(d/2, 10^6 - 1)] (timeutil_jitter_ms' bound). */
long long backoff_jitter_ms(long long base_ms, long long cap_ms, int n);

#endif
