-- deliveries.sql - every statement about export_webhook_deliveries (the
-- webhook outbox) but the trigger that fills it (migration 014) and the
-- job view's sub-select (jobs.sql); read only by src/hook/deliveries.c.

-- The next due delivery, locked, with what sending it needs.  A job being
-- deleted waits for the lock (its deliveries cascade).  $1: webhooks.horizon
-- in ms; horizon_left_ms is what is left of it (negative: past).
-- name: deliveries_next
SELECT d.id, d.job_id, d.event, d.attempts, j.workspace, w.url, w.secret,
  to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created,
  (extract(epoch FROM d.queued_at - now()) * 1000)::bigint + $1::bigint AS horizon_left_ms
FROM export_webhook_deliveries d
JOIN export_webhooks w ON w.id = d.webhook_id
JOIN export_jobs j ON j.id = d.job_id
WHERE d.status = 'pending' AND d.next_attempt_at <= now()
ORDER BY d.next_attempt_at FOR UPDATE OF d SKIP LOCKED LIMIT 1;

-- $4: the receiver's HTTP status (NULL: no answer); $5: ms to the next try.
-- name: deliveries_record
UPDATE export_webhook_deliveries SET status = $2, attempts = attempts + 1,
  last_error = $3, last_status = $4::integer,
  delivered_at = CASE WHEN $2 = 'delivered' THEN now() END,
  next_attempt_at = now() + $5::bigint * interval '1 millisecond'
WHERE id = $1;

-- exportctl webhook deliveries: failures (given up, or retrying) unless $2;
-- of every workspace ($1 NULL) or one's; newest first.
-- name: deliveries_admin_list
SELECT d.id, d.job_id, d.event, d.status, d.attempts, d.last_status, d.last_error,
  w.url, w.workspace,
  to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS created_at,
  CASE WHEN d.status = 'pending' THEN
    to_char(d.next_attempt_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') END
    AS next_attempt_at
FROM export_webhook_deliveries d JOIN export_webhooks w ON w.id = d.webhook_id
WHERE ($1::text IS NULL OR w.workspace = $1)
  AND ($2::boolean OR d.status = 'failed' OR (d.status = 'pending' AND d.attempts > 0))
ORDER BY d.created_at DESC, d.id DESC LIMIT 1000;

-- exportctl webhook redeliver: due at once, with a fresh horizon; the same
-- event id, so a receiver that has it already can tell.
-- name: deliveries_admin_redeliver
WITH r AS (
  UPDATE export_webhook_deliveries SET status = 'pending', next_attempt_at = now(),
    queued_at = now()
  WHERE id = $1 RETURNING id, job_id, event)
SELECT r.id, r.job_id, r.event, pg_notify('export_webhook', r.job_id::text)::text AS notified
FROM r;
