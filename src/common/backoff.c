/* backoff.c - the one retry delay (see backoff.h). */
#include "common/backoff.h"

#include "common/timeutil.h"

long long backoff_delay_ms(long long base_ms, long long cap_ms, int n)
{
	long long d = base_ms;
	int i;

	/* Stop doubling at the cap: n may be large (attempt counters). */
	for (i = 1; i < n && d < cap_ms; i++) {
		d *= 2;
	}
	return d > cap_ms ? cap_ms : d;
}

long long backoff_jitter_ms(long long base_ms, long long cap_ms, int n)
{
	long long d = backoff_delay_ms(base_ms, cap_ms, n);

	return d / 2 + timeutil_jitter_ms(d / 2 + 1);
}
