"""Incremental exports (README "Incremental exports"): `since`, `next_since`,
the `_deleted_at` marker, the safety lag, and resume after kill -9.

The module's table inc_items (key id, change time updated_at, soft delete
deleted_at) is registered twice: INC (the table) and INC_SLOW (a view on it
that sleeps 2 ms every 20 rows, so that an export lasts a few seconds and a
worker can be killed in it).  The session's exportd is stopped while the
module runs; its own daemon (stack.ExtraExportd) has chunk_rows 3, so rows
sharing one change time straddle chunk boundaries, and export.incremental_lag
1s.  Jobs are created through the API (lighttpd), except the kill -9 pair
and the plain-SQL checks.

A sync is checked the way a warehouse would apply it: each file staged into
a table by PostgreSQL itself (COPY ... CSV for CSV, jsonb_populate_record
for JSON Lines), then upserted by id into inc_target with the marker as its
deleted_at.  After the chain the target must equal the source, row for row
(EXCEPT both ways).
"""

import base64
import io
import json
import os
import signal
import time
import uuid
from types import SimpleNamespace

import pytest

import helpers as H
import stack as S

INC = "inc_items"
INC_SLOW = "inc_items_slow"
LAG = 1.0                 # export.incremental_lag, seconds
JOB_TIMEOUT = 60
COLUMNS = ["id", "name", "qty", "price", "tags", "updated_at"]
KILL_ROWS = 20000

SETTINGS = {
    "exportd": {
        "workers": 2,
        "poll_interval": "200ms",
        "chunk_rows": 3,
        "part_size": "64k",
        "heartbeat_interval": "300ms",
        "lease_timeout": "15s",
        "retry_base": "100ms",
        "retry_max": "500ms",
        "shutdown_grace": "3s",
    },
    "export": {"incremental_lag": "1s"},
}


def cursor(type_, workspace, at, key):
    """A cursor as exportd writes it (docs/CONTRACTS.md, src/jobs/since.h)."""
    raw = json.dumps([type_, workspace, at, key], separators=(",", ":")).encode()
    return "c1." + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(c):
    assert c.startswith("c1."), c
    raw = c[3:] + "=" * (-len(c[3:]) % 4)
    return json.loads(base64.urlsafe_b64decode(raw))


class Ctx:
    def __init__(self, stack):
        self.stack = stack
        self.pg = stack.pg
        self.poll = H.Poll(stack.pg)
        self.daemon = None
        self.jobs = []

    def q(self, sql, params=None):
        return self.poll.query(sql, params)

    def export(self, ws, key, fmt, since=None, **body):
        """POST /exports of INC (and since), waited for: the job view."""
        body = dict(body, type=INC, format=fmt)
        if since is not None:
            body["since"] = since
        job = H.create(self.stack, body, key=key)
        self.jobs.append(job["id"])
        self.wait(job["id"])
        r = self.stack.api("GET", "/exports/%s" % job["id"], key=key)
        assert r.status_code == 200 and r.json()["status"] == "complete", r.text
        return r.json()

    def file(self, job_id):
        key = self.q("SELECT file_key FROM export_jobs WHERE id = %s", (job_id,))[0][0]
        return (self.stack.storage_dir / key).read_bytes()

    def insert_job(self, **cols):
        names, values = list(cols), list(cols.values())
        job_id = str(self.q("INSERT INTO export_jobs (%s) VALUES (%s) RETURNING id" % (
            ", ".join(names), ", ".join(["%s"] * len(values))), values)[0][0])
        self.jobs.append(job_id)
        return job_id

    def row(self, job_id):
        cols = ("status", "ckpt_part", "lease_owner", "rows_done", "row_count", "file_key",
                "checksum", "error_code", "error_message", "next_since", "sync_until")
        r = self.q("SELECT %s FROM export_jobs WHERE id = %%s" % ", ".join(cols), (job_id,))
        return SimpleNamespace(id=job_id, **dict(zip(cols, r[0])))

    def wait(self, job_id, pred=None, what="a final status", timeout=JOB_TIMEOUT,
             interval=0.02):
        pred = pred or (lambda r: r.status in S.TERMINAL_STATUSES)
        deadline = time.monotonic() + timeout
        while True:
            r = self.row(job_id)
            if pred(r):
                return r
            assert time.monotonic() < deadline, "job %s: no %s: %s\n%s" % (
                job_id, what, r, S.logs_excerpt([self.daemon.name]))
            time.sleep(interval)


@pytest.fixture(scope="module")
def ctx(stack):
    c = Ctx(stack)
    stack.exportd.stop(grace=15)
    try:
        c.q("""
            CREATE TABLE IF NOT EXISTS inc_items (
                id bigint PRIMARY KEY, workspace text NOT NULL, name text, qty integer,
                price numeric(10,2), tags text[], updated_at timestamptz NOT NULL,
                deleted_at timestamptz);
            CREATE INDEX IF NOT EXISTS inc_items_sync ON inc_items (workspace, updated_at, id);
            CREATE OR REPLACE FUNCTION inc_throttle(k bigint) RETURNS boolean
            LANGUAGE plpgsql VOLATILE AS $$
            BEGIN
                IF k % 20 = 0 THEN PERFORM pg_sleep(0.002); END IF;
                RETURN true;
            END $$;
            CREATE OR REPLACE VIEW inc_items_slow AS
                SELECT * FROM inc_items WHERE inc_throttle(id);
            INSERT INTO export_types (name, relation, key_column, workspace_column, columns,
                                      deleted_at_column, updated_at_column)
            VALUES ('inc_items', 'inc_items', 'id', 'workspace',
                    '{id,name,qty,price,tags,updated_at}', 'deleted_at', 'updated_at'),
                   ('inc_items_slow', 'inc_items_slow', 'id', 'workspace',
                    '{id,name,qty,price,tags,updated_at}', 'deleted_at', 'updated_at')
            ON CONFLICT (name) DO NOTHING""")
        stack.pg.expose(INC, INC_SLOW)
        c.daemon = S.ExtraExportd(stack, "exportd incremental", SETTINGS)
        c.daemon.start()
        yield c
    finally:
        try:
            if c.daemon is not None:
                c.daemon.stop(grace=15)
            if c.jobs:
                c.q("UPDATE export_jobs SET status = 'cancelled', completed_at = now()"
                    " WHERE id = ANY(%s::uuid[]) AND status IN ('pending', 'processing')",
                    (c.jobs,))
            c.poll.close()
        finally:
            stack.start_exportd()


# ------------------------------------------------------- applying a file

STAGE = ("CREATE TEMP TABLE inc_stage (id bigint, name text, qty integer, price numeric(10,2),"
         " tags text[], updated_at timestamptz, _deleted_at timestamptz)")
MERGE = """
    INSERT INTO inc_target (id, workspace, name, qty, price, tags, updated_at, deleted_at)
    SELECT id, %s, name, qty, price, tags, updated_at, _deleted_at FROM inc_stage
    ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, qty = EXCLUDED.qty,
      price = EXCLUDED.price, tags = EXCLUDED.tags, updated_at = EXCLUDED.updated_at,
      deleted_at = EXCLUDED.deleted_at"""


def apply_file(ctx, ws, fmt, data, incremental):
    """Upsert the file's rows into inc_target (a deletion keeps the row with
    its deleted_at: the comparison then checks the deletion times too)."""
    conn = ctx.pg.connect(autocommit=False)
    try:
        cur = conn.cursor()
        cur.execute(STAGE)
        if fmt == "csv":
            cols = COLUMNS + (["_deleted_at"] if incremental else [])
            header = data.split(b"\n", 1)[0].decode()
            assert header == ",".join(cols), header
            cur.copy_expert("COPY inc_stage (%s) FROM STDIN (FORMAT csv, HEADER true)"
                            % ", ".join(cols), io.BytesIO(data))
        else:
            for line in data.decode().splitlines():
                obj = json.loads(line)
                want = COLUMNS + (["_deleted_at"] if incremental else [])
                assert list(obj) == want, obj
                cur.execute("INSERT INTO inc_stage SELECT * FROM"
                            " jsonb_populate_record(NULL::inc_stage, %s::jsonb)", (line,))
        cur.execute(MERGE, (ws,))
        conn.commit()
    finally:
        conn.close()


def differences(ctx, ws):
    """Rows of the source not in the target, and of the target not in the
    source (EXCEPT both ways)."""
    cols = "id, workspace, name, qty, price, tags, updated_at, deleted_at"
    src = "SELECT %s FROM inc_items WHERE workspace = %%s" % cols
    dst = "SELECT %s FROM inc_target WHERE workspace = %%s" % cols
    missing = ctx.q("%s EXCEPT %s" % (src, dst), (ws, ws))
    extra = ctx.q("%s EXCEPT %s" % (dst, src), (ws, ws))
    return missing, extra


def rows_of(fmt, data):
    """The (id, _deleted_at present) of each row of an incremental file."""
    if fmt == "csv":
        lines = data.decode().split("\n")[1:-1]  # csv_line_ending lf (ExtraExportd)
        return [(int(l.split(",", 1)[0]), not l.endswith(",")) for l in lines]
    return [(o["id"], o["_deleted_at"] is not None)
            for o in map(json.loads, data.decode().splitlines())]


def settle():
    """Past the lag: changes made before now are inside the next window."""
    time.sleep(LAG + 0.2)


# ----------------------------------------------------------------- tests

@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_chain_of_incremental_exports_reproduces_the_source(ctx, fmt):
    """A full export, then three incremental ones with inserts, updates (two
    rows with one updated_at), soft deletes between them, then one with no
    change: the files applied in order to an empty table give the source."""
    ws, key = H.new_workspace(ctx.stack, "inc")
    ctx.q("CREATE TABLE IF NOT EXISTS inc_target (LIKE inc_items INCLUDING ALL)")
    # 40 rows, four per change time: ties inside chunks and across them.
    base = ctx.q("SELECT coalesce(max(id), 0) FROM inc_items")[0][0]
    ctx.q("INSERT INTO inc_items SELECT %s + g, %s, 'item ' || g, g %% 7, g * 1.25,"
          " ARRAY['t' || g %% 3, 'x,y \"z\"'], now() - interval '1 hour'"
          " + (g / 4) * interval '1 second', NULL FROM generate_series(1, 40) g",
          (base, ws))
    settle()
    full = ctx.export(ws, key, fmt)
    assert full["since"] is None and full["row_count"] == 40, full
    files = [(ctx.file(full["id"]), False)]
    cur = full["next_since"]
    assert cur and decode(cur)[:2] == [INC, ws] and decode(cur)[3] is None, full
    steps = [
        # inserts, an update of two rows in one statement (one updated_at),
        # a soft delete
        ["INSERT INTO inc_items VALUES ({b}+41, '{w}', 'new', 1, 2.50, '{{a}}', now(), NULL),"
         " ({b}+42, '{w}', NULL, NULL, NULL, NULL, now(), NULL)",
         "UPDATE inc_items SET qty = qty + 100, updated_at = now()"
         " WHERE id IN ({b}+3, {b}+17)",
         "UPDATE inc_items SET deleted_at = now(), updated_at = now() WHERE id = {b}+5"],
        # an update of a row inserted in the last step, one more delete, an
        # insert and an update sharing one updated_at
        ["UPDATE inc_items SET name = 'renamed', updated_at = now() WHERE id = {b}+41",
         "UPDATE inc_items SET deleted_at = now() - interval '1 second',"
         " updated_at = now() WHERE id = {b}+20",
         "WITH t AS (SELECT now() AS at) INSERT INTO inc_items"
         " SELECT {b}+43, '{w}', 'same time', 3, 1, NULL, at, NULL FROM t",
         "UPDATE inc_items SET price = 9.99, updated_at = now() WHERE id = {b}+1"],
        # many rows at one time (chunks of 3 cut inside them), an undelete
        ["UPDATE inc_items SET tags = ARRAY['bulk'], updated_at = now()"
         " WHERE workspace = '{w}' AND id BETWEEN {b}+21 AND {b}+30",
         "UPDATE inc_items SET deleted_at = NULL, updated_at = now() WHERE id = {b}+5"],
    ]
    for n, step in enumerate(steps, 1):
        conn = ctx.pg.connect(autocommit=False)     # one transaction: one now()
        with conn, conn.cursor() as c:
            for sql in step:
                c.execute(sql.format(b=base, w=ws))
        conn.close()
        settle()
        job = ctx.export(ws, key, fmt, since=cur)
        data = ctx.file(job["id"])
        got = rows_of(fmt, data)
        assert job["since"] == cur and job["row_count"] == len(got) > 0, job
        nxt = decode(job["next_since"])
        assert nxt[:2] == [INC, ws] and nxt[3] == str(got[-1][0]), (nxt, got)
        files.append((data, True))
        cur = job["next_since"]
        if n == 1:
            assert sorted(i - base for i, _ in got) == [3, 5, 17, 41, 42], got
            assert [i - base for i, d in got if d] == [5], (got, data)
    # No change: an empty file, and the same cursor again.
    settle()
    empty = ctx.export(ws, key, fmt, since=cur)
    assert empty["row_count"] == 0 and empty["next_since"] == cur, empty
    assert rows_of(fmt, ctx.file(empty["id"])) == []
    for data, incremental in files:
        apply_file(ctx, ws, fmt, data, incremental)
    missing, extra = differences(ctx, ws)
    assert not missing and not extra, "source rows missing %s, target rows extra %s" % (
        missing, extra)
    assert ctx.q("SELECT count(*) FROM inc_target WHERE workspace = %s", (ws,))[0][0] == 43


def test_next_since_stays_a_lag_behind_and_catches_up(ctx):
    """A change inside the last export.incremental_lag is left to the next
    export; next_since is at most the job's as_of less the lag."""
    ws, key = H.new_workspace(ctx.stack, "inclag")
    ctx.q("INSERT INTO inc_items SELECT (SELECT max(id) FROM inc_items) + g, %s, 'a', g, 1,"
          " NULL, now() - interval '1 minute', NULL FROM generate_series(1, 3) g", (ws,))
    full = ctx.export(ws, key, "jsonl")
    at = decode(full["next_since"])[2]
    lagged = ctx.q("SELECT %s::timestamptz = as_of - interval '1 second' FROM export_jobs"
                   " WHERE id = %s", (at, full["id"]))[0][0]
    assert lagged, (at, full["as_of"])
    hot = ctx.q("UPDATE inc_items SET qty = 99, updated_at = now() WHERE workspace = %s"
                " AND qty = 2 RETURNING id", (ws,))[0][0]
    early = ctx.export(ws, key, "jsonl", since=full["next_since"])
    assert early["row_count"] == 0 and early["next_since"] == full["next_since"], early
    settle()
    late = ctx.export(ws, key, "jsonl", since=early["next_since"])
    assert [r for r, _ in rows_of("jsonl", ctx.file(late["id"]))] == [hot], late


def test_bad_cursors_are_400_naming_since(ctx):
    ws, key = H.new_workspace(ctx.stack, "incbad")
    other_ws, _ = H.new_workspace(ctx.stack, "incother")
    good_at = "2026-01-01 00:00:00+00"
    bad = {
        "garbage": "nope",
        "not base64": "c1.***",
        "other version": "c2." + cursor(INC, ws, good_at, "1")[3:],
        "not a time": cursor(INC, ws, "yesterday-ish", "1"),
        "key of another type": cursor(INC, ws, good_at, "abc"),
        "another workspace": cursor(INC, other_ws, good_at, "1"),
        "another type": cursor(INC_SLOW, ws, good_at, "1"),
        "empty": "",
        "not a string": 5,
    }
    for what, since in bad.items():
        r = H.call(ctx.stack, ctx.stack.api, "POST", "/exports", key=key,
                   json={"type": INC, "since": since})
        body = H.field_problem(r, "since")
        assert body["status"] == 400, (what, body)
    # A type without updated_at_column takes no cursor.
    r = H.call(ctx.stack, ctx.stack.api, "POST", "/exports", key=key,
               json={"type": "events", "since": cursor("events", ws, good_at, None)})
    assert "updated_at_column" in H.field_problem(r, "since")["errors"][0]["detail"]
    # A good one is accepted.
    job = H.create(ctx.stack, {"type": INC, "since": cursor(INC, ws, good_at, "1")}, key=key)
    ctx.jobs.append(job["id"])
    assert job["since"] == cursor(INC, ws, good_at, "1"), job


def test_plain_sql_job_with_a_bad_cursor_fails_invalid_job(ctx):
    ws = "incsql_" + uuid.uuid4().hex[:8]
    other = ctx.insert_job(workspace=ws, type=INC, format="csv",
                           since=cursor(INC, "someone-else", "2026-01-01 00:00:00+00", None))
    nonsense = ctx.insert_job(workspace=ws, type=INC, format="csv", since="c1.e30")
    whole = ctx.insert_job(workspace=ws, type="events", format="csv",
                           since=cursor("events", ws, "2026-01-01 00:00:00+00", None))
    for job_id, words in ((other, "another workspace"), (nonsense, "not a cursor"),
                          (whole, "updated_at_column")):
        r = ctx.wait(job_id)
        assert r.status == "failed" and r.error_code == "invalid_job", r
        assert words in r.error_message, r


def test_resume_after_kill9_of_an_incremental_job_is_byte_identical(ctx):
    """An incremental export of INC_SLOW killed after 3 checkpoints and
    resumed writes the bytes of the same export of INC run in one go."""
    ws = "inckill_" + uuid.uuid4().hex[:8]
    first = ctx.q("SELECT coalesce(max(id), 0) FROM inc_items")[0][0]
    # Change times in blocks of 7 rows, keys not in change-time order.
    ctx.q("INSERT INTO inc_items SELECT %s + g, %s, 'row ' || g, g %% 1000, g / 100.0,"
          " ARRAY['k' || g %% 5], now() - interval '2 hours' + ((g * 7919) %% %s / 7)"
          " * interval '1 millisecond', CASE WHEN g %% 50 = 0 THEN now() END"
          " FROM generate_series(1, %s) g", (first, ws, KILL_ROWS, KILL_ROWS))
    # Qualified: ORDER BY a bare updated_at would sort the text column.
    mid = ctx.q("SELECT updated_at::text, id::text FROM inc_items WHERE workspace = %s"
                " ORDER BY inc_items.updated_at, inc_items.id OFFSET 1000 LIMIT 1", (ws,))[0]
    settle()
    ref_id = ctx.insert_job(workspace=ws, type=INC, format="csv",
                            since=cursor(INC, ws, mid[0], mid[1]))
    ref = ctx.wait(ref_id)
    want = ctx.q("SELECT id FROM inc_items WHERE workspace = %s AND (updated_at, id) >"
                 " (%s::timestamptz, %s::bigint) ORDER BY updated_at, id", (ws, mid[0], mid[1]))
    assert ref.status == "complete", ref
    got_ids = [int(l.split(",", 1)[0]) for l in
               (ctx.stack.storage_dir / ref.file_key).read_text().split("\n")[1:-1]]
    assert got_ids == [w[0] for w in want], (mid, got_ids[:20], want[:20])
    assert ref.row_count == KILL_ROWS - 1001, ref
    log0 = ctx.daemon.log_size()
    job_id = ctx.insert_job(workspace=ws, type=INC_SLOW, format="csv",
                            since=cursor(INC_SLOW, ws, mid[0], mid[1]))

    def busy(r):
        assert r.status not in S.TERMINAL_STATUSES, "ended before 3 checkpoints: %s" % r
        return r.status == "processing" and r.ckpt_part >= 3 and r.lease_owner is not None

    row = ctx.wait(job_id, busy, "3 checkpoints", interval=0.005)
    pid = int(row.lease_owner.rsplit(":", 2)[1])
    assert pid in ctx.daemon.worker_pids(), row
    os.kill(pid, signal.SIGKILL)
    assert row.rows_done < ref.row_count * 0.9, "killed too late to matter: %s" % row
    done = ctx.wait(job_id)
    assert done.status == "complete", done
    lines = [l for l in ctx.daemon.log_lines(log0) if l[3].startswith("job %s: " % job_id)]
    assert any("resuming after row" in l[3] for l in lines), lines
    got = (ctx.stack.storage_dir / done.file_key).read_bytes()
    want = (ctx.stack.storage_dir / ref.file_key).read_bytes()
    H.assert_same_bytes(got, want, "resumed incremental export")
    assert done.checksum == ref.checksum == H.sha256_bytes(want)
    assert done.row_count == ref.row_count
    # The cursors differ only by type: the same last change.
    assert decode(done.next_since)[2:] == decode(ref.next_since)[2:], (done, ref)
