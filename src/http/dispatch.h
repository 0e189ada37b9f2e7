/* dispatch.h - answer one request: route it (400 for a missing or malformed method, 404, 405), make
 * sure the database connection works (503), check the caller as the route asks (401, 403, 410),
 * then call the route's handler. */
#ifndef EXPORTD_DISPATCH_H
#define EXPORTD_DISPATCH_H

#include "http/app.h"
#include "http/request.h"

/* Answers the request whatever happens (never leaves it unanswered). */
void dispatch_request(struct app *app, struct http_request *r);

#endif
