/* fuzz_create.c - the body of POST /exports judged without a database
 * (http/create.h: create_judge, then create_judge_columns with no type and
 * with an in-memory one).
 *
 * Properties: the problem answer is valid UTF-8 JSON with at most
 * PROBLEM_MAX_ERRORS errors whatever the body (nothing invalid is echoed);
 * a body judged without fault was strict UTF-8 and names a type. */
#include <json-c/json.h>

#include "common/utf8.h"
#include "fuzz.h"
#include "http/create.h"

static void fuzz_create_problem(struct problem *p)
{
	struct json_object *errors = NULL;
	const char *text;

	text = json_object_to_json_string_ext(p->body, JSON_C_TO_STRING_PLAIN);
	FUZZ_CHECK(text != NULL && utf8_valid(text, strlen(text)));
	if (json_object_object_get_ex(p->body, "errors", &errors)) {
		FUZZ_CHECK(json_object_array_length(errors) <= PROBLEM_MAX_ERRORS);
	}
	problem_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char name[] = "contacts", id[] = "id", email[] = "email", country[] = "country";
	static char *cols[] = {id, email, country};
	struct registry_type t = {.name = name, .columns = cols, .ncolumns = 3};
	char *raw = fuzz_dup(data, size);
	struct create_req req;
	struct problem p;

	create_req_init(&req);
	create_judge(raw, size, &req, &p);
	if (req.body != NULL && !problem_has_errors(&p)) {
		FUZZ_CHECK(utf8_valid(raw, size));
		FUZZ_CHECK(req.type != NULL);
	}
	fuzz_create_problem(&p);
	if (req.body != NULL) {
		problem_init(&p, 400, "invalid-field", "Bad Request", "columns");
		create_judge_columns(&req, NULL, &p);
		fuzz_create_problem(&p);
		problem_init(&p, 400, "invalid-field", "Bad Request", "columns");
		create_judge_columns(&req, &t, &p);
		fuzz_create_problem(&p);
	}
	create_req_free(&req);
	free(raw);
	return 0;
}
