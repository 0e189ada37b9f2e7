"""exportd with storage.backend = s3, against s3rver behind the
SigV4-verifying proxy of s3stack.py.

The session's exportd is stopped while this module runs. Its daemons
(stack.ExtraExportd, one claiming jobs at a time, on the session's
PostgreSQL and storage dir):

  local  storage.backend = local, part_size 5M: the reference exports
  s3     storage.backend = s3 through the proxy, part_size 5M
  bad    the same with a wrong s3.secret_access_key
  tight  s3 with max_row_size 4k and write_buffer 64k (the smallest
         buffer a part may need; gzip members below 5 MiB pile up on it)

Jobs are created, downloaded and deleted through this module's own
export.fcgi x4 + lighttpd (stack.SideWeb), which read the s3 daemon's
config (the session's export.fcgi reads the session's, which has no [s3]):
the download route must presign with its [s3] keys.

Data: workspace s3big (60000 rows per demo table: a CSV export of its
contacts is ~14 MB, three parts) and s3small (300 rows: one part), both
from sql/demo/generate.sql; export type and workspace s3blobs (table
s3_blobs: 9000 rows of random base64, which gzip hardly shrinks).
A CSV export to S3 must be byte-identical to the local export of the same
job parameters (and the local one to `psql \\copy`, helpers.reference_select's
recipe); gzip ones too (one member per part, same part size). An XLSX
(built locally, then uploaded whole in parts) holds the CSV export's rows.

Every test resets the proxy's request log and fault rules first. "No
multipart upload left open" is checked twice: in the log (every upload id
completed or aborted, no create without parts) and on s3rver's disk.

Figures (printed, run with -s): wall time (started_at -> completed_at) of
the 60k-row CSV export to local storage and to S3, each alone on a freshly
started daemon, and the peak RSS (VmHWM) of the worker that ran it.
"""

import json
import re
import signal
import subprocess
import time
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import openpyxl
import pytest
import requests

import helpers as H
import stack as S
from s3export import PART_SIZE, claimed_by, classify, multipart, open_uploads, s3_settings, wall
from s3stack import S3Server

BIG, BIG_ROWS = "s3big", 60000
SMALL, SMALL_ROWS = "s3small", 300
BLOBS, BLOB_ROWS = "s3blobs", 9000   # workspace and export type: random base64
JOB_TIMEOUT = 40
WRONG_SECRET = "exportd/Wrong+Secret/Key0123456789abcdefgh"

FIGURES = {}


# ------------------------------------------------------------ the module's set-up

class Env:
    def __init__(self, stack, srv, root):
        self.stack = stack
        self.pg = stack.pg
        self.srv = srv
        self.root = root
        self.keys = {}
        self.daemons = {}
        self.settings = {}
        self.current = None
        self.web = None
        self.jobs = []
        self.local = {}      # name -> SimpleNamespace(job, data, wall, hwm)

    # -- daemons

    def use(self, name, fresh=False):
        """Make daemon `name` the only one claiming jobs (restarted when
        fresh, so that its workers' VmHWM covers only what comes next)."""
        if self.current is not None and (self.current.name != self.daemons[name].name or fresh):
            self.current.stop(grace=15)
            self.current = None
        d = self.daemons[name]
        if not d.alive():
            d.start()
        self.current = d
        return d

    # -- jobs through this module's lighttpd

    def create(self, ws, **body):
        body.setdefault("type", "contacts")
        body.setdefault("format", "csv")
        r = self.web.api("POST", "/exports", key=self.keys[ws], json=body)
        assert r.status_code == 202, (r.status_code, r.text)
        job = r.json()
        self.jobs.append(job["id"])
        job["_ws"] = ws
        return job

    def create_checkpointed(self, ws):
        """A job of ws, once its first part is checkpointed, while the proxy
        holds its part 2 up for 3 s (a kill then lands between parts):
        (job, its row)."""
        self.srv.faults({"match": {"method": "PUT", "query_has": "partNumber=2"},
                         "action": "delay", "seconds": 3.0, "times": 1})
        job = self.create(ws)
        deadline = time.monotonic() + JOB_TIMEOUT
        while True:
            row = self.row(job["id"])
            if row.ckpt_part and row.ckpt_part >= 1 and row.ckpt_storage:
                return job, row
            assert row.status in ("pending", "processing"), row
            assert time.monotonic() < deadline, "no checkpointed part: %s" % row
            time.sleep(0.02)

    def get(self, job):
        r = self.web.api("GET", "/exports/%s" % job["id"], key=self.keys[job["_ws"]])
        assert r.status_code == 200, (r.status_code, r.text)
        got = r.json()
        got["_ws"] = job["_ws"]
        return got

    def wait(self, job, until=S.TERMINAL_STATUSES, timeout=JOB_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            got = self.get(job)
            if got["status"] in until:
                return got
            if self.current is not None and not self.current.alive():
                raise AssertionError("job %s is %s and %s died\n%s" % (
                    job["id"], got["status"], self.current.name,
                    S.logs_excerpt([self.current.name])))
            if time.monotonic() > deadline:
                raise AssertionError("job %s still %s after %ss: %s\n%s" % (
                    job["id"], got["status"], timeout, got,
                    S.logs_excerpt([self.current.name] if self.current else None)))
            time.sleep(0.05)

    def done(self, job, timeout=JOB_TIMEOUT):
        got = self.wait(job, timeout=timeout)
        assert got["status"] == "complete", "job %s: %s\n%s" % (
            job["id"], got, S.logs_excerpt([self.current.name]))
        return got

    def row(self, job_id):
        cols = ("status", "attempts", "file_key", "ckpt_part", "ckpt_bytes", "ckpt_rows",
                "ckpt_storage", "checksum", "file_size", "error_code", "error_message")
        r = self.pg.query("SELECT %s FROM export_jobs WHERE id = %%s" % ", ".join(cols),
                          (job_id,))
        assert r, "job %s is gone" % job_id
        return SimpleNamespace(**dict(zip(cols, r[0])))

    # -- S3

    def object_key(self, job_id):
        return "exports/" + self.row(job_id).file_key

    def object_path(self, job_id):
        return "/%s/%s" % (self.srv.bucket, self.object_key(job_id))

    def local_bytes(self, job_id):
        return (self.stack.storage_dir / self.row(job_id).file_key).read_bytes()


def make_blobs(stack):
    """Export type s3blobs: rows of 1368 base64 characters of random bytes,
    which gzip shrinks by a quarter only (a 5 MiB part -> a ~3.9 MiB member)."""
    stack.psql("-c", """
        CREATE TABLE s3_blobs (id bigserial PRIMARY KEY, workspace text NOT NULL,
                               payload text NOT NULL);
        INSERT INTO s3_blobs (workspace, payload)
            SELECT '{ws}', translate(encode(decode(string_agg(md5(random()::text), ''
                   ORDER BY i), 'hex'), 'base64'), E'\\n', '')
            FROM generate_series(1, {rows}) g, generate_series(1, 64) i GROUP BY g ORDER BY g;
        INSERT INTO export_types (name, relation, key_column, workspace_column, columns)
            VALUES ('{ws}', 's3_blobs', 'id', 'workspace', ARRAY['id', 'payload']);
    """.format(ws=BLOBS, rows=BLOB_ROWS))
    stack.pg.expose(BLOBS)


def worker_hwm(daemon, job_id, log0):
    pids = claimed_by(daemon, job_id, log0)
    assert len(pids) == 1, "job %s claimed by %s" % (job_id, pids)
    return H.proc_status_kib(pids[0], "VmHWM")


@pytest.fixture(scope="module")
def env(stack, tmp_root):
    stack.exportd.stop(grace=15)
    srv = S3Server(tmp_root / "s3-export", name="s3 export")
    e = Env(stack, srv, tmp_root)
    try:
        srv.start()
        H.generate(stack, BIG, BIG_ROWS)
        H.generate(stack, SMALL, SMALL_ROWS)
        make_blobs(stack)
        for ws in (BIG, SMALL, BLOBS):
            out = stack.exportctl("apikey", "create", "--workspace", ws,
                                  "--email", "%s@example.com" % ws).stdout.strip()
            assert out.startswith("exk_"), out
            e.keys[ws] = out
        base = s3_settings(srv)
        e.daemons["local"] = S.ExtraExportd(stack, "exportd s3-local",
                                            {"exportd": base["exportd"]})
        e.daemons["s3"] = S.ExtraExportd(stack, "exportd s3", base)
        e.daemons["bad"] = S.ExtraExportd(stack, "exportd s3-badsecret",
                                          s3_settings(srv, secret_key=WRONG_SECRET))
        e.daemons["tight"] = S.ExtraExportd(stack, "exportd s3-tight", s3_settings(
            srv, exportd={"max_row_size": "4k", "write_buffer": "64k"}))
        e.web = S.SideWeb(stack, tmp_root / "s3-web", "s3").start(e.daemons["s3"].conf_path)

        # The references: local storage, same part size. The big CSV alone
        # on a fresh daemon (its wall time and its worker's VmHWM are figures).
        d = e.use("local")
        log0 = d.log_size()
        job = e.done(e.create(BIG))
        e.local["big"] = SimpleNamespace(job=job, data=e.local_bytes(job["id"]), wall=wall(job),
                                         hwm=worker_hwm(d, job["id"], log0))
        gz, small = e.create(BIG, compression="gzip"), e.create(SMALL)
        for name, j in (("big.gz", gz), ("small", small)):
            j = e.done(j)
            e.local[name] = SimpleNamespace(job=j, data=e.local_bytes(j["id"]))
        yield e
    finally:
        try:
            for d in e.daemons.values():
                d.stop(grace=15)
            if e.web is not None:
                e.web.stop()
            if e.jobs:
                stack.pg.query("UPDATE export_jobs SET status = 'cancelled', completed_at = now()"
                               " WHERE id = ANY(%s::uuid[]) AND status IN ('pending',"
                               " 'processing')", (e.jobs,))
            srv.stop()
        finally:
            stack.start_exportd()


@pytest.fixture(autouse=True)
def _fresh_s3(request):
    if "env" in request.fixturenames:
        srv = request.getfixturevalue("env").srv
        srv.reset()
    yield


def assert_all_verified(log):
    assert log, "the proxy saw no request"
    bad = [e for e in log if e["verdict"] != "ok"]
    assert not bad, "requests that did not verify: %s" % json.dumps(bad, indent=1)[:4000]


def assert_none_open(env, mp, key):
    assert mp.open == [], "multipart uploads left open for %s: %s (creates %d, completes %s)" % (
        key, mp.open, len(mp.creates), mp.completes)
    left = {u: k for u, k in open_uploads(env.srv).items() if k == key}
    assert not left, "s3rver still holds uploads of %s: %s" % (key, left)


@pytest.fixture(scope="module")
def big_s3(env):
    """The 60k-row CSV export to S3, alone on a freshly started s3 daemon."""
    d = env.use("s3", fresh=True)
    env.srv.reset()
    log0 = d.log_size()
    job = env.done(env.create(BIG))
    hwm = worker_hwm(d, job["id"], log0)
    key = env.object_key(job["id"])
    return SimpleNamespace(job=job, key=key, path=env.object_path(job["id"]),
                           data=env.srv.get(key), log=env.srv.log(), wall=wall(job), hwm=hwm,
                           daemon_log=d.log_text(log0))


# ============================================================ 1. CSV to S3

def test_local_reference_is_psql_copy(env, tmp_path):
    """The reference itself: the local export is the psql \\copy of the rows."""
    want = H.psql_copy_csv(env.pg, H.reference_select(env.pg, "contacts", BIG),
                           tmp_path / "ref.csv")
    assert env.local["big"].data == want, "local export of %s differs from psql \\copy" % BIG
    assert len(want) > 2 * PART_SIZE, "too small for several 5 MiB parts: %d bytes" % len(want)
    assert env.local["big"].job["checksum"] == {"sha256": H.sha256_bytes(want)}


def test_csv_export_to_s3_is_multipart_verified_and_identical(env, big_s3):
    job, ref = big_s3.job, env.local["big"]
    assert big_s3.data is not None, "no object %s in %s" % (big_s3.key, env.srv.objects())
    assert H.sha256_bytes(big_s3.data) == H.sha256_bytes(ref.data), (
        "S3 object: %d bytes, local export of the same rows: %d bytes"
        % (len(big_s3.data), len(ref.data)))
    assert job["checksum"] == {"sha256": H.sha256_bytes(big_s3.data)}, job["checksum"]
    assert env.srv.objects("exports/").get(big_s3.key) == len(ref.data)
    assert env.row(job["id"]).attempts == 1

    log = big_s3.log
    assert_all_verified(log)
    mp = multipart(log, big_s3.path)
    assert len(mp.creates) == 1, [e["query"] for e in mp.creates]
    numbers = [n for _, _, n, _, _ in mp.parts]
    nparts = (len(ref.data) - 1) // PART_SIZE + 1
    assert nparts >= 3, nparts
    # Every part but the last is the first row boundary past 5 MiB.
    assert numbers == list(range(1, nparts + 1)), numbers
    assert all(st == 200 for _, _, _, st, _ in mp.parts), mp.parts
    assert len(mp.upload_ids) == 1, mp.upload_ids
    assert mp.completes == {mp.upload_ids[0]: [200]}, mp.completes
    sizes = [e["bytes"] for e in mp.entries if "partNumber=" in e["query"]]
    assert all(s >= PART_SIZE for s in sizes[:-1]) and sum(sizes) == len(ref.data), sizes
    assert_none_open(env, mp, big_s3.key)
    ops = [e for e in log if e["path"] != big_s3.path]
    assert not ops, "requests for other keys: %s" % ops
    # libcurl's default for a POST body is not what the object is.
    head = env.srv.direct_client().head_object(Bucket=env.srv.bucket, Key=big_s3.key)
    assert head["ContentType"] != "application/x-www-form-urlencoded", head["ContentType"]

    H.figure(FIGURES, "60k-row CSV (%.1f MB) to local storage: wall s" % (len(ref.data) / 1e6),
             "%.3f (%.1f MB/s, %d rows/s)" % (ref.wall, len(ref.data) / 1e6 / ref.wall,
                                             BIG_ROWS / ref.wall))
    H.figure(FIGURES, "60k-row CSV to S3 (via proxy): wall s", "%.3f (%.1f MB/s, %d rows/s)" % (
        big_s3.wall, len(big_s3.data) / 1e6 / big_s3.wall, BIG_ROWS / big_s3.wall))
    H.figure(FIGURES, "S3/local wall ratio", "%.2f" % (big_s3.wall / ref.wall))
    H.figure(FIGURES, "worker VmHWM, local export (MiB)", "%.1f" % (ref.hwm / 1024))
    H.figure(FIGURES, "worker VmHWM, S3 export (MiB)", "%.1f" % (big_s3.hwm / 1024))
    upload_s = sum(e["elapsed"] for e in mp.entries)
    H.figure(FIGURES, "S3 requests' time in the proxy (s)", "%.3f over %d requests" % (
        upload_s, len(mp.entries)))


def test_small_csv_export_to_s3_is_one_part(env):
    env.use("s3")
    job = env.done(env.create(SMALL))
    key = env.object_key(job["id"])
    data = env.srv.get(key)
    ref = env.local["small"].data
    assert data is not None and H.sha256_bytes(data) == H.sha256_bytes(ref), (
        len(data or b""), len(ref))
    assert job["checksum"] == {"sha256": H.sha256_bytes(data)}
    log = env.srv.log()
    assert_all_verified(log)
    mp = multipart(log, env.object_path(job["id"]))
    assert [(n, st) for _, _, n, st, _ in mp.parts] == [(1, 200)], mp.parts
    assert len(mp.creates) == 1 and len(mp.upload_ids) == 1
    assert mp.completes == {mp.upload_ids[0]: [200]}
    assert_none_open(env, mp, key)


# ============================================================ 2. gzip

def test_gzip_export_to_s3(env, tmp_path):
    env.use("s3")
    job = env.done(env.create(BIG, compression="gzip"))
    key = env.object_key(job["id"])
    assert key.endswith(".csv.gz"), key
    data = env.srv.get(key)
    assert data is not None, env.srv.objects()
    assert data[:2] == b"\x1f\x8b", data[:16]
    path = tmp_path / "s3.csv.gz"
    path.write_bytes(data)
    p = subprocess.run(["gzip", "-t", str(path)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, "gzip -t: %s" % p.stderr
    plain = subprocess.run(["gzip", "-dc", str(path)], capture_output=True, timeout=60,
                           check=True).stdout
    assert H.sha256_bytes(plain) == H.sha256_bytes(env.local["big"].data), (
        "decompressed: %d bytes, CSV export: %d" % (len(plain), len(env.local["big"].data)))
    # One member per 5M part, as on local storage: the same bytes.
    assert H.sha256_bytes(data) == H.sha256_bytes(env.local["big.gz"].data), (len(data),
                                                             len(env.local["big.gz"].data))
    assert job["checksum"] == {"sha256": H.sha256_bytes(data)}
    log = env.srv.log()
    assert_all_verified(log)
    mp = multipart(log, env.object_path(job["id"]))
    numbers = [n for _, _, n, _, _ in mp.parts]
    assert numbers == list(range(1, len(numbers) + 1)) and numbers, mp.parts
    # Members smaller than 5 MiB wait for the next: every part but the last >= 5 MiB.
    sizes = [e["bytes"] for e in mp.entries if "partNumber=" in e["query"]]
    assert all(s >= PART_SIZE for s in sizes[:-1]) and sum(sizes) == len(data), sizes
    assert len(mp.upload_ids) == 1 and mp.completes == {mp.upload_ids[0]: [200]}
    assert_none_open(env, mp, key)


def test_xlsx_export_to_s3_is_the_finished_workbook_in_parts(env, tmp_path):
    """An XLSX is built locally, then its finished file is uploaded as a
    multipart upload: one valid workbook with every row of the CSV export."""
    env.use("s3")
    job = env.done(env.create(BIG, format="xlsx"), timeout=120)
    key = env.object_key(job["id"])
    assert key.endswith(".xlsx"), key
    data = env.srv.get(key)
    assert data is not None and data[:4] == b"PK\x03\x04", env.srv.objects()
    assert job["checksum"] == {"sha256": H.sha256_bytes(data)} and job["file_size"] == len(data)
    path = tmp_path / "s3.xlsx"
    path.write_bytes(data)
    ws = openpyxl.load_workbook(path, read_only=True)["contacts"]
    ids = [row[0].value for row in ws.iter_rows(min_row=2, max_col=1)]
    csv_ids = [int(line.split(b",", 1)[0])
               for line in env.local["big"].data.split(b"\n")[1:] if line[:1].isdigit()]
    assert ids == csv_ids and len(ids) == job["row_count"], (len(ids), len(csv_ids))
    log = env.srv.log()
    assert_all_verified(log)
    mp = multipart(log, env.object_path(job["id"]))
    sizes = [e["bytes"] for e in mp.entries if "partNumber=" in e["query"]]
    assert len(sizes) >= 2 and all(s >= PART_SIZE for s in sizes[:-1]), sizes
    assert sum(sizes) == len(data), (sum(sizes), len(data))
    assert len(mp.upload_ids) == 1 and mp.completes == {mp.upload_ids[0]: [200]}
    assert_none_open(env, mp, key)


def test_gzip_members_below_5mib_are_held_without_overflow(env, tmp_path):
    """Poorly compressible data, max_row_size 4k: a held gzip member (< 5
    MiB) plus the next one is more than part_size + write_buffer +
    max_row_size; the held data goes out with it as one part all the same."""
    env.use("tight")
    try:
        job = env.wait(env.create(BLOBS, type=BLOBS, compression="gzip"))
    finally:
        env.use("s3")
    assert job["status"] == "complete", job
    key = env.object_key(job["id"])
    data = env.srv.get(key)
    path = tmp_path / "blobs.csv.gz"
    path.write_bytes(data)
    subprocess.run(["gzip", "-t", str(path)], check=True, timeout=60)
    plain = subprocess.run(["gzip", "-dc", str(path)], capture_output=True, timeout=60,
                           check=True).stdout
    want = H.psql_copy_csv(
        env.pg, "SELECT id, payload FROM s3_blobs WHERE workspace = '%s' ORDER BY id" % BLOBS,
        tmp_path / "blobs.csv")
    assert plain == want, "decompressed %d bytes, expected %d" % (len(plain), len(want))
    assert len(want) > 2 * PART_SIZE and len(data) > 0.7 * len(want), (len(want), len(data))
    assert job["checksum"] == {"sha256": H.sha256_bytes(data)}
    log = env.srv.log()
    assert_all_verified(log)
    mp = multipart(log, env.object_path(job["id"]))
    sizes = [e["bytes"] for e in mp.entries if "partNumber=" in e["query"]]
    assert len(sizes) >= 2 and all(s >= PART_SIZE for s in sizes[:-1]), sizes
    assert sum(sizes) == len(data), sizes
    assert_none_open(env, mp, key)


# ============================================================ 3. download

def test_download_redirects_to_a_presigned_url(env, big_s3):
    env.use("s3")
    job = big_s3.job
    r = env.web.api("GET", "/exports/%s/download" % job["id"], key=env.keys[BIG])
    assert r.status_code == 302, (r.status_code, r.headers, r.text[:500])
    assert r.headers.get("Cache-Control") == "no-store", r.headers
    loc = r.headers["Location"]
    u = urlsplit(loc)
    assert "%s://%s" % (u.scheme, u.netloc) == env.srv.endpoint, loc
    assert u.path == big_s3.path, loc
    q = parse_qs(u.query)
    assert q["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and "X-Amz-Signature" in q, loc
    assert q["X-Amz-Credential"][0].startswith(env.srv.access_key + "/"), loc
    assert q["X-Amz-Expires"] == ["300"], loc
    assert env.srv.secret_key not in loc

    env.srv.reset()
    got = requests.get(loc, timeout=30)
    assert got.status_code == 200, (got.status_code, got.text[:500])
    assert H.sha256_bytes(got.content) == H.sha256_bytes(big_s3.data)
    want_name = "contacts-%s.csv" % job["created_at"][:10].replace("-", "")
    assert got.headers.get("Content-Disposition") == 'attachment; filename="%s"' % want_name, (
        got.headers)
    assert got.headers.get("Content-Type") == "text/csv; charset=utf-8", got.headers
    (entry,) = env.srv.log()
    assert (entry["auth"], entry["verdict"], entry["status"], entry["forwarded"]) == (
        "query", "ok", 200, True), entry

    sig = q["X-Amz-Signature"][0]
    i = 17
    bad_sig = sig[:i] + ("0" if sig[i] != "0" else "1") + sig[i + 1:]
    bad = loc.replace("X-Amz-Signature=" + sig, "X-Amz-Signature=" + bad_sig)
    assert bad != loc
    got = requests.get(bad, timeout=30)
    assert got.status_code == 403, (got.status_code, got.text[:500])
    assert b"SignatureDoesNotMatch" in got.content, got.content[:500]
    assert [(e["verdict"], e["forwarded"]) for e in env.srv.log()[1:]] == [
        ("bad-signature", False)]


# ============================================================ 4. wrong secret

def s3_failures(env):
    """exportd_s3_request_failures_total by code, from /metrics."""
    prefix = 'exportd_s3_request_failures_total{code="'
    return {k[len(prefix):-2]: v for k, v in H.scrape(env.stack.api).items()
            if k.startswith(prefix)}


def s3_failures_grew(env, before, want):
    """Wait until /metrics shows `want` ({code: n}) more failures than before."""
    got = {}

    def ok():
        now = s3_failures(env)
        got.clear()
        got.update({c: now[c] - before.get(c, 0) for c in now if now[c] != before.get(c, 0)})
        return got == want
    S.wait_until(ok, 15, "S3 failures %s in /metrics" % want)


def test_wrong_secret_fails_the_job_with_a_clear_message(env):
    failures0 = s3_failures(env)
    d = env.use("bad")
    log0 = d.log_size()
    try:
        job = env.wait(env.create(SMALL), until={"failed", "complete", "cancelled"})
        row = env.row(job["id"])
        time.sleep(0.5)    # time for a retry, if one were scheduled
        assert env.get(job)["status"] == "failed", env.get(job)
        assert env.row(job["id"]).attempts == 1, "retried: %s" % row
    finally:
        env.use("s3")
    msg = (job.get("error") or {}).get("message") or ""
    for want in ("403", "SignatureDoesNotMatch", "s3.secret_access_key", "s3.access_key_id"):
        assert want in msg, "error message lacks %r: %r" % (want, msg)
    assert WRONG_SECRET not in msg and WRONG_SECRET not in d.log_text(log0)
    log = env.srv.log()
    path = "/%s/exports/%s.csv" % (env.srv.bucket, job["id"])
    mine = [e for e in log if e["path"] == path]
    assert mine, log
    assert all((e["verdict"], e["status"], e["forwarded"]) == ("bad-signature", 403, False)
               for e in mine), mine
    # CreateMultipartUpload refused once (a 403 is not retried); then, the
    # job failed for good, the removal of its partial object (refused too).
    assert [e["method"] for e in mine if "uploads" in e["query"]] == ["POST"], mine
    assert "canonical_request" in mine[0]
    assert env.srv.get("exports/%s.csv" % job["id"]) is None
    # /metrics counts each refused request by S3's code.
    s3_failures_grew(env, failures0, {"SignatureDoesNotMatch": len(mine)})


# ============================================================ 5. faults

def test_faults_are_retried_and_the_object_is_identical(env):
    env.use("s3")
    failures0 = s3_failures(env)
    env.srv.faults([
        {"match": {"method": "PUT", "query_has": "partNumber=2"}, "action": "status",
         "status": 500, "times": 2},
        {"match": {"method": "PUT", "query_has": "partNumber=3"}, "action": "drop", "times": 1},
        {"match": {"method": "PUT", "query_has": "partNumber=1"}, "action": "delay",
         "seconds": 2.0, "times": 1},
    ])
    log0 = env.current.log_size()
    job = env.done(env.create(BIG))
    rules = env.srv.faults()
    assert [r["hits"] for r in rules] == [2, 1, 1], rules
    key = env.object_key(job["id"])
    data = env.srv.get(key)
    assert data is not None and H.sha256_bytes(data) == H.sha256_bytes(env.local["big"].data)
    assert job["checksum"] == {"sha256": H.sha256_bytes(data)}
    assert env.row(job["id"]).attempts == 1, "the job itself was retried"
    log = env.srv.log()
    assert_all_verified(log)
    mp = multipart(log, env.object_path(job["id"]))
    seen = [(n, st, f) for _, _, n, st, f in mp.parts]
    assert seen == [(1, 200, "delay"), (2, 500, "status"), (2, 500, "status"), (2, 200, None),
                    (3, None, "drop"), (3, 200, None)], seen
    delayed = [e for e in mp.entries if (e["fault"] or {}).get("action") == "delay"]
    assert delayed and delayed[0]["elapsed"] >= 2.0, delayed
    assert len(mp.upload_ids) == 1 and mp.completes == {mp.upload_ids[0]: [200]}
    assert_none_open(env, mp, key)
    retries = [t[3] for t in env.current.log_lines(log0) if "retrying" in t[3]]
    assert len(retries) == 3, retries
    assert sum("answered 500 InternalError" in m for m in retries) == 2, retries
    assert sum("Empty reply from server" in m for m in retries) == 1, retries
    s3_failures_grew(env, failures0, {"InternalError": 2, "network": 1})


def test_s3_failing_past_its_retries_retries_the_job(env):
    """A part that fails more often than s3.max_retries (4) fails the
    attempt (a transient error): the job runs again and completes, and
    /metrics counts one job retry and the five SlowDowns."""
    env.use("s3")
    failures0 = s3_failures(env)
    retries0 = H.scrape(env.stack.api).get("exportd_job_retries_total", 0.0)
    env.srv.faults({"match": {"method": "PUT", "query_has": "partNumber=1"},
                    "action": "status", "status": 503, "code": "SlowDown",
                    "message": "Please reduce your request rate.", "times": 5})
    job = env.wait(env.create(SMALL))
    assert job["status"] == "complete", job
    assert env.row(job["id"]).attempts == 2
    data = env.srv.get(env.object_key(job["id"]))
    assert H.sha256_bytes(data) == H.sha256_bytes(env.local["small"].data)
    s3_failures_grew(env, failures0, {"SlowDown": 5})
    H.scrape_until(env.stack.api,
                   lambda s: s.get("exportd_job_retries_total", 0.0) == retries0 + 1,
                   "one job retry in /metrics")


def test_lost_answer_to_complete_multipart_upload(env):
    """S3 completed the upload but its answer was lost: retrying the
    Complete fails (the upload is gone), yet the object is there, whole."""
    env.use("s3")
    env.srv.faults({"match": {"method": "POST", "query_has": "uploadId"},
                    "action": "drop_response", "times": 1})
    job = env.wait(env.create(BIG))
    row = env.row(job["id"])
    assert (job["status"], row.attempts) == ("complete", 1), (job, row)
    key = env.object_key(job["id"])
    data = env.srv.get(key)
    assert data is not None and H.sha256_bytes(data) == H.sha256_bytes(env.local["big"].data)
    assert job["checksum"] == {"sha256": H.sha256_bytes(data)}
    log = env.srv.log()
    assert_all_verified(log)
    ops = [(classify(e), e["status"]) for e in log]
    assert ("DeleteObject", 204) not in ops, ops
    assert ops[-1] == ("HEADObject", 200), ops


def test_request_timeout_400_is_retried(env):
    """S3's 400 RequestTimeout (the connection was idle too long) is worth
    a retry, as the AWS SDKs do; other 400s are not."""
    env.use("s3")
    env.srv.faults({"match": {"method": "PUT", "query_has": "partNumber=1"},
                    "action": "status", "status": 400, "code": "RequestTimeout",
                    "message": "Your socket connection to the server was not read from or"
                    " written to within the timeout period.", "times": 1})
    job = env.wait(env.create(SMALL))
    assert job["status"] == "complete", job
    assert env.row(job["id"]).attempts == 1
    mp = multipart(env.srv.log(), env.object_path(job["id"]))
    assert [(n, st) for _, _, n, st, _ in mp.parts] == [(1, 400), (1, 200)], mp.parts
    data = env.srv.get(env.object_key(job["id"]))
    assert H.sha256_bytes(data) == H.sha256_bytes(env.local["small"].data)


# ============================================================ 6. kill -9

def test_kill9_mid_multipart_resumes_with_the_next_part(env):
    d = env.use("s3")
    job, row = env.create_checkpointed(BIG)
    pids = [d.pid] + d.worker_pids()
    t_kill = time.time()
    d.kill(signal.SIGKILL)
    assert not any(S.pid_alive(p) for p in pids)
    after = env.row(job["id"])
    assert after.status == "processing", after
    state = after.ckpt_storage if isinstance(after.ckpt_storage, dict) else json.loads(
        after.ckpt_storage)
    upload_id = state.get("upload_id")
    assert upload_id and len(state["parts"]) == after.ckpt_part, state
    env.srv.clear_faults()
    log0 = d.log_size()
    t_start = time.time()
    d.start()
    d.wait_for_log(r"^job %s: resuming after row %d " % (job["id"], after.ckpt_rows),
                   start=log0, timeout=JOB_TIMEOUT)
    done = env.done(job)
    time.sleep(3.5 - min(3.5, time.time() - t_kill))  # the held part 2 reaches the log
    key = env.object_key(job["id"])
    data = env.srv.get(key)
    assert data is not None and H.sha256_bytes(data) == H.sha256_bytes(env.local["big"].data), (
        len(data or b""), len(env.local["big"].data))
    assert done["checksum"] == {"sha256": H.sha256_bytes(data)}
    assert env.row(job["id"]).attempts == 2
    log = env.srv.log()
    assert_all_verified(log)
    mp = multipart(log, env.object_path(job["id"]))
    assert len(mp.creates) == 1 and mp.creates[0]["time"] < t_kill, mp.creates
    assert mp.upload_ids == [upload_id], mp.upload_ids
    later = [(n, st) for t, _, n, st, _ in mp.parts if t >= t_start]
    nparts = (len(data) - 1) // PART_SIZE + 1
    assert later == [(n, 200) for n in range(after.ckpt_part + 1, nparts + 1)], (
        "UploadPart after the restart: %s (checkpoint: %d parts)" % (later, after.ckpt_part))
    assert mp.completes == {upload_id: [200]}, mp.completes
    assert_none_open(env, mp, key)


# ============================================================ 6b. three nodes

def node_of(env, job_id):
    """The exportd.node_name in a processing job's lease holder (node:pid:slot)."""
    owner = env.pg.query("SELECT lease_owner FROM export_jobs WHERE id = %s", (job_id,))[0][0]
    return owner.rsplit(":", 2)[0] if owner else None


def test_three_nodes_share_the_queue_and_a_dead_nodes_upload_is_taken_over(env):
    """Three exportd daemons (separate process trees, exportd.node_name
    node-a/b/c, one worker each) on one database and one bucket: jobs
    spread over them and each runs once; kill -9 of the whole node holding
    a multipart export hands it to another node, which continues the same
    upload after the dead node's checkpoint (byte-identical object)."""
    if env.current is not None:
        env.current.stop(grace=15)
        env.current = None
    nodes = {}
    for i, n in enumerate("abc"):
        d = S.ExtraExportd(env.stack, "exportd node-%s" % n, s3_settings(env.srv, exportd={
            "workers": 1, "node_name": "node-%s" % n}))
        env.daemons["node-" + n] = nodes["node-" + n] = d
        d.start(wait_connected=i + 1)
    try:
        # Spread: 9 small jobs at once; every job claimed exactly once.
        jobs = [env.create(SMALL) for _ in range(9)]
        for j in jobs:
            env.done(j)
        runs = {}
        for name, d in nodes.items():
            for t in d.log_lines():
                for j in jobs:
                    if t[3].startswith("job %s: claimed" % j["id"]):
                        runs.setdefault(j["id"], []).append(name)
                        assert "node %s)" % name in t[3], t
        assert sorted(runs) == sorted(j["id"] for j in jobs), runs
        twice = {k: v for k, v in runs.items() if len(v) != 1}
        assert not twice, "jobs claimed more than once: %s" % twice
        used = {v[0] for v in runs.values()}
        assert len(used) >= 2, "all 9 jobs ran on %s" % used
        assert all(env.row(j["id"]).attempts == 1 for j in jobs)

        # Takeover: the kill lands after part 1's checkpoint.
        env.srv.reset()
        job, row = env.create_checkpointed(BIG)
        dead = node_of(env, job["id"])
        assert dead in nodes, dead
        assert env.get(job)["node"] == dead     # the API's job view names it too
        t_kill = time.time()
        nodes[dead].kill(signal.SIGKILL)
        after = env.row(job["id"])
        state = after.ckpt_storage if isinstance(after.ckpt_storage, dict) else json.loads(
            after.ckpt_storage)
        upload_id = state.get("upload_id")
        env.srv.clear_faults()
        rx = r"^job %s: resuming after row %d " % (job["id"], after.ckpt_rows)
        taker = None
        while taker is None:
            for name, d in nodes.items():
                if name != dead and any(re.search(rx, t[3]) for t in d.log_lines()):
                    taker = name
            assert time.time() - t_kill < 15, "no node took the job over within the lease time"
            time.sleep(0.02)
        took = time.time() - t_kill
        H.figure(FIGURES, "kill -9 of a whole node -> another node resumes the upload (s)",
                 "%.2f" % took)
        env.current = nodes[taker]
        done = env.done(job)
        time.sleep(3.5 - min(3.5, time.time() - t_kill))  # the held part 2 reaches the log
        data = env.srv.get(env.object_key(job["id"]))
        assert data is not None and H.sha256_bytes(data) == H.sha256_bytes(
            env.local["big"].data)
        assert done["checksum"] == {"sha256": H.sha256_bytes(data)}
        assert env.row(job["id"]).attempts == 2
        log = env.srv.log()
        # The dead node may have been killed while sending a part's body:
        # the proxy logs that request cut short, and nothing else may fail.
        cut = [e for e in log if e["verdict"] == "malformed"
               and "body cut short" in (e.get("detail") or "") and e["time"] >= t_kill - 1]
        assert len(cut) <= 1, cut
        assert_all_verified([e for e in log if e not in cut])
        mp = multipart(log, env.object_path(job["id"]))
        assert len(mp.creates) == 1 and mp.upload_ids == [upload_id], mp.creates
        assert mp.completes == {upload_id: [200]}, mp.completes
        assert_none_open(env, mp, env.object_key(job["id"]))
    finally:
        for d in nodes.values():
            d.stop(grace=15)
        env.current = None


# ============================================================ 7. DELETE

def test_delete_removes_the_object_and_expires_the_job(env):
    env.use("s3")
    job = env.done(env.create(SMALL))
    key = env.object_key(job["id"])
    assert key in env.srv.objects("exports/")
    env.srv.reset()
    r = env.web.api("DELETE", "/exports/%s" % job["id"], key=env.keys[SMALL])
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.json()["status"] == "expired", r.json()
    assert key not in env.srv.objects("exports/"), env.srv.objects()
    assert env.srv.get(key) is None
    assert env.get(job)["status"] == "expired"
    log = env.srv.log()
    assert_all_verified(log)
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("DELETE", env.object_path(job["id"]), 204)], log
    r = env.web.api("GET", "/exports/%s/download" % job["id"], key=env.keys[SMALL])
    assert r.status_code == 410, (r.status_code, r.text)
