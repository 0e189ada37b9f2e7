-- A workspace is its tenant column's canonical text (issue 11).  Source
-- rows are matched after PostgreSQL casts the workspace to the tenant
-- column's type, so '042', '+42' and ' 42' would all read tenant 42 of an
-- integer column: only CAST(w AS <type>)::text = w names a tenant.

-- The tenant column's type of export type p_type (format_type, NULL when
-- the type, its relation or the column cannot be found: such a job fails
-- on its own at its run) and p_workspace cast to it and back to text
-- (NULL when it does not cast: no row of the type can be the workspace's).
CREATE FUNCTION export_workspace_check(p_type text, p_workspace text,
                                       OUT column_type text, OUT canonical text)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    SELECT format_type(a.atttypid, a.atttypmod) INTO column_type
    FROM export_types t
    JOIN pg_attribute a
      ON a.attrelid = to_regclass(format('%I.%I', t.schema_name, t.relation))
     AND a.attname = t.workspace_column AND a.attnum > 0 AND NOT a.attisdropped
    WHERE t.name = p_type;
    IF column_type IS NULL THEN
        RETURN;
    END IF;
    BEGIN
        -- column_type is SQL PostgreSQL wrote (format_type); the workspace
        -- only ever travels as a parameter.
        EXECUTE format('SELECT CAST($1 AS %s)::text', column_type)
            INTO canonical USING p_workspace;
    EXCEPTION WHEN data_exception OR integrity_constraint_violation THEN
        canonical := NULL;
    END;
END;
$$;

-- Plain-SQL jobs too: a job whose workspace is another spelling of a
-- tenant is refused at INSERT (exportd refuses it again before it reads a
-- row, for a job that got past this).
CREATE FUNCTION export_jobs_workspace_canonical() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    c record;
BEGIN
    SELECT * INTO c FROM export_workspace_check(NEW.type, NEW.workspace);
    IF c.column_type IS NOT NULL AND c.canonical IS DISTINCT FROM NEW.workspace THEN
        RAISE EXCEPTION 'workspace "%" is not the canonical text of type %''s tenant column (%)%',
            NEW.workspace, NEW.type, c.column_type,
            CASE WHEN c.canonical IS NULL THEN ': it does not cast'
                 ELSE format(': that tenant is spelled "%s"', c.canonical) END
            USING ERRCODE = '22023';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER export_jobs_workspace_canonical
    BEFORE INSERT OR UPDATE OF workspace, type ON export_jobs
    FOR EACH ROW EXECUTE FUNCTION export_jobs_workspace_canonical();
