-- Incremental exports (issue 16).  A type that names the column its rows'
-- change time is kept in (updated_at_column, timestamptz, set on every
-- insert, update and soft delete) can be exported "since" a cursor: only
-- the rows changed after it, soft-deleted ones included.  Every complete
-- export of such a type reports next_since, the cursor of the next one
-- (README "Incremental exports"; the cursor's form: src/jobs/since.h).
ALTER TABLE export_types ADD COLUMN updated_at_column text;

-- Checked like a registry row is read: when the relation exists, the
-- column must be one of its columns and a timestamptz (a type registered
-- before its table is checked by exportd at each run, and by doctor).
CREATE FUNCTION export_types_updated_at_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    rel regclass := to_regclass(format('%I.%I', NEW.schema_name, NEW.relation));
    typ oid;
BEGIN
    IF NEW.updated_at_column IS NULL OR rel IS NULL THEN
        RETURN NEW;
    END IF;
    SELECT a.atttypid INTO typ FROM pg_attribute a
    WHERE a.attrelid = rel AND a.attname = NEW.updated_at_column
      AND a.attnum > 0 AND NOT a.attisdropped;
    IF typ IS NULL THEN
        RAISE EXCEPTION 'updated_at_column "%" is not a column of %', NEW.updated_at_column, rel
            USING ERRCODE = 'undefined_column';
    END IF;
    IF typ <> 'timestamptz'::regtype THEN
        RAISE EXCEPTION 'updated_at_column "%" of % is %, not timestamptz',
            NEW.updated_at_column, rel, format_type(typ, NULL)
            USING ERRCODE = 'datatype_mismatch';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER export_types_updated_at_check
    BEFORE INSERT OR UPDATE OF updated_at_column, schema_name, relation ON export_types
    FOR EACH ROW EXECUTE FUNCTION export_types_updated_at_check();

-- since: the cursor the job was asked with (NULL: a full export); checked
-- by the API at creation and by the worker before it reads a row.
-- sync_until: the window's upper end, the as-of time less
-- export.incremental_lag, fixed at the first run so a resumed run reads
-- the same rows.  ckpt_last_at: the change time of the checkpoint's last
-- row (an incremental job is read in (change time, key) order).
-- next_since: the cursor a complete export reports.
ALTER TABLE export_jobs
    ADD COLUMN since text CHECK (length(since) <= 4096),
    ADD COLUMN sync_until timestamptz,
    ADD COLUMN ckpt_last_at text,
    ADD COLUMN next_since text;

SELECT exportd_grant('worker', 'UPDATE (sync_until, ckpt_last_at, next_since) ON export_jobs');

-- exportd_type_grant (migration 005) also grants the change-time column.
CREATE OR REPLACE FUNCTION exportd_type_grant(type_name text) RETURNS text LANGUAGE plpgsql AS $$
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
        || ARRAY[t.key_column, t.workspace_column, t.created_at_column, t.deleted_at_column,
                 t.updated_at_column]) x
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
REVOKE EXECUTE ON FUNCTION exportd_type_grant(text) FROM PUBLIC;
