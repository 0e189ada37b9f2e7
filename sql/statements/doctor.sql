-- doctor.sql - catalog checks of `exportctl doctor`; read only by
-- src/exportctl/doctor.c.  (Type checks are registry.sql's.)

-- Who this connection is, and whether it is in the group role of kind $1
-- ('api', 'worker'; migration 005); superusers pass every check, which is
-- the point of failing them.
-- name: doctor_role
SELECT current_user AS role, r.rolsuper AS superuser,
  pg_has_role(current_user, exportd_role($1), 'MEMBER') AS member,
  exportd_role($1) AS grp
FROM pg_roles r WHERE r.rolname = current_user;

-- The INSERT trigger that wakes the workers (migration 001).
-- name: doctor_trigger
SELECT coalesce((SELECT tgenabled <> 'D' FROM pg_trigger
  WHERE tgname = 'export_jobs_notify' AND tgrelid = 'export_jobs'::regclass), false)
  AS enabled;

-- The database's clock, in epoch seconds.
-- name: doctor_clock
SELECT extract(epoch FROM clock_timestamp())::float8 AS now;

-- name: doctor_listen
LISTEN exportd_doctor;

-- name: doctor_notify
SELECT pg_notify('exportd_doctor', $1);

-- The primary's WAL insert position (compared with a standby's replay).
-- name: doctor_wal_position
SELECT pg_current_wal_insert_lsn()::text AS lsn;

-- database.source_url: a standby, how far behind $1 (the primary's
-- position just read) its replay is, whether replay is paused, and whether
-- it holds back the primary's cleanup for its queries.
-- name: doctor_source
SELECT pg_is_in_recovery() AS standby,
  current_setting('hot_standby_feedback') AS feedback,
  CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() END AS paused,
  CASE WHEN pg_is_in_recovery()
    THEN greatest(pg_wal_lsn_diff($1::pg_lsn, pg_last_wal_replay_lsn()), 0)::bigint END
    AS behind;
