/* dispatch.c - one request from route to handler (see dispatch.h). */
#include "http/dispatch.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "db/db.h"
#include "http/auth.h"
#include "http/cors.h"
#include "http/embed.h"
#include "http/problem.h"
#include "http/reply.h"
#include "http/routes.h"
#include "mail/linktoken.h"

/* Make sure the process has a working connection; 503 when it cannot. */
static int dispatch_db(struct app *app, struct http_request *r)
{
	struct buf err;
	enum ex_status st;

	if (db_ok(app->conn)) {
		return 1;
	}
	if (app->conn != NULL) {
		PQfinish(app->conn);
		app->conn = NULL;
	}
	buf_init(&err, 4096);
	st = db_connect(app->cf->db_api_url, "export.fcgi", &app->conn, &err);
	if (st == EX_OK) {
		st = db_prepare_on(app->conn, &err);
	}
	if (st) {
		reply_unavailable(r, "connect", &err);
		PQfinish(app->conn); /* NULL when db_connect failed: a no-op */
		app->conn = NULL;
	}
	buf_free(&err);
	return st == EX_OK;
}

/* Check the caller as the route asks; 0 when the request is answered. */
static int dispatch_access(struct app *app, struct http_request *r, const struct router_match *m,
			   struct auth *who, int *keyed)
{
	char token[EMBED_TOKEN_MAX];
	int rc;

	*keyed = 0;
	if (m->route->access == ROUTER_OPEN || m->route->access == ROUTER_STATIC) {
		return 1;
	}
	if (m->route->access == ROUTER_KEY_OR_LINK && r->authorization[0] == '\0') {
		rc = router_query_get(r->query, "token", token, LINKTOKEN_MAX + 1);
		if (rc != 0) {
			return auth_link(app, r, m->id, rc > 0 ? token : "");
		}
		/* A browser's download link cannot carry a header: the page's
		 * embed token rides in the query (RFC 6750 2.3) on this route only. */
		rc = router_query_get(r->query, "access_token", token, sizeof(token));
		if (rc != 0) {
			*keyed = 1;
			return auth_embed(app, r, rc > 0 ? token : "", who);
		}
	}
	*keyed = 1;
	/* A Bearer credential always wins; otherwise, when trusted, the web
	 * server's own login (its Basic credentials may be in the header). */
	if (app->cf->auth_remote_user && r->remote_user[0] != '\0' &&
	    strncasecmp(r->authorization, "Bearer ", 7) != 0) {
		return auth_remote_user(app, r, who);
	}
	return auth_key(app, r, m->route->access == ROUTER_KEY_JOB ? m->id : NULL, who);
}

/* An allowed origin's CORS preflight: 1 when answered. */
static int dispatch_preflight(struct app *app, struct http_request *r)
{
	if (cors_allowed(app->cf->http_cors_origins, r->origin)) {
		r->cors_origin = r->origin;
	}
	if (r->cors_origin == NULL || strcmp(r->method, "OPTIONS") != 0 ||
	    FCGX_GetParam("HTTP_ACCESS_CONTROL_REQUEST_METHOD", r->fcgi->envp) == NULL) {
		return 0;
	}
	/* No Allow-Credentials: only embed tokens (a header) go cross-origin. */
	request_head(r, 204, NULL,
		     "Access-Control-Allow-Methods: GET, HEAD, POST, DELETE\r\n"
		     "Access-Control-Allow-Headers: Authorization, Content-Type, Idempotency-Key, "
		     "X-Exportd-Request\r\nAccess-Control-Max-Age: 600\r\n");
	return 1;
}

void dispatch_request(struct app *app, struct http_request *r)
{
	struct router_match m;
	struct auth who;
	char allow[80];
	int keyed;

	if (dispatch_preflight(app, r)) {
		return;
	}

	router_match(routes_table, routes_count, r->method, r->uri, app->cf->http_base_path, &m);
	if (m.status == 400) {
		problem_reply(r, 400, "bad-method", "Bad Request",
			      "REQUEST_METHOD is missing or not an HTTP method", "");
		return;
	}
	if (m.status == 404) {
		problem_reply(r, 404, "not-found", "Not Found", "no such route", "");
		return;
	}
	if (m.status == 405) {
		snprintf(allow, sizeof(allow), "Allow: %s\r\n", m.allow);
		problem_reply(r, 405, "method-not-allowed", "Method Not Allowed",
			      "this route does not support that method", allow);
		return;
	}
	if (m.route->access != ROUTER_STATIC && !dispatch_db(app, r)) {
		return;
	}
	memset(&who, 0, sizeof(who));
	if (!dispatch_access(app, r, &m, &who, &keyed)) {
		return;
	}
	m.route->handle(app, r, keyed ? &who : NULL, m.id);
	PQclear(who.job);
}
