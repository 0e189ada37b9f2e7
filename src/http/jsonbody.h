/* jsonbody.h - a request's JSON body: the Content-Type it must have, read
 * within the body limit and deadline, parsed strictly.  Shared by the
 * routes that take a body (POST /exports, POST /webhooks). */
#ifndef EXPORTD_JSONBODY_H
#define EXPORTD_JSONBODY_H

#include <json-c/json.h>
#include <stddef.h>

#include "common/buf.h"
#include "http/app.h"
#include "http/request.h"

/* Is ct application/json, optionally with parameters? */
int jsonbody_type_ok(const char *ct);

/* Read the whole body into raw (capped at http.body_limit); 0 when the
 * request is answered (413 too large, 408 too slow). */
int jsonbody_read(const struct app *app, struct http_request *r, struct buf *raw);

/* Parse raw[0..len) as one JSON object: strict UTF-8, nothing after it but
 * whitespace, no NUL in a member name.  NULL with *why (a constant
 * sentence for the problem's detail) when it is not one. */
struct json_object *jsonbody_parse(const char *raw, size_t len, const char **why);

/* The string of v, or NULL when v is not a string or holds a NUL. */
const char *jsonbody_string(struct json_object *v);

#endif
