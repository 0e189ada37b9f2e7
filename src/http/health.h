/* health.h - GET /healthz: 200 {"status": "ok"} while the database answers,
 * 503 otherwise.  No API key. */
#ifndef EXPORTD_HEALTH_H
#define EXPORTD_HEALTH_H

#include "http/app.h"
#include "http/request.h"

void health_handle(struct app *app, struct http_request *r, const struct auth *who, const char *id);

#endif
