-- Per-workspace quotas (issue 11, finding 3; README "Quotas"): what POST
-- /exports counts under the workspace's lock (sql/statements/jobs.sql,
-- fragment jobs_usage) must be an index lookup, not a scan of the
-- workspace's whole history.  Creates in the last hour use export_jobs_list
-- (workspace, created_at DESC, id DESC) of 001; active jobs use
-- export_jobs_active of 003.  The retained files and their bytes: complete
-- exports only, the size carried in the index so the sum reads no table row.
-- No grant: the runtime roles already read export_jobs table-wide (005).
CREATE INDEX export_jobs_retained ON export_jobs (workspace) INCLUDE (file_size)
    WHERE status = 'complete';
