/* fuzz_since.c - incremental export cursors (jobs/since.h), the `since` of
 * POST /exports and of plain-SQL jobs.
 *
 * Input: a cursor text, then type, workspace, at and key, NUL-separated
 * (an empty key stands for none).  Properties: decoding any text succeeds
 * or refuses with a reason; a cursor that decodes encodes again to one
 * that decodes to the same fields and is checked for its own type and
 * workspace only; a cursor encoded from fields decodes to them. */
#include "fuzz.h"
#include "jobs/since.h"

static int fuzz_since_same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Encode the fields; if that works, the cursor decodes to them. */
static void fuzz_since_roundtrip(const char *type, const char *workspace, const char *at,
				 const char *key)
{
	struct since_cursor c;
	struct buf out, err;

	buf_init(&out, SINCE_MAX * 2);
	buf_init(&err, 256);
	if (since_encode(type, workspace, at, key, &out) == EX_OK) {
		FUZZ_CHECK(out.len <= SINCE_MAX);
		FUZZ_CHECK(since_decode(buf_str(&out), &c, &err) == EX_OK);
		FUZZ_CHECK(strcmp(c.type, type) == 0 && strcmp(c.workspace, workspace) == 0);
		FUZZ_CHECK(strcmp(c.at, at) == 0 && fuzz_since_same(c.key, key));
		FUZZ_CHECK(since_check(&c, type, workspace, &err) == EX_OK);
		buf_reset(&err);
		FUZZ_CHECK(since_check(&c, type, "", &err) != EX_OK || workspace[0] == '\0');
		since_free(&c);
	}
	buf_free(&out);
	buf_free(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	char *text = fuzz_str(&in, NULL), *type = fuzz_str(&in, NULL);
	char *workspace = fuzz_str(&in, NULL), *at = fuzz_str(&in, NULL);
	char *key = fuzz_str(&in, NULL);
	struct since_cursor c;
	struct buf err;
	enum ex_status st;

	buf_init(&err, 256);
	st = since_decode(text, &c, &err);
	FUZZ_CHECK(st == EX_OK || (st == EX_EINVAL && err.len > 0));
	if (st == EX_OK) {
		FUZZ_CHECK(c.type != NULL && c.workspace != NULL && c.at != NULL);
		fuzz_since_roundtrip(c.type, c.workspace, c.at, c.key);
	}
	since_free(&c);
	fuzz_since_roundtrip(type, workspace, at, key[0] != '\0' ? key : NULL);
	buf_free(&err);
	free(text);
	free(type);
	free(workspace);
	free(at);
	free(key);
	return 0;
}
