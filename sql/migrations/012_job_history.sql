-- What operators did to a job (exportctl jobs retry | cancel | fail): one
-- {"at", "by": "operator", "action", "from", "reason"?} object per action,
-- oldest first, shown by `exportctl jobs show`.  The runtime roles have
-- table-wide SELECT/INSERT (005); only the owner (exportctl) writes it.
ALTER TABLE export_jobs ADD COLUMN history jsonb NOT NULL DEFAULT '[]';
