/* test_create.c - POST /exports' body judged without a database
 * (create_judge, create_judge_columns): what reaches PostgreSQL is strict
 * UTF-8, has no NUL in a member name and no NaN/Infinity. */
#include "http/create.h"

#include <string.h>

#include "common/utf8.h"
#include "unit.h"

/* The field and detail of the first fault for body, "" and "" when none. */
static int judge(const char *body, size_t len, const char **field, char *detail, size_t size)
{
	struct create_req req;
	struct json_object *f = NULL, *d = NULL;
	struct problem p;
	int parsed;

	create_req_init(&req);
	create_judge(body, len, &req, &p);
	parsed = req.body != NULL;
	*field = "";
	detail[0] = '\0';
	if (problem_has_errors(&p)) {
		json_object_object_get_ex(p.body, "field", &f);
		json_object_object_get_ex(p.body, "detail", &d);
		*field = strcmp(json_object_get_string(f), "") == 0 ? "" : "member";
		snprintf(detail, size, "%s", json_object_get_string(d));
	}
	problem_free(&p);
	create_req_free(&req);
	return parsed;
}

static void test_strict_utf8(void)
{
	static const char *const bad[] = {
		"{\"type\": \"c\xc0\xaf\"}",
		"{\"type\": \"c\xed\xa0\x80\"}",
		"{\"type\": \"c\xf4\x90\x80\x80\"}",
		"{\"x\xed\xbf\xbf\": 1, \"type\": \"c\"}",
		/* F8 is no lead byte (found by tests/fuzz) */
		"{\"type\": \"c\xf8\x90\x80\x80\"}",
	};
	const char *field, *body;
	char detail[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		UNIT_CHECK(!judge(bad[i], strlen(bad[i]), &field, detail, sizeof(detail)));
		UNIT_CHECK(strstr(detail, "UTF-8") != NULL);
	}
	/* U+10FFFF is fine. */
	body = "{\"type\": \"\xf4\x8f\xbf\xbf\"}";
	UNIT_CHECK(judge(body, strlen(body), &field, detail, sizeof(detail)));
	UNIT_EQ_STR(detail, "");
}

static void test_nul_in_member_name(void)
{
	static const char *const bad[] = {
		"{\"type\\u0000x\": \"contacts\"}",
		"{\"type\": \"contacts\", \"filters\": {\"country\\u0000\": \"FR\"}}",
		"{\"type\": \"contacts\", \"csv\" : {\"bom\\u0000\"  :  true}}",
	};
	const char *field, *body;
	char detail[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		UNIT_CHECK(!judge(bad[i], strlen(bad[i]), &field, detail, sizeof(detail)));
		UNIT_CHECK(strstr(detail, "NUL") != NULL);
	}
	/* In a value it is the member's fault; an escaped backslash is no NUL. */
	body = "{\"type\": \"a\\u0000b\"}";
	UNIT_CHECK(judge(body, strlen(body), &field, detail, sizeof(detail)));
	UNIT_EQ_STR(field, "member");
	body = "{\"type\": \"contacts\", \"a\\\\u0000\": 1}";
	UNIT_CHECK(judge(body, strlen(body), &field, detail, sizeof(detail)));
	UNIT_CHECK(strstr(detail, "NUL") == NULL);
}

static void test_columns_against_a_type(void)
{
	static char id[] = "id", email[] = "email", name[] = "contacts";
	static char *cols[] = {id, email};
	struct registry_type t = {.name = name, .columns = cols, .ncolumns = 2};
	const char *body = "{\"type\": \"contacts\", \"columns\": [\"id\", \"nope\", \"id\"]}";
	struct create_req req;
	struct problem p;

	create_req_init(&req);
	create_judge(body, strlen(body), &req, &p);
	UNIT_CHECK(!problem_has_errors(&p));
	UNIT_EQ_STR(req.type, "contacts");
	create_judge_columns(&req, &t, &p);
	UNIT_EQ_INT(json_object_array_length(json_object_object_get(p.body, "errors")), 2);
	problem_free(&p);
	create_req_free(&req);
}

int main(void)
{
	static const struct unit_test tests[] = {
		UNIT_TEST(test_strict_utf8),
		UNIT_TEST(test_nul_in_member_name),
		UNIT_TEST(test_columns_against_a_type),
	};

	return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
