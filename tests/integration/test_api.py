"""The HTTP API contract (README "HTTP API"): bad input, auth, routing,
listing, cancelling -- through lighttpd and, where cheap, Apache.

Every bad request must get an RFC 9457 application/problem+json answer,
write nothing, and leave all four export.fcgi processes alive.
"""

import base64
import json
import re
import socket
import time
import uuid

import pytest

# Every answer seen in this module: (server, method, path, status). The last
# test checks that none was a 5xx (the database is up all along).
ANSWERS = []

PROBLEM_TYPE = "application/problem+json"
NIL_ID = "00000000-0000-0000-0000-000000000000"


# ------------------------------------------------------------- helpers

def call(stack, api, method, path, **kw):
    """api(method, path, **kw), recording the answer and checking that no
    export.fcgi process died while it was handled."""
    before = set(stack.fcgi_pids_alive())
    r = api(method, path, **kw)
    ANSWERS.append(("lighttpd" if api is stack.api else "apache", method, path, r.status_code))
    if r.status_code >= 500:
        time.sleep(0.3)  # a crashed child: let it become a zombie first
    lost = before - set(stack.fcgi_pids_alive())
    assert not lost, ("export.fcgi pid(s) %s died handling %s %s (answer %d: %r)"
                      % (sorted(lost), method, path, r.status_code, r.text[:300]))
    return r


def problem(r, status):
    """Assert an RFC 9457 answer with this status; its JSON body."""
    assert r.status_code == status, "expected %d, got %d: %s %r" % (
        status, r.status_code, dict(r.headers), r.text[:1000])
    ctype = r.headers.get("Content-Type", "")
    assert ctype.split(";")[0].strip() == PROBLEM_TYPE, (ctype, r.text[:500])
    try:  # JSON is UTF-8 (RFC 8259): no raw bytes echoed from the request
        body = json.loads(r.content.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise AssertionError("problem body is not UTF-8 (%s): %r" % (e, r.content[:600]))
    assert body["status"] == status, body
    assert body["type"].startswith("urn:exportd:problem:"), body
    assert isinstance(body.get("title"), str) and body["title"], body
    assert isinstance(body.get("detail"), str) and body["detail"], body
    return body


def field_problem(r, field, status=400):
    """A problem that names `field` (or an element of it, "columns/1") in
    `field` and lists it in `errors` with a JSON pointer."""
    body = problem(r, status)

    def names(f):
        if field is None:  # any field will do
            return isinstance(f, str)
        return f == field or (field != "" and f.startswith(field + "/"))

    assert "field" in body, "no `field` in %s" % body
    assert names(body["field"]), "field %r, expected %r: %s" % (body["field"], field, body)
    errors = body.get("errors")
    assert isinstance(errors, list) and errors, body
    hits = [e for e in errors if names(e.get("field", None))]
    assert hits, "no error for %r in %s" % (field, body)
    for e in hits:
        assert e["pointer"] == json_pointer(e["field"]), e
        assert isinstance(e.get("detail"), str) and e["detail"], e
    return body


def json_pointer(field):
    """RFC 6901 pointer for a `field`: "" is the body, "columns/2" an element
    of a member, anything else one member (with ~ and / escaped)."""
    if field == "":
        return ""
    if re.fullmatch(r"columns/\d+", field):
        return "/" + field
    return "/" + field.replace("~", "~0").replace("/", "~1")


def job_count(stack, workspace="acme"):
    return stack.pg.query("SELECT count(*) FROM export_jobs WHERE workspace = %s",
                          (workspace,))[0][0]


def post_raw(stack, api, data, content_type="application/json", key=None, **kw):
    headers = dict(kw.pop("headers", {}))
    if content_type is not None:
        headers["Content-Type"] = content_type
    if key is not None:
        kw["key"] = key
    if isinstance(data, str):
        data = data.encode("utf-8")
    return call(stack, api, "POST", "/exports", data=data, headers=headers, **kw)


def assert_writes_nothing(stack, fn):
    """Run fn(); the acme workspace must have exactly as many jobs after."""
    before = job_count(stack)
    r = fn()
    after = job_count(stack)
    assert after == before, "a rejected request wrote %d job row(s): %d %r" % (
        after - before, r.status_code, r.text[:300])
    return r


def new_key(stack, workspace):
    out = stack.exportctl("apikey", "create", "--workspace", workspace,
                          "--email", "t-%s@example.com" % uuid.uuid4().hex[:6]).stdout
    key = out.strip()
    assert key.startswith("exk_") and "\n" not in key, out
    return key


def insert_pending(stack, workspace="acme", type_="contacts"):
    """A job that stays pending: run_at far in the future."""
    return str(stack.pg.query(
        "INSERT INTO export_jobs (workspace, type, format, run_at)"
        " VALUES (%s, %s, 'csv', now() + interval '10 years') RETURNING id",
        (workspace, type_))[0][0])


def db_status(stack, job_id):
    return stack.pg.query("SELECT status FROM export_jobs WHERE id = %s", (job_id,))[0][0]


def b64url(raw):
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def body_limit(stack):
    m = re.search(r"^\s*body_limit\s*=\s*(\d+)\s*([kKmM]?)\s*$",
                  stack.conf_path.read_text(), re.M)
    if not m:
        return 64 * 1024  # the documented default; stack.py does not set it
    return int(m.group(1)) * {"": 1, "k": 1024, "m": 1024 * 1024}[m.group(2).lower()]


@pytest.fixture(scope="module")
def complete_job(stack):
    r = call(stack, stack.api, "POST", "/exports", json={"type": "invoices", "format": "csv"})
    assert r.status_code == 202, r.text
    job = stack.wait_for_job(r.json()["id"], timeout=30)
    assert job["status"] == "complete", job
    return job


# ------------------------------------------------------ POST /exports: 400

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
    r = assert_writes_nothing(stack, lambda: post_raw(stack, front, body))
    field_problem(r, field)


def test_every_fault_is_listed(stack):
    r = assert_writes_nothing(stack, lambda: post_raw(stack, stack.api, json.dumps(
        {"type": "contacts", "format": "xml", "columns": ["id", "nope", "id"], "extra": 1})))
    body = problem(r, 400)
    fields = [e["field"] for e in body["errors"]]
    assert body.get("field") in fields, body  # `field` names one of the faults
    assert "format" in fields and "extra" in fields, body
    assert any(f.startswith("columns/") for f in fields), body
    assert len(body["errors"]) >= 4, body  # format, extra, unknown column, duplicate


# ------------------------------------------------- POST /exports: 415, 413

@pytest.mark.parametrize("ctype", [None, "text/plain", "application/x-www-form-urlencoded",
                                   "application/jsonx", "multipart/form-data; boundary=x"])
def test_wrong_content_type_is_415(front, stack, ctype):
    r = assert_writes_nothing(stack, lambda: post_raw(
        stack, front, '{"type": "contacts"}', content_type=ctype))
    problem(r, 415)


def test_json_content_type_with_charset_is_accepted(stack):
    r = post_raw(stack, stack.api, '{"type": "contacts", "columns": ["id"]}',
                 content_type="application/json; charset=utf-8")
    assert r.status_code == 202, r.text


def test_body_over_the_limit_is_413(front, stack):
    limit = body_limit(stack)

    def padded(size):
        head, tail = '{"type": "contacts", "pad": "', '"}'
        return head + "a" * (size - len(head) - len(tail)) + tail

    exact = padded(limit)
    assert len(exact) == limit
    # Exactly at the limit: read and judged (the unknown member "pad").
    r = assert_writes_nothing(stack, lambda: post_raw(stack, front, exact))
    field_problem(r, "pad")
    # One byte more, and a lot more: 413 without judging the content.
    for size in (limit + 1, 4 * limit):
        r = assert_writes_nothing(stack, lambda: post_raw(stack, front, padded(size)))
        problem(r, 413)


def raw_post(port, key, content_length, body, timeout):
    """POST /exports announcing content_length but sending only body, and
    keeping the connection open (a client waiting for the answer).
    Returns (status or None on timeout, head text, body bytes, seconds)."""
    req = ("POST /exports HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
           "Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
           % (key, content_length)).encode() + body
    t0 = time.monotonic()
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(req)
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
                head, sep, rest = data.partition(b"\r\n\r\n")
                m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
                if sep and m and len(rest) >= int(m.group(1)):
                    break
        except socket.timeout:
            return None, data.decode("latin-1"), b"", time.monotonic() - t0
    head, _, rest = data.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    return (int(m.group(1)) if m else None), head.decode("latin-1"), rest, \
        time.monotonic() - t0


@pytest.mark.parametrize("content_length", [1000000, 10 ** 12], ids=["1MB", "1TB"])
def test_huge_content_length_with_small_body_is_413_at_once(front, stack, content_length):
    port = int(front.base_url.rsplit(":", 1)[1])
    before = job_count(stack)
    status, head, body, secs = raw_post(port, stack.key_acme, content_length,
                                        b'{"type": "contacts"}', timeout=4)
    assert status is not None, (
        "no answer within %.0fs to POST /exports with Content-Length: %d and a 20-byte "
        "body (got %r)" % (secs, content_length, head))
    assert status == 413, head
    assert job_count(stack) == before
    if content_length < 16 * 1024 * 1024:
        # Within the web server's own limit the app must be the one refusing.
        assert re.search(r"(?im)^content-type:\s*application/problem\+json", head), head


# ------------------------------------------------------------------ auth

def _auth_cases(stack):
    real = stack.key_acme
    kid, secret = real[4:16], real[17:]
    other_secret = ("0" if secret[0] != "0" else "1") + secret[1:]
    return {
        "missing": {},
        "basic-scheme": {"Authorization": "Basic " + base64.b64encode(b"a:b").decode()},
        "bearer-empty": {"Authorization": "Bearer "},
        "malformed": {"Authorization": "Bearer not-a-key"},
        "too-long": {"Authorization": "Bearer " + real + "0"},
        "uppercase-hex": {"Authorization": "Bearer exk_%s_%s" % (kid, secret.upper())},
        "unknown-id": {"Authorization": "Bearer exk_%s_%s" % ("ab" * 6, secret)},
        "wrong-secret": {"Authorization": "Bearer exk_%s_%s" % (kid, other_secret)},
    }


AUTH_CASES = ["missing", "basic-scheme", "bearer-empty", "malformed", "too-long",
              "uppercase-hex", "unknown-id", "wrong-secret"]


def assert_401(r):
    problem(r, 401)
    www = r.headers.get("WWW-Authenticate", "")
    assert www.lower().startswith("bearer"), dict(r.headers)


@pytest.mark.parametrize("case", AUTH_CASES)
def test_bad_key_is_401(front, stack, complete_job, case):
    headers = _auth_cases(stack)[case]
    assert_401(call(stack, front, "GET", "/exports", key=None, headers=headers))
    assert_401(call(stack, front, "GET", "/exports/" + complete_job["id"], key=None,
                    headers=headers))
    assert_401(call(stack, front, "GET", "/exports/%s/download" % complete_job["id"],
                    key=None, headers=headers))
    r = assert_writes_nothing(stack, lambda: call(
        stack, front, "POST", "/exports", key=None, json={"type": "contacts"},
        headers=headers))
    assert_401(r)


def test_revoked_key_is_401(stack):
    key = new_key(stack, "acme")
    r = call(stack, stack.api, "GET", "/exports", key=key)
    assert r.status_code == 200, r.text
    stack.exportctl("apikey", "revoke", key)
    assert_401(call(stack, stack.api, "GET", "/exports", key=key))
    r = assert_writes_nothing(stack, lambda: call(
        stack, stack.api, "POST", "/exports", key=key, json={"type": "contacts"}))
    assert_401(r)
    # the other keys of the workspace still work
    assert call(stack, stack.api, "GET", "/exports").status_code == 200


# ------------------------------------------------------ routes, 404, 405

@pytest.mark.parametrize("path", [
    "/", "/nope", "/exportsXYZ", "/exports/", "/export", "/healthz/x",
    "/exports/%s/download/x" % NIL_ID, "/exports/%s/" % NIL_ID, "/api/exports",
])
def test_unknown_route_is_404(front, stack, path):
    problem(call(stack, front, "GET", path), 404)


@pytest.mark.parametrize("path", [
    "/exports/not-a-uuid", "/exports/12345", "/exports/" + NIL_ID.replace("-", ""),
    "/exports/" + NIL_ID + "0", "/exports/" + NIL_ID[:-1] + "g",
    "/exports/not-a-uuid/download",
])
def test_malformed_id_is_404(front, stack, path):
    problem(call(stack, front, "GET", path), 404)
    problem(call(stack, front, "DELETE", path), 404)


def _without_instance(r):
    body = r.json()
    body.pop("instance", None)
    return body


def test_other_workspace_job_is_404_like_unknown_id(front, stack, complete_job):
    pending = insert_pending(stack)
    for job_id in (complete_job["id"], pending):
        for method, suffix in (("GET", ""), ("GET", "/download"), ("DELETE", "")):
            theirs = call(stack, front, method, "/exports/%s%s" % (job_id, suffix),
                          key=stack.key_globex)
            unknown = call(stack, front, method, "/exports/%s%s" % (uuid.uuid4(), suffix),
                           key=stack.key_globex)
            problem(theirs, 404)
            problem(unknown, 404)
            assert _without_instance(theirs) == _without_instance(unknown), (method, suffix)
            assert theirs.headers["Content-Type"] == unknown.headers["Content-Type"]
    # globex's DELETE did not cancel acme's job, nor does globex's list show it
    assert db_status(stack, pending) == "pending"
    listed = call(stack, front, "GET", "/exports?limit=100", key=stack.key_globex).json()
    assert not {complete_job["id"], pending} & {j["id"] for j in listed["data"]}
    call(stack, stack.api, "DELETE", "/exports/" + pending)  # tidy up


@pytest.mark.parametrize("method, path, allow", [
    ("PUT", "/exports", {"GET", "HEAD", "POST"}),
    ("DELETE", "/exports", {"GET", "HEAD", "POST"}),
    ("PATCH", "/exports", {"GET", "HEAD", "POST"}),
    ("POST", "/exports/" + NIL_ID, {"GET", "HEAD", "DELETE"}),
    ("PUT", "/exports/" + NIL_ID, {"GET", "HEAD", "DELETE"}),
    ("POST", "/exports/%s/download" % NIL_ID, {"GET", "HEAD"}),
    ("DELETE", "/exports/%s/download" % NIL_ID, {"GET", "HEAD"}),
    ("POST", "/healthz", {"GET", "HEAD"}),
])
def test_wrong_method_is_405_with_allow(front, stack, method, path, allow):
    r = assert_writes_nothing(stack, lambda: call(
        stack, front, method, path, data=b"{}", headers={"Content-Type": "application/json"}))
    problem(r, 405)
    got = {m.strip() for m in r.headers.get("Allow", "").split(",") if m.strip()}
    assert got == allow, r.headers


def test_healthz(front, stack):
    r = call(stack, front, "GET", "/healthz", key=None)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].split(";")[0] == "application/json"
    assert r.json() == {"status": "ok"}


# ------------------------------------------------------------ GET /exports

def test_list_pagination_walks_every_job_once_newest_first(stack):
    ws = "pages_" + uuid.uuid4().hex[:8]
    key = new_key(stack, ws)
    api = stack.api
    for _ in range(5):
        r = call(stack, api, "POST", "/exports", key=key, json={"type": "contacts"})
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
        r = call(stack, api, "GET", "/exports", key=key, params=params)
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

    r = call(stack, api, "GET", "/exports", key=key)
    body = r.json()
    assert [j["id"] for j in body["data"]] == expected and body["next_cursor"] is None
    # a workspace only sees its own jobs
    acme = call(stack, api, "GET", "/exports", params={"limit": 100}).json()
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
    pytest.param("cursor=" + b64url(b"junk"), "cursor", id="cursor-b64-junk"),
    pytest.param("cursor=" + b64url(b"junk|not-a-uuid"), "cursor", id="cursor-b64-no-uuid"),
    pytest.param("cursor=" + b64url(b"2024-13-45 25:61:61+00|" + NIL_ID.encode()), "cursor",
                 id="cursor-b64-bad-timestamp"),
    pytest.param("cursor=" + b64url(b"|" + NIL_ID.encode()), "cursor", id="cursor-b64-no-ts"),
])
def test_bad_list_params_are_400(front, stack, query, field):
    field_problem(call(stack, front, "GET", "/exports?" + query), field)


# ------------------------------------------------------ DELETE, download

def test_cancel_pending_job(stack):
    job_id = insert_pending(stack)
    r = call(stack, stack.api, "GET", "/exports/%s/download" % job_id)
    problem(r, 409)
    for _ in range(2):  # cancelling again answers the same
        r = call(stack, stack.api, "DELETE", "/exports/" + job_id)
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"].split(";")[0] == "application/json"
        job = r.json()
        assert job["id"] == job_id and job["status"] == "cancelled", job
        assert job["completed_at"] is not None, job
        assert db_status(stack, job_id) == "cancelled"
    problem(call(stack, stack.api, "GET", "/exports/%s/download" % job_id), 409)


def test_cancel_failed_job_is_409(stack):
    # A complete job's DELETE removes its file (test_contract_api.py); a
    # failed one has nothing to cancel or remove.
    job_id = str(stack.pg.query(
        "INSERT INTO export_jobs (workspace, type, format, status, error_code, error_message,"
        " completed_at) VALUES ('acme', 'contacts', 'csv', 'failed', 'invalid_job', 'x', now())"
        " RETURNING id")[0][0])
    r = call(stack, stack.api, "DELETE", "/exports/" + job_id)
    problem(r, 409)
    assert db_status(stack, job_id) == "failed"
    r = call(stack, stack.api, "GET", "/exports/" + job_id)
    assert r.json()["status"] == "failed" and not r.json()["cancel_requested"]


def test_download_of_pending_job_is_409(front, stack):
    job_id = insert_pending(stack)
    problem(call(stack, front, "GET", "/exports/%s/download" % job_id), 409)
    call(stack, stack.api, "DELETE", "/exports/" + job_id)


# -------------------------------------------------------------- the end

def test_zz_no_request_crashed_a_process(stack):
    """Runs last in this module: every export.fcgi is alive, no 5xx seen."""
    assert ANSWERS, "no requests recorded"
    alive = stack.fcgi_pids_alive()
    errors = [a for a in ANSWERS if a[3] >= 500]
    assert len(alive) == 4 and not errors, (
        "%d of 4 export.fcgi processes alive; 5xx answers: %s" % (len(alive), errors))
