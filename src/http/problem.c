#include "http/problem.h"

#include <stdio.h>
#include <string.h>

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
	json_object_object_add(p->body, "detail", json_object_new_string(detail));
}

void problem_add_field(struct problem *p, const char *field, const char *detail)
{
	struct json_object *e = json_object_new_object();
	char pointer[300];

	if (p->errors == NULL) {
		p->errors = json_object_new_array();
		json_object_object_add(p->body, "errors", p->errors);
		json_object_object_add(p->body, "field", json_object_new_string(field));
		json_object_object_add(p->body, "detail", json_object_new_string(detail));
	}
	/* JSON Pointer (RFC 6901) to the member; "" for the whole body. */
	snprintf(pointer, sizeof(pointer), "%s%s", field[0] ? "/" : "", field);
	json_object_object_add(e, "field", json_object_new_string(field));
	json_object_object_add(e, "pointer", json_object_new_string(pointer));
	json_object_object_add(e, "detail", json_object_new_string(detail));
	json_object_array_add(p->errors, e);
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
