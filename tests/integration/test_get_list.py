"""GET /exports and GET /exports/{id} (README "HTTP API"): pagination,
bad list parameters, the fields of a job (progress, ETA, checksum,
timestamps, links).
"""

import hashlib
import re
import time
import uuid
from datetime import datetime, timezone

import pytest

import helpers as H

RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")


# ------------------------------------------------------- GET /exports

def test_list_pagination_walks_every_job_once_newest_first(stack):
    ws = "pages_" + uuid.uuid4().hex[:8]
    key = H.new_key(stack, ws)
    api = stack.api
    for _ in range(5):
        r = H.call(stack, api, "POST", "/exports", key=key, json={"type": "contacts"})
        assert r.status_code == 202, r.text
    # two more in one statement: the same created_at, ordered by id
    stack.pg.query("INSERT INTO export_jobs (workspace, type, format, run_at)"
                   " SELECT %s, 'invoices', 'jsonl', now() + interval '10 years'"
                   " FROM generate_series(1, 2)", (ws,))
    expected = [str(r[0]) for r in stack.pg.query(
        "SELECT id FROM export_jobs WHERE workspace = %s ORDER BY created_at DESC, id DESC",
        (ws,))]
    assert len(expected) == 7

    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        r = H.call(stack, api, "GET", "/exports", key=key, params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        pages += 1
        assert 1 <= len(body["data"]) <= 2, body
        seen += [j["id"] for j in body["data"]]
        assert body["links"]["first"].endswith("/exports?limit=2"), body
        cursor = body["next_cursor"]
        if cursor is None:
            assert "next" not in body["links"] or body["links"]["next"] is None, body
            break
        assert cursor in body["links"]["next"], body
        assert pages < 10, seen
    assert pages == 4, pages
    assert len(seen) == len(set(seen)), seen
    assert seen == expected

    r = H.call(stack, api, "GET", "/exports", key=key)
    body = r.json()
    assert [j["id"] for j in body["data"]] == expected and body["next_cursor"] is None
    # a workspace only sees its own jobs
    acme = H.call(stack, api, "GET", "/exports", params={"limit": 100}).json()
    assert not set(expected) & {j["id"] for j in acme["data"]}


@pytest.mark.parametrize("query, field", [
    pytest.param("limit=0", "limit", id="limit-0"),
    pytest.param("limit=101", "limit", id="limit-101"),
    pytest.param("limit=abc", "limit", id="limit-abc"),
    pytest.param("limit=-1", "limit", id="limit-negative"),
    pytest.param("limit=", "limit", id="limit-empty"),
    pytest.param("limit=2x", "limit", id="limit-2x"),
    pytest.param("cursor=garbage!!", "cursor", id="cursor-garbage"),
    pytest.param("cursor=", "cursor", id="cursor-empty"),
    pytest.param("cursor=" + H.b64url(b"junk"), "cursor", id="cursor-b64-junk"),
    pytest.param("cursor=" + H.b64url(b"junk|not-a-uuid"), "cursor", id="cursor-b64-no-uuid"),
    pytest.param("cursor=" + H.b64url(b"2024-13-45 25:61:61+00|" + H.NIL_ID.encode()), "cursor",
                 id="cursor-b64-bad-timestamp"),
    pytest.param("cursor=" + H.b64url(b"|" + H.NIL_ID.encode()), "cursor", id="cursor-b64-no-ts"),
])
def test_bad_list_params_are_400(front, stack, query, field):
    H.field_problem(H.call(stack, front, "GET", "/exports?" + query), field)


# -------------------------------------------------- GET /exports/{id}

@pytest.fixture(scope="module")
def own(stack):
    """A workspace of this module's own with 5 contacts and 1 complete
    export of them: (workspace, key, job JSON)."""
    ws, key = H.new_workspace(stack, "ctown")
    H.add_contacts(stack, ws, 5)
    r = H.post(stack, {"type": "contacts", "format": "csv"}, key=key)
    assert r.status_code == 202, r.text
    job = stack.wait_for_job(r.json()["id"], timeout=30, key=key)
    assert job["status"] == "complete", job
    return ws, key, job


def test_progress_of_pending_and_complete_jobs(stack, own):
    ws, key, job = own
    assert job["progress"]["eta_seconds"] == 0 and job["progress"]["percent"] == 100.0
    pending = H.insert_pending(stack, ws)
    p = stack.api("GET", "/exports/" + pending, key=key).json()["progress"]
    assert p["eta_seconds"] is None and p["percent"] is None
    stack.api("DELETE", "/exports/" + pending, key=key)


KEYED = re.compile(r"\b(parse|execute) (exportd_[0-9a-f]{16}): SELECT k\.secret_hash")


def test_status_route_is_one_statement_prepared_once_per_connection(stack, own):
    """GET /exports/{id} is one statement (key and job together), run as a
    named statement that each export.fcgi process prepares once on its
    connection. The server's statement log (log_min_duration_statement = 0,
    reloaded, so the open sessions take it) shows parse and execute by
    name. A statement prepared before the log was on shows no parse."""
    ws, key, job = own
    stack.pg.query("ALTER SYSTEM SET log_min_duration_statement = 0")
    try:
        stack.pg.query("SELECT pg_reload_conf()")
        time.sleep(0.5)  # the backends take the reload at their next command
        start = stack.pg.log.stat().st_size
        codes = [stack.api("GET", "/exports/" + job["id"], key=key).status_code
                 for _ in range(24)]
    finally:
        stack.pg.query("ALTER SYSTEM RESET log_min_duration_statement")
        stack.pg.query("SELECT pg_reload_conf()")
    assert codes == [200] * 24, codes
    with open(stack.pg.log, "rb") as f:
        f.seek(start)
        log = f.read().decode("utf-8", "replace")
    seen = KEYED.findall(log)
    parses = [n for verb, n in seen if verb == "parse"]
    executes = [n for verb, n in seen if verb == "execute"]
    assert len(set(n for _, n in seen)) == 1, seen
    assert len(executes) == 24, seen
    assert len(parses) <= stack.fcgi_children, seen
    # the key is not looked up on its own (keys_lookup) any more
    assert ": SELECT secret_hash, workspace, email" not in log, log[-3000:]


def test_checksum_of_a_complete_export_is_the_files_sha256(stack, own):
    ws, key, job = own
    got = stack.api("GET", "/exports/%s/download" % job["id"], key=key)
    assert got.status_code == 200
    assert job["checksum"] == {"sha256": hashlib.sha256(got.content).hexdigest()}, job
    assert got.headers.get("Repr-Digest") == "sha-256=:%s:" % H.b64(
        hashlib.sha256(got.content).digest())


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
    rows = H.db_count(stack, name[0])
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
