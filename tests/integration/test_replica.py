"""Rows read from a hot standby (database.source_url, migration 016): a real
streaming replica of the session's PostgreSQL (pg_basebackup -R, a second
postmaster on loopback).  Jobs, leases and checkpoints stay on the primary;
the rows come from the standby once it has replayed past the job's
creation (export_jobs.created_lsn), so rows committed just before the job
was created are in the file.  Past exportd.replica_max_wait the worker
reads from the primary (replica_fallback = primary) or gives the job back
(wait).  A query cancelled by a recovery conflict is a transient failure:
the job resumes from its checkpoint and the file is byte-identical."""
import os
import pwd
import time
from pathlib import Path
from types import SimpleNamespace

import psycopg2
import psycopg2.errors
import pytest

import helpers as H
import stack as S

WS = "replica"
FAST = "rep_items"           # the table itself
SLOW = "rep_slow"            # a view that sleeps 2 ms every 5 rows: 8 s for ROWS
ROWS = 20000


class Standby:
    """A hot standby of pg (pg_basebackup -R -X stream), its own port and
    socket directory."""

    def __init__(self, pg, root):
        self.pg = pg
        self.root = Path(root) / "standby"
        self.data = self.root / "data"
        self.sockdir = self.root / "sock"
        self.log = self.root / "postgres.log"
        self.port = None

    def start(self):
        pw = pwd.getpwnam("postgres")
        self.root.mkdir(mode=0o755)
        self.sockdir.mkdir(mode=0o755)
        self.log.touch()
        for p in (self.root, self.sockdir, self.log):
            os.chown(p, pw.pw_uid, pw.pw_gid)
        S.run(self.pg._as_postgres([
            self.pg.bindir / "pg_basebackup", "-h", self.pg.sockdir, "-p", self.pg.port,
            "-U", "postgres", "-D", self.data, "-R", "-X", "stream", "-c", "fast",
            "--no-sync"]), "pg_basebackup", env=S.clean_env())
        S.LOGS["standby"] = self.log
        self.port = S.free_port()
        opts = ("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c hot_standby=on"
                " -c max_connections=200" % (self.port, self.sockdir))
        S.run(self.pg._as_postgres([self.pg.bindir / "pg_ctl", "-D", self.data, "-l", self.log,
                                    "-w", "-t", "60", "-o", opts, "start"]),
              "pg_ctl start (standby)", env=S.clean_env())
        return self

    def stop(self):
        if self.data.exists():
            S.run(self.pg._as_postgres([self.pg.bindir / "pg_ctl", "-D", self.data,
                                        "-m", "immediate", "-w", "-t", "20", "stop"]),
                  "pg_ctl stop (standby)", env=S.clean_env(), timeout=30)

    def dsn(self, user="postgres"):
        return "host=%s port=%d dbname=%s user=%s" % (self.sockdir, self.port, self.pg.dbname,
                                                      user)

    def query(self, sql, params=None):
        """One statement in its own connection; retried when the standby
        cancels it for a recovery conflict (max_standby_streaming_delay 0
        reaches this test's own sessions too)."""
        for attempt in range(20):
            try:
                conn = psycopg2.connect(self.dsn())
            except psycopg2.OperationalError as e:
                if "conflict with recovery" not in str(e) or attempt == 19:
                    raise
                time.sleep(0.1)
                continue
            conn.autocommit = True
            try:
                with conn.cursor() as cur:
                    cur.execute(sql, params)
                    return cur.fetchall() if cur.description else None
            except psycopg2.errors.SerializationFailure:
                if attempt == 19:
                    raise
                time.sleep(0.1)
            finally:
                conn.close()
        return None

    def catch_up(self, timeout=30):
        """Wait until the standby has replayed what the primary wrote so far."""
        lsn = self.pg.query("SELECT pg_current_wal_insert_lsn()::text")[0][0]
        S.wait_until(lambda: self.query(
            "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,))[0][0], timeout,
            "the standby to replay to %s" % lsn)

    def set(self, name, value):
        """Change a reloadable setting of the standby (it cannot ALTER SYSTEM)."""
        conf = self.data / "postgresql.conf"
        with open(conf, "a") as f:
            f.write("\n%s = '%s'\n" % (name, value))
        self.query("SELECT pg_reload_conf()")
        S.wait_until(lambda: self.query("SELECT current_setting(%s)", (name,))[0][0] in (
            value, value + "ms"), 10, "%s = %s on the standby" % (name, value))


@pytest.fixture(scope="module")
def standby(stack):
    stack.pg.query(
        "CREATE TABLE IF NOT EXISTS rep_items (id bigint PRIMARY KEY, ws text NOT NULL, v text);"
        " INSERT INTO rep_items SELECT g, %s, 'row ' || g FROM generate_series(1, %s) g"
        " ON CONFLICT DO NOTHING;"
        " CREATE INDEX IF NOT EXISTS rep_items_ws ON rep_items (ws, id);"
        " CREATE OR REPLACE FUNCTION rep_throttle(k bigint) RETURNS boolean"
        "  LANGUAGE plpgsql VOLATILE AS $$ BEGIN"
        "   IF k %% 5 = 0 THEN PERFORM pg_sleep(0.002); END IF; RETURN true; END $$;"
        " CREATE OR REPLACE VIEW rep_slow AS SELECT * FROM rep_items WHERE rep_throttle(id);"
        " INSERT INTO export_types (name, relation, key_column, workspace_column, columns)"
        " VALUES ('rep_items', 'rep_items', 'id', 'ws', '{id,v}'),"
        "  ('rep_slow', 'rep_slow', 'id', 'ws', '{id,v}') ON CONFLICT DO NOTHING;"
        " ANALYZE rep_items", (WS, ROWS))
    stack.pg.expose(FAST, SLOW)
    sb = Standby(stack.pg, stack.run_dir).start()
    sb.catch_up()
    stack.exportd.stop(grace=15)
    try:
        yield sb
    finally:
        sb.stop()
        stack.start_exportd()


@pytest.fixture(scope="module")
def key(stack, standby):
    return H.new_key(stack, WS)


def daemon(stack, standby, name, **exportd):
    settings = {"database": {"source_url": standby.dsn(S.Postgres.WORKER_LOGIN)},
                "exportd": dict({"poll_interval": "200ms", "retry_base": "200ms",
                                 "retry_max": "1s", "part_size": "64k"}, **exportd)}
    return S.ExtraExportd(stack, "exportd replica-%s" % name, settings)


@pytest.fixture
def reader(stack, standby):
    """Start daemons for one test; stop them after it."""
    started = []

    def start(name, **exportd):
        d = daemon(stack, standby, name, **exportd).start()
        started.append(d)
        return d
    yield start
    for d in started:
        d.stop(grace=15)


def create(stack, key, type_):
    r = H.call(stack, stack.api, "POST", "/exports", key=key, json={"type": type_})
    assert r.status_code == 202, r.text
    return r.json()["id"]


def job(stack, job_id):
    cols = ("status", "attempts", "file_key", "row_count", "ckpt_part")
    return SimpleNamespace(**dict(zip(cols, H.row(stack, job_id, ", ".join(cols)))))


def wait_done(stack, d, job_id, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        r = job(stack, job_id)
        if r.status in S.TERMINAL_STATUSES:
            return r
        assert d.alive() and time.monotonic() < deadline, (r, S.logs_excerpt([d.name]))
        time.sleep(0.05)


def job_log(d, job_id):
    return "\n".join(l for l in d.log.read_text(errors="replace").splitlines() if job_id in l)


def reference(stack, tmp_path):
    return H.psql_copy_csv(stack.pg, H.reference_select(stack.pg, FAST, WS),
                           tmp_path / "reference.csv")


def file_bytes(stack, r):
    return (stack.storage_dir / r.file_key).read_bytes()


def data_backends(conn_query):
    return conn_query("SELECT count(*) FROM pg_stat_activity"
                      " WHERE application_name = 'exportd-data'")[0][0]


def test_rows_are_read_on_the_standby(stack, standby, key, reader, tmp_path):
    d = reader("plain")
    job_id = create(stack, key, SLOW)
    on_standby = on_primary = 0
    while job(stack, job_id).status not in S.TERMINAL_STATUSES:
        on_standby = max(on_standby, data_backends(standby.query))
        on_primary = max(on_primary, data_backends(stack.pg.query))
        time.sleep(0.02)
    r = wait_done(stack, d, job_id)
    assert r.status == "complete", job_log(d, job_id)
    assert on_standby >= 1, "the rows were not read on the standby"
    assert on_primary == 0, "a data connection was opened on the primary"
    assert file_bytes(stack, r) == reference(stack, tmp_path)
    # (It may have waited a moment for the standby: streaming has some lag.)
    assert "reading from the primary" not in job_log(d, job_id)


def pause_and_insert(stack, standby, first_id, n):
    """Stop the standby's replay, then commit n new rows on the primary."""
    standby.query("SELECT pg_wal_replay_pause()")
    S.wait_until(lambda: standby.query("SELECT pg_get_wal_replay_pause_state()")[0][0] == "paused",
                 10, "the standby's replay to pause")
    stack.pg.query("INSERT INTO rep_items SELECT g, %s, 'late ' || g"
                   " FROM generate_series(%s, %s) g", (WS, first_id, first_id + n - 1))


def test_the_worker_waits_for_rows_committed_before_the_job(stack, standby, key, reader,
                                                             tmp_path):
    d = reader("wait")
    pause_and_insert(stack, standby, ROWS + 1, 5)
    try:
        job_id = create(stack, key, FAST)
        S.wait_until(lambda: "waiting for the standby to replay" in job_log(d, job_id), 15,
                     "the worker to wait for the standby")
        time.sleep(1.0)
        assert job(stack, job_id).status == "processing", job_log(d, job_id)
    finally:
        standby.query("SELECT pg_wal_replay_resume()")
    r = wait_done(stack, d, job_id)
    assert r.status == "complete" and r.row_count == ROWS + 5, job_log(d, job_id)
    assert file_bytes(stack, r) == reference(stack, tmp_path)
    assert b"late %d" % (ROWS + 5) in file_bytes(stack, r)


def test_a_standby_too_far_behind_falls_back_to_the_primary(stack, standby, key, reader,
                                                            tmp_path):
    d = reader("fallback", replica_max_wait="1s")
    pause_and_insert(stack, standby, ROWS + 101, 3)
    try:
        job_id = create(stack, key, FAST)
        r = wait_done(stack, d, job_id)
        assert r.status == "complete", job_log(d, job_id)
        assert "reading from the primary" in job_log(d, job_id)
        assert file_bytes(stack, r) == reference(stack, tmp_path)
        assert b"late %d" % (ROWS + 103) in file_bytes(stack, r)
    finally:
        standby.query("SELECT pg_wal_replay_resume()")


def test_replica_fallback_wait_gives_the_job_back_until_the_standby_catches_up(
        stack, standby, key, reader, tmp_path):
    d = reader("giveback", replica_max_wait="300ms", replica_fallback="wait",
               max_attempts="100")
    pause_and_insert(stack, standby, ROWS + 201, 2)
    try:
        job_id = create(stack, key, FAST)
        S.wait_until(lambda: job(stack, job_id).attempts >= 2, 20, "a second attempt")
        text = job_log(d, job_id)
        assert "the standby has replayed to" in text and "will retry" in text, text
        assert job(stack, job_id).status in ("pending", "processing")
    finally:
        standby.query("SELECT pg_wal_replay_resume()")
    r = wait_done(stack, d, job_id)
    assert r.status == "complete", job_log(d, job_id)
    assert file_bytes(stack, r) == reference(stack, tmp_path)
    assert "reading from the primary" not in job_log(d, job_id)


def test_a_recovery_conflict_resumes_byte_identical(stack, standby, key, reader, tmp_path):
    """With max_standby_streaming_delay = 0 (and no hot_standby_feedback)
    the standby cancels a query as soon as replay removes rows its snapshot
    may see; the worker retries and resumes from its checkpoint.  The delay
    goes back to 30 s after the first conflict, so the retry can finish."""
    standby.catch_up()
    d = reader("conflict", max_attempts="20")
    job_id = create(stack, key, SLOW)
    S.wait_until(lambda: (job(stack, job_id).ckpt_part or 0) >= 1, 30, "a checkpoint")
    standby.set("max_standby_streaming_delay", "0")
    try:
        n = 0
        while job(stack, job_id).status == "processing" and \
                "conflict with recovery" not in job_log(d, job_id) and n < 30:
            # Dead rows that VACUUM on the primary removes: replaying the
            # cleanup cancels standby queries whose snapshot could see them.
            stack.pg.query("DROP TABLE IF EXISTS rep_conflict;"
                           " CREATE TABLE rep_conflict AS SELECT g FROM generate_series(1, 1000) g;"
                           " DELETE FROM rep_conflict")
            stack.pg.query("VACUUM rep_conflict")
            n += 1
            time.sleep(0.2)
    finally:
        standby.set("max_standby_streaming_delay", "30s")
    r = wait_done(stack, d, job_id)
    text = job_log(d, job_id)
    assert "conflict with recovery" in text, text
    assert "resuming after row" in text and r.attempts >= 2, text
    assert r.status == "complete", text
    assert file_bytes(stack, r) == reference(stack, tmp_path)


def doctor_source(stack, d):
    """exportctl doctor's `source` lines with daemon d's config."""
    p = S.subprocess.run([str(stack.exportctl_bin), "-c", str(d.conf_path), "doctor"],
                         env=S.clean_env(), capture_output=True, text=True, timeout=60)
    return [l for l in p.stdout.splitlines() if l.split()[1:2] == ["source"]], p.stdout


def test_doctor_checks_the_standby(stack, standby, key, reader):
    d = daemon(stack, standby, "doctor")
    lines, out = doctor_source(stack, d)
    assert any(l.startswith("warn") and "hot_standby_feedback is off" in l for l in lines), out
    standby.query("SELECT pg_wal_replay_pause()")
    try:
        lines, out = doctor_source(stack, d)
        # "pause requested" until replay stops, then "paused": both warn
        assert any(l.startswith("warn") and "replay on the standby is paused (pause" in l
                   for l in lines), out
    finally:
        standby.query("SELECT pg_wal_replay_resume()")
    standby.set("hot_standby_feedback", "on")
    try:
        lines, out = doctor_source(stack, d)
        assert any(l.startswith("ok") and "a standby, replay" in l for l in lines), out
        assert not [l for l in lines if not l.startswith("ok")], out
    finally:
        standby.set("hot_standby_feedback", "off")
