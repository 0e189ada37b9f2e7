"""The export contract, API side (README "HTTP API"): compression, filters,
include_deleted, CSV options and the as-of bound on POST /exports;
Idempotency-Key; the per-workspace limit on active jobs (429); progress
ETA and checksum in the job; DELETE of a complete export (file removed,
then 410); Repr-Digest on downloads; GET /metrics; /healthz with the
database unreachable.  Through lighttpd (and Apache where the web server
matters).

Tests that leave jobs behind use a workspace of their own, so the acme
workspace's limit of active jobs is never touched.
"""

import base64
import calendar
import concurrent.futures
import gzip
import hashlib
import json
import os
import re
import time
import uuid
from pathlib import Path

import pytest
import requests

import stack as S

PROBLEM_TYPE = "application/problem+json"
# Classid of the job advisory locks (src/jobs/jobs.c JOBS_LOCK_NS): a test
# holding a job's lock keeps the workers off a job it marked processing.
JOB_LOCK_NS = 1163416644


# ------------------------------------------------------------- helpers

def problem(r, status):
    """Assert an RFC 9457 answer with this status; its JSON body."""
    assert r.status_code == status, "expected %d, got %d: %s %r" % (
        status, r.status_code, dict(r.headers), r.text[:1000])
    assert r.headers.get("Content-Type", "").split(";")[0].strip() == PROBLEM_TYPE, r.headers
    body = r.json()
    assert body["status"] == status, body
    assert body["type"].startswith("urn:exportd:problem:"), body
    assert body.get("title") and body.get("detail"), body
    return body


def pointer(field):
    """RFC 6901 pointer of a field: "filters/a/b" is member "a/b" of filters."""
    parent, sep, member = field.partition("/")
    esc = lambda s: s.replace("~", "~0").replace("/", "~1")  # noqa: E731
    return "/" + esc(parent) + ("/" + esc(member) if sep else "")


def field_problem(r, field):
    """A 400 naming `field` first and listing it with its pointer."""
    body = problem(r, 400)
    assert body.get("field") == field, "field %r, expected %r: %s" % (
        body.get("field"), field, body)
    hits = [e for e in body["errors"] if e["field"] == field]
    assert hits, body
    for e in hits:
        assert e["pointer"] == pointer(field), e
        assert isinstance(e["detail"], str) and e["detail"], e
    return body


def new_workspace(stack, prefix="ct"):
    """A fresh workspace and an API key for it."""
    ws = "%s_%s" % (prefix, uuid.uuid4().hex[:10])
    out = stack.exportctl("apikey", "create", "--workspace", ws,
                          "--email", "%s@example.com" % ws).stdout.strip()
    assert out.startswith("exk_"), out
    return ws, out


def jobs_in(stack, ws):
    return stack.pg.query("SELECT count(*) FROM export_jobs WHERE workspace = %s", (ws,))[0][0]


def row(stack, job_id, cols):
    return stack.pg.query("SELECT %s FROM export_jobs WHERE id = %%s" % cols, (job_id,))[0]


def post(stack, body, key=S.DEFAULT, headers=None, raw=None):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    data = raw if raw is not None else json.dumps(body).encode()
    return stack.api("POST", "/exports", key=key, data=data, headers=h)


def add_contacts(stack, ws, n):
    """n contacts rows in workspace ws; their ids."""
    return [r[0] for r in stack.pg.query(
        "INSERT INTO contacts (workspace, first_name, country, is_active)"
        " SELECT %s, 'n' || g, 'FR', true FROM generate_series(1, %s) g RETURNING id",
        (ws, n))]


def insert_pending(stack, ws, n=1):
    """n jobs that stay pending (run_at far in the future); ids oldest first."""
    ids = []
    for _ in range(n):
        ids.append(str(stack.pg.query(
            "INSERT INTO export_jobs (workspace, type, format, run_at)"
            " VALUES (%s, 'contacts', 'csv', now() + interval '10 years') RETURNING id",
            (ws,))[0][0]))
    return ids


def max_active(stack):
    m = re.search(r"^\s*max_active_per_workspace\s*=\s*(\d+)\s*$",
                  stack.conf_path.read_text(), re.M)
    return int(m.group(1)) if m else 10  # the documented default


class FakeProcessing:
    """A job marked processing by SQL, its lease valid and its advisory
    lock held by this test's connection, so no worker claims it."""

    def __init__(self, stack, ws, started_ago, done, estimated):
        self.stack = stack
        self.token = 900000000 + int(uuid.uuid4().int % 1000000)
        self.id = str(uuid.uuid4())
        # The lock first: the INSERT wakes the workers at once.
        self.conn = stack.pg.connect()
        with self.conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s, hashtext(%s::text || ':' || %s::text))",
                        (JOB_LOCK_NS, self.id, self.token))
        stack.pg.query(
            "INSERT INTO export_jobs (id, workspace, type, format, status, attempts,"
            " lease_owner, lease_token, lease_expires_at, started_at, rows_done,"
            " rows_estimated, run_at, created_at)"
            " VALUES (%s, %s, 'contacts', 'csv', 'processing', 1, 'test', %s,"
            " now() + interval '1 hour', now() - %s * interval '1 second', %s, %s,"
            " now() - interval '1 minute', now() - interval '1 minute')",
            (self.id, ws, self.token, started_ago, done, estimated))

    def close(self):
        self.stack.pg.query("UPDATE export_jobs SET status = 'cancelled', completed_at = now(),"
                            " lease_owner = NULL, lease_expires_at = NULL WHERE id = %s",
                            (self.id,))
        self.conn.close()


def b64(digest):
    return base64.b64encode(digest).decode()


# ------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def nocreated_type(stack):
    """contacts again, registered without a created-at column."""
    stack.pg.query(
        "INSERT INTO export_types (name, relation, key_column, workspace_column, columns,"
        " filterable_columns) VALUES ('ct_nocreated', 'contacts', 'id', 'workspace',"
        " '{id,country,created_at}', '{country,created_at}')"
        " ON CONFLICT (name) DO NOTHING")
    return "ct_nocreated"


@pytest.fixture(scope="module")
def own(stack):
    """A workspace of this module's own with 5 contacts and 1 complete
    export of them: (workspace, key, job JSON)."""
    ws, key = new_workspace(stack, "ctown")
    add_contacts(stack, ws, 5)
    r = post(stack, {"type": "contacts", "format": "csv"}, key=key)
    assert r.status_code == 202, r.text
    job = stack.wait_for_job(r.json()["id"], timeout=30, key=key)
    assert job["status"] == "complete", job
    return ws, key, job


class SideFcgi:
    """One more export.fcgi (1 process, spawn-fcgi) behind its own lighttpd,
    with a config of its own; the session's stack is untouched."""

    def __init__(self, stack, tmp, name, settings):
        self.stack, self.name = stack, name
        self.dir = Path(tmp) / name
        self.dir.mkdir(mode=0o755)
        self.sock = self.dir / "fcgi.sock"
        self.pidfile = self.dir / "fcgi.pid"
        self.conf = self.dir / "exportd.conf"
        conf = {"database": {"url": stack.pg.conninfo},
                "http": {"base_path": "", "download": "x-sendfile"},
                "storage": {"backend": "local", "dir": str(stack.storage_dir)},
                "log": {"level": "info"}}
        for section, kv in settings.items():
            conf.setdefault(section, {}).update(kv)
        self.conf.write_text("".join("[%s]\n%s\n" % (s, "".join(
            "%s = %s\n" % kv for kv in items.items())) for s, items in conf.items()))
        self.lighttpd = None
        self.url = None
        self.logs = ["%s export.fcgi" % name, "%s lighttpd stderr" % name,
                     "%s lighttpd error log" % name]

    def start(self):
        log = self.dir / "export.fcgi.log"
        log.touch()
        S.LOGS[self.logs[0]] = log
        S.LOGS[self.logs[2]] = self.dir / "lighttpd-error.log"
        S.run([S.which("spawn-fcgi", "apt-get install spawn-fcgi"), "-s", self.sock,
               "-M", "0666", "-F", "1", "-P", self.pidfile, "--", "/bin/sh", "-c",
               'exec "$0" 2>>"$1"', self.stack.export_fcgi, log],
              "spawn-fcgi (%s)" % self.name, env=S.clean_env(EXPORTD_CONFIG=self.conf))

        def make(port):
            return S.Service(self.logs[1],
                             [S.which("lighttpd", "apt-get install lighttpd"), "-D", "-f",
                              S.SRCDIR / "fcgi-conf/lighttpd.conf"],
                             self.dir / "lighttpd.stderr",
                             env=S.clean_env(HTTPD_PORT=port, HTTPD_FCGI_SOCKET=self.sock,
                                             HTTPD_STORAGE_DIR=self.stack.storage_dir,
                                             HTTPD_RUN_DIR=self.dir))

        self.lighttpd, port = S.start_on_free_port(make, "lighttpd (%s)" % self.name,
                                                   self.logs[1:])
        self.url = "http://127.0.0.1:%d" % port
        self.api = S.Api(self.url, self.stack.key_acme)
        return self

    def stop(self):
        if self.lighttpd is not None:
            self.lighttpd.stop()
        S.kill_pids(S.read_pids(self.pidfile), grace=2)
        for name in self.logs:
            S.LOGS.pop(name, None)


@pytest.fixture(scope="module")
def side(stack, tmp_root):
    """side(name, settings) -> a started SideFcgi, stopped after the module."""
    started = []

    def make(name, settings):
        s = SideFcgi(stack, tmp_root, name, settings)
        started.append(s)
        return s.start()

    yield make
    for s in started:
        s.stop()


# ---------------------------------------------------- POST /exports: 400

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
    pytest.param({"csv": {"delimiter": ";"}}, "csv/delimiter", id="csv-unknown-option"),
    pytest.param({"csv": True}, "csv", id="csv-not-object"),
    pytest.param({"format": "jsonl", "csv": {"bom": True}}, "csv", id="csv-with-jsonl"),
]


@pytest.mark.parametrize("extra, field", BAD)
def test_bad_field_is_400_naming_it(stack, extra, field):
    body = {"type": "contacts"}
    body.update(extra)
    before = jobs_in(stack, "acme")
    field_problem(post(stack, body), field)
    assert jobs_in(stack, "acme") == before


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
    before = jobs_in(stack, "acme")
    body = field_problem(post(stack, {"type": "invoices", "filters": filters}), field)
    assert "valid" in body["errors"][0]["detail"], body
    assert jobs_in(stack, "acme") == before
    assert stack.pg.query("SELECT to_regclass('public.invoices') IS NOT NULL")[0][0]


def test_every_filter_fault_is_listed(stack):
    r = post(stack, {"type": "contacts", "compression": "lzma", "csv": {"bom": 1},
                     "filters": {"nope": 1, "is_active": "perhaps",
                                 "created_from": "2024-01-01T00:00:00Z",
                                 "created_to": "2023-01-01T00:00:00Z"}})
    body = problem(r, 400)
    fields = {e["field"] for e in body["errors"]}
    assert fields >= {"compression", "csv/bom", "filters/nope", "filters/is_active",
                      "filters/created_to"}, body


def test_time_filters_need_a_created_at_column(stack, nocreated_type):
    for name in ("created_from", "created_to"):
        r = post(stack, {"type": nocreated_type, "filters": {name: "2024-01-01T00:00:00Z"}})
        body = field_problem(r, "filters/" + name)
        assert "created" in body["detail"], body
    # equality on a filterable column of the same type is fine
    ws, key = new_workspace(stack)
    r = post(stack, {"type": nocreated_type, "filters": {"country": "FR"}}, key=key)
    assert r.status_code == 202, r.text


# -------------------------------------------- POST /exports: what is stored

def test_create_stores_the_options_and_the_as_of_bound(stack):
    ws, key = new_workspace(stack)
    ids = add_contacts(stack, ws, 3)
    body = {"type": "contacts", "format": "csv", "compression": "gzip",
            "columns": ["id", "country"], "include_deleted": True,
            "csv": {"bom": True, "formula_guard": True},
            "filters": {"country": "FR", "is_active": True, "company": None,
                        "created_from": "2024-01-01T00:00:00+02:00",
                        "created_to": "2099-12-31t23:59:59.5z"}}
    t0 = time.time()
    r = post(stack, body, key=key)
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["Location"] == "/exports/" + job["id"]
    # a row that appears after creation is past the bound
    add_contacts(stack, ws, 2)

    assert job["compression"] == "gzip"
    assert job["include_deleted"] is True
    assert job["csv"] == {"bom": True, "formula_guard": True}
    assert job["filters"] == {"created_from": "2023-12-31T22:00:00.000000Z",
                              "created_to": "2099-12-31T23:59:59.500000Z",
                              "country": "FR", "is_active": True, "company": None}, job
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", job["as_of"]), job
    as_of = calendar.timegm(time.strptime(job["as_of"][:19], "%Y-%m-%dT%H:%M:%S"))
    assert t0 - 5 <= as_of <= time.time() + 5, (job["as_of"], t0)
    assert job["status"] == "pending" and job["progress"]["eta_seconds"] is None, job

    filters, bom, guard, deleted, comp, key_, key_set, as_of_db = row(
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
    ws, key = new_workspace(stack)
    r = post(stack, {"type": "contacts", "format": "jsonl", "filters": {}}, key=key)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["compression"] == "none" and job["include_deleted"] is False
    assert job["csv"] is None and job["filters"] == {} and job["checksum"] is None
    filters, key_, key_set = row(stack, job["id"], "filters, as_of_key, as_of_key_set")
    # no rows in the workspace: the bound is fixed, and empty
    assert filters == {} and key_ is None and key_set is True
    r = post(stack, {"type": "contacts"}, key=key)
    assert r.json()["csv"] == {"bom": False, "formula_guard": False}


def test_hostile_filter_values_are_data(stack):
    ws, key = new_workspace(stack)
    add_contacts(stack, ws, 2)
    hostile = {
        "country": "'; DROP TABLE contacts; --",
        "company": "x\"); DELETE FROM export_jobs; /* */ --",
        "email": "a' OR '1'='1",
        "city": "$1 \\ \u00e9\u00e8 \U0001F600 %s %n ::text",
    }
    contacts_before = stack.pg.query("SELECT count(*) FROM contacts")[0][0]
    jobs_before = stack.pg.query("SELECT count(*) FROM export_jobs")[0][0]
    r = post(stack, {"type": "contacts", "filters": hostile}, key=key)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["filters"] == hostile
    stored = row(stack, job["id"], "filters")[0]
    assert stored == {"equals": hostile}, stored
    # a hostile column name is refused, not run
    r = post(stack, {"type": "contacts", "filters": {"country\" = '' OR 1=1 --": "x"}},
             key=key)
    field_problem(r, "filters/country\" = '' OR 1=1 --")
    # the worker runs it (whatever it matches): still no SQL error, nothing dropped
    done = stack.wait_for_job(job["id"], timeout=30, key=key)
    assert done["status"] == "complete", done
    assert stack.pg.query("SELECT to_regclass('public.contacts') IS NOT NULL")[0][0]
    assert stack.pg.query("SELECT count(*) FROM contacts")[0][0] == contacts_before
    assert stack.pg.query("SELECT count(*) FROM export_jobs")[0][0] >= jobs_before + 1


# ------------------------------------------------------- Idempotency-Key

def test_idempotent_replay_answers_the_first_202(stack):
    ws, key = new_workspace(stack)
    body = {"type": "contacts", "columns": ["id"]}
    h = {"Idempotency-Key": "order-42/" + uuid.uuid4().hex}
    first = post(stack, body, key=key, headers=h)
    assert first.status_code == 202, first.text
    assert "Idempotent-Replayed" not in first.headers
    for _ in range(2):
        again = post(stack, body, key=key, headers=h)
        assert again.status_code == 202, again.text
        assert again.json()["id"] == first.json()["id"]
        assert again.headers["Location"] == first.headers["Location"]
        assert again.headers.get("Idempotent-Replayed") == "true"
    assert jobs_in(stack, ws) == 1
    stored_key, stored_hash = row(stack, first.json()["id"], "idempotency_key, idempotency_hash")
    assert stored_key == h["Idempotency-Key"]
    assert stored_hash == hashlib.sha256(json.dumps(body).encode()).hexdigest()
    # without the header, the same body is a new export
    assert post(stack, body, key=key).json()["id"] != first.json()["id"]
    # the key belongs to the workspace: another workspace gets its own job
    ws2, key2 = new_workspace(stack)
    other = post(stack, body, key=key2, headers=h)
    assert other.status_code == 202 and other.json()["id"] != first.json()["id"]


def test_same_key_other_body_is_422(stack):
    ws, key = new_workspace(stack)
    h = {"Idempotency-Key": uuid.uuid4().hex}
    first = post(stack, {"type": "contacts"}, key=key, headers=h)
    assert first.status_code == 202, first.text
    body = problem(post(stack, {"type": "invoices"}, key=key, headers=h), 422)
    assert "Idempotency-Key" in body["detail"], body
    # the bytes count: the same JSON spelled differently is another body
    problem(post(stack, None, key=key, headers=h, raw=b'{"type":  "contacts"}'), 422)
    # an invalid body is judged first (400), the key stays the first job's
    field_problem(post(stack, {"type": "contacts", "format": "xml"}, key=key, headers=h),
                  "format")
    assert jobs_in(stack, ws) == 1
    again = post(stack, {"type": "contacts"}, key=key, headers=h)
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]


# (An empty header never reaches the app: lighttpd drops it, so it is the
# same as no key.)
@pytest.mark.parametrize("value", ["k" * 256, "caf\u00e9", "a\tb"],
                         ids=["256-chars", "non-ascii", "tab"])
def test_bad_idempotency_key_is_400(stack, value):
    ws, key = new_workspace(stack)
    r = stack.api("POST", "/exports", key=key, data=b'{"type": "contacts"}',
                  headers={"Content-Type": "application/json",
                           "Idempotency-Key": value.encode("latin-1")})
    body = problem(r, 400)
    assert body["field"] == "Idempotency-Key", body
    assert body["errors"][0].get("in") == "header", body
    assert jobs_in(stack, ws) == 0


def test_idempotency_key_of_255_chars_is_fine(stack):
    ws, key = new_workspace(stack)
    h = {"Idempotency-Key": ("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ 09AZaz" * 8)[:254] + "Z"}
    assert len(h["Idempotency-Key"]) == 255 and " " in h["Idempotency-Key"]
    a = post(stack, {"type": "contacts"}, key=key, headers=h)
    b = post(stack, {"type": "contacts"}, key=key, headers=h)
    assert a.status_code == b.status_code == 202 and a.json()["id"] == b.json()["id"]


def test_idempotency_key_is_forgotten_after_24_hours(stack):
    ws, key = new_workspace(stack)
    h = {"Idempotency-Key": uuid.uuid4().hex}
    first = post(stack, {"type": "contacts"}, key=key, headers=h).json()["id"]
    stack.pg.query("UPDATE export_jobs SET created_at = created_at - interval '24 hours 1 second'"
                   " WHERE id = %s", (first,))
    # a different body is no longer a conflict: the key is free again
    second = post(stack, {"type": "invoices"}, key=key, headers=h)
    assert second.status_code == 202, second.text
    assert second.json()["id"] != first
    assert row(stack, first, "idempotency_key")[0] is None
    assert row(stack, second.json()["id"], "idempotency_key")[0] == h["Idempotency-Key"]
    third = post(stack, {"type": "invoices"}, key=key, headers=h)
    assert third.json()["id"] == second.json()["id"]


def test_concurrent_requests_with_one_key_make_one_job(stack):
    ws, key = new_workspace(stack)
    h = {"Idempotency-Key": uuid.uuid4().hex}
    body = json.dumps({"type": "contacts"}).encode()

    def one(_):
        return S.Api(stack.base_url)("POST", "/exports", key=key, data=body,
                                     headers=dict(h, **{"Content-Type": "application/json"}))

    for _ in range(3):
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            answers = list(ex.map(one, range(8)))
        assert [a.status_code for a in answers] == [202] * 8, [a.text for a in answers]
        assert len({a.json()["id"] for a in answers}) == 1
        assert len({a.headers["Location"] for a in answers}) == 1
        assert jobs_in(stack, ws) == 1


@pytest.mark.parametrize("same_body", [True, False], ids=["same-body", "other-body"])
def test_unique_constraint_decides_a_race_with_another_inserter(stack, same_body):
    """A plain-SQL insert with the key, uncommitted while the API inserts:
    the API's INSERT waits on the unique index, loses, and answers the
    winner's job (replay) or 422 -- never a second job."""
    ws, key = new_workspace(stack)
    k = uuid.uuid4().hex
    body = json.dumps({"type": "contacts"}).encode()
    digest = hashlib.sha256(body if same_body else b"{}").hexdigest()
    other = stack.pg.connect(autocommit=False)
    try:
        with other.cursor() as cur:
            cur.execute("INSERT INTO export_jobs (workspace, type, format, run_at,"
                        " idempotency_key, idempotency_hash)"
                        " VALUES (%s, 'contacts', 'csv', now() + interval '10 years', %s, %s)"
                        " RETURNING id", (ws, k, digest))
            winner = str(cur.fetchone()[0])
        with concurrent.futures.ThreadPoolExecutor(1) as ex:
            fut = ex.submit(post, stack, None, key, {"Idempotency-Key": k}, body)
            S.wait_until(lambda: stack.pg.query(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'export.fcgi'"
                " AND wait_event_type = 'Lock'")[0][0] >= 1, 10,
                "the API's INSERT to wait on the uncommitted row")
            other.commit()
            r = fut.result(timeout=10)
    finally:
        other.rollback()
        other.close()
    if same_body:
        assert r.status_code == 202, r.text
        assert r.json()["id"] == winner and r.headers.get("Idempotent-Replayed") == "true"
    else:
        problem(r, 422)
    assert jobs_in(stack, ws) == 1
    stack.api("DELETE", "/exports/" + winner, key=key)


# ------------------------------------------------- limit of active jobs

def test_active_job_limit_is_429_with_retry_after_and_ids(stack):
    ws, key = new_workspace(stack)
    limit = max_active(stack)
    h = {"Idempotency-Key": uuid.uuid4().hex}
    # one job created with a key before the limit is reached
    keyed = post(stack, {"type": "contacts"}, key=key, headers=h)
    assert keyed.status_code == 202
    stack.wait_for_job(keyed.json()["id"], timeout=30, key=key)
    fake = FakeProcessing(stack, ws, started_ago=30, done=100, estimated=400)
    try:
        ids = [fake.id] + insert_pending(stack, ws, limit - 1)
        r = post(stack, {"type": "contacts"}, key=key)
        body = problem(r, 429)
        assert body["active_jobs"] == ids, body
        assert body["active_count"] == limit and body["limit"] == limit, body
        # Retry-After: the running job's ETA, 30 s * 300 / 100 left
        assert 85 <= int(r.headers["Retry-After"]) <= 100, r.headers
        assert jobs_in(stack, ws) == limit + 1
        # the key's replay is not a new job: still answered
        again = post(stack, {"type": "contacts"}, key=key, headers=h)
        assert again.status_code == 202 and again.json()["id"] == keyed.json()["id"]
        # the job's progress: percent and ETA from the rate so far
        p = stack.api("GET", "/exports/" + fake.id, key=key).json()["progress"]
        assert p["percent"] == 25.0 and 85 <= p["eta_seconds"] <= 100, p
    finally:
        fake.close()
    # one slot free: accepted again
    r = post(stack, {"type": "contacts"}, key=key)
    assert r.status_code == 202, r.text
    ids += insert_pending(stack, ws)
    r = post(stack, {"type": "contacts"}, key=key)
    problem(r, 429)
    assert 1 <= int(r.headers["Retry-After"]) <= 3600
    for i in ids[1:]:
        stack.api("DELETE", "/exports/" + i, key=key)


# --------------------------------------------------- progress, checksum

def test_progress_of_pending_and_complete_jobs(stack, own):
    ws, key, job = own
    assert job["progress"]["eta_seconds"] == 0 and job["progress"]["percent"] == 100.0
    pending = insert_pending(stack, ws)[0]
    p = stack.api("GET", "/exports/" + pending, key=key).json()["progress"]
    assert p["eta_seconds"] is None and p["percent"] is None
    stack.api("DELETE", "/exports/" + pending, key=key)


def test_checksum_of_a_complete_export_is_the_files_sha256(stack, own):
    ws, key, job = own
    got = stack.api("GET", "/exports/%s/download" % job["id"], key=key)
    assert got.status_code == 200
    assert job["checksum"] == {"sha256": hashlib.sha256(got.content).hexdigest()}, job
    assert got.headers.get("Repr-Digest") == "sha-256=:%s:" % b64(
        hashlib.sha256(got.content).digest())


def _set_real_checksum(stack, job_id, key):
    data = stack.api("GET", "/exports/%s/download" % job_id, key=key).content
    digest = hashlib.sha256(data).digest()
    stack.pg.query("UPDATE export_jobs SET checksum = %s WHERE id = %s",
                   (digest.hex(), job_id))
    return data, digest


def test_repr_digest_through_lighttpd_and_apache(stack, apache):
    ws, key = new_workspace(stack)
    add_contacts(stack, ws, 3)
    job = post(stack, {"type": "contacts"}, key=key).json()
    stack.wait_for_job(job["id"], timeout=30, key=key)
    # set by SQL: this tests the API's side whatever the worker stores
    data, digest = _set_real_checksum(stack, job["id"], key)
    for api in (stack.api, apache.api):
        r = api("GET", "/exports/%s/download" % job["id"], key=key)
        assert r.status_code == 200 and r.content == data
        assert r.headers.get("Repr-Digest") == "sha-256=:%s:" % b64(digest), r.headers
        assert r.headers.get("Digest") == "sha-256=%s" % b64(digest), r.headers
        assert stack.api("GET", "/exports/" + job["id"], key=key).json()["checksum"] == {
            "sha256": digest.hex()}
    # no checksum, no digest headers
    stack.pg.query("UPDATE export_jobs SET checksum = NULL WHERE id = %s", (job["id"],))
    r = stack.api("GET", "/exports/%s/download" % job["id"], key=key)
    assert r.status_code == 200 and "Repr-Digest" not in r.headers


def test_repr_digest_when_streamed(stack, side):
    ws, key = new_workspace(stack)
    add_contacts(stack, ws, 4)
    job = post(stack, {"type": "contacts"}, key=key).json()
    stack.wait_for_job(job["id"], timeout=30, key=key)
    data, digest = _set_real_checksum(stack, job["id"], key)
    fcgi = side("stream", {"http": {"download": "stream"}})
    path = "/exports/%s/download" % job["id"]
    r = fcgi.api("GET", path, key=key)
    assert r.status_code == 200 and r.content == data, r.text
    assert "X-Sendfile" not in r.headers
    assert r.headers.get("Repr-Digest") == "sha-256=:%s:" % b64(digest), r.headers
    assert r.headers.get("Digest") == "sha-256=%s" % b64(digest), r.headers
    head = fcgi.api("HEAD", path, key=key)
    assert head.status_code == 200 and head.headers.get("Repr-Digest") == r.headers["Repr-Digest"]
    part = fcgi.api("GET", path, key=key, headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == data[:10]
    assert "Repr-Digest" not in part.headers and "Digest" not in part.headers


def test_gzip_export_downloads_as_a_gz_file(stack):
    ws, key = new_workspace(stack)
    add_contacts(stack, ws, 3)
    r = post(stack, {"type": "contacts", "compression": "gzip", "columns": ["id", "country"]},
             key=key)
    job = stack.wait_for_job(r.json()["id"], timeout=30, key=key)
    assert job["status"] == "complete", job
    got = stack.api("GET", "/exports/%s/download" % job["id"], key=key)
    assert got.status_code == 200
    assert got.headers["Content-Type"] == "application/gzip", got.headers
    assert "Content-Encoding" not in got.headers
    assert re.search(r'filename="contacts-\d{8}\.csv\.gz"', got.headers["Content-Disposition"])
    assert got.content[:2] == b"\x1f\x8b"
    assert gzip.decompress(got.content).decode().splitlines() == [
        "id,country"] + ["%d,FR" % i for i in sorted(
            r[0] for r in stack.pg.query("SELECT id FROM contacts WHERE workspace = %s", (ws,)))]
    assert job["checksum"] == {"sha256": hashlib.sha256(got.content).hexdigest()}


# ---------------------------------------------------- DELETE a complete job

def test_delete_complete_export_removes_the_file_then_410(stack):
    ws, key = new_workspace(stack)
    add_contacts(stack, ws, 3)
    job = post(stack, {"type": "contacts"}, key=key).json()
    assert stack.wait_for_job(job["id"], timeout=30, key=key)["status"] == "complete"
    file_key = row(stack, job["id"], "file_key")[0]
    path = Path(stack.storage_dir) / file_key
    assert path.is_file()
    r = stack.api("DELETE", "/exports/" + job["id"], key=key)
    assert r.status_code == 200, r.text
    gone = r.json()
    assert gone["status"] == "expired" and gone["purged_at"] is not None, gone
    assert not path.exists(), "the file is still there after DELETE"
    status, purged = row(stack, job["id"], "status, purged_at IS NOT NULL")
    assert (status, purged) == ("expired", True)
    body = problem(stack.api("GET", "/exports/%s/download" % job["id"], key=key), 410)
    assert "deleted" in body["detail"] and "new export" in body["detail"], body
    # again: nothing left to do, the job as it is
    again = stack.api("DELETE", "/exports/" + job["id"], key=key)
    assert again.status_code == 200 and again.json()["status"] == "expired"
    assert stack.api("GET", "/exports/" + job["id"], key=key).json()["status"] == "expired"
    # another workspace cannot delete it (404, as for any id)
    other = post(stack, {"type": "contacts"}, key=key).json()
    stack.wait_for_job(other["id"], timeout=30, key=key)
    problem(stack.api("DELETE", "/exports/" + other["id"], key=stack.key_globex), 404)
    assert row(stack, other["id"], "status")[0] == "complete"


# --------------------------------------------------------------- metrics

SAMPLE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)'
                    r'(?P<labels>\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*"'
                    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*")*\})? '
                    r'(?P<value>-?[0-9.]+(?:e[+-]?[0-9]+)?|\+Inf|-Inf|NaN)$')
COMMENT = re.compile(r"^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* "
                     r"(counter|gauge|histogram|summary|untyped))$")


def scrape(api):
    r = api("GET", "/metrics", key=None)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].replace(" ", "").startswith(
        "text/plain;version=0.0.4"), r.headers
    assert r.text.endswith("\n")
    samples = {}
    for line in r.text.splitlines():
        if line.startswith("#"):
            assert COMMENT.match(line), line
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        samples[m.group("name") + (m.group("labels") or "")] = float(m.group("value"))
    return samples


def finished_totals(stack):
    return stack.pg.query(
        "SELECT coalesce(sum(row_count), 0), coalesce(sum(file_size), 0), count(*)"
        " FROM export_jobs WHERE status IN ('complete', 'expired')")[0]


def test_metrics_parse_and_count_a_complete_job(stack):
    m1 = scrape(stack.api)
    for name in ("exportd_rows_exported_total", "exportd_bytes_exported_total",
                 "exportd_queue_depth", "exportd_oldest_pending_age_seconds",
                 "exportd_export_duration_seconds_sum",
                 "exportd_export_duration_seconds_count"):
        assert name in m1 and m1[name] >= 0, (name, m1)
    for status in ("pending", "processing", "complete", "failed", "cancelled", "expired"):
        assert m1['exportd_jobs{status="%s"}' % status] >= 0

    ws, key = new_workspace(stack)
    add_contacts(stack, ws, 7)
    job = post(stack, {"type": "contacts"}, key=key).json()
    assert stack.wait_for_job(job["id"], timeout=30, key=key)["status"] == "complete"
    size = row(stack, job["id"], "file_size")[0]
    before = finished_totals(stack)
    m2 = scrape(stack.api)
    after = finished_totals(stack)
    assert m2["exportd_rows_exported_total"] >= m1["exportd_rows_exported_total"] + 7
    assert m2["exportd_bytes_exported_total"] >= m1["exportd_bytes_exported_total"] + size
    assert before[0] <= m2["exportd_rows_exported_total"] <= after[0]
    assert before[1] <= m2["exportd_bytes_exported_total"] <= after[1]
    assert m2['exportd_jobs{status="complete"}'] >= 1
    count = m2["exportd_export_duration_seconds_count"]
    assert before[2] <= count <= after[2]
    assert count >= m1["exportd_export_duration_seconds_count"] + 1
    buckets = [(k, v) for k, v in m2.items()
               if k.startswith("exportd_export_duration_seconds_bucket")]
    les = [re.search(r'le="([^"]+)"', k).group(1) for k, _ in buckets]
    assert les == ["1", "5", "15", "60", "300", "900", "3600", "+Inf"], les
    values = [v for _, v in buckets]
    assert values == sorted(values) and values[-1] == count, buckets


def test_metrics_queue_depth_and_oldest_pending(stack):
    ws, key = new_workspace(stack)
    job_id = insert_pending(stack, ws)[0]
    # Make it due while a FOR KEY SHARE lock holds it: the workers' claim
    # (FOR UPDATE SKIP LOCKED) skips it, the UPDATE of run_at does not wait.
    holder = stack.pg.connect(autocommit=False)
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT 1 FROM export_jobs WHERE id = %s FOR KEY SHARE", (job_id,))
            stack.pg.query("UPDATE export_jobs SET run_at = now() - interval '100 seconds'"
                           " WHERE id = %s", (job_id,))
            m = scrape(stack.api)
            assert row(stack, job_id, "status")[0] == "pending"
        assert m["exportd_queue_depth"] >= 1, m
        assert m["exportd_oldest_pending_age_seconds"] >= 99, m
    finally:
        holder.rollback()
        stack.pg.query("UPDATE export_jobs SET status = 'cancelled', completed_at = now()"
                       " WHERE id = %s AND status = 'pending'", (job_id,))
        holder.close()


def test_metrics_route(stack):
    assert stack.api("HEAD", "/metrics", key=None).status_code == 200
    r = stack.api("POST", "/metrics", key=None, data=b"{}",
                  headers={"Content-Type": "application/json"})
    problem(r, 405)
    assert {m.strip() for m in r.headers["Allow"].split(",")} == {"GET", "HEAD"}


# ----------------------------------------------------- database unreachable

def test_healthz_and_metrics_503_when_the_database_is_unreachable(stack, side):
    port = S.free_port()  # nothing listens there
    fcgi = side("nodb", {"database": {
        "url": "host=127.0.0.1 port=%d dbname=exportd user=postgres connect_timeout=2" % port}})
    for path in ("/healthz", "/metrics", "/exports"):
        r = fcgi.api("GET", path, key=None)
        body = problem(r, 503)
        assert int(r.headers["Retry-After"]) > 0, r.headers
        assert "database" in body["detail"], body
    # the session's stack is unaffected
    assert stack.api("GET", "/healthz", key=None).status_code == 200
