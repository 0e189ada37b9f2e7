/* download.h - hand a complete export to the client: X-Sendfile /
 * X-Accel-Redirect to the web server, or streamed here with Range and HEAD. */
#ifndef EXPORTD_DOWNLOAD_H
#define EXPORTD_DOWNLOAD_H

#include <libpq-fe.h>

#include "http/app.h"
#include "http/request.h"

/* row is a job view row (jobs.h) of a job in the caller's workspace. */
void download_serve(struct app *app, struct http_request *r, const PGresult *job);

#endif
