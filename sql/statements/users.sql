-- users.sql - every statement about exportd_web_users; read only by
-- src/keys/users.c.

-- name: users_add
INSERT INTO exportd_web_users (remote_user, workspace, email) VALUES ($1, $2, $3)
ON CONFLICT (remote_user) DO UPDATE SET workspace = EXCLUDED.workspace, email = EXCLUDED.email;

-- name: users_remove
DELETE FROM exportd_web_users WHERE remote_user = $1 RETURNING remote_user;

-- name: users_list
SELECT remote_user, workspace, email, created_at FROM exportd_web_users ORDER BY remote_user;

-- name: users_lookup
SELECT workspace, email FROM exportd_web_users WHERE remote_user = $1;
