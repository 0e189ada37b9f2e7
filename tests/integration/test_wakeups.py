"""How a node's workers wake for new jobs (src/exportd/wake.c).  PostgreSQL
sends each new job's NOTIFY to every idle worker; only the one holding the
node's flag claims, and a worker that gets a job hands the flag on to an
idle peer with a poke, so a job costs the primary a claim per node rather
than one per idle worker (docs/SCALING.md), and a burst still drains
without waiting for the poll interval."""
import re
import time
import uuid

import pytest

import stack as S

WORKERS = 5


@pytest.fixture(scope="module")
def wk(stack):
    """The type wk_items (2 rows per workspace), and one exportd node of
    WORKERS workers with a long poll interval, logging each claim round,
    in place of the session's exportd."""
    stack.pg.query(
        "CREATE TABLE IF NOT EXISTS wk_items (id bigserial PRIMARY KEY, ws text NOT NULL, v text);"
        " CREATE INDEX IF NOT EXISTS wk_items_ws ON wk_items (ws, id);"
        " INSERT INTO export_types (name, relation, key_column, workspace_column, columns)"
        " VALUES ('wk_items', 'wk_items', 'id', 'ws', '{id,v}') ON CONFLICT DO NOTHING;"
        " SELECT exportd_type_grant('wk_items')")
    stack.exportd.stop()
    node = S.ExtraExportd(stack, "exportd (wake-up tests)", {
        "exportd": {"workers": str(WORKERS), "poll_interval": "60s",
                    "heartbeat_interval": "50s", "lease_timeout": "120s"},
        "log": {"level": "debug"}})
    node.start()
    try:
        yield node
    finally:
        node.stop()
        stack.start_exportd()


def new_workspace(stack):
    ws = "wk_" + uuid.uuid4().hex[:10]
    stack.pg.query("INSERT INTO wk_items (ws, v) VALUES (%s, 'a'), (%s, 'b')", (ws, ws))
    return ws


def insert_jobs(stack, ws, n):
    """n jobs by plain SQL in one transaction (one NOTIFY each)."""
    rows = stack.pg.query("INSERT INTO export_jobs (workspace, type, format)"
                          " SELECT %s, 'wk_items', 'csv' FROM generate_series(1, %s)"
                          " RETURNING id", (ws, n))
    return [str(r[0]) for r in rows]


def wait_complete(stack, ids, timeout):
    S.wait_until(lambda: stack.pg.query(
        "SELECT count(*) FROM export_jobs WHERE id = ANY(%s::uuid[]) AND status = 'complete'",
        (ids,))[0][0] == len(ids), timeout * S.TIME_SCALE,
        "%d jobs to complete" % len(ids), interval=0.02)


def rounds(log_text, why):
    return len(re.findall(r"looking for due jobs \(%s\)" % why, log_text))


def test_a_new_job_is_claimed_once_per_node_not_once_per_worker(stack, wk):
    time.sleep(0.5)  # the workers' first rounds are over
    ws = new_workspace(stack)
    start = wk.log.stat().st_size
    jobs = 12
    for _ in range(jobs):
        wait_complete(stack, insert_jobs(stack, ws, 1), 10)
        time.sleep(0.1)
    text = wk.log.read_text(errors="replace")[start:]
    woken = rounds(text, "notify") + rounds(text, "poke")
    # Each job: the flag holder's round, which gets it; workers woken late
    # by the same NOTIFY see it covered, and with nothing else heard of
    # the holder pokes no peer.  Every idle worker claiming would be
    # WORKERS rounds a job (measured: 12 rounds for 12 jobs; a poke when
    # a wake-up passed while the flag was held adds one).
    assert woken <= jobs + jobs // 2, (woken, text[-3000:])
    assert woken >= jobs, (woken, text[-3000:])


def test_a_burst_drains_through_pokes_without_waiting_for_the_poll(stack, wk):
    ws = new_workspace(stack)
    start = wk.log.stat().st_size
    t0 = time.monotonic()
    ids = insert_jobs(stack, ws, 30)
    wait_complete(stack, ids, 20)   # the poll interval is 60 s
    elapsed = time.monotonic() - t0
    text = wk.log.read_text(errors="replace")[start:]
    runners = {m.group(1) for m in re.finditer(r"exportd\[(\d+)\][^\n]*job (%s): claimed"
                                                % "|".join(ids), text)}
    assert elapsed < 20, elapsed
    # The NOTIFYs woke one worker; the pokes brought in the others.
    assert len(runners) >= 2, (runners, text[-3000:])
