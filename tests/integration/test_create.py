"""POST /exports (README "HTTP API"): what a bad request gets (400 naming
every faulty field with its JSON pointer, 415) and writes (nothing), what
an accepted one stores (options, filters, the as-of bound), and jobs
inserted by plain SQL. Through lighttpd and, where cheap, Apache.

Tests that leave jobs behind use a workspace of their own, so the acme
workspace's limit of active jobs is never touched.
"""

import calendar
import json
import re
import time

import pytest

import helpers as H


# ------------------------------------------------- POST /exports: 400

LONG = "a" * 199


# (body, the field the answer must name; "" = the body as a whole)
BAD_BODIES = [
    pytest.param('{"type": "contacts"', "", id="malformed-json"),
    pytest.param("{'type': 'contacts'}", "", id="single-quotes"),
    pytest.param('{"type": "contacts",}', "", id="trailing-comma"),
    pytest.param("", "", id="empty-body"),
    pytest.param('[{"type": "contacts"}]', "", id="array"),
    pytest.param('"contacts"', "", id="string"),
    pytest.param("42", "", id="number"),
    pytest.param("null", "", id="null"),
    pytest.param('{"type": "contacts"} x', "", id="trailing-garbage"),
    pytest.param('{"type": "contacts"}{}', "", id="two-objects"),
    pytest.param('{"type": "contacts", "colums": ["id"]}', "colums", id="unknown-field"),
    pytest.param('{"type": "contacts", "a/b~c": 1}', "a/b~c", id="unknown-field-pointer-escape"),
    pytest.param('{"type": "contacts", "%s": 1}' % ("b" * 400), "b" * 400,
                 id="unknown-field-long-name"),
    pytest.param('{}', "type", id="missing-type"),
    pytest.param('{"type": 1}', "type", id="type-number"),
    pytest.param('{"type": null}', "type", id="type-null"),
    pytest.param('{"type": "contacts", "format": true}', "format", id="format-bool"),
    pytest.param('{"type": "contacts", "columns": "id"}', "columns", id="columns-string"),
    pytest.param('{"type": "contacts", "columns": ["id", 1]}', "columns", id="columns-number"),
    pytest.param('{"type": "contacts", "columns": [null, "id"]}', "columns",
                 id="columns-null-then-name"),
    pytest.param('{"type": "nosuchtype"}', "type", id="unknown-type"),
    pytest.param('{"type": "contacts", "format": "xml"}', "format", id="unknown-format"),
    pytest.param('{"type": "contacts", "format": "CSV"}', "format", id="format-uppercase"),
    pytest.param('{"type": "contacts", "columns": ["id", "nope"]}', "columns",
                 id="unknown-column"),
    pytest.param('{"type": "contacts", "columns": ["workspace"]}', "columns",
                 id="tenant-column-not-exportable"),
    pytest.param('{"type": "contacts", "columns": ["id", "email", "id"]}', "columns",
                 id="duplicate-column"),
    pytest.param('{"type": "contacts", "columns": []}', "columns", id="empty-columns"),
    # A NUL inside a string must not truncate it to a valid name.
    pytest.param('{"type": "contacts\\u0000junk"}', "type", id="type-with-nul"),
    pytest.param('{"type": "contacts", "columns": ["id\\u0000x"]}', "columns",
                 id="column-with-nul"),
    # Not UTF-8, so not JSON (RFC 8259): the body as a whole is at fault.
    pytest.param(b'{"type": "\xff\xfe"}', "", id="type-invalid-utf8"),
    # Not UTF-8, so not JSON; whatever the answer names, it must be UTF-8.
    pytest.param(b'{"\xff": 1, "type": "contacts"}', None, id="field-name-invalid-utf8"),
    pytest.param(b'{"type": "contacts", "columns": ["\xc3\xa9t\xe9"]}', None,
                 id="column-invalid-utf8"),
    # Valid UTF-8 whose echo in `detail` must not be cut inside a character.
    pytest.param('{"type": "contacts", "%s\u00e9\u00e9": 1}' % LONG, LONG + "\u00e9\u00e9",
                 id="long-unknown-field-multibyte"),
    pytest.param('{"type": "%s\u00e9\u00e9"}' % LONG, "type",
                 id="long-unknown-type-multibyte"),
]


@pytest.mark.parametrize("body, field", BAD_BODIES)
def test_bad_body_is_400_naming_the_field(front, stack, body, field):
    r = H.assert_writes_nothing(stack, lambda: H.post_raw(stack, front, body))
    H.field_problem(r, field)


def test_every_fault_is_listed(stack):
    r = H.assert_writes_nothing(stack, lambda: H.post_raw(stack, stack.api, json.dumps(
        {"type": "contacts", "format": "xml", "columns": ["id", "nope", "id"], "extra": 1})))
    body = H.problem(r, 400)
    fields = [e["field"] for e in body["errors"]]
    assert body.get("field") in fields, body  # `field` names one of the faults
    assert "format" in fields and "extra" in fields, body
    assert any(f.startswith("columns/") for f in fields), body
    assert len(body["errors"]) >= 4, body  # format, extra, unknown column, duplicate


# ------------------------------------------------- POST /exports: 415

@pytest.mark.parametrize("ctype", [None, "text/plain", "application/x-www-form-urlencoded",
                                   "application/jsonx", "multipart/form-data; boundary=x"])
def test_wrong_content_type_is_415(front, stack, ctype):
    r = H.assert_writes_nothing(stack, lambda: H.post_raw(
        stack, front, '{"type": "contacts"}', content_type=ctype))
    H.problem(r, 415)


def test_json_content_type_with_charset_is_accepted(stack):
    r = H.post_raw(stack, stack.api, '{"type": "contacts", "columns": ["id"]}',
                   content_type="application/json; charset=utf-8")
    assert r.status_code == 202, r.text


# ------------------------------------------------------- options: 400

BAD = [
    pytest.param({"compression": "zip"}, "compression", id="compression-zip"),
    pytest.param({"compression": True}, "compression", id="compression-bool"),
    pytest.param({"compression": "GZIP"}, "compression", id="compression-uppercase"),
    pytest.param({"filters": "country=FR"}, "filters", id="filters-string"),
    pytest.param({"filters": [{"country": "FR"}]}, "filters", id="filters-array"),
    pytest.param({"filters": {"nope": 1}}, "filters/nope", id="filter-unknown-column"),
    pytest.param({"filters": {"notes": "x"}}, "filters/notes", id="filter-not-filterable"),
    pytest.param({"filters": {"workspace": "globex"}}, "filters/workspace",
                 id="filter-tenant-column"),
    pytest.param({"filters": {"a/b~c": 1}}, "filters/a/b~c", id="filter-pointer-escape"),
    pytest.param({"filters": {"is_active": "maybe"}}, "filters/is_active",
                 id="filter-boolean-wrong-type"),
    pytest.param({"filters": {"country": ["FR", "DE"]}}, "filters/country",
                 id="filter-array-value"),
    pytest.param({"filters": {"country": {"eq": "FR"}}}, "filters/country",
                 id="filter-object-value"),
    pytest.param({"filters": {"country": "F\u0000R"}}, "filters/country",
                 id="filter-value-with-nul"),
    pytest.param({"filters": {"created_at": "not a time"}}, "filters/created_at",
                 id="filter-timestamptz-wrong-type"),
    pytest.param({"filters": {"created_from": "yesterday"}}, "filters/created_from",
                 id="created-from-word"),
    pytest.param({"filters": {"created_from": "2024-01-31"}}, "filters/created_from",
                 id="created-from-date-only"),
    pytest.param({"filters": {"created_from": "2024-01-31 00:00:00Z"}},
                 "filters/created_from", id="created-from-space"),
    pytest.param({"filters": {"created_from": "2024-02-30T00:00:00Z"}},
                 "filters/created_from", id="created-from-feb-30"),
    pytest.param({"filters": {"created_to": "2024-01-31T25:00:00Z"}}, "filters/created_to",
                 id="created-to-hour-25"),
    pytest.param({"filters": {"created_to": "2024-01-31T00:00:00"}}, "filters/created_to",
                 id="created-to-no-offset"),
    pytest.param({"filters": {"created_from": 1706659200}}, "filters/created_from",
                 id="created-from-number"),
    pytest.param({"filters": {"created_from": "2024-02-01T00:00:00Z",
                              "created_to": "2024-01-01T00:00:00Z"}},
                 "filters/created_to", id="created-from-after-to"),
    pytest.param({"filters": {"created_from": "2024-01-01T01:00:00+01:00",
                              "created_to": "2024-01-01T00:00:00Z"}},
                 "filters/created_to", id="created-from-equals-to-other-offset"),
    pytest.param({"include_deleted": "yes"}, "include_deleted", id="include-deleted-string"),
    pytest.param({"include_deleted": None}, "include_deleted", id="include-deleted-null"),
    pytest.param({"csv": {"bom": "yes"}}, "csv/bom", id="csv-bom-string"),
    pytest.param({"csv": {"formula_guard": 1}}, "csv/formula_guard", id="csv-guard-number"),
    pytest.param({"csv": {"separator": ";"}}, "csv/separator", id="csv-unknown-option"),
    pytest.param({"csv": True}, "csv", id="csv-not-object"),
    pytest.param({"format": "jsonl", "csv": {"bom": True}}, "csv", id="csv-with-jsonl"),
]


@pytest.mark.parametrize("extra, field", BAD)
def test_bad_field_is_400_naming_it(stack, extra, field):
    body = {"type": "contacts"}
    body.update(extra)
    before = H.jobs_in(stack, "acme")
    H.field_problem(H.post(stack, body), field)
    assert H.jobs_in(stack, "acme") == before


@pytest.mark.parametrize("filters, field", [
    pytest.param({"contact_id": "abc"}, "filters/contact_id", id="bigint-abc"),
    pytest.param({"contact_id": "1; DROP TABLE invoices"}, "filters/contact_id",
                 id="bigint-injection"),
    pytest.param({"contact_id": 1.5}, "filters/contact_id", id="bigint-fraction"),
    pytest.param({"contact_id": 99999999999999999999}, "filters/contact_id",
                 id="bigint-overflow"),
    pytest.param({"issued_on": "2024-13-01"}, "filters/issued_on", id="date-month-13"),
    pytest.param({"paid_at": True}, "filters/paid_at", id="timestamptz-bool"),
])
def test_filter_value_of_the_wrong_type_is_400(stack, filters, field):
    before = H.jobs_in(stack, "acme")
    body = H.field_problem(H.post(stack, {"type": "invoices", "filters": filters}), field)
    assert "valid" in body["errors"][0]["detail"], body
    assert H.jobs_in(stack, "acme") == before
    assert stack.pg.query("SELECT to_regclass('public.invoices') IS NOT NULL")[0][0]


def test_every_filter_fault_is_listed(stack):
    r = H.post(stack, {"type": "contacts", "compression": "lzma", "csv": {"bom": 1},
                       "filters": {"nope": 1, "is_active": "perhaps",
                                   "created_from": "2024-01-01T00:00:00Z",
                                   "created_to": "2023-01-01T00:00:00Z"}})
    body = H.problem(r, 400)
    fields = {e["field"] for e in body["errors"]}
    assert fields >= {"compression", "csv/bom", "filters/nope", "filters/is_active",
                      "filters/created_to"}, body


@pytest.fixture(scope="module")
def nocreated_type(stack):
    """contacts again, registered without a created-at column."""
    stack.pg.query(
        "INSERT INTO export_types (name, relation, key_column, workspace_column, columns,"
        " filterable_columns) VALUES ('ct_nocreated', 'contacts', 'id', 'workspace',"
        " '{id,country,created_at}', '{country,created_at}')"
        " ON CONFLICT (name) DO NOTHING")
    return "ct_nocreated"


def test_time_filters_need_a_created_at_column(stack, nocreated_type):
    for name in ("created_from", "created_to"):
        r = H.post(stack, {"type": nocreated_type, "filters": {name: "2024-01-01T00:00:00Z"}})
        body = H.field_problem(r, "filters/" + name)
        assert "created" in body["detail"], body
    # equality on a filterable column of the same type is fine
    ws, key = H.new_workspace(stack)
    r = H.post(stack, {"type": nocreated_type, "filters": {"country": "FR"}}, key=key)
    assert r.status_code == 202, r.text


# ----------------------------------------------------- what is stored

def test_create_stores_the_options_and_the_as_of_bound(stack):
    ws, key = H.new_workspace(stack)
    ids = H.add_contacts(stack, ws, 3)
    body = {"type": "contacts", "format": "csv", "compression": "gzip",
            "columns": ["id", "country"], "include_deleted": True,
            "csv": {"bom": True, "formula_guard": True},
            "filters": {"country": "FR", "is_active": True, "company": None,
                        "created_from": "2024-01-01T00:00:00+02:00",
                        "created_to": "2099-12-31t23:59:59.5z"}}
    t0 = time.time()
    r = H.post(stack, body, key=key)
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["Location"] == "/exports/" + job["id"]
    # a row that appears after creation is past the bound
    H.add_contacts(stack, ws, 2)

    assert job["compression"] == "gzip"
    assert job["include_deleted"] is True
    assert job["csv"] == {"bom": True, "formula_guard": True, "delimiter": ","}
    assert job["filters"] == {"created_from": "2023-12-31T22:00:00.000000Z",
                              "created_to": "2099-12-31T23:59:59.500000Z",
                              "country": "FR", "is_active": True, "company": None}, job
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", job["as_of"]), job
    as_of = calendar.timegm(time.strptime(job["as_of"][:19], "%Y-%m-%dT%H:%M:%S"))
    assert t0 - 5 <= as_of <= time.time() + 5, (job["as_of"], t0)
    assert job["status"] == "pending" and job["progress"]["eta_seconds"] is None, job

    filters, bom, guard, deleted, comp, key_, key_set, as_of_db = H.row(
        stack, job["id"], "filters, csv_bom, csv_formula_guard, include_deleted,"
        " compression, as_of_key, as_of_key_set,"
        " to_char(as_of AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
    assert filters == {"created_from": "2023-12-31T22:00:00.000000Z",
                       "created_to": "2099-12-31T23:59:59.500000Z",
                       "equals": {"country": "FR", "is_active": True, "company": None}}
    assert (bom, guard, deleted, comp) == (True, True, True, "gzip")
    assert key_set is True and key_ == str(max(ids)), (key_, ids)
    assert as_of_db == job["as_of"]
    # GET and the list show the same
    got = stack.api("GET", "/exports/" + job["id"], key=key).json()
    for k in ("filters", "include_deleted", "csv", "as_of", "compression"):
        assert got[k] == job[k], k
    listed = stack.api("GET", "/exports", key=key).json()["data"][0]
    assert listed["filters"] == job["filters"] and listed["as_of"] == job["as_of"]


def test_defaults_and_empty_workspace(stack):
    ws, key = H.new_workspace(stack)
    r = H.post(stack, {"type": "contacts", "format": "jsonl", "filters": {}}, key=key)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["compression"] == "none" and job["include_deleted"] is False
    assert job["csv"] is None and job["filters"] == {} and job["checksum"] is None
    filters, key_, key_set = H.row(stack, job["id"], "filters, as_of_key, as_of_key_set")
    # no rows in the workspace: the bound is fixed, and empty
    assert filters == {} and key_ is None and key_set is True
    r = H.post(stack, {"type": "contacts"}, key=key)
    assert r.json()["csv"] == {"bom": False, "formula_guard": False, "delimiter": ","}
    assert r.json()["timezone"] == "UTC" and r.json()["header"] == "names", r.json()


def test_hostile_filter_values_are_data(stack):
    ws, key = H.new_workspace(stack)
    H.add_contacts(stack, ws, 2)
    hostile = {
        "country": "'; DROP TABLE contacts; --",
        "company": "x\"); DELETE FROM export_jobs; /* */ --",
        "email": "a' OR '1'='1",
        "city": "$1 \\ \u00e9\u00e8 \U0001F600 %s %n ::text",
    }
    contacts_before = stack.pg.query("SELECT count(*) FROM contacts")[0][0]
    jobs_before = stack.pg.query("SELECT count(*) FROM export_jobs")[0][0]
    r = H.post(stack, {"type": "contacts", "filters": hostile}, key=key)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["filters"] == hostile
    stored = H.row(stack, job["id"], "filters")[0]
    assert stored == {"equals": hostile}, stored
    # a hostile column name is refused, not run
    r = H.post(stack, {"type": "contacts", "filters": {"country\" = '' OR 1=1 --": "x"}},
               key=key)
    H.field_problem(r, "filters/country\" = '' OR 1=1 --")
    # the worker runs it (whatever it matches): still no SQL error, nothing dropped
    done = stack.wait_for_job(job["id"], timeout=30, key=key)
    assert done["status"] == "complete", done
    assert stack.pg.query("SELECT to_regclass('public.contacts') IS NOT NULL")[0][0]
    assert stack.pg.query("SELECT count(*) FROM contacts")[0][0] == contacts_before
    assert stack.pg.query("SELECT count(*) FROM export_jobs")[0][0] >= jobs_before + 1


# ----------------------------------------------- jobs inserted by SQL

def test_job_inserted_by_sql_completes(stack):
    job_id = str(stack.pg.query(
        "INSERT INTO export_jobs (workspace, type, format) VALUES ('acme', 'invoices', 'jsonl')"
        " RETURNING id")[0][0])
    job = stack.wait_for_job(job_id, timeout=30)
    assert job["status"] == "complete", job
    assert job["format"] == "jsonl" and job["type"] == "invoices"
    assert job["row_count"] == H.db_count(stack, "invoices")
    data = H.download(stack, job).content
    assert data.count(b"\n") == job["row_count"] and len(data) == job["file_size"]
    # not visible to another workspace
    assert stack.api("GET", "/exports/" + job_id, key=stack.key_globex).status_code == 404


# ------------------------------------------------- no request crashes a process

def test_bad_requests_crash_no_process(front, stack):
    """Bad bodies, content types, keys, routes and methods one after the
    other through one server: no answer is a 5xx and all four export.fcgi
    processes are alive at the end (helpers.call checks each answer)."""
    first = len(H.ANSWERS)
    for p in BAD_BODIES:
        H.post_raw(stack, front, p.values[0])
    H.post_raw(stack, front, '{"type": "contacts"}', content_type="text/plain")
    for headers in ({}, {"Authorization": "Bearer not-a-key"}, {"Authorization": "Basic x"}):
        H.call(stack, front, "GET", "/exports", key=None, headers=headers)
    for path in ("/", "/exports/not-a-uuid", "/exports/%s/download/x" % H.NIL_ID):
        H.call(stack, front, "GET", path)
    H.call(stack, front, "PUT", "/exports", data=b"{}",
           headers={"Content-Type": "application/json"})
    alive = H.pool(stack, front).fcgi_pids_alive()
    errors = [a[:4] for a in H.ANSWERS[first:] if a[3] >= 500]
    assert len(alive) == 4 and not errors, (
        "%d of 4 export.fcgi processes alive; 5xx answers: %s" % (len(alive), errors))
