/* handlers.h - the API's routes, one function each, behind one dispatcher. */
#ifndef EXPORTD_HANDLERS_H
#define EXPORTD_HANDLERS_H

#include <libpq-fe.h>

#include "common/buf.h"
#include "common/conf.h"
#include "http/request.h"

/* Per-process state of export.fcgi. */
struct app {
	const struct config *cf;
	PGconn *conn; /* reconnected lazily when it breaks */
};

/* The authenticated caller. */
struct auth {
	char key_id[16];
	char workspace[256];
	char email[256];
};

/* Answer one request, whatever happens (never leaves it unanswered). */
void handlers_dispatch(struct app *app, struct http_request *r);

/* For the route modules. */
/* 503 after a failed query (logged with err). */
void handlers_db_error(struct app *app, struct http_request *r, const struct buf *err);
/* The job in row 0 of res (a job view row, jobs.h) as the answer. */
void handlers_send_job(struct app *app, struct http_request *r, const PGresult *res, int status,
		       const char *extra);

#endif
