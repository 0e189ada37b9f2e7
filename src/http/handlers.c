#include "http/handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/apikey.h"
#include "common/crypto.h"
#include "common/log.h"
#include "db/db.h"
#include "http/create.h"
#include "http/download.h"
#include "http/metrics.h"
#include "http/problem.h"
#include "http/router.h"
#include "jobs/jobjson.h"
#include "jobs/jobs.h"
#include "keys/keys.h"
#include "mail/linktoken.h"
#include "storage/storage.h"

#define HANDLERS_LIST_DEFAULT 20
#define HANDLERS_LIST_MAX     100

static void handlers_unavailable(struct http_request *r, const char *what, const struct buf *err)
{
	log_error("request %s: %s: %s", r->id, what, buf_str(err));
	problem_reply(r, 503, "unavailable", "Service Unavailable",
		      "the database is not reachable; try again shortly", "Retry-After: 5\r\n");
}

static void handlers_unauthorized(struct http_request *r, const char *detail)
{
	problem_reply(r, 401, "unauthorized", "Unauthorized", detail,
		      "WWW-Authenticate: Bearer realm=\"exportd\"\r\n");
}

/* Make sure the process has a working connection; 503 when it cannot. */
static int handlers_db(struct app *app, struct http_request *r)
{
	struct buf err;
	int ok;

	if (db_ok(app->conn)) {
		return 1;
	}
	if (app->conn != NULL) {
		PQfinish(app->conn);
		app->conn = NULL;
	}
	buf_init(&err, 4096);
	ok = db_connect(app->cf->db_url, "export.fcgi", &app->conn, &err) == EX_OK;
	if (!ok) {
		handlers_unavailable(r, "connect", &err);
	}
	buf_free(&err);
	return ok;
}

/* A failed query: 503 if the connection broke, else log and 503 too (a
 * query we wrote failing is our bug, but the client still gets a problem
 * body and the process lives on). */
void handlers_db_error(struct app *app, struct http_request *r, const struct buf *err)
{
	handlers_unavailable(r, db_ok(app->conn) ? "query failed" : "connection lost", err);
}

static int handlers_authenticate(struct app *app, struct http_request *r, struct auth *who)
{
	const char *h = r->authorization;
	struct apikey key;
	struct keys_entry k;
	PGresult *res = NULL;
	enum ex_status st;
	struct buf err;
	int ok = 0;

	if (strncasecmp(h, "Bearer ", 7) != 0 || apikey_parse(h + 7, &key) != EX_OK) {
		handlers_unauthorized(r, "an API key is required: Authorization: Bearer <key>");
		return 0;
	}
	buf_init(&err, 4096);
	st = keys_lookup(app->conn, key.id, &k, &res, &err);
	if (st && st != EX_ENOTFOUND) {
		handlers_db_error(app, r, &err);
		goto out;
	}
	if (st || !apikey_matches(&key, k.secret_hash)) {
		handlers_unauthorized(r, "the API key is unknown or revoked");
		goto out;
	}
	snprintf(who->key_id, sizeof(who->key_id), "%s", key.id);
	snprintf(who->workspace, sizeof(who->workspace), "%s", k.workspace);
	snprintf(who->email, sizeof(who->email), "%s", k.email);
	ok = 1;
	if (k.stale_use) {
		/* Throttled to one write a minute per key. */
		if (keys_touch(app->conn, key.id, &err) != EX_OK) {
			log_warn("request %s: cannot record key use: %s", r->id, buf_str(&err));
		}
	}
out:
	PQclear(res);
	buf_free(&err);
	return ok;
}

static void handlers_healthz(struct app *app, struct http_request *r)
{
	struct json_object *body = json_object_new_object();
	struct buf err;

	buf_init(&err, 4096);
	if (db_exec(app->conn, "SELECT 1", 0, NULL, NULL, &err) != EX_OK) {
		handlers_unavailable(r, "healthz", &err);
	} else {
		json_object_object_add(body, "status", json_object_new_string("ok"));
		request_send_json(r, 200, "Cache-Control: no-store\r\n", body);
	}
	json_object_put(body);
	buf_free(&err);
}

void handlers_send_job(struct app *app, struct http_request *r, const PGresult *res, int status,
		       const char *extra)
{
	struct json_object *j = jobjson_from_row(res, 0, app->cf->http_base_path);

	request_send_json(r, status, extra, j);
	json_object_put(j);
}

static void handlers_not_found(struct http_request *r)
{
	problem_reply(r, 404, "not-found", "Not Found", "no such export", "");
}

static void handlers_get(struct app *app, struct http_request *r, const struct auth *who,
			 const char *id)
{
	PGresult *res = NULL;
	struct buf err;
	enum ex_status st;

	buf_init(&err, 4096);
	st = jobs_get(app->conn, who->workspace, id, &res, &err);
	if (st == EX_ENOTFOUND) {
		handlers_not_found(r);
	} else if (st != EX_OK) {
		handlers_db_error(app, r, &err);
	} else {
		handlers_send_job(app, r, res, 200, "Cache-Control: no-store\r\n");
	}
	PQclear(res);
	buf_free(&err);
}

/* who == NULL: the caller holds a valid signed link for this job. */
static void handlers_download(struct app *app, struct http_request *r, const struct auth *who,
			      const char *id)
{
	PGresult *res = NULL;
	struct buf err;
	enum ex_status st;

	buf_init(&err, 4096);
	if (who != NULL) {
		st = jobs_get(app->conn, who->workspace, id, &res, &err);
	} else {
		st = jobs_get_by_link(app->conn, id, &res, &err);
	}
	if (st == EX_ENOTFOUND) {
		handlers_not_found(r);
	} else if (st != EX_OK) {
		handlers_db_error(app, r, &err);
	} else {
		download_serve(app, r, res);
	}
	PQclear(res);
	buf_free(&err);
}

/* DELETE of a complete export: mark it expired and remove its file in one
 * transaction; the file is gone before the answer.  *done = 0 when the job
 * is not complete (the caller goes on). */
static void handlers_purge(struct app *app, struct http_request *r, const struct auth *who,
			   const char *id, int *done)
{
	PGresult *res = NULL;
	struct jobs_view v;
	struct buf err;
	const char *key;
	enum ex_status st;

	buf_init(&err, 4096);
	*done = 1;
	st = jobs_purge_begin(app->conn, who->workspace, id, &res, &err);
	if (st == EX_ENOTFOUND) {
		*done = 0;
		goto out;
	}
	if (st != EX_OK) {
		handlers_db_error(app, r, &err);
		goto out;
	}
	jobs_view_read(res, 0, &v);
	key = v.file_key;
	st = key != NULL ? storage_remove(app->cf, key, &err) : EX_OK;
	if (st != EX_OK) {
		jobs_rollback(app->conn);
		log_error("request %s: job %s: cannot remove its file: %s", r->id, id,
			  buf_str(&err));
		problem_reply(r, 503, "storage-unavailable", "Service Unavailable",
			      "the export file could not be removed; try again shortly",
			      "Retry-After: 5\r\n");
		goto out;
	}
	if (jobs_commit(app->conn, &err) != EX_OK) {
		handlers_db_error(app, r, &err);
		goto out;
	}
	log_info("request %s: job %s deleted (file removed)", r->id, id);
	handlers_send_job(app, r, res, 200, "");
out:
	PQclear(res);
	buf_free(&err);
}

/* DELETE: cancel a pending or processing job; delete a complete one's
 * file; an expired or cancelled job is shown as it is. */
static void handlers_cancel(struct app *app, struct http_request *r, const struct auth *who,
			    const char *id)
{
	PGresult *res = NULL;
	struct jobs_view v;
	struct buf err;
	const char *status;
	char detail[128];
	enum ex_status st;
	int done;

	handlers_purge(app, r, who, id, &done);
	if (done) {
		return;
	}
	buf_init(&err, 4096);
	st = jobs_cancel(app->conn, who->workspace, id, &res, &err);
	if (st == EX_ENOTFOUND) {
		handlers_not_found(r);
		goto out;
	}
	if (st != EX_OK) {
		handlers_db_error(app, r, &err);
		goto out;
	}
	jobs_view_read(res, 0, &v);
	status = v.status;
	if (strcmp(status, "processing") == 0) {
		handlers_send_job(app, r, res, 202, "");
	} else if (strcmp(status, "cancelled") == 0 || strcmp(status, "expired") == 0) {
		handlers_send_job(app, r, res, 200, "");
	} else {
		snprintf(detail, sizeof(detail), "the export is already %s and cannot be cancelled",
			 status);
		problem_reply(r, 409, "conflict", "Conflict", detail, "");
	}
out:
	PQclear(res);
	buf_free(&err);
}

/* ---- GET /exports ---- */

/* The cursor is base64url("<created_at>|<id>") of the last job shown. */
static int handlers_cursor_decode(const char *text, char *ts, size_t tssize, char *id)
{
	char raw[160];
	size_t len;
	char *bar;

	if (crypto_b64url_decode(text, raw, sizeof(raw) - 1, &len) != EX_OK) {
		return 0;
	}
	raw[len] = '\0';
	bar = strrchr(raw, '|');
	if (bar == NULL || strlen(raw) != len || (size_t)(bar - raw) >= tssize ||
	    !jobs_valid_id(bar + 1)) {
		return 0;
	}
	memcpy(ts, raw, (size_t)(bar - raw));
	ts[bar - raw] = '\0';
	memcpy(id, bar + 1, JOBS_ID_LEN + 1);
	/* The timestamp is PostgreSQL's own text; allow only its characters. */
	return ts[0] != '\0' && strspn(ts, "0123456789-:. +") == strlen(ts);
}

static void handlers_cursor_encode(const PGresult *res, int row, char *out, size_t size)
{
	char raw[160];
	struct jobs_view v;

	jobs_view_read(res, row, &v);
	snprintf(raw, sizeof(raw), "%s|%s", v.list_cursor, v.id);
	if (crypto_b64url_encode(raw, strlen(raw), out, size) != EX_OK) {
		out[0] = '\0';
	}
}

static int handlers_list_params(struct http_request *r, int *limit, char *ts, size_t tssize,
				char *id, int *has_cursor)
{
	char v[256], *end;
	struct problem p;
	long n;
	int rc;

	problem_init(&p, 400, "invalid-field", "Bad Request", "invalid query parameter");
	*limit = HANDLERS_LIST_DEFAULT;
	rc = router_query_get(r->query, "limit", v, sizeof(v));
	if (rc != 0) {
		n = rc > 0 ? strtol(v, &end, 10) : 0;
		if (rc < 0 || *end != '\0' || n < 1 || n > HANDLERS_LIST_MAX) {
			problem_add_field(&p, "limit", "must be an integer from 1 to 100");
		}
		*limit = (int)n;
	}
	rc = router_query_get(r->query, "cursor", v, sizeof(v));
	*has_cursor = rc > 0;
	if (rc < 0 || (rc > 0 && !handlers_cursor_decode(v, ts, tssize, id))) {
		problem_add_field(&p, "cursor", "is not a cursor this API returned");
	}
	if (problem_has_errors(&p)) {
		problem_send(&p, r, "");
		return 0;
	}
	problem_free(&p);
	return 1;
}

static struct json_object *handlers_list_body(struct app *app, const PGresult *res, int limit)
{
	struct json_object *body = json_object_new_object(), *data = json_object_new_array();
	struct json_object *links = json_object_new_object();
	int i, n = PQntuples(res);
	char cursor[256], url[512];

	for (i = 0; i < n && i < limit; i++) {
		json_object_array_add(data, jobjson_from_row(res, i, app->cf->http_base_path));
	}
	json_object_object_add(body, "data", data);
	snprintf(url, sizeof(url), "%s/exports?limit=%d", app->cf->http_base_path, limit);
	json_object_object_add(links, "first", json_object_new_string(url));
	if (n > limit) {
		handlers_cursor_encode(res, limit - 1, cursor, sizeof(cursor));
		json_object_object_add(body, "next_cursor", json_object_new_string(cursor));
		snprintf(url, sizeof(url), "%s/exports?limit=%d&cursor=%s", app->cf->http_base_path,
			 limit, cursor);
		json_object_object_add(links, "next", json_object_new_string(url));
	} else {
		json_object_object_add(body, "next_cursor", NULL);
	}
	json_object_object_add(body, "links", links);
	return body;
}

static void handlers_list(struct app *app, struct http_request *r, const struct auth *who)
{
	char ts[128], id[JOBS_ID_LEN + 1];
	int limit, has_cursor;
	PGresult *res = NULL;
	struct json_object *body;
	struct buf err;
	enum ex_status st;

	if (!handlers_list_params(r, &limit, ts, sizeof(ts), id, &has_cursor)) {
		return;
	}
	buf_init(&err, 4096);
	st = jobs_list(app->conn, who->workspace, has_cursor ? ts : NULL, has_cursor ? id : NULL,
		       limit, &res, &err);
	if (st != EX_OK && db_ok(app->conn) && has_cursor) {
		struct problem p;

		problem_init(&p, 400, "invalid-field", "Bad Request", "invalid query parameter");
		problem_add_field(&p, "cursor", "is not a cursor this API returned");
		problem_send(&p, r, "");
	} else if (st != EX_OK) {
		handlers_db_error(app, r, &err);
	} else {
		body = handlers_list_body(app, res, limit);
		request_send_json(r, 200, "Cache-Control: no-store\r\n", body);
		json_object_put(body);
	}
	PQclear(res);
	buf_free(&err);
}

/* ---- dispatch ---- */

static void handlers_route(struct app *app, struct http_request *r, const struct router_match *m,
			   const struct auth *who)
{
	int is_get = strcmp(r->method, "GET") == 0 || r->head;

	switch (m->route) {
	case ROUTE_EXPORTS:
		if (is_get) {
			handlers_list(app, r, who);
		} else {
			create_handle(app, r, who);
		}
		break;
	case ROUTE_EXPORT:
		if (is_get) {
			handlers_get(app, r, who, m->id);
		} else {
			handlers_cancel(app, r, who, m->id);
		}
		break;
	case ROUTE_DOWNLOAD:
		handlers_download(app, r, who, m->id);
		break;
	default:
		handlers_not_found(r);
		break;
	}
}

/* GET /exports/{id}/download?token=... without a key: the link from the
 * mail.  Every way a token can be wrong gets the same answer. */
static void handlers_link_download(struct app *app, struct http_request *r, const char *id,
				   const char *token)
{
	switch (linktoken_verify(app->cf->mail_link_secrets, id, token, time(NULL))) {
	case LINKTOKEN_VALID:
		handlers_download(app, r, NULL, id);
		break;
	case LINKTOKEN_EXPIRED:
		problem_reply(r, 410, "link-expired", "Gone",
			      "this download link has expired; start a new export in the "
			      "application to get a fresh link",
			      "");
		break;
	default:
		problem_reply(r, 403, "invalid-link", "Forbidden",
			      "this download link is not valid; use the link from the mail "
			      "as it was sent, or sign in and download from the application",
			      "");
		break;
	}
}

void handlers_dispatch(struct app *app, struct http_request *r)
{
	struct router_match m;
	struct auth who;
	char allow[128], token[LINKTOKEN_MAX + 1];
	int has_token;

	router_match(r->method, r->uri, app->cf->http_base_path, &m);
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
	if (!handlers_db(app, r)) {
		return;
	}
	if (m.route == ROUTE_HEALTHZ) {
		handlers_healthz(app, r);
		return;
	}
	if (m.route == ROUTE_METRICS) {
		metrics_handle(app, r);
		return;
	}
	has_token = m.route == ROUTE_DOWNLOAD && r->authorization[0] == '\0'
			    ? router_query_get(r->query, "token", token, sizeof(token))
			    : 0;
	if (has_token != 0) {
		handlers_link_download(app, r, m.id, has_token > 0 ? token : "");
		return;
	}
	memset(&who, 0, sizeof(who));
	if (handlers_authenticate(app, r, &who)) {
		handlers_route(app, r, &m, &who);
	}
}
