-- /metrics without a scan of every job (README "Metrics").  Jobs in a
-- final state (expired, failed, cancelled: states exportd never moves a
-- job out of) are folded by exportd's janitor into the one row of
-- export_job_totals and marked metrics_folded; a scrape reads that row,
-- plus the jobs not folded yet: pending, processing, complete (bounded by
-- export.retention) and the final ones since the janitor's last round,
-- each set through a partial index.  A scrape's cost follows the jobs of
-- the retention window, not every job ever made.  No trigger: a counter row that every
-- job transition updated would serialise the workers and the API (and
-- any application inserting jobs) on its lock; the janitor is its only
-- writer, once a round.
--
-- The folded counts stay when an operator deletes old job rows: the
-- final-state gauges and the finished-job counters count every job that
-- got there.  duration_le holds the cumulative counts of
-- exportd_export_duration_seconds for the bounds JOBS_DURATION_BOUNDS
-- (src/jobs/jobs.h); changing those bounds needs a migration that resets
-- it.
ALTER TABLE export_jobs ADD COLUMN metrics_folded boolean NOT NULL DEFAULT false;
CREATE INDEX export_jobs_unfolded ON export_jobs (status)
    WHERE NOT metrics_folded AND status IN ('expired', 'failed', 'cancelled');
-- Complete jobs are read, not folded (they become expired, or an operator
-- deletes them): an index-only scan over what a scrape needs of them.
CREATE INDEX export_jobs_complete ON export_jobs (completed_at)
    INCLUDE (started_at, row_count, file_size) WHERE status = 'complete';

CREATE TABLE export_job_totals (
    one            boolean PRIMARY KEY DEFAULT true CHECK (one),
    expired        bigint NOT NULL DEFAULT 0,
    failed         bigint NOT NULL DEFAULT 0,
    cancelled      bigint NOT NULL DEFAULT 0,
    row_count      numeric NOT NULL DEFAULT 0,   -- finished: complete + expired
    file_size      numeric NOT NULL DEFAULT 0,
    duration_sum   float8 NOT NULL DEFAULT 0,
    duration_count bigint NOT NULL DEFAULT 0,
    duration_le    bigint[] NOT NULL DEFAULT '{0,0,0,0,0,0,0}'
);
INSERT INTO export_job_totals DEFAULT VALUES;

-- export.fcgi reads the totals; exportd's janitor folds into them.
SELECT exportd_grant('api', 'SELECT ON export_job_totals');
SELECT exportd_grant('worker', 'SELECT, UPDATE ON export_job_totals');
SELECT exportd_grant('worker', 'UPDATE (metrics_folded) ON export_jobs');
