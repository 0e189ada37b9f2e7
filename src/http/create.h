/* create.h - POST /exports: check the request, then create the job (or
 * replay an Idempotency-Key's answer, or refuse past the workspace's
 * limit of active jobs).
 *
 * The body is judged in two steps that need no database (so a fuzzer can
 * drive them with an in-memory type): create_judge() takes the raw bytes
 * (strict UTF-8, one JSON object, no NUL in a member name, each member's
 * shape), create_judge_columns() the columns against the type the body
 * names.  The handler adds what needs the database: the type itself, the
 * filters (http/filters.h) and the workspace's spelling.
 */
#ifndef EXPORTD_CREATE_H
#define EXPORTD_CREATE_H

#include <json-c/json.h>
#include <stddef.h>

#include "http/app.h"
#include "http/problem.h"
#include "http/request.h"
#include "jobs/registry.h"

/* A judged body.  Strings and members borrow from body. */
struct create_req {
	struct json_object *body;    /* owned; NULL: the body is not a JSON object */
	const char *type;	     /* NULL: missing or not a string */
	const char *format;	     /* NULL: csv */
	const char *compression;     /* NULL: none */
	struct json_object *columns; /* NULL: all the type's columns */
	struct json_object *filters; /* NULL: none */
	struct json_object *csv;     /* NULL: no CSV options */
	int include_deleted, csv_bom, csv_formula_guard;
	const char *csv_delimiter; /* NULL: "," */
	const char *timezone;	   /* NULL: UTC; checked against the database */
	const char *header;	   /* NULL: names */
	const char *since;	   /* NULL: a full export; checked against the database */
	char *stored_filters;	   /* owned: the filters' stored form */
	struct registry_type t;
	int has_type; /* t is loaded (and owned) */
};

void create_req_init(struct create_req *req);
void create_req_free(struct create_req *req);

/* Judge raw (len bytes, raw[len] == '\0') into req (initialised).  p is
 * initialised here: when req->body is NULL it is the 400 "invalid-body"
 * problem for the body as a whole; else a 400 "invalid-field" problem that
 * holds a fault per bad member, if any (problem_has_errors). */
void create_judge(const char *raw, size_t len, struct create_req *req, struct problem *p);

/* The columns (if the body has some) against t, the type req->type names;
 * t NULL: their shape only. */
void create_judge_columns(const struct create_req *req, const struct registry_type *t,
			  struct problem *p);

/* Answers the request whatever happens.  A route handler (routes.c): id is
 * unused. */
void create_handle(struct app *app, struct http_request *r, const struct auth *who, const char *id);

#endif
