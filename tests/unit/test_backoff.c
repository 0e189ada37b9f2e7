/* The retry delay: the numbers each caller had before backoff.c existed. */
#include "common/backoff.h"

#include "unit.h"

static void test_delay(void)
{
	/* exportd.retry_base / retry_max defaults: 5 s doubling to 10 min. */
	UNIT_EQ_INT(backoff_delay_ms(5000, 600000, 0), 5000);
	UNIT_EQ_INT(backoff_delay_ms(5000, 600000, 1), 5000);
	UNIT_EQ_INT(backoff_delay_ms(5000, 600000, 2), 10000);
	UNIT_EQ_INT(backoff_delay_ms(5000, 600000, 8), 600000); /* 640 s, capped */
	UNIT_EQ_INT(backoff_delay_ms(5000, 600000, 1000000), 600000);
	/* A base over the cap is the cap. */
	UNIT_EQ_INT(backoff_delay_ms(20000, 10000, 1), 10000);
	/* s3: 200 ms << (n - 1), at most 10 s and 512 times the base. */
	UNIT_EQ_INT(backoff_delay_ms(200, 10000, 5), 3200);
	UNIT_EQ_INT(backoff_delay_ms(200, 10000, 7), 10000);
	UNIT_EQ_INT(backoff_delay_ms(1, 512, 30), 512);
	/* The largest inputs the config allows do not overflow. */
	UNIT_EQ_INT(backoff_delay_ms(86400000LL, 30 * 86400000LL, 2000000000), 30 * 86400000LL);
}

static void test_jitter(void)
{
	long long d;
	int i, n;

	for (n = 1; n < 12; n++) {
		for (i = 0; i < 200; i++) {
			d = backoff_jitter_ms(100, 10000, n);
			UNIT_CHECK(d >= backoff_delay_ms(100, 10000, n) / 2);
			UNIT_CHECK(d <= backoff_delay_ms(100, 10000, n));
		}
	}
	UNIT_EQ_INT(backoff_jitter_ms(1, 1, 1), 0 + 0); /* d = 1: d/2 = 0, jitter in [0, 0] */
}

int main(void)
{
	static const struct unit_test tests[] = {UNIT_TEST(test_delay), UNIT_TEST(test_jitter)};

	return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
