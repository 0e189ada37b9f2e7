/* problem.h - RFC 9457 problem details (application/problem+json).
 *
 * A problem is built up (one or more field errors may be added) and then
 * sent.  Every error answer of the API goes through here, so they all
 * have the same shape: type, title, status, detail, instance (request id),
 * and for request fields "field" plus "errors": [{field, pointer, detail}].
 * "errors" holds at most PROBLEM_MAX_ERRORS entries; past that the body
 * says "truncated": true, so a body of many faults cannot make an answer
 * many times its size.
 */
#ifndef EXPORTD_PROBLEM_H
#define EXPORTD_PROBLEM_H

#include <json-c/json.h>
#include <stddef.h>

#include "http/request.h"

#define PROBLEM_MAX_ERRORS 50

struct problem {
	struct json_object *body;
	struct json_object *errors; /* NULL until a field error is added */
	int status;
};

/* slug names the type: "urn:exportd:problem:<slug>". */
void problem_init(struct problem *p, int status, const char *slug, const char *title,
		  const char *detail);
void problem_add_field(struct problem *p, const char *field, const char *detail);
/* A member of an object member: field "<parent>/<member>", pointer
 * "/<parent>/<member>" with each segment escaped (RFC 6901). */
void problem_add_member(struct problem *p, const char *parent, const char *member,
			const char *detail);
/* A request header at fault: {"field": name, "in": "header", "detail"},
 * no pointer (it is not in the body). */
void problem_add_header(struct problem *p, const char *name, const char *detail);
/* A fault outside the body, named where it is: {"field": name, "in": in,
 * "detail"} (in: "header", "api_key"; NULL: no "in"), no pointer. */
void problem_add_outside(struct problem *p, const char *name, const char *in, const char *detail);
int problem_has_errors(const struct problem *p);
/* Send and release; extra as for request_head. */
void problem_send(struct problem *p, struct http_request *r, const char *extra);
/* Build and send in one go. */
void problem_reply(struct http_request *r, int status, const char *slug, const char *title,
		   const char *detail, const char *extra);
void problem_free(struct problem *p);
/* Copy text for quoting in a message, cut (at a UTF-8 character boundary,
 * with "...") to fit out. */
void problem_clip(const char *text, char *out, size_t size);

#endif
