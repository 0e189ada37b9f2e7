"""End to end through lighttpd: create -> poll -> download, and the file
compared with what PostgreSQL itself produces for the same rows.

The reference for CSV is `psql \\copy (SELECT ...) TO file CSV HEADER` with
PGTZ=UTC and PGDATESTYLE=ISO, timestamps rendered as to_json prints them
(README "Files"); the stack writes export.csv_line_ending = lf.
"""

import csv
import io
import json
import re
import subprocess
import uuid
from datetime import datetime, timezone
from decimal import Decimal

import psycopg2.extensions
import pytest

import stack as S

TYPES = ["contacts", "invoices", "events"]
SUBSETS = {
    # requested order differs from the registry's on purpose
    "contacts": ["email", "id", "created_at", "notes", "tags", "score"],
    "events": ["payload", "ip", "duration_ms", "id", "occurred_at"],
}
RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")


# ------------------------------------------------------------- helpers

def qi(name):
    return '"%s"' % name.replace('"', '""')


def registry(stack, type_):
    row = stack.pg.query(
        "SELECT schema_name, relation, key_column, workspace_column, columns,"
        " deleted_at_column FROM export_types WHERE name = %s", (type_,))[0]
    return dict(zip(("schema", "relation", "key", "ws", "columns", "deleted"), row))


def live(reg, alias="_t"):
    """The condition an export without include_deleted applies: soft-deleted
    rows are out."""
    if not reg["deleted"]:
        return ""
    return " AND %s.%s IS NULL" % (alias, qi(reg["deleted"]))


def column_types(stack, reg):
    rows = stack.pg.query(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
        " WHERE a.attrelid = (quote_ident(%s) || '.' || quote_ident(%s))::regclass"
        " AND a.attnum > 0 AND NOT a.attisdropped", (reg["schema"], reg["relation"]))
    return dict(rows)


def is_timestamp(sqltype):
    return sqltype.startswith("timestamp")


def reference_select(stack, type_, columns=None, workspace="acme"):
    """The SELECT whose COPY output the export must equal, on one line."""
    reg = registry(stack, type_)
    types = column_types(stack, reg)
    exprs = []
    for c in columns or reg["columns"]:
        if is_timestamp(types[c]):
            exprs.append("to_json(%s) #>> '{}' AS %s" % (qi(c), qi(c)))
        else:
            exprs.append(qi(c))
    # ORDER BY the table's key, not an output column of the same name
    return "SELECT %s FROM %s.%s AS _t WHERE _t.%s = '%s'%s ORDER BY _t.%s" % (
        ", ".join(exprs), qi(reg["schema"]), qi(reg["relation"]), qi(reg["ws"]),
        workspace, live(reg), qi(reg["key"]))


def psql_copy_csv(stack, select, path):
    """psql \\copy (select) TO path CSV HEADER, as a user would; the bytes."""
    argv = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", stack.pg.conninfo,
            "-c", "\\copy (%s) TO '%s' CSV HEADER" % (select, path)]
    p = subprocess.run(argv, env=S.clean_env(PGTZ="UTC", PGDATESTYLE="ISO"),
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, "psql failed: %s\n%s" % (p.stderr, argv)
    return path.read_bytes()


def assert_same_bytes(got, want, what):
    if got == want:
        return
    g, w = got.split(b"\n"), want.split(b"\n")
    for i, (a, b) in enumerate(zip(g, w)):
        if a != b:
            raise AssertionError("%s differs at line %d (of %d exported, %d expected):\n"
                                 "  got:      %r\n  expected: %r"
                                 % (what, i + 1, len(g), len(w), a[:400], b[:400]))
    raise AssertionError("%s: %d bytes in %d lines, expected %d bytes in %d lines; "
                         "first extra line: %r"
                         % (what, len(got), len(g), len(want), len(w),
                            (g[len(w)] if len(g) > len(w) else w[len(g)])[:400]))


def create(stack, body, key=S.DEFAULT, api=None):
    r = (api or stack.api)("POST", "/exports", key=key, json=body)
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["Location"].endswith("/exports/" + job["id"]), r.headers
    assert job["status"] in ("pending", "processing", "complete"), job
    return job


def download(stack, job, key=S.DEFAULT, api=None, **kw):
    r = (api or stack.api)("GET", "/exports/%s/download" % job["id"], key=key, **kw)
    assert r.status_code == 200, (r.status_code, r.headers, r.text[:500])
    return r


def content_disposition(job):
    """attachment; filename="<type>-<YYYYMMDD of created_at, UTC>.<ext>" """
    return 'attachment; filename="%s-%s.%s"' % (
        job["type"], job["created_at"][:10].replace("-", ""), job["format"])


def db_count(stack, type_, workspace="acme"):
    reg = registry(stack, type_)
    return stack.pg.query("SELECT count(*) FROM %s.%s AS _t WHERE _t.%s = %%s%s" % (
        qi(reg["schema"]), qi(reg["relation"]), qi(reg["ws"]), live(reg)), (workspace,))[0][0]


def wait_all(stack, jobs, key=S.DEFAULT, timeout=60):
    done = {}
    for name, job in jobs.items():
        done[name] = stack.wait_for_job(job["id"], timeout=timeout, key=key)
        assert done[name]["status"] == "complete", done[name]
    return done


# Every export the module needs, created at once so that the workers run
# them side by side: name -> (job, downloaded bytes).
@pytest.fixture(scope="module")
def exports(stack):
    specs = {}
    for t in TYPES:
        specs[(t, "csv")] = {"type": t, "format": "csv"}
        specs[(t, "jsonl")] = {"type": t, "format": "jsonl"}
    for t, cols in SUBSETS.items():
        specs[(t, "csv", "subset")] = {"type": t, "format": "csv", "columns": cols}
    jobs = {name: create(stack, body) for name, body in specs.items()}
    gjob = create(stack, {"type": "contacts"}, key=stack.key_globex)
    done = wait_all(stack, jobs)
    done[("contacts", "csv", "globex")] = wait_all(
        stack, {"g": gjob}, key=stack.key_globex)["g"]
    out = {}
    for name, job in done.items():
        key = stack.key_globex if "globex" in name else S.DEFAULT
        out[name] = (job, download(stack, job, key=key).content)
    return out


# ------------------------------------------------------- (a), (b) CSV

@pytest.mark.parametrize("type_", TYPES)
def test_csv_is_byte_identical_to_copy(stack, exports, tmp_path, type_):
    job, got = exports[(type_, "csv")]
    want = psql_copy_csv(stack, reference_select(stack, type_), tmp_path / "ref.csv")
    assert want.count(b"\n") > 1900  # the reference is not trivially empty
    assert b"\r\n" not in got.split(b"\n", 1)[0] + b"\n", "header line ends in CRLF"
    assert_same_bytes(got, want, "%s CSV export" % type_)
    assert job["columns"] is None, job


@pytest.mark.parametrize("type_", sorted(SUBSETS))
def test_csv_column_subset_in_requested_order(stack, exports, tmp_path, type_):
    job, got = exports[(type_, "csv", "subset")]
    assert job["columns"] == SUBSETS[type_], job
    assert got.split(b"\n", 1)[0].decode() == ",".join(SUBSETS[type_])
    want = psql_copy_csv(stack, reference_select(stack, type_, SUBSETS[type_]),
                         tmp_path / "ref.csv")
    assert_same_bytes(got, want, "%s CSV export of %s" % (type_, SUBSETS[type_]))


def test_globex_csv_is_byte_identical_to_copy(stack, exports, tmp_path):
    job, got = exports[("contacts", "csv", "globex")]
    want = psql_copy_csv(stack, reference_select(stack, "contacts", workspace="globex"),
                         tmp_path / "ref.csv")
    assert_same_bytes(got, want, "globex contacts CSV export")


# ------------------------------------------------------------ (c) JSONL

NUMERIC = ("smallint", "integer", "bigint", "numeric", "real", "double precision", "oid")


def jsonl_expected_rows(stack, type_):
    """(columns, sql types, rows): every acme row in key order, each value as
    PostgreSQL prints it (the type's output function), timestamps as
    to_json prints them, NULL as None. check_value() maps them to JSON."""
    reg = registry(stack, type_)
    types = column_types(stack, reg)
    cols = reg["columns"]
    exprs = [("to_json(_t.%s) #>> '{}'" if is_timestamp(types[c]) else "_t.%s") % qi(c)
             for c in cols]
    sql = "SELECT %s FROM %s.%s AS _t WHERE _t.%s = 'acme'%s ORDER BY _t.%s" % (
        ", ".join(exprs), qi(reg["schema"]), qi(reg["relation"]), qi(reg["ws"]),
        live(reg), qi(reg["key"]))
    conn = stack.pg.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'")
            cur.execute(sql + " LIMIT 0")
            oids = tuple({d.type_code for d in cur.description})
            # no conversion by psycopg2: the server's text, as exportd gets it
            raw = psycopg2.extensions.new_type(oids, "RAW_TEXT", lambda v, c: v)
            psycopg2.extensions.register_type(raw, cur)
            cur.execute(sql)
            rows = cur.fetchall()
    finally:
        conn.close()
    return cols, [types[c] for c in cols], rows


def check_value(col, sqltype, want, got, where):
    msg = "%s column %s (%s): exported %r, database has %r" % (where, col, sqltype, got, want)
    if want is None:
        assert got is None, msg
    elif sqltype.split("(")[0] in NUMERIC:
        if want in ("NaN", "Infinity", "-Infinity"):
            assert got == want, msg  # not a JSON number: a string
        else:
            assert isinstance(got, (int, Decimal)) and not isinstance(got, bool), msg
            assert Decimal(str(got)) == Decimal(want), msg
    elif sqltype == "boolean":
        assert got is {"t": True, "f": False}[want], msg
    elif sqltype in ("json", "jsonb"):
        # embedded as JSON (not a string holding it), true stays true, not 1
        assert same_json(got, json.loads(want, parse_float=Decimal)), msg
    else:
        assert isinstance(got, str) and got == want, msg


def same_json(a, b):
    """Equal JSON values, numbers compared as decimals, bool never a number."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, Decimal)) and isinstance(b, (int, Decimal)):
        return Decimal(a) == Decimal(b)
    if isinstance(a, dict):
        return (isinstance(b, dict) and a.keys() == b.keys()
                and all(same_json(a[k], b[k]) for k in a))
    if isinstance(a, list):
        return (isinstance(b, list) and len(a) == len(b)
                and all(same_json(x, y) for x, y in zip(a, b)))
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("type_", TYPES)
def test_jsonl_parses_back_to_the_rows(stack, exports, type_):
    job, data = exports[(type_, "jsonl")]
    cols, types, rows = jsonl_expected_rows(stack, type_)
    assert data.endswith(b"\n"), data[-100:]
    lines = data[:-1].split(b"\n")
    assert len(lines) == len(rows) == job["row_count"], (len(lines), len(rows), job)
    for n, (line, row) in enumerate(zip(lines, rows), 1):
        obj = json.loads(line.decode("utf-8"), parse_float=Decimal)
        # dicts keep the order of the line (a repeated key would shorten it)
        assert list(obj) == cols, "line %d keys: %r" % (n, list(obj))
        for col, sqltype, want in zip(cols, types, row):
            check_value(col, sqltype, want, obj[col], "%s line %d" % (type_, n))


# --------------------------------------------------- (d) tenant isolation

def test_acme_export_holds_exactly_acme_rows(stack, exports):
    job, data = exports[("contacts", "csv")]
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    header, body = rows[0], rows[1:]
    ids = [int(r[header.index("id")]) for r in body]
    want = [r[0] for r in stack.pg.query(
        "SELECT id FROM contacts WHERE workspace = 'acme' AND deleted_at IS NULL ORDER BY id")]
    globex = {r[0] for r in stack.pg.query(
        "SELECT id FROM contacts WHERE workspace = 'globex'")}
    assert ids == want
    assert not set(ids) & globex
    assert job["row_count"] == len(want)


def test_globex_cannot_see_or_download_acme_job(stack, exports):
    job, _ = exports[("contacts", "csv")]
    for suffix in ("", "/download"):
        theirs = stack.api("GET", "/exports/%s%s" % (job["id"], suffix), key=stack.key_globex)
        nobody = stack.api("GET", "/exports/%s%s" % (uuid.uuid4(), suffix),
                           key=stack.key_globex)
        assert theirs.status_code == 404, (theirs.status_code, theirs.text[:300])
        assert "X-Sendfile" not in theirs.headers and len(theirs.content) < 1000
        a, b = theirs.json(), nobody.json()
        a.pop("instance"), b.pop("instance")
        assert a == b
    listed = stack.api("GET", "/exports?limit=100", key=stack.key_globex).json()
    assert job["id"] not in {j["id"] for j in listed["data"]}


# ------------------------------------------------ (e) job inserted by SQL

def test_job_inserted_by_sql_completes(stack):
    job_id = str(stack.pg.query(
        "INSERT INTO export_jobs (workspace, type, format) VALUES ('acme', 'invoices', 'jsonl')"
        " RETURNING id")[0][0])
    job = stack.wait_for_job(job_id, timeout=30)
    assert job["status"] == "complete", job
    assert job["format"] == "jsonl" and job["type"] == "invoices"
    assert job["row_count"] == db_count(stack, "invoices")
    data = download(stack, job).content
    assert data.count(b"\n") == job["row_count"] and len(data) == job["file_size"]
    # not visible to another workspace
    assert stack.api("GET", "/exports/" + job_id, key=stack.key_globex).status_code == 404


# ------------------------------------------------------- (f) downloads

@pytest.mark.parametrize("name, ctype", [
    (("contacts", "csv"), "text/csv"),
    (("events", "jsonl"), "application/x-ndjson"),
])
def test_download_headers_range_and_head_through_lighttpd(stack, exports, name, ctype):
    job, full = exports[name]
    path = "/exports/%s/download" % job["id"]
    r = download(stack, job)
    assert r.content == full
    assert r.headers["Content-Type"].split(";")[0].strip() == ctype, r.headers
    assert r.headers["Content-Disposition"] == content_disposition(job), r.headers
    assert int(r.headers["Content-Length"]) == len(full) == job["file_size"]
    assert "X-Sendfile" not in r.headers  # the web server consumed it

    size = len(full)
    r = stack.api("GET", path, headers={"Range": "bytes=0-9"})
    assert r.status_code == 206 and r.content == full[:10], (r.status_code, r.headers)
    assert r.headers["Content-Range"] == "bytes 0-9/%d" % size
    r = stack.api("GET", path, headers={"Range": "bytes=-10"})
    assert r.status_code == 206 and r.content == full[-10:], (r.status_code, r.headers)
    assert r.headers["Content-Range"] == "bytes %d-%d/%d" % (size - 10, size - 1, size)
    r = stack.api("GET", path, headers={"Range": "bytes=%d-" % (size - 5)})
    assert r.status_code == 206 and r.content == full[-5:], r.status_code
    for beyond in (size, size + 1000):
        r = stack.api("GET", path, headers={"Range": "bytes=%d-" % beyond})
        assert r.status_code == 416, (beyond, r.status_code, r.headers)
        assert full[:50] not in r.content

    h = stack.api("HEAD", path)
    assert h.status_code == 200, h.headers
    assert h.content == b""
    assert int(h.headers["Content-Length"]) == size, h.headers
    assert h.headers["Content-Disposition"] == content_disposition(job)
    # a download does not change the job
    assert stack.api("GET", "/exports/" + job["id"]).json()["status"] == "complete"


@pytest.mark.parametrize("name", [("contacts", "csv"), ("events", "jsonl")])
def test_download_through_apache_is_identical(stack, apache, exports, name):
    job, full = exports[name]
    r = download(stack, job, api=apache.api)
    assert r.content == full, "Apache sent %d bytes, lighttpd %d" % (len(r.content), len(full))
    assert r.headers["Content-Disposition"] == content_disposition(job)
    assert r.headers["Content-Type"].split(";")[0] in ("text/csv", "application/x-ndjson")
    assert "X-Sendfile" not in r.headers
    r = apache.api("GET", "/exports/%s/download" % job["id"], headers={"Range": "bytes=0-9"})
    assert r.status_code == 206 and r.content == full[:10], (r.status_code, r.headers)
    r = apache.api("GET", "/exports/%s/download" % job["id"], key=stack.key_globex)
    assert r.status_code == 404, r.status_code


# ---------------------------------------------------- (g) progress fields

def _ts(s):
    assert isinstance(s, str) and RFC3339_Z.match(s), "not RFC 3339 with Z: %r" % (s,)
    return datetime.strptime(s.replace("Z", "+0000"),
                             "%Y-%m-%dT%H:%M:%S.%f%z" if "." in s else "%Y-%m-%dT%H:%M:%S%z")


@pytest.mark.parametrize("name", [("contacts", "csv"), ("invoices", "jsonl"),
                                  ("events", "csv", "subset")])
def test_complete_job_fields(stack, exports, name):
    job, data = exports[name]
    fresh = stack.api("GET", "/exports/" + job["id"]).json()
    assert fresh == job, "a complete job changed: %s\n%s" % (job, fresh)
    rows = db_count(stack, name[0])
    assert job["status"] == "complete" and job["error"] is None, job
    assert job["row_count"] == rows, job
    assert job["file_size"] == len(data), job
    p = job["progress"]
    assert p["percent"] == 100, p
    assert p["rows_done"] == rows and p["bytes_done"] == len(data), p
    assert isinstance(p["rows_estimated"], int) and p["rows_estimated"] > 0, p
    assert job["attempts"] == 1 and job["cancel_requested"] is False, job
    assert job["compression"] == "none"
    created, started = _ts(job["created_at"]), _ts(job["started_at"])
    completed, expires = _ts(job["completed_at"]), _ts(job["expires_at"])
    assert created <= started <= completed < expires, job
    db_created = stack.pg.query("SELECT created_at FROM export_jobs WHERE id = %s",
                                (job["id"],))[0][0]
    assert abs((db_created.astimezone(timezone.utc) - created).total_seconds()) < 1e-3
    assert job["links"] == {"self": "/exports/" + job["id"],
                            "download": "/exports/%s/download" % job["id"]}


# ------------------------------------------------ (h) permanent failures

def _ghost_type(stack, relation):
    name = "ghost_" + uuid.uuid4().hex[:10]
    stack.pg.query("INSERT INTO export_types (name, relation, key_column, workspace_column,"
                   " columns) VALUES (%s, %s, 'id', 'workspace', '{id,label}')",
                   (name, relation))
    return name


def _assert_permanent_failure(stack, job_id, relation):
    job = stack.wait_for_job(job_id, timeout=30)
    assert job["status"] == "failed", job
    assert job["attempts"] == 1, job
    err = job["error"]
    assert err and err["code"] and relation in err["message"], job
    assert job["completed_at"] is not None and job["row_count"] is None, job
    history, run_at_future = stack.pg.query(
        "SELECT errors, run_at > now() FROM export_jobs WHERE id = %s", (job_id,))[0]
    assert len(history) == 1 and history[0]["retry"] is False, history
    r = stack.api("GET", "/exports/%s/download" % job_id)
    assert r.status_code == 409, (r.status_code, r.text[:300])
    assert not run_at_future


def test_missing_relation_fails_at_once(stack):
    relation = "no_such_relation_" + uuid.uuid4().hex[:8]
    type_ = _ghost_type(stack, relation)
    job = create(stack, {"type": type_, "format": "csv"})
    _assert_permanent_failure(stack, job["id"], relation)


def test_relation_dropped_before_pickup_fails_at_once(stack):
    relation = "doomed_" + uuid.uuid4().hex[:8]
    stack.pg.query("CREATE TABLE %s (id bigint PRIMARY KEY, workspace text, label text)"
                   % qi(relation))
    stack.pg.query("INSERT INTO %s VALUES (1, 'acme', 'x')" % qi(relation))
    type_ = _ghost_type(stack, relation)
    job_id = str(stack.pg.query(
        "INSERT INTO export_jobs (workspace, type, format, run_at)"
        " VALUES ('acme', %s, 'jsonl', now() + interval '1 second') RETURNING id",
        (type_,))[0][0])
    stack.pg.query("DROP TABLE %s" % qi(relation))
    assert stack.api("GET", "/exports/" + job_id).json()["status"] == "pending"
    _assert_permanent_failure(stack, job_id, relation)
