/* jobs.h - every statement about export_jobs, for all three programs.
 *
 * The statements are sql/statements/jobs.sql; nothing else reads or writes
 * the table.  API side (workspace-scoped): create, get, list, cancel.  Each
 * returns a PGresult of job view rows, read with jobs_view_read().
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
#include "jobs/registry.h"

#define JOBS_ID_LEN 36

struct config;

/* A job as the API shows it: one row of the job view (sql/statements/jobs.sql,
 * fragment jobs_view) that jobs_create/get/get_by_link/list/cancel/
 * purge_begin return.  Strings point into the PGresult (NULL for SQL
 * NULL); timestamps are RFC 3339 UTC text. */
struct jobs_view {
	const char *id, *type, *format, *compression, *status;
	const char *columns_json;      /* JSON array or NULL: all columns */
	const char *filters_json;      /* the stored form (jsonb text) */
	const char *notification_json; /* the newest mail's state, JSON object, or NULL */
	const char *webhooks_json;     /* its webhook deliveries, JSON array, or NULL: none */
	const char *error_code, *error_message;
	const char *created_at, *started_at, *completed_at, *expires_at, *purged_at, *as_of;
	const char *file_key, *checksum; /* checksum: sha256 hex */
	const char *list_cursor;	 /* created_at as PostgreSQL's text, for list cursors */
	const char *created_date;	 /* YYYYMMDD of creation, for file names */
	const char *api_key_id;		 /* the key that created it; NULL: plain SQL */
	const char *node;		 /* processing: the holder's exportd.node_name */
	const char *since;		 /* the incremental cursor asked with; NULL: full */
	const char *next_since;		 /* complete: the next export's cursor; NULL: none */
	long long rows_done, bytes_done, attempts;
	long long rows_estimated, row_count, file_size; /* DB_NULL (db.h) when unknown */
	double running_for;				/* seconds since started_at (if started) */
	int cancel_requested, include_deleted, csv_bom, csv_formula_guard;
	const char *csv_delimiter, *timezone, *header; /* "," / "UTC" / "names" by default */
};

/* Fill v from a row of a job view result (columns by name; the functions
 * below checked they are all there). */
void jobs_view_read(const PGresult *res, int row, struct jobs_view *v);

/* Is s a canonical lower/upper-case hex UUID (8-4-4-4-12)? */
int jobs_valid_id(const char *s);

/* API side. */

/* A workspace's limits (README "Quotas"); 0: none (active is at least 1). */
struct jobs_limits {
	long long active;	    /* pending + processing jobs */
	long long creates_per_hour; /* jobs created in the last hour */
	long long retained_files;   /* complete jobs (files on storage) */
	long long retained_bytes;   /* their file sizes, summed */
};
/* The [export] max_*_per_workspace keys of cf. */
void jobs_limits_from(const struct config *cf, struct jobs_limits *l);

/* A job to create.  Strings are borrowed; NULL where optional. */
struct jobs_new {
	const char *id, *workspace, *email, *type, *format, *compression;
	const char *api_key_id;	  /* the creating key (its links die with it) */
	const char *columns_json; /* JSON array or NULL: all columns */
	const char *filters_json; /* the stored form, see README ("{}": none) */
	int include_deleted, csv_bom, csv_formula_guard;
	const char *csv_delimiter;	    /* one of , ; TAB | */
	const char *timezone;		    /* a name of pg_timezone_names */
	const char *header;		    /* "names" or "labels" */
	const char *since;		    /* the incremental cursor; NULL: a full export */
	const char *idempotency_key;	    /* NULL: none */
	const char *body_sha256;	    /* hex SHA-256 of the request body */
	const struct registry_type *source; /* the type's source, for the as-of key */
	struct jobs_limits limits;
};

enum jobs_outcome {
	JOBS_CREATED,	   /* res: the new job */
	JOBS_REPLAYED,	   /* res: the job the key created, with the same body */
	JOBS_KEY_MISMATCH, /* res: that job; this body differs */
	JOBS_AT_LIMIT,	   /* res: one row for jobs_usage_read(); jobs_usage_over() says which */
};

/* A workspace's usage: one row of jobs_usage() (sql/statements/jobs.sql,
 * fragment jobs_usage). */
struct jobs_usage {
	long long active, creates_hour, retained_files, retained_bytes;
	const char *ids_json;		/* JSON array of up to 100 active ids, oldest first */
	long long retry_after;		/* seconds until an active job ends, estimated */
	long long creates_retry_after;	/* seconds until a create leaves the hour; DB_NULL */
	long long retained_retry_after; /* seconds until a retained file expires; DB_NULL */
};
void jobs_usage_read(const PGresult *res, struct jobs_usage *u);

/* The first limit u has reached, in the order they are checked: active,
 * creates per hour, retained files, retained bytes (a limit of 0 is none). */
enum jobs_quota {
	JOBS_QUOTA_NONE,
	JOBS_QUOTA_ACTIVE,
	JOBS_QUOTA_CREATES,
	JOBS_QUOTA_FILES,
	JOBS_QUOTA_BYTES,
};
enum jobs_quota jobs_usage_over(const struct jobs_usage *u, const struct jobs_limits *l);

/* The workspace's usage now, one row for jobs_usage_read() (the limits
 * only shape creates_retry_after). */
enum ex_status jobs_usage(PGconn *conn, const char *workspace, const struct jobs_limits *l,
			  PGresult **res, struct buf *err) EX_MUST_CHECK;

/* In one transaction under a per-workspace lock: an Idempotency-Key seen
 * in the last 24 hours answers its job (a replay is never refused);
 * otherwise the workspace's usage is checked against job->limits
 * (jobs_usage_over); otherwise the job is inserted with
 * its as-of bound (as_of = now(), the transaction's start; as_of_key = the
 * source's largest key in the workspace, read by registry_as_of_key() just
 * before the insert).  The UNIQUE (workspace, idempotency_key) constraint has
 * the last word: a lost race answers the winner's job. */
enum ex_status jobs_create(PGconn *conn, const struct jobs_new *job, enum jobs_outcome *outcome,
			   PGresult **res, struct buf *err) EX_MUST_CHECK;
/* EX_ENOTFOUND for unknown ids and other workspaces' ids alike. */
enum ex_status jobs_get(PGconn *conn, const char *workspace, const char *id, PGresult **res,
			struct buf *err) EX_MUST_CHECK;
/* The live API key key_id and the job id of its workspace, in one round
 * trip: EX_ENOTFOUND when there is no such key; else one row with the
 * key's columns (keys_entry_read()) and the job view (jobs_view_read()),
 * whose "id" is NULL when the key's workspace has no such job. */
enum ex_status jobs_get_keyed(PGconn *conn, const char *key_id, const char *id, PGresult **res,
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
/* DELETE of a complete job: BEGIN, mark it expired (purged_at = now())
 * and return it, row locked; the caller removes the file, then
 * jobs_commit() or jobs_rollback().  EX_ENOTFOUND (transaction closed)
 * when the job is not complete or not the workspace's. */
enum ex_status jobs_purge_begin(PGconn *conn, const char *workspace, const char *id, PGresult **res,
				struct buf *err) EX_MUST_CHECK;
/* Totals over all workspaces, as the text PostgreSQL wrote (/metrics
 * prints them as they are). */
struct jobs_metrics {
	const char *by_status;	  /* JSON object status -> count */
	const char *rows, *bytes; /* sums over finished jobs */
	const char *durations;	  /* JSON array: cumulative bucket counts */
	const char *duration_sum, *duration_count;
	const char *queue;	/* pending and due */
	const char *oldest_due; /* seconds the longest-waiting due job has waited */
	const char *counters;	/* JSON [[metric, labels, value], ...]: exportd_counters */
	const char *workers;	/* JSON [[node, idle, busy, heartbeat epoch s], ...] */
};
/* The upper bounds (seconds) of the duration histogram, as a SQL array.
 * The folded totals (export_job_totals.duration_le, migration 009) are
 * counted against them: changing them needs a migration that resets those. */
#define JOBS_DURATION_BOUNDS "{1,5,15,60,300,900,3600}"
/* The folded totals plus the jobs not folded yet (jobs_metrics_fold): reads
 * pending, processing and complete jobs and the final ones folded since
 * the last round, never every job.  One row; jobs_metrics_read() gives its
 * values. */
enum ex_status jobs_metrics(PGconn *conn, PGresult **res, struct buf *err) EX_MUST_CHECK;
void jobs_metrics_read(const PGresult *res, struct jobs_metrics *m);
/* Jobs folded into the /metrics totals per statement: a short lock on
 * those rows, and a backlog (the first round after migration 009) goes in
 * steps. */
#define JOBS_FOLD_BATCH 5000

/* The janitor: fold up to batch jobs in a final state (expired, failed,
 * cancelled) into the totals, in one statement; *count: how many. */
enum ex_status jobs_metrics_fold(PGconn *conn, int batch, int *count,
				 struct buf *err) EX_MUST_CHECK;

/* exportctl: each workspace's usage against l (limits of 0 as NULL: none),
 * or workspace's alone, with the column names as a table header. */
enum ex_status jobs_admin_quota(PGconn *conn, const char *workspace, const struct jobs_limits *l,
				PGresult **res, struct buf *err) EX_MUST_CHECK;

/* exportctl jobs list: what to list (NULL members: any). */
struct jobs_filter {
	const char *workspace, *status, *type;
	const char *older_than; /* a PostgreSQL interval: "7 days", "2h" */
	int stuck;		/* processing with an expired lease */
};

/* exportctl: the newest 100 jobs that pass f, with the column names as a
 * table header. */
enum ex_status jobs_admin_list(PGconn *conn, const struct jobs_filter *f, PGresult **res,
			       struct buf *err) EX_MUST_CHECK;

/* exportctl jobs show: job id (of workspace, NULL: any) in full, one row
 * (none: no such job). */
enum ex_status jobs_admin_show(PGconn *conn, const char *id, const char *workspace, PGresult **res,
			       struct buf *err) EX_MUST_CHECK;

/* exportctl jobs purge, in three steps: complete jobs finished before
 * `before` (a timestamptz; of workspace, NULL: any) expire as retention
 * would expire them (remove, then marked expired; a batch of 100 per
 * call); the janitor's fold (jobs_metrics_fold) takes them into the
 * /metrics totals; then up to 1000 folded final-state rows (expired,
 * failed, cancelled) finished before `before` are deleted per call
 * (their mails with them).  *count: how many in this call. */
enum ex_status jobs_admin_expire_before(PGconn *conn, const char *before, const char *workspace,
					enum ex_status (*remove)(const void *arg, const char *id,
								 const char *file_key),
					const void *arg, int *count, struct buf *err) EX_MUST_CHECK;
enum ex_status jobs_admin_purge_batch(PGconn *conn, const char *before, const char *workspace,
				      int *count, struct buf *err) EX_MUST_CHECK;

/* Operator actions (recorded in the job's history "by operator"). */
enum jobs_admin_action {
	JOBS_ADMIN_RETRY,  /* failed or cancelled: pending again, from the start */
	JOBS_ADMIN_CANCEL, /* pending or processing: as DELETE /exports/{id} */
	JOBS_ADMIN_FAIL,   /* pending or stuck: failed for good, with reason */
};
/* Apply a to job id (of workspace, NULL: any).  EX_ENOTFOUND when the job's
 * state does not allow a (or there is no such job: jobs_admin_show tells
 * which); status gets the job's new status. */
enum ex_status jobs_admin_act(PGconn *conn, enum jobs_admin_action a, const char *id,
			      const char *workspace, const char *reason, char *status, size_t cap,
			      struct buf *err) EX_MUST_CHECK;

/* Retention: in one transaction per batch, lock complete jobs past
 * expires_at, call remove for each (file_key NULL: no file); a job whose
 * remove fails stays complete (retried next round), the others are marked
 * expired.  *count: how many were expired; 0 when the batch failed. */
enum ex_status jobs_expire_batch(PGconn *conn,
				 enum ex_status (*remove)(const void *arg, const char *id,
							  const char *file_key),
				 const void *arg, int *count, struct buf *err) EX_MUST_CHECK;

/* Exports running now, and due ones waiting for a worker. */
struct jobs_queue {
	long long running, queued;
};
enum ex_status jobs_queue_status(PGconn *conn, struct jobs_queue *out,
				 struct buf *err) EX_MUST_CHECK;

/* What a job's mail says about it (src/mail/outbox.c).  Strings point
 * into *res (the caller's to PQclear). */
struct jobs_facts {
	const char *type, *format;
	long long row_count, file_size;	      /* DB_NULL when unknown */
	const char *checksum, *error_message; /* NULL: none */
};
enum ex_status jobs_facts(PGconn *conn, const char *id, struct jobs_facts *f, PGresult **res,
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
	char *ckpt_sha256;  /* saved SHA-256 state (sha256.h) or NULL */
	char *ckpt_storage; /* storage backend state (JSON) or NULL */
	char *compression;  /* none, gzip, zstd */
	char *filters_json; /* {"created_from", "created_to", "equals": {...}} */
	int include_deleted;
	int csv_bom, csv_formula_guard;
	char *csv_delimiter;  /* one byte */
	char *timezone;	      /* timestamptz values are written in it */
	char *header;	      /* names or labels */
	char *as_of;	      /* timestamptz text: rows created later are out */
	char *as_of_key;      /* largest key at creation; NULL: none (see _set) */
	int as_of_key_set;    /* as_of_key was fixed (NULL then means: no rows) */
	char *created_lsn;    /* the primary's WAL position at creation; NULL: none */
	char *since;	      /* the incremental cursor (since.h); NULL: a full export */
	char *sync_until;     /* the change-time window's upper end; NULL: not fixed yet */
	char *ckpt_last_at;   /* incremental: the checkpoint's last change time */
	int takeover;	      /* it was processing: its holder's lease ran out */
	double waited;	      /* seconds from run_at (due) to this claim */
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
	const char *sha_state;	   /* with last_key: the checksum state there */
	const char *storage_state; /* with last_key: the storage backend's (JSON) */
	const char *last_at;	   /* with last_key, incremental: its change time */
};

/* A finished file. */
struct jobs_result {
	const char *file_key;
	long long rows, bytes;
	const char *checksum;	/* sha256 hex */
	const char *next_since; /* the next export's cursor; NULL: none */
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
enum ex_status jobs_complete_begin(PGconn *conn, const struct jobs_claim *job,
				   const struct jobs_result *r, long long retention_ms, int notify,
				   struct buf *err) EX_MUST_CHECK;
/* Fix the upper end of the job's change-time window (its as-of time less
 * lag_ms) unless it is fixed already; *until gets it (malloc'd). */
enum ex_status jobs_set_sync_until(PGconn *conn, const struct jobs_claim *job, long long lag_ms,
				   char **until, struct buf *err) EX_MUST_CHECK;
/* Fix the as-of key of a job inserted by plain SQL, at its first run. */
enum ex_status jobs_set_as_of_key(PGconn *conn, const struct jobs_claim *job, const char *key,
				  struct buf *err) EX_MUST_CHECK;
/* End the transaction of jobs_purge_begin() or jobs_complete_begin()
 * (db_commit/db_rollback: one policy). */
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
