/* create.h - POST /exports: check the request, then create the job (or
 * replay an Idempotency-Key's answer, or refuse past the workspace's
 * limit of active jobs). */
#ifndef EXPORTD_CREATE_H
#define EXPORTD_CREATE_H

#include "http/app.h"
#include "http/request.h"

/* Answers the request whatever happens.  A route handler (routes.c): id is
 * unused. */
void create_handle(struct app *app, struct http_request *r, const struct auth *who, const char *id);

#endif
