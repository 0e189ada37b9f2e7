"""exportd benchmark suite. Run it through scripts/bench.

  scripts/bench [--rows N] [--rounds R] [--skip-api] [--skip-pickup] [--quick]
                [--skip-s3] [--skip-node] [--workdir DIR] [--output FILE] ...

1. Export throughput, interleaved p a b e n c d f ... over R rounds:
     p. psql \\copy (SELECT <columns> FROM contacts WHERE workspace = ... AND
        deleted_at IS NULL ORDER BY id) TO file CSV HEADER: what a user would
        type, timestamps in PostgreSQL's default text form (the speed
        reference: every ratio is p's wall / the method's wall)
     a. psql \\copy of the suite's reference SELECT (timestamps through
        to_json, every row): exportd's CSV must equal its bytes
     b. exportd CSV through POST /exports (lighttpd -> export.fcgi), local
        storage, default part_size (checkpoints on); timed from the job row's
        started_at to completed_at (and created_at -> completed_at)
     c. exportd JSONL, the same way
     d, f. exportd CSV + gzip, + zstd (when built)
     e. exportd CSV to S3 (the integration tests' s3rver behind the
        SigV4-verifying proxy), against (b): (b)'s wall / (e)'s wall; the
        object is compared with (b)'s file by sha256
     n. bench/node-export/export.js (pg-query-stream -> csv-stringify ->
        file) on (p)'s rows: (n)'s wall / (b)'s wall
   exportd runs with one worker, restarted before each export, so VmHWM of
   /proc/<worker>/status is that export's peak RSS.
2. API load: wrk on GET /exports/{id} and POST /exports through lighttpd with
   export.fcgi x4, and on the same routes of a trivial FastCGI responder x4
   behind a second lighttpd with the same config (the ceiling).
3. Pick-up latency created_at -> started_at for jobs inserted by plain SQL,
   with LISTEN/NOTIFY and with polling only (the NOTIFY trigger disabled).

Prints a table and writes the same figures as JSON (bench/results/latest.json
by default). Progress goes to stderr, the table to stdout.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as B  # noqa: E402
from benchlib import H, S, log  # noqa: E402

NOT_BUILT = "n/a (not built)"
# issue 14's targets; the export ratios are against (p), the plain \\copy.
TARGETS = {
    "csv_ratio_to_psql": 1.6,
    "jsonl_ratio_to_psql": 1.3,
    "csv_gzip_ratio_to_psql": 1.0,
    "worker_peak_rss_mib": 32.0,
    "status_route_ratio_to_ceiling": 0.40,
    "create_route_ratio_to_ceiling": 0.15,
    "pickup_listen_p50_ms": 10.0,
    "csv_s3_ratio_to_local": 0.8,
    "worker_peak_rss_s3_mib": 32.0,
    "csv_ratio_to_node": 8.0,
}


# ------------------------------------------------------------- helpers

class ExportdDied(S.StackError):
    """exportd exited while it was measured (on a shared machine another
    session's `pkill`/stale-pid kill can hit it): measured again once."""


def retry_if_killed(st, fn, what, cleanup=None):
    for attempt in (1, 2):
        try:
            return fn()
        except ExportdDied as e:
            if attempt == 2:
                raise
            log("WARNING: exportd exited during %s (%s); restarting it and measuring again"
                % (what, str(e).splitlines()[0]))
            if cleanup is not None:
                cleanup()
            st.restart_exportd()
    return None


def unlink(path):
    try:
        Path(path).unlink()
    except FileNotFoundError:
        pass


# ------------------------------------------------------------ capabilities

def probe_features(st):
    """What the build under test accepts in POST /exports, asked of the API
    itself (on the tiny workspace): `include_deleted` (builds that have it
    leave soft-deleted rows out by default, while the psql reference has
    them all), `compression: gzip` / `zstd` and `format: xlsx`. S3: whether
    exportd knows SigV4."""
    key = st.keys[B.TINY_WS]
    if st.exportd is None or not st.exportd.alive():
        st.start_exportd()
    feats = {}
    for name, extra in (("include_deleted", {"include_deleted": True}),
                        ("gzip", {"compression": "gzip"}),
                        ("zstd", {"compression": "zstd"}),
                        ("xlsx", {"format": "xlsx"})):
        r = st.api("POST", "/exports", key=key,
                   json=dict({"type": "contacts", "format": "csv"}, **extra))
        feats[name] = r.status_code == 202
        if r.status_code == 202:
            job = st.wait_for_job(r.json()["id"], timeout=60, key=key)
            feats[name] = job["status"] == "complete"
        elif r.status_code != 400:
            raise S.StackError("POST /exports answered %d: %s" % (r.status_code, r.text[:500]))
    st.pg.query("DELETE FROM export_jobs WHERE workspace = %s", (B.TINY_WS,))
    for f in st.storage_dir.iterdir():
        if not f.is_dir():  # .work: where XLSX exports are built (empty by now)
            f.unlink()
    feats["s3"] = b"AWS4-HMAC-SHA256" in Path(st.exportd_bin).read_bytes()
    log("build under test: include_deleted %s, gzip %s, zstd %s, xlsx %s, S3 %s"
        % tuple("yes" if feats[k] else "no"
                for k in ("include_deleted", "gzip", "zstd", "xlsx", "s3")))
    return feats


# ------------------------------------------------------ export throughput

class Exports:
    def __init__(self, st, work, rows, features=None):
        self.features = features or {}
        self.st = st
        self.pg = st.pg
        self.work = work
        self.rows = rows
        # Every row, soft-deleted ones too (the exports ask for include_deleted).
        self.select = H.reference_select(self.pg, "contacts", B.BENCH_WS, include_deleted=True)
        self.plain, self.plain_rows = plain_select(self.pg, "contacts", B.BENCH_WS)
        self.ref_path = work / "reference.csv"
        self.plain_path = work / "plain.csv"
        self.conn = self.pg.connect()
        # More methods run in each round right after (b), so that their
        # ratios to (b) pair adjacent runs:
        # [(name, fn(round_index, {"csv": (b)'s result}) -> result)].
        self.extra = []

    def psql(self, target=None, select=None):
        """(a), or (p) with select=self.plain: wall clock of the psql
        process; its peak RSS from wait4()."""
        target = target or self.ref_path
        errlog = self.work / "psql.stderr"
        with open(errlog, "wb") as err:
            t0 = time.perf_counter()
            p = subprocess.Popen(H.psql_argv(self.pg, select or self.select, target),
                                 stdin=subprocess.DEVNULL,
                                 stdout=err, stderr=err, env=H.psql_env())
            _, status, ru = os.wait4(p.pid, 0)
            wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            raise S.StackError("psql \\copy failed (exit %d): %s"
                               % (p.returncode, errlog.read_text()[-2000:]))
        size = os.path.getsize(target) if str(target) != "/dev/null" else 0
        return {"wall_s": wall, "bytes": size, "peak_rss_kib": ru.ru_maxrss}

    def body(self, fmt, compression=None):
        body = {"type": "contacts", "format": fmt}
        if self.features.get("include_deleted"):
            body["include_deleted"] = True  # every row, like the psql reference
        if compression:
            body["compression"] = compression
        return body

    def exportd(self, fmt, keep_file=False, compression=None, conf=None):
        """(b)/(c)/(d): POST /exports, wait for the job, read its row. conf:
        another exportd config (the S3 one of (e))."""
        wpid = self.st.restart_exportd(conf)
        t0 = time.perf_counter()
        r = self.st.api("POST", "/exports", key=self.st.keys[B.BENCH_WS],
                        json=self.body(fmt, compression))
        if r.status_code != 202:
            raise S.StackError("POST /exports answered %d: %s" % (r.status_code, r.text[:1000]))
        job_id = r.json()["id"]
        deadline = time.monotonic() + 300 + self.rows / 5000.0
        cur = self.conn.cursor()
        while True:
            cur.execute("SELECT status FROM export_jobs WHERE id = %s", (job_id,))
            status = cur.fetchone()[0]
            if status in S.TERMINAL_STATUSES:
                break
            if not self.st.exportd.alive():
                raise ExportdDied("exportd died during the export:\n%s"
                                  % S.logs_excerpt(["exportd"]))
            if time.monotonic() > deadline:
                raise S.StackError("export %s still %s after %.0f s" % (job_id, status,
                                                                     deadline - t0))
            time.sleep(0.02)
        client_wall = time.perf_counter() - t0
        if B.worker_children(self.st.exportd.pid) != [wpid]:
            raise ExportdDied("the exportd worker was replaced during the export "
                               "(it died?):\n%s" % S.logs_excerpt(["exportd"]))
        hwm = H.proc_status_kib(wpid, "VmHWM")
        # An idle exportd must not run beside the next psql measurement.
        self.st.stop_exportd()
        cur.execute("SELECT status, row_count, file_size, file_key, error_message,"
                    " extract(epoch FROM completed_at - started_at)::float8,"
                    " extract(epoch FROM completed_at - created_at)::float8,"
                    " extract(epoch FROM started_at - created_at)::float8"
                    " FROM export_jobs WHERE id = %s", (job_id,))
        status, nrows, size, key, error, wall, wall_created, pickup = cur.fetchone()
        cur.close()
        if status != "complete" or nrows != self.rows:
            raise S.StackError("export %s: status %s, %s rows (want %d): %s"
                               % (job_id, status, nrows, self.rows, error))
        path = self.st.storage_dir / key
        if not keep_file:
            unlink(path)
        return {"wall_s": wall, "created_to_completed_s": wall_created,
                "created_to_started_s": pickup, "client_wall_s": client_wall,
                "bytes": size, "peak_rss_kib": hwm, "job_id": job_id, "path": path}

    def run(self, rounds):
        self.rounds = rounds
        log("warm-up: psql \\copy to /dev/null (untimed)")
        self.psql("/dev/null")
        res = {"plain": [], "psql": [], "csv": [], "jsonl": [], "csv_gzip": [], "csv_zstd": [],
               "xlsx": []}
        identical = None
        self.loads = []
        for i in range(rounds):
            self.loads.append(B.loadavg())
            p = self.psql(self.plain_path, self.plain)
            unlink(self.plain_path)
            log("round %d/%d  (p) psql \\copy plain %.3f s" % (i + 1, rounds, p["wall_s"]))
            a = self.psql()
            log("round %d/%d  (a) psql \\copy CSV  %.3f s" % (i + 1, rounds, a["wall_s"]))
            b = retry_if_killed(self.st, lambda: self.exportd("csv", keep_file=(i == 0)),
                                "the CSV export")
            log("round %d/%d  (b) exportd CSV    %.3f s (created->completed %.3f s, "
                "VmHWM %d KiB)" % (i + 1, rounds, b["wall_s"], b["created_to_completed_s"],
                                   b["peak_rss_kib"]))
            if i == 0:
                b["sha256"] = H.sha256_file(b["path"])
                identical = (b["bytes"] == a["bytes"]
                             and b["sha256"] == H.sha256_file(self.ref_path))
                log("exportd CSV %s the psql reference (%d vs %d bytes)"
                    % ("is byte-identical to" if identical else "DIFFERS from",
                       b["bytes"], a["bytes"]))
                unlink(b["path"])
            unlink(self.ref_path)
            extra = [(name, fn(i, {"csv": b})) for name, fn in self.extra]
            c = retry_if_killed(self.st, lambda: self.exportd("jsonl"), "the JSONL export")
            log("round %d/%d  (c) exportd JSONL  %.3f s (created->completed %.3f s, "
                "VmHWM %d KiB)" % (i + 1, rounds, c["wall_s"], c["created_to_completed_s"],
                                   c["peak_rss_kib"]))
            got = [("plain", p), ("psql", a), ("csv", b), ("jsonl", c)] + extra
            for letter, comp in (("d", "gzip"), ("f", "zstd")):
                if not self.features.get(comp):
                    continue
                d = retry_if_killed(self.st, lambda: self.exportd("csv", compression=comp),
                                    "the CSV+%s export" % comp)
                log("round %d/%d  (%s) exportd CSV+%s %.3f s (%d bytes, VmHWM %d KiB)"
                    % (i + 1, rounds, letter, comp, d["wall_s"], d["bytes"], d["peak_rss_kib"]))
                got.append(("csv_" + comp, d))
            if self.features.get("xlsx"):
                g = retry_if_killed(self.st, lambda: self.exportd("xlsx"), "the XLSX export")
                log("round %d/%d  (g) exportd XLSX   %.3f s (%d bytes, VmHWM %d KiB)"
                    % (i + 1, rounds, g["wall_s"], g["bytes"], g["peak_rss_kib"]))
                got.append(("xlsx", g))
            for k, v in got:
                v.pop("path", None)
                res.setdefault(k, []).append(v)
        return res, identical


def plain_select(pg, type_, workspace):
    """The SELECT a user would \\copy (issue 14): the type's columns as
    stored, the workspace's live rows in key order; and how many rows it
    has. Timestamps stay in PostgreSQL's default text form."""
    reg = H.registry(pg, type_)
    rel = "%s.%s" % (H.qi(reg["schema"]), H.qi(reg["relation"]))
    cond = "%s = '%s'" % (H.qi(reg["ws"]), workspace.replace("'", "''"))
    if reg["deleted"]:
        cond += " AND %s IS NULL" % H.qi(reg["deleted"])
    n = pg.query("SELECT count(*) FROM %s WHERE %s" % (rel, cond))[0][0]
    return ("SELECT %s FROM %s WHERE %s ORDER BY %s"
            % (", ".join(H.qi(c) for c in reg["columns"]), rel, cond, H.qi(reg["key"])), n)


def summarize_method(runs, rows, psql_runs=None):
    walls = [r["wall_s"] for r in runs]
    med = B.median(walls)
    size = B.median([r["bytes"] for r in runs])
    out = {
        "status": "measured",
        "wall_s": med, "wall_min_s": min(walls), "wall_max_s": max(walls),
        "rows": rows, "bytes": int(size),
        "rows_per_s": rows / med, "mb_per_s": size / med / 1e6,
        "peak_rss_kib": max(r["peak_rss_kib"] for r in runs),
        "peak_rss_mib": max(r["peak_rss_kib"] for r in runs) / 1024.0,
        "rounds": [{k: v for k, v in r.items()} for r in runs],
    }
    if psql_runs is None:
        out["ratio_to_psql"] = 1.0
        return out
    pw = [r["wall_s"] for r in psql_runs]
    pmed = B.median(pw)
    paired = [p / e for p, e in zip(pw, walls)]
    out["ratio_to_psql"] = pmed / med
    out["ratio_min"], out["ratio_max"] = min(paired), max(paired)
    if "created_to_completed_s" not in runs[0]:
        return out  # (a), a psql run
    cw = [r["created_to_completed_s"] for r in runs]
    out["created_to_completed_s"] = B.median(cw)
    out["created_to_completed_min_s"] = min(cw)
    out["created_to_completed_max_s"] = max(cw)
    out["ratio_to_psql_created"] = pmed / B.median(cw)
    return out


# ------------------------------- (e) CSV to S3 and (n) the Node.js reference

NODE_LABEL = "(n) Node.js pg-query-stream → CSV file"


def setup_s3(st, root, features, skip):
    """(e): start the S3 test server and write exportd's S3 config;
    (B.BenchS3, None) or (None, the status to print instead)."""
    if skip:
        return None, "skipped (--skip-s3)"
    if not features["s3"]:
        return None, NOT_BUILT
    log("starting the S3 test server (s3rver behind tests/s3/sigv4proxy.py)")
    s3 = B.BenchS3(st, root / "s3")
    try:
        s3.start()
    except S.StackError as e:
        s3.stop()
        first = str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
        log("WARNING: the S3 test server did not start: %s" % e)
        return None, "n/a (the S3 test server did not start: %s)" % first
    return s3, None


def export_s3(ex, s3, i, got):
    """(e), one round: exportd CSV with storage.backend = s3 through the
    verifying proxy, timed like (b). In round 1 the object's sha256 is
    compared with (b)'s local file. The object is removed afterwards."""
    e = retry_if_killed(ex.st, lambda: ex.exportd("csv", conf=s3.conf_path),
                        "the CSV export to S3")
    key = s3.object_key(Path(e["path"]).name)
    if i == 0:
        sha, size = s3.sha256(key)
        e["identical_to_local"] = sha == got["csv"]["sha256"] and size == got["csv"]["bytes"]
        log("exportd CSV on S3 %s the local one (%d vs %d bytes)"
            % ("is byte-identical to" if e["identical_to_local"] else "DIFFERS from",
               size, got["csv"]["bytes"]))
    s3.remove(key)
    e["unverified_requests"] = len(s3.unverified())
    log("round %d/%d  (e) exportd CSV→S3 %.3f s (created->completed %.3f s, VmHWM %d KiB, "
        "%d requests the proxy did not verify)"
        % (i + 1, ex.rounds, e["wall_s"], e["created_to_completed_s"], e["peak_rss_kib"],
           e["unverified_requests"]))
    return e


def setup_node(skip):
    """(n): npm ci of bench/node-export; None, or the status to print instead."""
    if skip:
        return "skipped (--skip-node)"
    log("installing the Node.js reference (bench/node-export/install.sh)")
    why = B.install_node_export()
    if why:
        log("WARNING: no Node.js reference: %s" % why)
        return "n/a (%s)" % why
    return None


def export_node(ex, i, got):
    """(n), one round: bench/node-export/export.js on the rows of (p), the
    wall clock of the node process, its peak RSS from wait4()."""
    out = ex.work / "node.csv"
    argv, env = B.node_export_argv(ex.pg, "contacts", B.BENCH_WS, out)
    errlog = ex.work / "node.stderr"
    with open(errlog, "wb") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=err, env=env)
        said = p.stdout.read()
        p.stdout.close()
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise S.StackError("%s failed (exit %d): %s" % (" ".join(argv[:2]), p.returncode,
                                                          errlog.read_text()[-2000:]))
    info = json.loads(said)
    size = os.path.getsize(out)
    unlink(out)
    if info["rows"] != ex.plain_rows:
        raise S.StackError("the Node.js reference wrote %d rows, (p) has %d"
                           % (info["rows"], ex.plain_rows))
    log("round %d/%d  (n) Node.js        %.3f s (%d rows, %d bytes, ru_maxrss %d KiB)"
        % (i + 1, ex.rounds, wall, info["rows"], size, ru.ru_maxrss))
    return {"wall_s": wall, "bytes": size, "rows": info["rows"], "peak_rss_kib": ru.ru_maxrss}


def paired_ratio(out, name, num_runs, den_runs):
    """out[name] = median(num walls) / median(den walls), with the min-max
    of the rounds' own ratios in name_min / name_max."""
    nw = [r["wall_s"] for r in num_runs]
    dw = [r["wall_s"] for r in den_runs]
    paired = [n / d for n, d in zip(nw, dw)]
    out[name] = B.median(nw) / B.median(dw)
    out[name + "_min"], out[name + "_max"] = min(paired), max(paired)


def summarize_s3(runs, local, plain, rows, status):
    """methods.exportd_csv_s3: (e) like (b), plus ratio_to_local = (b)'s
    wall / (e)'s wall (> 1: S3 faster than local)."""
    if not runs:
        return {"status": status}
    out = summarize_method(runs, rows, plain)
    paired_ratio(out, "ratio_to_local", local, runs)
    out["identical_to_local"] = runs[0]["identical_to_local"]
    out["unverified_requests"] = sum(r["unverified_requests"] for r in runs)
    return out


def summarize_node(runs, csv, plain, rows, status):
    """methods.node_csv: (n) like (p), plus exportd_csv_speedup = (n)'s
    wall / (b)'s wall (how many times faster exportd's CSV is)."""
    if not runs:
        return {"status": status}
    out = summarize_method(runs, rows, plain)
    paired_ratio(out, "exportd_csv_speedup", runs, csv)
    return out


def report_s3(w, m):
    e = m["exportd_csv_s3"]
    if e.get("status") != "measured":
        w("%-40s %s" % ("(e) exportd CSV → S3", e["status"]))
        return
    w("%-40s %-25s %12s %8.1f  %-20s %.1f MiB (worker VmHWM, max)"
      % ("(e) exportd CSV → S3, started→compl.", fmt_wall(e), fmt_int(e["rows_per_s"]),
         e["mb_per_s"], "%.2f [%.2f–%.2f]" % (e["ratio_to_psql"], e["ratio_min"], e["ratio_max"]),
         e["peak_rss_mib"]))
    w("%-40s %s" % ("", "S3 vs local = (b)'s wall / (e)'s: %.2f [%.2f–%.2f]; the object is "
                        "%s (b)'s file (round 1, sha256); %d request(s) not verified"
                    % (e["ratio_to_local"], e["ratio_to_local_min"], e["ratio_to_local_max"],
                       "byte-identical to" if e["identical_to_local"] else "NOT identical to",
                       e["unverified_requests"])))
    w("%-40s %s" % ("", "(s3rver behind tests/s3/sigv4proxy.py on loopback, path-style, "
                        "[s3] defaults, part_size 8M)"))


def report_node(w, m, node_version):
    n = m["node_csv"]
    if n.get("status") != "measured":
        w("%-40s %s" % (NODE_LABEL, n["status"]))
        return
    w("%-40s %-25s %12s %8.1f  %-20s %.1f MiB (node, ru_maxrss)"
      % (NODE_LABEL, fmt_wall(n), fmt_int(n["rows_per_s"]), n["mb_per_s"],
         "%.2f [%.2f–%.2f]" % (n["ratio_to_psql"], n["ratio_min"], n["ratio_max"]),
         n["peak_rss_mib"]))
    w("%-40s %s" % ("", "exportd CSV vs Node.js = (n)'s wall / (b)'s: %.2f× [%.2f–%.2f] "
                        "(the rows of (p); /usr/bin/node %s)"
                    % (n["exportd_csv_speedup"], n["exportd_csv_speedup_min"],
                       n["exportd_csv_speedup_max"], node_version)))


def targets_s3_node(m, add):
    e, n = m.get("exportd_csv_s3", {}), m.get("node_csv", {})
    if e.get("status") == "measured":
        r = e["ratio_to_local"]
        add("csv_s3_ratio_to_local", "CSV to S3 vs CSV to local", r, "%.3f×" % r,
            "≥ %g×" % TARGETS["csv_s3_ratio_to_local"],
            r >= TARGETS["csv_s3_ratio_to_local"] and e["identical_to_local"])
        rss = e["peak_rss_mib"]
        add("worker_peak_rss_s3_mib", "exportd worker peak RSS, CSV to S3", rss,
            "%.1f MiB" % rss, "≤ 32 MiB", rss <= TARGETS["worker_peak_rss_s3_mib"])
    if n.get("status") == "measured":
        r = n["exportd_csv_speedup"]
        add("csv_ratio_to_node", "CSV vs Node.js pg-query-stream", r, "%.2f×" % r,
            "≥ %g×" % TARGETS["csv_ratio_to_node"],
            r >= TARGETS["csv_ratio_to_node"])


# --------------------------------------------------------------- API load

class Reaper:
    """Runs `cleanup` (a DELETE of the pending tiny jobs) every 0.2 s in a
    thread, on its own connection, while the POST load runs."""

    def __init__(self, pg, cleanup, interval=0.2):
        import threading
        self.pg, self.cleanup, self.interval = pg, cleanup, interval
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.deleted = 0

    def run(self):
        conn = self.pg.connect()
        try:
            cur = conn.cursor()
            while not self.stop.wait(self.interval):
                cur.execute(*self.cleanup)
                self.deleted += cur.rowcount
        finally:
            conn.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(30)
        return False


def api_load(st, ceiling, work, duration, rounds, connections):
    key = st.keys[B.TINY_WS]
    body = json.dumps({"type": "contacts", "format": "csv"})
    # A complete job of the tiny workspace for the status route.
    st.restart_exportd()
    r = st.api("POST", "/exports", key=key, json={"type": "contacts", "format": "csv"})
    if r.status_code != 202:
        raise S.StackError("POST /exports answered %d: %s" % (r.status_code, r.text[:500]))
    job = st.wait_for_job(r.json()["id"], timeout=60, key=key)
    if job["status"] != "complete":
        raise S.StackError("the tiny export did not complete: %s" % job)
    path = "/exports/%s" % job["id"]
    # No worker may take the POSTed jobs (or poll) while wrk runs.
    st.stop_exportd()
    get_lua = B.write_wrk_script(work / "get.lua", "GET", key=key)
    post_lua = B.write_wrk_script(work / "post.lua", "POST", key=key, body=body,
                                  content_type="application/json")
    for url, what in ((st.base_url + path, "GET /exports/{id}"),
                      (ceiling.url + path, "trivial GET")):
        r = requests.get(url, headers={"Authorization": "Bearer " + key}, timeout=10)
        if r.status_code != 200:
            raise S.StackError("%s answered %d: %s" % (what, r.status_code, r.text[:500]))
    cleanup = ("DELETE FROM export_jobs WHERE workspace = %s AND status = 'pending'",
               (B.TINY_WS,))
    runs = {"get_export": [], "ceiling_get": [], "post_exports": [], "ceiling_post": []}
    plan = (("ceiling_get", ceiling.url + path, get_lua),
            ("get_export", st.base_url + path, get_lua),
            ("ceiling_post", ceiling.url + "/exports", post_lua),
            ("post_exports", st.base_url + "/exports", post_lua))
    try:
        for i in range(rounds):
            for name, url, script in plan:
                if name == "post_exports":
                    # Keep the number of pending jobs small while wrk runs:
                    # builds that count a workspace's active jobs on every
                    # POST would otherwise slow down as they pile up.
                    with Reaper(st.pg, cleanup):
                        res = B.wrk(url, script, duration, connections=connections)
                else:
                    res = B.wrk(url, script, duration, connections=connections)
                if name == "post_exports":
                    st.pg.query(*cleanup)
                    st.pg.query("VACUUM export_jobs")
                log("API round %d/%d  %-13s %8.0f req/s  p50 %.2f ms  p99 %.2f ms%s"
                    % (i + 1, rounds, name, res["req_per_s"], res["p50_ms"], res["p99_ms"],
                       "  (%d errors)" % res["errors"] if res["errors"] else ""))
                runs[name].append(res)
    finally:
        st.pg.query(*cleanup)
    out = {}
    for name, rs in runs.items():
        out[name] = {
            "req_per_s": B.median([r["req_per_s"] for r in rs]),
            "req_per_s_min": min(r["req_per_s"] for r in rs),
            "req_per_s_max": max(r["req_per_s"] for r in rs),
            "p50_ms": B.median([r["p50_ms"] for r in rs]),
            "p99_ms": B.median([r["p99_ms"] for r in rs]),
            "errors": sum(r["errors"] for r in rs),
            "requests": sum(r["requests"] for r in rs),
            "rounds": rs,
        }
    for route, ceil in (("get_export", "ceiling_get"), ("post_exports", "ceiling_post")):
        out[route]["ratio_to_ceiling"] = out[route]["req_per_s"] / out[ceil]["req_per_s"]
        out[route]["ceiling"] = ceil
    out["settings"] = {"tool": "wrk", "threads": 2, "connections": connections,
                       "duration_s": duration, "rounds": rounds,
                       "fcgi_processes": st.fcgi_children,
                       "note": "exportd stopped during the runs; POSTed jobs deleted every "
                               "0.2 s during and after each POST run"}
    return out


# -------------------------------------------------------------- idle cost

def proc_cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


def idle_cost(st, seconds):
    """CPU an idle exportd (no job anywhere) costs: its worker and the
    worker's PostgreSQL backend, in % of one core. An idle worker should
    sleep in poll() until a NOTIFY or its poll_interval."""
    st.pg.query("DELETE FROM export_jobs WHERE status IN ('pending', 'processing')")
    wpid = st.restart_exportd()
    backends = [r[0] for r in st.pg.query(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'exportd-worker'"
        " AND datname = %s", (st.pg.dbname,))]
    time.sleep(1.0)
    w0 = proc_cpu_s(wpid)
    b0 = sum(proc_cpu_s(p) for p in backends)
    t0 = time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - t0
    w = (proc_cpu_s(wpid) - w0) / wall
    b = (sum(proc_cpu_s(p) for p in backends) - b0) / wall
    st.stop_exportd()
    log("idle exportd: worker %.1f%%, its backend %.1f%% of a core" % (100 * w, 100 * b))
    return {"seconds": wall, "worker_core_pct": 100 * w, "backend_core_pct": 100 * b,
            "total_core_pct": 100 * (w + b)}


# ----------------------------------------------------------------- pick-up

def pickup_run(st, n, interval_ms, conn):
    """Insert n jobs by plain SQL, one every interval_ms; wait for all of them;
    created_at -> started_at of each, and how fast the worker went through them."""
    cur = conn.cursor()
    ids = []
    t0 = time.monotonic()
    for i in range(n):
        delay = t0 + i * interval_ms / 1000.0 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        cur.execute("INSERT INTO export_jobs (workspace, type, format)"
                    " VALUES (%s, 'contacts', 'csv') RETURNING id", (B.TINY_WS,))
        ids.append(cur.fetchone()[0])
    spread = time.monotonic() - t0
    deadline = time.monotonic() + 60 + n * 0.05
    while True:
        cur.execute("SELECT count(*) FILTER (WHERE started_at IS NULL),"
                    " count(*) FILTER (WHERE status NOT IN ('complete', 'failed', 'cancelled'))"
                    " FROM export_jobs WHERE id = ANY(%s::uuid[])", (ids,))
        not_started, not_done = cur.fetchone()
        if not_done == 0:
            break
        if not st.exportd.alive():
            raise ExportdDied("exportd died during the pick-up run:\n%s"
                              % S.logs_excerpt(["exportd"]))
        if time.monotonic() > deadline:
            raise S.StackError("pick-up run: %d of %d jobs not started, %d not done"
                               % (not_started, n, not_done))
        time.sleep(0.05)
    cur.execute("SELECT extract(epoch FROM created_at)::float8,"
                " extract(epoch FROM started_at)::float8,"
                " extract(epoch FROM completed_at)::float8, status, file_key"
                " FROM export_jobs WHERE id = ANY(%s::uuid[])", (ids,))
    rows = cur.fetchall()
    for r in rows:
        if r[4]:
            unlink(st.storage_dir / r[4])
    cur.execute("DELETE FROM export_jobs WHERE id = ANY(%s::uuid[])", (ids,))
    cur.close()
    bad = [r for r in rows if r[3] != "complete"]
    if bad:
        raise S.StackError("pick-up run: %d jobs did not complete (e.g. %s)" % (len(bad), bad[0]))
    lat = [(r[1] - r[0]) * 1000 for r in rows]
    run = [(r[2] - r[1]) * 1000 for r in rows]
    busy = max(r[2] for r in rows) - min(r[1] for r in rows)
    return {"jobs": n, "interval_ms": interval_ms, "insert_spread_s": spread,
            "p50_ms": B.percentile(lat, 50), "p90_ms": B.percentile(lat, 90),
            "p99_ms": B.percentile(lat, 99), "max_ms": max(lat),
            "mean_ms": sum(lat) / len(lat),
            "job_run_p50_ms": B.percentile(run, 50),
            "jobs_per_s": n / busy if busy > 0 else None}


def pickup(st, n, interval_ms):
    st.restart_exportd()
    conn = st.pg.connect()

    def clean():
        st.pg.query("DELETE FROM export_jobs WHERE workspace = %s", (B.TINY_WS,))

    def measured(count, interval, what):
        return retry_if_killed(st, lambda: pickup_run(st, count, interval, conn), what, clean)

    try:
        # Warm-up (the first jobs pay for cold caches), then the worker's
        # capacity: a burst of jobs inserted back to back.
        measured(5, 50, "the pick-up warm-up")
        burst = measured(50, 0, "the pick-up burst")
        cycle_ms = 1000.0 / burst["jobs_per_s"]
        log("pick-up: one worker runs %.0f tiny jobs/s (%.1f ms per job, claim to claim)"
            % (burst["jobs_per_s"], cycle_ms))
        if interval_ms is None:
            # Arrivals slower than the worker's capacity: the figure is then
            # the wake-up latency, not the length of a queue.
            interval_ms = max(5.0, float(int(2 * cycle_ms + 1)))
        log("pick-up: %d jobs, one every %g ms, LISTEN/NOTIFY" % (n, interval_ms))
        listen = measured(n, interval_ms, "the LISTEN pick-up run")
        log("pick-up LISTEN: p50 %.2f ms, p99 %.2f ms" % (listen["p50_ms"], listen["p99_ms"]))
        log("pick-up: polling only: ALTER TABLE export_jobs DISABLE TRIGGER export_jobs_notify")
        conn.cursor().execute("ALTER TABLE export_jobs DISABLE TRIGGER export_jobs_notify")
        try:
            polling = measured(n, interval_ms, "the polling-only pick-up run")
        finally:
            conn.cursor().execute("ALTER TABLE export_jobs ENABLE TRIGGER export_jobs_notify")
            log("pick-up: trigger export_jobs_notify enabled again")
        log("pick-up polling: p50 %.2f ms, p99 %.2f ms" % (polling["p50_ms"], polling["p99_ms"]))
    finally:
        conn.close()
    listen["mode"] = "LISTEN/NOTIFY (normal)"
    polling["mode"] = ("polling only: trigger export_jobs_notify disabled during this run "
                       "(ALTER TABLE export_jobs DISABLE TRIGGER), enabled again after")
    return {"listen": listen, "polling": polling,
            "capacity": {"jobs_per_s": burst["jobs_per_s"], "ms_per_job": cycle_ms,
                         "burst_jobs": burst["jobs"],
                         "burst_p50_ms": burst["p50_ms"], "burst_p99_ms": burst["p99_ms"]},
            "settings": {"workers": st.workers, "poll_interval": "1500ms (default)",
                         "interval_ms": interval_ms,
                         "job": "contacts, %d-row workspace %s, inserted by plain SQL"
                                % (B.TINY_ROWS, B.TINY_WS)}}


# ------------------------------------------------------------------ report

def fmt_int(x):
    return "{:,.0f}".format(x)


def fmt_wall(m, key="wall_s"):
    lo, hi = m[key.replace("_s", "_min_s")], m[key.replace("_s", "_max_s")]
    return "%.3f [%.3f–%.3f]" % (m[key], lo, hi)


def report(res):
    meta = res["meta"]
    lines = []
    w = lines.append
    w("exportd benchmark — %s rows of type contacts (workspace %s), %d round(s) interleaved "
      "p a b [e n] c d f …" % (fmt_int(meta["rows"]), B.BENCH_WS, meta["rounds"]))
    w("machine: %s, %d cores, %.0f GiB; %s; lighttpd %s; %s"
      % (meta["machine"]["cpu"], meta["machine"]["cores"], meta["machine"]["memory_gib"],
         meta["machine"]["postgresql"], meta["machine"]["lighttpd"].split()[0],
         meta["machine"]["wrk"]))
    bi, gi = meta["binaries"], meta["git"]
    w("binaries: %s (copied at start; exportd sha256 %s…), built from %s%s%s"
      % (bi["builddir"], bi["exportd"]["sha256"], gi["build_srcdir"],
         " at commit %s" % gi["commit"][:12] if gi["commit"] else "",
         " with uncommitted changes in src/" if gi["src_differs_from_commit"] else ""))
    la = meta["loadavg_1min"]
    rounds = la.get("rounds") or []
    w("load average (1 min): %.2f at start, %s during the export rounds, %.2f at the end%s"
      % (la["start"], "%.2f–%.2f" % (min(rounds), max(rounds)) if rounds else "-",
         la.get("end", 0.0),
         "  (WARNING: the machine was busy before the bench started: figures are noisy)"
         if la["start"] > 1.0 else ""))
    w("exportd: 1 worker, chunk_rows 10000, part_size 8M (checkpoint + fsync per part), "
      "write_buffer 256k, csv_line_ending lf, local storage")
    w("")
    m = res.get("methods")
    if m:
        w("wall: median [min–max] over the rounds; MB = 10^6 bytes; ratio = (p)'s wall / "
          "the method's wall (>1 = faster than a plain psql \\copy), median ratio [min–max of "
          "the rounds' ratios]")
        w("(p) = %s" % m["psql_plain_csv"]["select"])
        hdr = "%-40s %-25s %12s %8s  %-20s %s" % ("export", "wall s", "rows/s", "MB/s",
                                                   "ratio to (p)", "peak RSS")
        w(hdr)
        w("-" * len(hdr))
        p = m["psql_plain_csv"]
        w("%-40s %-25s %12s %8.1f  %-20s %.1f MiB (psql, ru_maxrss)"
          % ("(p) psql \\copy plain (speed reference)", fmt_wall(p), fmt_int(p["rows_per_s"]),
             p["mb_per_s"], "1.00", p["peak_rss_mib"]))
        a = m["psql_copy_csv"]
        w("%-40s %-25s %12s %8.1f  %-20s %.1f MiB (psql, ru_maxrss)"
          % ("(a) psql \\copy to_json (byte reference)", fmt_wall(a), fmt_int(a["rows_per_s"]),
             a["mb_per_s"], "%.2f [%.2f–%.2f]" % (a["ratio_to_psql"], a["ratio_min"],
                                                 a["ratio_max"]), a["peak_rss_mib"]))
        for key, label in (("exportd_csv", "(b) exportd CSV"), ("exportd_jsonl", "(c) exportd JSONL")):
            e = m[key]
            w("%-40s %-25s %12s %8.1f  %-20s %.1f MiB (worker VmHWM, max)"
              % (label + ", started→completed", fmt_wall(e), fmt_int(e["rows_per_s"]),
                 e["mb_per_s"], "%.2f [%.2f–%.2f]" % (e["ratio_to_psql"], e["ratio_min"],
                                                     e["ratio_max"]), e["peak_rss_mib"]))
            w("%-40s %-25s %12s %8.1f  %-20s"
              % ("    created→completed", fmt_wall(e, "created_to_completed_s"),
                 fmt_int(e["rows"] / e["created_to_completed_s"]),
                 e["bytes"] / e["created_to_completed_s"] / 1e6,
                 "%.2f" % e["ratio_to_psql_created"]))
        for letter, comp in (("d", "gzip"), ("f", "zstd")):
            g = m.get("exportd_csv_" + comp, {"status": NOT_BUILT})
            if g.get("status") == "measured":
                w("%-40s %-25s %12s %8.1f  %-20s %.1f MiB (worker VmHWM, max)"
                  % ("(%s) exportd CSV + %s, started→compl." % (letter, comp), fmt_wall(g),
                     fmt_int(g["rows_per_s"]), g["mb_per_s"],
                     "%.2f [%.2f–%.2f]" % (g["ratio_to_psql"], g["ratio_min"], g["ratio_max"]),
                     g["peak_rss_mib"]))
                w("%-40s %s" % ("", "(MB/s of the %s file: %s bytes, %.1f%% of the CSV)"
                                % (comp, fmt_int(g["bytes"]),
                                   100.0 * g["bytes"] / m["exportd_csv"]["bytes"])))
            else:
                w("%-40s %s" % ("(%s) exportd CSV + %s" % (letter, comp), g["status"]))
            if comp == "gzip":  # the letters in order: (e) came before zstd
                report_s3(w, m)
        g = m.get("exportd_xlsx", {"status": NOT_BUILT})
        if g.get("status") == "measured":
            w("%-40s %-25s %12s %8.1f  %-20s %.1f MiB (worker VmHWM, max)"
              % ("(g) exportd XLSX, started→completed", fmt_wall(g), fmt_int(g["rows_per_s"]),
                 g["mb_per_s"], "%.2f [%.2f–%.2f]" % (g["ratio_to_psql"], g["ratio_min"],
                                                     g["ratio_max"]), g["peak_rss_mib"]))
            w("%-40s %s" % ("", "(MB/s of the XLSX file: %s bytes, %.1f%% of the CSV)"
                            % (fmt_int(g["bytes"]),
                               100.0 * g["bytes"] / m["exportd_csv"]["bytes"])))
        else:
            w("%-40s %s" % ("(g) exportd XLSX", g["status"]))
        report_node(w, m, meta["machine"].get("node", "?"))
        if res.get("csv_identical_to_psql") is not None:
            w("exportd's CSV is %s the output of (a) (round 1, sha256)"
              % ("byte-identical to" if res["csv_identical_to_psql"] else "NOT identical to"))
        w("")
    api = res.get("api")
    if api and not api.get("skipped"):
        s = api["settings"]
        w("API load: wrk -t%d -c%d -d%ds --latency, %d round(s), medians; export.fcgi x%d "
          "under spawn-fcgi behind lighttpd; %s"
          % (s["threads"], s["connections"], s["duration_s"], s["rounds"],
             s["fcgi_processes"], s["note"]))
        hdr = "%-48s %10s %9s %9s  %s" % ("route", "req/s", "p50 ms", "p99 ms", "ratio to ceiling")
        w(hdr)
        w("-" * len(hdr))
        for key, label in (("get_export", "GET /exports/{id}  export.fcgi"),
                           ("ceiling_get", "GET /exports/{id}  trivial FastCGI (ceiling)"),
                           ("post_exports", "POST /exports      export.fcgi"),
                           ("ceiling_post", "POST /exports      trivial FastCGI (ceiling)")):
            r = api[key]
            w("%-48s %10s %9.2f %9.2f  %s%s"
              % (label, fmt_int(r["req_per_s"]), r["p50_ms"], r["p99_ms"],
                 "%.2f" % r["ratio_to_ceiling"] if "ratio_to_ceiling" in r else "",
                 "  (%d errors)" % r["errors"] if r["errors"] else ""))
        w("")
    elif api:
        w("API load: skipped (--skip-api)")
        w("")
    idle = res.get("idle")
    if idle:
        w("idle exportd (1 worker, no job anywhere, %.0f s): %.1f%% of a core (worker %.1f%%, "
          "its PostgreSQL backend %.1f%%)%s"
          % (idle["seconds"], idle["total_core_pct"], idle["worker_core_pct"],
             idle["backend_core_pct"],
             "  WARNING: an idle worker should sleep" if idle["total_core_pct"] > 2 else ""))
        w("")
    pk = res.get("pickup")
    if pk and not pk.get("skipped"):
        L, P = pk["listen"], pk["polling"]
        C = pk["capacity"]
        w("pick-up latency created_at → started_at: %d jobs inserted by plain SQL, one every "
          "%g ms; 1 worker, poll_interval 1500ms (default)" % (L["jobs"], L["interval_ms"]))
        w("  (one worker runs %.0f tiny jobs/s = %.1f ms per job, measured with a burst of %d; "
          "the interval is ≥ 2× that, so a job finds the worker idle)"
          % (C["jobs_per_s"], C["ms_per_job"], C["burst_jobs"]))
        w("%-28s p50 %9.2f ms   p99 %9.2f ms   max %9.2f ms   (a job runs ~%.1f ms)"
          % ("LISTEN/NOTIFY (normal)", L["p50_ms"], L["p99_ms"], L["max_ms"], L["job_run_p50_ms"]))
        w("%-28s p50 %9.2f ms   p99 %9.2f ms   max %9.2f ms"
          % ("polling only", P["p50_ms"], P["p99_ms"], P["max_ms"]))
        w("  (polling only = ALTER TABLE export_jobs DISABLE TRIGGER export_jobs_notify during "
          "that run, ENABLE TRIGGER after)")
        if P.get("warning"):
            w("  WARNING: " + P["warning"])
        w("")
    elif pk:
        w("pick-up latency: skipped (--skip-pickup)")
        w("")
    t = res.get("targets") or {}
    if t:
        w("targets")
        for name, d in t.items():
            w("  %-44s %10s   target %-10s %s"
              % (d["what"], d["shown"], d["target_shown"],
                 "met" if d["met"] else "MISSED"))
    return "\n".join(lines)


def targets(res):
    out = {}

    def add(name, what, value, shown, target_shown, met):
        out[name] = {"what": what, "value": value, "shown": shown,
                     "target": TARGETS.get(name), "target_shown": target_shown, "met": met}

    m = res.get("methods")
    if m:
        for name, key, what in (
                ("csv_ratio_to_psql", "exportd_csv", "CSV vs plain psql \\copy"),
                ("jsonl_ratio_to_psql", "exportd_jsonl", "JSONL vs plain psql \\copy"),
                ("csv_gzip_ratio_to_psql", "exportd_csv_gzip", "CSV + gzip vs plain psql \\copy")):
            if m[key].get("status") != "measured":
                continue
            r, t = m[key]["ratio_to_psql"], TARGETS[name]
            add(name, what, r, "%.3f×" % r, "≥ %g×" % t, r >= t)
        # Every local export the worker ran: compressed ones hold
        # exportd.parts_in_flight parts at once, XLSX its workbook's row.
        rss = max(m[k]["peak_rss_mib"] for k in ("exportd_csv", "exportd_jsonl",
                                                 "exportd_csv_gzip", "exportd_csv_zstd",
                                                 "exportd_xlsx")
                  if m.get(k, {}).get("status") == "measured")
        add("worker_peak_rss_mib", "exportd worker peak RSS (VmHWM), every local export", rss,
            "%.1f MiB" % rss, "≤ 32 MiB", rss <= 32.0)
        targets_s3_node(m, add)
    api = res.get("api")
    if api and not api.get("skipped"):
        for name, key, what in (
                ("status_route_ratio_to_ceiling", "get_export", "GET /exports/{id} vs trivial FastCGI"),
                ("create_route_ratio_to_ceiling", "post_exports", "POST /exports vs trivial FastCGI")):
            r, t = api[key]["ratio_to_ceiling"], TARGETS[name]
            add(name, what, r, "%.0f%%" % (r * 100), "≥ %.0f%%" % (t * 100), r >= t)
    pk = res.get("pickup")
    if pk and not pk.get("skipped"):
        p = pk["listen"]["p50_ms"]
        add("pickup_listen_p50_ms", "pick-up p50 with LISTEN", p, "%.2f ms" % p, "< 10 ms",
            p < 10.0)
    return out


# -------------------------------------------------------------------- main

def parse_args(argv):
    ap = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1000000,
                    help="rows of the contacts type to export (default 1000000; e.g. 10000000)")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--skip-api", action="store_true", help="no wrk load test")
    ap.add_argument("--skip-pickup", action="store_true", help="no pick-up latency test")
    ap.add_argument("--skip-s3", action="store_true",
                    help="no CSV export to S3 (e): the S3 test server is not started")
    ap.add_argument("--skip-node", action="store_true",
                    help="no Node.js reference (n): bench/node-export is not installed")
    ap.add_argument("--quick", action="store_true",
                    help="short API and pick-up runs (2 s wrk, 1 API round, 100 pick-up jobs)")
    ap.add_argument("--api-duration", type=int, help="seconds per wrk run (default 10; quick 2)")
    ap.add_argument("--api-rounds", type=int, help="API rounds (default 3; quick 1)")
    ap.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    ap.add_argument("--pickup-jobs", type=int, help="jobs per pick-up run (default 1000; quick 100)")
    ap.add_argument("--pickup-interval-ms", type=float,
                    help="time between two inserted jobs (default: 5, or twice the time the "
                         "worker takes per tiny job when that is longer)")
    ap.add_argument("--wait-quiet", type=int, default=0, metavar="SECONDS",
                    help="before measuring, wait up to SECONDS for the machine to be idle "
                         "(other processes using < 10%% CPU for 5 s in a row)")
    ap.add_argument("--workdir", type=Path,
                    help="keep the PostgreSQL cluster (and generated rows) here and reuse them "
                         "on the next run with the same --workdir (default: a temp dir, removed)")
    ap.add_argument("--output", type=Path, default=B.SRCDIR / "bench/results/latest.json",
                    help="JSON results (default bench/results/latest.json)")
    a = ap.parse_args(argv)
    a.api_duration = a.api_duration or (2 if a.quick else 10)
    a.api_rounds = a.api_rounds or (1 if a.quick else 3)
    a.pickup_jobs = a.pickup_jobs or (100 if a.quick else 1000)
    if a.rows < 1 or a.rounds < 1:
        ap.error("--rows and --rounds must be positive")
    return a


def _sigterm(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def main(argv):
    a = parse_args(argv)
    signal.signal(signal.SIGTERM, _sigterm)
    S.become_subreaper()
    started = datetime.now(timezone.utc)
    if a.workdir:
        root = a.workdir.resolve()
        root.mkdir(parents=True, exist_ok=True)
        root.chmod(0o755)
        temp = False
    else:
        root = S.make_tmp_root(prefix="exportd-bench-")
        temp = True
    log("work dir %s%s" % (root, " (removed at the end)" if temp else " (kept)"))
    pg = B.BenchPostgres(root)
    binaries = B.snapshot_binaries(root / "bin")
    st = B.BenchStack(pg, root / "stack", bindir=root / "bin")
    ceiling = None
    s3 = None
    res = {"meta": {"rows": a.rows, "rounds": a.rounds, "started_at": started.isoformat(),
                    "command": "scripts/bench " + " ".join(argv),
                    "machine": B.machine_notes(), "binaries": binaries,
                    "git": B.git_info(), "loadavg_1min": {"start": B.loadavg()},
                    "exportd_config": {"workers": 1, "poll_interval": "1500ms",
                                       "chunk_rows": 10000, "part_size": "8M",
                                       "write_buffer": "256k", "csv_line_ending": "lf",
                                       "storage": "local"}}}
    try:
        pg.start()
        # A run killed during the polling-only measurement may have left it off.
        pg.query("SELECT 1")
        st.start(a.rows)
        pg.query("ALTER TABLE export_jobs ENABLE TRIGGER export_jobs_notify")
        res["meta"]["generate_s"] = st.timings.get("generate")
        res["meta"]["contacts_table_bytes"] = pg.query(
            "SELECT pg_total_relation_size('contacts')")[0][0]

        if a.wait_quiet:
            res["meta"]["waited_for_quiet_s"] = B.wait_quiet(a.wait_quiet)
            res["meta"]["loadavg_1min"]["start"] = B.loadavg()
        features = probe_features(st)
        res["meta"]["features"] = features
        st.stop_exportd()  # each export starts its own; none idles beside psql
        ex = Exports(st, root, a.rows, features)
        s3, s3_status = setup_s3(st, root, features, a.skip_s3)
        if s3 is not None:
            ex.extra.append(("csv_s3", lambda i, got: export_s3(ex, s3, i, got)))
        node_status = setup_node(a.skip_node)
        if node_status is None:
            ex.extra.append(("node", lambda i, got: export_node(ex, i, got)))
        runs, identical = ex.run(a.rounds)
        ex.conn.close()
        if s3 is not None:
            s3.stop()
            s3 = None
        plain = runs["plain"]
        res["methods"] = {
            "psql_plain_csv": dict(summarize_method(plain, ex.plain_rows), select=ex.plain),
            "psql_copy_csv": summarize_method(runs["psql"], a.rows, plain),
            "exportd_csv": summarize_method(runs["csv"], a.rows, plain),
            "exportd_jsonl": summarize_method(runs["jsonl"], a.rows, plain),
            "exportd_csv_gzip": (summarize_method(runs["csv_gzip"], a.rows, plain)
                                 if runs["csv_gzip"] else {"status": NOT_BUILT}),
            "exportd_csv_zstd": (summarize_method(runs["csv_zstd"], a.rows, plain)
                                 if runs["csv_zstd"] else {"status": NOT_BUILT}),
            "exportd_csv_s3": summarize_s3(runs.get("csv_s3"), runs["csv"], plain, a.rows,
                                           s3_status),
            "node_csv": summarize_node(runs.get("node"), runs["csv"], plain, ex.plain_rows,
                                       node_status),
            "exportd_xlsx": (summarize_method(runs["xlsx"], a.rows, plain)
                             if runs["xlsx"] else {"status": NOT_BUILT}),
        }
        res["csv_identical_to_psql"] = identical
        res["meta"]["loadavg_1min"]["rounds"] = ex.loads

        if a.skip_api:
            res["api"] = {"skipped": True}
        else:
            trivial = B.build_trivial(root / "fcgi_trivial")
            ceiling = B.Ceiling(pg, root / "trivial", trivial).start()
            res["api"] = api_load(st, ceiling, root, a.api_duration, a.api_rounds,
                                  a.connections)
            ceiling.stop()
            ceiling = None

        res["idle"] = idle_cost(st, 2.0 if a.quick else 5.0)

        if a.skip_pickup:
            res["pickup"] = {"skipped": True}
        else:
            res["pickup"] = pickup(st, a.pickup_jobs, a.pickup_interval_ms)
            P = res["pickup"]["polling"]
            if P["p50_ms"] < 100:
                P["warning"] = ("polling-only p50 is far below poll_interval (1500ms): the "
                                "worker does not wait for its poll interval (see the idle "
                                "CPU figure)")
                log("WARNING: " + P["warning"])

        res["targets"] = targets(res)
        res["meta"]["loadavg_1min"]["end"] = B.loadavg()
        res["meta"]["finished_at"] = datetime.now(timezone.utc).isoformat()
        a.output.parent.mkdir(parents=True, exist_ok=True)
        a.output.write_text(json.dumps(res, indent=2, sort_keys=False) + "\n")
        print(report(res))
        print("\nJSON: %s" % a.output)
        return 0
    except S.StackError as e:
        print("bench: %s" % e, file=sys.stderr)
        return 1
    finally:
        if ceiling is not None:
            ceiling.stop()
        if s3 is not None:
            s3.stop()
        try:
            pg.query("ALTER TABLE export_jobs ENABLE TRIGGER export_jobs_notify")
        except Exception:  # noqa: BLE001 - best effort on the way out
            pass
        st.stop()
        pg.stop()
        if temp:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
