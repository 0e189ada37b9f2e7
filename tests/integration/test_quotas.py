"""Per-workspace quotas (README "Quotas"): retained files and bytes refuse
a new export with 429 quota-exceeded (nothing stored is ever deleted to
make room), creates per hour answer 429 with Retry-After, idempotent
replays are never refused, a DELETE frees the quota, and the usage is shown
by GET /exports and `exportctl quota`.

Two webs of their own (export.fcgi x4 behind lighttpd, the session's
database, storage and exportd): one with small retained limits, one with a
small creates-per-hour limit. Every test uses a workspace of its own.
"""

import concurrent.futures
import json
import uuid

import pytest

import helpers as H
import stack as S

FILES, BYTES = 3, 1000     # the retained web's limits
CREATES = 5                # the rate web's limit


def quota_web(stack, tmp_root, name, export):
    run_dir = tmp_root / name
    run_dir.mkdir(mode=0o755)
    conf = S.write_conf_file(run_dir / "exportd.conf", {
        "database": stack.pg.database_conf(),
        "http": {"base_path": "", "download": "x-sendfile"},
        "storage": {"backend": "local", "dir": str(stack.storage_dir)},
        "export": export,
        "log": {"level": "info"}})
    web = S.SideWeb(stack, run_dir, name, children=4)
    return web.start(conf)


@pytest.fixture(scope="module")
def retained(stack, tmp_root):
    web = quota_web(stack, tmp_root, "quota-retained", {
        "max_retained_files_per_workspace": FILES,
        "max_retained_bytes_per_workspace": BYTES,
        "max_creates_per_hour_per_workspace": 0})
    yield web
    web.stop()


@pytest.fixture(scope="module")
def rate(stack, tmp_root):
    web = quota_web(stack, tmp_root, "quota-rate", {
        "max_active_per_workspace": 1000,
        "max_creates_per_hour_per_workspace": CREATES,
        "max_retained_files_per_workspace": 0})
    yield web
    web.stop()


def post(web, key, headers=None):
    return web.api("POST", "/exports", key=key, json={"type": "contacts"}, headers=headers)


def stored(stack, ws, size, status="complete", expires="1 day"):
    """A finished export of ws inserted by SQL (no file: DELETE needs none)."""
    return str(stack.pg.query(
        "INSERT INTO export_jobs (workspace, type, format, status, row_count, file_size,"
        " completed_at, expires_at, purged_at) VALUES (%s, 'contacts', 'csv', %s, 1, %s,"
        " now(), now() + %s::interval, CASE WHEN %s = 'expired' THEN now() END) RETURNING id",
        (ws, status, size, expires, status))[0][0])


def created_ago(stack, ws, minutes):
    """A cancelled job of ws created `minutes` ago: counts for the hour only."""
    stack.pg.query(
        "INSERT INTO export_jobs (workspace, type, format, status, completed_at, created_at)"
        " VALUES (%s, 'contacts', 'csv', 'cancelled', now(), now() - %s * interval '1 minute')",
        (ws, minutes))


def quota_problem(r, quota, usage, limit):
    body = H.problem(r, 429)
    assert body["type"] == "urn:exportd:problem:quota-exceeded", body
    assert (body["quota"], body["usage"], body["limit"]) == (quota, usage, limit), body
    assert "field" not in body, body
    return body


def retry_after(r):
    value = r.headers.get("Retry-After", "")
    assert value.isdigit() and int(value) > 0, r.headers
    return int(value)


def complete(stack, web, key):
    """A real export of the (empty) workspace, waited for: its job."""
    r = post(web, key)
    assert r.status_code == 202, r.text
    job = stack.wait_for_job(r.json()["id"], key=key, api=web.api)
    assert job["status"] == "complete" and job["file_size"] > 0, job
    return job


# ------------------------------------------------- retained files and bytes

def test_retained_files_refuse_then_delete_frees(stack, retained):
    ws, key = H.new_workspace(stack, "qf")
    stored(stack, ws, 10, expires="2 hours")
    stored(stack, ws, 10)
    stored(stack, ws, 10, status="expired")   # its file is gone: not retained
    job = complete(stack, retained, key)
    r = post(retained, key)
    quota_problem(r, "retained_files", FILES, FILES)
    # the first file to expire frees a place: in about 2 hours
    assert 7000 <= retry_after(r) <= 7200, r.headers
    assert H.jobs_in(stack, ws) == 4
    # nothing already stored was touched
    assert H.db_status(stack, job["id"]) == "complete"
    assert stack.storage_dir.joinpath(H.row(stack, job["id"], "file_key")[0]).exists()
    r = retained.api("DELETE", "/exports/" + job["id"], key=key)
    assert r.status_code == 200 and r.json()["status"] == "expired", r.text
    assert post(retained, key).status_code == 202


def test_retained_bytes_refuse_naming_bytes_then_delete_frees(stack, retained):
    ws, key = H.new_workspace(stack, "qb")
    big = stored(stack, ws, BYTES - 1)
    job = complete(stack, retained, key)          # one export may go past the limit
    used = BYTES - 1 + job["file_size"]
    quota_problem(post(retained, key), "retained_bytes", used, BYTES)
    assert H.jobs_in(stack, ws) == 2
    r = retained.api("DELETE", "/exports/" + big, key=key)
    assert r.status_code == 200, r.text
    assert post(retained, key).status_code == 202


def test_usage_in_the_list_and_exportctl(stack, retained):
    ws, key = H.new_workspace(stack, "qu")
    stored(stack, ws, 300)
    stored(stack, ws, 200)
    stored(stack, ws, 999, status="expired")
    H.insert_pending(stack, ws)
    created_ago(stack, ws, 90)                  # outside the hour
    r = retained.api("GET", "/exports?limit=1", key=key)
    assert r.status_code == 200, r.text
    quota = r.json()["quota"]
    assert quota == {"active": {"used": 1, "limit": 10},
                     "creates_per_hour": {"used": 4, "limit": None},
                     "retained_files": {"used": 2, "limit": FILES},
                     "retained_bytes": {"used": 500, "limit": BYTES}}, quota
    # exportctl reads the same file: the limits export.fcgi enforces
    out = S.run([str(stack.exportctl_bin), "-c", str(retained.conf), "quota",
                 "--workspace", ws], "exportctl quota", env=S.clean_env()).stdout
    head, row = out.splitlines()
    assert head.split("\t") == ["workspace", "active", "active_limit", "creates_last_hour",
                                "creates_limit", "retained_files", "files_limit",
                                "retained_bytes", "bytes_limit"], out
    assert row.split("\t") == [ws, "1", "10", "4", "-", "2", str(FILES), "500", str(BYTES)], out
    # every workspace with jobs, this one among them; an unknown one: zeros
    everyone = stack.exportctl("quota").stdout.splitlines()
    assert any(line.startswith(ws + "\t") for line in everyone), everyone
    unknown = "qu_" + uuid.uuid4().hex[:8]
    out = stack.exportctl("quota", "--workspace", unknown).stdout.splitlines()
    assert out[1].split("\t")[:2] == [unknown, "0"] and out[1].split("\t")[7] == "0", out


# ------------------------------------------------------- creates per hour

def test_creates_per_hour_429_with_retry_after(stack, rate):
    ws, key = H.new_workspace(stack, "qr")
    for minutes in (50, 40, 30):
        created_ago(stack, ws, minutes)
    h = {"Idempotency-Key": uuid.uuid4().hex}
    first = post(rate, key, headers=h)
    assert first.status_code == 202, first.text
    assert post(rate, key).status_code == 202     # the 5th create of the hour
    r = post(rate, key)
    quota_problem(r, "creates_per_hour", CREATES, CREATES)
    # the 5th newest create (50 minutes old) leaves the hour in ~10 minutes
    assert 590 <= retry_after(r) <= 601, r.headers
    assert retry_after(r) <= 3600
    assert H.jobs_in(stack, ws) == CREATES
    # a replay of the same key is not a create: answered, not refused
    again = post(rate, key, headers=h)
    assert again.status_code == 202, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    # a new key is a new create: refused
    quota_problem(post(rate, key, headers={"Idempotency-Key": uuid.uuid4().hex}),
                  "creates_per_hour", CREATES, CREATES)
    assert H.jobs_in(stack, ws) == CREATES
    # the list shows it
    quota = rate.api("GET", "/exports", key=key).json()["quota"]
    assert quota["creates_per_hour"] == {"used": CREATES, "limit": CREATES}, quota


def test_parallel_creates_never_pass_the_limit(stack, rate):
    ws, key = H.new_workspace(stack, "qp")
    n = 24
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: post(rate, key), range(n)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [202] * CREATES + [429] * (n - CREATES), codes
    assert H.jobs_in(stack, ws) == CREATES
    for r in answers:
        if r.status_code == 429:
            assert json.loads(r.text)["quota"] == "creates_per_hour"
            assert 1 <= retry_after(r) <= 3600
