-- A claim takes the next due pending job in (run_at, created_at) order
-- (sql/statements/jobs.sql, jobs_claim).  With an index on run_at alone the
-- planner read and sorted every due pending row for each claim: at 97,000
-- pending jobs a claim took 5.3 s (1 s sorting, the rest JIT-compiling a
-- plan that costly), and a queue that deep drained at 3 jobs a second.  In
-- this order it reads one index entry.  It also serves the min(run_at) of
-- jobs_next_due and /metrics' pending count, so it replaces the old one.
CREATE INDEX export_jobs_due ON export_jobs (run_at, created_at) WHERE status = 'pending';
DROP INDEX export_jobs_pending;
