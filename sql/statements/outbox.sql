-- outbox.sql - every statement about export_notifications but the inserts
-- that queue a mail in the job's own statement (src/jobs/jobs.c: complete,
-- fail) and the job view's newest-mail sub-select; read only by
-- src/mail/outbox.c.

-- name: outbox_next
SELECT id, kind, recipient, attempts, job_id
FROM export_notifications
WHERE status = 'pending' AND next_attempt_at <= now()
ORDER BY next_attempt_at FOR UPDATE SKIP LOCKED LIMIT 1;

-- $5: when the download link expires (epoch seconds).
-- name: outbox_record
UPDATE export_notifications SET status = $2, attempts = attempts + 1,
  last_error = $3, sent_at = CASE WHEN $2 = 'sent' THEN now() END,
  link_expires_at = CASE WHEN $2 = 'sent' AND kind = 'complete'
   THEN to_timestamp($5::bigint) END,
  next_attempt_at = now() + $4::bigint * interval '1 millisecond'
WHERE id = $1;
