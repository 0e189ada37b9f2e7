"""Export options, worker side: gzip (and zstd's kill -9 resume; the other
output options are in test_formats.py), checksums across resume, filters, include_deleted, the as-of bound, CSV options (BOM,
formula guard) and the size limits.

Jobs are created by plain SQL INSERT into export_jobs (README: "A job may
also be created by plain SQL from another application"), so these tests do
not depend on the API's validation of the new fields; files are read from
the storage dir and, where the web server matters, downloaded through the
session's lighttpd.

The session's exportd is stopped while this module runs; the tests use
their own daemons (stack.ExtraExportd) on the session's PostgreSQL and
storage dir, one at a time:

  main       part_size 64k (several gzip members per file), chunk_rows 500,
             heartbeat 300ms, lease 15s (a kill -9 is recovered at once all the
             same: the dead worker's connection, and so its advisory lock, is
             gone; a short lease only let a worker slowed down by a loaded
             machine, the sanitizer build's, lose its job again and again)
  max_rows   [export] max_rows = 100
  max_bytes  [export] max_bytes = 10k
  serial     main's, with parts_in_flight 1 (compression on the formatting
             thread; main has the default, 2: a compression thread)
  deep       main's, with parts_in_flight 8

Data: the awkward demo dataset of workspace acme (2000 rows per table), plus
workspaces of this module's own: BIG (20000 rows, for the throttled
exports that get killed), ASOF (10000 rows, rows are inserted into it while
it is exported) and HOSTILE (a few contacts whose values look like SQL).
SLOW is the contacts table behind a view that sleeps 2 ms every 20 rows, so
that an export of BIG lasts a few seconds and a fault can land in it.

CSV references are `psql \\copy (SELECT ...) TO file CSV HEADER` of the
equivalent SELECT (helpers.reference_select: timestamps as to_json prints
them, soft-deleted rows out unless include_deleted).
"""

import csv
import io
import json
import os
import re
import signal
import subprocess
import time
import zlib
from types import SimpleNamespace

import psycopg2.extras
import pytest

import helpers as H
import stack as S

BIG, BIG_ROWS = "contract_big", 20000
ASOF, ASOF_ROWS = "contract_asof", 10000
HOSTILE = "contract_hostile"
SLOW = "contract_slow"              # export type: throttled view on contacts
SLOW_VIEW = "contract_slow_contacts"
PART_SIZE = 64 * 1024
JOB_TIMEOUT = 40

MAIN_SETTINGS = {
    "exportd": {
        "workers": 2,
        "poll_interval": "200ms",
        "chunk_rows": 500,
        "part_size": "64k",
        "heartbeat_interval": "300ms",
        "lease_timeout": "15s",
        "retry_base": "100ms",
        "retry_max": "500ms",
        "shutdown_grace": "3s",
    },
}

HOSTILE_STRINGS = ["'; DROP TABLE contacts; --", "x' OR '1'='1", "/* */", ";"]

# ------------------------------------------------------------- helpers

def gzip_members(data):
    """The decompressed content of each gzip member of data, in order
    (zlib.decompressobj(31) loop over unused_data)."""
    out, rest = [], data
    while rest:
        d = zlib.decompressobj(31)
        chunk = d.decompress(rest) + d.flush()
        assert d.eof, "gzip member %d is truncated (%d bytes left)" % (len(out) + 1, len(rest))
        out.append(chunk)
        rest = d.unused_data
    return out


def gunzip(data):
    return b"".join(gzip_members(data))


def gzip_test(path):
    p = subprocess.run(["gzip", "-t", str(path)], capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0, "gzip -t %s failed (exit %d): %s" % (path, p.returncode, p.stderr)


def csv_records(data):
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def csv_ids(data):
    """The id column (the first) of a CSV export, header checked."""
    recs = csv_records(data)
    assert recs and recs[0][0] == "id", recs[:1]
    return [int(r[0]) for r in recs[1:]]


def jsonl_ids(data):
    # split on LF only: U+2028/U+2029 may appear raw inside JSON strings
    return [json.loads(l)["id"] for l in data.decode("utf-8").split("\n")[:-1]]


class Ctx:
    """What the module set up, and its daemons (one running at a time)."""

    def __init__(self, stack, root):
        self.stack = stack
        self.pg = stack.pg
        self.root = root
        self.storage = stack.storage_dir
        self.poll = H.Poll(self.pg)    # SQL on one connection (fast polling)
        self.daemons = {}
        self.current = None
        self.jobs = []               # every job this module inserted
        self.columns = None          # contacts' exportable columns
        self.asof_gap = None         # an id missing in ASOF (hard-deleted)

    # -- SQL on one persistent connection (fast polling)

    def q(self, sql, params=None):
        return self.poll.query(sql, params)

    # -- daemons

    def use(self, name):
        """Make the daemon `name` the only one claiming jobs; it."""
        settings = {
            "main": MAIN_SETTINGS,
            "max_rows": {"exportd": MAIN_SETTINGS["exportd"], "export": {"max_rows": 100}},
            "max_bytes": {"exportd": MAIN_SETTINGS["exportd"], "export": {"max_bytes": "10k"}},
            "serial": {"exportd": dict(MAIN_SETTINGS["exportd"], parts_in_flight=1)},
            "deep": {"exportd": dict(MAIN_SETTINGS["exportd"], parts_in_flight=8)},
        }[name]
        if self.current is not None and self.current is not self.daemons.get(name):
            self.current.stop(grace=15)
            self.current = None
        d = self.daemons.get(name)
        if d is None:
            d = self.daemons[name] = S.ExtraExportd(self.stack, "exportd contract-%s" % name,
                                                    settings)
        if not d.alive():
            d.start()
        self.current = d
        return d

    # -- jobs

    def insert_job(self, workspace, type_, fmt="csv", **cols):
        """INSERT INTO export_jobs; the job's id. cols: compression, filters
        (dict), include_deleted, csv_bom, csv_formula_guard, columns (list),
        as_of, as_of_key, as_of_key_set."""
        names, values = ["workspace", "type", "format"], [workspace, type_, fmt]
        for k, v in cols.items():
            names.append(k)
            values.append(psycopg2.extras.Json(v) if k == "filters" else v)
        job_id = str(self.q("INSERT INTO export_jobs (%s) VALUES (%s) RETURNING id" % (
            ", ".join(names), ", ".join(["%s"] * len(values))), values)[0][0])
        self.jobs.append(job_id)
        return job_id

    def job(self, job_id):
        cols = ("status", "rows_done", "ckpt_rows", "ckpt_bytes", "ckpt_part", "ckpt_sha256",
                "lease_owner", "attempts", "file_key", "row_count", "file_size", "checksum",
                "errors", "error_code", "error_message", "as_of_key", "as_of_key_set",
                "compression", "format")
        rows = self.q("SELECT %s FROM export_jobs WHERE id = %%s" % ", ".join(cols), (job_id,))
        assert rows, "job %s is gone" % job_id
        row = SimpleNamespace(**dict(zip(cols, rows[0])))
        row.id = job_id
        return row

    def wait(self, job_id, pred=None, what="a final status", timeout=JOB_TIMEOUT, interval=0.02):
        pred = pred or (lambda r: r.status in S.TERMINAL_STATUSES)
        deadline = time.monotonic() + timeout
        while True:
            row = self.job(job_id)
            if pred(row):
                return row
            if time.monotonic() > deadline:
                raise AssertionError("job %s: timed out after %ss waiting for %s; %s\n%s"
                                     % (job_id, timeout, what, brief(row), S.logs_excerpt(
                                         [self.current.name] if self.current else None)))
            time.sleep(interval)

    def done(self, *job_ids, timeout=JOB_TIMEOUT):
        """Wait for every job to end; assert each is complete; the rows."""
        rows = [self.wait(j, timeout=timeout) for j in job_ids]
        for r in rows:
            assert r.status == "complete", "job %s did not complete: %s" % (r.id, brief(r))
        return rows if len(rows) > 1 else rows[0]

    def files_of(self, job_id):
        return sorted(p.name for p in self.storage.glob(job_id + "*"))

    def data(self, row):
        """The bytes of a complete job's file (exactly one file, no .part)."""
        files = self.files_of(row.id)
        assert files == [row.file_key], "storage holds %s for job %s, expected only %s" % (
            files, row.id, row.file_key)
        return (self.storage / row.file_key).read_bytes()

    def content(self, row):
        """The file's bytes, decompressed when gzip."""
        data = self.data(row)
        return gunzip(data) if row.compression == "gzip" else data

    # -- references

    def reference(self, workspace, name, **kw):
        """psql \\copy of what an export of the workspace's contacts holds
        (helpers.reference_select(**kw)): the bytes."""
        return H.psql_copy_csv(self.pg, H.reference_select(self.pg, "contacts", workspace, **kw),
                               self.root / ("contract-ref-%s.csv" % name), timeout=120)

    def ids(self, workspace, where="", params=(), include_deleted=False):
        """The ids an export of contacts must hold, from SQL."""
        cond = "workspace = %s"
        if not include_deleted:
            cond += " AND deleted_at IS NULL"
        if where:
            cond += " AND (%s)" % where
        return [r[0] for r in self.q("SELECT id FROM contacts WHERE %s ORDER BY id" % cond,
                                     (workspace,) + tuple(params))]


def brief(row):
    return ("status=%s attempts=%s rows_done=%s ckpt_rows=%s ckpt_bytes=%s ckpt_part=%s "
            "row_count=%s file_size=%s owner=%s errors=%s"
            % (row.status, row.attempts, row.rows_done, row.ckpt_rows, row.ckpt_bytes,
               row.ckpt_part, row.row_count, row.file_size, row.lease_owner,
               json.dumps(row.errors)))


def check_checksum(ctx, row):
    data = ctx.data(row)
    assert row.file_size == len(data), "job %s: file_size %s, file has %d bytes" % (
        row.id, row.file_size, len(data))
    assert row.checksum == H.sha256_bytes(data), (
        "job %s (%s, %s): checksum %r, but the file's SHA-256 is %s"
        % (row.id, row.format, row.compression, row.checksum, H.sha256_bytes(data)))


# ------------------------------------------------------- the module's set-up

@pytest.fixture(scope="module")
def ctx(stack, tmp_root):
    c = Ctx(stack, tmp_root)
    # Only this module's daemons may claim jobs while it runs.
    stack.exportd.stop(grace=15)
    try:
        for ws, n in ((BIG, BIG_ROWS), (ASOF, ASOF_ROWS)):
            H.generate(stack, ws, n)
        # A gap near the end of ASOF's keys: the as-of test inserts a row
        # there (a key below the as-of key, created after the as-of time).
        c.asof_gap = c.q("DELETE FROM contacts WHERE id = (SELECT max(id) - 5 FROM contacts"
                         " WHERE workspace = %s) RETURNING id", (ASOF,))[0][0]
        c.columns = list(c.q("SELECT columns FROM export_types WHERE name = 'contacts'")[0][0])
        # Contacts whose values look like SQL, and ordinary ones.
        for i, s in enumerate(HOSTILE_STRINGS * 2 + ["Acme Corp", "Initech"]):
            c.q("INSERT INTO contacts (workspace, first_name, email, company, city, country,"
                " is_active, created_at) VALUES (%s, %s, %s, %s, %s, 'FR', true,"
                " '2022-01-01T00:00:00Z'::timestamptz + %s * interval '1 minute')",
                (HOSTILE, "h%d" % i, s, s, s, i))
        c.q("""
            CREATE OR REPLACE FUNCTION contract_throttle(k bigint) RETURNS boolean
            LANGUAGE plpgsql VOLATILE AS $$
            BEGIN
                IF k % 20 = 0 THEN PERFORM pg_sleep(0.002); END IF;
                RETURN true;
            END $$;
            CREATE OR REPLACE VIEW {view} AS
                SELECT * FROM contacts WHERE contract_throttle(id);
        """.format(view=SLOW_VIEW))
        c.q("INSERT INTO export_types (name, relation, key_column, workspace_column, columns,"
            " filterable_columns, created_at_column, deleted_at_column)"
            " SELECT %s, %s, key_column, workspace_column, columns, filterable_columns,"
            " created_at_column, deleted_at_column FROM export_types WHERE name = 'contacts'"
            " ON CONFLICT (name) DO NOTHING", (SLOW, SLOW_VIEW))
        stack.pg.expose(SLOW)
        yield c
    finally:
        try:
            for d in c.daemons.values():
                d.stop(grace=15)
            if c.jobs:
                c.q("UPDATE export_jobs SET status = 'cancelled', completed_at = now()"
                    " WHERE id = ANY(%s::uuid[]) AND status IN ('pending', 'processing')",
                    (c.jobs,))
            c.poll.close()
        finally:
            stack.start_exportd()


@pytest.fixture
def main(ctx):
    return ctx.use("main")


# ============================================================ 1. gzip

def test_gzip_csv_is_the_plain_export_compressed_in_members(ctx, main, tmp_path):
    stack = ctx.stack
    plain = ctx.insert_job("acme", "contacts", "csv")
    gz = ctx.insert_job("acme", "contacts", "csv", compression="gzip")
    plain, gz = ctx.done(plain, gz)
    want = ctx.reference("acme", "acme")
    got_plain = ctx.data(plain)
    H.assert_same_bytes(got_plain, want, "plain CSV export of acme contacts")
    data = ctx.data(gz)
    assert data[:2] == b"\x1f\x8b", "not gzip: %r" % data[:16]
    gzip_test(ctx.storage / gz.file_key)
    members = gzip_members(data)
    H.assert_same_bytes(b"".join(members), got_plain, "decompressed gzip CSV export")
    # One member per part: part_size 64k of formatted bytes, cut at a row.
    assert len(want) > 2 * PART_SIZE, "the reference is too small to need parts: %d" % len(want)
    assert len(members) >= 2, "%d gzip member(s) for %d bytes with part_size %d" % (
        len(members), len(want), PART_SIZE)
    assert len(members) <= len(want) // PART_SIZE + 1, (
        "%d members for %d bytes: more than one per part of %d" % (
            len(members), len(want), PART_SIZE))
    for i, m in enumerate(members[:-1]):
        assert len(m) >= PART_SIZE, "member %d holds %d bytes, less than a part" % (i + 1, len(m))
    for i, m in enumerate(members):
        assert m.endswith(b"\n"), "member %d does not end at a row boundary: %r" % (
            i + 1, m[-80:])
    assert gz.row_count == plain.row_count == len(csv_ids(want)), (gz.row_count, plain.row_count)
    # The same bytes through lighttpd (X-Sendfile), as stored.
    r = stack.api("GET", "/exports/%s/download" % gz.id, key=stack.key_acme, stream=True)
    assert r.status_code == 200, (r.status_code, r.headers, r.text[:300])
    raw = r.raw.read(decode_content=False)
    assert raw == data, "download: %d bytes (sha %s), file %d bytes (sha %s); headers %s" % (
        len(raw), H.sha256_bytes(raw), len(data), H.sha256_bytes(data), dict(r.headers))


def test_gzip_jsonl_is_the_plain_export_compressed(ctx, main):
    plain = ctx.insert_job("acme", "contacts", "jsonl")
    gz = ctx.insert_job("acme", "contacts", "jsonl", compression="gzip")
    plain, gz = ctx.done(plain, gz)
    got_plain = ctx.data(plain)
    assert jsonl_ids(got_plain) == ctx.ids("acme")
    gzip_test(ctx.storage / gz.file_key)
    members = gzip_members(ctx.data(gz))
    H.assert_same_bytes(b"".join(members), got_plain, "decompressed gzip JSONL export")
    assert len(members) >= 2, "%d gzip member(s) with part_size %d" % (len(members), PART_SIZE)
    assert gz.row_count == plain.row_count == len(jsonl_ids(got_plain))


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_compressed_bytes_are_the_same_at_every_parts_in_flight(ctx, compression):
    """exportd.parts_in_flight 1 compresses each part on the formatting
    thread; 2 (main, the default) and 8 hand the parts to a second thread.
    The files are byte for byte the same, checksums included: BIG makes
    ~80 parts of 64k, so the ring of parts wraps many times."""
    rows, files = {}, {}
    for name in ("serial", "main", "deep"):
        ctx.use(name)
        rows[name] = ctx.done(ctx.insert_job(BIG, "contacts", "csv", compression=compression))
        check_checksum(ctx, rows[name])
        files[name] = ctx.data(rows[name])
    if compression == "gzip":
        parts = len(gzip_members(files["serial"]))
    else:
        parts = zstd_frames(ctx.storage / rows["serial"].file_key)
    assert parts > 20, "%d %s parts: too few to keep several in flight" % (parts, compression)
    for name in ("main", "deep"):
        H.assert_same_bytes(files[name], files["serial"],
                            "%s export with parts_in_flight of %s vs 1" % (compression, name))
        assert rows[name].row_count == rows["serial"].row_count == len(ctx.ids(BIG)), (
            rows[name].row_count, rows["serial"].row_count)


# ============================================ 2. + 3. gzip resume after kill -9

def kill9_resume(ctx, compression, **options):
    """A CSV export of SLOW (BIG) with compression (and the job's options)
    whose worker is killed with SIGKILL after a few checkpoints, and an
    uninterrupted export of the same rows (the contacts type) run by the
    same daemon."""
    d = ctx.use("main")
    log0 = d.log_size()
    ref_id = ctx.insert_job(BIG, "contacts", "csv", compression=compression, **options)
    ref = ctx.done(ref_id)
    job_id = ctx.insert_job(BIG, SLOW, "csv", compression=compression, **options)

    def busy(r):
        if r.status in S.TERMINAL_STATUSES:
            raise AssertionError("job %s ended before 3 checkpoints: %s" % (job_id, brief(r)))
        return r.status == "processing" and r.ckpt_part >= 3 and r.lease_owner is not None

    row = ctx.wait(job_id, busy, "3 checkpoints", interval=0.005)
    pid = int(row.lease_owner.rsplit(":", 2)[1])
    assert pid in d.worker_pids(), "lease owner %s is not a worker of %d" % (
        row.lease_owner, d.pid)
    os.kill(pid, signal.SIGKILL)
    killed = row
    assert killed.rows_done < BIG_ROWS * 0.9, "killed too late to matter: %s" % brief(row)
    row = ctx.wait(job_id, timeout=JOB_TIMEOUT)
    lines = [l for l in d.log_lines(log0) if l[3].startswith("job %s: " % job_id)]
    return SimpleNamespace(ref=ref, row=row, killed=killed, pid=pid, lines=lines, daemon=d)


@pytest.fixture(scope="module")
def resumed(ctx):
    return kill9_resume(ctx, "gzip")


ZSTD_OPTIONS = {"csv_delimiter": ";", "timezone": "Europe/Paris"}


@pytest.fixture(scope="module")
def resumed_zstd(ctx):
    """With a delimiter and a time zone too: the resumed run must write
    with the job's stored options."""
    return kill9_resume(ctx, "zstd", **ZSTD_OPTIONS)


def test_gzip_resume_after_kill9_is_byte_identical(ctx, resumed):
    row, ref = resumed.row, resumed.ref
    assert row.status == "complete", "the killed export did not complete: %s\n%s" % (
        brief(row), "\n".join(l[3] for l in resumed.lines))
    res = [l[3] for l in resumed.lines if "resuming after row" in l[3]]
    assert res, ("no 'resuming after row' line after the worker was killed at %s: the export "
                 "started over instead of resuming; job log:\n%s"
                 % (brief(resumed.killed), "\n".join(l[3] for l in resumed.lines)))
    # One kill makes one more attempt; a loaded machine (the sanitizer build)
    # may let a lease lapse once more, which is a takeover like any other:
    # every claim after the first must have resumed, none started over.
    log = "\n".join(l[3] for l in resumed.lines)
    claims = [l for l in resumed.lines if ": claimed (" in l[3]]
    assert row.attempts >= 2 and len(claims) == row.attempts, "%s\n%s" % (brief(row), log)
    assert len(res) == row.attempts - 1 and "starting over" not in log, log
    path = ctx.storage / row.file_key
    gzip_test(path)
    data = ctx.data(row)
    ref_data = ctx.data(ref)
    assert H.sha256_bytes(data) == H.sha256_bytes(ref_data), (
        "resumed gzip file (%d bytes, sha %s) differs from the uninterrupted one (%d bytes, "
        "sha %s); resume: %s" % (len(data), H.sha256_bytes(data), len(ref_data),
                                 H.sha256_bytes(ref_data), res))
    content = gunzip(data)
    want = ctx.reference(BIG, "big")
    H.assert_same_bytes(content, want, "decompressed resumed gzip export of %s" % BIG)
    assert row.row_count == len(ctx.ids(BIG)), brief(row)
    assert len(gzip_members(data)) > 3


def zstd_test(path):
    p = subprocess.run(["zstd", "-t", "-q", str(path)], capture_output=True, text=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, "zstd -t %s failed (exit %d): %s" % (path, p.returncode, p.stderr)


def zstd_frames(path):
    """How many zstd frames the file holds (`zstd -lv`)."""
    p = subprocess.run(["zstd", "-lv", str(path)], capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    m = re.search(r"# Zstandard Frames: (\d+)", p.stdout)
    assert p.returncode == 0 and m, (p.stdout, p.stderr)
    return int(m.group(1))


def test_zstd_resume_after_kill9_is_byte_identical(ctx, resumed_zstd):
    """One zstd frame per part: the resumed file is byte for byte the
    uninterrupted one, `zstd -t` passes and `zstd -dc` is the CSV, with the
    job's delimiter and time zone (psql \\copy ... DELIMITER ';' with
    PGTZ=Europe/Paris)."""
    row, ref = resumed_zstd.row, resumed_zstd.ref
    assert row.status == "complete", "the killed export did not complete: %s\n%s" % (
        brief(row), "\n".join(l[3] for l in resumed_zstd.lines))
    res = [l[3] for l in resumed_zstd.lines if "resuming after row" in l[3]]
    assert res, ("no 'resuming after row' line after the worker was killed at %s; job log:\n%s"
                 % (brief(resumed_zstd.killed), "\n".join(l[3] for l in resumed_zstd.lines)))
    assert row.attempts == 2 and row.file_key.endswith(".csv.zst"), brief(row)
    path = ctx.storage / row.file_key
    zstd_test(path)
    data, ref_data = ctx.data(row), ctx.data(ref)
    assert H.sha256_bytes(data) == H.sha256_bytes(ref_data), (
        "resumed zstd file (%d bytes) differs from the uninterrupted one (%d bytes); resume: %s"
        % (len(data), len(ref_data), res))
    check_checksum(ctx, row)
    p = subprocess.run(["zstd", "-dc", str(path)], capture_output=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    ref_path = ctx.root / "contract-ref-big-zstd.csv"
    argv = H.psql_argv(ctx.pg, H.reference_select(ctx.pg, "contacts", BIG), ref_path)
    argv[-1] += " DELIMITER ';'"
    q = subprocess.run(argv, env=S.clean_env(PGTZ=ZSTD_OPTIONS["timezone"], PGDATESTYLE="ISO"),
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert q.returncode == 0, q.stderr
    want = ref_path.read_bytes()
    assert b"+02:00" in want and b"+01:00" in want
    H.assert_same_bytes(p.stdout, want, "zstd -dc of the resumed zstd export of %s" % BIG)
    assert zstd_frames(path) > 3, "one frame per part (part_size %d) expected" % PART_SIZE


# ============================================================ 3. checksum

def test_checksum_is_sha256_of_the_file(ctx, main):
    jobs = [ctx.insert_job("acme", "contacts", "csv"),
            ctx.insert_job("acme", "contacts", "csv", compression="gzip", csv_bom=True),
            ctx.insert_job("acme", "contacts", "jsonl"),
            ctx.insert_job("acme", "contacts", "jsonl", compression="gzip"),
            ctx.insert_job("acme", "invoices", "csv", compression="gzip"),
            ctx.insert_job("acme", "events", "jsonl", compression="gzip")]
    rows = ctx.done(*jobs)
    for row in rows:
        assert re.fullmatch(r"[0-9a-f]{64}", row.checksum or ""), (row.id, row.checksum)
        check_checksum(ctx, row)
    # Every other complete job of this module so far, too.
    for job_id in ctx.jobs:
        row = ctx.job(job_id)
        if row.status == "complete" and job_id not in jobs:
            check_checksum(ctx, row)


def test_checksum_survives_resume(ctx, resumed):
    row = resumed.row
    assert row.status == "complete", brief(row)
    assert resumed.killed.ckpt_sha256, "no SHA-256 state stored at the checkpoint: %s" % (
        brief(resumed.killed))
    check_checksum(ctx, row)
    assert row.checksum == resumed.ref.checksum, (row.checksum, resumed.ref.checksum)


# ============================================================ 4. filters

# (filters, the equivalent SQL condition on contacts)
RANGES = {
    "utc": ({"created_from": "2021-01-01T00:20:00Z", "created_to": "2021-01-01T01:00:00Z"},
            "created_at >= '2021-01-01T00:20:00Z' AND created_at < '2021-01-01T01:00:00Z'"),
    "offset": ({"created_from": "2021-01-01T01:10:00.5+01:00",
                "created_to": "2020-12-31T19:30:00-05:00"},
               "created_at >= '2021-01-01T00:10:00.5Z' AND created_at < '2021-01-01T00:30:00Z'"),
    "from-only": ({"created_from": "2021-01-01T01:30:00Z"},
                  "created_at >= '2021-01-01T01:30:00Z'"),
    "to-only": ({"created_to": "2021-01-01T00:05:00Z"}, "created_at < '2021-01-01T00:05:00Z'"),
}


@pytest.mark.parametrize("name", sorted(RANGES))
def test_filter_created_range(ctx, main, name):
    filters, where = RANGES[name]
    job = ctx.done(ctx.insert_job("acme", "contacts", "csv", filters=filters))
    want = ctx.reference("acme", "range-" + name, where=where)
    n = len(csv_ids(want))
    assert 0 < n < len(ctx.ids("acme")), "the range selects %d rows: not a useful test" % n
    H.assert_same_bytes(ctx.data(job), want, "export with filters %s" % json.dumps(filters))
    assert job.row_count == n


def test_filter_created_range_bounds_are_half_open(ctx, main):
    # created_from is inclusive, created_to exclusive: take two rows' exact
    # created_at (whole seconds and microseconds) as the bounds.
    rows = ctx.q("SELECT id, to_json(created_at) #>> '{}' FROM contacts WHERE workspace = 'acme'"
                 " AND deleted_at IS NULL ORDER BY id LIMIT 2 OFFSET 100")
    (lo_id, lo), (hi_id, hi) = rows
    job = ctx.done(ctx.insert_job("acme", "contacts", "csv",
                                  filters={"created_from": lo, "created_to": hi}))
    ids = csv_ids(ctx.data(job))
    assert ids == ctx.ids("acme", "created_at >= %s AND created_at < %s", (lo, hi)), ids
    assert lo_id in ids and hi_id not in ids, (lo, hi, ids)


EQUALS = {
    "country-and-active": ({"country": "FR", "is_active": True},
                           "country = %s AND is_active = %s", ("FR", True)),
    "active-null": ({"is_active": None}, "is_active IS NULL", ()),
    "active-false": ({"is_active": False}, "is_active = %s", (False,)),
    "city-null": ({"city": None}, "city IS NULL", ()),
    "email-empty-not-null": ({"email": ""}, "email = %s", ("",)),
    "unicode-city": ({"city": "Zürich"}, "city = %s", ("Zürich",)),
    "company-quotes": ({"company": '=HYPERLINK("http://example.invalid","Click")'},
                       "company = %s", ('=HYPERLINK("http://example.invalid","Click")',)),
    "company-crlf": ({"company": "Two\r\nLines Inc."}, "company = %s", ("Two\r\nLines Inc.",)),
    "created-at": ({"created_at": "2021-01-01T00:01:33.703710Z"}, "created_at = %s",
                   ("2021-01-01T00:01:33.703710Z",)),
}


def test_filter_equals(ctx, main):
    jobs = {name: ctx.insert_job("acme", "contacts", "csv", filters={"equals": eq})
            for name, (eq, _, _) in EQUALS.items()}
    failures = []
    for name, job_id in jobs.items():
        eq, where, params = EQUALS[name]
        row = ctx.wait(job_id)
        want = ctx.ids("acme", where, params)
        if row.status != "complete":
            failures.append("%s %s: %s" % (name, json.dumps(eq), brief(row)))
            continue
        got = csv_ids(ctx.data(row))
        if got != want or row.row_count != len(want):
            failures.append("%s %s: %d ids exported (row_count %s), SQL gives %d; "
                            "extra %s, missing %s" % (name, json.dumps(eq), len(got),
                                                      row.row_count, len(want),
                                                      sorted(set(got) - set(want))[:10],
                                                      sorted(set(want) - set(got))[:10]))
        elif not want:
            failures.append("%s: SQL selects no row, not a useful test" % name)
    assert not failures, "\n".join(failures)


def test_filter_combined_range_and_equals(ctx, main):
    filters = {"created_from": "2021-01-01T00:10:00Z", "created_to": "2021-01-01T01:20:00Z",
               "equals": {"country": "DE", "is_active": True}}
    where = ("created_at >= '2021-01-01T00:10:00Z' AND created_at < '2021-01-01T01:20:00Z'"
             " AND country = 'DE' AND is_active")
    job = ctx.done(ctx.insert_job("acme", "contacts", "csv", filters=filters))
    want = ctx.reference("acme", "combined", where=where)
    assert len(csv_ids(want)) > 5
    H.assert_same_bytes(ctx.data(job), want, "export with filters %s" % json.dumps(filters))


def test_filter_hostile_values_are_only_values(ctx, main):
    before = ctx.q("SELECT count(*) FROM contacts")[0][0]
    jobs = {}
    for s in HOSTILE_STRINGS:
        for col in ("company", "email", "city"):
            for ws in ("acme", HOSTILE):
                jobs[(s, col, ws)] = ctx.insert_job(ws, "contacts", "csv",
                                                    filters={"equals": {col: s}})
    failures = []
    for (s, col, ws), job_id in jobs.items():
        row = ctx.wait(job_id)
        want = ctx.ids(ws, "%s = %%s" % H.qi(col), (s,))
        if ws == HOSTILE:
            assert len(want) == 2, (s, col, want)
        if row.status != "complete":
            failures.append("%r on %s in %s: %s" % (s, col, ws, brief(row)))
            continue
        got = csv_ids(ctx.data(row))
        if got != want:
            failures.append("%r on %s in %s: exported ids %s, SQL %s" % (s, col, ws, got[:20],
                                                                          want))
    assert ctx.q("SELECT to_regclass('public.contacts') IS NOT NULL")[0][0], "contacts is gone"
    assert ctx.q("SELECT count(*) FROM contacts")[0][0] == before, "contacts changed"
    assert not failures, "\n".join(failures)


# Values that are not values of the column's type (or not a time): the job
# fails, nothing is exported, and a retry would not change the value.
BAD_VALUES = {
    "created-from": {"created_from": "'; DROP TABLE contacts; --"},
    "created-to": {"created_to": "x' OR '1'='1"},
    "boolean": {"equals": {"is_active": "x' OR '1'='1"}},
    "timestamp": {"equals": {"created_at": ";"}},
}


@pytest.fixture(scope="module")
def bad_value_jobs(ctx):
    ctx.use("main")
    before = ctx.q("SELECT count(*) FROM contacts")[0][0]
    jobs = {name: ctx.insert_job("acme", "contacts", "csv", filters=f)
            for name, f in BAD_VALUES.items()}
    rows = {name: ctx.wait(job_id) for name, job_id in jobs.items()}
    return SimpleNamespace(rows=rows, before=before)


def test_filter_bad_values_fail_the_job_and_export_nothing(ctx, bad_value_jobs):
    assert ctx.q("SELECT to_regclass('public.contacts') IS NOT NULL")[0][0], "contacts is gone"
    assert ctx.q("SELECT count(*) FROM contacts")[0][0] == bad_value_jobs.before
    for name, row in bad_value_jobs.rows.items():
        assert row.status == "failed", "%s %s: %s" % (name, json.dumps(BAD_VALUES[name]),
                                                      brief(row))
        assert row.row_count is None and wait_no_files(ctx, row.id) == [], brief(row)


def test_filter_bad_values_are_not_retried(ctx, bad_value_jobs):
    # invalid input syntax (SQLSTATE class 22) does not pass by retrying
    wrong = ["%s %s: %d attempts %s, last error %r" % (
        name, json.dumps(BAD_VALUES[name]), row.attempts,
        [(e.get("code"), e.get("retry")) for e in row.errors],
        row.errors[-1].get("message") if row.errors else None)
        for name, row in bad_value_jobs.rows.items()
        if row.attempts != 1 or row.errors[-1].get("retry") is not False]
    assert not wrong, "a value that cannot be cast was retried:\n" + "\n".join(wrong)


# ============================================================ 5. include_deleted

@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_include_deleted(ctx, main, fmt):
    default = ctx.insert_job("acme", "contacts", fmt)
    live = ctx.insert_job("acme", "contacts", fmt, include_deleted=False)
    every = ctx.insert_job("acme", "contacts", fmt, include_deleted=True)
    default, live, every = ctx.done(default, live, every)
    ids = csv_ids if fmt == "csv" else jsonl_ids
    live_ids = ctx.ids("acme")
    all_ids = ctx.ids("acme", include_deleted=True)
    deleted = sorted(set(all_ids) - set(live_ids))
    assert len(deleted) > 10, "acme has %d soft-deleted contacts" % len(deleted)
    for row in (default, live):
        got = ids(ctx.data(row))
        assert got == live_ids and row.row_count == len(live_ids), (
            "include_deleted off: %d rows (row_count %s), %d live in SQL; soft-deleted "
            "exported: %s" % (len(got), row.row_count, len(live_ids),
                              sorted(set(got) & set(deleted))[:10]))
    got = ids(ctx.data(every))
    assert got == all_ids and every.row_count == len(all_ids), (
        "include_deleted on: %d rows (row_count %s), %d in SQL; missing %s"
        % (len(got), every.row_count, len(all_ids), sorted(set(all_ids) - set(got))[:10]))
    if fmt == "csv":
        want = ctx.reference("acme", "all", include_deleted=True)
        H.assert_same_bytes(ctx.data(every), want, "export with include_deleted")


# ============================================================ 6. as-of bound

def test_as_of_bound_excludes_rows_inserted_during_the_export(ctx, main):
    live_before = ctx.ids(ASOF)
    max_before = ctx.q("SELECT max(id) FROM contacts WHERE workspace = %s", (ASOF,))[0][0]
    assert ctx.asof_gap < max_before
    job_id = ctx.insert_job(ASOF, SLOW, "csv")    # as_of = now(), key fixed at first run
    row = ctx.wait(job_id, lambda r: r.as_of_key_set or r.status in S.TERMINAL_STATUSES,
                   "the as-of key to be fixed", interval=0.005)
    assert row.status == "processing", "job ended before the test could insert: %s" % brief(row)
    assert row.as_of_key == str(max_before), (
        "as_of_key %r fixed at the first run, max id of the workspace %s"
        % (row.as_of_key, max_before))
    # While it runs: new rows created now (higher keys), backdated rows
    # (higher keys, created_at long before as_of: only the key bound keeps
    # them out) and one row in a gap below the as-of key, created now (only
    # the time bound keeps it out).
    kinds = {}
    for i, backdated in ctx.q(
            "INSERT INTO contacts (workspace, first_name, email, created_at)"
            " SELECT %s, 'new ' || g, 'new' || g || '@example.com',"
            " CASE WHEN g %% 2 = 0 THEN now() ELSE timestamptz '2021-01-01T00:00:01Z' END"
            " FROM generate_series(1, 100) g RETURNING id, created_at < now()", (ASOF,)):
        kinds[i] = "key above as_of_key, created_at before as_of" if backdated else \
            "key above as_of_key, created_at now()"
    gap = ctx.q("INSERT INTO contacts (id, workspace, first_name, created_at)"
                " VALUES (%s, %s, 'in the gap', now()) RETURNING id", (ctx.asof_gap, ASOF))[0][0]
    kinds[gap] = "key below as_of_key, created_at now()"
    new = sorted(kinds)
    row = ctx.job(job_id)
    assert row.status == "processing" and row.rows_done < len(live_before), (
        "the export was (nearly) over before the rows were inserted: %s" % brief(row))
    row = ctx.done(job_id)
    got = csv_ids(ctx.data(row))
    leaked = sorted(set(got) & set(new))
    if leaked:
        by_kind = {}
        for i in leaked:
            by_kind.setdefault(kinds[i], []).append(i)
        raise AssertionError(
            "rows inserted after the as-of moment were exported (as_of_key %s): %s"
            % (ctx.job(job_id).as_of_key, "; ".join("%d with %s (ids %s...)" % (
                len(v), k, v[:5]) for k, v in sorted(by_kind.items()))))
    assert got == live_before, "%d rows exported, %d at the as-of moment; missing %s" % (
        len(got), len(live_before), sorted(set(live_before) - set(got))[:10])
    assert row.row_count == len(live_before), brief(row)
    check_checksum(ctx, row)


def test_as_of_key_set_like_the_api(ctx, main):
    live = ctx.ids("acme")
    mid = live[len(live) // 2]
    below = ctx.insert_job("acme", "contacts", "csv", as_of_key=str(mid), as_of_key_set=True)
    empty = ctx.insert_job("acme", "contacts", "jsonl", as_of_key=None, as_of_key_set=True)
    past = ctx.insert_job("acme", "contacts", "csv", as_of="2021-01-01T00:30:00Z")
    below, empty, past = ctx.done(below, empty, past)
    got = csv_ids(ctx.data(below))
    assert got == [i for i in live if i <= mid], (
        "as_of_key %s: %d rows, last %s" % (mid, len(got), got[-3:]))
    assert ctx.data(empty) == b"" and empty.row_count == 0, (
        "as_of_key NULL (the workspace had no rows): %s" % brief(empty))
    got = csv_ids(ctx.data(past))
    want = ctx.ids("acme", "created_at <= '2021-01-01T00:30:00Z'")
    assert 0 < len(want) < len(live)
    assert got == want, "as_of in the past: %d rows, SQL %d" % (len(got), len(want))
    # A job inserted without as_of_key gets it fixed at its first run.
    row = ctx.job(past.id)
    assert row.as_of_key_set and row.as_of_key == str(max(ctx.ids("acme", include_deleted=True))), (
        brief(row), row.as_of_key)


# ============================================================ 7. CSV options

def test_csv_bom(ctx, main):
    plain = ctx.insert_job("acme", "contacts", "csv")
    bom = ctx.insert_job("acme", "contacts", "csv", csv_bom=True)
    gz = ctx.insert_job("acme", "contacts", "csv", csv_bom=True, compression="gzip")
    plain, bom, gz = ctx.done(plain, bom, gz)
    data = ctx.data(bom)
    header = ",".join(ctx.columns).encode()
    assert data.startswith(b"\xef\xbb\xbf" + header + b"\n"), data[:120]
    assert data[3:] == ctx.data(plain), "after the BOM the file differs from the plain export"
    content = ctx.content(gz)
    assert content == data, "gzip with BOM: decompressed %r..." % content[:40]
    assert bom.row_count == plain.row_count


def test_csv_formula_guard(ctx, main):
    guard = ctx.insert_job("acme", "contacts", "csv", csv_formula_guard=True)
    plain = ctx.insert_job("acme", "contacts", "csv")
    guard, plain = ctx.done(guard, plain)
    data = ctx.data(guard)
    want = ctx.reference("acme", "guard", guard=True)
    H.assert_same_bytes(data, want, "CSV export with csv_formula_guard")

    # Known rows, parsed back.
    recs = csv_records(data)
    header, body = recs[0], recs[1:]
    col = {c: i for i, c in enumerate(header)}
    by_id = {int(r[0]): r for r in body}
    checks = {
        "notes": ["=1+2", '=HYPERLINK("http://example.invalid/?leak="&A1,"Click me")',
                  "+SUM(1,2)", "-2+3", "@SUM(A1:A2)", "\t=1+2", "=cmd|' /C calc'!A0"],
        "company": ["=SUM(A1:A10)", '=HYPERLINK("http://example.invalid","Click")',
                    "+Plus Consulting", "-Minus Holdings", "@Mention Labs"],
    }
    seen = 0
    for c, values in checks.items():
        for v in values:
            ids = ctx.ids("acme", "%s = %%s" % H.qi(c), (v,))
            for i in ids[:3]:
                cell = by_id[i][col[c]]
                assert cell == "'" + v, "id %d %s %r exported as %r" % (i, c, v, cell)
                seen += 1
    assert seen >= 10, "only %d guarded cells checked" % seen
    # Leading '-' in text (phone, email '@...') is guarded; numbers are not.
    for i, phone in ctx.q("SELECT id, phone FROM contacts WHERE workspace = 'acme'"
                          " AND deleted_at IS NULL AND phone LIKE '-%' LIMIT 3"):
        assert by_id[i][col["phone"]] == "'" + phone, (i, by_id[i][col["phone"]])
    neg = ctx.q("SELECT id, score::text FROM contacts WHERE workspace = 'acme'"
                " AND deleted_at IS NULL AND score < 0 ORDER BY id")
    assert len(neg) > 3
    for i, score in neg:
        assert by_id[i][col["score"]] == score, (i, by_id[i][col["score"]], score)
    # Cells that are not formulas are untouched; the plain export unguarded.
    plain_recs = csv_records(ctx.data(plain))
    assert len(plain_recs) == len(recs)
    for g, p in zip(recs, plain_recs):
        for a, b in zip(g, p):
            assert a == b or (a == "'" + b and b[:1] in H.GUARD_CHARS), (g[0], a, b)


# ============================================================ 8. limits

def wait_no_files(ctx, job_id, timeout=3):
    deadline = time.monotonic() + timeout
    while ctx.files_of(job_id) and time.monotonic() < deadline:
        time.sleep(0.05)
    return ctx.files_of(job_id)


def check_limit_failure(ctx, d, job_id, limit_key, limit_value):
    row = ctx.wait(job_id)
    lines = [l[3] for l in d.log_lines() if l[3].startswith("job %s: " % job_id)]
    assert row.status == "failed", "over %s: %s\n%s" % (limit_key, brief(row), "\n".join(lines))
    assert row.error_code == "limit_exceeded", (row.error_code, row.error_message)
    assert limit_key in (row.error_message or "") and str(limit_value) in row.error_message, (
        "the message does not name the limit %s (%s): %r" % (limit_key, limit_value,
                                                              row.error_message))
    assert row.attempts == 1 and len(row.errors) == 1 and row.errors[0]["retry"] is False, (
        "a limit is not worth a retry: %s" % brief(row))
    files = wait_no_files(ctx, job_id)
    assert files == [], "files left for the failed job: %s" % files
    time.sleep(0.5)   # nothing picks it up again
    row = ctx.job(job_id)
    assert row.status == "failed" and row.attempts == 1, brief(row)


def test_limit_max_rows(ctx):
    d = ctx.use("max_rows")
    live = ctx.ids("acme")
    over = ctx.insert_job("acme", "contacts", "csv")
    over_gz = ctx.insert_job("acme", "contacts", "jsonl", compression="gzip")
    exact = ctx.insert_job("acme", "contacts", "csv", as_of_key=str(live[99]),
                           as_of_key_set=True)
    check_limit_failure(ctx, d, over, "export.max_rows", 100)
    check_limit_failure(ctx, d, over_gz, "export.max_rows", 100)
    row = ctx.done(exact)
    assert row.row_count == 100 and csv_ids(ctx.data(row)) == live[:100], brief(row)


def test_limit_max_bytes(ctx):
    d = ctx.use("max_bytes")
    live = ctx.ids("acme")
    over = ctx.insert_job("acme", "contacts", "csv")
    over_gz = ctx.insert_job("acme", "contacts", "csv", compression="gzip")
    small = ctx.insert_job("acme", "contacts", "csv", as_of_key=str(live[9]), as_of_key_set=True)
    check_limit_failure(ctx, d, over, "export.max_bytes", 10240)
    check_limit_failure(ctx, d, over_gz, "export.max_bytes", 10240)
    row = ctx.done(small)
    assert row.row_count == 10 and row.file_size <= 10240, brief(row)


