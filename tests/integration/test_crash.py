"""Crash tests: an export never loses a row, never duplicates one
and never stalls, whatever happens to a worker, the daemon or PostgreSQL in
the middle of it.

Each test runs its own exportd (stack.ExtraExportd: own config file and
log, the session's PostgreSQL and storage dir) with short timings:
heartbeat 300ms, lease 2s, chunk_rows 500, part_size 64k..256k. The
session's exportd is stopped while this module runs (so that only the
test's daemon claims jobs) and started again at the end.

Big exports read workspace "crash" (ROWS contacts, made with
sql/demo/generate.sql and copied into the table crash_rows, see the fixture)
through the view crash_contacts: the same rows and columns as contacts,
throttled (pg_sleep for one row in ROWS/1000) so an export lasts ~2-3 s and
a fault can land anywhere in it. Its CSV must equal, byte for byte, `psql
\\copy` of the same SELECT on crash_rows (helpers.reference_select); its
JSONL the file of an uninterrupted export of crash_rows.

Randomness: one seed per test, EXPORTD_CRASH_SEED or the clock, printed and
quoted in every failure message, with the replay command. Scale:
EXPORTD_CRASH_FULL=1 runs 1M rows and 10 kills (default 100k rows, 5 kills).
Figures (kill -9 -> resumed work, pick-up latency) are printed: run with -s
or -rP to see them for passing tests.
"""

import csv
import io
import json
import os
import random
import re
import signal
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import helpers as H
import stack as S

FULL = os.environ.get("EXPORTD_CRASH_FULL") == "1"
ROWS = 1000000 if FULL else 100000
KILLS = 10 if FULL else 5
WS = "crash"                  # the big workspace
SMALL_WS = "crash_small"      # a few rows per table, for many small jobs
SMALL_ROWS = 20
ROWS_TABLE = "crash_rows"     # the contacts rows of WS and SMALL_WS, copied
REFERENCE = "crash_contacts_all"  # export type: ROWS_TABLE, every row (no soft delete)
THROTTLED = "crash_contacts"  # export type: the throttled view on ROWS_TABLE
POISON = "crash_poison"       # export type: a view that fails transiently
HEARTBEAT_MS = 300
LEASE_MS = 2000
GRACE_MS = 3000
JOB_TIMEOUT = 120 if FULL else 40   # "never stalls": every job ends within this

BASE_SETTINGS = {
    "exportd": {
        "workers": 2,
        "poll_interval": "500ms",
        "chunk_rows": 500,
        "part_size": "128k",
        "heartbeat_interval": "%dms" % HEARTBEAT_MS,
        "lease_timeout": "%dms" % LEASE_MS,
        "max_attempts": 50,       # kills count as attempts; not what is tested here
        "retry_base": "100ms",
        "retry_max": "1s",
        "shutdown_grace": "%dms" % GRACE_MS,
    },
}

FIGURES = {}   # name -> value, printed by each test that measures something


# ------------------------------------------------------------ replay info

class Trial:
    """The test's random generator, its seed and a log of what it did; any
    exception leaving `with trial:` becomes an AssertionError quoting both
    and the command that replays the run."""

    def __init__(self, nodeid, name):
        env = os.environ.get("EXPORTD_CRASH_SEED")
        self.seed = int(env) if env else time.time_ns() % 1000000007
        self.rnd = random.Random(self.seed)
        self.nodeid = nodeid
        self.name = name
        self.t0 = time.time()
        self.events = []
        print("%s: seed %d (replay: EXPORTD_CRASH_SEED=%d%s tests/integration/run-pytest "
              "'test_crash.py::%s')" % (name, self.seed, self.seed,
                                        " EXPORTD_CRASH_FULL=1" if FULL else "", name))

    def event(self, fmt, *args):
        line = "+%7.3fs %s" % (time.time() - self.t0, fmt % args if args else fmt)
        self.events.append(line)
        print(line)

    def replay(self):
        return ("[seed %d; replay: EXPORTD_CRASH_SEED=%d%s tests/integration/run-pytest "
                "'test_crash.py::%s']\nwhat the test did:\n  %s"
                % (self.seed, self.seed, " EXPORTD_CRASH_FULL=1" if FULL else "", self.name,
                   "\n  ".join(self.events[-60:]) or "(nothing yet)"))

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is None or not issubclass(et, Exception):
            return False
        raise AssertionError("%s: %s\n%s" % (et.__name__, ev, self.replay())) from ev


@pytest.fixture
def trial(request):
    return Trial(request.node.nodeid, request.node.name)


# ------------------------------------------------------------ SQL helpers

class Watch(H.Poll):
    """helpers.Poll that reads a job's row."""

    COLS = ("status", "rows_done", "ckpt_rows", "ckpt_bytes", "ckpt_part", "lease_owner",
            "lease_token", "attempts", "file_key", "row_count", "file_size", "errors",
            "error_code", "error_message", "format", "cancel_requested", "created_at",
            "started_at", "completed_at", "run_at")

    def job(self, job_id):
        rows = self.query(
            "SELECT status, rows_done, ckpt_rows, ckpt_bytes, ckpt_part, lease_owner,"
            " lease_token, attempts, file_key, row_count, file_size, errors, error_code,"
            " error_message, format, cancel_requested_at IS NOT NULL, created_at,"
            " started_at, completed_at, run_at FROM export_jobs WHERE id = %s", (job_id,))
        assert rows, "job %s is gone" % job_id
        row = SimpleNamespace(**dict(zip(self.COLS, rows[0])))
        row.id = job_id
        return row


def brief(row):
    return ("status=%s rows_done=%s ckpt_rows=%s ckpt_bytes=%s owner=%s token=%s attempts=%s"
            % (row.status, row.rows_done, row.ckpt_rows, row.ckpt_bytes, row.lease_owner,
               row.lease_token, row.attempts))


def insert_job(pg, workspace, type_, fmt):
    return str(pg.query("INSERT INTO export_jobs (workspace, type, format) VALUES (%s, %s, %s)"
                        " RETURNING id", (workspace, type_, fmt))[0][0])


def owner_pid(row):
    """The pid in lease_owner "host:pid:slot"."""
    return int(row.lease_owner.rsplit(":", 2)[1])


def wait_job(watch, job_id, pred, what, daemon, timeout=JOB_TIMEOUT, interval=0.003):
    """Poll the job until pred(row); the row. AssertionError with the row and
    the daemon's log otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        row = watch.job(job_id)
        if pred(row):
            return row
        if time.monotonic() > deadline:
            raise AssertionError("job %s: timed out after %ss waiting for %s; %s\n%s"
                                 % (job_id, timeout, what, brief(row),
                                    S.logs_excerpt([daemon.name], lines=40)))
        time.sleep(interval)


def wait_done(watch, job_id, daemon, timeout=JOB_TIMEOUT):
    return wait_job(watch, job_id, lambda r: r.status in S.TERMINAL_STATUSES,
                    "a final status", daemon, timeout=timeout, interval=0.02)


def wait_busy(watch, job_id, daemon, min_rows=0, min_ckpt=0, newer_than=0, timeout=JOB_TIMEOUT):
    """Wait until the job is processing, held by a live worker of `daemon`
    with a lease token above newer_than, past min_rows rows done and
    min_ckpt checkpointed rows."""
    def ok(r):
        if r.status in S.TERMINAL_STATUSES:
            raise AssertionError("job %s ended (%s) before reaching rows_done >= %d /"
                                 " ckpt_rows >= %d: the test could not place its fault"
                                 % (job_id, brief(r), min_rows, min_ckpt))
        return (r.status == "processing" and r.lease_owner is not None
                and r.lease_token > newer_than and r.rows_done >= min_rows
                and r.ckpt_rows >= min_ckpt and owner_pid(r) in daemon.worker_pids())
    return wait_job(watch, job_id, ok, "processing past rows_done >= %d, ckpt_rows >= %d "
                    "(token > %d)" % (min_rows, min_ckpt, newer_than), daemon)


def job_log(daemon, job_id, start=0):
    """[(t, pid, level, message)] of the daemon's log lines about the job."""
    tag = "job %s: " % job_id
    return [l for l in daemon.log_lines(start) if l[3].startswith(tag)]


def log_events(daemon, job_id, what, start=0):
    return [l for l in job_log(daemon, job_id, start) if l[3].startswith("job %s: %s" % (job_id, what))]


RESUME_RX = re.compile(r"resuming after row (\d+) \((\d+) bytes, part (\d+)\)")


def resumes(daemon, job_id, start=0):
    """[(t, pid, rows, bytes, part)] of the job's 'resuming after row' lines."""
    out = []
    for t, pid, _, msg in log_events(daemon, job_id, "resuming after row", start):
        m = RESUME_RX.search(msg)
        out.append((t, pid, int(m.group(1)), int(m.group(2)), int(m.group(3))))
    return out


def pctl(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


# ------------------------------------------------------- the module's set-up

class Env:
    """What the module set up: data, types, references, keys."""

    def __init__(self, stack, root):
        self.stack = stack
        self.pg = stack.pg
        self.root = root
        self.storage = Path(stack.storage_dir)
        self.watch = Watch(stack.pg)
        self.refs = {}        # fmt -> (path, sha256, size)
        self.key = None       # API key of workspace WS
        self.columns = None

    def files_of(self, job_id):
        return sorted(p.name for p in self.storage.glob(job_id + "*"))

    def reference(self, fmt, daemon):
        """(path, sha256, size) of the file the export must equal."""
        if fmt in self.refs:
            return self.refs[fmt]
        if fmt == "csv":
            path = self.root / "crash-reference.csv"
            # The table behind the view: every row (the export type has no
            # soft-delete column).
            H.psql_copy_csv(self.pg, H.reference_select(
                self.pg, "contacts", WS, columns=self.columns, include_deleted=True,
                relation=ROWS_TABLE), path)
        else:
            # An uninterrupted export of the same rows: the unthrottled
            # table, like the throttled view without a soft-delete column.
            job_id = insert_job(self.pg, WS, REFERENCE, fmt)
            row = wait_done(self.watch, job_id, daemon)
            assert row.status == "complete", "reference export: %s" % brief(row)
            path = self.root / ("crash-reference." + fmt)
            os.replace(self.storage / row.file_key, path)
        self.refs[fmt] = (path, H.sha256_file(path), path.stat().st_size)
        return self.refs[fmt]


@pytest.fixture(scope="module")
def crash(stack, tmp_root):
    env = Env(stack, tmp_root)
    # Only the test's own exportd may claim jobs while this module runs.
    stack.exportd.stop(grace=15)
    try:
        pg = stack.pg
        have = pg.query("SELECT count(*) FROM contacts WHERE workspace = %s", (WS,))[0][0]
        t0 = time.monotonic()
        if have != ROWS:
            assert have == 0, "workspace %s already has %d rows" % (WS, have)
            stack.psql("-v", "rows=%d" % ROWS, "-v", "workspace=" + WS,
                       "-f", S.SRCDIR / "sql/demo/generate.sql")
            stack.psql("-v", "rows=%d" % SMALL_ROWS, "-v", "workspace=" + SMALL_WS,
                       "-f", S.SRCDIR / "sql/demo/generate.sql")
        # The module's rows in a table of its own, with only the key
        # indexed: exportd's chunk query is a prepared statement, and on the
        # shared contacts table (with its (workspace, id) index and as many
        # workspaces as other modules made) PostgreSQL's generic plan may
        # fetch and sort every remaining row of the workspace for each chunk,
        # running the throttle's pg_sleep for each: 100x slower exports
        # after, but not before, the modules that add workspaces.
        pg.query("DROP TABLE IF EXISTS %s CASCADE;"
                 " CREATE TABLE %s AS SELECT * FROM contacts WHERE workspace IN (%%s, %%s);"
                 " ALTER TABLE %s ADD PRIMARY KEY (id); ANALYZE %s"
                 % ((ROWS_TABLE,) * 4), (WS, SMALL_WS))
        print("demo data for %s (%d rows) and %s: %.1fs" % (WS, ROWS, SMALL_WS,
                                                              time.monotonic() - t0))
        env.columns = pg.query("SELECT columns FROM export_types WHERE name = 'contacts'")[0][0]
        every = max(1, ROWS // 1000)
        pg.query("""
            CREATE OR REPLACE FUNCTION crash_throttle(k bigint) RETURNS boolean
            LANGUAGE plpgsql VOLATILE AS $$
            BEGIN
                IF k %% {every} = 0 THEN PERFORM pg_sleep(0.002); END IF;
                RETURN true;
            END $$;
            CREATE OR REPLACE VIEW crash_contacts AS
                SELECT * FROM {rows} WHERE crash_throttle(id);
            CREATE OR REPLACE FUNCTION crash_poison(k bigint) RETURNS boolean
            LANGUAGE plpgsql VOLATILE AS $$
            BEGIN
                RAISE EXCEPTION 'simulated serialization failure (row %%)', k
                    USING ERRCODE = '40001';
            END $$;
            CREATE OR REPLACE VIEW crash_poison_contacts AS
                SELECT id, workspace, email FROM {rows} WHERE crash_poison(id);
            INSERT INTO export_types (name, relation, key_column, workspace_column, columns)
            VALUES ('{throttled}', 'crash_contacts', 'id', 'workspace', %s),
                   ('{reference}', '{rows}', 'id', 'workspace', %s),
                   ('{poison}', 'crash_poison_contacts', 'id', 'workspace', '{{id,email}}')
            ON CONFLICT (name) DO NOTHING;
        """.format(every=every, throttled=THROTTLED, poison=POISON, reference=REFERENCE,
                   rows=ROWS_TABLE),
            (env.columns, env.columns))
        pg.expose(THROTTLED, REFERENCE, POISON)
        out = stack.exportctl("apikey", "create", "--workspace", WS,
                              "--email", "crash@example.com").stdout
        env.key = out.strip().splitlines()[-1].strip()
        yield env
    finally:
        env.watch.close()
        try:
            stack.pg.query("UPDATE export_jobs SET status = 'cancelled', completed_at = now()"
                           " WHERE workspace IN (%s, %s) AND status IN ('pending', 'processing')",
                           (WS, SMALL_WS))
        finally:
            stack.start_exportd()
        if FIGURES:
            print("\ncrash test figures:\n  " + "\n  ".join(
                "%s: %s" % kv for kv in FIGURES.items()))


class Daemons:
    def __init__(self, stack, nodename):
        self.stack = stack
        self.nodename = nodename
        self.all = []

    def start(self, label, **exportd):
        settings = {"exportd": dict(BASE_SETTINGS["exportd"], **exportd)}
        d = S.ExtraExportd(self.stack, "exportd %s (%s)" % (label, self.nodename), settings)
        self.all.append(d)
        d.start()
        return d


@pytest.fixture
def daemons(crash, request):
    ds = Daemons(crash.stack, request.node.name)
    yield ds
    for d in ds.all:
        d.stop(grace=15)
    # nothing of this test may be picked up by the next one
    crash.pg.query("UPDATE export_jobs SET status = 'cancelled', completed_at = now()"
                   " WHERE workspace IN (%s, %s) AND status IN ('pending', 'processing')",
                   (WS, SMALL_WS))


# ------------------------------------------------------------ file checks

def row_ends(data, fmt):
    """Byte offsets just past each record (CSV: header first; a newline
    inside a quoted field does not end a record)."""
    ends, pos, quotes = [], 0, 0
    for piece in data.split(b"\n"):
        pos += len(piece) + 1
        quotes += piece.count(b'"')
        if fmt == "jsonl" or quotes % 2 == 0:
            ends.append(pos)
    if ends and ends[-1] == len(data) + 1:   # the empty piece after the last newline
        ends.pop()
    return ends


def first_difference(a_path, b_path):
    a, b = Path(a_path).read_bytes(), Path(b_path).read_bytes()
    n = min(len(a), len(b))
    i = next((k for k in range(0, n, 4096) if a[k:k + 4096] != b[k:k + 4096]), None)
    if i is None:
        return "the first %d bytes agree; sizes %d (exported) vs %d (reference)" % (
            n, len(a), len(b))
    while a[i] == b[i]:
        i += 1
    line = a.count(b"\n", 0, i) + 1
    start = max(a.rfind(b"\n", 0, i), 0)
    nul = len(a[i:]) - len(a[i:].lstrip(b"\0"))
    last = next((k for k in range(n - 1, -1, -1) if a[k] != b[k]), i)
    return ("first difference at byte %d (line %d), last at byte %d; %d NUL bytes from the "
            "first difference on (%d NUL bytes in the file, %d in the reference); "
            "exported: %r; reference: %r"
            % (i, line, last, nul, a.count(b"\0"), b.count(b"\0"), a[start:i + 120][:160],
               b[start:i + 120][:160]))


def check_export(env, row, fmt, ref, resume_points=()):
    """The job is complete and its file is exactly the reference: one final
    file, no .part, sha256 equal, row count exact, ids strictly increasing;
    every resume point (rows, bytes) a record boundary of the final file."""
    assert row.status == "complete", "job not complete: %s" % brief(row)
    files = env.files_of(row.id)
    want_name = "%s.%s" % (row.id, fmt)
    assert files == [want_name], "storage holds %s for the job, expected only %s" % (
        files, want_name)
    path = env.storage / want_name
    ref_path, ref_sha, ref_size = ref
    got_sha = H.sha256_file(path)
    assert got_sha == ref_sha, "file %s differs from the reference %s: %s" % (
        path, ref_path, first_difference(path, ref_path))
    assert row.row_count == ROWS and row.file_size == ref_size, (
        "row_count %s (want %d), file_size %s (want %d)" % (row.row_count, ROWS,
                                                            row.file_size, ref_size))
    data = path.read_bytes()
    if fmt == "csv":
        records = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
        header, body = records[0], records[1:]
        assert header == list(env.columns), header
        ids = [int(r[0]) for r in body]
    else:
        assert data.endswith(b"\n"), data[-200:]
        # split on LF only: U+2028/U+2029 may appear raw inside JSON strings
        ids = [json.loads(l)["id"] for l in data.decode("utf-8").split("\n")[:-1]]
    assert len(ids) == ROWS, "%d rows in the file, %d in the workspace" % (len(ids), ROWS)
    dups = [b for a, b in zip(ids, ids[1:]) if b <= a]
    assert not dups, "ids not strictly increasing (duplicated or out of order): %s" % dups[:10]
    ends = row_ends(data, fmt)
    offset = 0 if fmt == "jsonl" else 1   # CSV: ends[0] is the header
    for rows, nbytes in resume_points:
        assert 1 <= rows <= ROWS and ends[rows - 1 + offset] == nbytes, (
            "resumed after row %d at byte %d, but in the final file row %d ends at byte %s"
            % (rows, nbytes, rows, ends[rows - 1 + offset] if rows <= ROWS else "-"))


# ================================================================== tests

@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_kill9_busy_worker_at_random_moments(crash, daemons, trial, fmt):
    """kill -9 the lease holder KILLS times in one export: same file."""
    with trial:
        rnd = trial.rnd
        part, wbuf = rnd.choice(["64k", "128k", "256k"]), rnd.choice(["8k", "32k", "256k"])
        d = daemons.start("kill9-" + fmt, part_size=part, write_buffer=wbuf)
        trial.event("exportd %d started: part_size %s, write_buffer %s", d.pid, part, wbuf)
        ref = crash.reference(fmt, d)
        log0 = d.log_size()
        thresholds = sorted(rnd.sample(range(ROWS * 3 // 100, ROWS * 92 // 100), KILLS))
        job_id = insert_job(crash.pg, WS, THROTTLED, fmt)
        trial.event("job %s (%s) inserted; kill thresholds (rows_done) %s", job_id, fmt,
                    thresholds)
        kills, token = [], 0
        for i, th in enumerate(thresholds):
            row = wait_busy(crash.watch, job_id, d, min_rows=th, newer_than=token)
            delay = rnd.choice([0, 0, rnd.uniform(0, 0.03)])
            if delay:
                time.sleep(delay)
                row = wait_busy(crash.watch, job_id, d, newer_than=token)
            pid = owner_pid(row)
            assert pid in d.worker_pids(), "lease owner %s is not a worker of %d" % (
                row.lease_owner, d.pid)
            if kills and kills[-1].ckpt_bytes > 0:
                # This holder took over a checkpoint, and it inherits rows_done,
                # so a close threshold can be passed the moment it claims: let
                # it say where it resumes before it dies, or the count of
                # resumes below comes up short.
                S.wait_until(lambda: any(r[1] == pid for r in resumes(d, job_id, log0)), 10,
                             "worker %d to log where it resumes" % pid, interval=0.005)
            t_kill = time.time()
            os.kill(pid, signal.SIGKILL)
            trial.event("kill %d/%d: SIGKILL worker %d (+%.0fms past threshold %d): %s",
                        i + 1, KILLS, pid, delay * 1000, th, brief(row))
            kills.append(SimpleNamespace(t=t_kill, pid=pid, token=row.lease_token,
                                         ckpt_bytes=row.ckpt_bytes, rows_done=row.rows_done))
            token = row.lease_token
        row = wait_done(crash.watch, job_id, d)
        trial.event("job ended: %s", brief(row))
        if row.status == "complete":
            # The row turns complete at the worker's commit, and the worker
            # logs "complete" just after: a slow one (valgrind) logs it later.
            S.wait_until(lambda: log_events(d, job_id, "complete", log0), 10 * S.TIME_SCALE,
                         "the worker to log the job's completion", interval=0.01)

        claims = log_events(d, job_id, "claimed", log0)
        done = log_events(d, job_id, "complete", log0)
        gone = log_events(d, job_id, "checkpoint data is gone", log0)
        res = resumes(d, job_id, log0)
        trial.event("log: %d claims, %d resumes %s, %d 'complete', %d 'checkpoint data is gone'",
                    len(claims), len(res), [(r[2], r[3]) for r in res], len(done), len(gone))
        check_export(crash, row, fmt, ref, [(r[2], r[3]) for r in res])
        assert row.attempts == KILLS + 1, (
            "attempts %d after %d kills (one claim per holder)" % (row.attempts, KILLS))
        assert len(claims) == KILLS + 1 and len(done) == 1, (
            "claims %s, completions %s" % (claims, done))
        assert not gone, "a killed worker's .part was not found again: %s" % gone
        with_ckpt = sum(1 for k in kills if k.ckpt_bytes > 0)
        assert with_ckpt <= len(res) <= KILLS, (
            "%d kills after a checkpoint, %d 'resuming after row' lines" % (with_ckpt, len(res)))
        # kill -9 -> the next holder's first line about the job
        delays = []
        for k in kills:
            nxt = [l for l in claims if l[0] >= k.t - 0.002 and l[1] != k.pid]
            if nxt:
                delays.append(nxt[0][0] - k.t)
        resumed = []
        for k in kills:
            nxt = [r for r in res if r[0] >= k.t - 0.002]
            if nxt:
                resumed.append(nxt[0][0] - k.t)
        H.figure(FIGURES, "kill -9 worker -> job claimed again (%s, s)" % fmt,
                 "max %.3f, median %.3f, all %s" % (max(delays), pctl(delays, 50),
                                                    ["%.3f" % x for x in delays]))
        H.figure(FIGURES, "kill -9 worker -> 'resuming after row' (%s, s)" % fmt,
                 ["%.3f" % x for x in resumed])


def test_kill9_whole_daemon_then_restart_resumes(crash, daemons, trial):
    with trial:
        rnd = trial.rnd
        d = daemons.start("kill-daemon")
        ref = crash.reference("csv", d)
        th = rnd.randint(ROWS // 10, ROWS * 7 // 10)
        job_id = insert_job(crash.pg, WS, THROTTLED, "csv")
        trial.event("job %s inserted; killing the daemon once ckpt_rows >= %d", job_id, th)
        row = wait_busy(crash.watch, job_id, d, min_ckpt=th)
        pids = [d.pid] + d.worker_pids()
        t_kill = time.time()
        d.kill()     # SIGKILL to the process group
        trial.event("SIGKILL to exportd's group %s: %s", pids, brief(row))
        assert not any(S.pid_alive(p) for p in pids), "exportd processes survived SIGKILL"
        down = rnd.choice([0, 0.2, 1.0])
        time.sleep(down)
        after = crash.watch.job(job_id)
        assert after.status == "processing", "after kill -9: %s" % brief(after)
        log0 = d.log_size()
        d.start()
        trial.event("exportd restarted after %.1fs down (pid %d): %s", down, d.pid, brief(after))
        res = d.wait_for_log(r"^job %s: resuming after row" % job_id, start=log0,
                             timeout=JOB_TIMEOUT)
        row = wait_done(crash.watch, job_id, d)
        trial.event("job ended: %s", brief(row))
        r = resumes(d, job_id, log0)
        check_export(crash, row, "csv", ref, [(x[2], x[3]) for x in r])
        assert r[0][2] == after.ckpt_rows and r[0][3] == after.ckpt_bytes, (
            "resumed at %s, checkpoint in the database after the kill: rows %d bytes %d"
            % (r[0], after.ckpt_rows, after.ckpt_bytes))
        assert row.attempts == 2, "attempts %d" % row.attempts
        H.figure(FIGURES,
                 "kill -9 daemon -> 'resuming after row' after restart (s, %.1fs down)" % down,
                 "%.3f" % (res[0] - t_kill))


def test_sigstop_worker_past_its_lease_loses_the_job(crash, daemons, trial):
    with trial:
        rnd = trial.rnd
        d = daemons.start("sigstop")
        ref = crash.reference("csv", d)
        log0 = d.log_size()
        th = rnd.randint(ROWS // 10, ROWS * 6 // 10)
        job_id = insert_job(crash.pg, WS, THROTTLED, "csv")
        row = wait_busy(crash.watch, job_id, d, min_rows=th)
        a, token_a = owner_pid(row), row.lease_token
        os.kill(a, signal.SIGSTOP)
        t_stop = time.time()
        trial.event("SIGSTOP worker %d: %s", a, brief(row))
        try:
            taken = wait_job(crash.watch, job_id,
                             lambda r: r.lease_token > token_a or r.status != "processing",
                             "another worker to take the job over", d,
                             timeout=LEASE_MS / 1000.0 + 10)
            t_taken = time.time() - t_stop
            trial.event("taken over after %.2fs: %s", t_taken, brief(taken))
            assert taken.status == "processing", "job left processing while its holder " \
                "was stopped: %s" % brief(taken)
            assert taken.lease_owner != row.lease_owner and owner_pid(taken) != a, brief(taken)
            assert t_taken >= LEASE_MS / 1000.0 - HEARTBEAT_MS / 1000.0 - 0.1, (
                "taken over %.2fs after SIGSTOP, before the lease (%dms) could run out"
                % (t_taken, LEASE_MS))
        finally:
            os.kill(a, signal.SIGCONT)
        trial.event("SIGCONT worker %d", a)
        lost = d.wait_for_log(r"^job %s: lease lost" % job_id, start=log0, timeout=10)
        trial.event("worker %d logged %r", lost[1], lost[3])
        row = wait_done(crash.watch, job_id, d)
        trial.event("job ended: %s", brief(row))
        H.figure(FIGURES, "SIGSTOP -> another worker holds the job (s, lease %dms)" % LEASE_MS,
                 "%.3f" % t_taken)
        assert_superseded_holder_stayed_out(crash, d, trial, job_id, row, a, ref, log0)


def assert_superseded_holder_stayed_out(crash, d, trial, job_id, row, a, ref, log0):
    """Worker a lost its lease to a taker: it says so, never completes nor
    claims again; one taker; the file is exact. Every problem is listed."""
    events = job_log(d, job_id, log0)
    trial.event("log lines about the job:\n    %s", "\n    ".join(
        "%d %s %s" % (l[1], l[2], l[3]) for l in events))
    problems = []
    lost = [l for l in events if l[3].startswith("job %s: lease lost" % job_id)]
    if not any(l[1] == a for l in lost):
        problems.append("the stopped worker %d never logged 'lease lost' (lines: %s)"
                        % (a, lost))
    claims = [l for l in events if l[3].startswith("job %s: claimed" % job_id)]
    done = [l for l in events if l[3].startswith("job %s: complete" % job_id)]
    if len(done) != 1 or done[0][1] == a:
        problems.append("completed by %s; the stopped worker %d must never complete it"
                        % ([l[1] for l in done], a))
    if row.attempts != 2 or len(claims) != 2:
        problems.append("attempts %d and %d claims %s: expected the first holder and "
                        "exactly one taker" % (row.attempts, len(claims),
                                               [(l[1], l[3].split(": ", 1)[1]) for l in claims]))
    try:
        check_export(crash, row, "csv", ref, [(x[2], x[3]) for x in resumes(d, job_id, log0)])
    except AssertionError as e:
        problems.append("the file: %s" % e)
    assert not problems, "\n".join(problems)


def test_holder_stopped_in_setup_never_touches_the_file(crash, daemons, trial):
    """A worker claims a job and is stopped before it opens the file (it
    hangs in PREPARE: the relation is locked, then SIGSTOP); its lease runs
    out, another worker takes over and writes; SIGCONT. The first worker
    must not truncate or write the file it no longer owns."""
    with trial:
        rnd = trial.rnd
        d = daemons.start("sigstop-setup")
        ref = crash.reference("csv", d)
        log0 = d.log_size()
        conn = crash.pg.connect(autocommit=False)
        try:
            with conn.cursor() as cur:
                cur.execute("LOCK TABLE crash_contacts IN ACCESS EXCLUSIVE MODE")
                job_id = insert_job(crash.pg, WS, THROTTLED, "csv")
                row = wait_busy(crash.watch, job_id, d)
                a, token_a = owner_pid(row), row.lease_token
                S.wait_until(lambda: crash.pg.query(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name ="
                    " 'exportd-data' AND wait_event_type = 'Lock'")[0][0] == 1, 10,
                    "the claimer's PREPARE to wait for the lock")
                os.kill(a, signal.SIGSTOP)
                trial.event("worker %d claimed %s and waits in PREPARE: SIGSTOP", a, job_id)
            conn.commit()
        finally:
            conn.close()
        fds = []
        for fd in os.listdir("/proc/%d/fd" % a):
            try:
                fds.append(os.readlink("/proc/%d/fd/%s" % (a, fd)))
            except OSError:
                pass
        assert not [f for f in fds if job_id in f], "worker %d already has %s open" % (a, fds)
        try:
            taken = wait_job(crash.watch, job_id,
                             lambda r: r.lease_token > token_a or r.status != "processing",
                             "another worker to take the job over", d,
                             timeout=LEASE_MS / 1000.0 + 10)
            trial.event("taken over: %s", brief(taken))
            target = rnd.randint(ROWS // 10, ROWS // 3)
            ahead = wait_busy(crash.watch, job_id, d, min_ckpt=target,
                              newer_than=token_a)
            trial.event("the taker is at %s", brief(ahead))
        finally:
            os.kill(a, signal.SIGCONT)
        trial.event("SIGCONT worker %d", a)
        row = wait_done(crash.watch, job_id, d)
        trial.event("job ended: %s", brief(row))
        assert_superseded_holder_stayed_out(crash, d, trial, job_id, row, a, ref, log0)


def test_postgres_restart_mid_export(crash, daemons, trial):
    with trial:
        rnd = trial.rnd
        stack, pg = crash.stack, crash.pg
        d = daemons.start("pg-restart")
        ref = crash.reference("csv", d)
        log0 = d.log_size()
        th = rnd.randint(ROWS // 10, ROWS * 6 // 10)
        job_id = insert_job(pg, WS, THROTTLED, "csv")
        row = wait_busy(crash.watch, job_id, d, min_ckpt=th)
        fcgi = pg.query("SELECT count(*) FROM pg_stat_activity"
                        " WHERE application_name = 'export.fcgi'")[0][0]
        try:
            t0 = time.time()
            S.restart_postgres(pg)
            t1 = time.time()
            # right away: before the workers' reconnect backoff runs out
            new_id, workers = pg.query(
                "INSERT INTO export_jobs (workspace, type, format) VALUES (%s, 'invoices', 'csv')"
                " RETURNING id, (SELECT count(*) FROM pg_stat_activity"
                "  WHERE application_name = 'exportd-worker')", (SMALL_WS,))[0]
            new_id = str(new_id)
            trial.event("pg_ctl restart -m fast took %.2fs (%s); job %s inserted with %d "
                        "exportd workers connected", t1 - t0, brief(row), new_id, workers)
            H.figure(FIGURES, "pg restart: exportd workers connected when the new job was inserted",
                     workers)
            row = wait_done(crash.watch, job_id, d)
            new = wait_done(crash.watch, new_id, d)
            trial.event("big job ended: %s; new job: %s", brief(row), brief(new))
            assert new.status == "complete" and new.row_count == SMALL_ROWS, brief(new)
            r = resumes(d, job_id, log0)
            trial.event("resumes %s", r)
            assert r, "no 'resuming after row' for job %s after the restart" % job_id
            check_export(crash, row, "csv", ref, [(x[2], x[3]) for x in r])
            H.figure(FIGURES, "pg restart -> 'resuming after row' (s)", "%.3f" % (r[0][0] - t0))
        finally:
            S.wait_fcgi_reconnected(stack, fcgi)
            assert stack.api("GET", "/healthz", key=None).status_code == 200


def test_terminated_control_connection_mid_export(crash, daemons, trial):
    with trial:
        rnd = trial.rnd
        pg = crash.pg
        d = daemons.start("terminate")
        ref = crash.reference("csv", d)
        log0 = d.log_size()
        th = rnd.randint(ROWS // 10, ROWS * 6 // 10)
        job_id = insert_job(pg, WS, THROTTLED, "csv")
        row = wait_busy(crash.watch, job_id, d, min_ckpt=th)
        # For the record: the control connection holding the job's advisory
        # lock (namespace 'EXPD' in src/jobs/jobs.c), i.e. the busy worker's.
        holder = pg.query(
            "SELECT l.pid, a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
            " WHERE l.locktype = 'advisory' AND l.classid = 1163416644 AND l.granted")
        # Every worker's LISTEN/control connection at once, then a job by
        # plain SQL while no one listens: the workers are held (SIGSTOP) for
        # those few milliseconds so that none can reconnect in between.
        pids = d.worker_pids()
        conn = pg.connect()
        t0 = time.time()
        try:
            for p in pids:
                os.kill(p, signal.SIGSTOP)
            with conn.cursor() as cur:
                cur.execute("SELECT pid, pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
                            " WHERE application_name = 'exportd-worker'")
                killed = cur.fetchall()
                cur.execute("INSERT INTO export_jobs (workspace, type, format)"
                            " VALUES (%s, 'events', 'jsonl') RETURNING id", (SMALL_WS,))
                new_id = str(cur.fetchone()[0])
                cur.execute("SELECT count(*) FROM pg_stat_activity"
                            " WHERE application_name = 'exportd-worker'")
                workers = cur.fetchone()[0]
        finally:
            for p in pids:
                os.kill(p, signal.SIGCONT)
            conn.close()
        held = time.time() - t0
        trial.event("workers %s held %.3fs; terminated %s (job lock holders: %s) at %s; job %s "
                    "inserted with %d workers connected", pids, held, killed, holder,
                    brief(row), new_id, workers)
        assert len(killed) == len(pids) and all(k[1] for k in killed), (
            "terminated %s, workers %s" % (killed, pids))
        assert workers == 0, "%d exportd-worker connections right after terminating" % workers
        row = wait_done(crash.watch, job_id, d)
        new = wait_done(crash.watch, new_id, d)
        trial.event("big job ended: %s; new job: %s", brief(row), brief(new))
        assert new.status == "complete" and new.row_count == SMALL_ROWS, brief(new)
        r = resumes(d, job_id, log0)
        trial.event("resumes %s", r)
        assert r, "no 'resuming after row' for job %s after its control connection died" % job_id
        check_export(crash, row, "csv", ref, [(x[2], x[3]) for x in r])
        H.figure(FIGURES, "terminated control connection -> 'resuming after row' (s)",
                 "%.3f" % (r[0][0] - t0))


def test_200_jobs_at_once_each_run_exactly_once(crash, daemons, trial):
    with trial:
        rnd = trial.rnd
        pg = crash.pg
        d = daemons.start("burst", workers=4)
        log0 = d.log_size()
        n = 200
        types = [rnd.choice(["contacts", "invoices", "events"]) for _ in range(n)]
        fmts = [rnd.choice(["csv", "jsonl"]) for _ in range(n)]
        t0 = time.monotonic()
        ids = [str(r[0]) for r in pg.query(
            "INSERT INTO export_jobs (workspace, type, format)"
            " SELECT %s, t, f FROM unnest(%s::text[], %s::text[]) AS u(t, f) RETURNING id",
            (SMALL_WS, types, fmts))]
        assert len(ids) == n
        trial.event("%d jobs inserted in one statement", n)
        deadline = time.monotonic() + 60
        while True:
            counts = dict(pg.query("SELECT status, count(*) FROM export_jobs"
                                   " WHERE id = ANY(%s::uuid[]) GROUP BY 1", (ids,)))
            if sum(counts.get(s, 0) for s in S.TERMINAL_STATUSES) == n:
                break
            assert time.monotonic() < deadline, "after 60s: %s\n%s" % (
                counts, S.logs_excerpt([d.name], lines=30))
            time.sleep(0.05)
        elapsed = time.monotonic() - t0
        trial.event("all %d final after %.2fs: %s", n, elapsed, counts)
        rows = pg.query(
            "SELECT id::text, status, attempts, row_count, file_key, file_size,"
            " extract(epoch FROM started_at - created_at) FROM export_jobs"
            " WHERE id = ANY(%s::uuid[])", (ids,))
        bad = [r for r in rows if r[1] != "complete" or r[2] != 1 or r[3] != SMALL_ROWS]
        assert not bad, "%d jobs not complete exactly once with %d rows: %s" % (
            len(bad), SMALL_ROWS, bad[:10])
        lines = d.log_lines(log0)
        claims, completes = {}, {}
        for _, pid, _, msg in lines:
            m = re.match(r"job ([0-9a-f-]{36}): (claimed|complete)", msg)
            if m:
                (claims if m.group(2) == "claimed" else completes).setdefault(
                    m.group(1), []).append(pid)
        twice = {j: (claims.get(j), completes.get(j)) for j in ids
                 if len(claims.get(j, [])) != 1 or len(completes.get(j, [])) != 1}
        assert not twice, "jobs not claimed/completed exactly once: %s" % list(twice.items())[:10]
        missing = [r[0] for r in rows if not (crash.storage / r[4]).is_file()
                   or (crash.storage / r[4]).stat().st_size != r[5]]
        assert not missing, "files missing or of the wrong size: %s" % missing[:10]
        per_worker = {}
        for j, pids in claims.items():
            per_worker[pids[0]] = per_worker.get(pids[0], 0) + 1
        lat = [float(r[6]) for r in rows]
        H.figure(FIGURES, "200 jobs, 4 workers: all complete (s)", "%.2f" % elapsed)
        H.figure(FIGURES,
                 "200 jobs: pick-up latency created_at -> started_at min/p50/p99/max (s)",
                 "%.3f / %.3f / %.3f / %.3f" % (min(lat), pctl(lat, 50), pctl(lat, 99), max(lat)))
        H.figure(FIGURES, "200 jobs: jobs per worker", sorted(per_worker.values()))


def test_sigterm_gives_the_job_back_and_restart_resumes(crash, daemons, trial):
    with trial:
        rnd = trial.rnd
        d = daemons.start("sigterm")
        ref = crash.reference("csv", d)
        log0 = d.log_size()
        th = rnd.randint(ROWS // 10, ROWS * 7 // 10)
        job_id = insert_job(crash.pg, WS, THROTTLED, "csv")
        row = wait_busy(crash.watch, job_id, d, min_rows=th)
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        rc = d.wait_exit(GRACE_MS / 1000.0 + 5)
        took = time.monotonic() - t0
        trial.event("SIGTERM at %s: exit status %s after %.2fs", brief(row), rc, took)
        assert rc == 0, "exportd exited with %s on SIGTERM (still running: %s)" % (
            rc, rc is None)
        assert took <= GRACE_MS / 1000.0 + 1, "exportd took %.2fs to exit (grace %dms + 1s)" % (
            took, GRACE_MS)
        back = crash.watch.job(job_id)
        trial.event("after the shutdown: %s", brief(back))
        assert back.status == "pending" and back.lease_owner is None, brief(back)
        assert back.ckpt_rows > 0 and back.ckpt_bytes > 0, "no checkpoint: %s" % brief(back)
        assert back.attempts == 0, "attempts %d after a shutdown release" % back.attempts
        rel = log_events(d, job_id, "released for another worker", log0)
        assert len(rel) == 1, "released lines: %s" % rel
        log1 = d.log_size()
        d.start()
        res = d.wait_for_log(r"^job %s: resuming after row" % job_id, start=log1,
                             timeout=JOB_TIMEOUT)
        row = wait_done(crash.watch, job_id, d)
        trial.event("restarted: %r; job ended: %s", res[3], brief(row))
        r = resumes(d, job_id, log1)
        assert (r[0][2], r[0][3]) == (back.ckpt_rows, back.ckpt_bytes), (
            "resumed at %s, checkpoint was rows %d bytes %d" % (r[0], back.ckpt_rows,
                                                               back.ckpt_bytes))
        check_export(crash, row, "csv", ref, [(x[2], x[3]) for x in r])
        assert row.attempts == 1, "attempts %d" % row.attempts
        H.figure(FIGURES, "SIGTERM -> exportd exit (s)", "%.3f" % took)


def test_sigquit_stops_at_once_and_the_next_daemon_takes_over(crash, daemons, trial):
    """SIGQUIT: no drain (the workers are killed, the job stays claimed);
    its lock goes with the connection, so the next exportd takes it over at
    once and the file is still byte-identical."""
    with trial:
        rnd = trial.rnd
        d = daemons.start("sigquit", shutdown_grace="20s")
        ref = crash.reference("csv", d)
        log0 = d.log_size()
        job_id = insert_job(crash.pg, WS, THROTTLED, "csv")
        row = wait_busy(crash.watch, job_id, d, min_rows=rnd.randint(ROWS // 10, ROWS // 2))
        t0 = time.monotonic()
        d.signal(signal.SIGQUIT)
        rc = d.wait_exit(10)
        took = time.monotonic() - t0
        trial.event("SIGQUIT at %s: exit status %s after %.2fs", brief(row), rc, took)
        assert rc == 0 and took < 3, (rc, took)
        assert d.wait_for_log(r"^stopping at once", start=log0, timeout=1)
        back = crash.watch.job(job_id)
        assert back.status == "processing", "a SIGQUIT released the job: %s" % brief(back)
        d.start()
        row = wait_done(crash.watch, job_id, d)
        trial.event("restarted; job ended: %s", brief(row))
        check_export(crash, row, "csv", ref, [(x[2], x[3]) for x in resumes(d, job_id, log0)])
        H.figure(FIGURES, "SIGQUIT -> exportd exit (s)", "%.3f" % took)


def test_second_sigterm_while_draining_stops_at_once(crash, daemons, trial):
    """A worker that cannot drain (stopped) holds the first SIGTERM's drain
    for shutdown_grace; a second SIGTERM ends it at once."""
    with trial:
        d = daemons.start("sigterm2", shutdown_grace="20s")
        log0 = d.log_size()
        job_id = insert_job(crash.pg, WS, THROTTLED, "csv")
        row = wait_busy(crash.watch, job_id, d, min_rows=ROWS // 10)
        a = owner_pid(row)
        os.kill(a, signal.SIGSTOP)
        d.signal(signal.SIGTERM)
        time.sleep(1.0)
        assert d.alive(), "exportd exited before its stopped worker drained"
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        rc = d.wait_exit(10)
        took = time.monotonic() - t0
        trial.event("second SIGTERM: exit status %s after %.2fs", rc, took)
        assert rc == 0 and took < 3, (rc, took)
        assert d.wait_for_log(r"while draining: stopping at once", start=log0, timeout=1)
        assert not S.pid_alive(a), "worker %d outlived the supervisor" % a
        d.start()
        row = wait_done(crash.watch, job_id, d)
        assert row.status == "complete", brief(row)


def test_cancel_while_running_stops_and_removes_the_file(crash, daemons, trial):
    with trial:
        rnd = trial.rnd
        stack = crash.stack
        d = daemons.start("cancel")
        r = stack.api("POST", "/exports", key=crash.key, json={"type": THROTTLED, "format": "csv"})
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        th = rnd.randint(ROWS // 20, ROWS // 2)
        row = wait_busy(crash.watch, job_id, d, min_rows=th)
        assert crash.files_of(job_id) == [job_id + ".csv.part"], crash.files_of(job_id)
        t0 = time.monotonic()
        r = stack.api("DELETE", "/exports/" + job_id, key=crash.key)
        trial.event("DELETE at %s: %d", brief(row), r.status_code)
        assert r.status_code == 202, (r.status_code, r.text)
        row = wait_job(crash.watch, job_id, lambda x: x.status != "processing",
                       "the worker to stop", d, timeout=10)
        took = time.monotonic() - t0
        files = crash.files_of(job_id)
        trial.event("%s after %.3fs; files %s", row.status, took, files)
        assert row.status == "cancelled", brief(row)
        assert took <= 2 * HEARTBEAT_MS / 1000.0, (
            "cancelled %.3fs after DELETE, more than two heartbeats (%dms)" % (took, HEARTBEAT_MS))
        assert files == [], "files left for the cancelled job: %s" % files
        time.sleep(2 * HEARTBEAT_MS / 1000.0)
        body = stack.api("GET", "/exports/" + job_id, key=crash.key).json()
        assert body["status"] == "cancelled" and body["cancel_requested"] is True, body
        assert crash.files_of(job_id) == [], crash.files_of(job_id)
        H.figure(FIGURES, "DELETE -> cancelled (s)", "%.3f" % took)


def test_poison_job_fails_after_max_attempts_with_every_error(crash, daemons, trial):
    with trial:
        stack = crash.stack
        d = daemons.start("poison", max_attempts=3, retry_base="100ms", retry_max="200ms")
        job_id = insert_job(crash.pg, WS, POISON, "csv")
        row = wait_done(crash.watch, job_id, d, timeout=20)
        trial.event("job ended: %s; errors %s", brief(row), row.errors)
        assert row.status == "failed" and row.attempts == 3, brief(row)
        errs = row.errors
        assert isinstance(errs, list) and len(errs) == 3, errs
        assert [e.get("attempt") for e in errs] == [1, 2, 3], errs
        assert [e.get("retry") for e in errs] == [True, True, False], errs
        for e in errs:
            assert e.get("code") == "database_error", e
            assert "simulated serialization failure" in (e.get("message") or ""), e
        at = [e["at"] for e in errs]
        stamps = crash.pg.query(
            "SELECT extract(epoch FROM (e->>'at')::timestamptz)"
            " FROM export_jobs, jsonb_array_elements(errors) e WHERE id = %s", (job_id,))
        gaps = [b[0] - a[0] for a, b in zip(stamps, stamps[1:])]
        trial.event("gaps between attempts %s (at %s)", gaps, at)
        assert gaps[0] >= 0.05 and gaps[1] >= 0.1, (
            "retries came sooner than the backoff (100ms, then 200ms, jittered to at least half)"
            ": %s" % gaps)
        # The backoff, not the poll interval (500ms), decides when a retry runs.
        assert max(gaps) < 0.45, "retries waited for the poll, not the backoff: %s" % gaps
        r = stack.api("GET", "/exports/" + job_id, key=crash.key)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "failed" and body["attempts"] == 3, body
        assert body["error"] == {"code": errs[-1]["code"], "message": errs[-1]["message"]}, body
        # Failed for good: nothing will resume it, so no partial file stays.
        assert crash.files_of(job_id) == [], crash.files_of(job_id)


def test_job_whose_workers_keep_dying_fails_after_max_attempts(crash, daemons, trial):
    # A job as a crashing worker leaves it: processing, its lease run out,
    # attempts already at the limit.  The next claim must fail it for good
    # instead of running it (and crashing) forever.
    with trial:
        d = daemons.start("dying", max_attempts=3)
        job_id = str(crash.pg.query(
            "INSERT INTO export_jobs (workspace, type, format, status, attempts, lease_token,"
            " lease_owner, lease_expires_at, started_at)"
            " VALUES (%s, 'contacts', 'csv', 'processing', 3, 0, 'gone:1:0',"
            " now() - interval '1 minute', now()) RETURNING id", (SMALL_WS,))[0][0])
        row = wait_done(crash.watch, job_id, d, timeout=20)
        trial.event("job ended: %s; errors %s", brief(row), row.errors)
        assert row.status == "failed" and row.attempts == 4, brief(row)
        assert row.errors and row.errors[-1]["retry"] is False, row.errors
        assert "gave up after 3 attempts" in row.errors[-1]["message"], row.errors
        assert crash.files_of(job_id) == [], crash.files_of(job_id)
