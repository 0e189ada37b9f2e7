-- keys.sql - every statement about api_keys; read only by src/keys/keys.c.

-- name: keys_create
INSERT INTO api_keys (id, secret_hash, workspace, email) VALUES ($1, $2, $3, $4);

-- name: keys_revoke
UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1
RETURNING id;

-- name: keys_list
SELECT id, workspace, email, created_at, revoked_at, last_used_at
FROM api_keys WHERE $1::text IS NULL OR workspace = $1
ORDER BY created_at;

-- A live key; stale_use: last_used_at is worth writing again (at most once
-- a minute per key).
-- name: keys_lookup
SELECT secret_hash, workspace, email,
  last_used_at IS NULL OR last_used_at < now() - interval '1 minute' AS stale_use
FROM api_keys WHERE id = $1 AND revoked_at IS NULL;

-- name: keys_touch
UPDATE api_keys SET last_used_at = now() WHERE id = $1;

-- The types whose tenant column does not take workspace $1 as it is:
-- canonical set, another spelling of a tenant (the key is refused);
-- canonical NULL, it does not cast (the key can never read that type).
-- name: keys_workspace_types
SELECT t.name, c.column_type, c.canonical
FROM export_types t, export_workspace_check(t.name, $1) c
WHERE c.column_type IS NOT NULL AND c.canonical IS DISTINCT FROM $1
ORDER BY c.canonical IS NULL, t.name;
