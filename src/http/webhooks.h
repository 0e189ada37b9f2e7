/* webhooks.h - the routes over a workspace's webhook endpoints:
 * POST /webhooks (register; the answer holds the signing secret, shown this
 * once), GET /webhooks (list), DELETE /webhooks/{id} (remove).  Same key
 * auth and workspace scoping as /exports.  Signatures as struct
 * router_route's handle. */
#ifndef EXPORTD_WEBHOOKS_H
#define EXPORTD_WEBHOOKS_H

#include "http/app.h"
#include "http/request.h"

void webhooks_create(struct app *app, struct http_request *r, const struct auth *who,
		     const char *id);
void webhooks_list(struct app *app, struct http_request *r, const struct auth *who, const char *id);
void webhooks_delete(struct app *app, struct http_request *r, const struct auth *who,
		     const char *id);

#endif
