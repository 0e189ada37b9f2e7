/* test_quota.c - the per-workspace quotas without a database
 * (jobs_usage_over, jobjson_quota): which limit a usage row reached, in
 * which order, 0 as no limit, and the "quota" object the API shows. */
#include <string.h>

#include "common/conf.h"
#include "jobs/jobjson.h"
#include "jobs/jobs.h"
#include "unit.h"

static const struct jobs_limits limits = {
	.active = 3, .creates_per_hour = 5, .retained_files = 4, .retained_bytes = 1000};

static void test_below_every_limit_passes(void)
{
	struct jobs_usage u = {
		.active = 2, .creates_hour = 4, .retained_files = 3, .retained_bytes = 999};

	UNIT_EQ_INT(jobs_usage_over(&u, &limits), JOBS_QUOTA_NONE);
}

/* At the limit is refused: the limit is what a workspace may hold, and
 * the new export would be one more. */
static void test_each_limit_at_its_value(void)
{
	struct jobs_usage u = {.active = 3};

	UNIT_EQ_INT(jobs_usage_over(&u, &limits), JOBS_QUOTA_ACTIVE);
	memset(&u, 0, sizeof(u));
	u.creates_hour = 5;
	UNIT_EQ_INT(jobs_usage_over(&u, &limits), JOBS_QUOTA_CREATES);
	memset(&u, 0, sizeof(u));
	u.retained_files = 4;
	UNIT_EQ_INT(jobs_usage_over(&u, &limits), JOBS_QUOTA_FILES);
	memset(&u, 0, sizeof(u));
	u.retained_bytes = 1000;
	UNIT_EQ_INT(jobs_usage_over(&u, &limits), JOBS_QUOTA_BYTES);
	u.retained_bytes = 5000; /* past it: a running export may go over (README) */
	UNIT_EQ_INT(jobs_usage_over(&u, &limits), JOBS_QUOTA_BYTES);
}

static void test_order_active_creates_files_bytes(void)
{
	struct jobs_usage u = {
		.active = 9, .creates_hour = 9, .retained_files = 9, .retained_bytes = 9999};

	UNIT_EQ_INT(jobs_usage_over(&u, &limits), JOBS_QUOTA_ACTIVE);
	u.active = 0;
	UNIT_EQ_INT(jobs_usage_over(&u, &limits), JOBS_QUOTA_CREATES);
	u.creates_hour = 0;
	UNIT_EQ_INT(jobs_usage_over(&u, &limits), JOBS_QUOTA_FILES);
}

static void test_zero_is_no_limit(void)
{
	struct jobs_limits none = {.active = 1};
	struct jobs_usage u = {
		.creates_hour = 1000000, .retained_files = 1000000, .retained_bytes = 1LL << 50};

	UNIT_EQ_INT(jobs_usage_over(&u, &none), JOBS_QUOTA_NONE);
}

static void test_limits_from_config(void)
{
	struct jobs_limits l;
	struct config cf;
	struct buf err;

	buf_init(&err, 4096);
	if (!UNIT_EQ_INT(conf_load_text(&cf,
					"[export]\nmax_active_per_workspace = 7\n"
					"max_creates_per_hour_per_workspace = 0\n"
					"max_retained_files_per_workspace = 12\n"
					"max_retained_bytes_per_workspace = 2G\n",
					"test.conf", &err),
			 EX_OK)) {
		return;
	}
	jobs_limits_from(&cf, &l);
	UNIT_EQ_INT(l.active, 7);
	UNIT_EQ_INT(l.creates_per_hour, 0);
	UNIT_EQ_INT(l.retained_files, 12);
	UNIT_EQ_INT(l.retained_bytes, 2LL * 1024 * 1024 * 1024);
	conf_free(&cf);
	buf_free(&err);
}

/* {"used": n, "limit": n | null} per quota, named as the refusal names it. */
static void test_quota_object(void)
{
	struct jobs_limits l = {.active = 10, .retained_bytes = 1000};
	struct jobs_usage u = {
		.active = 1, .creates_hour = 2, .retained_files = 3, .retained_bytes = 400};
	struct json_object *o = jobjson_quota(&u, &l);

	UNIT_EQ_STR(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
		    "{\"active\":{\"used\":1,\"limit\":10},"
		    "\"creates_per_hour\":{\"used\":2,\"limit\":null},"
		    "\"retained_files\":{\"used\":3,\"limit\":null},"
		    "\"retained_bytes\":{\"used\":400,\"limit\":1000}}");
	UNIT_EQ_STR(jobjson_quota_name(JOBS_QUOTA_BYTES), "retained_bytes");
	UNIT_EQ_STR(jobjson_quota_name(JOBS_QUOTA_CREATES), "creates_per_hour");
	UNIT_CHECK(jobjson_quota_name(JOBS_QUOTA_NONE) == NULL);
	json_object_put(o);
}

int main(void)
{
	static const struct unit_test tests[] = {
		UNIT_TEST(test_below_every_limit_passes),
		UNIT_TEST(test_each_limit_at_its_value),
		UNIT_TEST(test_order_active_creates_files_bytes),
		UNIT_TEST(test_zero_is_no_limit),
		UNIT_TEST(test_limits_from_config),
		UNIT_TEST(test_quota_object),
	};

	return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
