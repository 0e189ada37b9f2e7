/* jobs.h - every statement about export_jobs, for all three programs.
 *
 * API side (workspace-scoped): create, get, list, cancel.  Each returns a
 * PGresult whose rows have the JOBS_VIEW_* columns below, for jobjson.c.
 *
 * Worker side (fenced): claim takes a lease with a new token; every later
 * write carries (id, lease_token) and returns EX_ELEASE when no row matched,
 * i.e. the job is no longer ours.
 */
#ifndef EXPORTD_JOBS_H
#define EXPORTD_JOBS_H

#include <libpq-fe.h>

#include "common/buf.h"
#include "common/status.h"

#define JOBS_ID_LEN 36

/* Columns of a job view row, in order. */
enum jobs_view_col {
	JOBS_VIEW_ID,
	JOBS_VIEW_TYPE,
	JOBS_VIEW_FORMAT,
	JOBS_VIEW_COLUMNS, /* JSON array or NULL */
	JOBS_VIEW_STATUS,
	JOBS_VIEW_ROWS_DONE,
	JOBS_VIEW_ROWS_ESTIMATED,
	JOBS_VIEW_BYTES_DONE,
	JOBS_VIEW_ROW_COUNT,
	JOBS_VIEW_FILE_SIZE,
	JOBS_VIEW_ERROR_CODE,
	JOBS_VIEW_ERROR_MESSAGE,
	JOBS_VIEW_CREATED_AT,
	JOBS_VIEW_STARTED_AT,
	JOBS_VIEW_COMPLETED_AT,
	JOBS_VIEW_EXPIRES_AT,
	JOBS_VIEW_ATTEMPTS,
	JOBS_VIEW_CANCEL_REQUESTED,
	JOBS_VIEW_FILE_KEY,
	JOBS_VIEW_COMPRESSION,
	JOBS_VIEW_CURSOR,	/* created_at text for list cursors */
	JOBS_VIEW_DATE,		/* YYYYMMDD of creation, for file names */
	JOBS_VIEW_NOTIFICATION, /* JSON object or NULL */
	JOBS_VIEW_NCOLS
};

/* Is s a canonical lower/upper-case hex UUID (8-4-4-4-12)? */
int jobs_valid_id(const char *s);

/* API side. */
enum ex_status jobs_create(PGconn *conn, const char *id, const char *workspace, const char *email,
			   const char *type, const char *format, const char *columns_json,
			   PGresult **res, struct buf *err) EX_MUST_CHECK;
/* EX_ENOTFOUND for unknown ids and other workspaces' ids alike. */
enum ex_status jobs_get(PGconn *conn, const char *workspace, const char *id, PGresult **res,
			struct buf *err) EX_MUST_CHECK;
/* Any workspace's job: only for a caller holding a valid signed link. */
enum ex_status jobs_get_by_link(PGconn *conn, const char *id, PGresult **res,
				struct buf *err) EX_MUST_CHECK;
/* Newest first; cursor_ts/cursor_id NULL for the first page; limit+1 rows
 * are asked for so the caller knows whether there is a next page. */
enum ex_status jobs_list(PGconn *conn, const char *workspace, const char *cursor_ts,
			 const char *cursor_id, int limit, PGresult **res,
			 struct buf *err) EX_MUST_CHECK;
/* Pending -> cancelled; processing -> cancel requested (and NOTIFY).  The
 * returned row is the job afterwards; EX_ENOTFOUND as jobs_get. */
enum ex_status jobs_cancel(PGconn *conn, const char *workspace, const char *id, PGresult **res,
			   struct buf *err) EX_MUST_CHECK;

/* Worker side: a claimed job. */
struct jobs_claim {
	char id[JOBS_ID_LEN + 1];
	char *workspace;
	char *type;
	char *format;
	char *columns_json; /* JSON array or NULL: all columns */
	long long lease_token;
	int attempts;
	char *ckpt_last_key; /* NULL: from the start */
	long long ckpt_rows, ckpt_bytes;
	int ckpt_part;
	int locked;	      /* we hold the job's advisory lock */
	long long claimed_ms; /* monotonic clock just before the claim: the lease's start */
};

/* Claim the next due job; *found = 0 when there is none. */
enum ex_status jobs_claim(PGconn *conn, const char *owner, long long lease_ms,
			  struct jobs_claim *job, int *found, struct buf *err) EX_MUST_CHECK;
void jobs_claim_free(struct jobs_claim *job);
/* Take the job's advisory lock if we do not hold it yet (the claim takes
 * it; this only retries after a hash collision). */
enum ex_status jobs_lock(PGconn *conn, struct jobs_claim *job, struct buf *err) EX_MUST_CHECK;
/* Drop the job locks this connection holds (after each job). */
void jobs_unlock_all(PGconn *conn);

struct jobs_progress {
	const char *last_key; /* NULL: keep the checkpoint as it is */
	long long rows, bytes;
	int part;
};

/* Record progress and extend the lease; with p->last_key also the
 * checkpoint.  *cancel = 1 when a cancel was requested. */
enum ex_status jobs_heartbeat(PGconn *conn, const struct jobs_claim *job,
			      const struct jobs_progress *p, long long lease_ms, int *cancel,
			      struct buf *err) EX_MUST_CHECK;
enum ex_status jobs_set_estimate(PGconn *conn, const struct jobs_claim *job, long long rows,
				 struct buf *err) EX_MUST_CHECK;
/* Begin the completing transaction: locks the row under the token.  The
 * caller makes the file final, then jobs_complete_commit() or rollback. */
enum ex_status jobs_complete_begin(PGconn *conn, const struct jobs_claim *job, long long rows,
				   long long bytes, const char *file_key, long long retention_ms,
				   int notify, struct buf *err) EX_MUST_CHECK;
enum ex_status jobs_commit(PGconn *conn, struct buf *err) EX_MUST_CHECK;
void jobs_rollback(PGconn *conn);
/* Failure: retry_in_ms >= 0 puts the job back to pending (transient),
 * < 0 fails it for good.  Both append to the error history.  notify: queue
 * the requester's mail (complete, or final failure) in the same statement. */
enum ex_status jobs_fail(PGconn *conn, const struct jobs_claim *job, const char *code,
			 const char *message, long long retry_in_ms, int notify,
			 struct buf *err) EX_MUST_CHECK;
enum ex_status jobs_mark_cancelled(PGconn *conn, const struct jobs_claim *job,
				   struct buf *err) EX_MUST_CHECK;
/* Milliseconds until the earliest pending job is due (0: now), or -1 when
 * none is pending or the query failed.  Lets a retry's backoff be shorter
 * than the poll interval. */
long long jobs_next_due_ms(PGconn *conn);
/* Give the job back (shutdown) without counting the attempt. */
enum ex_status jobs_release(PGconn *conn, const struct jobs_claim *job,
			    struct buf *err) EX_MUST_CHECK;

#endif
