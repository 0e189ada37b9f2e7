/* The incremental cursor (jobs/since.h): what is encoded decodes back, the
 * form is the documented one, and anything else is refused. */
#include "jobs/since.h"

#include "common/crypto.h"

#include "unit.h"

/* "c1." + base64url(json) */
static void unit_cursor(const char *json, struct buf *out)
{
	char enc[1024];

	buf_reset(out);
	if (!UNIT_CHECK(crypto_b64url_encode(json, strlen(json), enc, sizeof(enc)) == EX_OK)) {
		return;
	}
	UNIT_CHECK(buf_puts(out, "c1.") == EX_OK && buf_puts(out, enc) == EX_OK);
}

static void test_round_trip(void)
{
	struct since_cursor c;
	struct buf b, err;

	buf_init(&b, SINCE_MAX);
	buf_init(&err, 256);
	UNIT_EQ_INT(since_encode("contacts", "acme", "2026-12-06 05:00:00.5+00", "42", &b), EX_OK);
	UNIT_CHECK(strncmp(buf_str(&b), "c1.", 3) == 0);
	UNIT_CHECK(strpbrk(buf_str(&b) + 3, "+/=.") == NULL); /* base64url, unpadded */
	UNIT_EQ_INT(since_decode(buf_str(&b), &c, &err), EX_OK);
	UNIT_EQ_STR(c.type, "contacts");
	UNIT_EQ_STR(c.workspace, "acme");
	UNIT_EQ_STR(c.at, "2026-12-06 05:00:00.5+00");
	UNIT_EQ_STR(c.key, "42");
	UNIT_EQ_INT(since_check(&c, "contacts", "acme", &err), EX_OK);
	UNIT_EQ_INT(since_check(&c, "contacts", "other", &err), EX_EINVAL);
	UNIT_CHECK(strstr(buf_str(&err), "workspace") != NULL);
	UNIT_EQ_INT(since_check(&c, "invoices", "acme", &err), EX_EINVAL);
	UNIT_CHECK(strstr(buf_str(&err), "type") != NULL);
	since_free(&c);
	/* No key (a full export's cursor), an empty key, quotes and newlines. */
	UNIT_EQ_INT(since_encode("t", "w \"x\"\n", "2026-01-01 00:00:00+00", NULL, &b), EX_OK);
	UNIT_EQ_INT(since_decode(buf_str(&b), &c, &err), EX_OK);
	UNIT_CHECK(c.key == NULL);
	UNIT_EQ_STR(c.workspace, "w \"x\"\n");
	since_free(&c);
	UNIT_EQ_INT(since_encode("t", "w", "2026-01-01 00:00:00+00", "", &b), EX_OK);
	UNIT_EQ_INT(since_decode(buf_str(&b), &c, &err), EX_OK);
	UNIT_EQ_STR(c.key, "");
	since_free(&c);
	buf_free(&b);
	buf_free(&err);
}

static void test_documented_form(void)
{
	struct since_cursor c;
	struct buf b, err;

	buf_init(&b, SINCE_MAX);
	buf_init(&err, 256);
	unit_cursor("[\"contacts\",\"acme\",\"2026-01-01 00:00:00+00\",\"7\"]", &b);
	UNIT_EQ_INT(since_decode(buf_str(&b), &c, &err), EX_OK);
	UNIT_EQ_STR(c.key, "7");
	since_free(&c);
	buf_free(&b);
	buf_free(&err);
}

static void test_refused(void)
{
	static const char *const json[] = {
		"{}",
		"[]",
		"[\"t\",\"w\",\"2026-01-01 00:00:00+00\"]",
		"[\"t\",\"w\",\"2026-01-01 00:00:00+00\",\"1\",\"extra\"]",
		"[\"t\",\"w\",null,\"1\"]",
		"[\"\",\"w\",\"2026-01-01 00:00:00+00\",\"1\"]",
		"[\"t\",\"w\",\"2026-01-01 00:00:00+00\",1]",
		"[\"t\",\"w\\u0000x\",\"2026-01-01 00:00:00+00\",\"1\"]",
		"not json",
	};
	static const char *const text[] = {"", "c1.", "c2.W10", "c1.***", "x1.W10", "C1.W10"};
	struct since_cursor c;
	struct buf b, err;
	size_t i;

	buf_init(&b, SINCE_MAX);
	buf_init(&err, 256);
	for (i = 0; i < sizeof(json) / sizeof(json[0]); i++) {
		unit_cursor(json[i], &b);
		buf_reset(&err);
		if (!UNIT_EQ_INT(since_decode(buf_str(&b), &c, &err), EX_EINVAL)) {
			fprintf(stderr, "  accepted %s\n", json[i]);
		}
		UNIT_CHECK(strstr(buf_str(&err), "not a cursor") != NULL);
		since_free(&c);
	}
	for (i = 0; i < sizeof(text) / sizeof(text[0]); i++) {
		UNIT_EQ_INT(since_decode(text[i], &c, &err), EX_EINVAL);
		since_free(&c);
	}
	buf_free(&b);
	buf_free(&err);
}

int main(void)
{
	static const struct unit_test tests[] = {
		UNIT_TEST(test_round_trip),
		UNIT_TEST(test_documented_form),
		UNIT_TEST(test_refused),
	};

	return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
