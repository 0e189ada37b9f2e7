-- Reading rows from a hot standby (issue 17).  A job records the primary's
-- WAL position when it is inserted, by the API or by plain SQL alike; a
-- worker reading from a standby first waits until the standby has replayed
-- past it, so every row committed before the job was created is in the file
-- (the as-of promise).  Jobs created before this migration have none and
-- wait for nothing.  The insert position, not the write position
-- (pg_current_wal_lsn): with asynchronous commit a row's commit record may
-- not be written out yet when the job is created.
ALTER TABLE export_jobs ADD COLUMN created_lsn pg_lsn;
ALTER TABLE export_jobs ALTER COLUMN created_lsn SET DEFAULT pg_current_wal_insert_lsn();
