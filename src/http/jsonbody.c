/* jsonbody.c - a request's JSON body, read and parsed strictly (see
 * jsonbody.h). */
#include "http/jsonbody.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/utf8.h"
#include "http/problem.h"

int jsonbody_type_ok(const char *ct)
{
	size_t n = strlen("application/json");

	/* application/json, optionally with parameters (charset=utf-8). */
	if (strncasecmp(ct, "application/json", n) != 0) {
		return 0;
	}
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

/* Does a member name of text (well-formed JSON, NUL-terminated) hold an
 * escaped NUL?  json-c cuts a name there, so {"type\u0000x": ...} would
 * pass for "type". */
static int jsonbody_nul_in_name(const char *text)
{
	const char *s = text;
	int nul;

	while ((s = strchr(s, '"')) != NULL) {
		nul = 0;
		for (s++; *s != '\0' && *s != '"'; s++) {
			if (*s == '\\') {
				nul |= strncmp(s + 1, "u0000", 5) == 0;
				s++; /* the escaped character: never the closing quote */
			}
		}
		if (*s == '\0') {
			return 0;
		}
		for (s++; isspace((unsigned char)*s); s++) {
		}
		if (nul && *s == ':') {
			return 1;
		}
	}
	return 0;
}

/* Parse the body strictly: strict UTF-8 (json-c's own check lets overlong
 * forms, surrogates and code points past U+10FFFF through, and PostgreSQL
 * then refuses them), one JSON value, nothing after it but whitespace.
 * The terminating NUL is handed to the tokener too, so a bare top-level
 * number ends where the body ends. */
struct json_object *jsonbody_parse(const char *raw, size_t len, const char **why)
{
	struct json_tokener *tok = NULL;
	struct json_object *obj = NULL;
	enum json_tokener_error jerr;
	size_t used;

	*why = "the body is not valid UTF-8 (RFC 3629), so it is not JSON";
	if (strlen(raw) != len || !utf8_valid(raw, len)) {
		return NULL;
	}
	*why = "the body is not valid JSON";
	tok = json_tokener_new();
	if (tok == NULL) {
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, raw, (int)len + 1);
	jerr = json_tokener_get_error(tok);
	used = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	while (used < len && isspace((unsigned char)raw[used])) {
		used++;
	}
	if (jerr != json_tokener_success || used < len) {
		json_object_put(obj);
		return NULL;
	}
	if (!json_object_is_type(obj, json_type_object)) {
		*why = "the body must be a JSON object";
		json_object_put(obj);
		return NULL;
	}
	if (jsonbody_nul_in_name(raw)) {
		*why = "a member name holds a NUL character (\\u0000)";
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

/* A JSON string without embedded NULs (we use it as a C string). */
const char *jsonbody_string(struct json_object *v)
{
	const char *str;

	if (!json_object_is_type(v, json_type_string)) {
		return NULL;
	}
	str = json_object_get_string(v);
	return strlen(str) == (size_t)json_object_get_string_len(v) ? str : NULL;
}

/* Was name already among the first n string elements of cols? */
int jsonbody_read(const struct app *app, struct http_request *r, struct buf *raw)
{
	char detail[128];
	enum ex_status st;

	st = request_read_body(r, app->cf->http_body_limit, raw);
	if (st == EX_EIO) {
		snprintf(detail, sizeof(detail), "the body did not arrive within %lld ms",
			 app->cf->http_body_timeout_ms);
		problem_reply(r, 408, "request-timeout", "Request Timeout", detail, "");
		return 0;
	}
	if (st) {
		snprintf(detail, sizeof(detail), "the body is larger than %lld bytes",
			 app->cf->http_body_limit);
		problem_reply(r, 413, "payload-too-large", "Content Too Large", detail, "");
		return 0;
	}
	return 1;
}
