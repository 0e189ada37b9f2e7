/* jobs.c - owns export_jobs: runs its statements (sql/statements/jobs.sql)
 * and reads their rows by column name. */
#include "jobs/jobs.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "db/db.h"
#include "jobs/jobs_sql.h"

#define JOBS_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Column name -> member of struct jobs_view: the one place a job view row
 * is read. */
#define JOBS_VIEW(name, kind, member)                                                              \
	{                                                                                          \
		name, kind, offsetof(struct jobs_view, member)                                     \
	}
static const struct db_field jobs_view_fields[] = {
	JOBS_VIEW("id", DB_TEXT, id),
	JOBS_VIEW("type", DB_TEXT, type),
	JOBS_VIEW("format", DB_TEXT, format),
	JOBS_VIEW("compression", DB_TEXT, compression),
	JOBS_VIEW("status", DB_TEXT, status),
	JOBS_VIEW("columns", DB_TEXT, columns_json),
	JOBS_VIEW("filters", DB_TEXT, filters_json),
	JOBS_VIEW("notification", DB_TEXT, notification_json),
	JOBS_VIEW("webhooks", DB_TEXT, webhooks_json),
	JOBS_VIEW("error_code", DB_TEXT, error_code),
	JOBS_VIEW("error_message", DB_TEXT, error_message),
	JOBS_VIEW("created_at", DB_TEXT, created_at),
	JOBS_VIEW("started_at", DB_TEXT, started_at),
	JOBS_VIEW("completed_at", DB_TEXT, completed_at),
	JOBS_VIEW("expires_at", DB_TEXT, expires_at),
	JOBS_VIEW("purged_at", DB_TEXT, purged_at),
	JOBS_VIEW("as_of", DB_TEXT, as_of),
	JOBS_VIEW("file_key", DB_TEXT, file_key),
	JOBS_VIEW("checksum", DB_TEXT, checksum),
	JOBS_VIEW("list_cursor", DB_TEXT, list_cursor),
	JOBS_VIEW("created_date", DB_TEXT, created_date),
	JOBS_VIEW("api_key_id", DB_TEXT, api_key_id),
	JOBS_VIEW("node", DB_TEXT, node),
	JOBS_VIEW("since", DB_TEXT, since),
	JOBS_VIEW("next_since", DB_TEXT, next_since),
	JOBS_VIEW("rows_done", DB_LLONG, rows_done),
	JOBS_VIEW("bytes_done", DB_LLONG, bytes_done),
	JOBS_VIEW("attempts", DB_LLONG, attempts),
	JOBS_VIEW("rows_estimated", DB_LLONG_OR, rows_estimated),
	JOBS_VIEW("row_count", DB_LLONG_OR, row_count),
	JOBS_VIEW("file_size", DB_LLONG_OR, file_size),
	JOBS_VIEW("running_for", DB_DOUBLE, running_for),
	JOBS_VIEW("cancel_requested", DB_BOOL, cancel_requested),
	JOBS_VIEW("include_deleted", DB_BOOL, include_deleted),
	JOBS_VIEW("csv_bom", DB_BOOL, csv_bom),
	JOBS_VIEW("csv_formula_guard", DB_BOOL, csv_formula_guard),
	JOBS_VIEW("csv_delimiter", DB_TEXT, csv_delimiter),
	JOBS_VIEW("timezone", DB_TEXT, timezone),
	JOBS_VIEW("header", DB_TEXT, header),
};

#define JOBS_USAGE(name, kind, member)                                                             \
	{                                                                                          \
		name, kind, offsetof(struct jobs_usage, member)                                    \
	}
static const struct db_field jobs_usage_fields[] = {
	JOBS_USAGE("active_count", DB_LLONG, active),
	JOBS_USAGE("creates_hour", DB_LLONG, creates_hour),
	JOBS_USAGE("retained_files", DB_LLONG, retained_files),
	JOBS_USAGE("retained_bytes", DB_LLONG, retained_bytes),
	JOBS_USAGE("active_ids", DB_TEXT, ids_json),
	JOBS_USAGE("retry_after", DB_LLONG, retry_after),
	JOBS_USAGE("creates_retry_after", DB_LLONG_OR, creates_retry_after),
	JOBS_USAGE("retained_retry_after", DB_LLONG_OR, retained_retry_after),
};

#define JOBS_METRICS(name, member)                                                                 \
	{                                                                                          \
		name, DB_TEXT, offsetof(struct jobs_metrics, member)                               \
	}
static const struct db_field jobs_metrics_fields[] = {
	JOBS_METRICS("by_status", by_status),
	JOBS_METRICS("rows_total", rows),
	JOBS_METRICS("bytes_total", bytes),
	JOBS_METRICS("durations", durations),
	JOBS_METRICS("duration_sum", duration_sum),
	JOBS_METRICS("duration_count", duration_count),
	JOBS_METRICS("queue", queue),
	JOBS_METRICS("oldest_due", oldest_due),
	JOBS_METRICS("counters", counters),
	JOBS_METRICS("workers", workers),
};

#define JOBS_FACTS(name, kind, member)                                                             \
	{                                                                                          \
		name, kind, offsetof(struct jobs_facts, member)                                    \
	}
static const struct db_field jobs_facts_fields[] = {
	JOBS_FACTS("type", DB_TEXT, type),
	JOBS_FACTS("format", DB_TEXT, format),
	JOBS_FACTS("row_count", DB_LLONG_OR, row_count),
	JOBS_FACTS("file_size", DB_LLONG_OR, file_size),
	JOBS_FACTS("checksum", DB_TEXT, checksum),
	JOBS_FACTS("error_message", DB_TEXT, error_message),
};

/* The claim's RETURNING list; the id goes to a fixed array, read apart. */
#define JOBS_CLAIM(name, kind, member)                                                             \
	{                                                                                          \
		name, kind, offsetof(struct jobs_claim, member)                                    \
	}
static const struct db_field jobs_claim_fields[] = {
	JOBS_CLAIM("workspace", DB_DUP, workspace),
	JOBS_CLAIM("type", DB_DUP, type),
	JOBS_CLAIM("format", DB_DUP, format),
	JOBS_CLAIM("columns", DB_DUP, columns_json),
	JOBS_CLAIM("lease_token", DB_LLONG, lease_token),
	JOBS_CLAIM("attempts", DB_INT, attempts),
	JOBS_CLAIM("ckpt_last_key", DB_DUP, ckpt_last_key),
	JOBS_CLAIM("ckpt_rows", DB_LLONG, ckpt_rows),
	JOBS_CLAIM("ckpt_bytes", DB_LLONG, ckpt_bytes),
	JOBS_CLAIM("ckpt_part", DB_INT, ckpt_part),
	JOBS_CLAIM("ckpt_sha256", DB_DUP, ckpt_sha256),
	JOBS_CLAIM("ckpt_storage", DB_DUP, ckpt_storage),
	JOBS_CLAIM("compression", DB_DUP, compression),
	JOBS_CLAIM("filters", DB_DUP, filters_json),
	JOBS_CLAIM("include_deleted", DB_BOOL, include_deleted),
	JOBS_CLAIM("csv_bom", DB_BOOL, csv_bom),
	JOBS_CLAIM("csv_formula_guard", DB_BOOL, csv_formula_guard),
	JOBS_CLAIM("csv_delimiter", DB_DUP, csv_delimiter),
	JOBS_CLAIM("timezone", DB_DUP, timezone),
	JOBS_CLAIM("header", DB_DUP, header),
	JOBS_CLAIM("as_of", DB_DUP, as_of),
	JOBS_CLAIM("as_of_key", DB_DUP, as_of_key),
	JOBS_CLAIM("as_of_key_set", DB_BOOL, as_of_key_set),
	JOBS_CLAIM("created_lsn", DB_DUP, created_lsn),
	JOBS_CLAIM("since", DB_DUP, since),
	JOBS_CLAIM("sync_until", DB_DUP, sync_until),
	JOBS_CLAIM("ckpt_last_at", DB_DUP, ckpt_last_at),
	JOBS_CLAIM("takeover", DB_BOOL, takeover),
	JOBS_CLAIM("waited", DB_DOUBLE, waited),
	JOBS_CLAIM("locked", DB_BOOL, locked),
};

int jobs_valid_id(const char *s)
{
	size_t i;

	if (strlen(s) != JOBS_ID_LEN) {
		return 0;
	}
	for (i = 0; i < JOBS_ID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-') {
				return 0;
			}
		} else if (!isxdigit((unsigned char)s[i])) {
			return 0;
		}
	}
	return 1;
}

static int jobs_true(const char *v)
{
	return v != NULL && v[0] == 't';
}

/* Fill out from a row of text and numbers only: nothing is allocated, so
 * nothing can fail (a missing column reads as NULL). */
static void jobs_read(const PGresult *res, int row, const struct db_field *fields, size_t n,
		      void *out, size_t size)
{
	memset(out, 0, size);
	if (db_fields_read(res, row, fields, n, out)) {
		memset(out, 0, size);
	}
}

void jobs_view_read(const PGresult *res, int row, struct jobs_view *v)
{
	jobs_read(res, row, jobs_view_fields, JOBS_COUNT(jobs_view_fields), v, sizeof(*v));
}

void jobs_usage_read(const PGresult *res, struct jobs_usage *u)
{
	jobs_read(res, 0, jobs_usage_fields, JOBS_COUNT(jobs_usage_fields), u, sizeof(*u));
}

void jobs_limits_from(const struct config *cf, struct jobs_limits *l)
{
	l->active = cf->max_active_per_workspace;
	l->creates_per_hour = cf->max_creates_per_hour_per_workspace;
	l->retained_files = cf->max_retained_files_per_workspace;
	l->retained_bytes = cf->max_retained_bytes_per_workspace;
}

/* Is used at a limit?  0: no limit. */
static int jobs_at(long long used, long long limit)
{
	return limit > 0 && used >= limit;
}

enum jobs_quota jobs_usage_over(const struct jobs_usage *u, const struct jobs_limits *l)
{
	if (jobs_at(u->active, l->active)) {
		return JOBS_QUOTA_ACTIVE;
	}
	if (jobs_at(u->creates_hour, l->creates_per_hour)) {
		return JOBS_QUOTA_CREATES;
	}
	if (jobs_at(u->retained_files, l->retained_files)) {
		return JOBS_QUOTA_FILES;
	}
	if (jobs_at(u->retained_bytes, l->retained_bytes)) {
		return JOBS_QUOTA_BYTES;
	}
	return JOBS_QUOTA_NONE;
}

void jobs_metrics_read(const PGresult *res, struct jobs_metrics *m)
{
	jobs_read(res, 0, jobs_metrics_fields, JOBS_COUNT(jobs_metrics_fields), m, sizeof(*m));
}

/* Run a statement and check its result has the columns fields name. */
static enum ex_status jobs_exec(PGconn *conn, const char *sql, int n, const char *const *params,
				const struct db_field *fields, size_t nfields, PGresult **res,
				struct buf *err)
{
	enum ex_status st;

	st = db_exec(conn, sql, n, params, res, err);
	if (st) {
		return st;
	}
	st = db_fields_check(*res, fields, nfields, err);
	if (st) {
		PQclear(*res);
		*res = NULL;
	}
	return st;
}

/* A statement returning job view rows. */
static enum ex_status jobs_view_exec(PGconn *conn, const char *sql, int n,
				     const char *const *params, PGresult **res, struct buf *err)
{
	return jobs_exec(conn, sql, n, params, jobs_view_fields, JOBS_COUNT(jobs_view_fields), res,
			 err);
}

/* One job view row; EX_ENOTFOUND when there is none. */
static enum ex_status jobs_one(PGconn *conn, const char *sql, int n, const char *const *params,
			       PGresult **res, struct buf *err)
{
	enum ex_status st;

	st = jobs_view_exec(conn, sql, n, params, res, err);
	if (st) {
		return st;
	}
	if (PQntuples(*res) != 1) {
		PQclear(*res);
		*res = NULL;
		return EX_ENOTFOUND;
	}
	return EX_OK;
}

/* The job an Idempotency-Key created in the last 24 hours, if any:
 * *found = 0 when there is none. */
static enum ex_status jobs_key_lookup(PGconn *conn, const struct jobs_new *j,
				      enum jobs_outcome *outcome, PGresult **res, int *found,
				      struct buf *err)
{
	const char *params[3] = {j->workspace, j->idempotency_key, j->body_sha256};
	enum ex_status st;

	*found = 0;
	st = jobs_view_exec(conn, jobs_key_lookup_sql, 3, params, res, err);
	if (st) {
		return st;
	}
	if (PQntuples(*res) == 0) {
		PQclear(*res);
		*res = NULL;
		return EX_OK;
	}
	*found = 1;
	*outcome = jobs_true(db_text(*res, 0, "same_body")) ? JOBS_REPLAYED : JOBS_KEY_MISMATCH;
	return EX_OK;
}

/* A limit as a statement parameter: NULL for 0 (none). */
static const char *jobs_limit_param(long long limit, char *text, size_t size)
{
	if (limit <= 0) {
		return NULL;
	}
	snprintf(text, size, "%lld", limit);
	return text;
}

enum ex_status jobs_usage(PGconn *conn, const char *workspace, const struct jobs_limits *l,
			  PGresult **res, struct buf *err)
{
	char creates[24];
	const char *params[2] = {workspace,
				 jobs_limit_param(l->creates_per_hour, creates, sizeof(creates))};

	*res = NULL;
	return jobs_exec(conn, jobs_usage_sql, 2, params, jobs_usage_fields,
			 JOBS_COUNT(jobs_usage_fields), res, err);
}

/* The workspace's usage; *full = 1 (res kept) when a limit is reached. */
static enum ex_status jobs_check_limits(PGconn *conn, const struct jobs_new *j, PGresult **res,
					int *full, struct buf *err)
{
	struct jobs_usage u;
	enum ex_status st;

	*full = 0;
	st = jobs_usage(conn, j->workspace, &j->limits, res, err);
	if (st) {
		return st;
	}
	jobs_usage_read(*res, &u);
	*full = jobs_usage_over(&u, &j->limits) != JOBS_QUOTA_NONE;
	if (!*full) {
		PQclear(*res);
		*res = NULL;
	}
	return EX_OK;
}

/* The INSERT; as_of_key_set false: the worker fixes the key at the first
 * run.  state: the SQLSTATE of a failure (23505: the key's race lost). */
static enum ex_status jobs_insert(PGconn *conn, const struct jobs_new *j, const char *as_of_key,
				  int as_of_key_set, PGresult **res, char state[6], struct buf *err)
{
	const char *params[20] = {j->id,
				  j->workspace,
				  j->email,
				  j->type,
				  j->format,
				  j->columns_json,
				  j->compression,
				  j->filters_json,
				  j->include_deleted ? "t" : "f",
				  j->csv_bom ? "t" : "f",
				  j->csv_formula_guard ? "t" : "f",
				  j->idempotency_key,
				  j->idempotency_key != NULL ? j->body_sha256 : NULL,
				  as_of_key,
				  as_of_key_set ? "t" : "f",
				  j->api_key_id,
				  j->csv_delimiter,
				  j->timezone,
				  j->header,
				  j->since};
	enum ex_status st;

	st = db_exec_state(conn, jobs_insert_sql, 20, params, res, state, err);
	if (st) {
		return st;
	}
	st = db_fields_check(*res, jobs_view_fields, JOBS_COUNT(jobs_view_fields), err);
	if (st) {
		goto fail;
	}
	if (PQntuples(*res) != 1) {
		buf_msg(err, "the insert returned no row");
		st = EX_EDB;
		goto fail;
	}
	return EX_OK;
fail:
	PQclear(*res);
	*res = NULL;
	return st;
}

/* Insert with the as-of key read from the type's source now; when the
 * source cannot be read (EX_EPERM: relation or column gone, no privilege,
 * schema gone), without it, so that the job still exists and fails with a
 * readable error at its first run. */
static enum ex_status jobs_insert_bounded(PGconn *conn, const struct jobs_new *j, PGresult **res,
					  char state[6], struct buf *err)
{
	char *key = NULL;
	enum ex_status st;

	st = db_exec(conn, jobs_savepoint_sql, 0, NULL, NULL, err);
	if (st) {
		return st;
	}
	st = registry_as_of_key(conn, j->source, j->workspace, &key, err);
	if (st == EX_EPERM) {
		st = db_exec(conn, jobs_savepoint_undo_sql, 0, NULL, NULL, err);
		if (st) {
			goto out;
		}
		st = jobs_insert(conn, j, NULL, 0, res, state, err);
		goto out;
	}
	if (st) {
		goto out;
	}
	st = jobs_insert(conn, j, key, 1, res, state, err);
out:
	free(key);
	return st;
}

/* Inside the transaction: lock, key, limits, insert. */
static enum ex_status jobs_create_tx(PGconn *conn, const struct jobs_new *j,
				     enum jobs_outcome *outcome, PGresult **res, char state[6],
				     struct buf *err)
{
	const char *params[2] = {j->workspace, j->idempotency_key};
	enum ex_status st;
	int done = 0;

	st = db_exec(conn, jobs_ws_lock_sql, 1, params, NULL, err);
	if (st) {
		return st;
	}
	if (j->idempotency_key != NULL) {
		st = jobs_key_lookup(conn, j, outcome, res, &done, err);
		if (st || done) {
			return st;
		}
		st = db_exec(conn, jobs_key_forget_sql, 2, params, NULL, err);
		if (st) {
			return st;
		}
	}
	*outcome = JOBS_AT_LIMIT;
	st = jobs_check_limits(conn, j, res, &done, err);
	if (st || done) {
		return st;
	}
	*outcome = JOBS_CREATED;
	return jobs_insert_bounded(conn, j, res, state, err);
}

/* unique_violation on the key: a request with the same key (or a
 * plain-SQL insert) got there first; its job is the answer. */
static enum ex_status jobs_key_race(PGconn *conn, const struct jobs_new *j,
				    enum jobs_outcome *outcome, PGresult **res, struct buf *err)
{
	enum ex_status st;
	int found = 0;

	st = jobs_key_lookup(conn, j, outcome, res, &found, err);
	if (st) {
		return st;
	}
	if (!found) {
		buf_msg(err, "idempotency key taken but its job is not visible");
		return EX_EDB;
	}
	return EX_OK;
}

enum ex_status jobs_create(PGconn *conn, const struct jobs_new *j, enum jobs_outcome *outcome,
			   PGresult **res, struct buf *err)
{
	char state[6] = "";
	enum ex_status st;

	*res = NULL;
	st = db_begin(conn, err);
	if (st) {
		return st;
	}
	st = jobs_create_tx(conn, j, outcome, res, state, err);
	if (st) {
		db_rollback(conn);
		goto out;
	}
	st = db_commit(conn, err);
out:
	if (st) {
		PQclear(*res);
		*res = NULL;
	}
	if (st && strcmp(state, "23505") == 0 && j->idempotency_key != NULL) {
		st = jobs_key_race(conn, j, outcome, res, err);
	}
	return st;
}

enum ex_status jobs_get(PGconn *conn, const char *workspace, const char *id, PGresult **res,
			struct buf *err)
{
	const char *params[2] = {workspace, id};

	return jobs_one(conn, jobs_get_sql, 2, params, res, err);
}

enum ex_status jobs_get_keyed(PGconn *conn, const char *key_id, const char *id, PGresult **res,
			      struct buf *err)
{
	const char *params[2] = {key_id, id};

	return jobs_one(conn, jobs_get_keyed_sql, 2, params, res, err);
}

enum ex_status jobs_get_by_link(PGconn *conn, const char *id, PGresult **res, struct buf *err)
{
	const char *params[1] = {id};

	return jobs_one(conn, jobs_get_by_link_sql, 1, params, res, err);
}

enum ex_status jobs_list(PGconn *conn, const char *workspace, const char *cursor_ts,
			 const char *cursor_id, int limit, PGresult **res, struct buf *err)
{
	char lim[16];
	const char *params[4] = {workspace, lim, cursor_ts, cursor_id};

	snprintf(lim, sizeof(lim), "%d", limit + 1);
	return jobs_view_exec(conn, jobs_list_sql, 4, params, res, err);
}

enum ex_status jobs_cancel(PGconn *conn, const char *workspace, const char *id, PGresult **res,
			   struct buf *err)
{
	const char *params[2] = {workspace, id};
	enum ex_status st;

	st = jobs_one(conn, jobs_cancel_sql, 2, params, res, err);
	if (st == EX_ENOTFOUND) {
		/* Not pending or processing: shown unchanged. */
		return jobs_get(conn, workspace, id, res, err);
	}
	return st;
}

enum ex_status jobs_purge_begin(PGconn *conn, const char *workspace, const char *id, PGresult **res,
				struct buf *err)
{
	const char *params[2] = {workspace, id};
	enum ex_status st;

	st = db_begin(conn, err);
	if (st) {
		return st;
	}
	st = jobs_one(conn, jobs_purge_sql, 2, params, res, err);
	if (st) {
		db_rollback(conn);
	}
	return st;
}

enum ex_status jobs_metrics(PGconn *conn, PGresult **res, struct buf *err)
{
	const char *params[1] = {JOBS_DURATION_BOUNDS};

	return jobs_exec(conn, jobs_metrics_sql, 1, params, jobs_metrics_fields,
			 JOBS_COUNT(jobs_metrics_fields), res, err);
}

enum ex_status jobs_metrics_fold(PGconn *conn, int batch, int *count, struct buf *err)
{
	static const struct db_field fields[] = {{"folded", DB_INT, 0}};
	char limit[24];
	const char *params[2] = {JOBS_DURATION_BOUNDS, limit};
	PGresult *res = NULL;
	enum ex_status st;

	*count = 0;
	snprintf(limit, sizeof(limit), "%d", batch);
	st = jobs_exec(conn, jobs_metrics_fold_sql, 2, params, fields, JOBS_COUNT(fields), &res,
		       err);
	if (st) {
		return st;
	}
	if (PQntuples(res) == 1) {
		*count = (int)db_int(res, 0, 0);
	}
	PQclear(res);
	return EX_OK;
}

enum ex_status jobs_admin_list(PGconn *conn, const struct jobs_filter *f, PGresult **res,
			       struct buf *err)
{
	const char *params[5] = {f->workspace, f->status, f->type, f->older_than,
				 f->stuck ? "stuck" : NULL};

	return db_exec(conn, jobs_admin_list_sql, 5, params, res, err);
}

enum ex_status jobs_admin_show(PGconn *conn, const char *id, const char *workspace, PGresult **res,
			       struct buf *err)
{
	const char *params[2] = {id, workspace};

	return db_exec(conn, jobs_admin_show_sql, 2, params, res, err);
}

enum ex_status jobs_admin_act(PGconn *conn, enum jobs_admin_action a, const char *id,
			      const char *workspace, const char *reason, char *status, size_t cap,
			      struct buf *err)
{
	static const char *const sql[] = {jobs_admin_retry_sql, jobs_admin_cancel_sql,
					  jobs_admin_fail_sql};
	const char *params[3] = {id, workspace, reason};
	PGresult *res = NULL;
	enum ex_status st;

	st = db_exec(conn, sql[a], a == JOBS_ADMIN_FAIL ? 3 : 2, params, &res, err);
	if (st) {
		return st;
	}
	if (PQntuples(res) == 0) {
		st = EX_ENOTFOUND;
	} else {
		snprintf(status, cap, "%s", PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	return st;
}

enum ex_status jobs_admin_quota(PGconn *conn, const char *workspace, const struct jobs_limits *l,
				PGresult **res, struct buf *err)
{
	char active[24], creates[24], files[24], bytes[24];
	const char *params[5] = {workspace, jobs_limit_param(l->active, active, sizeof(active)),
				 jobs_limit_param(l->creates_per_hour, creates, sizeof(creates)),
				 jobs_limit_param(l->retained_files, files, sizeof(files)),
				 jobs_limit_param(l->retained_bytes, bytes, sizeof(bytes))};

	return db_exec(conn, jobs_admin_quota_sql, 5, params, res, err);
}

/* The rows of one retention batch, in its transaction. */
static enum ex_status jobs_expire_rows(PGconn *conn, const PGresult *res,
				       enum ex_status (*remove)(const void *arg, const char *id,
								const char *file_key),
				       const void *arg, int *count, struct buf *err)
{
	const char *params[1];
	enum ex_status st;
	int i;

	for (i = 0; i < PQntuples(res); i++) {
		params[0] = db_text(res, i, "id");
		if (remove(arg, params[0], db_text(res, i, "file_key"))) {
			continue;
		}
		st = db_exec(conn, jobs_expire_sql, 1, params, NULL, err);
		if (st) {
			return st;
		}
		(*count)++;
	}
	return EX_OK;
}

enum ex_status jobs_queue_status(PGconn *conn, struct jobs_queue *out, struct buf *err)
{
	static const struct db_field fields[] = {
		{"running", DB_LLONG, offsetof(struct jobs_queue, running)},
		{"queued", DB_LLONG, offsetof(struct jobs_queue, queued)}};
	PGresult *res = NULL;
	enum ex_status st;

	st = jobs_exec(conn, jobs_queue_status_sql, 0, NULL, fields, JOBS_COUNT(fields), &res, err);
	if (st) {
		return st;
	}
	st = db_fields_read(res, 0, fields, JOBS_COUNT(fields), out);
	PQclear(res);
	return st;
}

/* One expiry batch: the complete jobs sql (params) selects, locked. */
static enum ex_status
jobs_expire_with(PGconn *conn, const char *sql, int n, const char *const *params,
		 enum ex_status (*remove)(const void *arg, const char *id, const char *file_key),
		 const void *arg, int *count, struct buf *err)
{
	static const struct db_field fields[] = {{"id", DB_TEXT, 0}, {"file_key", DB_TEXT, 0}};
	PGresult *res = NULL;
	enum ex_status st;

	*count = 0;
	st = db_begin(conn, err);
	if (st) {
		return st;
	}
	st = jobs_exec(conn, sql, n, params, fields, JOBS_COUNT(fields), &res, err);
	if (st) {
		goto out;
	}
	st = jobs_expire_rows(conn, res, remove, arg, count, err);
	if (st) {
		goto out;
	}
	st = db_commit(conn, err);
out:
	if (st) {
		db_rollback(conn);
		*count = 0;
	}
	PQclear(res);
	return st;
}

enum ex_status jobs_expire_batch(PGconn *conn,
				 enum ex_status (*remove)(const void *arg, const char *id,
							  const char *file_key),
				 const void *arg, int *count, struct buf *err)
{
	return jobs_expire_with(conn, jobs_expired_batch_sql, 0, NULL, remove, arg, count, err);
}

enum ex_status jobs_admin_expire_before(PGconn *conn, const char *before, const char *workspace,
					enum ex_status (*remove)(const void *arg, const char *id,
								 const char *file_key),
					const void *arg, int *count, struct buf *err)
{
	const char *params[2] = {before, workspace};

	return jobs_expire_with(conn, jobs_admin_expire_before_sql, 2, params, remove, arg, count,
				err);
}

enum ex_status jobs_admin_purge_batch(PGconn *conn, const char *before, const char *workspace,
				      int *count, struct buf *err)
{
	const char *params[2] = {before, workspace};
	PGresult *res = NULL;
	enum ex_status st;

	*count = 0;
	st = db_exec(conn, jobs_admin_purge_sql, 2, params, &res, err);
	if (st == EX_OK) {
		*count = PQntuples(res);
	}
	PQclear(res);
	return st;
}

enum ex_status jobs_facts(PGconn *conn, const char *id, struct jobs_facts *f, PGresult **res,
			  struct buf *err)
{
	const char *params[1] = {id};
	enum ex_status st;

	st = jobs_exec(conn, jobs_facts_sql, 1, params, jobs_facts_fields,
		       JOBS_COUNT(jobs_facts_fields), res, err);
	if (st) {
		return st;
	}
	if (PQntuples(*res) != 1) {
		PQclear(*res);
		*res = NULL;
		return EX_ENOTFOUND;
	}
	jobs_read(*res, 0, jobs_facts_fields, JOBS_COUNT(jobs_facts_fields), f, sizeof(*f));
	return EX_OK;
}

/* ---- worker side ---- */

static enum ex_status jobs_claim_fill(const PGresult *res, struct jobs_claim *job, struct buf *err)
{
	const char *id = db_text(res, 0, "id");
	enum ex_status st;

	memset(job, 0, sizeof(*job));
	st = db_fields_check(res, jobs_claim_fields, JOBS_COUNT(jobs_claim_fields), err);
	if (st) {
		return st;
	}
	if (id == NULL) {
		buf_msg(err, "the claim returned no job id");
		return EX_EDB;
	}
	snprintf(job->id, sizeof(job->id), "%s", id);
	st = db_fields_read(res, 0, jobs_claim_fields, JOBS_COUNT(jobs_claim_fields), job);
	if (st) {
		goto fail;
	}
	if (job->workspace == NULL || job->type == NULL || job->format == NULL ||
	    job->compression == NULL || job->csv_delimiter == NULL || job->timezone == NULL ||
	    job->header == NULL) {
		st = EX_ENOMEM;
		goto fail;
	}
	return EX_OK;
fail:
	jobs_claim_free(job);
	return st;
}

enum ex_status jobs_claim(PGconn *conn, const char *owner, long long lease_ms,
			  struct jobs_claim *job, int *found, struct buf *err)
{
	char lease[32];
	const char *params[2] = {owner, lease};
	PGresult *res = NULL;
	enum ex_status st;

	*found = 0;
	snprintf(lease, sizeof(lease), "%lld", lease_ms);
	st = db_exec(conn, jobs_claim_sql, 2, params, &res, err);
	if (st) {
		return st;
	}
	if (PQntuples(res) == 1) {
		st = jobs_claim_fill(res, job, err);
		if (st) {
			goto out;
		}
		*found = 1;
	}
out:
	PQclear(res);
	return st;
}

enum ex_status jobs_lock(PGconn *conn, struct jobs_claim *job, struct buf *err)
{
	char token[32];
	const char *params[2] = {job->id, token};
	PGresult *res = NULL;
	enum ex_status st;

	if (job->locked) {
		return EX_OK;
	}
	snprintf(token, sizeof(token), "%lld", job->lease_token);
	st = db_exec(conn, jobs_lock_sql, 2, params, &res, err);
	if (st) {
		return st;
	}
	job->locked = jobs_true(db_text(res, 0, "locked"));
	PQclear(res);
	return EX_OK;
}

void jobs_unlock_all(PGconn *conn)
{
	db_exec_quiet(conn, jobs_unlock_all_sql);
}

void jobs_claim_free(struct jobs_claim *job)
{
	free(job->workspace);
	free(job->type);
	free(job->format);
	free(job->compression);
	free(job->csv_delimiter);
	free(job->timezone);
	free(job->header);
	free(job->columns_json);
	free(job->ckpt_last_key);
	free(job->ckpt_sha256);
	free(job->ckpt_storage);
	free(job->filters_json);
	free(job->as_of);
	free(job->as_of_key);
	free(job->created_lsn);
	free(job->since);
	free(job->sync_until);
	free(job->ckpt_last_at);
	memset(job, 0, sizeof(*job));
}

/* Run a fenced write (an UPDATE ... WHERE id = $1 AND lease_token = $2
 * RETURNING ...); no row back means the lease is no longer ours. */
static enum ex_status jobs_fenced(PGconn *conn, const char *sql, int n, const char *const *params,
				  PGresult **res, struct buf *err)
{
	PGresult *r = NULL;
	enum ex_status st;

	st = db_exec(conn, sql, n, params, &r, err);
	if (st) {
		return st;
	}
	if (PQntuples(r) == 0) {
		PQclear(r);
		return EX_ELEASE;
	}
	if (res != NULL) {
		*res = r;
	} else {
		PQclear(r);
	}
	return EX_OK;
}

enum ex_status jobs_heartbeat(PGconn *conn, const struct jobs_claim *job,
			      const struct jobs_progress *p, long long lease_ms, int *cancel,
			      struct buf *err)
{
	char token[32], rows[32], bytes[32], part[16], lease[32];
	const char *params[10] = {
		job->id,	  token,     rows, bytes, lease, p->last_key, part, p->sha_state,
		p->storage_state, p->last_at};
	PGresult *res = NULL;
	enum ex_status st;

	snprintf(token, sizeof(token), "%lld", job->lease_token);
	snprintf(rows, sizeof(rows), "%lld", p->rows);
	snprintf(bytes, sizeof(bytes), "%lld", p->bytes);
	snprintf(part, sizeof(part), "%d", p->part);
	snprintf(lease, sizeof(lease), "%lld", lease_ms);
	st = jobs_fenced(conn, jobs_heartbeat_sql, 10, params, &res, err);
	if (st) {
		return st;
	}
	*cancel = jobs_true(db_text(res, 0, "cancel_requested"));
	PQclear(res);
	return EX_OK;
}

enum ex_status jobs_set_as_of_key(PGconn *conn, const struct jobs_claim *job, const char *key,
				  struct buf *err)
{
	char token[32];
	const char *params[3] = {job->id, token, key};

	snprintf(token, sizeof(token), "%lld", job->lease_token);
	return jobs_fenced(conn, jobs_set_as_of_key_sql, 3, params, NULL, err);
}

enum ex_status jobs_set_sync_until(PGconn *conn, const struct jobs_claim *job, long long lag_ms,
				   char **until, struct buf *err)
{
	char token[32], lag[32];
	const char *params[3] = {job->id, token, lag};
	PGresult *res = NULL;
	const char *v;
	enum ex_status st;

	*until = NULL;
	snprintf(token, sizeof(token), "%lld", job->lease_token);
	snprintf(lag, sizeof(lag), "%lld", lag_ms);
	st = jobs_fenced(conn, jobs_set_sync_until_sql, 3, params, &res, err);
	if (st) {
		return st;
	}
	v = db_text(res, 0, "sync_until");
	*until = v != NULL ? strdup(v) : NULL;
	st = *until == NULL ? EX_ENOMEM : EX_OK;
	PQclear(res);
	return st;
}

enum ex_status jobs_set_estimate(PGconn *conn, const struct jobs_claim *job, long long rows,
				 struct buf *err)
{
	char token[32], est[32];
	const char *params[3] = {job->id, token, est};

	snprintf(token, sizeof(token), "%lld", job->lease_token);
	snprintf(est, sizeof(est), "%lld", rows);
	return jobs_fenced(conn, jobs_set_estimate_sql, 3, params, NULL, err);
}

enum ex_status jobs_complete_begin(PGconn *conn, const struct jobs_claim *job,
				   const struct jobs_result *r, long long retention_ms, int notify,
				   struct buf *err)
{
	char token[32], nrows[32], nbytes[32], keep[32];
	const char *params[9] = {
		job->id,     token,	   nrows, nbytes, r->file_key, keep, notify ? "t" : "f",
		r->checksum, r->next_since};
	enum ex_status st;

	snprintf(token, sizeof(token), "%lld", job->lease_token);
	snprintf(nrows, sizeof(nrows), "%lld", r->rows);
	snprintf(nbytes, sizeof(nbytes), "%lld", r->bytes);
	snprintf(keep, sizeof(keep), "%lld", retention_ms);
	st = db_begin(conn, err);
	if (st) {
		return st;
	}
	st = jobs_fenced(conn, jobs_complete_sql, 9, params, NULL, err);
	if (st) {
		db_rollback(conn);
	}
	return st;
}

enum ex_status jobs_commit(PGconn *conn, struct buf *err)
{
	return db_commit(conn, err);
}

void jobs_rollback(PGconn *conn)
{
	db_rollback(conn);
}

enum ex_status jobs_fail(PGconn *conn, const struct jobs_claim *job, const char *code,
			 const char *message, long long retry_in_ms, int notify, struct buf *err)
{
	char token[32], retry[32];
	const char *params[6] = {job->id, token, code, message, retry, notify ? "t" : "f"};

	snprintf(token, sizeof(token), "%lld", job->lease_token);
	snprintf(retry, sizeof(retry), "%lld", retry_in_ms);
	return jobs_fenced(conn, jobs_fail_sql, 6, params, NULL, err);
}

enum ex_status jobs_mark_cancelled(PGconn *conn, const struct jobs_claim *job, struct buf *err)
{
	char token[32];
	const char *params[2] = {job->id, token};

	snprintf(token, sizeof(token), "%lld", job->lease_token);
	return jobs_fenced(conn, jobs_mark_cancelled_sql, 2, params, NULL, err);
}

enum ex_status jobs_release(PGconn *conn, const struct jobs_claim *job, struct buf *err)
{
	char token[32];
	const char *params[2] = {job->id, token};

	snprintf(token, sizeof(token), "%lld", job->lease_token);
	return jobs_fenced(conn, jobs_release_sql, 2, params, NULL, err);
}

long long jobs_next_due_ms(PGconn *conn)
{
	PGresult *res = NULL;
	struct buf err;
	const char *v;
	long long ms = -1;

	buf_init(&err, 1024);
	if (db_exec(conn, jobs_next_due_sql, 0, NULL, &res, &err)) {
		goto out;
	}
	v = db_text(res, 0, "due_ms");
	if (v != NULL) {
		ms = strtoll(v, NULL, 10);
		ms = ms < 0 ? 0 : ms;
	}
out:
	PQclear(res);
	buf_free(&err);
	return ms;
}
