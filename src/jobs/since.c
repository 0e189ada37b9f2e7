/* since.c - the incremental export's cursor: its one encoder and decoder. */
#include "jobs/since.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"

#define SINCE_PREFIX "c1."

enum ex_status since_encode(const char *type, const char *workspace, const char *at,
			    const char *key, struct buf *out)
{
	struct json_object *a = json_object_new_array();
	char enc[SINCE_MAX];
	const char *text;
	enum ex_status st;

	/* What since_decode() refuses is never given out. */
	if (type[0] == '\0' || workspace[0] == '\0' || at[0] == '\0') {
		json_object_put(a);
		return EX_EINVAL;
	}
	if (a == NULL) {
		return EX_ENOMEM;
	}
	json_object_array_add(a, json_object_new_string(type));
	json_object_array_add(a, json_object_new_string(workspace));
	json_object_array_add(a, json_object_new_string(at));
	json_object_array_add(a, key != NULL ? json_object_new_string(key) : NULL);
	text = json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN);
	st = crypto_b64url_encode(text, strlen(text), enc, sizeof(enc) - strlen(SINCE_PREFIX));
	if (st) {
		st = EX_ETOOBIG;
		goto out;
	}
	buf_reset(out);
	st = buf_puts(out, SINCE_PREFIX);
	if (st) {
		goto out;
	}
	st = buf_puts(out, enc);
out:
	json_object_put(a);
	return st;
}

/* Member i of a: a copy of its string, or NULL for JSON null when
 * nullable (the key, which may also be empty); EX_EINVAL for anything
 * else. */
static enum ex_status since_member(struct json_object *a, size_t i, int nullable, char **out)
{
	struct json_object *v = json_object_array_get_idx(a, i);
	const char *s;

	if (v == NULL) {
		return nullable ? EX_OK : EX_EINVAL;
	}
	if (!json_object_is_type(v, json_type_string)) {
		return EX_EINVAL;
	}
	s = json_object_get_string(v);
	if ((s[0] == '\0' && !nullable) || strlen(s) != (size_t)json_object_get_string_len(v)) {
		return EX_EINVAL; /* empty (a key may be), or a NUL inside */
	}
	*out = strdup(s);
	return *out != NULL ? EX_OK : EX_ENOMEM;
}

static enum ex_status since_fields(struct json_object *a, struct since_cursor *c)
{
	enum ex_status st;

	if (!json_object_is_type(a, json_type_array) || json_object_array_length(a) != 4) {
		return EX_EINVAL;
	}
	st = since_member(a, 0, 0, &c->type);
	if (st) {
		return st;
	}
	st = since_member(a, 1, 0, &c->workspace);
	if (st) {
		return st;
	}
	st = since_member(a, 2, 0, &c->at);
	if (st) {
		return st;
	}
	return since_member(a, 3, 1, &c->key);
}

enum ex_status since_decode(const char *text, struct since_cursor *c, struct buf *err)
{
	struct json_object *a = NULL;
	size_t n = strlen(SINCE_PREFIX), len = 0;
	char raw[SINCE_MAX];
	enum ex_status st = EX_EINVAL;

	memset(c, 0, sizeof(*c));
	if (strncmp(text, SINCE_PREFIX, n) != 0 || strlen(text) > SINCE_MAX ||
	    crypto_b64url_decode(text + n, raw, sizeof(raw) - 1, &len)) {
		goto out;
	}
	raw[len] = '\0';
	if (strlen(raw) != len) {
		goto out;
	}
	a = json_tokener_parse(raw);
	st = since_fields(a, c);
out:
	json_object_put(a);
	if (st == EX_EINVAL) {
		buf_msg(err, "%s",
			"is not a cursor exportd gave out (next_since of a complete export)");
	}
	return st;
}

enum ex_status since_check(const struct since_cursor *c, const char *type, const char *workspace,
			   struct buf *err)
{
	if (strcmp(c->type, type) != 0) {
		buf_msg(err, "%s", "is the cursor of an export of another type");
		return EX_EINVAL;
	}
	if (strcmp(c->workspace, workspace) != 0) {
		buf_msg(err, "%s", "is the cursor of another workspace's export");
		return EX_EINVAL;
	}
	return EX_OK;
}

void since_free(struct since_cursor *c)
{
	free(c->type);
	free(c->workspace);
	free(c->at);
	free(c->key);
	memset(c, 0, sizeof(*c));
}
