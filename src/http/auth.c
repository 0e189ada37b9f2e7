/* auth.c - API keys and signed download links (see auth.h). */
#include "http/auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/apikey.h"
#include "common/log.h"
#include "db/db.h"
#include "http/problem.h"
#include "http/reply.h"
#include "mail/linktoken.h"

int auth_key(struct app *app, struct http_request *r, struct auth *who)
{
	const char *h = r->authorization, *params[1];
	struct apikey key;
	PGresult *res = NULL;
	struct buf err;
	enum ex_status st;
	int ok = 0;

	if (strncasecmp(h, "Bearer ", 7) != 0 || apikey_parse(h + 7, &key) != EX_OK) {
		reply_unauthorized(r, "an API key is required: Authorization: Bearer <key>");
		return 0;
	}
	buf_init(&err, 4096);
	params[0] = key.id;
	st = db_exec(app->conn,
		     "SELECT secret_hash, workspace, email,"
		     " last_used_at IS NULL OR last_used_at < now() - interval '1 minute'"
		     " FROM api_keys WHERE id = $1 AND revoked_at IS NULL",
		     1, params, &res, &err);
	if (st) {
		reply_db_error(app, r, &err);
		goto out;
	}
	if (PQntuples(res) != 1 || !apikey_matches(&key, PQgetvalue(res, 0, 0))) {
		reply_unauthorized(r, "the API key is unknown or revoked");
		goto out;
	}
	snprintf(who->key_id, sizeof(who->key_id), "%s", key.id);
	snprintf(who->workspace, sizeof(who->workspace), "%s", PQgetvalue(res, 0, 1));
	snprintf(who->email, sizeof(who->email), "%s", PQgetvalue(res, 0, 2));
	ok = 1;
	if (PQgetvalue(res, 0, 3)[0] == 't') {
		/* Throttled to one write a minute per key. */
		st = db_exec(app->conn, "UPDATE api_keys SET last_used_at = now() WHERE id = $1", 1,
			     params, NULL, &err);
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
