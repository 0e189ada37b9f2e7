/* test_problem.c - problem bodies: the cap on "errors", and never a byte
 * of invalid UTF-8 in them, whatever a caller quotes. */
#include "http/problem.h"

#include <stdio.h>
#include <string.h>

#include "common/utf8.h"
#include "unit.h"

static void test_errors_capped(void)
{
	struct json_object *errors = NULL, *trunc = NULL;
	struct problem p;
	char field[32];
	int i;

	problem_init(&p, 400, "invalid-field", "Bad Request", "the request has invalid fields");
	for (i = 0; i < 5000; i++) {
		snprintf(field, sizeof(field), "columns/%d", i);
		problem_add_field(&p, field, "unknown column");
	}
	UNIT_CHECK(json_object_object_get_ex(p.body, "errors", &errors));
	UNIT_EQ_INT(json_object_array_length(errors), PROBLEM_MAX_ERRORS);
	UNIT_EQ_INT(PROBLEM_MAX_ERRORS, 50);
	UNIT_CHECK(json_object_object_get_ex(p.body, "truncated", &trunc));
	UNIT_CHECK(json_object_get_boolean(trunc));
	/* The first fault stays the one "field" names. */
	UNIT_EQ_STR(json_object_get_string(json_object_object_get(p.body, "field")), "columns/0");
	UNIT_CHECK(strlen(json_object_to_json_string(p.body)) < 8192);
	problem_free(&p);
}

static void test_under_the_cap(void)
{
	struct problem p;
	int i;

	problem_init(&p, 400, "invalid-field", "Bad Request", "x");
	for (i = 0; i < PROBLEM_MAX_ERRORS; i++) {
		problem_add_member(&p, "filters", "x", "bad");
	}
	UNIT_EQ_INT(json_object_array_length(json_object_object_get(p.body, "errors")),
		    PROBLEM_MAX_ERRORS);
	UNIT_CHECK(!json_object_object_get_ex(p.body, "truncated", NULL));
	problem_free(&p);
}

static void test_outside(void)
{
	struct json_object *e;
	struct problem p;

	problem_init(&p, 422, "invalid-workspace", "Unprocessable Content", "x");
	problem_add_outside(&p, "workspace", "api_key", "not canonical");
	e = json_object_array_get_idx(json_object_object_get(p.body, "errors"), 0);
	UNIT_EQ_STR(json_object_get_string(json_object_object_get(e, "in")), "api_key");
	UNIT_CHECK(!json_object_object_get_ex(e, "pointer", NULL));
	problem_free(&p);
}

/* Found by clang-analyzer: an outside fault with no place (in NULL) passed
 * NULL to strlen(); now it is an error with neither "in" nor "pointer". */
static void test_outside_without_in(void)
{
	struct json_object *e;
	struct problem p;

	problem_init(&p, 400, "bad-request", "Bad Request", "x");
	problem_add_outside(&p, "thing", NULL, "wrong");
	e = json_object_array_get_idx(json_object_object_get(p.body, "errors"), 0);
	UNIT_EQ_STR(json_object_get_string(json_object_object_get(e, "field")), "thing");
	UNIT_CHECK(!json_object_object_get_ex(e, "in", NULL));
	UNIT_CHECK(!json_object_object_get_ex(e, "pointer", NULL));
	problem_free(&p);
}

/* A caller quoting bytes that are not UTF-8 gets them repaired. */
static void test_never_invalid_utf8(void)
{
	struct problem p;
	const char *text;

	problem_init(&p, 400, "invalid-field", "Bad Request", "bad \xed\xa0\x80 detail");
	problem_add_field(&p, "a\xc0\xaf", "unknown field \"a\xc0\xaf\"");
	problem_add_member(&p, "filters", "\xf4\x90\x80\x80", "x\xff");
	text = json_object_to_json_string_ext(p.body, JSON_C_TO_STRING_PLAIN);
	UNIT_CHECK(utf8_valid(text, strlen(text)));
	problem_free(&p);
}

int main(void)
{
	static const struct unit_test tests[] = {
		UNIT_TEST(test_errors_capped),
		UNIT_TEST(test_under_the_cap),
		UNIT_TEST(test_outside),
		UNIT_TEST(test_outside_without_in),
		UNIT_TEST(test_never_invalid_utf8),
	};

	return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
