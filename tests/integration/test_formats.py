"""Output options of POST /exports (README "Creating an export"):
csv.delimiter, timezone, header labels and zstd, each read back by what its
users open it with: Python's csv module and pandas with the delimiter,
PostgreSQL's COPY FROM with DELIMITER, timestamps compared as instants and
offsets against the zone database, the `zstd` command line.  Bad values are 400 naming the
field; plain-SQL jobs with bad values are refused by the table.

Exports are made by the session's exportd through the API.  The kill -9
resume of a zstd export is in test_export_options.py, next to gzip's (it
needs that module's own throttled daemon).

References are `psql \\copy (helpers.reference_select) TO file CSV HEADER`
with the same DELIMITER and PGTZ as the job.
"""

import csv
import io
import json
import subprocess
from datetime import datetime
from zoneinfo import ZoneInfo

import psycopg2
import pytest

import helpers as H
import stack as S

LABELED = "fmt_labeled"   # a copy of contacts' registry row, with labels
LABELS = {"created_at": "Created At", "email": "E-mail; \"work\"", "first_name": "First name"}


@pytest.fixture(scope="module")
def labeled_type(stack):
    stack.pg.query(
        "INSERT INTO export_types (name, relation, key_column, workspace_column, columns,"
        " filterable_columns, created_at_column, deleted_at_column, column_labels)"
        " SELECT %s, relation, key_column, workspace_column, columns, filterable_columns,"
        " created_at_column, deleted_at_column, %s FROM export_types WHERE name = 'contacts'"
        " ON CONFLICT (name) DO UPDATE SET column_labels = EXCLUDED.column_labels",
        (LABELED, json.dumps(LABELS)))
    stack.pg.expose(LABELED)
    return LABELED


def export(stack, body):
    """Create, wait for completion, download: (job, bytes)."""
    job = H.create(stack, dict(body))
    job = stack.wait_for_job(job["id"])
    assert job["status"] == "complete", job
    return job, H.download(stack, job).content


def reference(stack, tmp_path, name, delimiter=",", tz="UTC", columns=None):
    """psql \\copy of the acme contacts with DELIMITER and PGTZ: the bytes."""
    select = H.reference_select(stack.pg, "contacts", columns=columns)
    path = tmp_path / ("ref-%s.csv" % name)
    delim = "E'\\t'" if delimiter == "\t" else "'%s'" % delimiter
    argv = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", stack.pg.conninfo, "-c",
            "\\copy (%s) TO '%s' CSV HEADER DELIMITER %s" % (select, path, delim)]
    p = subprocess.run(argv, env=S.clean_env(PGTZ=tz, PGDATESTYLE="ISO"), capture_output=True,
                       text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    return path.read_bytes()


def records(data, delimiter=","):
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=delimiter))


# ------------------------------------------------------------ csv.delimiter

@pytest.mark.parametrize("delimiter", [";", "\t", "|"], ids=["semicolon", "tab", "pipe"])
def test_delimiter_round_trips(stack, tmp_path, delimiter):
    job, got = export(stack, {"type": "contacts", "csv": {"delimiter": delimiter}})
    assert job["csv"]["delimiter"] == delimiter, job
    assert not got.startswith(b"sep="), got[:40]
    # byte for byte what COPY writes with that DELIMITER (quoting follows it)
    want = reference(stack, tmp_path, "d", delimiter=delimiter)
    H.assert_same_bytes(got, want, "CSV export with delimiter %r" % delimiter)
    # Python's csv module with the delimiter reads the comma export's values
    _, plain = export(stack, {"type": "contacts"})
    assert records(got, delimiter) == records(plain), "values differ from the ',' export"
    assert len(records(got, delimiter)) > 1900


def test_delimiter_semicolon_loads_with_copy_from(stack):
    """PostgreSQL's own COPY FROM ... (DELIMITER ';') loads the file into the
    same rows (NULL and '' told apart) as the ',' export loads with ','."""
    _, semi = export(stack, {"type": "contacts", "csv": {"delimiter": ";"}})
    _, comma = export(stack, {"type": "contacts"})
    assert b";" in semi.split(b"\n", 1)[0] and b"," not in semi.split(b"\n", 1)[0]
    ncols = len(records(comma)[0])
    cols = ", ".join("c%d text" % i for i in range(ncols))
    conn = stack.pg.connect(autocommit=False)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE fmt_semi (%s); CREATE TEMP TABLE fmt_comma (%s)"
                        % (cols, cols))
            cur.copy_expert("COPY fmt_semi FROM STDIN (FORMAT csv, HEADER, DELIMITER ';')",
                            io.BytesIO(semi))
            cur.copy_expert("COPY fmt_comma FROM STDIN (FORMAT csv, HEADER)", io.BytesIO(comma))
            cur.execute("SELECT (SELECT count(*) FROM fmt_semi), (SELECT count(*) FROM"
                        " (SELECT * FROM fmt_semi EXCEPT ALL SELECT * FROM fmt_comma) d),"
                        " (SELECT count(*) FROM (SELECT * FROM fmt_comma EXCEPT ALL"
                        " SELECT * FROM fmt_semi) d),"
                        " (SELECT count(*) FROM fmt_semi WHERE NOT (fmt_semi IS NOT NULL))")
            n, extra, missing, with_nulls = cur.fetchone()
    finally:
        conn.rollback()
        conn.close()
    assert n == len(records(comma)) - 1 and extra == 0 and missing == 0, (n, extra, missing)
    assert with_nulls > 0  # the dataset has NULLs: they survived as NULLs


# ------------------------------------------------------------ timezone

def timestamps(recs, names):
    """{column: [value, ...]} of the timestamp columns."""
    head = recs[0]
    return {c: [r[head.index(c)] for r in recs[1:]] for c in names}


def same_instant(local, utc, zone):
    """local (the zoned export's text) is the instant of utc (the UTC
    export's), with zone's offset at that instant."""
    if local == utc == "" or local == utc and "infinity" in utc:
        return True
    a = datetime.fromisoformat(local)
    b = datetime.fromisoformat(utc)
    return a == b and a.utcoffset() == b.astimezone(ZoneInfo(zone)).utcoffset()


@pytest.mark.parametrize("zone", ["Europe/Paris", "America/New_York", "Asia/Kolkata"])
def test_timezone_csv(stack, tmp_path, zone):
    job, got = export(stack, {"type": "contacts", "timezone": zone})
    assert job["timezone"] == zone, job
    want = reference(stack, tmp_path, "tz", tz=zone)
    H.assert_same_bytes(got, want, "CSV export in %s" % zone)
    _, utc = export(stack, {"type": "contacts"})
    zoned, plain = timestamps(records(got), ["created_at", "updated_at"]), \
        timestamps(records(utc), ["created_at", "updated_at"])
    offsets = set()
    for c in zoned:
        for a, b in zip(zoned[c], plain[c]):
            assert same_instant(a, b, zone), (c, a, b)
            if a and "infinity" not in a:
                offsets.add(a[-6:])
    if zone == "Asia/Kolkata":
        assert offsets == {"+05:30"}, offsets
    else:  # a DST zone: both offsets occur in two years of rows
        std, dst = {"Europe/Paris": ("+01:00", "+02:00"),
                    "America/New_York": ("-05:00", "-04:00")}[zone]
        assert {std, dst} <= offsets, offsets


def test_timezone_jsonl(stack):
    zone = "Europe/Paris"
    job, got = export(stack, {"type": "contacts", "format": "jsonl", "timezone": zone})
    assert job["timezone"] == zone and job["csv"] is None, job
    _, utc = export(stack, {"type": "contacts", "format": "jsonl"})
    a = [json.loads(l) for l in got.decode("utf-8").split("\n")[:-1]]
    b = [json.loads(l) for l in utc.decode("utf-8").split("\n")[:-1]]
    assert len(a) == len(b) > 1900
    seen = set()
    for x, y in zip(a, b):
        assert x["id"] == y["id"]
        for c in ("created_at", "updated_at"):
            assert same_instant(x[c] or "", y[c] or "", zone), (c, x[c], y[c])
            if x[c]:
                seen.add(x[c][-6:])
        assert {k: v for k, v in x.items() if k not in ("created_at", "updated_at",
                                                        "deleted_at")} == \
            {k: v for k, v in y.items() if k not in ("created_at", "updated_at", "deleted_at")}
    assert {"+01:00", "+02:00"} <= seen, seen


# ------------------------------------------------------------ header

def test_header_labels(stack, labeled_type):
    job, got = export(stack, {"type": labeled_type, "header": "labels",
                              "csv": {"delimiter": ";"}})
    assert job["header"] == "labels", job
    _, names = export(stack, {"type": labeled_type})
    head, name_head = records(got, ";")[0], records(names)[0]
    assert head == [LABELS.get(c, c) for c in name_head], head
    # a label holding the delimiter and quotes is quoted as a field is
    assert b'"E-mail; ""work"""' in got.split(b"\n", 1)[0]
    assert records(got, ";")[1:] == records(names)[1:]


def test_header_labels_of_a_column_subset(stack, labeled_type):
    cols = ["id", "email", "country"]
    _, got = export(stack, {"type": labeled_type, "header": "labels", "columns": cols})
    assert records(got)[0] == ["id", LABELS["email"], "country"]


# ------------------------------------------------------------ zstd

def zstd(*args, data=None):
    p = subprocess.run(["zstd"] + list(args), input=data, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_zstd_round_trips(stack, fmt):
    job, got = export(stack, {"type": "contacts", "format": fmt, "compression": "zstd"})
    assert job["compression"] == "zstd", job
    assert got[:4] == b"\x28\xb5\x2f\xfd", "not a zstd frame: %r" % got[:8]
    zstd("-t", "-q", data=got)
    _, plain = export(stack, {"type": "contacts", "format": fmt})
    H.assert_same_bytes(zstd("-dc", data=got), plain, "zstd -dc of the %s export" % fmt)
    r = H.download(stack, job)
    assert r.headers["Content-Type"] == "application/zstd", r.headers
    assert r.headers["Content-Disposition"] == H.content_disposition(job)[:-1] + '.zst"', \
        r.headers
    file_key = H.row(stack, job["id"], "file_key")[0]
    assert file_key == "%s.%s.zst" % (job["id"], fmt)
    assert H.sha256_bytes(got) == job["checksum"]["sha256"]


# ------------------------------------------------------------ bad values

BAD = [
    pytest.param({"csv": {"delimiter": ":"}}, "csv/delimiter", id="delimiter-colon"),
    pytest.param({"csv": {"delimiter": ",;"}}, "csv/delimiter", id="delimiter-two"),
    pytest.param({"csv": {"delimiter": ""}}, "csv/delimiter", id="delimiter-empty"),
    pytest.param({"csv": {"delimiter": "\""}}, "csv/delimiter", id="delimiter-quote"),
    pytest.param({"csv": {"delimiter": 59}}, "csv/delimiter", id="delimiter-number"),
    pytest.param({"timezone": "Mars/Olympus_Mons"}, "timezone", id="timezone-unknown"),
    pytest.param({"timezone": "UTC+5"}, "timezone", id="timezone-posix"),
    pytest.param({"timezone": "europe/paris"}, "timezone", id="timezone-case"),
    pytest.param({"timezone": ""}, "timezone", id="timezone-empty"),
    pytest.param({"timezone": 1}, "timezone", id="timezone-number"),
    pytest.param({"header": "title"}, "header", id="header-unknown"),
    pytest.param({"header": True}, "header", id="header-bool"),
    pytest.param({"format": "jsonl", "header": "labels"}, "header", id="header-labels-jsonl"),
    pytest.param({"compression": "zst"}, "compression", id="compression-zst"),
    pytest.param({"compression": "ZSTD"}, "compression", id="compression-uppercase"),
]


@pytest.mark.parametrize("extra, field", BAD)
def test_bad_value_is_400_naming_the_field(stack, extra, field):
    body = {"type": "contacts"}
    body.update(extra)
    r = H.assert_writes_nothing(stack, lambda: H.post(stack, body))
    H.field_problem(r, field)


def test_options_are_stored_and_echoed(stack):
    job = H.create(stack, {"type": "contacts", "compression": "zstd", "timezone": "Asia/Tokyo",
                           "header": "labels", "csv": {"delimiter": "|", "bom": True}})
    assert job["csv"] == {"bom": True, "formula_guard": False, "delimiter": "|"}, job
    assert (job["timezone"], job["header"], job["compression"]) == \
        ("Asia/Tokyo", "labels", "zstd")
    got = stack.api("GET", "/exports/" + job["id"]).json()
    for k in ("csv", "timezone", "header", "compression"):
        assert got[k] == job[k], k
    stored = H.row(stack, job["id"], "csv_delimiter, timezone, header, compression")
    assert tuple(stored) == ("|", "Asia/Tokyo", "labels", "zstd")


# ------------------------------------------------------------ plain SQL

PLAIN_BAD = [
    pytest.param({"csv_delimiter": ":"}, "23514", id="delimiter"),
    pytest.param({"timezone": "Mars/Olympus_Mons"}, "22023", id="timezone-unknown"),
    pytest.param({"timezone": "UTC+5"}, "22023", id="timezone-posix"),
    pytest.param({"header": "title"}, "23514", id="header"),
    pytest.param({"compression": "lz4"}, "23514", id="compression"),
    pytest.param({"format": "jsonl", "csv_delimiter": ";"}, "23514", id="delimiter-jsonl"),
    pytest.param({"format": "jsonl", "header": "labels"}, "23514", id="labels-jsonl"),
]


def plain_insert(stack, cols):
    values = {"workspace": "acme", "type": "contacts"}
    values.update(cols)
    conn = stack.pg.connect(autocommit=False)
    try:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO export_jobs (%s) VALUES (%s) RETURNING id"
                        % (", ".join(values), ", ".join(["%s"] * len(values))),
                        list(values.values()))
            return cur.fetchone()[0]
    finally:
        conn.rollback()  # nothing is left behind, accepted or not
        conn.close()


@pytest.mark.parametrize("cols, state", PLAIN_BAD)
def test_plain_sql_job_with_bad_value_is_refused(stack, cols, state):
    with pytest.raises(psycopg2.Error) as e:
        plain_insert(stack, cols)
    assert e.value.pgcode == state, (e.value.pgcode, str(e.value))


def test_plain_sql_job_with_good_values_is_accepted(stack):
    assert plain_insert(stack, {"csv_delimiter": "\t", "timezone": "America/Sao_Paulo",
                                "header": "labels", "compression": "zstd"})
    conn = stack.pg.connect()
    try:
        with conn.cursor() as cur, pytest.raises(psycopg2.Error) as e:
            # an UPDATE is held to the same list
            cur.execute("UPDATE export_jobs SET timezone = 'Nowhere/Land' WHERE id ="
                        " (SELECT id FROM export_jobs ORDER BY created_at DESC LIMIT 1)")
    finally:
        conn.close()
    assert e.value.pgcode == "22023"


# ------------------------------------------------ the zone moves only values

NAIVE, NAIVE_VIEW = "fmt_naive", "fmt_naive_contacts"


def test_timezone_keeps_filters_and_as_of_on_a_timestamp_column(stack):
    """A type whose created-at column is a timestamp without time zone (read
    as UTC): with a job zone far from UTC the same rows are exported (the
    created_from/created_to filters and the as-of bound are not moved by
    the zone), and only timestamptz values change."""
    stack.pg.query(
        "CREATE OR REPLACE VIEW %s AS SELECT id, workspace, email,"
        " (created_at AT TIME ZONE 'UTC') AS created_naive, created_at, deleted_at"
        " FROM contacts" % NAIVE_VIEW)
    stack.pg.query(
        "INSERT INTO export_types (name, relation, key_column, workspace_column, columns,"
        " created_at_column, deleted_at_column) VALUES (%s, %s, 'id', 'workspace',"
        " '{id,email,created_naive,created_at}', 'created_naive', 'deleted_at')"
        " ON CONFLICT (name) DO NOTHING", (NAIVE, NAIVE_VIEW))
    stack.pg.expose(NAIVE)
    # bounds a few hours off midnight: a zone shift of 5:30 or 10 hours
    # would move rows in or out
    lo, hi = stack.pg.query(
        "SELECT to_char((min(created_at) + (max(created_at) - min(created_at)) / 3)"
        " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        " to_char((min(created_at) + (max(created_at) - min(created_at)) * 2 / 3)"
        " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
        " FROM contacts WHERE workspace = 'acme' AND deleted_at IS NULL")[0]
    body = {"type": NAIVE, "filters": {"created_from": lo, "created_to": hi}}
    _, utc = export(stack, body)
    zoned = {}
    for zone in ("Asia/Kolkata", "Pacific/Honolulu"):
        job, zoned[zone] = export(stack, dict(body, timezone=zone))
        assert job["timezone"] == zone
    want = [r[0] for r in stack.pg.query(
        "SELECT id FROM contacts WHERE workspace = 'acme' AND deleted_at IS NULL"
        " AND created_at >= %s AND created_at < %s ORDER BY id", (lo, hi))]
    assert 100 < len(want) < 1900, len(want)
    for zone, data in zoned.items():
        got, plain = records(data), records(utc)
        assert [int(r[0]) for r in got[1:]] == want, zone
        for a, b in zip(got[1:], plain[1:]):
            assert a[:3] == b[:3], (zone, a, b)   # the timestamp column is unchanged
            assert same_instant(a[3], b[3], zone), (zone, a, b)


# ------------------------------------------------ what data teams open it with

def test_pandas_reads_semicolon_csv_in_a_time_zone(stack):
    """pandas (Debian's) reads a `;` CSV written in Europe/Paris: the same
    frame as the `,` UTC export, and its timestamps parse (with their
    offsets) to the same instants."""
    import pandas as pd  # Debian python3-pandas (scripts/install-deps)
    _, semi = export(stack, {"type": "contacts", "csv": {"delimiter": ";"},
                             "timezone": "Europe/Paris"})
    _, plain = export(stack, {"type": "contacts"})
    a = pd.read_csv(io.BytesIO(semi), sep=";", dtype=str, keep_default_na=False)
    b = pd.read_csv(io.BytesIO(plain), dtype=str, keep_default_na=False)
    assert list(a.columns) == list(b.columns) and len(a) == len(b) > 1900
    other = [c for c in b.columns if c not in ("created_at", "updated_at", "deleted_at")]
    pd.testing.assert_frame_equal(a[other], b[other])
    offsets = set()
    for c in ("created_at", "updated_at"):
        mask = b[c] != ""
        ta = pd.to_datetime(a[c][mask], utc=True)
        tb = pd.to_datetime(b[c][mask], utc=True)
        assert (ta == tb).all(), c
        offsets |= set(a[c][mask].str[-6:])
    assert {"+01:00", "+02:00"} <= offsets, offsets
