#include "http/handlers.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <uuid/uuid.h>

#include "common/apikey.h"
#include "common/crypto.h"
#include "common/log.h"
#include "db/db.h"
#include "format/format.h"
#include "http/download.h"
#include "http/problem.h"
#include "http/router.h"
#include "jobs/jobjson.h"
#include "jobs/jobs.h"
#include "jobs/registry.h"
#include "mail/linktoken.h"

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
static void handlers_db_error(struct app *app, struct http_request *r, const struct buf *err)
{
	handlers_unavailable(r, db_ok(app->conn) ? "query failed" : "connection lost", err);
}

static int handlers_authenticate(struct app *app, struct http_request *r, struct auth *who)
{
	const char *h = r->authorization, *params[1];
	struct apikey key;
	PGresult *res = NULL;
	struct buf err;
	int ok = 0;

	if (strncasecmp(h, "Bearer ", 7) != 0 || apikey_parse(h + 7, &key) != EX_OK) {
		handlers_unauthorized(r, "an API key is required: Authorization: Bearer <key>");
		return 0;
	}
	buf_init(&err, 4096);
	params[0] = key.id;
	if (db_exec(app->conn,
		    "SELECT secret_hash, workspace, email,"
		    " last_used_at IS NULL OR last_used_at < now() - interval '1 minute'"
		    " FROM api_keys WHERE id = $1 AND revoked_at IS NULL",
		    1, params, &res, &err) != EX_OK) {
		handlers_db_error(app, r, &err);
		goto out;
	}
	if (PQntuples(res) != 1 || !apikey_matches(&key, PQgetvalue(res, 0, 0))) {
		handlers_unauthorized(r, "the API key is unknown or revoked");
		goto out;
	}
	snprintf(who->key_id, sizeof(who->key_id), "%s", key.id);
	snprintf(who->workspace, sizeof(who->workspace), "%s", PQgetvalue(res, 0, 1));
	snprintf(who->email, sizeof(who->email), "%s", PQgetvalue(res, 0, 2));
	ok = 1;
	if (PQgetvalue(res, 0, 3)[0] == 't') {
		/* Throttled to one write a minute per key. */
		if (db_exec(app->conn, "UPDATE api_keys SET last_used_at = now() WHERE id = $1", 1,
			    params, NULL, &err) != EX_OK) {
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

/* Answer with the one job in res (or 404 when there is none). */
static void handlers_send_job(struct app *app, struct http_request *r, const PGresult *res,
			      int status, const char *extra)
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

static void handlers_cancel(struct app *app, struct http_request *r, const struct auth *who,
			    const char *id)
{
	PGresult *res = NULL;
	struct buf err;
	const char *status;
	char detail[128];
	enum ex_status st;

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
	status = PQgetvalue(res, 0, JOBS_VIEW_STATUS);
	if (strcmp(status, "processing") == 0) {
		handlers_send_job(app, r, res, 202, "");
	} else if (strcmp(status, "cancelled") == 0) {
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

/* ---- POST /exports ---- */

struct create_req {
	const char *type;
	const char *format;
	struct json_object *columns; /* borrowed from the body, or NULL */
};

static int handlers_json_type_ok(const char *ct)
{
	size_t n = strlen("application/json");

	/* application/json, optionally with parameters (charset=utf-8). */
	if (strncasecmp(ct, "application/json", n) != 0) {
		return 0;
	}
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

/* Parse the body strictly: one JSON value in valid UTF-8, nothing after it
 * but whitespace.  The terminating NUL is handed to the tokener too, so a
 * bare top-level number ends where the body ends. */
static struct json_object *handlers_parse(const struct buf *body, const char **why)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *obj = NULL;
	enum json_tokener_error jerr;
	size_t used;

	*why = "the body is not valid JSON";
	if (tok == NULL || strlen(buf_str(body)) != body->len) {
		json_tokener_free(tok);
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, buf_str(body), (int)body->len + 1);
	jerr = json_tokener_get_error(tok);
	used = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	while (used < body->len && isspace((unsigned char)body->data[used])) {
		used++;
	}
	if (jerr != json_tokener_success || used < body->len) {
		json_object_put(obj);
		return NULL;
	}
	if (!json_object_is_type(obj, json_type_object)) {
		*why = "the body must be a JSON object";
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

/* A JSON string without embedded NULs (we use it as a C string). */
static const char *handlers_string(struct json_object *v)
{
	const char *str;

	if (!json_object_is_type(v, json_type_string)) {
		return NULL;
	}
	str = json_object_get_string(v);
	return strlen(str) == (size_t)json_object_get_string_len(v) ? str : NULL;
}

/* Was name already among the first n string elements of cols? */
static int handlers_seen(struct json_object *cols, size_t n, const char *name)
{
	const char *other;
	size_t j;

	for (j = 0; j < n; j++) {
		other = handlers_string(json_object_array_get_idx(cols, j));
		if (other != NULL && strcmp(other, name) == 0) {
			return 1;
		}
	}
	return 0;
}

static void handlers_check_columns(struct json_object *cols, const struct registry_type *t,
				   struct problem *p)
{
	char field[64], detail[512], clipped[256];
	const char *name;
	size_t i, n;

	if (!json_object_is_type(cols, json_type_array)) {
		problem_add_field(p, "columns", "must be an array of column names");
		return;
	}
	n = json_object_array_length(cols);
	if (n == 0) {
		problem_add_field(p, "columns", "must name at least one column (omit it for all)");
	}
	for (i = 0; i < n; i++) {
		snprintf(field, sizeof(field), "columns/%lu", (unsigned long)i);
		name = handlers_string(json_object_array_get_idx(cols, i));
		if (name == NULL) {
			problem_add_field(p, field, "must be a string (without NUL characters)");
			continue;
		}
		if (t != NULL && registry_column_index(t, name) < 0) {
			problem_clip(name, clipped, sizeof(clipped));
			snprintf(detail, sizeof(detail), "unknown column \"%s\" for type %s",
				 clipped, t->name);
			problem_add_field(p, field, detail);
		} else if (handlers_seen(cols, i, name)) {
			problem_add_field(p, field, "duplicate column");
		}
	}
}

/* Check members of the body; fills p with every field error found. */
static void handlers_check_members(struct json_object *body, struct create_req *req,
				   struct problem *p)
{
	char detail[300], clipped[256];

	json_object_object_foreach(body, key, val)
	{
		if (strcmp(key, "type") == 0) {
			req->type = handlers_string(val);
			if (req->type == NULL) {
				problem_add_field(p, key,
						  "must be a string (without NUL characters)");
			}
		} else if (strcmp(key, "format") == 0) {
			req->format = handlers_string(val);
			if (req->format == NULL) {
				problem_add_field(p, key, "must be \"csv\" or \"jsonl\"");
			}
		} else if (strcmp(key, "columns") == 0) {
			req->columns = val;
		} else {
			problem_clip(key, clipped, sizeof(clipped));
			snprintf(detail, sizeof(detail), "unknown field \"%s\"", clipped);
			problem_add_field(p, key, detail);
		}
	}
}

/* Returns 0 when the registry could not be read (the caller answers 503). */
static int handlers_check_create(struct app *app, struct json_object *body, struct create_req *req,
				 struct problem *p, struct buf *err)
{
	struct registry_type t;
	enum format_kind kind;
	enum ex_status st = EX_ENOTFOUND;
	char detail[300], clipped[256];

	handlers_check_members(body, req, p);
	if (req->format != NULL && format_parse_kind(req->format, &kind) != EX_OK) {
		problem_add_field(p, "format", "must be \"csv\" or \"jsonl\"");
	}
	if (!json_object_object_get_ex(body, "type", NULL)) {
		problem_add_field(p, "type", "is required");
	} else if (req->type != NULL) {
		st = registry_load(app->conn, req->type, &t, err);
		if (st != EX_OK && st != EX_ENOTFOUND) {
			return 0;
		}
		if (st == EX_ENOTFOUND) {
			problem_clip(req->type, clipped, sizeof(clipped));
			snprintf(detail, sizeof(detail), "unknown export type \"%s\"", clipped);
			problem_add_field(p, "type", detail);
		}
	}
	if (req->columns != NULL) {
		handlers_check_columns(req->columns, st == EX_OK ? &t : NULL, p);
	}
	if (st == EX_OK) {
		registry_free(&t);
	}
	return 1;
}

static void handlers_insert(struct app *app, struct http_request *r, const struct auth *who,
			    const struct create_req *req)
{
	char id[JOBS_ID_LEN + 1], location[512];
	const char *cols =
		req->columns != NULL
			? json_object_to_json_string_ext(req->columns, JSON_C_TO_STRING_PLAIN)
			: NULL;
	PGresult *res = NULL;
	struct buf err;
	uuid_t u;

	uuid_generate_random(u);
	uuid_unparse_lower(u, id);
	buf_init(&err, 4096);
	if (jobs_create(app->conn, id, who->workspace, who->email, req->type,
			req->format != NULL ? req->format : "csv", cols, &res, &err) != EX_OK) {
		handlers_db_error(app, r, &err);
	} else {
		snprintf(location, sizeof(location), "Location: %s/exports/%s\r\n",
			 app->cf->http_base_path, id);
		log_info("request %s: job %s created (workspace %s, type %s)", r->id, id,
			 who->workspace, req->type);
		handlers_send_job(app, r, res, 202, location);
	}
	PQclear(res);
	buf_free(&err);
}

static void handlers_create(struct app *app, struct http_request *r, const struct auth *who)
{
	struct create_req req = {NULL, NULL, NULL};
	struct json_object *body = NULL;
	struct problem p;
	struct buf raw, err;
	const char *why;
	char detail[128];
	int ok;

	buf_init(&raw, (size_t)app->cf->http_body_limit);
	buf_init(&err, 4096);
	if (!handlers_json_type_ok(r->content_type)) {
		problem_reply(r, 415, "unsupported-media-type", "Unsupported Media Type",
			      "send the request body as application/json",
			      "Accept-Post: application/json\r\n");
		goto out;
	}
	if (request_read_body(r, app->cf->http_body_limit, &raw) != EX_OK) {
		snprintf(detail, sizeof(detail), "the body is larger than %lld bytes",
			 app->cf->http_body_limit);
		problem_reply(r, 413, "payload-too-large", "Content Too Large", detail, "");
		goto out;
	}
	body = handlers_parse(&raw, &why);
	if (body == NULL) {
		problem_init(&p, 400, "invalid-body", "Bad Request", why);
		problem_add_field(&p, "", why);
		problem_send(&p, r, "");
		goto out;
	}
	problem_init(&p, 400, "invalid-field", "Bad Request", "the request has invalid fields");
	buf_init(&err, 4096);
	ok = handlers_check_create(app, body, &req, &p, &err);
	if (!ok) {
		problem_free(&p);
		handlers_db_error(app, r, &err);
		goto out;
	}
	if (problem_has_errors(&p)) {
		problem_send(&p, r, "");
		goto out;
	}
	problem_free(&p);
	handlers_insert(app, r, who, &req);
out:
	json_object_put(body);
	buf_free(&raw);
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

	snprintf(raw, sizeof(raw), "%s|%s", PQgetvalue(res, row, JOBS_VIEW_CURSOR),
		 PQgetvalue(res, row, JOBS_VIEW_ID));
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
			handlers_create(app, r, who);
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
