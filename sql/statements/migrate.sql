-- migrate.sql - exportd_migrations; read only by src/db/migrate.c.  The
-- migrations themselves are sql/migrations/*.sql (src/db/embed-sql.sh).

-- Arbitrary constant: serialises concurrent `exportctl migrate` runs.
-- name: migrate_lock
SELECT pg_advisory_lock(7301946250187);

-- name: migrate_unlock
SELECT pg_advisory_unlock(7301946250187);

-- name: migrate_table
CREATE TABLE IF NOT EXISTS exportd_migrations (
  version integer PRIMARY KEY, name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now());

-- name: migrate_applied
SELECT version FROM exportd_migrations;

-- name: migrate_record
INSERT INTO exportd_migrations (version, name) VALUES ($1, $2);

-- Whether anything was ever migrated (runtime roles read exportd_migrations
-- since migration 010, for `exportd -t`).
-- name: migrate_table_exists
SELECT to_regclass('exportd_migrations') IS NOT NULL AS present;
