#include "common/timeutil.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

long long timeutil_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long timeutil_jitter_ms(long long max)
{
	static unsigned int seed;

	if (seed == 0) {
		seed = (unsigned int)getpid() ^ (unsigned int)time(NULL);
	}
	if (max <= 0) {
		return 0;
	}
	return (long long)(rand_r(&seed) % (int)(max > 1000000 ? 1000000 : max));
}
