-- Web users (issue 13): with auth.remote_user on, the name the web server
-- authenticated (REMOTE_USER: Basic, LDAP, SSO modules) is mapped to a
-- workspace and an email here.  Managed by `exportctl user add|remove|list`
-- (the owner); export.fcgi only reads it.
CREATE TABLE exportd_web_users (
    remote_user text PRIMARY KEY CHECK (remote_user <> '' AND length(remote_user) <= 255),
    workspace   text NOT NULL CHECK (workspace <> '' AND length(workspace) <= 255),
    email       text NOT NULL CHECK (email <> '' AND length(email) <= 255),
    created_at  timestamptz NOT NULL DEFAULT now()
);
SELECT exportd_grant('api', 'SELECT ON exportd_web_users');
