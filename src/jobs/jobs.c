#include "jobs/jobs.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"

/* Advisory lock a worker holds on its job for the job's duration, in the
 * two-int4 form (classid = JOBS_LOCK_NS, objid = hash of id and fencing
 * token) so pg_locks can tell whether the current holder is still
 * connected.  Keyed on the token: a worker that took the job over from a
 * hung holder (lease expired, old lock still held) gets its own lock at
 * once, and the old holder letting go of its lock frees nothing that
 * matters.  A hash collision only makes a dead holder's job wait for its
 * lease to run out. */
#define JOBS_LOCK_NS		 "1163416644" /* 'EXPD' */
#define JOBS_LOCK_KEY(id, token) "hashtext(" id "::text || ':' || " token "::text)"
#define JOBS_LOCK(id, token)	 "pg_try_advisory_lock(" JOBS_LOCK_NS ", " JOBS_LOCK_KEY(id, token) ")"

#define TS(c) "to_char(" c " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* The job view, in enum jobs_view_col order. */
/* clang-format off */
#define JOBS_VIEW \
	"id, type, format, to_json(columns), status, rows_done, rows_estimated, bytes_done," \
	" row_count, file_size, error_code, error_message, " TS("created_at") ", " \
	TS("started_at") ", " TS("completed_at") ", " TS("expires_at") ", attempts," \
	" cancel_requested_at IS NOT NULL, file_key, compression, created_at::text," \
	" to_char(created_at AT TIME ZONE 'UTC', 'YYYYMMDD')," \
	" (SELECT json_build_object('status', n.status, 'attempts', n.attempts," \
	"  'sent_at', " TS("n.sent_at") ", 'last_error', n.last_error)" \
	"  FROM export_notifications n WHERE n.job_id = export_jobs.id" \
	"  ORDER BY n.id DESC LIMIT 1)," \
	" filters::text, include_deleted, csv_bom, csv_formula_guard, " TS("as_of") ", checksum," \
	" extract(epoch FROM now() - started_at)::float8, " TS("purged_at")
/* clang-format on */

/* Per-workspace lock serialising job creation (count + insert), in the
 * two-int4 advisory lock space next to the job locks: 'EXPW'. */
#define JOBS_WS_LOCK_NS "1163415639"
/* How long an Idempotency-Key is remembered. */
#define JOBS_KEY_WINDOW "interval '24 hours'"
/* Ids listed in a 429, at most. */
#define JOBS_ACTIVE_LIST "100"

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

/* Run a statement that must yield exactly one row; EX_ENOTFOUND otherwise. */
static enum ex_status jobs_one(PGconn *conn, const char *sql, int n, const char *const *params,
			       PGresult **res, struct buf *err)
{
	enum ex_status st = db_exec(conn, sql, n, params, res, err);

	if (st == EX_OK && PQntuples(*res) != 1) {
		PQclear(*res);
		*res = NULL;
		st = EX_ENOTFOUND;
	}
	return st;
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
	st = db_exec(conn,
		     "SELECT " JOBS_VIEW ", idempotency_hash IS NOT DISTINCT FROM $3"
		     " FROM export_jobs WHERE workspace = $1 AND idempotency_key = $2"
		     " AND created_at > now() - " JOBS_KEY_WINDOW,
		     3, params, res, err);
	if (st != EX_OK || PQntuples(*res) == 0) {
		PQclear(*res);
		*res = NULL;
		return st;
	}
	*found = 1;
	*outcome =
		PQgetvalue(*res, 0, JOBS_VIEW_NCOLS)[0] == 't' ? JOBS_REPLAYED : JOBS_KEY_MISMATCH;
	return EX_OK;
}

/* The workspace's active jobs; *full = 1 (res kept) when at the limit. */
static enum ex_status jobs_active(PGconn *conn, const struct jobs_new *j, PGresult **res, int *full,
				  struct buf *err)
{
	const char *params[1] = {j->workspace};
	enum ex_status st;

	/* Retry-After: the soonest end among the workspace's running jobs,
	 * extrapolated from their progress; 5 s when nothing is known. */
	st = db_exec(
		conn,
		"SELECT count(*),"
		" (SELECT coalesce(json_agg(id ORDER BY created_at, id), '[]') FROM"
		"  (SELECT id, created_at FROM export_jobs WHERE workspace = $1"
		"   AND status IN ('pending', 'processing')"
		"   ORDER BY created_at, id LIMIT " JOBS_ACTIVE_LIST ") a),"
		" coalesce((SELECT least(3600, greatest(1, ceil(min("
		"   extract(epoch FROM now() - started_at)::float8"
		"   * (rows_estimated - rows_done) / rows_done))))::int"
		"  FROM export_jobs WHERE workspace = $1 AND status = 'processing'"
		"  AND rows_done > 0 AND rows_estimated > rows_done), 5)"
		" FROM export_jobs WHERE workspace = $1 AND status IN ('pending', 'processing')",
		1, params, res, err);
	*full = st == EX_OK && db_int(*res, 0, JOBS_ACTIVE_COUNT) >= j->max_active;
	if (st == EX_OK && !*full) {
		PQclear(*res);
		*res = NULL;
	}
	return st;
}

/* The INSERT, with the as-of key read from the type's source in the same
 * statement.  Identifiers come from the registry and are quoted. */
static enum ex_status jobs_insert_sql(PGconn *conn, const struct jobs_new *j, struct buf *sql)
{
	struct buf key, rel;
	enum ex_status st;

	buf_init(&key, 1024);
	buf_init(&rel, 2048);
	st = db_quote_ident(conn, j->key_column, &key);
	if (st == EX_OK) {
		st = db_quote_ident(conn, j->schema_name, &rel);
	}
	if (st == EX_OK) {
		st = buf_putc(&rel, '.');
	}
	if (st == EX_OK) {
		st = db_quote_ident(conn, j->relation, &rel);
	}
	if (st == EX_OK) {
		st = buf_printf(
			sql,
			"INSERT INTO export_jobs (id, workspace, requester_email, type, format,"
			" columns, compression, filters, include_deleted, csv_bom,"
			" csv_formula_guard, idempotency_key, idempotency_hash, as_of_key,"
			" as_of_key_set) VALUES ($1, $2, $3, $4, $5,"
			" CASE WHEN $6::jsonb IS NULL THEN NULL"
			" ELSE ARRAY(SELECT jsonb_array_elements_text($6::jsonb)) END,"
			" $7, $8::jsonb, $9::boolean, $10::boolean, $11::boolean, $12, $13,"
			" (SELECT _src.%s::text FROM %s AS _src WHERE _src.",
			buf_str(&key), buf_str(&rel));
	}
	/* Qualified: ORDER BY a bare "id" would sort the output column, the
	 * key as text ('999' > '2000'). */
	if (st == EX_OK) {
		st = db_quote_ident(conn, j->workspace_column, sql);
	}
	if (st == EX_OK) {
		/* $14 is untyped: it takes the workspace column's type. */
		st = buf_printf(
			sql,
			" = $14 AND _src.%s IS NOT NULL ORDER BY _src.%s DESC LIMIT 1), true)"
			" RETURNING " JOBS_VIEW,
			buf_str(&key), buf_str(&key));
	}
	buf_free(&key);
	buf_free(&rel);
	return st;
}

/* The INSERT without the as-of key (as_of_key_set false): for a source
 * that cannot be read now.  The worker fixes the key at the first run, or
 * fails the job with a message saying what is wrong with the source. */
#define JOBS_INSERT_UNBOUND                                                                        \
	"INSERT INTO export_jobs (id, workspace, requester_email, type, format,"                   \
	" columns, compression, filters, include_deleted, csv_bom,"                                \
	" csv_formula_guard, idempotency_key, idempotency_hash) VALUES ($1, $2, $3, $4, $5,"       \
	" CASE WHEN $6::jsonb IS NULL THEN NULL"                                                   \
	" ELSE ARRAY(SELECT jsonb_array_elements_text($6::jsonb)) END,"                            \
	" $7, $8::jsonb, $9::boolean, $10::boolean, $11::boolean, $12, $13)"                       \
	" RETURNING " JOBS_VIEW

/* sql NULL: JOBS_INSERT_UNBOUND. */
static enum ex_status jobs_insert(PGconn *conn, const struct jobs_new *j, const char *sql,
				  PGresult **res, char state[6], struct buf *err)
{
	const char *params[14] = {j->id,
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
				  j->workspace};
	enum ex_status st = db_exec_state(conn, sql != NULL ? sql : JOBS_INSERT_UNBOUND,
					  sql != NULL ? 14 : 13, params, res, state, err);

	if (st == EX_OK && PQntuples(*res) != 1) {
		PQclear(*res);
		*res = NULL;
		buf_msg(err, "the insert returned no row");
		st = EX_EDB;
	}
	return st;
}

/* Insert with the as-of key; when the source cannot be read (class 42:
 * relation or column gone, no privilege; 3F: schema gone), without it,
 * so that the job still exists and fails with a readable error. */
static enum ex_status jobs_insert_bounded(PGconn *conn, const struct jobs_new *j, const char *sql,
					  PGresult **res, char state[6], struct buf *err)
{
	enum ex_status st = db_exec(conn, "SAVEPOINT jobs_insert", 0, NULL, NULL, err);

	if (st == EX_OK) {
		st = jobs_insert(conn, j, sql, res, state, err);
	}
	if (st != EX_OK && (strncmp(state, "42", 2) == 0 || strncmp(state, "3F", 2) == 0)) {
		st = db_exec(conn, "ROLLBACK TO SAVEPOINT jobs_insert", 0, NULL, NULL, err);
		if (st == EX_OK) {
			st = jobs_insert(conn, j, NULL, res, state, err);
		}
	}
	return st;
}

/* Inside the transaction: lock, key, limit, insert. */
static enum ex_status jobs_create_tx(PGconn *conn, const struct jobs_new *j, const char *sql,
				     enum jobs_outcome *outcome, PGresult **res, char state[6],
				     struct buf *err)
{
	const char *params[2] = {j->workspace, j->idempotency_key};
	enum ex_status st;
	int done = 0;

	st = db_exec(conn, "SELECT pg_advisory_xact_lock(" JOBS_WS_LOCK_NS ", hashtext($1))", 1,
		     params, NULL, err);
	if (st == EX_OK && j->idempotency_key != NULL) {
		st = jobs_key_lookup(conn, j, outcome, res, &done, err);
		if (st == EX_OK && !done) {
			/* Older than the window: forgotten, the key is free again. */
			st = db_exec(conn,
				     "UPDATE export_jobs SET idempotency_key = NULL"
				     " WHERE workspace = $1 AND idempotency_key = $2",
				     2, params, NULL, err);
		}
	}
	if (st == EX_OK && !done) {
		st = jobs_active(conn, j, res, &done, err);
		*outcome = JOBS_AT_LIMIT;
	}
	if (st == EX_OK && !done) {
		*outcome = JOBS_CREATED;
		st = jobs_insert_bounded(conn, j, sql, res, state, err);
	}
	return st;
}

enum ex_status jobs_create(PGconn *conn, const struct jobs_new *j, enum jobs_outcome *outcome,
			   PGresult **res, struct buf *err)
{
	struct buf sql;
	char state[6] = "";
	enum ex_status st;
	int found = 0;

	*res = NULL;
	buf_init(&sql, 16384);
	st = jobs_insert_sql(conn, j, &sql);
	if (st != EX_OK) {
		buf_msg(err, "cannot build the insert: %s", status_strerror(st));
		goto out;
	}
	st = db_exec(conn, "BEGIN", 0, NULL, NULL, err);
	if (st != EX_OK) {
		goto out;
	}
	st = jobs_create_tx(conn, j, buf_str(&sql), outcome, res, state, err);
	if (st == EX_OK) {
		st = db_exec(conn, "COMMIT", 0, NULL, NULL, err);
	} else {
		db_exec_quiet(conn, "ROLLBACK");
	}
	if (st != EX_OK) {
		PQclear(*res);
		*res = NULL;
	}
	/* unique_violation: a request with the same key (or a plain-SQL
	 * insert) got there first; its job is the answer. */
	if (st != EX_OK && strcmp(state, "23505") == 0 && j->idempotency_key != NULL) {
		st = jobs_key_lookup(conn, j, outcome, res, &found, err);
		if (st == EX_OK && !found) {
			buf_msg(err, "idempotency key taken but its job is not visible");
			st = EX_EDB;
		}
	}
out:
	buf_free(&sql);
	return st;
}

enum ex_status jobs_get(PGconn *conn, const char *workspace, const char *id, PGresult **res,
			struct buf *err)
{
	const char *params[2] = {workspace, id};

	return jobs_one(conn,
			"SELECT " JOBS_VIEW " FROM export_jobs WHERE workspace = $1 AND id = $2", 2,
			params, res, err);
}

enum ex_status jobs_get_by_link(PGconn *conn, const char *id, PGresult **res, struct buf *err)
{
	const char *params[1] = {id};

	return jobs_one(conn, "SELECT " JOBS_VIEW " FROM export_jobs WHERE id = $1", 1, params, res,
			err);
}

enum ex_status jobs_list(PGconn *conn, const char *workspace, const char *cursor_ts,
			 const char *cursor_id, int limit, PGresult **res, struct buf *err)
{
	char lim[16];
	const char *params[4] = {workspace, lim, cursor_ts, cursor_id};

	snprintf(lim, sizeof(lim), "%d", limit + 1);
	return db_exec(conn,
		       "SELECT " JOBS_VIEW " FROM export_jobs WHERE workspace = $1"
		       " AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))"
		       " ORDER BY created_at DESC, id DESC LIMIT $2",
		       4, params, res, err);
}

enum ex_status jobs_cancel(PGconn *conn, const char *workspace, const char *id, PGresult **res,
			   struct buf *err)
{
	const char *params[2] = {workspace, id};
	enum ex_status st;

	/* A pending job is cancelled outright; a processing one gets a request
	 * its worker sees between two chunks (NOTIFY export_cancel) or at its
	 * next heartbeat at the latest.
	 * Jobs in any other state are shown unchanged. */
	st = jobs_one(
		conn,
		"UPDATE export_jobs SET"
		" status = CASE WHEN status = 'pending' THEN 'cancelled' ELSE status END,"
		" completed_at = CASE WHEN status = 'pending' THEN now() ELSE completed_at END,"
		" cancel_requested_at = CASE WHEN status = 'processing'"
		"  THEN coalesce(cancel_requested_at, now()) ELSE cancel_requested_at END"
		" WHERE workspace = $1 AND id = $2 AND status IN ('pending', 'processing')"
		" RETURNING " JOBS_VIEW ", pg_notify('export_cancel', id::text)",
		2, params, res, err);
	if (st == EX_ENOTFOUND) {
		st = jobs_get(conn, workspace, id, res, err);
	}
	return st;
}

enum ex_status jobs_purge_begin(PGconn *conn, const char *workspace, const char *id, PGresult **res,
				struct buf *err)
{
	const char *params[2] = {workspace, id};
	enum ex_status st = db_exec(conn, "BEGIN", 0, NULL, NULL, err);

	if (st != EX_OK) {
		return st;
	}
	/* The row stays locked until the file is gone: the retention cleanup
	 * and a second DELETE wait, then find it expired. */
	st = jobs_one(conn,
		      "UPDATE export_jobs SET status = 'expired', purged_at = now()"
		      " WHERE workspace = $1 AND id = $2 AND status = 'complete'"
		      " RETURNING " JOBS_VIEW,
		      2, params, res, err);
	if (st != EX_OK) {
		db_exec_quiet(conn, "ROLLBACK");
	}
	return st;
}

enum ex_status jobs_metrics(PGconn *conn, const char *buckets, PGresult **res, struct buf *err)
{
	const char *params[1] = {buckets};

	/* Finished = complete or expired (complete once, file gone since), so
	 * the totals never go down when retention removes a file. */
	return db_exec(
		conn,
		"WITH fin AS MATERIALIZED (SELECT row_count, file_size,"
		"  extract(epoch FROM completed_at - started_at)::float8 AS d"
		"  FROM export_jobs WHERE status IN ('complete', 'expired'))"
		" SELECT (SELECT coalesce(json_object_agg(status, n), '{}') FROM"
		"  (SELECT status, count(*) AS n FROM export_jobs GROUP BY status) s),"
		" (SELECT coalesce(sum(row_count), 0) FROM fin),"
		" (SELECT coalesce(sum(file_size), 0) FROM fin),"
		" (SELECT json_agg((SELECT count(*) FROM fin WHERE d <= b) ORDER BY b)"
		"  FROM unnest($1::float8[]) b),"
		" (SELECT coalesce(sum(d), 0) FROM fin), (SELECT count(d) FROM fin),"
		" (SELECT count(*) FROM export_jobs WHERE status = 'pending' AND run_at <= now()),"
		" (SELECT coalesce(extract(epoch FROM now() - min(run_at))::float8, 0)"
		"  FROM export_jobs WHERE status = 'pending' AND run_at <= now())",
		1, params, res, err);
}

/* ---- worker side ---- */

/* Columns a claim returns, in order. */
enum jobs_claim_col {
	CLAIM_ID,
	CLAIM_WORKSPACE,
	CLAIM_TYPE,
	CLAIM_FORMAT,
	CLAIM_COLUMNS,
	CLAIM_TOKEN,
	CLAIM_ATTEMPTS,
	CLAIM_CKPT_KEY,
	CLAIM_CKPT_ROWS,
	CLAIM_CKPT_BYTES,
	CLAIM_CKPT_PART,
	CLAIM_CKPT_SHA,
	CLAIM_CKPT_STORAGE,
	CLAIM_COMPRESSION,
	CLAIM_FILTERS,
	CLAIM_INCLUDE_DELETED,
	CLAIM_CSV_BOM,
	CLAIM_CSV_GUARD,
	CLAIM_AS_OF,
	CLAIM_AS_OF_KEY,
	CLAIM_AS_OF_KEY_SET,
	CLAIM_LOCKED,
};

/* clang-format off */
#define JOBS_CLAIM_RETURNING \
	" RETURNING j.id, j.workspace, j.type, j.format, to_json(j.columns), j.lease_token," \
	" j.attempts, j.ckpt_last_key, j.ckpt_rows, j.ckpt_bytes, j.ckpt_part, j.ckpt_sha256," \
	" j.ckpt_storage," \
	" j.compression, j.filters, j.include_deleted, j.csv_bom, j.csv_formula_guard," \
	" j.as_of::text, j.as_of_key, j.as_of_key_set, " JOBS_LOCK("j.id", "j.lease_token")
/* clang-format on */

/* strdup of a nullable cell; *oom set when a copy fails. */
static char *jobs_dup(const PGresult *res, int col, int *oom)
{
	const char *v = db_value(res, 0, col);
	char *copy = v != NULL ? strdup(v) : NULL;

	*oom |= v != NULL && copy == NULL;
	return copy;
}

static int jobs_bool(const PGresult *res, int col)
{
	return PQgetvalue(res, 0, col)[0] == 't';
}

static enum ex_status jobs_claim_fill(const PGresult *res, struct jobs_claim *job)
{
	int oom = 0;

	memset(job, 0, sizeof(*job));
	snprintf(job->id, sizeof(job->id), "%s", PQgetvalue(res, 0, CLAIM_ID));
	job->workspace = jobs_dup(res, CLAIM_WORKSPACE, &oom);
	job->type = jobs_dup(res, CLAIM_TYPE, &oom);
	job->format = jobs_dup(res, CLAIM_FORMAT, &oom);
	job->columns_json = jobs_dup(res, CLAIM_COLUMNS, &oom);
	job->lease_token = db_int(res, 0, CLAIM_TOKEN);
	job->attempts = (int)db_int(res, 0, CLAIM_ATTEMPTS);
	job->ckpt_last_key = jobs_dup(res, CLAIM_CKPT_KEY, &oom);
	job->ckpt_rows = db_int(res, 0, CLAIM_CKPT_ROWS);
	job->ckpt_bytes = db_int(res, 0, CLAIM_CKPT_BYTES);
	job->ckpt_part = (int)db_int(res, 0, CLAIM_CKPT_PART);
	job->ckpt_sha256 = jobs_dup(res, CLAIM_CKPT_SHA, &oom);
	job->ckpt_storage = jobs_dup(res, CLAIM_CKPT_STORAGE, &oom);
	job->gzip = strcmp(PQgetvalue(res, 0, CLAIM_COMPRESSION), "gzip") == 0;
	job->filters_json = jobs_dup(res, CLAIM_FILTERS, &oom);
	job->include_deleted = jobs_bool(res, CLAIM_INCLUDE_DELETED);
	job->csv_bom = jobs_bool(res, CLAIM_CSV_BOM);
	job->csv_formula_guard = jobs_bool(res, CLAIM_CSV_GUARD);
	job->as_of = jobs_dup(res, CLAIM_AS_OF, &oom);
	job->as_of_key = jobs_dup(res, CLAIM_AS_OF_KEY, &oom);
	job->as_of_key_set = jobs_bool(res, CLAIM_AS_OF_KEY_SET);
	job->locked = jobs_bool(res, CLAIM_LOCKED);
	if (oom || job->workspace == NULL || job->type == NULL || job->format == NULL) {
		jobs_claim_free(job);
		return EX_ENOMEM;
	}
	return EX_OK;
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
	/* Due pending jobs first, then processing jobs whose worker is gone:
	 * its connection (and so its advisory lock) vanished, or its lease ran
	 * out (hung or cut off).  SKIP LOCKED: concurrent claimers never wait
	 * for each other and never take the same row.  The advisory lock is
	 * taken in the same statement, before the claim commits, so no other
	 * claimer can see the job processing and unlocked in between. */
	/* clang-format off */
	st = db_exec(conn,
		"UPDATE export_jobs j SET status = 'processing', attempts = attempts + 1,"
		" lease_token = nextval('export_lease_token_seq'), lease_owner = $1,"
		" lease_expires_at = now() + $2::bigint * interval '1 millisecond',"
		" started_at = coalesce(started_at, now())"
		" FROM (SELECT id FROM export_jobs"
		"  WHERE (status = 'pending' AND run_at <= now())"
		"   OR (status = 'processing' AND (lease_expires_at < now()"
		"    OR NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory'"
		"     AND l.classid = " JOBS_LOCK_NS " AND l.objsubid = 2"
		"     AND l.objid = " JOBS_LOCK_KEY("export_jobs.id", "export_jobs.lease_token") "::oid)))"
		"  ORDER BY run_at, created_at FOR UPDATE SKIP LOCKED LIMIT 1) c"
		" WHERE j.id = c.id"
		JOBS_CLAIM_RETURNING,
		2, params, &res, err);
	/* clang-format on */
	if (st == EX_OK && PQntuples(res) == 1) {
		st = jobs_claim_fill(res, job);
		*found = st == EX_OK;
	}
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
	st = db_exec(conn, "SELECT " JOBS_LOCK("$1", "$2::bigint"), 2, params, &res, err);
	if (st == EX_OK) {
		job->locked = PQgetvalue(res, 0, 0)[0] == 't';
	}
	PQclear(res);
	return st;
}

void jobs_unlock_all(PGconn *conn)
{
	db_exec_quiet(conn, "SELECT pg_advisory_unlock_all()");
}

void jobs_claim_free(struct jobs_claim *job)
{
	free(job->workspace);
	free(job->type);
	free(job->format);
	free(job->columns_json);
	free(job->ckpt_last_key);
	free(job->ckpt_sha256);
	free(job->ckpt_storage);
	free(job->filters_json);
	free(job->as_of);
	free(job->as_of_key);
	memset(job, 0, sizeof(*job));
}

/* Run a fenced write (an UPDATE ... WHERE id = $1 AND lease_token = $2
 * RETURNING ...); no row back means the lease is no longer ours. */
static enum ex_status jobs_fenced(PGconn *conn, const char *sql, int n, const char *const *params,
				  PGresult **res, struct buf *err)
{
	PGresult *r = NULL;
	enum ex_status st = db_exec(conn, sql, n, params, &r, err);

	if (st == EX_OK && PQntuples(r) == 0) {
		st = EX_ELEASE;
	}
	if (st == EX_OK && res != NULL) {
		*res = r;
		return st;
	}
	PQclear(r);
	return st;
}

enum ex_status jobs_heartbeat(PGconn *conn, const struct jobs_claim *job,
			      const struct jobs_progress *p, long long lease_ms, int *cancel,
			      struct buf *err)
{
	char token[32], rows[32], bytes[32], part[16], lease[32];
	const char *params[9] = {job->id,     token, rows,	   bytes,	    lease,
				 p->last_key, part,  p->sha_state, p->storage_state};
	PGresult *res = NULL;
	enum ex_status st;

	snprintf(token, sizeof(token), "%lld", job->lease_token);
	snprintf(rows, sizeof(rows), "%lld", p->rows);
	snprintf(bytes, sizeof(bytes), "%lld", p->bytes);
	snprintf(part, sizeof(part), "%d", p->part);
	snprintf(lease, sizeof(lease), "%lld", lease_ms);
	/* clang-format off */
	st = jobs_fenced(conn,
		"UPDATE export_jobs SET rows_done = $3, bytes_done = $4,"
		" lease_expires_at = now() + $5::bigint * interval '1 millisecond',"
		" ckpt_last_key = CASE WHEN $6::text IS NULL THEN ckpt_last_key ELSE $6 END,"
		" ckpt_rows = CASE WHEN $6::text IS NULL THEN ckpt_rows ELSE $3 END,"
		" ckpt_bytes = CASE WHEN $6::text IS NULL THEN ckpt_bytes ELSE $4 END,"
		" ckpt_part = CASE WHEN $6::text IS NULL THEN ckpt_part ELSE $7::int END,"
		" ckpt_sha256 = CASE WHEN $6::text IS NULL THEN ckpt_sha256 ELSE $8 END,"
		" ckpt_storage = CASE WHEN $6::text IS NULL THEN ckpt_storage ELSE $9::jsonb END"
		" WHERE id = $1 AND lease_token = $2 AND status = 'processing'"
		" RETURNING cancel_requested_at IS NOT NULL",
		9, params, &res, err);
	/* clang-format on */
	if (st == EX_OK) {
		*cancel = PQgetvalue(res, 0, 0)[0] == 't';
	}
	PQclear(res);
	return st;
}

enum ex_status jobs_set_as_of_key(PGconn *conn, const struct jobs_claim *job, const char *key,
				  struct buf *err)
{
	char token[32];
	const char *params[3] = {job->id, token, key};

	snprintf(token, sizeof(token), "%lld", job->lease_token);
	return jobs_fenced(conn,
			   "UPDATE export_jobs SET as_of_key = $3, as_of_key_set = true"
			   " WHERE id = $1 AND lease_token = $2 RETURNING id",
			   3, params, NULL, err);
}

enum ex_status jobs_set_estimate(PGconn *conn, const struct jobs_claim *job, long long rows,
				 struct buf *err)
{
	char token[32], est[32];
	const char *params[3] = {job->id, token, est};

	snprintf(token, sizeof(token), "%lld", job->lease_token);
	snprintf(est, sizeof(est), "%lld", rows);
	return jobs_fenced(conn,
			   "UPDATE export_jobs SET rows_estimated = $3"
			   " WHERE id = $1 AND lease_token = $2 RETURNING id",
			   3, params, NULL, err);
}

enum ex_status jobs_complete_begin(PGconn *conn, const struct jobs_claim *job,
				   const struct jobs_result *r, long long retention_ms, int notify,
				   struct buf *err)
{
	char token[32], nrows[32], nbytes[32], keep[32];
	const char *params[8] = {
		job->id, token, nrows, nbytes, r->file_key, keep, notify ? "t" : "f", r->checksum};
	enum ex_status st;

	snprintf(token, sizeof(token), "%lld", job->lease_token);
	snprintf(nrows, sizeof(nrows), "%lld", r->rows);
	snprintf(nbytes, sizeof(nbytes), "%lld", r->bytes);
	snprintf(keep, sizeof(keep), "%lld", retention_ms);
	st = db_exec(conn, "BEGIN", 0, NULL, NULL, err);
	if (st != EX_OK) {
		return st;
	}
	/* The mail is queued in the same transaction: exactly one per job. */
	st = jobs_fenced(
		conn,
		"WITH upd AS (UPDATE export_jobs SET status = 'complete', row_count = $3,"
		" file_size = $4, rows_done = $3, bytes_done = $4, file_key = $5, checksum = $8,"
		" completed_at = now(),"
		" expires_at = now() + $6::bigint * interval '1 millisecond',"
		" lease_owner = NULL, lease_expires_at = NULL"
		" WHERE id = $1 AND lease_token = $2 AND status = 'processing'"
		" RETURNING id, requester_email),"
		" mail AS (INSERT INTO export_notifications (job_id, kind, recipient)"
		"  SELECT id, 'complete', requester_email FROM upd"
		"  WHERE $7::boolean AND requester_email IS NOT NULL"
		"  ON CONFLICT (job_id, kind) DO NOTHING)"
		" SELECT id FROM upd",
		8, params, NULL, err);
	if (st != EX_OK) {
		jobs_rollback(conn);
	}
	return st;
}

enum ex_status jobs_commit(PGconn *conn, struct buf *err)
{
	return db_exec(conn, "COMMIT", 0, NULL, NULL, err);
}

void jobs_rollback(PGconn *conn)
{
	db_exec_quiet(conn, "ROLLBACK");
}

enum ex_status jobs_fail(PGconn *conn, const struct jobs_claim *job, const char *code,
			 const char *message, long long retry_in_ms, int notify, struct buf *err)
{
	char token[32], retry[32];
	const char *params[6] = {job->id, token, code, message, retry, notify ? "t" : "f"};

	snprintf(token, sizeof(token), "%lld", job->lease_token);
	snprintf(retry, sizeof(retry), "%lld", retry_in_ms);
	/* The history keeps every attempt's error; error_code/message the last.
	 * A final failure queues its mail in the same statement. */
	return jobs_fenced(
		conn,
		"WITH upd AS (UPDATE export_jobs SET"
		" errors = errors || jsonb_build_array(jsonb_build_object("
		"  'attempt', attempts, 'at', now(), 'code', $3::text,"
		"  'message', $4::text, 'retry', $5::bigint >= 0)),"
		" error_code = $3, error_message = $4,"
		" status = CASE WHEN $5::bigint >= 0 THEN 'pending' ELSE 'failed' END,"
		" run_at = CASE WHEN $5::bigint >= 0"
		"  THEN now() + $5::bigint * interval '1 millisecond' ELSE run_at END,"
		" completed_at = CASE WHEN $5::bigint >= 0 THEN NULL ELSE now() END,"
		" lease_owner = NULL, lease_expires_at = NULL"
		" WHERE id = $1 AND lease_token = $2 AND status = 'processing'"
		" RETURNING id, status, requester_email),"
		" mail AS (INSERT INTO export_notifications (job_id, kind, recipient)"
		"  SELECT id, 'failed', requester_email FROM upd"
		"  WHERE $6::boolean AND status = 'failed' AND requester_email IS NOT NULL"
		"  ON CONFLICT (job_id, kind) DO NOTHING)"
		" SELECT id FROM upd",
		6, params, NULL, err);
}

enum ex_status jobs_mark_cancelled(PGconn *conn, const struct jobs_claim *job, struct buf *err)
{
	char token[32];
	const char *params[2] = {job->id, token};

	snprintf(token, sizeof(token), "%lld", job->lease_token);
	return jobs_fenced(conn,
			   "UPDATE export_jobs SET status = 'cancelled', completed_at = now(),"
			   " lease_owner = NULL, lease_expires_at = NULL"
			   " WHERE id = $1 AND lease_token = $2 AND status = 'processing'"
			   " RETURNING id",
			   2, params, NULL, err);
}

enum ex_status jobs_release(PGconn *conn, const struct jobs_claim *job, struct buf *err)
{
	char token[32];
	const char *params[2] = {job->id, token};

	snprintf(token, sizeof(token), "%lld", job->lease_token);
	return jobs_fenced(conn,
			   "UPDATE export_jobs SET status = 'pending', run_at = now(),"
			   " attempts = greatest(attempts - 1, 0),"
			   " lease_owner = NULL, lease_expires_at = NULL"
			   " WHERE id = $1 AND lease_token = $2 AND status = 'processing'"
			   " RETURNING id",
			   2, params, NULL, err);
}

long long jobs_next_due_ms(PGconn *conn)
{
	PGresult *res = NULL;
	struct buf err;
	long long ms = -1;

	buf_init(&err, 1024);
	if (db_exec(conn,
		    /* NULL when nothing is pending (greatest() would make that 0
		     * and the worker spin). */
		    "SELECT ceil(extract(epoch FROM min(run_at) - now()) * 1000)::bigint"
		    " FROM export_jobs WHERE status = 'pending'",
		    0, NULL, &res, &err) == EX_OK &&
	    db_value(res, 0, 0) != NULL) {
		ms = db_int(res, 0, 0);
		ms = ms < 0 ? 0 : ms;
	}
	PQclear(res);
	buf_free(&err);
	return ms;
}
