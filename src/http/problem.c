#include "http/problem.h"

#include <stdio.h>
#include <string.h>

#include "common/utf8.h"

/* A JSON string of text, which must be UTF-8 (RFC 8259): what is not is
 * repaired (U+FFFD) rather than echoed, whatever a caller quoted. */
static struct json_object *problem_string(const char *text)
{
	struct json_object *o;
	struct buf clean;

	if (utf8_valid(text, strlen(text))) {
		return json_object_new_string(text);
	}
	buf_init(&clean, 3 * strlen(text) + 1);
	if (utf8_clean(text, UTF8_ONELINE, &clean)) {
		buf_reset(&clean);
	}
	o = json_object_new_string(buf_str(&clean));
	buf_free(&clean);
	return o;
}

void problem_init(struct problem *p, int status, const char *slug, const char *title,
		  const char *detail)
{
	char type[128];

	snprintf(type, sizeof(type), "urn:exportd:problem:%s", slug);
	p->status = status;
	p->errors = NULL;
	p->body = json_object_new_object();
	json_object_object_add(p->body, "type", json_object_new_string(type));
	json_object_object_add(p->body, "title", json_object_new_string(title));
	json_object_object_add(p->body, "status", json_object_new_int(status));
	json_object_object_add(p->body, "detail", problem_string(detail));
}

void problem_clip(const char *text, char *out, size_t size)
{
	size_t len = strlen(text), n;

	if (len < size) {
		memcpy(out, text, len + 1);
		return;
	}
	n = utf8_cut(text, len, size > 4 ? size - 4 : 0);
	memcpy(out, text, n);
	memcpy(out + n, "...", size > 3 ? 4 : 0);
	if (size <= 3 && size > 0) {
		out[0] = '\0';
	}
}

/* JSON Pointer (RFC 6901) to a member path like "columns/3": each segment
 * has '~' written as "~0" and '/' as "~1".  Field names of body members are
 * one segment; our own "columns/N" paths already are pointers. */
static void problem_pointer(const char *field, int is_member, char *out, size_t size)
{
	size_t o = 0;
	const char *f;

	if (field[0] != '\0' && o + 1 < size) {
		out[o++] = '/';
	}
	for (f = field; *f != '\0' && o + 3 < size; f++) {
		if (*f == '~' || (*f == '/' && is_member)) {
			out[o++] = '~';
			out[o++] = *f == '~' ? '0' : '1';
		} else {
			out[o++] = *f;
		}
	}
	out[o] = '\0';
}

/* pointer set: a field of the body, at pointer; else where the fault is
 * (in: header, API key), without a pointer. */
static void problem_add(struct problem *p, const char *name, const char *pointer, const char *in,
			const char *detail)
{
	struct json_object *e;

	if (p->errors == NULL) {
		p->errors = json_object_new_array();
		json_object_object_add(p->body, "errors", p->errors);
		json_object_object_add(p->body, "field", problem_string(name));
		json_object_object_add(p->body, "detail", problem_string(detail));
	}
	if (json_object_array_length(p->errors) >= PROBLEM_MAX_ERRORS) {
		json_object_object_add(p->body, "truncated", json_object_new_boolean(1));
		return;
	}
	e = json_object_new_object();
	json_object_object_add(e, "field", problem_string(name));
	if (pointer != NULL) {
		json_object_object_add(e, "pointer", problem_string(pointer));
	} else if (in != NULL) {
		json_object_object_add(e, "in", json_object_new_string(in));
	}
	json_object_object_add(e, "detail", problem_string(detail));
	json_object_array_add(p->errors, e);
}

void problem_add_field(struct problem *p, const char *field, const char *detail)
{
	/* name is at most 511 bytes, so its pointer (each byte at most
	 * doubled, plus '/') always fits. */
	char pointer[1100], name[512];
	int is_member = !(strncmp(field, "columns/", 8) == 0 && field[8] != '\0' &&
			  strspn(field + 8, "0123456789") == strlen(field + 8));

	problem_clip(field, name, sizeof(name));
	problem_pointer(name, is_member, pointer, sizeof(pointer));
	problem_add(p, name, pointer, NULL, detail);
}

void problem_add_member(struct problem *p, const char *parent, const char *member,
			const char *detail)
{
	char pointer[1200], name[600], clipped[512];
	size_t o;

	problem_clip(member, clipped, sizeof(clipped));
	snprintf(name, sizeof(name), "%.60s/%s", parent, clipped);
	problem_pointer(parent, 1, pointer, 130);
	o = strlen(pointer);
	problem_pointer(clipped, 1, pointer + o, sizeof(pointer) - o);
	problem_add(p, name, pointer, NULL, detail);
}

void problem_add_header(struct problem *p, const char *name, const char *detail)
{
	problem_add(p, name, NULL, "header", detail);
}

void problem_add_outside(struct problem *p, const char *name, const char *in, const char *detail)
{
	problem_add(p, name, NULL, in, detail);
}

int problem_has_errors(const struct problem *p)
{
	return p->errors != NULL;
}

void problem_send(struct problem *p, struct http_request *r, const char *extra)
{
	json_object_object_add(p->body, "instance", json_object_new_string(r->id));
	request_send_json(r, p->status, extra, p->body);
	problem_free(p);
}

void problem_reply(struct http_request *r, int status, const char *slug, const char *title,
		   const char *detail, const char *extra)
{
	struct problem p;

	problem_init(&p, status, slug, title, detail);
	problem_send(&p, r, extra);
}

void problem_free(struct problem *p)
{
	json_object_put(p->body);
	p->body = NULL;
	p->errors = NULL;
}
