"""XLSX exports (README "Creating an export", "Files"), read back by what
their users open them with: LibreOffice Calc (headless, converting to CSV)
compares every cell with the source rows; openpyxl checks the cell types,
number formats, the bold frozen header and the autofilter.  The dataset
(AWKWARD) has quotes, CR/LF, emoji, a leading '=', NULL beside '', µs
timestamps, numerics beyond a double, dates Excel has no serial for.

The same LibreOffice reads the CSV export with ';' and a BOM.  Refused
combinations are 400 problem+json naming the field; plain-SQL jobs are held
to the same by the table.  The last test stops the session's exportd and
kills an own daemon's worker with SIGKILL in the middle of an XLSX export:
the next run rebuilds the file from the start, one valid workbook.
"""

import csv
import io
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
import zipfile
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import openpyxl
from openpyxl.utils.escape import unescape
import psycopg2
import psycopg2.extras
import pytest

import helpers as H
import stack as S

AWKWARD = "xlsx_awkward"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COLUMNS = ["id", "txt", "num", "i8", "flt", "flag", "day", "ts", "tstz", "doc"]
LABELS = {"txt": "Text \"quoted\"", "tstz": "Created At"}
TEXTS = [
    "plain", 'say "hi", ok', "line1\r\nline2\nline3\rend", "emoji 😀👍🏽 ünï", "=1+1",
    "@SUM(A1)", "-2", "+3", "", None, "_x0041_ stays", "tab\there", " spaced ",
]
NUMERICS = [
    "1.5", "12345678901234567890.123", "0.000000000000000000012345", "-0.10", "NaN",
    "123456789012345", "1234567890123456", "0", None, "99999999999999.9", "1e20", "42", "7",
]
INT8S = [42, 9007199254740993, -1, None, 0, 123456789012345, 1234567890123456, 5, 6, 7, 8,
         9, 10]
FLOATS = ["0.1", "-1e-300", "NaN", "Infinity", None, "3.141592653589793", "1e+300", "2.5",
          "0", "-0.5", "1", "2", "3"]
DAYS = ["2024-01-02", "1899-12-31", "1900-03-01", None, "infinity", "9999-12-31", "2000-02-29",
        "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-06", "2024-01-07", "0044-03-15 BC"]
STAMPS = ["2024-01-02 03:04:05.123456", "infinity", "1900-01-01 00:00:00", None,
          "2024-03-31 01:59:59.999999", "2024-12-31 23:59:59.000001", "2000-01-01 00:00:00",
          "2024-01-02 03:04:05.5", "2024-01-02 03:04:05", "2024-06-01 12:00:00.25",
          "2024-06-01 12:00:00.75", "2024-06-01 12:00:01", "2024-06-01 12:00:02"]
ZONED = ["2024-07-01 12:00:00.5+00", "2024-01-01 00:30:00.123456+00", None, "-infinity",
         "2024-03-31 00:59:59.999999+00", "2024-03-31 01:00:00+00", "2024-10-27 00:30:00+00",
         "2024-10-27 01:30:00+00", "1999-12-31 23:00:00+00", "2024-06-01 12:00:00+00",
         "2024-06-01 12:00:00.000001+00", "2024-06-01 12:00:01+00", "2024-06-01 12:00:02+00"]
DOCS = ['{"a": 1}', '[1, "two", null]', None, '"=cmd"', '{}', '{"b": "x\\ny"}', '1', '2',
        '3', '4', '5', '6', '7']
NROWS = len(TEXTS)


def soffice_csv(path, out_dir, infilter=None):
    """LibreOffice Calc headless converts path to CSV (UTF-8, ',' and '"',
    every sheet: the 12th token -1 writes one file per sheet): the records
    of each sheet, by file name."""
    profile = out_dir / ("lo-profile-%s" % uuid.uuid4().hex[:8])
    argv = ["soffice", "--headless", "--norestore",
            "-env:UserInstallation=file://%s" % profile]
    if infilter:
        argv.append("--infilter=%s" % infilter)
    argv += ["--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,"
             "false,false,-1", "--outdir", str(out_dir), str(path)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=300,
                       stdin=subprocess.DEVNULL, env=S.clean_env(HOME=str(profile)))
    shutil.rmtree(profile, ignore_errors=True)
    assert p.returncode == 0, (p.stdout, p.stderr)
    out = {}
    for f in sorted(out_dir.glob(path.stem + "*.csv")):
        if f == path:
            continue
        out[f.name] = list(csv.reader(io.StringIO(f.read_text("utf-8"), newline="")))
    assert out, (p.stdout, p.stderr, list(out_dir.iterdir()))
    return out


def lo_lines(text):
    """LibreOffice's CSV output writes every line break inside a cell as LF
    (CR LF and CR included), whatever the cell holds."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


@pytest.fixture(scope="module")
def awkward(stack):
    """The AWKWARD table and export type (with labels), rows in workspace acme."""
    pg = stack.pg
    pg.query("DROP TABLE IF EXISTS xlsx_awkward_t; CREATE TABLE xlsx_awkward_t ("
             " id bigint PRIMARY KEY, workspace text NOT NULL, txt text, num numeric,"
             " i8 bigint, flt float8, flag boolean, day date, ts timestamp, tstz timestamptz,"
             " doc jsonb)")
    for i in range(NROWS):
        pg.query("INSERT INTO xlsx_awkward_t VALUES (%s, 'acme', %s, %s, %s, %s, %s, %s, %s,"
                 " %s, %s)",
                 (i + 1, TEXTS[i], NUMERICS[i], INT8S[i], FLOATS[i],
                  None if i == 3 else i % 2 == 0, DAYS[i], STAMPS[i], ZONED[i], DOCS[i]))
    pg.query("INSERT INTO export_types (name, relation, key_column, workspace_column, columns,"
             " column_labels) VALUES (%s, 'xlsx_awkward_t', 'id', 'workspace', %s, %s)"
             " ON CONFLICT (name) DO NOTHING",
             (AWKWARD, COLUMNS, psycopg2.extras.Json(LABELS)))
    pg.expose(AWKWARD)
    return AWKWARD


def source(stack, tz="UTC"):
    """The rows as PostgreSQL's text (timestamps in tz) and as values."""
    conn = stack.pg.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SET TimeZone = %s; SET DateStyle = 'ISO'", (tz,))
            cur.execute("SELECT %s FROM xlsx_awkward_t ORDER BY xlsx_awkward_t.id"
                        % ", ".join("%s::text" % c for c in COLUMNS))
            text = cur.fetchall()
            # Python has no BC dates nor infinity: those are compared as text
            cur.execute("SELECT %s FROM xlsx_awkward_t ORDER BY xlsx_awkward_t.id" % ", ".join(
                "CASE WHEN isfinite(%s) AND %s >= '1000-01-01' THEN %s END" % (c, c, c)
                if c in ("day", "ts", "tstz") else c for c in COLUMNS))
            values = cur.fetchall()
    finally:
        conn.close()
    return text, values


def export(stack, body):
    job = H.create(stack, dict(body))
    job = stack.wait_for_job(job["id"])
    assert job["status"] == "complete", job
    r = H.download(stack, job)
    return job, r


EPOCH = datetime(1899, 12, 30)   # Excel's day 0 (for dates from 1900-03-01)


def raw_values(path, sheet=1):
    """{cell reference: the <v> text} of a sheet, as written."""
    with zipfile.ZipFile(path) as z:
        xml = z.read("xl/worksheets/sheet%d.xml" % sheet).decode()
    return dict(re.findall(r'<c r="([A-Z]+[0-9]+)"[^>]*><v>([^<]*)</v>', xml))


def exact_number(text):
    """What the writer writes as a number: at most 15 significant digits."""
    digits = text.lstrip("+-").replace(".", "").lstrip("0").rstrip("0")
    return text not in ("NaN", "Infinity", "-Infinity") and len(digits) <= 15


def excel_date(text):
    """Is the date/timestamp text one Excel has a serial for?"""
    return (text[:1].isdigit() and not text.endswith(" BC")
            and "1900-03-01" <= text[:10] <= "9999-12-31")


@pytest.fixture(scope="module")
def paris(stack, awkward, tmp_root):
    """An XLSX export of AWKWARD in Europe/Paris with labels: (job, response, path)."""
    job, r = export(stack, {"type": awkward, "format": "xlsx", "timezone": "Europe/Paris",
                            "header": "labels"})
    path = tmp_root / ("xlsx-%s.xlsx" % job["id"])
    path.write_bytes(r.content)
    return job, r, path


def test_download_is_an_xlsx(stack, paris):
    job, r, path = paris
    assert job["format"] == "xlsx" and job["compression"] == "none", job
    assert job["resumable"] is False and job["row_count"] == NROWS, job
    assert r.headers["Content-Type"].split(";")[0].strip() == XLSX_TYPE, r.headers
    assert r.headers["Content-Disposition"] == H.content_disposition(job), r.headers
    assert H.content_disposition(job).endswith('.xlsx"')
    assert job["file_size"] == len(r.content), job
    assert job["checksum"] == {"sha256": H.sha256_bytes(r.content)}, job
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        names = z.namelist()
    assert "xl/workbook.xml" in names and "xl/worksheets/sheet1.xml" in names, names
    # nothing is left in the work directory
    assert not list((stack.storage_dir / ".work").glob(job["id"] + "*"))


def test_openpyxl_cell_types_and_formats(stack, paris):
    job, _, path = paris
    text, values = source(stack, "Europe/Paris")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == [AWKWARD], wb.sheetnames
    ws = wb[AWKWARD]
    assert ws.freeze_panes == "A2", ws.freeze_panes
    assert ws.auto_filter.ref == "A1:J%d" % (NROWS + 1), ws.auto_filter.ref
    header = [c.value for c in ws[1]]
    assert header == [LABELS.get(c, c) for c in COLUMNS], header
    assert all(c.font.b for c in ws[1]), [c.font.b for c in ws[1]]
    rows = list(ws.iter_rows(min_row=2))
    raw = raw_values(path)
    assert len(rows) == NROWS and ws.max_row == NROWS + 1
    paris_tz = ZoneInfo("Europe/Paris")
    for r, (trow, vrow, cells) in enumerate(zip(text, values, rows)):
        for c, name in enumerate(COLUMNS):
            cell, t, v = cells[c], trow[c], vrow[c]
            where = "row %d column %s: %r (%s, %s) for %r" % (
                r + 1, name, cell.value, cell.data_type, cell.number_format, t)
            assert not cell.font.b, where
            if t is None or t == "":
                assert cell.value is None, where          # NULL and '' are empty cells
            elif name in ("id", "num", "i8") and exact_number(t):
                assert cell.data_type == "n" and cell.value == float(t), where
            elif name == "flt" and t not in ("NaN", "Infinity", "-Infinity"):
                assert cell.data_type == "n" and cell.value == v, where
            elif name == "flag":
                assert cell.data_type == "b" and cell.value is v, where
            elif name == "day" and excel_date(t):
                assert cell.is_date and cell.number_format == "yyyy-mm-dd", where
                assert cell.value == datetime(v.year, v.month, v.day), where
            elif name in ("ts", "tstz") and excel_date(t):
                assert cell.is_date and cell.number_format == "yyyy-mm-dd hh:mm:ss.000", where
                want = v.astimezone(paris_tz).replace(tzinfo=None) if name == "tstz" else v
                # openpyxl rounds to the millisecond; the cell's serial keeps the µs
                assert abs(cell.value - want) <= timedelta(microseconds=500), where
                serial = (want - EPOCH) / timedelta(days=1)
                assert abs(float(raw[cell.coordinate]) - serial) * 86400e6 < 1, where
            elif name in ("ts", "tstz"):
                # no Excel date: to_json()'s text of it, as in CSV
                assert cell.data_type == "s" and cell.value.replace("T", " ").startswith(
                    t.split("+")[0].replace("T", " ")), where
            else:
                # OOXML's _xHHHH_ escapes (CR, control characters, a literal
                # "_x0041_"): Excel and LibreOffice read them, openpyxl 3.0
                # leaves them in inline strings; its own unescape() reads them
                assert cell.data_type == "s" and unescape(cell.value) == t, where


def test_libreoffice_reads_every_cell(stack, paris, tmp_path):
    """LibreOffice Calc opens the XLSX; its CSV of what it shows is the
    source, cell by cell."""
    job, _, path = paris
    text, values = source(stack, "Europe/Paris")
    sheets = soffice_csv(path, tmp_path)
    assert len(sheets) == 1, list(sheets)
    recs = list(sheets.values())[0]
    assert recs[0] == [LABELS.get(c, c) for c in COLUMNS], recs[0]
    assert len(recs) == NROWS + 1, recs
    paris_tz = ZoneInfo("Europe/Paris")
    for r, (trow, vrow, got) in enumerate(zip(text, values, recs[1:])):
        for c, name in enumerate(COLUMNS):
            g, t, v = got[c], trow[c], vrow[c]
            where = "row %d column %s: LibreOffice shows %r for %r" % (r + 1, name, g, t)
            if t is None or t == "":
                assert g == "", where
            elif name in ("id", "num", "i8") and exact_number(t):
                assert float(g) == float(t), where
            elif name == "flt" and t not in ("NaN", "Infinity", "-Infinity"):
                assert float(g) == pytest.approx(v, rel=1e-14), where   # 15 digits shown
            elif name == "flag":
                assert g == ("TRUE" if v else "FALSE"), where
            elif name == "day" and excel_date(t):
                assert g == t, where
            elif name in ("ts", "tstz") and excel_date(t):
                want = v.astimezone(paris_tz).replace(tzinfo=None) if name == "tstz" else v
                shown = datetime.strptime(g, "%Y-%m-%d %H:%M:%S.%f")
                assert abs(shown - want) <= timedelta(microseconds=500), where
            elif name in ("ts", "tstz"):
                assert g.replace("T", " ").startswith(t.split("+")[0]), where
            else:
                assert g == lo_lines(t), where


def test_libreoffice_reads_the_semicolon_csv_with_bom(stack, awkward, tmp_path):
    """The CSV export with ';' and a BOM, opened by LibreOffice as ';'
    separated UTF-8 with every column as text: the same cells as Python's
    csv module reads, no BOM in the first one, text columns equal to the
    source (NULL and '' are both empty cells in a spreadsheet)."""
    job, r = export(stack, {"type": awkward, "csv": {"delimiter": ";", "bom": True}})
    data = r.content
    assert data.startswith(b"\xef\xbb\xbf"), data[:10]
    path = tmp_path / "semi.csv"
    path.write_bytes(data)
    cols = "/".join("%d/2" % (i + 1) for i in range(len(COLUMNS)))
    sheets = soffice_csv(path, tmp_path / "out", infilter="CSV:59,34,76,1,%s" % cols)
    got = list(sheets.values())[0]
    want = list(csv.reader(io.StringIO(data[3:].decode("utf-8"), newline=""), delimiter=";"))
    want = [[lo_lines(v) for v in row] for row in want]
    assert got[0][0] == "id" and got == want, (got, want)
    text, _ = source(stack)
    assert [row[COLUMNS.index("txt")] for row in got[1:]] == [lo_lines(t[1] or "")
                                                             for t in text]


# ------------------------------------------------------------ refused, plain SQL

@pytest.mark.parametrize("body, field", [
    ({"compression": "gzip"}, "compression"),
    ({"compression": "zstd"}, "compression"),
    ({"csv": {"delimiter": ";"}}, "csv"),
    ({"csv": {"bom": True}}, "csv"),
], ids=["gzip", "zstd", "csv-delimiter", "csv-bom"])
def test_refused_combinations_name_the_field(stack, body, field):
    r = H.post(stack, dict(body, type="contacts", format="xlsx"))
    H.field_problem(r, field)


def test_unknown_format_lists_xlsx(stack):
    body = H.field_problem(H.post(stack, {"type": "contacts", "format": "xls"}), "format")
    assert '"xlsx"' in body["errors"][0]["detail"], body


def test_plain_sql_xlsx_job(stack, awkward, tmp_path):
    """A job INSERTed by plain SQL with format 'xlsx' is exported like one
    from the API; the table refuses what POST /exports refuses."""
    job_id = str(stack.pg.query(
        "INSERT INTO export_jobs (workspace, type, format, header) VALUES ('acme', %s, 'xlsx',"
        " 'labels') RETURNING id", (awkward,))[0][0])
    job = stack.wait_for_job(job_id)
    assert job["status"] == "complete" and job["row_count"] == NROWS, job
    path = tmp_path / "plain.xlsx"
    path.write_bytes(H.download(stack, job).content)
    ws = openpyxl.load_workbook(path)[AWKWARD]
    assert [c.value for c in ws[1]] == [LABELS.get(c, c) for c in COLUMNS]
    assert ws.max_row == NROWS + 1
    for cols, values in ((", compression", ", 'gzip'"), (", compression", ", 'zstd'"),
                         (", csv_delimiter", ", ';'")):
        with pytest.raises(psycopg2.errors.CheckViolation):
            stack.pg.query("INSERT INTO export_jobs (workspace, type, format%s) VALUES"
                           " ('acme', %%s, 'xlsx'%s)" % (cols, values), (awkward,))


def test_a_failed_job_removes_the_workbook_a_killed_run_left(stack):
    """A run killed while building leaves <work dir>/<id>.xlsx; when the job
    then fails for good, the worker removes it with the partial file."""
    stack.pg.query("INSERT INTO export_types (name, relation, key_column, workspace_column,"
                   " columns) VALUES ('xlsx_ghost', 'xlsx_no_such_relation', 'id', 'workspace',"
                   " '{id}') ON CONFLICT (name) DO NOTHING")
    job_id = str(stack.pg.query(
        "INSERT INTO export_jobs (workspace, type, format, run_at) VALUES ('acme',"
        " 'xlsx_ghost', 'xlsx', now() + interval '2 seconds') RETURNING id")[0][0])
    work = stack.storage_dir / ".work"
    work.mkdir(mode=0o700, exist_ok=True)
    left = work / (job_id + ".xlsx")
    left.write_bytes(b"PK\x03\x04 the start of a workbook")
    job = stack.wait_for_job(job_id)
    assert job["status"] == "failed" and job["attempts"] == 1, job
    assert not left.exists(), "the killed run's workbook is still in %s" % work


# ------------------------------------------------------------ limits

def test_cell_over_32767_characters_fails_naming_row_and_column(stack):
    """No silent cut: the job fails, saying which row (key) and column."""
    stack.pg.query("DROP TABLE IF EXISTS xlsx_long_t; CREATE TABLE xlsx_long_t ("
                   " id bigint PRIMARY KEY, workspace text NOT NULL, note text);"
                   " INSERT INTO xlsx_long_t VALUES (1, 'acme', 'short'),"
                   " (77, 'acme', repeat('é', 32767)), (78, 'acme', repeat('x', 32766) || '😀')")
    stack.pg.query("INSERT INTO export_types (name, relation, key_column, workspace_column,"
                   " columns) VALUES ('xlsx_long', 'xlsx_long_t', 'id', 'workspace',"
                   " '{id,note}') ON CONFLICT (name) DO NOTHING")
    stack.pg.expose("xlsx_long")
    job = H.create(stack, {"type": "xlsx_long", "format": "xlsx"})
    job = stack.wait_for_job(job["id"])
    assert job["status"] == "failed" and job["attempts"] == 1, job
    msg = job["error"]["message"]
    # 32767 é are exactly the limit; 32766 + an emoji (2 UTF-16 units) are one over
    assert "key 78" in msg and '"note"' in msg and "32767" in msg, job["error"]
    assert not list((stack.storage_dir / ".work").glob(job["id"] + "*"))
    assert not list(stack.storage_dir.glob(job["id"] + "*"))
    # the same rows as CSV are fine
    csv_job = stack.wait_for_job(H.create(stack, {"type": "xlsx_long"})["id"])
    assert csv_job["status"] == "complete", csv_job


def test_sheet_limit_continues_on_a_new_sheet(stack, tmp_path):
    """1,048,576 rows: 1,048,575 under the header of the first sheet, the
    last one on "xlsx_many (2)" under the header again (Excel's limit is
    1,048,576 rows with the header).  Nothing is truncated."""
    n = 1048576
    stack.pg.query("DROP TABLE IF EXISTS xlsx_many_t; CREATE TABLE xlsx_many_t ("
                   " id bigint PRIMARY KEY, workspace text NOT NULL, label text);"
                   " INSERT INTO xlsx_many_t SELECT g, 'acme', 'r' || g"
                   " FROM generate_series(1, %d) g" % n)
    stack.pg.query("INSERT INTO export_types (name, relation, key_column, workspace_column,"
                   " columns) VALUES ('xlsx_many', 'xlsx_many_t', 'id', 'workspace',"
                   " '{id,label}') ON CONFLICT (name) DO NOTHING")
    stack.pg.expose("xlsx_many")
    job = stack.wait_for_job(H.create(stack, {"type": "xlsx_many", "format": "xlsx"})["id"],
                             timeout=300)
    assert job["status"] == "complete" and job["row_count"] == n, job
    path = tmp_path / "many.xlsx"
    path.write_bytes(H.download(stack, job).content)
    stack.pg.query("DROP TABLE xlsx_many_t")
    with zipfile.ZipFile(path) as z:
        book = z.read("xl/workbook.xml").decode()
        first = z.read("xl/worksheets/sheet1.xml").decode()
        second = z.read("xl/worksheets/sheet2.xml").decode()
    assert re.findall(r'<sheet name="([^"]*)"', book) == ["xlsx_many", "xlsx_many (2)"], book
    assert '<dimension ref="A1:B1048576"/>' in first, first[:500]
    assert first.count("<row ") == 1048576
    tail = first[first.rindex('<row r="1048576"'):]
    assert '<v>1048575</v>' in tail and "<t>r1048575</t>" in tail, tail
    assert '<autoFilter ref="A1:B1048576"/>' in first
    wb = openpyxl.load_workbook(path, read_only=True)
    rows = [[c.value for c in row] for row in wb["xlsx_many (2)"].iter_rows()]
    assert rows == [["id", "label"], [n, "r%d" % n]], rows


# ------------------------------------------------------------ kill -9: rebuilt

SLOW_ROWS = 20000


def test_kill9_mid_export_rebuilds_one_valid_file(stack, tmp_path):
    """An own daemon's worker is killed with SIGKILL while it builds an
    XLSX: the next run starts over from the first row (an XLSX cannot be
    appended to) and the stored file is one valid workbook holding every
    row once, in order."""
    pg = stack.pg
    pg.query("""
        DROP TABLE IF EXISTS xlsx_slow_t CASCADE;
        CREATE TABLE xlsx_slow_t (id bigint PRIMARY KEY, workspace text NOT NULL, label text,
                                  at timestamptz);
        INSERT INTO xlsx_slow_t SELECT g, 'acme', 'row ' || g,
            '2024-01-01'::timestamptz + g * interval '1 minute'
            FROM generate_series(1, %d) g;
        CREATE OR REPLACE FUNCTION xlsx_throttle(k bigint) RETURNS boolean
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            IF k %% 10 = 0 THEN PERFORM pg_sleep(0.002); END IF;
            RETURN true;
        END $$;
        CREATE VIEW xlsx_slow_v AS SELECT * FROM xlsx_slow_t WHERE xlsx_throttle(id);
    """ % SLOW_ROWS)
    pg.query("INSERT INTO export_types (name, relation, key_column, workspace_column, columns)"
             " VALUES ('xlsx_slow', 'xlsx_slow_v', 'id', 'workspace', '{id,label,at}')"
             " ON CONFLICT (name) DO NOTHING")
    pg.expose("xlsx_slow")
    stack.exportd.stop(grace=15)
    d = S.ExtraExportd(stack, "exportd xlsx-kill", {"exportd": {
        "workers": 1, "poll_interval": "200ms", "chunk_rows": 500, "heartbeat_interval": "300ms",
        "lease_timeout": "15s", "retry_base": "100ms", "retry_max": "500ms"}})
    try:
        d.start()
        job = H.create(stack, {"type": "xlsx_slow", "format": "xlsx", "timezone": "Asia/Tokyo"})
        deadline = time.monotonic() + 60
        while True:
            status, done, owner = pg.query("SELECT status, rows_done, lease_owner FROM export_jobs"
                                           " WHERE id = %s", (job["id"],))[0]
            assert status in ("pending", "processing"), status
            if status == "processing" and done and done >= 2000 and owner:
                break
            assert time.monotonic() < deadline, (status, done, owner)
            time.sleep(0.01)
        assert done < SLOW_ROWS * 0.8, "killed too late to matter: %d rows" % done
        pid = int(owner.rsplit(":", 2)[1])
        assert pid in d.worker_pids(), (owner, d.worker_pids())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 120
        while pg.query("SELECT status FROM export_jobs WHERE id = %s",
                       (job["id"],))[0][0] in ("pending", "processing"):
            assert time.monotonic() < deadline, "the killed job did not end"
            time.sleep(0.1)
        job = stack.api("GET", "/exports/" + job["id"]).json()
    finally:
        d.stop(grace=15)
        stack.start_exportd()
    assert job["status"] == "complete" and job["attempts"] == 2, job
    assert job["row_count"] == SLOW_ROWS and job["resumable"] is False, job
    files = sorted(p.name for p in stack.storage_dir.glob(job["id"] + "*"))
    assert files == [job["id"] + ".xlsx"], files
    assert not list((stack.storage_dir / ".work").glob(job["id"] + "*"))
    data = (stack.storage_dir / files[0]).read_bytes()
    assert job["file_size"] == len(data) and job["checksum"]["sha256"] == H.sha256_bytes(data)
    path = tmp_path / "killed.xlsx"
    path.write_bytes(data)
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
    ws = openpyxl.load_workbook(path, read_only=True)["xlsx_slow"]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows[0] == ["id", "label", "at"]
    tokyo = ZoneInfo("Asia/Tokyo")
    want = [[i, "row %d" % i, (datetime(2024, 1, 1, tzinfo=ZoneInfo("UTC"))
                                + timedelta(minutes=i)).astimezone(tokyo).replace(tzinfo=None)]
            for i in range(1, SLOW_ROWS + 1)]
    assert rows[1:] == want
