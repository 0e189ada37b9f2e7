-- registry.sql - export_types, and the one statement that reads a type's
-- source for the job's as-of key; read only by src/jobs/registry.c.
-- {{name}} placeholders are identifiers, quoted by db_fill() (src/db/db.h).

-- name: registry_load
SELECT name, schema_name, relation, key_column, workspace_column,
  to_json(columns) AS columns, to_json(filterable_columns) AS filterable_columns,
  created_at_column, deleted_at_column, updated_at_column,
  -- the label of each of columns, in their order (null: none)
  to_json(ARRAY(SELECT column_labels ->> c FROM unnest(columns) WITH ORDINALITY AS u (c, n)
    ORDER BY n)) AS column_labels
FROM export_types WHERE name = $1;

-- Is $1 a zone name POST /exports accepts ("timezone")?
-- name: registry_timezone_known
SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1) AS known;

-- Zone $1's offset from UTC at the instant $2 (seconds since the epoch),
-- in seconds: what the worker's own zone data must also say.
-- name: registry_timezone_offset
SELECT extract(epoch FROM (to_timestamp($2::float8) AT TIME ZONE $1)
  - (to_timestamp($2::float8) AT TIME ZONE 'UTC'))::bigint AS utc_offset;

-- The source's largest key in workspace $1, as text.  Qualified: ORDER BY
-- a bare "id" would sort the output column, the key as text ('999' >
-- '2000').  ORDER BY ... DESC LIMIT 1 rather than max(): uuid has no max().
-- $1 is untyped: it takes the workspace column's type.
-- name: registry_as_of_key
SELECT _src.{{key}}::text AS as_of_key FROM {{schema}}.{{relation}} AS _src
WHERE _src.{{workspace}} = $1 AND _src.{{key}} IS NOT NULL
ORDER BY _src.{{key}} DESC LIMIT 1;

-- Do an incremental cursor's change time ($1) and key ($2, NULL: none)
-- read as values of the type's columns?  Binding the parameters converts
-- them (SQLSTATE 22 when they do not); LIMIT 0 reads no row.
-- name: registry_since_check
SELECT $1::timestamptz AS at FROM {{schema}}.{{relation}} AS _src
WHERE _src.{{key}} = $2 LIMIT 0;

-- What request filters may name for a type, with the column types from the
-- catalog for the relation the registry names (to_regclass: NULL, so no
-- types, when it is gone).
-- name: registry_filter_meta
SELECT t.created_at_column, to_json(t.filterable_columns) AS filterable_columns,
  (SELECT coalesce(json_object_agg(a.attname,
    format_type(a.atttypid, a.atttypmod)), '{}')
   FROM pg_attribute a
   WHERE a.attrelid = to_regclass(format('%I.%I', t.schema_name, t.relation))
   AND a.attnum > 0 AND NOT a.attisdropped
   AND a.attname = ANY (t.filterable_columns)) AS column_types
FROM export_types t WHERE t.name = $1;

-- Is $2 the canonical text of type $1's tenant column?  ok NULL: the
-- column cannot be found (export_workspace_check, migration 006).
-- name: registry_workspace_check
SELECT column_type, canonical,
  CASE WHEN column_type IS NOT NULL THEN canonical IS NOT DISTINCT FROM $2 END AS ok
FROM export_workspace_check($1, $2);

-- exportctl doctor: for every type, what would make its exports fail or
-- crawl: the relation, the key and workspace columns, an index leading
-- with (workspace, key) for the keyset query, and SELECT on every column
-- it reads for the worker role (exportctl type grant).
-- name: registry_doctor
SELECT t.name, r.oid IS NOT NULL AS relation_ok,
  EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = r.oid
          AND a.attname = t.key_column AND NOT a.attisdropped) AS key_ok,
  EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = r.oid
          AND a.attname = t.workspace_column AND NOT a.attisdropped) AS workspace_ok,
  r.relkind <> 'r' OR EXISTS (SELECT 1 FROM pg_index i
    JOIN pg_attribute w ON w.attrelid = i.indrelid AND w.attnum = i.indkey[0]
    JOIN pg_attribute k ON k.attrelid = i.indrelid AND k.attnum = i.indkey[1]
    WHERE i.indrelid = r.oid AND w.attname = t.workspace_column
      AND k.attname = t.key_column) AS index_ok,
  (SELECT coalesce(string_agg(c, ', ' ORDER BY c), '') FROM unnest(
     t.columns || ARRAY[t.key_column, t.workspace_column]) c
   WHERE r.oid IS NOT NULL AND EXISTS (SELECT 1 FROM pg_attribute a
     WHERE a.attrelid = r.oid AND a.attname = c AND NOT a.attisdropped)
   AND NOT has_column_privilege(exportd_role('worker'), r.oid, c, 'SELECT'))
   AS not_granted
FROM export_types t
LEFT JOIN pg_class r ON r.oid = to_regclass(format('%I.%I', t.schema_name, t.relation))
ORDER BY t.name;
