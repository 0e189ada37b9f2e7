/* auth.c - API keys and signed download links (see auth.h). */
#include "http/auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/apikey.h"
#include "common/log.h"
#include "db/db.h"
#include "jobs/jobs.h"
#include "keys/keys.h"
#include "keys/users.h"
#include "http/embed.h"
#include "http/problem.h"
#include "http/reply.h"
#include "mail/linktoken.h"

int auth_embed(const struct app *app, struct http_request *r, const char *token, struct auth *who)
{
	struct embed_claims c;

	if (app->cf->embed_secrets[0] == '\0') {
		reply_unauthorized(r, "embed tokens are not enabled here (embed.secrets is empty)");
		return 0;
	}
	switch (embed_verify(app->cf->embed_secrets, token, time(NULL),
			     app->cf->embed_max_lifetime_ms / 1000, &c)) {
	case EMBED_VALID:
		break;
	case EMBED_EXPIRED:
		problem_reply(
			r, 401, "token-expired", "Unauthorized",
			"your session has expired; reload the page",
			"WWW-Authenticate: Bearer realm=\"exportd\", error=\"invalid_token\"\r\n");
		return 0;
	case EMBED_TOO_LONG:
		problem_reply(
			r, 401, "invalid-token", "Unauthorized",
			"the embed token expires further ahead than embed.max_lifetime allows",
			"WWW-Authenticate: Bearer realm=\"exportd\", error=\"invalid_token\"\r\n");
		return 0;
	default:
		problem_reply(
			r, 401, "invalid-token", "Unauthorized",
			"the embed token is not valid (malformed, altered, or signed with "
			"a secret this server does not have)",
			"WWW-Authenticate: Bearer realm=\"exportd\", error=\"invalid_token\"\r\n");
		return 0;
	}
	who->key_id[0] = '\0';
	snprintf(who->workspace, sizeof(who->workspace), "%s", c.workspace);
	snprintf(who->email, sizeof(who->email), "%s", c.email);
	return 1;
}

int auth_remote_user(struct app *app, struct http_request *r, struct auth *who)
{
	const char *ws = NULL, *email = NULL;
	PGresult *res = NULL;
	struct buf err;
	enum ex_status st;
	int ok = 0;

	/* The browser sends the web server's credentials by itself; a custom
	 * header is what another site's form or script cannot add without a
	 * CORS preflight this API never grants. */
	if (!r->head && strcmp(r->method, "GET") != 0 && !r->same_origin_header) {
		problem_reply(r, 403, "cross-site-request", "Forbidden",
			      "a state-changing request with the web server's login must carry the "
			      "header X-Exportd-Request (the widget sends it)",
			      "");
		return 0;
	}
	buf_init(&err, 4096);
	st = users_lookup(app->conn, r->remote_user, &ws, &email, &res, &err);
	if (st == EX_ENOTFOUND) {
		problem_reply(r, 403, "unknown-user", "Forbidden",
			      "you are signed in to the web server, but not mapped to a workspace; "
			      "ask an administrator (exportctl user add)",
			      "");
	} else if (st) {
		reply_db_error(app, r, &err);
	} else {
		who->key_id[0] = '\0';
		snprintf(who->workspace, sizeof(who->workspace), "%s", ws);
		snprintf(who->email, sizeof(who->email), "%s", email);
		ok = 1;
	}
	PQclear(res);
	buf_free(&err);
	return ok;
}

/* The key id's row: keys_lookup(), or with job_id jobs_get_keyed(). */
static enum ex_status auth_key_row(struct app *app, const char *key_id, const char *job_id,
				   struct keys_entry *k, PGresult **res, struct buf *err)
{
	enum ex_status st;

	if (job_id == NULL) {
		return keys_lookup(app->conn, key_id, k, res, err);
	}
	st = jobs_get_keyed(app->conn, key_id, job_id, res, err);
	if (st == EX_OK) {
		st = keys_entry_read(*res, k, err);
	}
	return st;
}

/* The job read with the key (checked by now) goes to who; res is then
 * the job's, or cleared. */
static void auth_key_job(PGresult **res, const char *job_id, struct auth *who)
{
	if (job_id == NULL) {
		return;
	}
	who->job_read = 1;
	/* One column by name: the whole view would be read again to answer. */
	if (db_text(*res, 0, "id") != NULL) {
		who->job = *res;
		*res = NULL;
	}
}

int auth_key(struct app *app, struct http_request *r, const char *job_id, struct auth *who)
{
	const char *h = r->authorization;
	struct apikey key;
	struct keys_entry k;
	PGresult *res = NULL;
	struct buf err;
	enum ex_status st;
	int ok = 0;

	if (strncasecmp(h, "Bearer ", 7) == 0 && embed_is_token(h + 7)) {
		return auth_embed(app, r, h + 7, who);
	}
	if (strncasecmp(h, "Bearer ", 7) != 0 || apikey_parse(h + 7, &key) != EX_OK) {
		reply_unauthorized(r, "an API key is required: Authorization: Bearer <key>");
		return 0;
	}
	buf_init(&err, 4096);
	st = auth_key_row(app, key.id, job_id, &k, &res, &err);
	if (st && st != EX_ENOTFOUND) {
		reply_db_error(app, r, &err);
		goto out;
	}
	if (st || !apikey_matches(&key, k.secret_hash)) {
		reply_unauthorized(r, "the API key is unknown or revoked");
		goto out;
	}
	snprintf(who->key_id, sizeof(who->key_id), "%s", key.id);
	snprintf(who->workspace, sizeof(who->workspace), "%s", k.workspace);
	snprintf(who->email, sizeof(who->email), "%s", k.email);
	ok = 1;
	/* k's strings are in res: copied above, before res may become the job. */
	auth_key_job(&res, job_id, who);
	if (k.stale_use) {
		/* Throttled to one write a minute per key. */
		st = keys_touch(app->conn, key.id, &err);
		if (st) {
			log_warn("request %s: cannot record key use: %s", r->id, buf_str(&err));
		}
	}
out:
	PQclear(res);
	buf_free(&err);
	return ok;
}

int auth_link(const struct app *app, struct http_request *r, const char *id, const char *token)
{
	switch (linktoken_verify(app->cf->mail_link_secrets, id, token, time(NULL))) {
	case LINKTOKEN_VALID:
		return 1;
	case LINKTOKEN_EXPIRED:
		problem_reply(r, 410, "link-expired", "Gone",
			      "this download link has expired; start a new export in the "
			      "application to get a fresh link",
			      "");
		return 0;
	default:
		problem_reply(r, 403, "invalid-link", "Forbidden",
			      "this download link is not valid; use the link from the mail "
			      "as it was sent, or sign in and download from the application",
			      "");
		return 0;
	}
}

int auth_link_key(struct app *app, struct http_request *r, const char *key_id)
{
	struct keys_entry k;
	PGresult *res = NULL;
	struct buf err;
	enum ex_status st;

	if (key_id == NULL) {
		return 1;
	}
	buf_init(&err, 4096);
	st = keys_lookup(app->conn, key_id, &k, &res, &err);
	if (st == EX_ENOTFOUND) {
		problem_reply(r, 403, "link-revoked", "Forbidden",
			      "the access that requested this export has been revoked, and its "
			      "download links with it; sign in and download from the application",
			      "");
	} else if (st) {
		reply_db_error(app, r, &err);
	}
	PQclear(res);
	buf_free(&err);
	return st == EX_OK;
}
