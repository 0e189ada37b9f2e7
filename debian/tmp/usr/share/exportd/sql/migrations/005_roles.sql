-- Least privilege: the group roles export.fcgi and exportd work through, and
-- exactly what each may do.  Login roles are the administrator's (made
-- members of these groups, README "Database roles"); the source relations
-- a type exposes are granted per type (exportd_type_grant below, run by
-- `exportctl type grant TYPE`).
--
-- Roles are cluster-wide, so the group names come from the database's name:
-- <database>_api and <database>_worker (exportd_api and exportd_worker for
-- the default database "exportd").  Two exportd databases on one cluster
-- then never share a group, and a worker login of one cannot use the
-- other's grants.  Creating them needs CREATEROLE; an owner without it can
-- migrate once an administrator has created the two NOLOGIN roles.

-- The group role of a kind ('api': export.fcgi, 'worker': exportd).
CREATE FUNCTION exportd_role(kind text) RETURNS name LANGUAGE sql STABLE
    AS $$ SELECT (current_database() || '_' || kind)::name $$;

-- GRANT <what> TO the group role of a kind; what later migrations use for
-- their own tables: SELECT exportd_grant('api', 'SELECT ON new_table');
CREATE FUNCTION exportd_grant(kind text, what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('GRANT %s TO %I', what, exportd_role(kind));
END;
$$;

DO $$
DECLARE
    kind text;
    is_super boolean;
BEGIN
    -- name is 63 bytes: a longer name would be cut, and two databases could
    -- end up sharing a role.
    IF octet_length(current_database()) > 56 THEN
        RAISE EXCEPTION 'database name "%" is too long for its exportd roles (56 bytes at most)',
            current_database();
    END IF;
    FOREACH kind IN ARRAY ARRAY['api', 'worker'] LOOP
        SELECT rolsuper INTO is_super FROM pg_roles WHERE rolname = exportd_role(kind);
        IF is_super THEN
            RAISE EXCEPTION 'role "%" is a superuser: exportd''s runtime roles must not be',
                exportd_role(kind);
        END IF;
        CONTINUE WHEN FOUND;
        BEGIN
            EXECUTE format('CREATE ROLE %I NOLOGIN', exportd_role(kind));
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE EXCEPTION 'role "%" does not exist and "%" may not create it',
                exportd_role(kind), current_user
                USING HINT = format('Give the migrating role CREATEROLE, or have an administrator'
                    ' run: CREATE ROLE %I NOLOGIN; CREATE ROLE %I NOLOGIN;',
                    exportd_role('api'), exportd_role('worker'));
        END;
    END LOOP;
END;
$$;

-- export.fcgi (sql/statements/jobs.sql API side, keys.sql lookup/touch,
-- registry.sql): reads types and keys, creates, lists, cancels and purges
-- jobs, reads the newest mail's state for the job view.  INSERT and SELECT
-- are table-wide so that columns added later are covered; UPDATE names the
-- columns the API changes.
SELECT exportd_grant('api', 'SELECT ON export_types');
SELECT exportd_grant('api', 'SELECT, UPDATE (last_used_at) ON api_keys');
SELECT exportd_grant('api', 'SELECT, INSERT, UPDATE (idempotency_key, status, completed_at,'
    ' cancel_requested_at, purged_at) ON export_jobs');
SELECT exportd_grant('api', 'SELECT (id, job_id, status, attempts, sent_at, last_error)'
    ' ON export_notifications');

-- exportd (jobs.sql worker, retention and mailer sides, outbox.sql): claims
-- and runs jobs (a new lease token from the sequence), expires them, queues
-- and sends their mails.  No access to api_keys.
SELECT exportd_grant('worker', 'SELECT ON export_types');
SELECT exportd_grant('worker', 'SELECT, UPDATE (status, attempts, run_at, errors, error_code,'
    ' error_message, lease_owner, lease_token, lease_expires_at, ckpt_last_key, ckpt_rows,'
    ' ckpt_bytes, ckpt_part, ckpt_storage, ckpt_sha256, rows_done, bytes_done, rows_estimated,'
    ' row_count, file_size, file_key, checksum, started_at, completed_at, expires_at, purged_at,'
    ' as_of_key, as_of_key_set) ON export_jobs');
SELECT exportd_grant('worker', 'USAGE ON SEQUENCE export_lease_token_seq');
SELECT exportd_grant('worker', 'SELECT, INSERT (job_id, kind, recipient), UPDATE (status,'
    ' attempts, last_error, sent_at, link_expires_at, next_attempt_at)'
    ' ON export_notifications');
SELECT exportd_grant('worker', 'USAGE ON SEQUENCE export_notifications_id_seq');

-- What an export type exposes: SELECT on the columns the worker reads (the
-- type's columns, filterable columns, key, workspace, created-at and
-- deleted-at columns) to the worker, and on the key and workspace columns
-- to the API (which fixes the job's as-of key at creation).  Nothing else
-- of the relation is readable by either.  Runs with the caller's rights: it
-- must own the relation or hold SELECT on it WITH GRANT OPTION; a GRANT that
-- grants nothing only warns, so the result is checked.
CREATE FUNCTION exportd_type_grant(type_name text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t export_types;
    rel text;
    cols text[];
    c text;
BEGIN
    SELECT * INTO t FROM export_types WHERE name = type_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'export type "%" does not exist', type_name
            USING ERRCODE = 'undefined_object';
    END IF;
    rel := format('%I.%I', t.schema_name, t.relation);
    cols := ARRAY(SELECT DISTINCT x FROM unnest(t.columns || t.filterable_columns
        || ARRAY[t.key_column, t.workspace_column, t.created_at_column, t.deleted_at_column]) x
        WHERE x IS NOT NULL ORDER BY x);
    IF NOT has_schema_privilege(exportd_role('worker'), t.schema_name, 'USAGE')
        OR NOT has_schema_privilege(exportd_role('api'), t.schema_name, 'USAGE') THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I, %I', t.schema_name,
            exportd_role('worker'), exportd_role('api'));
    END IF;
    EXECUTE format('GRANT SELECT (%s) ON TABLE %s TO %I',
        (SELECT string_agg(quote_ident(x), ', ') FROM unnest(cols) x), rel, exportd_role('worker'));
    EXECUTE format('GRANT SELECT (%I, %I) ON TABLE %s TO %I',
        t.key_column, t.workspace_column, rel, exportd_role('api'));
    FOREACH c IN ARRAY cols LOOP
        IF NOT has_column_privilege(exportd_role('worker'), rel, c, 'SELECT')
            OR (c IN (t.key_column, t.workspace_column)
                AND NOT has_column_privilege(exportd_role('api'), rel, c, 'SELECT')) THEN
            RAISE EXCEPTION 'no privilege was granted on %: "%" neither owns it nor holds SELECT'
                ' on it WITH GRANT OPTION', rel, current_user
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END LOOP;
    RETURN format('%s: SELECT (%s) to %s, SELECT (%s, %s) to %s', rel,
        array_to_string(cols, ', '), exportd_role('worker'), t.key_column, t.workspace_column,
        exportd_role('api'));
END;
$$;

-- Administration only: not for the runtime roles.
REVOKE EXECUTE ON FUNCTION exportd_grant(text, text), exportd_type_grant(text) FROM PUBLIC;
