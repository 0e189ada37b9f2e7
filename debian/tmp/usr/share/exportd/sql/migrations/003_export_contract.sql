-- The export contract: gzip, filters, include_deleted, as-of bound, CSV
-- options, idempotency, checksums across resume, retention.

ALTER TABLE export_jobs DROP CONSTRAINT export_jobs_compression_check;
ALTER TABLE export_jobs ADD CONSTRAINT export_jobs_compression_check
    CHECK (compression IN ('none', 'gzip'));

ALTER TABLE export_jobs
    ADD COLUMN include_deleted   boolean NOT NULL DEFAULT false,
    ADD COLUMN csv_bom           boolean NOT NULL DEFAULT false,
    ADD COLUMN csv_formula_guard boolean NOT NULL DEFAULT false,
    -- As-of bound, fixed at creation: rows created after as_of (on the
    -- type's created-at column) and keys above as_of_key are not exported.
    -- as_of_key NULL with as_of_key_set: the workspace had no rows.
    ADD COLUMN as_of             timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN as_of_key         text,
    ADD COLUMN as_of_key_set     boolean NOT NULL DEFAULT false,
    -- SHA-256 of the request body an Idempotency-Key was first used with.
    ADD COLUMN idempotency_hash  text,
    -- SHA-256 state of the file's bytes at the checkpoint, so the checksum
    -- of a resumed export covers the whole file.
    ADD COLUMN ckpt_sha256       text;

-- Cleanup finds complete jobs past their expiry.
CREATE INDEX export_jobs_expiring ON export_jobs (expires_at) WHERE status = 'complete';
-- Per-workspace limit on pending + processing jobs.
CREATE INDEX export_jobs_active ON export_jobs (workspace)
    WHERE status IN ('pending', 'processing');
