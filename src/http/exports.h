/* exports.h - the routes over existing jobs: GET /exports (the workspace's
 * jobs, newest first, keyset-paginated), GET /exports/{id},
 * DELETE /exports/{id} (cancel, or remove a finished file) and
 * GET /exports/{id}/download (finds the job, download.c hands it over).
 * Signatures as struct router_route's handle. */
#ifndef EXPORTD_EXPORTS_H
#define EXPORTD_EXPORTS_H

#include "http/app.h"
#include "http/request.h"

void exports_list(struct app *app, struct http_request *r, const struct auth *who, const char *id);
void exports_get(struct app *app, struct http_request *r, const struct auth *who, const char *id);
void exports_delete(struct app *app, struct http_request *r, const struct auth *who,
		    const char *id);
/* who == NULL: the caller holds a valid signed link for this job. */
void exports_download(struct app *app, struct http_request *r, const struct auth *who,
		      const char *id);

#endif
