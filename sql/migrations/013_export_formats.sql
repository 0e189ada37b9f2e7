-- Output options (README "Creating an export"): CSV delimiter, time zone, header
-- labels, zstd.  Stored with the job, so a resumed export writes with the
-- job's values.  Plain-SQL jobs are held to what POST /exports accepts.

ALTER TABLE export_jobs DROP CONSTRAINT export_jobs_compression_check;
ALTER TABLE export_jobs ADD CONSTRAINT export_jobs_compression_check
    CHECK (compression IN ('none', 'gzip', 'zstd'));

ALTER TABLE export_jobs
    -- One byte: ',' ';' TAB '|'.
    ADD COLUMN csv_delimiter text NOT NULL DEFAULT ','
        CHECK (csv_delimiter IN (',', ';', E'\t', '|')),
    -- An IANA zone name of pg_timezone_names (trigger below); timestamptz
    -- values are written in it, with their offset.
    ADD COLUMN timezone      text NOT NULL DEFAULT 'UTC',
    -- names: the column names; labels: export_types.column_labels.
    ADD COLUMN header        text NOT NULL DEFAULT 'names'
        CHECK (header IN ('names', 'labels'));
-- As POST /exports: CSV options and labels are for CSV only (JSON Lines
-- keys are the column names).
ALTER TABLE export_jobs ADD CONSTRAINT export_jobs_csv_only
    CHECK (format = 'csv' OR (csv_delimiter = ',' AND header = 'names'));

-- Per column of the type, the header text `header: labels` writes
-- ({"created_at": "Created At"}); a column without one keeps its name.
ALTER TABLE export_types
    ADD COLUMN column_labels jsonb NOT NULL DEFAULT '{}'
        CHECK (jsonb_typeof(column_labels) = 'object');

-- A CHECK cannot read pg_timezone_names: a trigger does, for the zone
-- POST /exports would accept (abbreviations and POSIX strings such as
-- 'UTC+5', which SET TimeZone takes too, are refused).
CREATE FUNCTION export_jobs_timezone_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.timezone <> 'UTC'
       AND NOT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = NEW.timezone) THEN
        RAISE EXCEPTION 'timezone "%" is not an IANA zone name of pg_timezone_names',
            NEW.timezone USING ERRCODE = '22023';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER export_jobs_timezone_check
    BEFORE INSERT OR UPDATE OF timezone ON export_jobs
    FOR EACH ROW EXECUTE FUNCTION export_jobs_timezone_check();
