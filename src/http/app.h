/* app.h - the state of one export.fcgi process and of one caller, shared by
 * the dispatcher and the route handlers.  Types only. */
#ifndef EXPORTD_APP_H
#define EXPORTD_APP_H

#include <libpq-fe.h>

#include "common/conf.h"

/* Per-process state of export.fcgi. */
struct app {
	const struct config *cf;
	PGconn *conn; /* reconnected lazily when it breaks (dispatch.c) */
};

/* The caller an API key authenticated. */
struct auth {
	char key_id[16];
	char workspace[256];
	char email[256];
	/* ROUTER_KEY_JOB, read with the key: job_read = 1, and job the job
	 * view of {id} in the key's workspace, NULL when there is none.  The
	 * dispatcher PQclear()s it after the handler. */
	int job_read;
	PGresult *job;
};

#endif
