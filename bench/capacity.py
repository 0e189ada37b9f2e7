"""How far one queue goes: exportd nodes x workers against one PostgreSQL.
Run it through scripts/capacity.

  scripts/capacity [--configs 1x2,5x2,10x2,20x2] [--pickup-jobs 100]
                   [--burst-jobs 2000] [--mail] [--output FILE]

Starts the test stack (tests/integration/stack.py: PostgreSQL, the roles,
the migrations) on loopback, then for each configuration N x M starts N
exportd daemons (separate process trees, exportd.node_name node-1..N, M
workers each, default settings otherwise) and measures, with tiny jobs (one
row each, inserted by plain SQL like an application would):

  pick-up   jobs inserted one at a time every 50 ms on an idle queue:
            created_at -> started_at p50 / p99 (the database's clock);
            database transactions and exportd CPU time per job (what every
            idle worker's wake-up on NOTIFY costs: the LISTEN fan-out),
            also less the idle rate (polling, heartbeats) measured just
            before
  burst     B jobs committed at once: jobs completed per second (first
            created_at -> last completed_at)

and at the end, export_jobs' size and dead rows after every job has run
(retention running meanwhile: export.retention 1m, the janitor every 5 s),
after VACUUM, and after `exportctl jobs purge` (retention's last step).
With --mail every job has a requester, the nodes mail an SMTP capture
server (aiosmtpd), and the mail outbox's rows are counted too.
Stops by itself; prints a table and writes the figures as JSON
(bench/results/capacity.json by default).
"""

import argparse
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as B  # noqa: E402
from benchlib import S, log  # noqa: E402
import mailstack as M  # noqa: E402  (benchlib put tests/integration on the path)

WS = "cap"
TYPE = "cap_items"


def parse_args(argv):
    p = argparse.ArgumentParser(prog="scripts/capacity", description=__doc__.split("\n")[0])
    p.add_argument("--configs", default="1x2,5x2,10x2,20x2",
                   help="nodes x workers per configuration (default %(default)s)")
    p.add_argument("--pickup-jobs", type=int, default=100)
    p.add_argument("--burst-jobs", type=int, default=2000)
    p.add_argument("--mail", action="store_true",
                   help="jobs with a requester, mailed through an SMTP capture server")
    p.add_argument("--output", default=str(B.SRCDIR / "bench" / "results" / "capacity.json"))
    a = p.parse_args(argv)
    a.configs = [tuple(int(x) for x in c.split("x")) for c in a.configs.split(",")]
    return a


def prepare(st):
    st.pg.query(
        "CREATE TABLE cap_items (id bigint PRIMARY KEY, ws text NOT NULL, v text);"
        " INSERT INTO cap_items VALUES (1, %s, 'one');"
        " INSERT INTO export_types (name, relation, key_column, workspace_column, columns)"
        " VALUES (%s, 'cap_items', 'id', 'ws', '{id,v}')", (WS, TYPE))
    st.pg.expose(TYPE)


MAIL_TO = None  # set by --mail: every job's requester


def insert_jobs(conn, n):
    with conn.cursor() as cur:
        cur.execute("INSERT INTO export_jobs (workspace, type, format, requester_email)"
                    " SELECT %s, %s, 'csv', %s FROM generate_series(1, %s) RETURNING id",
                    (WS, TYPE, MAIL_TO, n))
        return [r[0] for r in cur.fetchall()]


def wait_done(st, ids, timeout):
    deadline = time.monotonic() + timeout
    while True:
        left = st.pg.query("SELECT count(*) FROM export_jobs WHERE id = ANY(%s::uuid[])"
                           " AND completed_at IS NULL",
                           ([str(i) for i in ids],))[0][0]
        if left == 0:
            return
        if time.monotonic() > deadline:
            raise S.StackError("%d of %d jobs still not done after %ds" % (left, len(ids),
                                                                           timeout))
        time.sleep(0.1)


def xacts(st):
    return st.pg.query("SELECT xact_commit + xact_rollback FROM pg_stat_database"
                       " WHERE datname = current_database()")[0][0]


def cpu_s(daemons):
    """User + system CPU seconds of every process of the daemons."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for d in daemons:
        for pid in [d.pid] + d.children():
            try:
                with open("/proc/%d/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except (OSError, IndexError, ValueError):
                pass
    return total / tick


# An idle backend reports its transactions to pg_stat_database up to 10 s
# late (PostgreSQL's PGSTAT_IDLE_INTERVAL): wait that long before each
# reading, so that the daemons' start is not counted and the jobs' last
# transactions are.
STATS_SETTLE_S = 11


def pickup(st, daemons, n):
    conn = st.pg.connect()
    try:
        # The idle rate (workers' polling fallback, heartbeats, the
        # janitor) over one settle window, taken off the jobs' count.
        time.sleep(STATS_SETTLE_S)
        xi, ti = xacts(st), time.monotonic()
        time.sleep(STATS_SETTLE_S)
        x0, c0, t0 = xacts(st), cpu_s(daemons), time.monotonic()
        idle_rate = (x0 - xi) / (t0 - ti)
        ids = []
        for _ in range(n):
            ids += insert_jobs(conn, 1)
            time.sleep(0.05)
        wait_done(st, ids, 120)
        c1 = cpu_s(daemons)
        time.sleep(STATS_SETTLE_S)
        x1, t1 = xacts(st), time.monotonic()
    finally:
        conn.close()
    lat = [r[0] * 1000 for r in st.pg.query(
        "SELECT extract(epoch FROM started_at - created_at) FROM export_jobs"
        " WHERE id = ANY(%s::uuid[])", ([str(i) for i in ids],))]
    return {"p50_ms": B.percentile(lat, 50), "p99_ms": B.percentile(lat, 99),
            "xacts_per_job": (x1 - x0) / n,
            "idle_xacts_per_s": idle_rate,
            "net_xacts_per_job": (x1 - x0 - idle_rate * (t1 - t0)) / n,
            "exportd_cpu_ms_per_job": (c1 - c0) * 1000 / n}


def burst(st, n):
    conn = st.pg.connect()
    try:
        ids = insert_jobs(conn, n)
    finally:
        conn.close()
    wait_done(st, ids, max(600, n // 20))
    span = st.pg.query("SELECT extract(epoch FROM max(completed_at) - min(created_at)),"
                       " count(*) FILTER (WHERE status IN ('complete', 'expired')),"
                       " max(attempts)"
                       " FROM export_jobs WHERE id = ANY(%s::uuid[])",
                       ([str(i) for i in ids],))[0]
    return {"jobs": n, "seconds": span[0], "jobs_per_s": n / span[0], "complete": span[1],
            "max_attempts": span[2]}


def table_state(st, when):
    r = st.pg.query("SELECT pg_total_relation_size('export_jobs'), n_live_tup, n_dead_tup,"
                    " pg_total_relation_size('export_notifications'),"
                    " (SELECT count(*) FROM export_notifications),"
                    " (SELECT count(*) FROM export_notifications WHERE status = 'sent')"
                    " FROM pg_stat_user_tables WHERE relname = 'export_jobs'")[0]
    return {"when": when, "export_jobs_bytes": r[0], "live_rows": r[1], "dead_rows": r[2],
            "outbox_bytes": r[3], "outbox_rows": r[4], "mails_sent": r[5]}


def wait_mailed(st, timeout):
    """Every queued mail sent (or the timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and st.pg.query(
            "SELECT count(*) FROM export_notifications WHERE status = 'pending'")[0][0]:
        time.sleep(0.5)


def run_config(st, nodes, workers, args):
    daemons = []
    try:
        for i in range(nodes):
            settings = {
                "exportd": {"workers": workers, "node_name": "node-%d" % (i + 1)},
                "export": {"retention": "1m", "cleanup_interval": "5s"},
                "log": {"level": "warn"}}
            if args.smtp is not None:
                settings["mail"] = {"smtp_url": args.smtp.url, "poll_interval": "500ms",
                                    "link_secrets": "capacity-" + "k" * 40}
            d = S.ExtraExportd(st, "exportd cap-%dx%d-node-%d" % (nodes, workers, i + 1),
                               settings)
            daemons.append(d)
            d.start(wait_connected=(i + 1) * workers, timeout=60)
        conns = st.pg.query("SELECT count(*) FROM pg_stat_activity WHERE application_name"
                            " LIKE 'exportd%%'")[0][0]
        log("%dx%d: %d exportd connections; pick-up of %d jobs"
            % (nodes, workers, conns, args.pickup_jobs))
        res = {"nodes": nodes, "workers_per_node": workers, "connections": conns}
        res["pickup"] = pickup(st, daemons, args.pickup_jobs)
        log("%dx%d: burst of %d jobs" % (nodes, workers, args.burst_jobs))
        res["burst"] = burst(st, args.burst_jobs)
        if args.smtp is not None:
            wait_mailed(st, 600)
        return res
    finally:
        for d in daemons:
            d.stop(grace=15)


def report(res):
    lines = ["", "| nodes x workers | exportd connections | pick-up p50 / p99 (ms) |"
             " transactions per job (less idle) | idle transactions/s |"
             " exportd CPU per job (ms) | burst jobs/s |",
             "|---|---|---|---|---|---|---|"]
    for r in res["configs"]:
        p, b = r["pickup"], r["burst"]
        lines.append("| %d x %d | %d | %.1f / %.1f | %.1f (%.1f) | %.1f | %.1f | %.0f |" % (
            r["nodes"], r["workers_per_node"], r["connections"], p["p50_ms"], p["p99_ms"],
            p["xacts_per_job"], p["net_xacts_per_job"], p["idle_xacts_per_s"],
            p["exportd_cpu_ms_per_job"], b["jobs_per_s"]))
    lines += ["", "| export_jobs | bytes | live rows | dead rows | outbox bytes |"
              " outbox rows (sent) |", "|---|---|---|---|---|---|"]
    for t in res["tables"]:
        lines.append("| %s | %d | %d | %d | %d | %d (%d) |" % (
            t["when"], t["export_jobs_bytes"], t["live_rows"], t["dead_rows"],
            t["outbox_bytes"], t["outbox_rows"], t["mails_sent"]))
    print("\n".join(lines))


def _sigterm(signum, frame):
    raise KeyboardInterrupt  # stop the daemons and PostgreSQL on the way out


def main(argv):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _sigterm)
    S.become_subreaper()
    root = S.make_tmp_root("exportd-capacity-")
    pg = S.Postgres(root)
    st = S.Stack(pg, root)
    res = {"machine": B.machine_notes(), "configs": [], "tables": [], "mail": args.mail}
    args.smtp = None
    try:
        pg.start()
        st.start()
        st.exportd.stop(grace=15)
        prepare(st)
        if args.mail:
            global MAIL_TO
            MAIL_TO = "capacity@example.com"
            args.smtp = M.SmtpCapture(root, "capacity").start()
        for nodes, workers in args.configs:
            res["configs"].append(run_config(st, nodes, workers, args))
        st.pg.query("ANALYZE export_jobs, export_notifications")
        res["tables"].append(table_state(st, "after %d jobs" % sum(
            args.pickup_jobs + args.burst_jobs for _ in args.configs)))
        st.pg.query("VACUUM export_jobs")
        res["tables"].append(table_state(st, "after VACUUM"))
        st.exportctl("jobs", "purge", "--before", "now")
        st.pg.query("VACUUM export_jobs")
        res["tables"].append(table_state(st, "after jobs purge + VACUUM"))
    finally:
        try:
            if args.smtp is not None:
                args.smtp.stop()
            st.stop()
        finally:
            pg.stop()
            shutil.rmtree(root, ignore_errors=True)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1, default=str))
    report(res)
    log("figures written to %s" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
