-- replica.sql - is the standby the rows are read from far enough along?
-- Run on the source connection (database.source_url); read only by
-- src/exportd/replica.c.

-- $1: the primary's WAL position when the job was created.  A standby
-- answers whether its replay has passed it; a server that is not in
-- recovery (a primary, or a standby promoted since) has everything.
-- name: replica_caught_up
SELECT pg_is_in_recovery() AS standby,
  NOT pg_is_in_recovery() OR coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false) AS caught_up,
  coalesce(pg_last_wal_replay_lsn()::text, '') AS replayed;
