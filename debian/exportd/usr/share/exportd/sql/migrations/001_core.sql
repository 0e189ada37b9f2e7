-- exportd core schema: export type registry, jobs, API keys, NOTIFY trigger.
-- Applied by `exportctl migrate` inside one transaction, recorded in
-- exportd_migrations.

CREATE TABLE export_types (
    name               text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
    description        text NOT NULL DEFAULT '',
    schema_name        text NOT NULL DEFAULT 'public',
    relation           text NOT NULL,
    key_column         text NOT NULL,
    workspace_column   text NOT NULL,
    columns            text[] NOT NULL CHECK (cardinality(columns) > 0),
    filterable_columns text[] NOT NULL DEFAULT '{}',
    created_at_column  text,
    deleted_at_column  text,
    created_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id            text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{12}$'),
    secret_hash   text NOT NULL CHECK (secret_hash ~ '^[0-9a-f]{64}$'),
    workspace     text NOT NULL CHECK (workspace <> ''),
    email         text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    last_used_at  timestamptz
);
CREATE INDEX api_keys_workspace ON api_keys (workspace);

-- Fencing tokens: every claim takes a new, larger one.
CREATE SEQUENCE export_lease_token_seq;

CREATE TABLE export_jobs (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace           text NOT NULL CHECK (workspace <> ''),
    requester_email     text,
    type                text NOT NULL REFERENCES export_types (name),
    format              text NOT NULL DEFAULT 'csv' CHECK (format IN ('csv', 'jsonl')),
    compression         text NOT NULL DEFAULT 'none' CHECK (compression IN ('none')),
    columns             text[],            -- NULL: all the type's columns
    filters             jsonb NOT NULL DEFAULT '{}',
    status              text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'processing', 'complete', 'failed',
                                          'cancelled', 'expired')),
    run_at              timestamptz NOT NULL DEFAULT now(),
    attempts            integer NOT NULL DEFAULT 0,
    errors              jsonb NOT NULL DEFAULT '[]',
    error_code          text,
    error_message       text,
    -- lease
    lease_owner         text,
    lease_token         bigint NOT NULL DEFAULT 0,
    lease_expires_at    timestamptz,
    cancel_requested_at timestamptz,
    -- checkpoint: the last durable part
    ckpt_last_key       text,
    ckpt_rows           bigint NOT NULL DEFAULT 0,
    ckpt_bytes          bigint NOT NULL DEFAULT 0,
    ckpt_part           integer NOT NULL DEFAULT 0,
    ckpt_storage        jsonb,             -- backend state (S3 upload id, ETags)
    -- progress
    rows_done           bigint NOT NULL DEFAULT 0,
    bytes_done          bigint NOT NULL DEFAULT 0,
    rows_estimated      bigint,
    -- result
    row_count           bigint,
    file_size           bigint,
    file_key            text,
    checksum            text,
    idempotency_key     text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    completed_at        timestamptz,
    expires_at          timestamptz,
    purged_at           timestamptz,
    UNIQUE (workspace, idempotency_key)
);
-- What a worker claims: due pending jobs, and processing jobs whose lease ran out.
CREATE INDEX export_jobs_pending ON export_jobs (run_at) WHERE status = 'pending';
CREATE INDEX export_jobs_processing ON export_jobs (lease_expires_at) WHERE status = 'processing';
-- GET /exports: a workspace's jobs, newest first.
CREATE INDEX export_jobs_list ON export_jobs (workspace, created_at DESC, id DESC);

-- NOTIFY is only a hint (exportd also polls), but it makes pick-up immediate,
-- also for jobs inserted by plain SQL from another application.
CREATE FUNCTION export_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('export_jobs', NEW.id::text);
    RETURN NULL;
END;
$$;
CREATE TRIGGER export_jobs_notify AFTER INSERT ON export_jobs
    FOR EACH ROW EXECUTE FUNCTION export_jobs_notify();
