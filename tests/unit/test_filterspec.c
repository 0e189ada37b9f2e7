/* test_filterspec.c - the stored filter form: parse, serialise, request
 * shape, SQL, without a database.
 *
 * The stored texts below are what http/filters.c wrote before the module
 * existed (json-c's plain output); the jsonb texts are PostgreSQL's output
 * of them, as the worker and GET read them back.
 */
#include "jobs/filterspec.h"

#include <stdio.h>
#include <string.h>

#include "unit.h"

/* Parse text, serialise again: the stored text comes back. */
static void check_round_trip(const char *text)
{
	struct filterspec fs;
	struct buf out, err;

	filterspec_init(&fs);
	buf_init(&out, 1 << 16);
	buf_init(&err, 256);
	if (UNIT_EQ_INT(filterspec_parse(text, &fs, &err), EX_OK)) {
		UNIT_EQ_INT(filterspec_stored(&fs, &out), EX_OK);
		UNIT_EQ_STR(buf_str(&out), text);
	}
	filterspec_free(&fs);
	buf_free(&out);
	buf_free(&err);
}

static void test_round_trip(void)
{
	check_round_trip("{}");
	check_round_trip("{\"created_from\":\"2024-01-01T00:00:00.000000Z\"}");
	check_round_trip("{\"created_from\":\"2024-01-01T00:00:00.000000Z\","
			 "\"created_to\":\"2024-02-01T00:00:00.000000Z\","
			 "\"equals\":{\"country\":\"FR\",\"is_active\":true,\"company\":null}}");
	check_round_trip("{\"equals\":{\"n\":42,\"x\":1.50,\"y\":-0.0,\"z\":1e3,\"f\":false}}");
	/* json-c escapes "/" and control characters; non-ASCII stays raw. */
	check_round_trip("{\"equals\":{\"url\":\"http:\\/\\/x\\\"y\\\\\",\"crlf\":\"a\\r\\nb\","
			 "\"city\":\"Z\xc3\xbcrich\"}}");
}

/* The text PostgreSQL's jsonb gives back: keys reordered, spaces. */
static void test_parse_jsonb(void)
{
	struct filterspec fs;
	struct buf err;

	filterspec_init(&fs);
	buf_init(&err, 256);
	UNIT_EQ_INT(
		filterspec_parse("{\"equals\": {\"city\": null, \"country\": \"FR\", \"n\": 7}, "
				 "\"created_to\": \"2024-02-01T00:00:00.000000Z\", "
				 "\"created_from\": \"2024-01-01T00:00:00Z\"}",
				 &fs, &err),
		EX_OK);
	UNIT_EQ_STR(fs.created_from, "2024-01-01T00:00:00Z");
	UNIT_EQ_STR(fs.created_to, "2024-02-01T00:00:00.000000Z");
	if (UNIT_EQ_INT(fs.nequals, 3)) {
		UNIT_EQ_STR(fs.equals[0].column, "city");
		UNIT_EQ_INT(fs.equals[0].kind, FILTERSPEC_NULL);
		UNIT_CHECK(fs.equals[0].text == NULL);
		UNIT_EQ_STR(fs.equals[1].column, "country");
		UNIT_EQ_INT(fs.equals[1].kind, FILTERSPEC_STRING);
		UNIT_EQ_STR(fs.equals[1].text, "FR");
		UNIT_EQ_INT(fs.equals[2].kind, FILTERSPEC_NUMBER);
		UNIT_EQ_STR(fs.equals[2].text, "7");
	}
	filterspec_free(&fs);
	/* No text (no filters) and null members are no filters. */
	UNIT_EQ_INT(filterspec_parse(NULL, &fs, &err), EX_OK);
	UNIT_EQ_INT(filterspec_parse("{\"created_from\": null, \"equals\": null}", &fs, &err),
		    EX_OK);
	UNIT_CHECK(fs.created_from == NULL && fs.nequals == 0);
	filterspec_free(&fs);
	buf_free(&err);
}

static void check_refused(const char *text, enum ex_status want, const char *msg)
{
	struct filterspec fs;
	struct buf err;

	filterspec_init(&fs);
	buf_init(&err, 256);
	UNIT_EQ_INT(filterspec_parse(text, &fs, &err), want);
	UNIT_EQ_STR(buf_str(&err), msg);
	filterspec_free(&fs);
	buf_free(&err);
}

static void test_strict(void)
{
	check_refused("{\"status\": \"paid\"}", EX_EINVAL,
		      "unknown member \"status\" in the stored filters");
	check_refused("[]", EX_EINVAL, "the stored filters are not a JSON object");
	check_refused("null", EX_EINVAL, "the stored filters are not a JSON object");
	check_refused("{", EX_EINVAL, "the stored filters are not a JSON object");
	check_refused("{\"created_to\": 5}", EX_EINVAL,
		      "filter created_to is not a date-time string");
	check_refused("{\"equals\": []}", EX_EINVAL, "filter equals is not an object");
	check_refused("{\"equals\": {\"a\": [1]}}", EX_EINVAL,
		      "filter on \"a\": a list or object is not a value");
	check_refused("{\"equals\": {\"a\": {\"b\": 1}}}", EX_EINVAL,
		      "filter on \"a\": a list or object is not a value");
}

static void test_cap(void)
{
	struct filterspec fs;
	struct buf text, err;
	char col[32];
	int i;

	filterspec_init(&fs);
	buf_init(&text, 1 << 16);
	buf_init(&err, 256);
	for (i = 0; i < FILTERSPEC_MAX_EQUALS; i++) {
		snprintf(col, sizeof(col), "c%d", i);
		UNIT_EQ_INT(filterspec_add_equal(&fs, col, FILTERSPEC_NUMBER, "1"), EX_OK);
	}
	UNIT_EQ_INT(filterspec_add_equal(&fs, "one_more", FILTERSPEC_NUMBER, "1"), EX_ETOOBIG);
	UNIT_EQ_INT(filterspec_stored(&fs, &text), EX_OK);
	filterspec_free(&fs);
	/* What fits is written and read; one more is refused on reading too. */
	UNIT_EQ_INT(filterspec_parse(buf_str(&text), &fs, &err), EX_OK);
	UNIT_EQ_INT(fs.nequals, FILTERSPEC_MAX_EQUALS);
	filterspec_free(&fs);
	buf_reset(&text);
	UNIT_EQ_INT(buf_puts(&text, "{\"equals\": {\"x\": 0"), EX_OK);
	for (i = 0; i < FILTERSPEC_MAX_EQUALS; i++) {
		UNIT_EQ_INT(buf_printf(&text, ", \"c%d\": 1", i), EX_OK);
	}
	UNIT_EQ_INT(buf_puts(&text, "}}"), EX_OK);
	UNIT_EQ_INT(filterspec_parse(buf_str(&text), &fs, &err), EX_ETOOBIG);
	UNIT_EQ_STR(buf_str(&err), "filter on \"c57\": too many equality filters");
	filterspec_free(&fs);
	buf_free(&text);
	buf_free(&err);
}

static void test_add_checks(void)
{
	struct filterspec fs;

	filterspec_init(&fs);
	UNIT_EQ_INT(filterspec_add_equal(&fs, "a", FILTERSPEC_STRING, "x"), EX_OK);
	UNIT_EQ_INT(filterspec_add_equal(&fs, "a", FILTERSPEC_STRING, "y"), EX_EINVAL);
	UNIT_EQ_INT(filterspec_add_equal(&fs, "b", FILTERSPEC_NULL, "x"), EX_EINVAL);
	UNIT_EQ_INT(filterspec_add_equal(&fs, "b", FILTERSPEC_STRING, NULL), EX_EINVAL);
	UNIT_EQ_INT(filterspec_add_equal(&fs, "b", FILTERSPEC_BOOLEAN, "yes"), EX_EINVAL);
	/* A number must be written back as it is compared. */
	UNIT_EQ_INT(filterspec_add_equal(&fs, "b", FILTERSPEC_NUMBER, "abc"), EX_EINVAL);
	UNIT_EQ_INT(filterspec_add_equal(&fs, "b", FILTERSPEC_NUMBER, "1 2"), EX_EINVAL);
	UNIT_EQ_INT(filterspec_add_equal(&fs, "b", FILTERSPEC_NUMBER, "-0"), EX_EINVAL);
	UNIT_EQ_INT(filterspec_add_equal(&fs, "b", FILTERSPEC_NUMBER, "-0.0"), EX_OK);
	UNIT_EQ_INT(fs.nequals, 2);
	UNIT_EQ_INT(filterspec_set_bound(&fs, "created_at", "x"), EX_EINVAL);
	UNIT_EQ_INT(filterspec_set_bound(&fs, "created_to", "x"), EX_OK);
	UNIT_EQ_INT(filterspec_set_bound(&fs, "created_to", "y"), EX_OK);
	UNIT_EQ_STR(fs.created_to, "y");
	filterspec_free(&fs);
}

/* Request values as http/filters.c hands them over. */
static void test_value(void)
{
	struct json_object *o = json_tokener_parse("[\"s\", 12, 1.50, true, null, [], {}]");
	static const int kinds[] = {FILTERSPEC_STRING, FILTERSPEC_NUMBER, FILTERSPEC_NUMBER,
				    FILTERSPEC_BOOLEAN, FILTERSPEC_NULL};
	static const char *const texts[] = {"s", "12", "1.50", "true", NULL};
	struct json_object *nul = json_object_new_string_len("a\0b", 3);
	enum filterspec_kind kind;
	const char *text;
	size_t i;

	for (i = 0; i < 5; i++) {
		UNIT_EQ_INT(filterspec_value(json_object_array_get_idx(o, i), &kind, &text), EX_OK);
		UNIT_EQ_INT(kind, kinds[i]);
		UNIT_EQ_STR(text, texts[i]);
	}
	UNIT_EQ_INT(filterspec_value(json_object_array_get_idx(o, 5), &kind, &text), EX_EINVAL);
	UNIT_EQ_INT(filterspec_value(json_object_array_get_idx(o, 6), &kind, &text), EX_EINVAL);
	UNIT_EQ_INT(filterspec_value(nul, &kind, &text), EX_EINVAL);
	json_object_put(nul);
	json_object_put(o);
}

static void test_request_shape(void)
{
	struct filterspec fs;
	struct json_object *r;
	struct buf err;

	filterspec_init(&fs);
	buf_init(&err, 256);
	UNIT_EQ_INT(filterspec_parse("{\"equals\": {\"city\": null, \"n\": 1.50, \"ok\": false}, "
				     "\"created_to\": \"2024-02-01T00:00:00.000000Z\"}",
				     &fs, &err),
		    EX_OK);
	r = filterspec_request(&fs);
	if (UNIT_CHECK(r != NULL)) {
		UNIT_EQ_STR(json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN),
			    "{\"created_to\":\"2024-02-01T00:00:00.000000Z\",\"city\":null,"
			    "\"n\":1.50,\"ok\":false}");
	}
	json_object_put(r);
	filterspec_free(&fs);
	r = filterspec_request(&fs);
	UNIT_EQ_STR(json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN), "{}");
	json_object_put(r);
	buf_free(&err);
}

/* The query's column reference, as exportd/query.c writes it for
 * identifiers without quotes in them. */
static enum ex_status test_column(void *ctx, const char *name, struct buf *out)
{
	return buf_printf(out, "%s.\"%s\"", (const char *)ctx, name);
}

static char test_alias[] = "_src";

static char test_name[] = "contacts", test_created_at[] = "created_at";
static char test_country[] = "country", test_active[] = "is_active", test_city[] = "city";
static char *test_filterable[] = {test_country, test_active, test_city};

static const struct registry_type test_type = {
	.name = test_name,
	.filterable = test_filterable,
	.nfilterable = 3,
	.created_at_column = test_created_at,
};

static void test_sql(void)
{
	const char *values[8] = {"ws", NULL};
	int nparams = 2;
	struct buf sql, err;
	struct filterspec_sql out = {
		.sql = &sql,
		.values = values,
		.nparams = &nparams,
		.maxparams = 8,
		.column = test_column,
		.column_ctx = test_alias,
	};
	struct filterspec fs;

	filterspec_init(&fs);
	buf_init(&sql, 4096);
	buf_init(&err, 256);
	UNIT_EQ_INT(filterspec_parse("{\"equals\": {\"city\": null, \"country\": \"FR\", "
				     "\"is_active\": true}, \"created_to\": \"T2\", "
				     "\"created_from\": \"T1\"}",
				     &fs, &err),
		    EX_OK);
	UNIT_EQ_INT(filterspec_sql(&fs, &test_type, &out, &err), EX_OK);
	UNIT_EQ_STR(buf_str(&sql), " AND _src.\"created_at\" >= $3::timestamptz"
				   " AND _src.\"created_at\" < $4::timestamptz"
				   " AND _src.\"city\" IS NULL"
				   " AND _src.\"country\" = $5"
				   " AND _src.\"is_active\" = $6");
	UNIT_EQ_INT(nparams, 6);
	UNIT_EQ_STR(values[2], "T1");
	UNIT_EQ_STR(values[3], "T2");
	UNIT_EQ_STR(values[4], "FR");
	UNIT_EQ_STR(values[5], "true");
	/* One parameter short. */
	nparams = 3;
	out.maxparams = 6;
	buf_reset(&sql);
	UNIT_EQ_INT(filterspec_sql(&fs, &test_type, &out, &err), EX_ETOOBIG);
	filterspec_free(&fs);
	buf_free(&sql);
	buf_free(&err);
}

static void check_sql_refused(const char *text, const struct registry_type *t, const char *msg)
{
	const char *values[8];
	int nparams = 0;
	struct buf sql, err;
	struct filterspec_sql out = {
		.sql = &sql,
		.values = values,
		.nparams = &nparams,
		.maxparams = 8,
		.column = test_column,
		.column_ctx = test_alias,
	};
	struct filterspec fs;

	filterspec_init(&fs);
	buf_init(&sql, 4096);
	buf_init(&err, 256);
	UNIT_EQ_INT(filterspec_parse(text, &fs, &err), EX_OK);
	UNIT_EQ_INT(filterspec_sql(&fs, t, &out, &err), EX_EPERM);
	UNIT_EQ_STR(buf_str(&err), msg);
	filterspec_free(&fs);
	buf_free(&sql);
	buf_free(&err);
}

static void test_sql_type_changed(void)
{
	struct registry_type no_time = test_type;

	no_time.created_at_column = NULL;
	check_sql_refused("{\"created_to\": \"T2\"}", &no_time,
			  "filter created_to cannot be applied to type contacts");
	check_sql_refused("{\"equals\": {\"email\": \"a@b\"}}", &test_type,
			  "column \"email\" can no longer be filtered on for type contacts");
}

/* Numbers keep the text they were sent as, through the stored form and
 * PostgreSQL's jsonb, or are refused: never another value (issue 11). */
static void check_number(const char *text, const char *stored)
{
	struct filterspec fs, back;
	struct json_object *shape;
	struct buf out, err;

	filterspec_init(&fs);
	filterspec_init(&back);
	buf_init(&out, 4096);
	buf_init(&err, 256);
	UNIT_EQ_INT(filterspec_add_equal(&fs, "n", FILTERSPEC_NUMBER, text), EX_OK);
	UNIT_EQ_INT(filterspec_stored(&fs, &out), EX_OK);
	UNIT_EQ_STR(buf_str(&out), stored);
	if (UNIT_EQ_INT(filterspec_parse(buf_str(&out), &back, &err), EX_OK)) {
		UNIT_EQ_STR(back.equals[0].text, text);
	}
	shape = filterspec_request(&back);
	UNIT_EQ_STR(json_object_get_string(json_object_object_get(shape, "n")), text);
	json_object_put(shape);
	filterspec_free(&fs);
	filterspec_free(&back);
	buf_free(&out);
	buf_free(&err);
}

static void test_numbers_exact(void)
{
	check_number("1e30", "{\"equals\":{\"n\":{\"number\":\"1e30\"}}}");
	check_number("1.5E+30", "{\"equals\":{\"n\":{\"number\":\"1.5E+30\"}}}");
	check_number("0.5e20", "{\"equals\":{\"n\":{\"number\":\"0.5e20\"}}}");
	check_number("12345678901234567890",
		     "{\"equals\":{\"n\":{\"number\":\"12345678901234567890\"}}}");
	check_number("-123456789012345678901234567",
		     "{\"equals\":{\"n\":{\"number\":\"-123456789012345678901234567\"}}}");
	/* What jsonb and json-c give back as they are stays bare. */
	check_number("1.50", "{\"equals\":{\"n\":1.50}}");
	check_number("1e3", "{\"equals\":{\"n\":1e3}}");
	check_number("1e-30", "{\"equals\":{\"n\":1e-30}}");
	check_number("1.5e1", "{\"equals\":{\"n\":1.5e1}}");
	check_number("-0.0", "{\"equals\":{\"n\":-0.0}}");
	check_number("922337203685477580", "{\"equals\":{\"n\":922337203685477580}}");
	check_number("1e99999999999999999999", "{\"equals\":{\"n\":{\"number\":"
					       "\"1e99999999999999999999\"}}}");
}

static void check_parse_refused(const char *text, const char *msg)
{
	struct filterspec fs;
	struct buf err;

	filterspec_init(&fs);
	buf_init(&err, 256);
	UNIT_EQ_INT(filterspec_parse(text, &fs, &err), EX_EINVAL);
	UNIT_EQ_STR(buf_str(&err), msg);
	filterspec_free(&fs);
	buf_free(&err);
}

static void test_numbers_refused(void)
{
	struct json_object *o = json_tokener_parse(
		"[NaN, Infinity, -Infinity, 18446744073709551616, -9223372036854775809, 1e400, "
		"-0]");
	static const enum filterspec_number want[] = {
		FILTERSPEC_NUMBER_NOT_FINITE, FILTERSPEC_NUMBER_NOT_FINITE,
		FILTERSPEC_NUMBER_NOT_FINITE, FILTERSPEC_NUMBER_CUT,
		FILTERSPEC_NUMBER_CUT,	      FILTERSPEC_NUMBER_EXACT,
		FILTERSPEC_NUMBER_EXACT,
	};
	struct filterspec fs;
	enum filterspec_kind kind;
	const char *text;
	size_t i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		UNIT_EQ_INT(filterspec_number(json_object_array_get_idx(o, i)), want[i]);
		UNIT_EQ_INT(filterspec_value(json_object_array_get_idx(o, i), &kind, &text),
			    want[i] == FILTERSPEC_NUMBER_EXACT ? EX_OK : EX_EINVAL);
	}
	json_object_put(o);
	filterspec_init(&fs);
	UNIT_EQ_INT(filterspec_add_equal(&fs, "a", FILTERSPEC_NUMBER, "NaN"), EX_EINVAL);
	UNIT_EQ_INT(filterspec_add_equal(&fs, "a", FILTERSPEC_NUMBER, "Infinity"), EX_EINVAL);
	UNIT_EQ_INT(filterspec_add_equal(&fs, "a", FILTERSPEC_NUMBER, "+1"), EX_EINVAL);
	UNIT_EQ_INT(filterspec_add_equal(&fs, "a", FILTERSPEC_NUMBER, "1."), EX_EINVAL);
	UNIT_EQ_INT(filterspec_add_equal(&fs, "a", FILTERSPEC_NUMBER, "01"), EX_EINVAL);
	UNIT_EQ_INT(fs.nequals, 0);
	filterspec_free(&fs);
	/* jsonb's text of 1e30 read back bare: json-c cuts it, so it is refused
	 * rather than compared as 18446744073709551615. */
	check_parse_refused("{\"equals\": {\"n\": 1000000000000000000000000000000}}",
			    "filter on \"n\": the number 18446744073709551615 cannot be read "
			    "exactly");
	check_parse_refused("{\"equals\": {\"n\": {\"number\": \"NaN\"}}}",
			    "filter on \"n\": invalid input");
}

int main(void)
{
	static const struct unit_test tests[] = {
		UNIT_TEST(test_round_trip),	  UNIT_TEST(test_parse_jsonb),
		UNIT_TEST(test_strict),		  UNIT_TEST(test_cap),
		UNIT_TEST(test_add_checks),	  UNIT_TEST(test_value),
		UNIT_TEST(test_request_shape),	  UNIT_TEST(test_sql),
		UNIT_TEST(test_sql_type_changed), UNIT_TEST(test_numbers_exact),
		UNIT_TEST(test_numbers_refused),
	};

	return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
