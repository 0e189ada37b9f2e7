/* auth.h - who is calling: an API key (Bearer), or a signed download link.
 * Each function answers the request itself (401, 403, 410, 503) when it
 * returns 0. */
#ifndef EXPORTD_AUTH_H
#define EXPORTD_AUTH_H

#include "http/app.h"
#include "http/request.h"

/* Authorization: Bearer <key>, or Bearer <embed token> (auth_embed); 1 and
 * *who filled when it is valid.  job_id not NULL: an API key is looked up
 * together with that job of its workspace (one round trip), and who->job
 * set as app.h says; an embed token reads no job. */
int auth_key(struct app *app, struct http_request *r, const char *job_id, struct auth *who);

/* A signed embed token (http/embed.h): 1 and *who filled (no key id) when
 * it is genuine and unexpired; 401 token-expired when it has expired, 401
 * invalid-token otherwise. */
int auth_embed(const struct app *app, struct http_request *r, const char *token, struct auth *who);

/* A download link's token for job id (from the mail); 1 when it is valid
 * and unexpired.  Every way a token can be wrong gets the same answer. */
int auth_link(const struct app *app, struct http_request *r, const char *id, const char *token);

/* The second half of a link's check, once its job is read: the API key
 * that created the job (NULL: a plain-SQL job, nothing to check) must
 * still be live.  A revoked or deleted key answers 403 link-revoked. */
int auth_link_key(struct app *app, struct http_request *r, const char *key_id);

/* auth.remote_user: the web server authenticated r->remote_user; 1 and
 * *who filled (no key id) when exportd_web_users maps it.  403
 * unknown-user when it does not; 403 cross-site-request for a POST or
 * DELETE without X-Exportd-Request (ambient credentials are CSRF-able). */
int auth_remote_user(struct app *app, struct http_request *r, struct auth *who);

#endif
