/* This process's event counters: adding, histograms, labels from outside,
 * the bounded table and a commit that keeps what came in meanwhile. */
#include "common/counter.h"

#include "unit.h"

static double value_of(const char *metric, const char *labels)
{
	struct counter c[COUNTER_MAX];
	size_t i, n = counter_pending(c);

	for (i = 0; i < n; i++) {
		if (strcmp(c[i].metric, metric) == 0 && strcmp(c[i].labels, labels) == 0) {
			return c[i].value;
		}
	}
	return -1;
}

static void test_add(void)
{
	counter_reset();
	counter_add("exportd_x_total", "", 1);
	counter_add("exportd_x_total", "", 2);
	counter_add("exportd_x_total", "code=\"a\"", 1);
	UNIT_CHECK(value_of("exportd_x_total", "") == 3);
	UNIT_CHECK(value_of("exportd_x_total", "code=\"a\"") == 1);
	UNIT_CHECK(value_of("exportd_y_total", "") == -1);
}

static void test_observe(void)
{
	static const double b[] = {0.1, 1, 5};
	static const char *const l[] = {"0.1", "1", "5"};

	counter_reset();
	counter_observe("exportd_h", 0.5, b, l, 3);
	counter_observe("exportd_h", 7, b, l, 3);
	counter_observe("exportd_h", 0.1, b, l, 3); /* le is inclusive */
	UNIT_CHECK(value_of("exportd_h_bucket", "le=\"0.1\"") == 1);
	UNIT_CHECK(value_of("exportd_h_bucket", "le=\"1\"") == 2);
	UNIT_CHECK(value_of("exportd_h_bucket", "le=\"5\"") == 2);
	UNIT_CHECK(value_of("exportd_h_bucket", "le=\"+Inf\"") == 3);
	UNIT_CHECK(value_of("exportd_h_count", "") == 3);
	UNIT_CHECK(value_of("exportd_h_sum", "") > 7.59 && value_of("exportd_h_sum", "") < 7.61);
}

static void test_label(void)
{
	char out[8];

	counter_label(out, sizeof(out), "SlowDown", 8);
	UNIT_EQ_STR(out, "SlowDow"); /* capped */
	counter_label(out, sizeof(out), "a\"}\n b", 6);
	UNIT_EQ_STR(out, "a____b");
	counter_label(out, sizeof(out), "", 0);
	UNIT_EQ_STR(out, "unknown");
}

static void test_bounded(void)
{
	char name[32];
	int i;

	counter_reset();
	for (i = 0; i < COUNTER_MAX + 5; i++) {
		snprintf(name, sizeof(name), "exportd_m%d", i);
		counter_add(name, "", 1);
	}
	UNIT_EQ_INT(counter_dropped(), 5);
	counter_add("exportd_m0", "", 1); /* an existing one still counts */
	UNIT_CHECK(value_of("exportd_m0", "") == 2);
}

static void test_commit_keeps_new_events(void)
{
	struct counter snap[COUNTER_MAX];
	size_t n;

	counter_reset();
	counter_add("exportd_a", "", 2);
	counter_add("exportd_b", "", 1);
	n = counter_pending(snap);
	UNIT_EQ_INT(n, 2);
	/* Between the snapshot and the commit (the write), more events. */
	counter_add("exportd_a", "", 5);
	counter_add("exportd_c", "", 1);
	counter_commit(snap, n);
	UNIT_CHECK(value_of("exportd_a", "") == 5);
	UNIT_CHECK(value_of("exportd_b", "") == -1); /* written, gone */
	UNIT_CHECK(value_of("exportd_c", "") == 1);
	n = counter_pending(snap);
	UNIT_EQ_INT(n, 2);
}

int main(void)
{
	static const struct unit_test tests[] = {
		UNIT_TEST(test_add),
		UNIT_TEST(test_observe),
		UNIT_TEST(test_label),
		UNIT_TEST(test_bounded),
		UNIT_TEST(test_commit_keeps_new_events),
	};

	return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
