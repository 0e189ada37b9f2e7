/* fuzz_filters.c - an export's filters (jobs/filterspec.h): the request's
 * flat object taken apart value by value as http/filters.c does, and the
 * stored form read back by filterspec_parse.
 *
 * Input: a JSON text, tried both as a request's "filters" member and as a
 * stored form.  Properties: whatever is accepted has a stored form that
 * parses back to the same filters and is written again byte for byte; its
 * request shape can be built. */
#include <json-c/json.h>

#include "fuzz.h"
#include "jobs/filterspec.h"

#define FUZZ_FILTERS_CAP (1 << 20)

static void fuzz_filters_same(const struct filterspec *a, const struct filterspec *b)
{
	int i;

	FUZZ_CHECK(a->nequals == b->nequals);
	FUZZ_CHECK((a->created_from == NULL) == (b->created_from == NULL));
	FUZZ_CHECK(a->created_from == NULL || strcmp(a->created_from, b->created_from) == 0);
	FUZZ_CHECK((a->created_to == NULL) == (b->created_to == NULL));
	FUZZ_CHECK(a->created_to == NULL || strcmp(a->created_to, b->created_to) == 0);
	for (i = 0; i < a->nequals; i++) {
		FUZZ_CHECK(strcmp(a->equals[i].column, b->equals[i].column) == 0);
		FUZZ_CHECK(a->equals[i].kind == b->equals[i].kind);
		FUZZ_CHECK((a->equals[i].text == NULL) == (b->equals[i].text == NULL));
		FUZZ_CHECK(a->equals[i].text == NULL ||
			   strcmp(a->equals[i].text, b->equals[i].text) == 0);
	}
}

/* fs accepted: stored, parsed back, stored again. */
static void fuzz_filters_roundtrip(const struct filterspec *fs)
{
	struct buf s1, s2, err;
	struct filterspec back;
	struct json_object *shape;
	enum ex_status st;

	buf_init(&s1, FUZZ_FILTERS_CAP);
	buf_init(&s2, FUZZ_FILTERS_CAP);
	buf_init(&err, 1024);
	filterspec_init(&back);
	st = filterspec_stored(fs, &s1);
	FUZZ_CHECK(st == EX_OK);
	st = filterspec_parse(buf_str(&s1), &back, &err);
	if (st) {
		fprintf(stderr, "stored form refused: %s: %s\n", buf_str(&err), buf_str(&s1));
	}
	FUZZ_CHECK(st == EX_OK);
	fuzz_filters_same(fs, &back);
	st = filterspec_stored(&back, &s2);
	FUZZ_CHECK(st == EX_OK);
	FUZZ_CHECK(s1.len == s2.len && memcmp(s1.data, s2.data, s1.len) == 0);
	shape = filterspec_request(fs);
	FUZZ_CHECK(shape != NULL);
	json_object_put(shape);
	filterspec_free(&back);
	buf_free(&s1);
	buf_free(&s2);
	buf_free(&err);
}

/* One member of a request's filters, as http/filters.c takes it (minus the
 * database's cast). */
static void fuzz_filters_member(struct filterspec *fs, const char *key, struct json_object *v)
{
	enum filterspec_kind kind;
	const char *text;
	enum ex_status st;

	if (strcmp(key, "created_from") == 0 || strcmp(key, "created_to") == 0) {
		if (json_object_is_type(v, json_type_string)) {
			st = filterspec_set_bound(fs, key, json_object_get_string(v));
			FUZZ_CHECK(st == EX_OK);
		}
		return;
	}
	if ((json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)) &&
	    filterspec_number(v) != FILTERSPEC_NUMBER_EXACT) {
		return;
	}
	if (filterspec_value(v, &kind, &text) != EX_OK) {
		return;
	}
	st = filterspec_add_equal(fs, key, kind, text);
	FUZZ_CHECK(st == EX_OK || st == EX_ETOOBIG);
}

static void fuzz_filters_request(const char *text, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;
	struct filterspec fs;

	FUZZ_CHECK(tok != NULL);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, text, (int)len);
	if (json_tokener_get_error(tok) == json_tokener_success &&
	    json_object_is_type(o, json_type_object)) {
		filterspec_init(&fs);
		json_object_object_foreach(o, key, val)
		{
			fuzz_filters_member(&fs, key, val);
		}
		fuzz_filters_roundtrip(&fs);
		filterspec_free(&fs);
	}
	json_object_put(o);
	json_tokener_free(tok);
}

static void fuzz_filters_stored(const char *text)
{
	struct filterspec fs;
	struct buf err;

	buf_init(&err, 1024);
	filterspec_init(&fs);
	if (filterspec_parse(text, &fs, &err) == EX_OK) {
		fuzz_filters_roundtrip(&fs);
	} else {
		FUZZ_CHECK(err.len > 0);
	}
	filterspec_free(&fs);
	buf_free(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_dup(data, size);

	if (size < INT32_MAX) {
		fuzz_filters_request(text, size);
	}
	fuzz_filters_stored(text);
	free(text);
	return 0;
}
