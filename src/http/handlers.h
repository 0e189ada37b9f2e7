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

#endif
