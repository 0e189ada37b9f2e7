"""GET /metrics (README "Metrics"): Prometheus text format, the counters
of finished jobs, queue depth and the oldest pending job, the route.
"""

import json
import re

import helpers as H
import stack as S


# ----------------------------------------------------------- scraping

scrape = H.scrape


def scanned_totals(stack):
    return stack.pg.query(
        "SELECT coalesce(sum(row_count), 0), coalesce(sum(file_size), 0), count(*)"
        " FROM export_jobs WHERE status IN ('complete', 'expired')")[0]


def gone(stack):
    """What folded rows deleted since (exportctl jobs purge, a DELETE) still
    add to the counters: export_job_totals minus what the folded rows still
    present add to it.  Counters never go down, so a scan of export_jobs
    plus this is what /metrics must say."""
    pg = stack.pg
    t = pg.query("SELECT expired, failed, cancelled, row_count, file_size, duration_count,"
                 " duration_le FROM export_job_totals")
    if not t:
        return {"expired": 0, "failed": 0, "cancelled": 0, "rows": 0, "bytes": 0,
                "count": 0, "le": [0] * len(BOUNDS)}
    t = t[0]
    p = pg.query(
        "SELECT count(*) FILTER (WHERE status = 'expired'),"
        " count(*) FILTER (WHERE status = 'failed'),"
        " count(*) FILTER (WHERE status = 'cancelled'),"
        " coalesce(sum(row_count) FILTER (WHERE status = 'expired'), 0),"
        " coalesce(sum(file_size) FILTER (WHERE status = 'expired'), 0)"
        " FROM export_jobs WHERE metrics_folded")[0]
    d = [r[0] for r in pg.query(
        "SELECT extract(epoch FROM completed_at - started_at)::float8 FROM export_jobs"
        " WHERE metrics_folded AND status = 'expired' AND completed_at IS NOT NULL"
        " AND started_at IS NOT NULL")]
    le = list(t[6] or [])
    le += [0] * (len(BOUNDS) - len(le))
    return {"expired": t[0] - p[0], "failed": t[1] - p[1], "cancelled": t[2] - p[2],
            "rows": int(t[3]) - int(p[3]), "bytes": int(t[4]) - int(p[4]),
            "count": t[5] - len(d),
            "le": [le[i] - sum(1 for x in d if x <= b) for i, b in enumerate(BOUNDS)]}


def finished_totals(stack):
    """Rows, bytes and durations counted: a scan plus what deleted folded
    rows left (gone)."""
    rows, size, n = scanned_totals(stack)
    g = gone(stack)
    return rows + g["rows"], size + g["bytes"], n + g["count"]


# ------------------------------------------------------------ metrics

def test_metrics_parse_and_count_a_complete_job(stack):
    m1 = scrape(stack.api)
    for name in ("exportd_rows_exported_total", "exportd_bytes_exported_total",
                 "exportd_queue_depth", "exportd_oldest_pending_age_seconds",
                 "exportd_export_duration_seconds_sum",
                 "exportd_export_duration_seconds_count"):
        assert name in m1 and m1[name] >= 0, (name, m1)
    for status in ("pending", "processing", "complete", "failed", "cancelled", "expired"):
        assert m1['exportd_jobs{status="%s"}' % status] >= 0

    ws, key = H.new_workspace(stack)
    H.add_contacts(stack, ws, 7)
    job = H.post(stack, {"type": "contacts"}, key=key).json()
    assert stack.wait_for_job(job["id"], timeout=30, key=key)["status"] == "complete"
    size = H.row(stack, job["id"], "file_size")[0]
    before = finished_totals(stack)
    m2 = scrape(stack.api)
    after = finished_totals(stack)
    assert m2["exportd_rows_exported_total"] >= m1["exportd_rows_exported_total"] + 7
    assert m2["exportd_bytes_exported_total"] >= m1["exportd_bytes_exported_total"] + size
    assert before[0] <= m2["exportd_rows_exported_total"] <= after[0]
    assert before[1] <= m2["exportd_bytes_exported_total"] <= after[1]
    assert m2['exportd_jobs{status="complete"}'] >= 1
    count = m2["exportd_export_duration_seconds_count"]
    assert before[2] <= count <= after[2]
    assert count >= m1["exportd_export_duration_seconds_count"] + 1
    buckets = [(k, v) for k, v in m2.items()
               if k.startswith("exportd_export_duration_seconds_bucket")]
    les = [re.search(r'le="([^"]+)"', k).group(1) for k, _ in buckets]
    assert les == ["1", "5", "15", "60", "300", "900", "3600", "+Inf"], les
    values = [v for _, v in buckets]
    assert values == sorted(values) and values[-1] == count, buckets


def test_metrics_queue_depth_and_oldest_pending(stack):
    ws, key = H.new_workspace(stack)
    job_id = H.insert_pending(stack, ws)
    # Make it due while a FOR KEY SHARE lock holds it: the workers' claim
    # (FOR UPDATE SKIP LOCKED) skips it, the UPDATE of run_at does not wait.
    holder = stack.pg.connect(autocommit=False)
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT 1 FROM export_jobs WHERE id = %s FOR KEY SHARE", (job_id,))
            stack.pg.query("UPDATE export_jobs SET run_at = now() - interval '100 seconds'"
                           " WHERE id = %s", (job_id,))
            m = scrape(stack.api)
            assert H.row(stack, job_id, "status")[0] == "pending"
        assert m["exportd_queue_depth"] >= 1, m
        assert m["exportd_oldest_pending_age_seconds"] >= 99, m
    finally:
        holder.rollback()
        stack.pg.query("UPDATE export_jobs SET status = 'cancelled', completed_at = now()"
                       " WHERE id = %s AND status = 'pending'", (job_id,))
        holder.close()


def test_metrics_route(stack):
    assert stack.api("HEAD", "/metrics", key=None).status_code == 200
    r = stack.api("POST", "/metrics", key=None, data=b"{}",
                  headers={"Content-Type": "application/json"})
    H.problem(r, 405)
    assert {m.strip() for m in r.headers["Allow"].split(",")} == {"GET", "HEAD"}


# --------------------------------------------------- folded totals (009)

BOUNDS = [1, 5, 15, 60, 300, 900, 3600]
FINAL = ("expired", "failed", "cancelled")


def reference(stack):
    """What /metrics must say, straight from export_jobs: counts by status,
    finished rows, bytes, and the cumulative duration histogram."""
    pg = stack.pg
    counts = dict(pg.query("SELECT status, count(*) FROM export_jobs GROUP BY status"))
    durations = [r[0] for r in pg.query(
        "SELECT extract(epoch FROM completed_at - started_at)::float8 FROM export_jobs"
        " WHERE status IN ('complete', 'expired') AND completed_at IS NOT NULL"
        " AND started_at IS NOT NULL")]
    rows, size, _ = scanned_totals(stack)
    g = gone(stack)
    for status in FINAL:
        if g[status]:
            counts[status] = counts.get(status, 0) + g[status]
    return {"counts": counts, "rows": rows + g["rows"], "bytes": size + g["bytes"],
            "le": [sum(1 for d in durations if d <= b) + g["le"][i]
                   for i, b in enumerate(BOUNDS)],
            "count": len(durations) + g["count"]}


def as_reference(m):
    return {"counts": {s: int(m['exportd_jobs{status="%s"}' % s])
                       for s in ("pending", "processing", "complete") + FINAL
                       if m['exportd_jobs{status="%s"}' % s] > 0},
            "rows": int(m["exportd_rows_exported_total"]),
            "bytes": int(m["exportd_bytes_exported_total"]),
            "le": [int(m['exportd_export_duration_seconds_bucket{le="%s"}' % b])
                   for b in BOUNDS],
            "count": int(m["exportd_export_duration_seconds_count"])}


def scrape_checked(stack):
    """A scrape and the reference around it, retried while the jobs move."""
    for _ in range(10):
        before = reference(stack)
        m = as_reference(scrape(stack.api))
        if reference(stack) == before:
            assert m == before
            return m
    raise AssertionError("export_jobs kept changing around the scrapes")


def unfolded(stack):
    return stack.pg.query("SELECT count(*) FROM export_jobs WHERE NOT metrics_folded"
                          " AND status IN ('expired', 'failed', 'cancelled')")[0][0]


def test_metrics_are_the_same_before_and_after_the_janitor_folds(stack):
    """Migration 009: the janitor folds jobs in a final state into
    export_job_totals, and a scrape reads those totals plus the jobs not
    folded yet.  Both ways give what a scan of every job gives, durations on
    a bucket's bound included; deleting folded rows keeps the counters."""
    ws, _ = H.new_workspace(stack)
    # Durations on and around the bounds; no worker touches these rows.
    cases = [("expired", 1.0), ("expired", 1.5), ("expired", 5.0), ("expired", 3600.0),
             ("expired", 4000.0), ("complete", 60.0), ("failed", 2.0), ("cancelled", None)]
    ids = [str(r[0]) for r in stack.pg.query(
        "INSERT INTO export_jobs (workspace, type, format, status, row_count, file_size,"
        " started_at, completed_at, expires_at, as_of_key_set)"
        " SELECT %s, 'contacts', 'csv', c.status, CASE WHEN c.status IN"
        " ('complete', 'expired') THEN 10 + c.n END, CASE WHEN c.status IN"
        " ('complete', 'expired') THEN 1000 + c.n END, now() - interval '2 hours',"
        " now() - interval '2 hours' + make_interval(secs => c.d),"
        " now() + interval '1 day', true"
        " FROM jsonb_to_recordset(%s::jsonb) AS c(n int, status text, d float8)"
        " RETURNING id",
        (ws, json.dumps([{"n": i, "status": s, "d": d} for i, (s, d) in enumerate(cases)])))]
    assert len(ids) == len(cases)
    assert unfolded(stack) >= 7
    live = scrape_checked(stack)

    # The janitor folds at its first round: restart the session's exportd.
    stack.exportd.stop(grace=15)
    stack.start_exportd()
    S.wait_until(lambda: unfolded(stack) == 0, 20, "the janitor folds every final job")
    assert stack.pg.query("SELECT count(*) FROM export_jobs WHERE id = ANY(%s::uuid[])"
                          " AND metrics_folded", (ids,))[0][0] == 7
    assert scrape_checked(stack) == live

    # Counters never go down: deleting folded rows keeps what they added.
    stack.pg.query("DELETE FROM export_jobs WHERE id = ANY(%s::uuid[]) AND status = 'expired'",
                   (ids,))
    after = as_reference(scrape(stack.api))
    assert after == live, (after, live)
    assert scanned_totals(stack)[0] < live["rows"]
