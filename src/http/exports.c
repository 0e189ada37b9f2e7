/* exports.c - the routes over existing jobs (see exports.h). */
#include "http/exports.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/log.h"
#include "db/db.h"
#include "http/auth.h"
#include "http/download.h"
#include "http/problem.h"
#include "http/reply.h"
#include "http/router.h"
#include "jobs/jobjson.h"
#include "jobs/jobs.h"
#include "storage/storage.h"

#define EXPORTS_LIST_DEFAULT 20
#define EXPORTS_LIST_MAX     100

/* The job, or NULL when the request is answered (404, 503).  who == NULL:
 * the caller holds a valid signed link for this job, of any workspace. */
static PGresult *exports_find(struct app *app, struct http_request *r, const struct auth *who,
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
		reply_not_found(r, "no such export");
	} else if (st) {
		reply_db_error(app, r, &err);
	}
	buf_free(&err);
	if (st) {
		PQclear(res);
		res = NULL;
	}
	return res;
}

void exports_get(struct app *app, struct http_request *r, const struct auth *who, const char *id)
{
	PGresult *res;

	/* The dispatcher's: read with the API key. */
	if (who != NULL && who->job_read) {
		if (who->job == NULL) {
			reply_not_found(r, "no such export");
		} else {
			reply_job(app, r, who->job, 200, "Cache-Control: no-store\r\n");
		}
		return;
	}
	res = exports_find(app, r, who, id);
	if (res != NULL) {
		reply_job(app, r, res, 200, "Cache-Control: no-store\r\n");
		PQclear(res);
	}
}

/* who == NULL: a signed link, which dies with the key that created the job. */
void exports_download(struct app *app, struct http_request *r, const struct auth *who,
		      const char *id)
{
	PGresult *res = exports_find(app, r, who, id);
	struct jobs_view v;

	if (res == NULL) {
		return;
	}
	jobs_view_read(res, 0, &v);
	if (who != NULL || auth_link_key(app, r, v.api_key_id)) {
		download_serve(app, r, res);
	}
	PQclear(res);
}

/* DELETE of a complete export: mark it expired and remove its file in one
 * transaction; the file is gone before the answer.  *done = 0 when the job
 * is not complete (the caller goes on). */
static void exports_purge(struct app *app, struct http_request *r, const struct auth *who,
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
	if (st) {
		reply_db_error(app, r, &err);
		goto out;
	}
	jobs_view_read(res, 0, &v);
	key = v.file_key;
	if (key != NULL) {
		st = storage_remove(app->cf, key, &err);
	}
	if (st) {
		jobs_rollback(app->conn);
		log_error("request %s: job %s: cannot remove its file: %s", r->id, id,
			  buf_str(&err));
		problem_reply(r, 503, "storage-unavailable", "Service Unavailable",
			      "the export file could not be removed; try again shortly",
			      "Retry-After: 5\r\n");
		goto out;
	}
	st = jobs_commit(app->conn, &err);
	if (st) {
		reply_db_error(app, r, &err);
		goto out;
	}
	log_info("request %s: job %s deleted (file removed)", r->id, id);
	reply_job(app, r, res, 200, "");
out:
	PQclear(res);
	buf_free(&err);
}

/* The answer to a cancel, by the job's status afterwards. */
static void exports_cancelled(const struct app *app, struct http_request *r, const PGresult *res)
{
	struct jobs_view v;
	const char *status;
	char detail[128];

	jobs_view_read(res, 0, &v);
	status = v.status;
	if (strcmp(status, "processing") == 0) {
		reply_job(app, r, res, 202, "");
	} else if (strcmp(status, "cancelled") == 0 || strcmp(status, "expired") == 0) {
		reply_job(app, r, res, 200, "");
	} else {
		snprintf(detail, sizeof(detail), "the export is already %s and cannot be cancelled",
			 status);
		problem_reply(r, 409, "conflict", "Conflict", detail, "");
	}
}

/* DELETE: cancel a pending or processing job; delete a complete one's
 * file; an expired or cancelled job is shown as it is. */
void exports_delete(struct app *app, struct http_request *r, const struct auth *who, const char *id)
{
	PGresult *res = NULL;
	struct buf err;
	enum ex_status st;
	int done;

	exports_purge(app, r, who, id, &done);
	if (done) {
		return;
	}
	buf_init(&err, 4096);
	st = jobs_cancel(app->conn, who->workspace, id, &res, &err);
	if (st == EX_ENOTFOUND) {
		reply_not_found(r, "no such export");
		goto out;
	}
	if (st) {
		reply_db_error(app, r, &err);
		goto out;
	}
	exports_cancelled(app, r, res);
out:
	PQclear(res);
	buf_free(&err);
}

/* ---- GET /exports ---- */

/* The cursor is base64url("<created_at>|<id>") of the last job shown. */
static int exports_cursor_decode(const char *text, char *ts, size_t tssize, char *id)
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

static void exports_cursor_encode(const PGresult *res, int row, char *out, size_t size)
{
	char raw[160];
	struct jobs_view v;

	jobs_view_read(res, row, &v);
	snprintf(raw, sizeof(raw), "%s|%s", v.list_cursor, v.id);
	if (crypto_b64url_encode(raw, strlen(raw), out, size) != EX_OK) {
		out[0] = '\0';
	}
}

static void exports_bad_cursor(struct http_request *r)
{
	struct problem p;

	problem_init(&p, 400, "invalid-field", "Bad Request", "invalid query parameter");
	problem_add_field(&p, "cursor", "is not a cursor this API returned");
	problem_send(&p, r, "");
}

static int exports_list_params(struct http_request *r, int *limit, char *ts, size_t tssize,
			       char *id, int *has_cursor)
{
	char v[256], *end;
	struct problem p;
	long n;
	int rc;

	problem_init(&p, 400, "invalid-field", "Bad Request", "invalid query parameter");
	*limit = EXPORTS_LIST_DEFAULT;
	rc = router_query_get(r->query, "limit", v, sizeof(v));
	if (rc != 0) {
		n = rc > 0 ? strtol(v, &end, 10) : 0;
		if (rc < 0 || *end != '\0' || n < 1 || n > EXPORTS_LIST_MAX) {
			problem_add_field(&p, "limit", "must be an integer from 1 to 100");
		}
		*limit = (int)n;
	}
	rc = router_query_get(r->query, "cursor", v, sizeof(v));
	*has_cursor = rc > 0;
	if (rc < 0 || (rc > 0 && !exports_cursor_decode(v, ts, tssize, id))) {
		problem_add_field(&p, "cursor", "is not a cursor this API returned");
	}
	if (problem_has_errors(&p)) {
		problem_send(&p, r, "");
		return 0;
	}
	problem_free(&p);
	return 1;
}

/* The list's "quota": the workspace's usage against its limits (README
 * "Quotas"); NULL (answered 503) when it cannot be read. */
static struct json_object *exports_quota(struct app *app, struct http_request *r,
					 const struct auth *who)
{
	struct json_object *quota = NULL;
	struct jobs_limits l;
	struct jobs_usage u;
	PGresult *res = NULL;
	struct buf err;
	enum ex_status st;

	buf_init(&err, 4096);
	jobs_limits_from(app->cf, &l);
	st = jobs_usage(app->conn, who->workspace, &l, &res, &err);
	if (st) {
		reply_db_error(app, r, &err);
		goto out;
	}
	jobs_usage_read(res, &u);
	quota = jobjson_quota(&u, &l);
out:
	PQclear(res);
	buf_free(&err);
	return quota;
}

static struct json_object *exports_list_body(const struct app *app, const PGresult *res, int limit)
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
		exports_cursor_encode(res, limit - 1, cursor, sizeof(cursor));
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

void exports_list(struct app *app, struct http_request *r, const struct auth *who, const char *id)
{
	char ts[128], cursor_id[JOBS_ID_LEN + 1];
	int limit, has_cursor;
	PGresult *res = NULL;
	struct json_object *body, *quota;
	struct buf err;
	enum ex_status st;

	(void)id;
	if (!exports_list_params(r, &limit, ts, sizeof(ts), cursor_id, &has_cursor)) {
		return;
	}
	buf_init(&err, 4096);
	st = jobs_list(app->conn, who->workspace, has_cursor ? ts : NULL,
		       has_cursor ? cursor_id : NULL, limit, &res, &err);
	if (st && db_ok(app->conn) && has_cursor) {
		/* A cursor PostgreSQL cannot read as a timestamp. */
		exports_bad_cursor(r);
		goto out;
	}
	if (st) {
		reply_db_error(app, r, &err);
		goto out;
	}
	quota = exports_quota(app, r, who);
	if (quota == NULL) {
		goto out;
	}
	body = exports_list_body(app, res, limit);
	json_object_object_add(body, "quota", quota);
	request_send_json(r, 200, "Cache-Control: no-store\r\n", body);
	json_object_put(body);
out:
	PQclear(res);
	buf_free(&err);
}
