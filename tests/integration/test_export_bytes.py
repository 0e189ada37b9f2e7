"""The bytes of an export (README "Files"), made by the session's exportd:
CSV byte-identical to what PostgreSQL itself produces for the same rows,
JSONL that parses back to the rows, only the workspace's rows; a type whose
relation is missing fails at once.

The reference for CSV is `psql \\copy (SELECT ...) TO file CSV HEADER` with
PGTZ=UTC and PGDATESTYLE=ISO, timestamps rendered as to_json prints them
(helpers.reference_select); the stack writes export.csv_line_ending = lf.
Options (gzip, filters, as-of, CSV options, limits) are in
test_export_options.py, which runs daemons of its own.
"""

import csv
import io
import json
import uuid
from decimal import Decimal

import psycopg2.extensions
import pytest

import helpers as H


# ---------------------------------------------------------------- CSV

@pytest.mark.parametrize("type_", H.EXPORT_TYPES)
def test_csv_is_byte_identical_to_copy(stack, exports, tmp_path, type_):
    job, got = exports[(type_, "csv")]
    want = H.psql_copy_csv(stack.pg, H.reference_select(stack.pg, type_), tmp_path / "ref.csv")
    assert want.count(b"\n") > 1900  # the reference is not trivially empty
    assert b"\r\n" not in got.split(b"\n", 1)[0] + b"\n", "header line ends in CRLF"
    H.assert_same_bytes(got, want, "%s CSV export" % type_)
    assert job["columns"] is None, job


@pytest.mark.parametrize("type_", sorted(H.EXPORT_SUBSETS))
def test_csv_column_subset_in_requested_order(stack, exports, tmp_path, type_):
    job, got = exports[(type_, "csv", "subset")]
    assert job["columns"] == H.EXPORT_SUBSETS[type_], job
    assert got.split(b"\n", 1)[0].decode() == ",".join(H.EXPORT_SUBSETS[type_])
    select = H.reference_select(stack.pg, type_, columns=H.EXPORT_SUBSETS[type_])
    want = H.psql_copy_csv(stack.pg, select, tmp_path / "ref.csv")
    H.assert_same_bytes(got, want, "%s CSV export of %s" % (type_, H.EXPORT_SUBSETS[type_]))


def test_globex_csv_is_byte_identical_to_copy(stack, exports, tmp_path):
    job, got = exports[("contacts", "csv", "globex")]
    want = H.psql_copy_csv(stack.pg, H.reference_select(stack.pg, "contacts", workspace="globex"),
                           tmp_path / "ref.csv")
    H.assert_same_bytes(got, want, "globex contacts CSV export")


# -------------------------------------------------------------- JSONL

NUMERIC = ("smallint", "integer", "bigint", "numeric", "real", "double precision", "oid")


def jsonl_expected_rows(stack, type_):
    """(columns, sql types, rows): every acme row in key order, each value as
    PostgreSQL prints it (the type's output function), timestamps as
    to_json prints them, NULL as None. check_value() maps them to JSON."""
    reg = H.registry(stack.pg, type_)
    types = H.column_types(stack.pg, reg["schema"], reg["relation"])
    cols = reg["columns"]
    exprs = [("to_json(_t.%s) #>> '{}'" if H.is_timestamp(types[c]) else "_t.%s") % H.qi(c)
             for c in cols]
    sql = "SELECT %s FROM %s.%s AS _t WHERE _t.%s = 'acme'%s ORDER BY _t.%s" % (
        ", ".join(exprs), H.qi(reg["schema"]), H.qi(reg["relation"]), H.qi(reg["ws"]),
        H.live(reg), H.qi(reg["key"]))
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


@pytest.mark.parametrize("type_", H.EXPORT_TYPES)
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


# --------------------------------------------------- tenant isolation

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


# ------------------------------------------------- permanent failures

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
    job = H.create(stack, {"type": type_, "format": "csv"})
    _assert_permanent_failure(stack, job["id"], relation)


def test_relation_dropped_before_pickup_fails_at_once(stack):
    relation = "doomed_" + uuid.uuid4().hex[:8]
    stack.pg.query("CREATE TABLE %s (id bigint PRIMARY KEY, workspace text, label text)"
                   % H.qi(relation))
    stack.pg.query("INSERT INTO %s VALUES (1, 'acme', 'x')" % H.qi(relation))
    type_ = _ghost_type(stack, relation)
    job_id = str(stack.pg.query(
        "INSERT INTO export_jobs (workspace, type, format, run_at)"
        " VALUES ('acme', %s, 'jsonl', now() + interval '1 second') RETURNING id",
        (type_,))[0][0])
    stack.pg.query("DROP TABLE %s" % H.qi(relation))
    assert stack.api("GET", "/exports/" + job_id).json()["status"] == "pending"
    _assert_permanent_failure(stack, job_id, relation)
