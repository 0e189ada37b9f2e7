-- XLSX (README "Creating an export"): a third format.  Plain-SQL jobs are
-- held to what POST /exports accepts: an XLSX is a ZIP archive already, so
-- it is never compressed again; header labels apply to it as to CSV; the
-- CSV delimiter stays CSV's.

ALTER TABLE export_jobs DROP CONSTRAINT export_jobs_format_check;
ALTER TABLE export_jobs ADD CONSTRAINT export_jobs_format_check
    CHECK (format IN ('csv', 'jsonl', 'xlsx'));

ALTER TABLE export_jobs DROP CONSTRAINT export_jobs_csv_only;
ALTER TABLE export_jobs ADD CONSTRAINT export_jobs_csv_only
    CHECK ((format = 'csv' OR csv_delimiter = ',')
           AND (format IN ('csv', 'xlsx') OR header = 'names'));

ALTER TABLE export_jobs ADD CONSTRAINT export_jobs_xlsx_uncompressed
    CHECK (format <> 'xlsx' OR compression = 'none');
