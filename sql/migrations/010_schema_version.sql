-- `exportd -t` (the unit's ExecStartPre) checks that the schema is the one
-- the program was built for: the runtime roles may read which migrations
-- ran (versions and names only).
SELECT exportd_grant('worker', 'SELECT ON exportd_migrations');
SELECT exportd_grant('api', 'SELECT ON exportd_migrations');
