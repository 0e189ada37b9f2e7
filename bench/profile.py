"""Profiles behind BENCHMARKS.md's findings (not part of scripts/bench's run).

  /usr/bin/python3 bench/profile.py --workdir DIR --out OUTDIR [STEP...]

DIR is a work dir kept by `scripts/bench --workdir DIR` (its PostgreSQL and
its generated rows are reused: pass the same --rows). Steps (default: all):

  perf-export      perf record -a -g (cpu-clock: this VM has no hardware
                   counters) while psql \\copy, an exportd CSV and an exportd
                   JSONL export run one after the other; reports per process
                   and the top symbols of the busiest processes
  callgrind-export exportd under valgrind --tool=callgrind, one CSV and one
                   JSONL export of --profile-rows rows (workspace benchprof)
  perf-api         perf record -a -g during wrk on GET /exports/{id} and on
                   POST /exports (export.fcgi x4 behind lighttpd)
  callgrind-api    one export.fcgi under callgrind answering --requests GETs
                   and as many POSTs

Everything lands in OUTDIR as text (perf report / callgrind_annotate output)
next to the raw data files.
"""

import argparse
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as B  # noqa: E402
from benchlib import H, S, log  # noqa: E402

PROF_WS = "benchprof"


def sh(argv, out=None, timeout=600):
    argv = [str(a) for a in argv]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    if out is not None:
        Path(out).write_text(p.stdout + ("\n# stderr:\n" + p.stderr if p.stderr.strip() else ""))
    return p


class Perf:
    """perf record -a -g in the background, stopped with SIGINT."""

    def __init__(self, data):
        self.data = Path(data)
        self.proc = None
        self.t0 = None

    def __enter__(self):
        self.proc = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "999", "-a",
                                      "-g", "-o", str(self.data)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL)
        time.sleep(1.0)
        self.t0 = time.monotonic()
        return self

    def __exit__(self, *exc):
        self.wall = time.monotonic() - self.t0
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(60)
        return False


def perf_reports(data, outdir, name, pids, wall):
    """Per-process CPU (seconds and % of one core over the wall time) and the
    top symbols of the given pids."""
    p = sh(["perf", "report", "-i", data, "--no-children", "--sort", "pid", "--stdio", "-n",
            "-g", "none"], timeout=600)
    lines = []
    total = 0
    rows = []
    for line in p.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].endswith("%") and parts[1].isdigit():
            n = int(parts[1])
            total += n
            rows.append((n, " ".join(parts[2:])))
    lines.append("# %s: %.2f s wall, samples at 999 Hz on every CPU (cpu-clock)" % (name, wall))
    lines.append("# CPU seconds = samples / 999; %% of one core = CPU s / wall")
    for n, who in sorted(rows, reverse=True)[:15]:
        lines.append("%8.2f CPU s  %6.1f%% of a core  %s" % (n / 999.0, 100.0 * n / 999.0 / wall,
                                                             who))
    (outdir / ("%s.by-process.txt" % name)).write_text("\n".join(lines) + "\n")
    for label, pid in pids.items():
        if pid is None:
            continue
        sh(["perf", "report", "-i", data, "--no-children", "--pid", str(pid), "--sort",
            "dso,sym", "--stdio", "-g", "none", "--percent-limit", "0.7"],
           out=outdir / ("%s.%s.symbols.txt" % (name, label)))
        sh(["perf", "report", "-i", data, "--children", "--pid", str(pid), "--sort", "sym",
            "--stdio", "-g", "none", "--percent-limit", "3"],
           out=outdir / ("%s.%s.inclusive.txt" % (name, label)))
    return "\n".join(lines)


def backend_pid(pg, app_name):
    rows = pg.query("SELECT pid FROM pg_stat_activity WHERE application_name = %s"
                    " AND datname = %s", (app_name, pg.dbname))
    return [r[0] for r in rows]


# ---------------------------------------------------------------- steps

def perf_export(st, outdir, rows):
    from bench import Exports, probe_features  # noqa: E402  (bench/bench.py)
    ex = Exports(st, st.root, rows, probe_features(st))
    st.stop_exportd()
    ex.psql("/dev/null")  # warm
    # (a) psql
    with Perf(outdir / "perf-psql.data") as pf:
        errlog = open(outdir / "psql.stderr", "wb")
        p = subprocess.Popen(ex.psql_argv(st.root / "prof.csv"), stdout=errlog, stderr=errlog,
                             env=H.psql_env())
        # the backend serving psql: the newest client backend
        time.sleep(0.3)
        be = st.pg.query("SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend'"
                         " AND query LIKE 'COPY%%' ORDER BY backend_start DESC LIMIT 1")
        p.wait()
    (st.root / "prof.csv").unlink()
    print(perf_reports(pf.data, outdir, "perf-psql", {"psql": p.pid,
                                                       "backend": be[0][0] if be else None},
                       pf.wall))
    for fmt in ("csv", "jsonl"):
        wpid = st.restart_exportd()
        with Perf(outdir / ("perf-exportd-%s.data" % fmt)) as pf:
            r = ex.exportd(fmt)
        # the data connection is gone by now: find its backend pid in the perf data
        rep = sh(["perf", "report", "-i", pf.data, "--no-children", "--sort", "pid", "--stdio",
                  "-n", "-g", "none"]).stdout
        be = None
        best = 0
        for line in rep.splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[1].isdigit() and "postgres" in parts[2]:
                pid = int(parts[2].split(":")[0])
                if int(parts[1]) > best:
                    best, be = int(parts[1]), pid
        print(perf_reports(pf.data, outdir, "perf-exportd-%s" % fmt,
                           {"worker": wpid, "backend": be}, pf.wall))
        print("exportd %s: %.3f s (job row)" % (fmt, r["wall_s"]))


def callgrind_export(st, outdir, prof_rows):
    from bench import probe_features  # noqa: E402
    features = probe_features(st)
    st.fill(PROF_WS, prof_rows)
    key = st.exportctl("apikey", "create", "--workspace", PROF_WS, "--email",
                       "p@example.com").stdout.strip()
    for fmt in ("csv", "jsonl"):
        st.stop_exportd()
        out = outdir / ("callgrind.exportd-%s.%%p" % fmt)
        st.exportd = S.Service("exportd", ["valgrind", "--tool=callgrind",
                                           "--callgrind-out-file=%s" % out,
                                           st.exportd_bin, "-c", st.conf_path],
                               st.exportd_log, env=S.clean_env())
        st.exportd.start()
        S.wait_until(lambda: len(backend_pid(st.pg, "exportd-worker")) == 1, 120,
                     "exportd under valgrind to connect", check=st.exportd.check_alive)
        wpid = B.worker_children(st.exportd.pid)[0]
        from bench import Exports  # noqa: E402
        body = Exports.body(SimpleNamespace(features=features), fmt)
        r = st.api("POST", "/exports", key=key, json=body)
        job = st.wait_for_job(r.json()["id"], timeout=1800, key=key, interval=1)
        log("callgrind %s export: %s, %s rows" % (fmt, job["status"], job["row_count"]))
        st.stop_exportd()
        f = outdir / ("callgrind.exportd-%s.%d" % (fmt, wpid))
        sh(["callgrind_annotate", "--inclusive=no", f], out=str(f) + ".self.txt")
        sh(["callgrind_annotate", "--inclusive=yes", f], out=str(f) + ".inclusive.txt")
        for path in Path(st.storage_dir).glob("*"):
            path.unlink()
    st.start_exportd()


def tiny_job(st):
    key = st.keys[B.TINY_WS]
    r = st.api("POST", "/exports", key=key, json={"type": "contacts", "format": "csv"})
    return st.wait_for_job(r.json()["id"], timeout=60, key=key)["id"], key


def perf_api(st, outdir, duration):
    job_id, key = tiny_job(st)
    st.stop_exportd()
    get_lua = B.write_wrk_script(outdir / "get.lua", "GET", key=key)
    post_lua = B.write_wrk_script(outdir / "post.lua", "POST", key=key,
                                  body=json.dumps({"type": "contacts", "format": "csv"}),
                                  content_type="application/json")
    for name, url, script in (("get", st.base_url + "/exports/" + job_id, get_lua),
                              ("post", st.base_url + "/exports", post_lua)):
        with Perf(outdir / ("perf-api-%s.data" % name)) as pf:
            res = B.wrk(url, script, duration)
        st.pg.query("DELETE FROM export_jobs WHERE workspace = %s AND status = 'pending'",
                    (B.TINY_WS,))
        pids = {"fcgi%d" % i: p for i, p in enumerate(S.read_pids(st.fcgi_pidfile))}
        for i, p in enumerate(backend_pid(st.pg, "export.fcgi")):
            pids["backend%d" % i] = p
        pids["lighttpd"] = st.lighttpd.pid
        print(perf_reports(pf.data, outdir, "perf-api-%s" % name, pids, pf.wall))
        print("%s: %.0f req/s p50 %.2f ms p99 %.2f ms" % (name, res["req_per_s"], res["p50_ms"],
                                                           res["p99_ms"]))
    st.start_exportd()


def callgrind_api(st, outdir, n):
    job_id, key = tiny_job(st)
    st.stop_exportd()
    st.stop_fcgi()
    wrapper = outdir / "fcgi-callgrind.sh"
    wrapper.write_text("#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file=%s/"
                       "callgrind.export.fcgi.%%p %s\n" % (outdir, st.export_fcgi))
    wrapper.chmod(0o755)
    real = st.export_fcgi
    st.export_fcgi, st.fcgi_children = wrapper, 1
    try:
        st.start_fcgi()
        pid = S.read_pids(st.fcgi_pidfile)[0]
        S.wait_http_ok(st.base_url + "/healthz", 120)
        h = {"Authorization": "Bearer " + key}
        s = requests.Session()
        t0 = time.monotonic()
        for _ in range(n):
            assert s.get(st.base_url + "/exports/" + job_id, headers=h).status_code == 200
        for _ in range(n):
            assert s.post(st.base_url + "/exports", headers=h,
                          json={"type": "contacts", "format": "csv"}).status_code == 202
        log("callgrind export.fcgi: %d GET + %d POST in %.1f s" % (n, n, time.monotonic() - t0))
        st.stop_fcgi(grace=30)
    finally:
        st.export_fcgi, st.fcgi_children = real, 4
    st.pg.query("DELETE FROM export_jobs WHERE workspace = %s AND status = 'pending'",
                (B.TINY_WS,))
    f = outdir / ("callgrind.export.fcgi.%d" % pid)
    sh(["callgrind_annotate", "--inclusive=no", f], out=str(f) + ".self.txt")
    sh(["callgrind_annotate", "--inclusive=yes", f], out=str(f) + ".inclusive.txt")
    st.start_fcgi()
    st.start_exportd()


def main(argv):
    ap = argparse.ArgumentParser(prog="bench/profile.py")
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--profile-rows", type=int, default=100000)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("steps", nargs="*",
                    default=["perf-export", "callgrind-export", "perf-api", "callgrind-api"])
    a = ap.parse_args(argv)
    S.become_subreaper()
    a.out.mkdir(parents=True, exist_ok=True)
    root = a.workdir.resolve()
    pg = B.BenchPostgres(root)
    B.snapshot_binaries(root / "bin")
    st = B.BenchStack(pg, root / "stack", bindir=root / "bin")
    try:
        pg.start()
        st.start(a.rows)
        for step in a.steps:
            log("profile step %s" % step)
            if step == "perf-export":
                perf_export(st, a.out, a.rows)
            elif step == "callgrind-export":
                callgrind_export(st, a.out, a.profile_rows)
            elif step == "perf-api":
                perf_api(st, a.out, a.duration)
            elif step == "callgrind-api":
                callgrind_api(st, a.out, a.requests)
            else:
                raise SystemExit("unknown step %s" % step)
    finally:
        st.stop()
        pg.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
