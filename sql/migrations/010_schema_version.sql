-- `exportd -t` (the unit's ExecStartPre) checks that the schema is the one
-- the program was built for: the worker role may read which migrations ran
-- (versions and names only).  The API role still may not.
SELECT exportd_grant('worker', 'SELECT ON exportd_migrations');
