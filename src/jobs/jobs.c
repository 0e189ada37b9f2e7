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
	"  ORDER BY n.id DESC LIMIT 1)"
/* clang-format on */

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

enum ex_status jobs_create(PGconn *conn, const char *id, const char *workspace, const char *email,
			   const char *type, const char *format, const char *columns_json,
			   PGresult **res, struct buf *err)
{
	const char *params[6] = {id, workspace, email, type, format, columns_json};

	return jobs_one(conn,
			"INSERT INTO export_jobs (id, workspace, requester_email, type, format,"
			" columns) VALUES ($1, $2, $3, $4, $5,"
			" CASE WHEN $6::jsonb IS NULL THEN NULL"
			" ELSE ARRAY(SELECT jsonb_array_elements_text($6::jsonb)) END)"
			" RETURNING " JOBS_VIEW,
			6, params, res, err);
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

/* ---- worker side ---- */

static enum ex_status jobs_claim_fill(const PGresult *res, struct jobs_claim *job)
{
	const char *v;

	memset(job, 0, sizeof(*job));
	snprintf(job->id, sizeof(job->id), "%s", PQgetvalue(res, 0, 0));
	job->workspace = strdup(PQgetvalue(res, 0, 1));
	job->type = strdup(PQgetvalue(res, 0, 2));
	job->format = strdup(PQgetvalue(res, 0, 3));
	v = db_value(res, 0, 4);
	job->columns_json = v != NULL ? strdup(v) : NULL;
	job->lease_token = db_int(res, 0, 5);
	job->attempts = (int)db_int(res, 0, 6);
	v = db_value(res, 0, 7);
	job->ckpt_last_key = v != NULL ? strdup(v) : NULL;
	job->ckpt_rows = db_int(res, 0, 8);
	job->ckpt_bytes = db_int(res, 0, 9);
	job->ckpt_part = (int)db_int(res, 0, 10);
	job->locked = PQgetvalue(res, 0, 11)[0] == 't';
	if (job->workspace == NULL || job->type == NULL || job->format == NULL ||
	    (db_value(res, 0, 4) != NULL && job->columns_json == NULL) ||
	    (db_value(res, 0, 7) != NULL && job->ckpt_last_key == NULL)) {
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
	st = db_exec(
		conn,
		"UPDATE export_jobs j SET status = 'processing', attempts = attempts + 1,"
		" lease_token = nextval('export_lease_token_seq'), lease_owner = $1,"
		" lease_expires_at = now() + $2::bigint * interval '1 millisecond',"
		" started_at = coalesce(started_at, now())"
		" FROM (SELECT id FROM export_jobs"
		"  WHERE (status = 'pending' AND run_at <= now())"
		"   OR (status = 'processing' AND (lease_expires_at < now()"
		"    OR NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory'"
		"     AND l.classid = " JOBS_LOCK_NS " AND l.objsubid = 2"
		"     AND l.objid = " JOBS_LOCK_KEY(
			"export_jobs.id",
			"export_jobs.lease_token") "::oid)))"
						   "  ORDER BY run_at, created_at FOR UPDATE SKIP "
						   "LOCKED LIMIT 1) c"
						   " WHERE j.id = c.id"
						   " RETURNING j.id, j.workspace, j.type, "
						   "j.format, to_json(j.columns),"
						   " j.lease_token, j.attempts, j.ckpt_last_key, "
						   "j.ckpt_rows, j.ckpt_bytes,"
						   " j.ckpt_part, " JOBS_LOCK("j.id",
									      "j.lease_token"),
		2, params, &res, err);
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
	const char *params[7] = {job->id, token, rows, bytes, lease, p->last_key, part};
	PGresult *res = NULL;
	enum ex_status st;

	snprintf(token, sizeof(token), "%lld", job->lease_token);
	snprintf(rows, sizeof(rows), "%lld", p->rows);
	snprintf(bytes, sizeof(bytes), "%lld", p->bytes);
	snprintf(part, sizeof(part), "%d", p->part);
	snprintf(lease, sizeof(lease), "%lld", lease_ms);
	st = jobs_fenced(
		conn,
		"UPDATE export_jobs SET rows_done = $3, bytes_done = $4,"
		" lease_expires_at = now() + $5::bigint * interval '1 millisecond',"
		" ckpt_last_key = CASE WHEN $6::text IS NULL THEN ckpt_last_key ELSE $6 END,"
		" ckpt_rows = CASE WHEN $6::text IS NULL THEN ckpt_rows ELSE $3 END,"
		" ckpt_bytes = CASE WHEN $6::text IS NULL THEN ckpt_bytes ELSE $4 END,"
		" ckpt_part = CASE WHEN $6::text IS NULL THEN ckpt_part ELSE $7::int END"
		" WHERE id = $1 AND lease_token = $2 AND status = 'processing'"
		" RETURNING cancel_requested_at IS NOT NULL",
		7, params, &res, err);
	if (st == EX_OK) {
		*cancel = PQgetvalue(res, 0, 0)[0] == 't';
	}
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
	return jobs_fenced(conn,
			   "UPDATE export_jobs SET rows_estimated = $3"
			   " WHERE id = $1 AND lease_token = $2 RETURNING id",
			   3, params, NULL, err);
}

enum ex_status jobs_complete_begin(PGconn *conn, const struct jobs_claim *job, long long rows,
				   long long bytes, const char *file_key, long long retention_ms,
				   int notify, struct buf *err)
{
	char token[32], nrows[32], nbytes[32], keep[32];
	const char *params[7] = {job->id, token, nrows, nbytes, file_key, keep, notify ? "t" : "f"};
	enum ex_status st;

	snprintf(token, sizeof(token), "%lld", job->lease_token);
	snprintf(nrows, sizeof(nrows), "%lld", rows);
	snprintf(nbytes, sizeof(nbytes), "%lld", bytes);
	snprintf(keep, sizeof(keep), "%lld", retention_ms);
	st = db_exec(conn, "BEGIN", 0, NULL, NULL, err);
	if (st != EX_OK) {
		return st;
	}
	/* The mail is queued in the same transaction: exactly one per job. */
	st = jobs_fenced(conn,
			 "WITH upd AS (UPDATE export_jobs SET status = 'complete', row_count = $3,"
			 " file_size = $4, rows_done = $3, bytes_done = $4, file_key = $5,"
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
			 7, params, NULL, err);
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
		    "SELECT greatest(0, ceil(extract(epoch FROM min(run_at) - now()) * "
		    "1000))::bigint"
		    " FROM export_jobs WHERE status = 'pending'",
		    0, NULL, &res, &err) == EX_OK &&
	    db_value(res, 0, 0) != NULL) {
		ms = db_int(res, 0, 0);
	}
	PQclear(res);
	buf_free(&err);
	return ms;
}
