-- jobs.sql - every statement about export_jobs; read only by src/jobs/jobs.c.
-- Embedded at build time by src/db/embed-statements.sh: each "-- name: X"
-- becomes the C constant X_sql.  Results are read by column name, so every
-- output column has a name (AS ...) and the order of a list does not matter.

-- Advisory locks, in the two-int4 form so pg_locks can tell whether the
-- holder is still connected:
--   1163416644 ('EXPD'): a worker's job, objid = hashtext(id || ':' || lease_token).
--     Keyed on the token: a worker that took the job over from a hung holder
--     (lease expired, old lock still held) gets its own lock at once, and
--     the old holder letting go of its lock frees nothing that matters.  A
--     hash collision only makes a dead holder's job wait for its lease.
--   1163415639 ('EXPW'): a workspace's job creation (count + insert).

-- The job view, as the API shows a job (src/jobs/jobs.h, struct jobs_view).
-- The newest mail's state is a sub-select of export_notifications (owned by
-- src/mail/outbox.c), its webhook deliveries one of export_webhook_deliveries
-- (owned by src/hook/deliveries.c): read-only, and part of what a job view is.
-- fragment: jobs_view
  id, type, format, to_json(columns) AS columns, status, rows_done, rows_estimated,
  bytes_done, row_count, file_size, error_code, error_message,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at,
  to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS started_at,
  to_char(completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS completed_at,
  to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS expires_at,
  attempts, cancel_requested_at IS NOT NULL AS cancel_requested, file_key, compression,
  created_at::text AS list_cursor,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYYMMDD') AS created_date,
  (SELECT json_build_object('status', n.status, 'attempts', n.attempts,
    'sent_at', to_char(n.sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'last_error', n.last_error)
   FROM export_notifications n WHERE n.job_id = export_jobs.id
   ORDER BY n.id DESC LIMIT 1) AS notification,
  (SELECT json_agg(json_build_object('id', d.id, 'webhook_id', d.webhook_id, 'event', d.event,
    'status', d.status, 'attempts', d.attempts, 'last_status', d.last_status,
    'last_error', d.last_error,
    'next_attempt_at', CASE WHEN d.status = 'pending' THEN
      to_char(d.next_attempt_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') END,
    'delivered_at', to_char(d.delivered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
    ORDER BY d.created_at, d.id)
   FROM export_webhook_deliveries d WHERE d.job_id = export_jobs.id) AS webhooks,
  filters::text AS filters, include_deleted, csv_bom, csv_formula_guard, csv_delimiter,
  timezone, header,
  to_char(as_of AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS as_of, checksum,
  extract(epoch FROM now() - started_at)::float8 AS running_for,
  -- the exportd.node_name of the worker holding it (lease_owner node:pid:slot)
  CASE WHEN status = 'processing' THEN split_part(lease_owner, ':', 1) END AS node,
  to_char(purged_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS purged_at,
  api_key_id, since, next_since

-- ---- API side ----

-- name: jobs_ws_lock
SELECT pg_advisory_xact_lock(1163415639, hashtext($1));

-- The job an Idempotency-Key created in the last 24 hours.
-- name: jobs_key_lookup
SELECT
  -- use: jobs_view
  , idempotency_hash IS NOT DISTINCT FROM $3 AS same_body
FROM export_jobs WHERE workspace = $1 AND idempotency_key = $2
  AND created_at > now() - interval '24 hours';

-- Older than the window: forgotten, the key is free again.
-- name: jobs_key_forget
UPDATE export_jobs SET idempotency_key = NULL
WHERE workspace = $1 AND idempotency_key = $2;

-- What a workspace holds against its quotas (README "Quotas"), over u.ws:
-- the one definition behind the create check, the list's "quota" object
-- and `exportctl quota`.  Retained = complete (neither expired nor
-- deleted): the files on storage.  Each count is an index lookup (008).
-- fragment: jobs_usage_counts
  (SELECT count(*) FROM export_jobs WHERE workspace = u.ws
   AND status IN ('pending', 'processing')) AS active_count,
  (SELECT count(*) FROM export_jobs WHERE workspace = u.ws
   AND created_at > now() - interval '1 hour') AS creates_hour,
  (SELECT count(*) FROM export_jobs WHERE workspace = u.ws
   AND status = 'complete') AS retained_files,
  (SELECT coalesce(sum(file_size), 0) FROM export_jobs WHERE workspace = u.ws
   AND status = 'complete')::bigint AS retained_bytes

-- The workspace's usage ($1), with what a refusal tells: the first 100
-- active jobs; retry_after, the soonest end among its running jobs,
-- extrapolated from their progress (5 s when nothing is known);
-- creates_retry_after, when the $2-th newest create of the last hour leaves
-- the hour (NULL below $2 creates, or $2 NULL: no limit); retained_retry_after,
-- when the first retained file expires (NULL: none retained).
-- name: jobs_usage
SELECT
  -- use: jobs_usage_counts
  , (SELECT coalesce(json_agg(id ORDER BY created_at, id), '[]') FROM
   (SELECT id, created_at FROM export_jobs WHERE workspace = u.ws
    AND status IN ('pending', 'processing')
    ORDER BY created_at, id LIMIT 100) a) AS active_ids,
  coalesce((SELECT least(3600, greatest(1, ceil(min(
    extract(epoch FROM now() - started_at)::float8
    * (rows_estimated - rows_done) / rows_done))))::int
   FROM export_jobs WHERE workspace = u.ws AND status = 'processing'
   AND rows_done > 0 AND rows_estimated > rows_done), 5) AS retry_after,
  (SELECT least(3600, greatest(1, ceil(extract(epoch FROM
    created_at + interval '1 hour' - now()))))::int
   FROM (SELECT created_at, row_number() OVER (ORDER BY created_at DESC, id DESC) AS n
    FROM export_jobs WHERE workspace = u.ws
    AND created_at > now() - interval '1 hour') c
   WHERE n = $2::bigint) AS creates_retry_after,
  (SELECT greatest(1, ceil(extract(epoch FROM min(expires_at) - now())))::bigint
   FROM export_jobs WHERE workspace = u.ws AND status = 'complete') AS retained_retry_after
FROM (SELECT $1::text AS ws) u;

-- Around the insert: a source that cannot be read (src/jobs/registry.c,
-- registry_as_of_key) is undone alone, and the job inserted without its key.
-- name: jobs_savepoint
SAVEPOINT jobs_insert;
-- name: jobs_savepoint_undo
ROLLBACK TO SAVEPOINT jobs_insert;

-- $14: the as-of key (NULL: none), $15: whether it was fixed (false: the
-- worker reads it at the first run), $16: the creating API key's id,
-- $17-$19: CSV delimiter, time zone, header, $20: the incremental cursor.
-- name: jobs_insert
INSERT INTO export_jobs (id, workspace, requester_email, type, format,
  columns, compression, filters, include_deleted, csv_bom,
  csv_formula_guard, idempotency_key, idempotency_hash, as_of_key, as_of_key_set,
  api_key_id, csv_delimiter, timezone, header, since)
VALUES ($1, $2, $3, $4, $5,
  CASE WHEN $6::jsonb IS NULL THEN NULL
  ELSE ARRAY(SELECT jsonb_array_elements_text($6::jsonb)) END,
  $7, $8::jsonb, $9::boolean, $10::boolean, $11::boolean, $12, $13, $14, $15::boolean,
  $16, $17, $18, $19, $20)
RETURNING
  -- use: jobs_view
  ;

-- name: jobs_get
SELECT
  -- use: jobs_view
FROM export_jobs WHERE workspace = $1 AND id = $2;

-- GET /exports/{id} in one round trip: the live API key $1, with the
-- columns keys_lookup (sql/statements/keys.sql) reads (api_keys is
-- src/keys/keys.c's: read-only here), and the job $2 of that key's
-- workspace, whose columns are NULL when the workspace has no such job.
-- The caller checks the key's secret before it looks at the job.
-- name: jobs_get_keyed
SELECT k.secret_hash, k.workspace, k.email, k.stale_use, j.*
FROM (SELECT secret_hash, workspace, email,
        last_used_at IS NULL OR last_used_at < now() - interval '1 minute' AS stale_use
      FROM api_keys WHERE id = $1 AND revoked_at IS NULL) AS k
LEFT JOIN LATERAL (SELECT
  -- use: jobs_view
  FROM export_jobs WHERE workspace = k.workspace AND id = $2) AS j ON true;

-- Any workspace's job: only for a caller holding a valid signed link.
-- name: jobs_get_by_link
SELECT
  -- use: jobs_view
FROM export_jobs WHERE id = $1;

-- Qualified ORDER BY: the view's created_at is the text form.
-- name: jobs_list
SELECT
  -- use: jobs_view
FROM export_jobs WHERE workspace = $1
  AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
ORDER BY export_jobs.created_at DESC, export_jobs.id DESC LIMIT $2;

-- A pending job is cancelled outright; a processing one gets a request its
-- worker sees between two chunks (NOTIFY export_cancel) or at its next
-- heartbeat at the latest.  Jobs in any other state match no row.
-- name: jobs_cancel
UPDATE export_jobs SET
  status = CASE WHEN status = 'pending' THEN 'cancelled' ELSE status END,
  completed_at = CASE WHEN status = 'pending' THEN now() ELSE completed_at END,
  cancel_requested_at = CASE WHEN status = 'processing'
   THEN coalesce(cancel_requested_at, now()) ELSE cancel_requested_at END
WHERE workspace = $1 AND id = $2 AND status IN ('pending', 'processing')
RETURNING
  -- use: jobs_view
  , pg_notify('export_cancel', id::text);

-- The row stays locked until the file is gone: the retention cleanup and a
-- second DELETE wait, then find it expired.
-- name: jobs_purge
UPDATE export_jobs SET status = 'expired', purged_at = now()
WHERE workspace = $1 AND id = $2 AND status = 'complete'
RETURNING
  -- use: jobs_view
  ;

-- /metrics: the totals folded so far (export_job_totals, migration 009)
-- plus the jobs not folded yet, each set read through a partial index:
-- pending and processing (export_jobs_due, _processing), complete
-- (export_jobs_complete, index-only; bounded by export.retention) and the
-- final states the janitor has not folded yet (export_jobs_unfolded).
-- Finished = complete or expired (complete once, file gone since), so the
-- totals never go down when retention removes a file.  $1: the
-- histogram's upper bounds, JOBS_DURATION_BOUNDS (ascending).
-- name: jobs_metrics
WITH t AS MATERIALIZED (SELECT expired, failed, cancelled, row_count, file_size,
    duration_sum, duration_count, duration_le, 0 AS fallback FROM export_job_totals
  UNION ALL SELECT 0, 0, 0, 0, 0, 0, 0, '{}', 1
  ORDER BY fallback LIMIT 1),
b AS MATERIALIZED (SELECT $1::float8[] AS up,
  ARRAY(SELECT -x FROM unnest($1::float8[]) x ORDER BY x DESC) AS down),
recent AS (
  SELECT 'complete' AS status, row_count, file_size,
    extract(epoch FROM completed_at - started_at)::float8 AS d
  FROM export_jobs WHERE status = 'complete'
  UNION ALL
  SELECT status, row_count, file_size,
    extract(epoch FROM completed_at - started_at)::float8
  FROM export_jobs
  WHERE NOT metrics_folded AND status IN ('expired', 'failed', 'cancelled')),
-- One pass, grouped by status and k = how many bounds are >= d (the
-- buckets d falls in; NULL without a duration).
g AS MATERIALIZED (SELECT status, width_bucket(-d, (SELECT down FROM b)) AS k,
    count(*) AS n, count(d) AS nd, sum(row_count) AS r, sum(file_size) AS f, sum(d) AS s
  FROM recent GROUP BY 1, 2),
fin AS MATERIALIZED (SELECT * FROM g WHERE status IN ('complete', 'expired')),
counts (status, n) AS (
  SELECT status, n FROM g
  UNION ALL SELECT 'pending', count(*) FROM export_jobs WHERE status = 'pending'
  UNION ALL SELECT 'processing', count(*) FROM export_jobs WHERE status = 'processing'
  UNION ALL SELECT 'expired', expired FROM t
  UNION ALL SELECT 'failed', failed FROM t
  UNION ALL SELECT 'cancelled', cancelled FROM t)
SELECT (SELECT json_object_agg(status, n) FROM
  (SELECT status, sum(n) AS n FROM counts GROUP BY status) s) AS by_status,
  (SELECT coalesce(sum(r), 0) FROM fin) + t.row_count AS rows_total,
  (SELECT coalesce(sum(f), 0) FROM fin) + t.file_size AS bytes_total,
  (SELECT json_agg(coalesce(t.duration_le[x.i], 0)
    + (SELECT coalesce(sum(nd), 0) FROM fin WHERE k >= cardinality(b.up) - x.i + 1)
    ORDER BY x.i) FROM b, unnest(b.up) WITH ORDINALITY AS x(ub, i)) AS durations,
  (SELECT coalesce(sum(s), 0) FROM fin) + t.duration_sum AS duration_sum,
  (SELECT coalesce(sum(nd), 0) FROM fin) + t.duration_count AS duration_count,
  (SELECT count(*) FROM export_jobs WHERE status = 'pending' AND run_at <= now()) AS queue,
  (SELECT coalesce(extract(epoch FROM now() - min(run_at))::float8, 0)
   FROM export_jobs WHERE status = 'pending' AND run_at <= now()) AS oldest_due,
  -- exportd's event counters, every node's added (migration 015)
  (SELECT coalesce(json_agg(json_build_array(metric, labels, v) ORDER BY metric, labels), '[]')
   FROM (SELECT metric, labels, sum(value) AS v FROM exportd_counters GROUP BY 1, 2) c)
   AS counters,
  -- [node, idle, busy, newest heartbeat (epoch s)] per node
  (SELECT coalesce(json_agg(json_build_array(node, idle, busy, hb) ORDER BY node), '[]')
   FROM (SELECT node, count(*) FILTER (WHERE state = 'idle') AS idle,
     count(*) FILTER (WHERE state = 'busy') AS busy,
     extract(epoch FROM max(heartbeat_at))::float8 AS hb
   FROM exportd_workers GROUP BY node) w) AS workers
FROM t;

-- ---- administration (exportctl) ----

-- $1 workspace, $2 status, $3 type, $4 created before now() minus this
-- interval, $5 'stuck' (processing with an expired lease: its worker is
-- gone or hung); NULL: any.
-- name: jobs_admin_list
SELECT id, workspace, type, format, status, attempts, rows_done,
  bytes_done, created_at, error_message FROM export_jobs
WHERE ($1::text IS NULL OR workspace = $1)
  AND ($2::text IS NULL OR status = $2)
  AND ($3::text IS NULL OR type = $3)
  AND ($4::interval IS NULL OR created_at < now() - $4::interval)
  AND ($5::text IS NULL OR (status = 'processing' AND lease_expires_at < now()))
ORDER BY created_at DESC LIMIT 100;

-- One job in full, for an operator: the row, its mails and its lease's
-- state.  $1 the id, $2 the workspace (NULL: any).
-- name: jobs_admin_show
SELECT j.*, coalesce(j.status = 'processing' AND j.lease_expires_at < now(), false) AS stuck,
  (SELECT coalesce(json_agg(json_build_object('kind', n.kind, 'recipient', n.recipient,
     'status', n.status, 'attempts', n.attempts, 'sent_at', n.sent_at,
     'last_error', n.last_error) ORDER BY n.id), '[]')
   FROM export_notifications n WHERE n.job_id = j.id) AS notifications,
  (SELECT coalesce(json_agg(json_build_object('id', d.id, 'webhook_id', d.webhook_id,
     'event', d.event, 'status', d.status, 'attempts', d.attempts,
     'last_status', d.last_status, 'last_error', d.last_error,
     'next_attempt_at', d.next_attempt_at, 'delivered_at', d.delivered_at)
     ORDER BY d.created_at, d.id), '[]')
   FROM export_webhook_deliveries d WHERE d.job_id = j.id) AS webhooks
FROM export_jobs j WHERE j.id = $1::uuid AND ($2::text IS NULL OR j.workspace = $2);

-- exportctl jobs purge --before $1 [--workspace $2]: complete jobs that
-- finished before $1, to expire first (their files removed), ...
-- name: jobs_admin_expire_before
SELECT id, file_key FROM export_jobs
WHERE status = 'complete' AND completed_at < $1::timestamptz
  AND ($2::text IS NULL OR workspace = $2)
ORDER BY completed_at FOR UPDATE SKIP LOCKED LIMIT 100;

-- ... then the rows of jobs in a final state that finished (or were
-- created, for those that never ran) before $1, once folded into the
-- /metrics totals (their counters never go down).
-- name: jobs_admin_purge
DELETE FROM export_jobs WHERE id IN (
  SELECT id FROM export_jobs
  WHERE status IN ('expired', 'failed', 'cancelled') AND metrics_folded
    AND coalesce(completed_at, created_at) < $1::timestamptz
    AND ($2::text IS NULL OR workspace = $2)
  LIMIT 1000 FOR UPDATE SKIP LOCKED)
RETURNING id;

-- Operator actions; each appends to history and returns the job's new
-- status, or no row when the job is not in a state that allows it.
-- Retry: a failed or cancelled job runs again from its first row (the
-- checkpoint and its partial file are gone: a failure or a cancel removed
-- them), attempts back to 0, as_of kept (the export is still of the rows
-- as they were when it was requested).
-- name: jobs_admin_retry
UPDATE export_jobs SET status = 'pending', run_at = now(), attempts = 0,
  error_code = NULL, error_message = NULL, completed_at = NULL,
  cancel_requested_at = NULL, lease_owner = NULL, lease_expires_at = NULL,
  ckpt_last_key = NULL, ckpt_last_at = NULL, ckpt_rows = 0, ckpt_bytes = 0, ckpt_part = 0,
  ckpt_storage = NULL, rows_done = 0, bytes_done = 0,
  history = history || jsonb_build_object('at', now(), 'by', 'operator',
    'action', 'retry', 'from', status)
WHERE id = $1::uuid AND ($2::text IS NULL OR workspace = $2)
  AND status IN ('failed', 'cancelled')
RETURNING status, pg_notify('export_jobs', id::text);

-- Cancel: as DELETE /exports/{id} does (pending at once; processing: its
-- worker stops at its next chunk and removes the file).
-- name: jobs_admin_cancel
UPDATE export_jobs SET
  status = CASE WHEN status = 'pending' THEN 'cancelled' ELSE status END,
  completed_at = CASE WHEN status = 'pending' THEN now() ELSE completed_at END,
  cancel_requested_at = CASE WHEN status = 'processing'
   THEN coalesce(cancel_requested_at, now()) ELSE cancel_requested_at END,
  history = history || jsonb_build_object('at', now(), 'by', 'operator',
    'action', 'cancel', 'from', status)
WHERE id = $1::uuid AND ($2::text IS NULL OR workspace = $2)
  AND status IN ('pending', 'processing')
RETURNING status, pg_notify('export_cancel', id::text);

-- Fail for good, with the operator's reason: a pending job, or a stuck one
-- (processing, lease expired: nobody is running it).  A new fencing token
-- keeps a worker that comes back from writing to it.  A job a live worker
-- holds is refused: cancel it instead.
-- name: jobs_admin_fail
UPDATE export_jobs SET status = 'failed', error_code = 'operator',
  error_message = 'failed by an operator: ' || $3, completed_at = now(),
  lease_owner = NULL, lease_expires_at = NULL,
  lease_token = nextval('export_lease_token_seq'),
  history = history || jsonb_build_object('at', now(), 'by', 'operator',
    'action', 'fail', 'from', status, 'reason', $3::text)
WHERE id = $1::uuid AND ($2::text IS NULL OR workspace = $2)
  AND (status = 'pending' OR (status = 'processing' AND lease_expires_at < now()))
RETURNING status;

-- Usage against the limits ($2 active, $3 creates per hour, $4 retained
-- files, $5 retained bytes; NULL: no limit) of every workspace with jobs,
-- or of workspace $1 alone (a row of zeros when it has none).
-- name: jobs_admin_quota
SELECT workspace, active_count AS active, $2::bigint AS active_limit,
  creates_hour AS creates_last_hour, $3::bigint AS creates_limit,
  retained_files, $4::bigint AS files_limit, retained_bytes, $5::bigint AS bytes_limit
FROM (SELECT u.ws AS workspace,
  -- use: jobs_usage_counts
  FROM (SELECT DISTINCT workspace AS ws FROM export_jobs WHERE $1::text IS NULL
   UNION SELECT $1::text WHERE $1::text IS NOT NULL) u) q
ORDER BY workspace;

-- ---- retention (exportd's janitor) ----

-- name: jobs_expired_batch
SELECT id, file_key FROM export_jobs
WHERE status = 'complete' AND expires_at <= now()
ORDER BY expires_at FOR UPDATE SKIP LOCKED LIMIT 100;

-- name: jobs_expire
UPDATE export_jobs SET status = 'expired', purged_at = now() WHERE id = $1;

-- The service manager's STATUS line (exportd's janitor, under systemd):
-- exports running, and due ones waiting for a worker.
-- name: jobs_queue_status
SELECT count(*) FILTER (WHERE status = 'processing') AS running,
  count(*) FILTER (WHERE status = 'pending' AND run_at <= now()) AS queued
FROM export_jobs WHERE status IN ('pending', 'processing');

-- Fold up to $2 jobs in a final state into export_job_totals (migration
-- 009) and mark them, in one statement; no row when there was nothing to
-- fold.  $1: the histogram's bounds, as jobs_metrics.  SKIP LOCKED: a row
-- someone holds is folded next round.
-- name: jobs_metrics_fold
WITH f AS (
  UPDATE export_jobs j SET metrics_folded = true
  FROM (SELECT id FROM export_jobs
        WHERE NOT metrics_folded AND status IN ('expired', 'failed', 'cancelled')
        LIMIT $2 FOR UPDATE SKIP LOCKED) b
  WHERE j.id = b.id
  RETURNING j.status, j.row_count, j.file_size,
    extract(epoch FROM j.completed_at - j.started_at)::float8 AS d),
e AS MATERIALIZED (SELECT * FROM f WHERE status = 'expired')
UPDATE export_job_totals t SET
  expired = t.expired + (SELECT count(*) FROM e),
  failed = t.failed + (SELECT count(*) FROM f WHERE status = 'failed'),
  cancelled = t.cancelled + (SELECT count(*) FROM f WHERE status = 'cancelled'),
  row_count = t.row_count + (SELECT coalesce(sum(row_count), 0) FROM e),
  file_size = t.file_size + (SELECT coalesce(sum(file_size), 0) FROM e),
  duration_sum = t.duration_sum + (SELECT coalesce(sum(d), 0) FROM e),
  duration_count = t.duration_count + (SELECT count(d) FROM e),
  duration_le = ARRAY(SELECT coalesce(t.duration_le[x.i], 0)
    + (SELECT count(*) FROM e WHERE d <= x.b)
    FROM unnest($1::float8[]) WITH ORDINALITY AS x(b, i) ORDER BY x.i)
WHERE EXISTS (SELECT 1 FROM f)
RETURNING (SELECT count(*) FROM f) AS folded;

-- ---- worker side (fenced: every write carries id = $1, lease_token = $2) ----

-- Due pending jobs first, then processing jobs whose worker is gone: its
-- connection (and so its advisory lock) vanished, or its lease ran out
-- (hung or cut off).  SKIP LOCKED: concurrent claimers never wait for each
-- other and never take the same row.  The advisory lock is taken in the
-- same statement, before the claim commits, so no other claimer can see the
-- job processing and unlocked in between.  takeover and waited are for
-- /metrics (src/exportd/stats.c): a processing job taken from its holder,
-- and how long a pending one waited after it was due.  The two candidates
-- are found apart, each through its partial index (export_jobs_due reads
-- one entry however deep the queue, migration 017; the processing ones are
-- as many as the running jobs), and the earlier one is taken; the other
-- stays locked only until this statement commits.
-- name: jobs_claim
WITH p AS (SELECT id, status AS was, run_at AS due, created_at FROM export_jobs
  WHERE status = 'pending' AND run_at <= now()
  ORDER BY run_at, created_at FOR UPDATE SKIP LOCKED LIMIT 1),
s AS (SELECT id, status AS was, run_at AS due, created_at FROM export_jobs
  WHERE status = 'processing' AND (lease_expires_at < now()
    OR NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory'
     AND l.classid = 1163416644 AND l.objsubid = 2
     AND l.objid = hashtext(export_jobs.id::text || ':' || export_jobs.lease_token::text)::oid))
  ORDER BY run_at, created_at FOR UPDATE SKIP LOCKED LIMIT 1),
c AS (SELECT * FROM p UNION ALL SELECT * FROM s ORDER BY due, created_at LIMIT 1)
UPDATE export_jobs j SET status = 'processing', attempts = attempts + 1,
  lease_token = nextval('export_lease_token_seq'), lease_owner = $1,
  lease_expires_at = now() + $2::bigint * interval '1 millisecond',
  started_at = coalesce(started_at, now())
FROM c
WHERE j.id = c.id
RETURNING j.id, j.workspace, j.type, j.format, to_json(j.columns) AS columns, j.lease_token,
  j.attempts, j.ckpt_last_key, j.ckpt_rows, j.ckpt_bytes, j.ckpt_part, j.ckpt_sha256,
  j.ckpt_storage, j.compression, j.filters, j.include_deleted, j.csv_bom,
  j.csv_formula_guard, j.csv_delimiter, j.timezone, j.header, j.as_of::text AS as_of, j.as_of_key, j.as_of_key_set,
  j.created_lsn::text AS created_lsn, j.since, j.sync_until::text AS sync_until,
  j.ckpt_last_at, c.was = 'processing' AS takeover, extract(epoch FROM now() - c.due) AS waited,
  pg_try_advisory_lock(1163416644, hashtext(j.id::text || ':' || j.lease_token::text)) AS locked;

-- name: jobs_lock
SELECT pg_try_advisory_lock(1163416644, hashtext($1::text || ':' || $2::bigint::text)) AS locked;

-- name: jobs_unlock_all
SELECT pg_advisory_unlock_all();

-- With $6 (the last key) the checkpoint moves too; without, only progress.
-- $10: the last row's change time (incremental jobs; NULL for others).
-- name: jobs_heartbeat
UPDATE export_jobs SET rows_done = $3, bytes_done = $4,
  lease_expires_at = now() + $5::bigint * interval '1 millisecond',
  ckpt_last_key = CASE WHEN $6::text IS NULL THEN ckpt_last_key ELSE $6 END,
  ckpt_rows = CASE WHEN $6::text IS NULL THEN ckpt_rows ELSE $3 END,
  ckpt_bytes = CASE WHEN $6::text IS NULL THEN ckpt_bytes ELSE $4 END,
  ckpt_part = CASE WHEN $6::text IS NULL THEN ckpt_part ELSE $7::int END,
  ckpt_sha256 = CASE WHEN $6::text IS NULL THEN ckpt_sha256 ELSE $8 END,
  ckpt_storage = CASE WHEN $6::text IS NULL THEN ckpt_storage ELSE $9::jsonb END,
  ckpt_last_at = CASE WHEN $6::text IS NULL THEN ckpt_last_at ELSE $10 END
WHERE id = $1 AND lease_token = $2 AND status = 'processing'
RETURNING cancel_requested_at IS NOT NULL AS cancel_requested;

-- name: jobs_set_as_of_key
UPDATE export_jobs SET as_of_key = $3, as_of_key_set = true
WHERE id = $1 AND lease_token = $2 RETURNING id;

-- The upper end of the job's change-time window, fixed once: its as-of
-- time less export.incremental_lag ($3 ms), so that a resumed run reads
-- the same rows and next_since stays behind transactions still open.
-- name: jobs_set_sync_until
UPDATE export_jobs SET
  sync_until = coalesce(sync_until, as_of - $3::bigint * interval '1 millisecond')
WHERE id = $1 AND lease_token = $2 RETURNING sync_until::text AS sync_until;

-- name: jobs_set_estimate
UPDATE export_jobs SET rows_estimated = $3
WHERE id = $1 AND lease_token = $2 RETURNING id;

-- The mail is queued in the same statement (export_notifications belongs to
-- src/mail/outbox.c, which only sends what is queued): exactly one per job.
-- name: jobs_complete
WITH upd AS (UPDATE export_jobs SET status = 'complete', row_count = $3,
  file_size = $4, rows_done = $3, bytes_done = $4, file_key = $5, checksum = $8,
  next_since = $9, completed_at = now(),
  expires_at = now() + $6::bigint * interval '1 millisecond',
  lease_owner = NULL, lease_expires_at = NULL
  WHERE id = $1 AND lease_token = $2 AND status = 'processing'
  RETURNING id, requester_email),
 mail AS (INSERT INTO export_notifications (job_id, kind, recipient)
  SELECT id, 'complete', requester_email FROM upd
  WHERE $7::boolean AND requester_email IS NOT NULL
  ON CONFLICT (job_id, kind) DO NOTHING)
SELECT id FROM upd;

-- The history keeps every attempt's error; error_code/message the last.  A
-- final failure ($5 < 0) queues its mail in the same statement.
-- name: jobs_fail
WITH upd AS (UPDATE export_jobs SET
  errors = errors || jsonb_build_array(jsonb_build_object(
   'attempt', attempts, 'at', now(), 'code', $3::text,
   'message', $4::text, 'retry', $5::bigint >= 0)),
  error_code = $3, error_message = $4,
  status = CASE WHEN $5::bigint >= 0 THEN 'pending' ELSE 'failed' END,
  run_at = CASE WHEN $5::bigint >= 0
   THEN now() + $5::bigint * interval '1 millisecond' ELSE run_at END,
  completed_at = CASE WHEN $5::bigint >= 0 THEN NULL ELSE now() END,
  lease_owner = NULL, lease_expires_at = NULL
  WHERE id = $1 AND lease_token = $2 AND status = 'processing'
  RETURNING id, status, requester_email),
 mail AS (INSERT INTO export_notifications (job_id, kind, recipient)
  SELECT id, 'failed', requester_email FROM upd
  WHERE $6::boolean AND status = 'failed' AND requester_email IS NOT NULL
  ON CONFLICT (job_id, kind) DO NOTHING)
SELECT id FROM upd;

-- name: jobs_mark_cancelled
UPDATE export_jobs SET status = 'cancelled', completed_at = now(),
  lease_owner = NULL, lease_expires_at = NULL
WHERE id = $1 AND lease_token = $2 AND status = 'processing'
RETURNING id;

-- Shutdown: the job goes back without counting the attempt.
-- name: jobs_release
UPDATE export_jobs SET status = 'pending', run_at = now(),
  attempts = greatest(attempts - 1, 0),
  lease_owner = NULL, lease_expires_at = NULL
WHERE id = $1 AND lease_token = $2 AND status = 'processing'
RETURNING id;

-- NULL when nothing is pending (greatest() would make that 0 and the worker
-- spin).
-- name: jobs_next_due
SELECT ceil(extract(epoch FROM min(run_at) - now()) * 1000)::bigint AS due_ms
FROM export_jobs WHERE status = 'pending';

-- ---- the mailer (src/mail/outbox.c) ----

-- What a job's mail says about it.
-- name: jobs_facts
SELECT type, format, row_count, file_size, checksum, error_message
FROM export_jobs WHERE id = $1;
