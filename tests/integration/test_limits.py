"""Limits of POST /exports (README "HTTP API"): the body size (413), the
Idempotency-Key (replay, 422, forgotten after 24 hours, races), the
per-workspace limit of active jobs (429 with Retry-After).

Tests that leave jobs behind use a workspace of their own.
"""

import concurrent.futures
import hashlib
import json
import re
import socket
import time
import uuid

import pytest

import helpers as H
import stack as S

# Classid of the job advisory locks (src/jobs/jobs.c JOBS_LOCK_NS): a test
# holding a job's lock keeps the workers off a job it marked processing.
JOB_LOCK_NS = 1163416644


# ----------------------------------------------------- body size: 413

def body_limit(stack):
    m = re.search(r"^\s*body_limit\s*=\s*(\d+)\s*([kKmM]?)\s*$",
                  stack.conf_path.read_text(), re.M)
    if not m:
        return 64 * 1024  # the documented default; stack.py does not set it
    return int(m.group(1)) * {"": 1, "k": 1024, "m": 1024 * 1024}[m.group(2).lower()]


def test_body_over_the_limit_is_413(front, stack):
    limit = body_limit(stack)

    def padded(size):
        head, tail = '{"type": "contacts", "pad": "', '"}'
        return head + "a" * (size - len(head) - len(tail)) + tail

    exact = padded(limit)
    assert len(exact) == limit
    # Exactly at the limit: read and judged (the unknown member "pad").
    r = H.assert_writes_nothing(stack, lambda: H.post_raw(stack, front, exact))
    H.field_problem(r, "pad")
    # One byte more, and a lot more: 413 without judging the content.
    for size in (limit + 1, 4 * limit):
        r = H.assert_writes_nothing(stack, lambda: H.post_raw(stack, front, padded(size)))
        H.problem(r, 413)


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
    before = H.jobs_in(stack)
    status, head, body, secs = raw_post(port, stack.key_acme, content_length,
                                        b'{"type": "contacts"}', timeout=4)
    assert status is not None, (
        "no answer within %.0fs to POST /exports with Content-Length: %d and a 20-byte "
        "body (got %r)" % (secs, content_length, head))
    assert status == 413, head
    assert H.jobs_in(stack) == before
    if content_length < 16 * 1024 * 1024:
        # Within the web server's own limit the app must be the one refusing.
        assert re.search(r"(?im)^content-type:\s*application/problem\+json", head), head


# ---------------------------------------------------- Idempotency-Key

def test_idempotent_replay_answers_the_first_202(stack):
    ws, key = H.new_workspace(stack)
    body = {"type": "contacts", "columns": ["id"]}
    h = {"Idempotency-Key": "order-42/" + uuid.uuid4().hex}
    first = H.post(stack, body, key=key, headers=h)
    assert first.status_code == 202, first.text
    assert "Idempotent-Replayed" not in first.headers
    for _ in range(2):
        again = H.post(stack, body, key=key, headers=h)
        assert again.status_code == 202, again.text
        assert again.json()["id"] == first.json()["id"]
        assert again.headers["Location"] == first.headers["Location"]
        assert again.headers.get("Idempotent-Replayed") == "true"
    assert H.jobs_in(stack, ws) == 1
    stored_key, stored_hash = H.row(stack, first.json()["id"], "idempotency_key, idempotency_hash")
    assert stored_key == h["Idempotency-Key"]
    assert stored_hash == hashlib.sha256(json.dumps(body).encode()).hexdigest()
    # without the header, the same body is a new export
    assert H.post(stack, body, key=key).json()["id"] != first.json()["id"]
    # the key belongs to the workspace: another workspace gets its own job
    ws2, key2 = H.new_workspace(stack)
    other = H.post(stack, body, key=key2, headers=h)
    assert other.status_code == 202 and other.json()["id"] != first.json()["id"]


def test_same_key_other_body_is_422(stack):
    ws, key = H.new_workspace(stack)
    h = {"Idempotency-Key": uuid.uuid4().hex}
    first = H.post(stack, {"type": "contacts"}, key=key, headers=h)
    assert first.status_code == 202, first.text
    body = H.problem(H.post(stack, {"type": "invoices"}, key=key, headers=h), 422)
    assert "Idempotency-Key" in body["detail"], body
    # the bytes count: the same JSON spelled differently is another body
    H.problem(H.post(stack, None, key=key, headers=h, raw=b'{"type":  "contacts"}'), 422)
    # an invalid body is judged first (400), the key stays the first job's
    H.field_problem(H.post(stack, {"type": "contacts", "format": "xml"}, key=key, headers=h),
                    "format")
    assert H.jobs_in(stack, ws) == 1
    again = H.post(stack, {"type": "contacts"}, key=key, headers=h)
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]


# (An empty header never reaches the app: lighttpd drops it, so it is the
# same as no key.)
@pytest.mark.parametrize("value", ["k" * 256, "caf\u00e9", "a\tb"],
                         ids=["256-chars", "non-ascii", "tab"])
def test_bad_idempotency_key_is_400(stack, value):
    ws, key = H.new_workspace(stack)
    r = stack.api("POST", "/exports", key=key, data=b'{"type": "contacts"}',
                  headers={"Content-Type": "application/json",
                           "Idempotency-Key": value.encode("latin-1")})
    body = H.problem(r, 400)
    assert body["field"] == "Idempotency-Key", body
    assert body["errors"][0].get("in") == "header", body
    assert H.jobs_in(stack, ws) == 0


def test_idempotency_key_of_255_chars_is_fine(stack):
    ws, key = H.new_workspace(stack)
    h = {"Idempotency-Key": ("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ 09AZaz" * 8)[:254] + "Z"}
    assert len(h["Idempotency-Key"]) == 255 and " " in h["Idempotency-Key"]
    a = H.post(stack, {"type": "contacts"}, key=key, headers=h)
    b = H.post(stack, {"type": "contacts"}, key=key, headers=h)
    assert a.status_code == b.status_code == 202 and a.json()["id"] == b.json()["id"]


def test_idempotency_key_is_forgotten_after_24_hours(stack):
    ws, key = H.new_workspace(stack)
    h = {"Idempotency-Key": uuid.uuid4().hex}
    first = H.post(stack, {"type": "contacts"}, key=key, headers=h).json()["id"]
    stack.pg.query("UPDATE export_jobs SET created_at = created_at - interval '24 hours 1 second'"
                   " WHERE id = %s", (first,))
    # a different body is no longer a conflict: the key is free again
    second = H.post(stack, {"type": "invoices"}, key=key, headers=h)
    assert second.status_code == 202, second.text
    assert second.json()["id"] != first
    assert H.row(stack, first, "idempotency_key")[0] is None
    assert H.row(stack, second.json()["id"], "idempotency_key")[0] == h["Idempotency-Key"]
    third = H.post(stack, {"type": "invoices"}, key=key, headers=h)
    assert third.json()["id"] == second.json()["id"]


def test_concurrent_requests_with_one_key_make_one_job(stack):
    ws, key = H.new_workspace(stack)
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
        assert H.jobs_in(stack, ws) == 1


@pytest.mark.parametrize("same_body", [True, False], ids=["same-body", "other-body"])
def test_unique_constraint_decides_a_race_with_another_inserter(stack, same_body):
    """A plain-SQL insert with the key, uncommitted while the API inserts:
    the API's INSERT waits on the unique index, loses, and answers the
    winner's job (replay) or 422 -- never a second job."""
    ws, key = H.new_workspace(stack)
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
            fut = ex.submit(H.post, stack, None, key, {"Idempotency-Key": k}, body)
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
        H.problem(r, 422)
    assert H.jobs_in(stack, ws) == 1
    stack.api("DELETE", "/exports/" + winner, key=key)


# ----------------------------------------------- limit of active jobs

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


def test_active_job_limit_is_429_with_retry_after_and_ids(stack):
    ws, key = H.new_workspace(stack)
    limit = max_active(stack)
    h = {"Idempotency-Key": uuid.uuid4().hex}
    # one job created with a key before the limit is reached
    keyed = H.post(stack, {"type": "contacts"}, key=key, headers=h)
    assert keyed.status_code == 202
    stack.wait_for_job(keyed.json()["id"], timeout=30, key=key)
    fake = FakeProcessing(stack, ws, started_ago=30, done=100, estimated=400)
    try:
        ids = [fake.id] + [H.insert_pending(stack, ws) for _ in range(limit - 1)]
        r = H.post(stack, {"type": "contacts"}, key=key)
        body = H.problem(r, 429)
        assert body["active_jobs"] == ids, body
        assert body["active_count"] == limit and body["limit"] == limit, body
        # Retry-After: the running job's ETA, 30 s * 300 / 100 left
        assert 85 <= int(r.headers["Retry-After"]) <= 100, r.headers
        assert H.jobs_in(stack, ws) == limit + 1
        # the key's replay is not a new job: still answered
        again = H.post(stack, {"type": "contacts"}, key=key, headers=h)
        assert again.status_code == 202 and again.json()["id"] == keyed.json()["id"]
        # the job's progress: percent and ETA from the rate so far
        p = stack.api("GET", "/exports/" + fake.id, key=key).json()["progress"]
        assert p["percent"] == 25.0 and 85 <= p["eta_seconds"] <= 100, p
    finally:
        fake.close()
    # one slot free: accepted again
    r = H.post(stack, {"type": "contacts"}, key=key)
    assert r.status_code == 202, r.text
    ids.append(H.insert_pending(stack, ws))
    r = H.post(stack, {"type": "contacts"}, key=key)
    H.problem(r, 429)
    assert 1 <= int(r.headers["Retry-After"]) <= 3600
    for i in ids[1:]:
        stack.api("DELETE", "/exports/" + i, key=key)
