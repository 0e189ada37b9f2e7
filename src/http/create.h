/* create.h - POST /exports: check the request, then create the job (or
 * replay an Idempotency-Key's answer, or refuse past the workspace's
 * limit of active jobs). */
#ifndef EXPORTD_CREATE_H
#define EXPORTD_CREATE_H

#include "http/handlers.h"

/* Answers the request whatever happens. */
void create_handle(struct app *app, struct http_request *r, const struct auth *who);

/* Is key a valid Idempotency-Key: 1..255 printable ASCII characters? */
int create_valid_key(const char *key);

#endif
