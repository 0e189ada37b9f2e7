-- endpoints.sql - every statement about export_webhooks (a workspace's
-- webhook endpoints); read only by src/hook/endpoints.c.  The secret is
-- written once and never read back here (the API role cannot read it).

-- fragment: endpoints_view
  id, url, to_json(events) AS events,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at,
  workspace

-- $3: the events as a PostgreSQL array literal; $5: webhooks.max_per_workspace
-- (no row when the workspace has that many already; counted without a
-- lock, so concurrent requests may pass it by a few).
-- name: endpoints_insert
INSERT INTO export_webhooks (workspace, url, events, secret)
SELECT $1, $2, $3::text[], $4
WHERE (SELECT count(*) FROM export_webhooks WHERE workspace = $1) < $5::bigint
RETURNING
  -- use: endpoints_view
  ;

-- name: endpoints_list
SELECT
  -- use: endpoints_view
FROM export_webhooks WHERE workspace = $1 ORDER BY created_at, id;

-- name: endpoints_delete
DELETE FROM export_webhooks WHERE workspace = $1 AND id = $2
RETURNING
  -- use: endpoints_view
  ;

-- exportctl: every workspace's ($1 NULL) or one's.
-- name: endpoints_admin_list
SELECT
  -- use: endpoints_view
FROM export_webhooks WHERE $1::text IS NULL OR workspace = $1
ORDER BY workspace, created_at, id;

-- name: endpoints_admin_delete
DELETE FROM export_webhooks WHERE id = $1
RETURNING
  -- use: endpoints_view
  ;
