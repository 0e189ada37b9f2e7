/* reply.h - the answers every route gives the same way: a job, 404, 401,
 * 503 when the database fails, 500 for our own faults.  Handlers call it;
 * it calls no handler. */
#ifndef EXPORTD_REPLY_H
#define EXPORTD_REPLY_H

#include <libpq-fe.h>

#include "common/buf.h"
#include "http/app.h"
#include "http/request.h"

/* The job in row 0 of res (a job view row, jobs.h) as the answer. */
void reply_job(const struct app *app, struct http_request *r, const PGresult *res, int status,
	       const char *extra);
/* 404 with a problem body; detail says what is missing. */
void reply_not_found(struct http_request *r, const char *detail);
/* 401 with WWW-Authenticate: Bearer. */
void reply_unauthorized(struct http_request *r, const char *detail);
/* 503 "the database is not reachable" (what failed and err are logged). */
void reply_unavailable(struct http_request *r, const char *what, const struct buf *err);
/* 503 after a failed query: says in the log whether the connection broke. */
void reply_db_error(const struct app *app, struct http_request *r, const struct buf *err);
/* 500: a fault of ours that retrying will not fix (logged with err). */
void reply_internal(struct http_request *r, const char *what, const struct buf *err);

#endif
