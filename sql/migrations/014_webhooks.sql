-- Webhooks (issue 16): endpoints a workspace registers (POST /webhooks) and
-- the outbox of their deliveries.  A delivery row is written by a trigger
-- in the same transaction as the job's status change, whoever makes it
-- (a worker completing or failing, the API cancelling or deleting, the
-- janitor expiring, exportctl), so an event is never lost and never
-- queued for a change that rolled back.  exportd's webhook process
-- delivers it (src/hook/delivery.c) and records the outcome on the row.

CREATE TABLE export_webhooks (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace  text NOT NULL CHECK (workspace <> ''),
    url        text NOT NULL CHECK (url ~ '^https?://' AND octet_length(url) <= 2048),
    events     text[] NOT NULL CHECK (cardinality(events) > 0 AND events <@
               ARRAY['export.completed', 'export.failed', 'export.cancelled', 'export.expired']),
    -- The signing secret: shown once, in the answer that created it.
    secret     text NOT NULL CHECK (secret ~ '^whsec_[0-9a-f]{64}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX export_webhooks_workspace ON export_webhooks (workspace, created_at);

-- One row per (event, endpoint); its id is the event id the receiver sees
-- (Exportd-Event-Id), the same on every attempt and on a redelivery.
CREATE TABLE export_webhook_deliveries (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    webhook_id      uuid NOT NULL REFERENCES export_webhooks (id) ON DELETE CASCADE,
    job_id          uuid NOT NULL REFERENCES export_jobs (id) ON DELETE CASCADE,
    event           text NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    last_status     integer,              -- the receiver's last HTTP status
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),  -- the event's time
    -- webhooks.horizon counts from here; a manual redelivery resets it
    queued_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX export_webhook_deliveries_due ON export_webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX export_webhook_deliveries_job ON export_webhook_deliveries (job_id);
CREATE INDEX export_webhook_deliveries_webhook ON export_webhook_deliveries (webhook_id);

-- Runs as the role whose UPDATE fired it (as export_jobs_notify does):
-- both runtime roles change statuses, so both may read an endpoint's
-- workspace and events and insert a delivery (grants below).
CREATE FUNCTION export_webhooks_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ev text := CASE NEW.status WHEN 'complete' THEN 'export.completed'
                               WHEN 'failed' THEN 'export.failed'
                               WHEN 'cancelled' THEN 'export.cancelled'
                               WHEN 'expired' THEN 'export.expired' END;
BEGIN
    INSERT INTO export_webhook_deliveries (webhook_id, job_id, event)
    SELECT w.id, NEW.id, ev FROM export_webhooks w
    WHERE w.workspace = NEW.workspace AND ev = ANY (w.events);
    IF FOUND THEN
        PERFORM pg_notify('export_webhook', NEW.id::text);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER export_webhooks_enqueue AFTER UPDATE OF status ON export_jobs
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                       AND NEW.status IN ('complete', 'failed', 'cancelled', 'expired'))
    EXECUTE FUNCTION export_webhooks_enqueue();

-- export.fcgi: registers, lists and removes a workspace's endpoints (never
-- reads a secret back), shows a job's deliveries in the job view, and
-- queues deliveries through the trigger when it cancels or expires a job.
SELECT exportd_grant('api', 'SELECT (id, workspace, url, events, created_at), INSERT, DELETE'
    ' ON export_webhooks');
SELECT exportd_grant('api', 'SELECT, INSERT (webhook_id, job_id, event)'
    ' ON export_webhook_deliveries');
-- exportd: reads an endpoint to sign and send, records each attempt, and
-- queues deliveries through the trigger when it completes, fails or
-- expires a job.
SELECT exportd_grant('worker', 'SELECT ON export_webhooks');
SELECT exportd_grant('worker', 'SELECT, INSERT (webhook_id, job_id, event), UPDATE (status,'
    ' attempts, next_attempt_at, last_error, last_status, delivered_at)'
    ' ON export_webhook_deliveries');
