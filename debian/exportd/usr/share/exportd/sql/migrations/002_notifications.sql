-- Mail outbox: one row per mail to send about a job.  Written in the same
-- transaction that completes or fails the job; exportd's mailer delivers it
-- (with backoff while the SMTP server is down) and records the outcome.

CREATE TABLE export_notifications (
    id              bigserial PRIMARY KEY,
    job_id          uuid NOT NULL REFERENCES export_jobs (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('complete', 'failed')),
    recipient       text NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    link_expires_at timestamptz,
    sent_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (job_id, kind)
);
CREATE INDEX export_notifications_due ON export_notifications (next_attempt_at)
    WHERE status = 'pending';

CREATE FUNCTION export_notifications_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('export_mail', NEW.id::text);
    RETURN NULL;
END;
$$;
CREATE TRIGGER export_notifications_notify AFTER INSERT ON export_notifications
    FOR EACH ROW EXECUTE FUNCTION export_notifications_notify();
