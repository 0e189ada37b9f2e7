"""What exportd's processes count for /metrics (migration 015): worker
states and heartbeats per node, the queue-latency histogram, leases taken
over.  (Retries and S3 failures by code: test_s3.py; mail outcomes:
test_mail.py.)  Counters are sums over every node's rows, so each test
compares a scrape before and after."""
import socket
import time

import pytest

import helpers as H
import stack as S

WS = "nodemetrics"
NODE = socket.gethostname()   # exportd.node_name's default


@pytest.fixture(scope="module")
def nm(stack):
    """The type nm_items (3 rows of WS) and a key of WS."""
    stack.pg.query(
        "CREATE TABLE IF NOT EXISTS nm_items (id bigint PRIMARY KEY, ws text NOT NULL, v text);"
        " CREATE INDEX IF NOT EXISTS nm_items_ws ON nm_items (ws, id);"
        " INSERT INTO nm_items VALUES (1, %s, 'a'), (2, %s, 'b'), (3, %s, 'c')"
        " ON CONFLICT DO NOTHING;"
        " INSERT INTO export_types (name, relation, key_column, workspace_column, columns)"
        " VALUES ('nm_items', 'nm_items', 'id', 'ws', '{id,v}') ON CONFLICT DO NOTHING;"
        " SELECT exportd_type_grant('nm_items')", (WS, WS, WS))
    key = stack.exportctl("apikey", "create", "--workspace", WS,
                          "--email", "nm@example.com").stdout.strip().splitlines()[-1]
    return key


def value(samples, name):
    return samples.get(name, 0.0)


def workers(samples, state):
    return value(samples, 'exportd_workers{node="%s",state="%s"}' % (NODE, state))


def create(stack, key):
    r = H.call(stack, stack.api, "POST", "/exports", key=key,
               json={"type": "nm_items", "format": "csv"})
    assert r.status_code == 202, r.text
    return r.json()["id"]


def test_workers_idle_then_busy_with_a_heartbeat(stack, nm):
    s = H.scrape_until(stack.api, lambda s: workers(s, "idle") == stack.workers,
                       "every worker idle in /metrics")
    assert workers(s, "busy") == 0, s
    hb = value(s, 'exportd_node_heartbeat_timestamp_seconds{node="%s"}' % NODE)
    assert abs(hb - time.time()) < 30, (hb, time.time())
    rows = stack.pg.query("SELECT slot, pid, state FROM exportd_workers WHERE node = %s"
                          " ORDER BY slot", (NODE,))
    assert [r[0] for r in rows] == list(range(stack.workers)), rows
    assert all(S.pid_alive(r[1]) for r in rows), rows

    # A worker busy on a job whose source table is locked: busy in the
    # scrape, with the job in its row, as long as the lock is held.  (A job
    # inserted due in a second, so that the lock is taken before a worker
    # claims it; POST /exports would itself wait for the lock.)
    conn = stack.pg.connect(autocommit=False)
    try:
        job = str(stack.pg.query(
            "INSERT INTO export_jobs (workspace, type, format, run_at)"
            " VALUES (%s, 'nm_items', 'csv', now() + interval '1 second') RETURNING id",
            (WS,))[0][0])
        conn.cursor().execute("LOCK TABLE nm_items IN ACCESS EXCLUSIVE MODE")
        s = H.scrape_until(stack.api, lambda s: workers(s, "busy") == 1,
                           "one worker busy in /metrics")
        assert workers(s, "idle") == stack.workers - 1, s
        assert stack.pg.query("SELECT count(*) FROM exportd_workers WHERE node = %s"
                              " AND state = 'busy' AND job_id = %s", (NODE, job))[0][0] == 1
    finally:
        conn.rollback()
        conn.close()
    assert stack.wait_for_job(job, key=nm)["status"] == "complete"
    H.scrape_until(stack.api, lambda s: workers(s, "idle") == stack.workers,
                   "the worker idle again")


def test_queue_latency_counts_each_claim_by_how_long_it_waited(stack, nm):
    name = "exportd_queue_latency_seconds"
    before = H.scrape(stack.api)
    job = create(stack, nm)
    # A job that was due 100 s ago (an application's INSERT with run_at in
    # the past, or a retry that waited for a worker).
    late = str(stack.pg.query(
        "INSERT INTO export_jobs (workspace, type, format, run_at)"
        " VALUES (%s, 'nm_items', 'csv', now() - interval '100 seconds') RETURNING id",
        (WS,))[0][0])
    for j in (job, late):
        assert stack.wait_for_job(j, key=nm)["status"] == "complete"
    after = H.scrape_until(stack.api, lambda s: value(s, name + "_count")
                           >= value(before, name + "_count") + 2, "two more observations")

    def delta(le):
        k = '%s_bucket{le="%s"}' % (name, le)
        return value(after, k) - value(before, k)
    assert delta("+Inf") == value(after, name + "_count") - value(before, name + "_count")
    # The late one is over 60 s and under 300 s; the fresh one under 60 s.
    assert delta("300") - delta("60") >= 1, (before, after)
    assert delta("60") >= 1
    assert value(after, name + "_sum") - value(before, name + "_sum") >= 100
    # Buckets are cumulative.
    bounds = ["0.1", "0.5", "1", "5", "15", "60", "300", "900", "3600", "+Inf"]
    counts = [value(after, '%s_bucket{le="%s"}' % (name, b)) for b in bounds]
    assert counts == sorted(counts), counts


def test_a_lease_taken_over_is_counted(stack, nm):
    """A job left processing by a worker that vanished (its lease ran out
    and it holds no lock) is claimed again: one takeover."""
    name = "exportd_lease_takeovers_total"
    before = H.scrape(stack.api)
    job = str(stack.pg.query(
        "INSERT INTO export_jobs (workspace, type, format, status, attempts, lease_owner,"
        " lease_token, lease_expires_at, started_at)"
        " VALUES (%s, 'nm_items', 'csv', 'processing', 1, 'gone:1:0',"
        " nextval('export_lease_token_seq'), now() - interval '1 second', now())"
        " RETURNING id", (WS,))[0][0])
    assert stack.wait_for_job(job, key=nm)["status"] == "complete"
    H.scrape_until(stack.api, lambda s: value(s, name) == value(before, name) + 1,
                   "one more takeover")


def test_a_failed_counter_write_is_kept_for_the_next_try(stack, nm):
    """While exportd_counters refuses writes, the events wait in memory;
    once it takes them again, none is lost."""
    name = "exportd_queue_latency_seconds_count"
    before = H.scrape(stack.api)
    stack.pg.query("ALTER TABLE exportd_counters ADD CONSTRAINT nm_refuse CHECK (false) NOT VALID")
    try:
        jobs = [create(stack, nm) for _ in range(3)]
        for j in jobs:
            assert stack.wait_for_job(j, key=nm)["status"] == "complete"
        time.sleep(1.5)
        assert value(H.scrape(stack.api), name) == value(before, name)
    finally:
        stack.pg.query("ALTER TABLE exportd_counters DROP CONSTRAINT nm_refuse")
    H.scrape_until(stack.api, lambda s: value(s, name) == value(before, name) + 3,
                   "the three observations written after all")


def test_a_busy_workers_heartbeat_moves_with_its_job(stack, nm):
    """While a worker exports, its row stays busy with the job and its
    heartbeat moves at each heartbeat_interval (the beat once wrote the job
    id over itself and the row stopped moving: a long export looked like a
    silent node)."""
    stack.pg.query(
        "CREATE OR REPLACE FUNCTION nm_throttle(k bigint) RETURNS boolean LANGUAGE plpgsql"
        " VOLATILE AS $$ BEGIN PERFORM pg_sleep(0.01); RETURN true; END $$;"
        " CREATE OR REPLACE VIEW nm_slow AS SELECT * FROM nm_items WHERE nm_throttle(id);"
        " INSERT INTO nm_items SELECT g, %s, 'slow' FROM generate_series(100, 399) g"
        " ON CONFLICT DO NOTHING;"
        " INSERT INTO export_types (name, relation, key_column, workspace_column, columns)"
        " VALUES ('nm_slow', 'nm_slow', 'id', 'ws', '{id,v}') ON CONFLICT DO NOTHING;"
        " SELECT exportd_type_grant('nm_slow')", (WS,))
    stack.exportd.stop(grace=15)
    d = S.ExtraExportd(stack, "exportd node-metrics-beat", {"exportd": {
        "workers": 1, "heartbeat_interval": "300ms", "chunk_rows": 20}})
    try:
        d.start()
        r = H.call(stack, stack.api, "POST", "/exports", key=nm,
                   json={"type": "nm_slow", "format": "csv"})
        assert r.status_code == 202, r.text
        job = r.json()["id"]
        seen = set()
        deadline = time.monotonic() + 30
        while H.db_status(stack, job) != "complete" and time.monotonic() < deadline:
            for state, job_id, beat in stack.pg.query(
                    "SELECT state, job_id::text, heartbeat_at FROM exportd_workers"
                    " WHERE node = %s AND pid = ANY(%s)", (NODE, d.worker_pids())):
                if state == "busy":
                    assert job_id == job, (state, job_id)
                    seen.add(beat)
            time.sleep(0.1)
        assert H.db_status(stack, job) == "complete"
        assert len(seen) >= 3, "the busy row's heartbeat moved %d times" % len(seen)
    finally:
        d.stop(grace=15)
        stack.start_exportd()
