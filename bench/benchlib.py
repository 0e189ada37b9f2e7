"""Helpers for scripts/bench (bench/bench.py): the servers, wrk, statistics.

Builds on tests/integration/stack.py and helpers.py (imported, never
modified): stack's Postgres, Stack, Service start the real programs on
loopback; helpers has the psql reference, /proc readers, API keys.
What the benchmark needs on top of that lives here:

  * BenchPostgres  a throwaway cluster that can be kept in a work dir and
                   started again by a later run (10M rows take minutes to
                   generate), with a larger max_wal_size for the generator;
  * BenchStack     export.fcgi x4 + lighttpd + exportd with ONE worker (so
                   the worker pid whose VmHWM we read is unambiguous),
                   default exportd settings otherwise, LF line endings (the
                   psql reference writes LF), workspaces `bench` (N rows) and
                   `benchtiny` (10 rows);
  * Ceiling        the trivial FastCGI responder (bench/fcgi_trivial.c)
                   under spawn-fcgi x4 behind a second lighttpd started from
                   the same fcgi-conf/lighttpd.conf;
  * wrk()          one wrk run with a Lua script, figures read from the
                   script's done() callback (exact microseconds, no parsing
                   of wrk's human-readable units);
  * stats helpers, /proc readers, machine notes.
"""

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRCDIR = HERE.parent
sys.path.insert(0, str(SRCDIR / "tests" / "integration"))
import helpers as H  # noqa: E402
import stack as S  # noqa: E402

BENCH_WS = "bench"
TINY_WS = "benchtiny"
TINY_ROWS = 10


# ------------------------------------------------------------- statistics

def median(xs):
    return statistics.median(xs)


def percentile(xs, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    s = sorted(xs)
    k = max(1, int(-(-p * len(s) // 100)))  # ceil(p/100 * n), at least 1
    return s[min(k, len(s)) - 1]


# ------------------------------------------------------------------ /proc

def worker_children(pid):
    """exportd's worker processes. Builds that also fork other children (a
    mailer, a janitor) name each child with prctl(PR_SET_NAME): the workers
    are "exportd-worker". In older builds every child is a worker."""
    kids = S.children_of(pid)
    named = {k: S.comm_of(k) for k in kids}
    if any(n.startswith("exportd-") for n in named.values()):
        return [k for k, n in named.items() if n == "exportd-worker"]
    return kids


def machine_notes():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kib = 0
    try:
        mem_kib = proc_status_kib_meminfo()
    except OSError:
        pass

    def version(argv, pattern=None):
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return "?"
        text = (p.stdout + p.stderr).strip().splitlines()
        line = text[0] if text else "?"
        if pattern:
            m = re.search(pattern, p.stdout + p.stderr)
            line = m.group(0) if m else line
        return line

    try:
        with open("/etc/debian_version") as f:
            debian = f.read().strip()
    except OSError:
        debian = "?"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1048576, 1),
        "kernel": os.uname().release,
        "debian": debian,
        "postgresql": version([str(S.pg_bindir() / "postgres"), "--version"]),
        "lighttpd": version(["lighttpd", "-v"]),
        "wrk": version(["wrk", "--version"], r"wrk \S+"),
        "node": version(["/usr/bin/node", "--version"]),
    }


def proc_status_kib_meminfo():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    return 0


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def cpu_busy(seconds=1.0):
    """Fraction of all CPUs busy over `seconds` (from /proc/stat)."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        return sum(v), idle
    t1, i1 = sample()
    time.sleep(seconds)
    t2, i2 = sample()
    return 1.0 - (i2 - i1) / max(1, t2 - t1)


def wait_quiet(limit_s, busy_max=0.10, quiet_s=5):
    """Wait until the machine is idle for quiet_s seconds in a row (our own
    servers are idle at this point), at most limit_s; the seconds waited."""
    t0 = time.monotonic()
    quiet = 0
    log("waiting up to %d s for the machine to be quiet (< %.0f%% CPU for %d s)"
        % (limit_s, busy_max * 100, quiet_s))
    while time.monotonic() - t0 < limit_s:
        busy = cpu_busy(1.0)
        quiet = quiet + 1 if busy < busy_max else 0
        if quiet >= quiet_s:
            log("quiet after %.0f s" % (time.monotonic() - t0))
            return time.monotonic() - t0
    log("WARNING: the machine did not get quiet within %d s; measuring anyway" % limit_s)
    return time.monotonic() - t0


def snapshot_binaries(dest):
    """Copy export.fcgi, exportd, exportctl out of the build dir, so that a
    rebuild while the bench runs cannot change what is measured; a dict
    describing them (build dir, mtime, sha256 prefix)."""
    import hashlib
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    info = {"builddir": str(S.BUILDDIR)}
    for name in ("export.fcgi", "exportd", "exportctl"):
        src = S.require_program(S.BUILDDIR / name, "build it: scripts/build, or set "
                                "EXPORTD_BUILDDIR")
        shutil.copy2(src, dest / name)
        data = (dest / name).read_bytes()
        info[name] = {"mtime": time.strftime("%Y-%m-%dT%H:%M:%S",
                                             time.localtime(src.stat().st_mtime)),
                      "sha256": hashlib.sha256(data).hexdigest()[:16]}
    return info


def git_info():
    """Where the measured binaries were built from: the build dir's
    abs_top_srcdir, and its commit when that is a git checkout."""
    src = None
    try:
        with open(S.BUILDDIR / "Makefile") as f:
            for line in f:
                if line.startswith("abs_top_srcdir = "):
                    src = line.split("=", 1)[1].strip()
                    break
    except OSError:
        pass
    src = src or str(SRCDIR)

    def git(*args):
        try:
            p = subprocess.run(["git", "-C", src] + list(args), capture_output=True,
                               text=True, timeout=20)
            return p.stdout.strip() if p.returncode == 0 else None
        except (OSError, subprocess.TimeoutExpired):
            return None
    # Read-only commands only (no index refresh).
    commit = git("rev-parse", "HEAD") if os.path.exists(os.path.join(src, ".git")) else None
    changed = git("diff", "--name-only", "HEAD", "--", "src", "configure.ac",
                  "Makefile.am") if commit else None
    return {"build_srcdir": src, "commit": commit,
            "src_differs_from_commit": bool(changed) if commit else None}


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


# ------------------------------------------------------------- PostgreSQL

class BenchPostgres(S.Postgres):
    """stack.Postgres that can start an existing data dir again (--keep)."""

    def start(self):
        if not (self.data / "PG_VERSION").exists():
            super().start()
        else:
            self._restart_existing()
        # The generator appends millions of rows: fewer forced checkpoints.
        self.query("ALTER SYSTEM SET max_wal_size = '4GB'", dbname="postgres")
        self.query("SELECT pg_reload_conf()", dbname="postgres")
        return self

    def _restart_existing(self):
        pidfile = self.data / "postmaster.pid"
        old = S.read_pids(pidfile)[:1]
        if old and S.pid_alive(old[0]):
            # A run that died left it running: stop it, start it cleanly.
            S.run(self._as_postgres([self.bindir / "pg_ctl", "-D", self.data, "-m", "fast",
                                     "-w", "-t", "60", "stop"]), "pg_ctl stop (stale)",
                  env=S.clean_env(), timeout=90)
        for attempt in range(5):
            self.port = S.free_port()
            opts = ("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off "
                    "-c full_page_writes=off -c synchronous_commit=off "
                    "-c max_connections=200" % (self.port, self.sockdir))
            try:
                S.run(self._as_postgres([self.bindir / "pg_ctl", "-D", self.data, "-l",
                                         self.log, "-w", "-t", "60", "-o", opts, "start"]),
                      "pg_ctl start", env=S.clean_env(), timeout=90)
                break
            except S.StackError:
                if attempt == 4 or "already in use" not in S.tail(self.log, 20):
                    raise S.StackError("PostgreSQL did not start:\n%s"
                                       % S.logs_excerpt(["postgres"])) from None
        self.started = True
        if not self.query("SELECT 1 FROM pg_database WHERE datname = %s", (self.dbname,),
                          dbname="postgres"):
            self.query("CREATE DATABASE %s" % self.dbname, dbname="postgres")


# ------------------------------------------------------------- the stack

class BenchStack(S.Stack):
    """export.fcgi x4 + lighttpd + exportd (workers = 1) for the benchmark.

    Unlike stack.Stack.start() it loads no acme/globex rows: it fills the
    workspaces `bench` and `benchtiny` (and keeps them when the cluster is
    reused), and it can restart exportd on its own."""

    workers = 1
    fcgi_children = 4

    def __init__(self, pg, root, bindir=None, conf_extra=None):
        super().__init__(pg, root)
        self.conf_extra = dict(conf_extra or {})
        # [export] keys the build may not know (unknown keys are errors):
        # written only when `exportctl config check` accepts them.
        self.export_extra = {}
        self.keys = {}
        if bindir is not None:
            self.export_fcgi = Path(bindir) / "export.fcgi"
            self.exportd_bin = Path(bindir) / "exportd"
            self.exportctl_bin = Path(bindir) / "exportctl"

    def write_conf(self, path=None, s3=None):
        # Defaults everywhere (poll_interval 1500ms, chunk_rows 10000,
        # part_size 8M, write_buffer 256k) but one worker and LF, the line
        # ending of the psql reference. With s3 ({key: value} of [s3]):
        # storage.backend = s3, everything else the same.
        extra = "".join("%s = %s\n" % kv for kv in self.conf_extra.items())
        storage = "backend = local\ndir = %s\n" % self.storage_dir
        if s3:
            storage = "backend = s3\n\n[s3]\n" + "".join("%s = %s\n" % kv for kv in s3.items())
        S.write_private(
            path or self.conf_path,
            "# written by bench/benchlib.py\n"
            "[database]\nurl = %s\n\n"
            "[http]\nbase_path =\ndownload = x-sendfile\n\n"
            "[exportd]\nworkers = %d\n%s\n"
            "[storage]\n%s\n"
            "[export]\ncsv_line_ending = lf\n%s\n"
            "[log]\nlevel = info\n"
            % (self.pg.conninfo, self.workers, extra, storage,
               "".join("%s = %s\n" % kv for kv in self.export_extra.items())))

    def write_conf_optional(self, optional):
        """write_conf() with each of `optional` ([export] key -> value) that
        this build's `exportctl config check` accepts; the accepted ones."""
        for k, v in optional.items():
            self.export_extra[k] = v
            self.write_conf()
            if self.exportctl("config", "check", check=False).returncode != 0:
                del self.export_extra[k]
        self.write_conf()
        return dict(self.export_extra)

    def prepare_dirs(self):
        for d in (self.run_dir, self.storage_dir):
            if d.exists():
                shutil.rmtree(d)
        self.root.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(mode=0o755)
        self.storage_dir.mkdir(mode=0o755)

    def rows_in(self, workspace):
        return self.pg.query("SELECT count(*) FROM contacts WHERE workspace = %s",
                             (workspace,))[0][0]

    def fill(self, workspace, rows):
        """Make `workspace` hold exactly `rows` rows per demo table."""
        have = self.rows_in(workspace)
        if have == rows:
            log("workspace %s already holds %d rows: reused" % (workspace, rows))
            return 0.0
        t0 = time.monotonic()
        if have:
            log("workspace %s holds %d rows, want %d: deleting them" % (workspace, have, rows))
            for t in ("events", "invoices", "contacts"):
                self.pg.query("DELETE FROM %s WHERE workspace = %%s" % t, (workspace,))
            self.pg.query("VACUUM contacts, invoices, events")
        log("generating %d rows per table into workspace %s (sql/demo/generate.sql)"
            % (rows, workspace))
        self.psql("-v", "rows=%d" % rows, "-v", "workspace=%s" % workspace,
                  "-f", S.SRCDIR / "sql/demo/generate.sql", timeout=4 * 3600)
        # Set hint bits and the visibility map now, so that neither the first
        # timed reader pays for them.
        self.pg.query("VACUUM (ANALYZE) contacts")
        took = time.monotonic() - t0
        log("generated in %.1f s" % took)
        return took

    def start(self, rows):
        S.require_program(self.export_fcgi, "build it: scripts/build, or set EXPORTD_BUILDDIR")
        S.require_program(self.exportd_bin, "build it: scripts/build, or set EXPORTD_BUILDDIR")
        S.require_program(self.exportctl_bin, "build it: scripts/build, or set EXPORTD_BUILDDIR")
        self.spawn_fcgi_bin = S.which("spawn-fcgi", "apt-get install spawn-fcgi")
        self.lighttpd_bin = S.which("lighttpd", "apt-get install lighttpd")
        self.prepare_dirs()
        self.start_lighttpd()
        self.base_url = "http://127.0.0.1:%d" % self.port
        self.api = S.Api(self.base_url)
        # The POST load test creates thousands of pending jobs in benchtiny;
        # builds with a per-workspace limit of active jobs (default 10) or
        # of creates per hour (default 100) would answer 429 instead of
        # creating them.
        self.accepted_conf = self.write_conf_optional({"max_active_per_workspace": 100000,
                                                       "max_creates_per_hour_per_workspace": 0})
        self.exportctl("migrate")
        self.psql("-f", S.SRCDIR / "sql/demo/schema.sql")
        self.pg.query("DELETE FROM export_jobs WHERE workspace IN (%s, %s)", (BENCH_WS, TINY_WS))
        self.timings["generate"] = self.fill(BENCH_WS, rows)
        self.fill(TINY_WS, TINY_ROWS)
        for ws in (BENCH_WS, TINY_WS):
            self.keys[ws] = H.new_key(self, ws, email="%s@example.com" % ws)
        self.api.default_key = self.keys[BENCH_WS]
        self.start_fcgi()
        self.wait_healthz()
        self.start_exportd()
        return self

    # -- exportd

    def worker_pid(self):
        """The pid of exportd's only worker (a child of the supervisor)."""
        found = {}

        def one():
            found["kids"] = worker_children(self.exportd.pid)
            return len(found["kids"]) == 1

        S.wait_until(one, 10, "exactly one exportd worker process",
                     check=self.exportd.check_alive)
        return found["kids"][0]

    def stop_exportd(self):
        if self.exportd is not None and self.exportd.alive():
            self.exportd.stop(grace=20)
        self.exportd = None
        S.wait_until(lambda: self.pg.query(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name"
            " IN ('exportd-worker', 'exportd-data')", (self.pg.dbname,))[0][0] == 0,
            15, "the exportd connections to close")

    def start_exportd(self, conf=None):
        """stack.Stack.start_exportd(), reading `conf` instead of
        conf_path when given (the S3 config of BenchS3)."""
        saved = self.conf_path
        self.conf_path = conf or saved
        try:
            super().start_exportd()
        finally:
            self.conf_path = saved

    def restart_exportd(self, conf=None):
        """A fresh supervisor and worker (a fresh VmHWM); the worker's pid."""
        self.stop_exportd()
        self.start_exportd(conf)
        return self.worker_pid()


class BenchS3:
    """The S3 test server of the integration tests (tests/integration/
    s3stack.py: s3rver behind the SigV4-verifying proxy, s3rver installed by
    tests/s3/install.sh) and an exportd config that is the bench's own with
    storage.backend = s3 on it (path-style, [s3] defaults otherwise)."""

    def __init__(self, st, root):
        import s3stack
        self.st = st
        self.srv = s3stack.S3Server(Path(root), name="s3")
        self.conf_path = st.root / "exportd-s3.conf"

    def start(self):
        self.srv.start()
        srv = self.srv
        self.s3_conf = {"bucket": srv.bucket, "prefix": "exports/", "region": srv.region,
                        "endpoint": srv.endpoint, "addressing": "path",
                        "access_key_id": srv.access_key, "secret_access_key": srv.secret_key}
        self.st.write_conf(self.conf_path, s3=self.s3_conf)
        return self

    def object_key(self, file_key):
        return self.s3_conf["prefix"] + file_key

    def sha256(self, key):
        """sha256 hex of an object, streamed from s3rver directly; its size."""
        import hashlib
        h, size = hashlib.sha256(), 0
        body = self.srv.direct_client().get_object(Bucket=self.srv.bucket, Key=key)["Body"]
        for chunk in iter(lambda: body.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
        return h.hexdigest(), size

    def remove(self, key):
        self.srv.direct_client().delete_object(Bucket=self.srv.bucket, Key=key)

    def unverified(self):
        """Requests of the proxy's log whose signature did not verify; the
        log is emptied (it grows by one line per request)."""
        bad = self.srv.unverified()
        self.srv.reset()
        return bad

    def stop(self):
        self.srv.stop()
        self.srv.cleanup()


NODE_DIR = HERE / "node-export"
NODE = "/usr/bin/node"


def install_node_export():
    """bench/node-export/install.sh (npm ci from the lockfile, a no-op when
    done); None, or why the Node.js reference cannot run."""
    if not os.access(NODE, os.X_OK):
        return "%s not found: apt-get install nodejs npm" % NODE
    p = subprocess.run(["sh", str(NODE_DIR / "install.sh")], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=600)
    if p.returncode != 0:
        return "npm ci failed: %s" % npm_error(p.stderr + p.stdout, p.returncode)
    return None


def npm_error(text, returncode):
    """The gist of npm's error output: its code and first message line
    (e.g. "ECONNREFUSED: FetchError: request to ... failed, ..."); else the
    last line of the output."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    code = next((ln.split()[3] for ln in lines
                 if re.match(r"npm (error|ERR!) code \S+$", ln)), None)
    msg = next((re.sub(r"^npm (error|ERR!) ", "", ln) for ln in lines
                if re.match(r"npm (error|ERR!) (?!code |syscall |errno |at |\{|\})\S", ln)
                and "complete log of this run" not in ln), None)
    if code or msg:
        return ": ".join(x for x in (code, msg) if x)
    return lines[-1] if lines else "exit %d" % returncode


def node_export_argv(pg, type_, workspace, out):
    """The Node.js reference for the live rows of `workspace` (the rows of
    the plain psql reference) into out; and its environment (PG* variables,
    Unix socket, like psql)."""
    reg = H.registry(pg, type_)
    argv = [NODE, str(NODE_DIR / "export.js"), "--schema", reg["schema"],
            "--table", reg["relation"], "--key", reg["key"],
            "--workspace-column", reg["ws"], "--workspace", workspace,
            "--columns", ",".join(reg["columns"]), "--out", str(out)]
    if reg["deleted"]:
        argv += ["--deleted-column", reg["deleted"]]
    env = S.clean_env(PGHOST=str(pg.sockdir), PGPORT=str(pg.port), PGDATABASE=pg.dbname,
                      PGUSER="postgres", PGTZ="UTC")
    return argv, env


class Ceiling:
    """bench/fcgi_trivial under spawn-fcgi x4 behind a second lighttpd that
    runs the same fcgi-conf/lighttpd.conf, pointed at the trivial socket."""

    def __init__(self, pg, root, binary):
        self.st = S.Stack(pg, root)
        self.st.export_fcgi = Path(binary)
        self.url = None

    def start(self):
        st = self.st
        st.spawn_fcgi_bin = S.which("spawn-fcgi", "apt-get install spawn-fcgi")
        st.lighttpd_bin = S.which("lighttpd", "apt-get install lighttpd")
        if st.root.exists():
            shutil.rmtree(st.root)
        st.root.mkdir(parents=True)
        st.run_dir.mkdir(mode=0o755)
        st.storage_dir.mkdir(mode=0o755)
        # stack.py names its logs globally; keep the main stack's names.
        saved = dict(S.LOGS)
        st.start_lighttpd()
        st.start_fcgi()
        S.LOGS.clear()
        S.LOGS.update(saved)
        self.url = "http://127.0.0.1:%d" % st.port
        S.wait_http_ok(self.url + "/", 20, check=lambda: st.lighttpd.check_alive(),
                       what="GET / from the trivial FastCGI responder")
        return self

    def stop(self):
        return self.st.stop()


def build_trivial(out_path):
    """gcc bench/fcgi_trivial.c against libfcgi; the binary's path."""
    src = HERE / "fcgi_trivial.c"
    S.run(["gcc", "-O2", "-Wall", "-Wextra", "-o", out_path, src, "-lfcgi"],
          "gcc fcgi_trivial.c (apt-get install libfcgi-dev)")
    return Path(out_path)


# -------------------------------------------------------------------- wrk

WRK_DONE = r'''
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_JSON {\"requests\": %d, \"duration_us\": %d, \"p50_us\": %.1f, " ..
    "\"p90_us\": %.1f, \"p99_us\": %.1f, \"mean_us\": %.1f, \"status_errors\": %d, " ..
    "\"connect_errors\": %d, \"read_errors\": %d, \"write_errors\": %d, " ..
    "\"timeouts\": %d}\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean, e.status, e.connect, e.read, e.write, e.timeout))
end
'''


def lua_string(s):
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


def write_wrk_script(path, method, key=None, body=None, content_type=None):
    lines = ["wrk.method = %s" % lua_string(method)]
    if key:
        lines.append('wrk.headers["Authorization"] = %s' % lua_string("Bearer " + key))
    if body is not None:
        lines.append("wrk.body = %s" % lua_string(body))
    if content_type:
        lines.append('wrk.headers["Content-Type"] = %s' % lua_string(content_type))
    Path(path).write_text("\n".join(lines) + "\n" + WRK_DONE)
    return Path(path)


def wrk(url, script, duration, threads=2, connections=16):
    """One wrk run; a dict with req_per_s, p50_ms, p90_ms, p99_ms, errors..."""
    argv = ["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % duration,
            "--latency", "--timeout", "5s", "-s", str(script), url]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60,
                       stdin=subprocess.DEVNULL)
    m = re.search(r"^WRK_JSON (\{.*\})$", p.stdout, re.M)
    if p.returncode != 0 or not m:
        raise S.StackError("wrk failed (exit %d): %s\n%s\n%s"
                           % (p.returncode, " ".join(argv), p.stdout[-2000:], p.stderr[-2000:]))
    d = json.loads(m.group(1))
    secs = d["duration_us"] / 1e6
    errors = (d["status_errors"] + d["connect_errors"] + d["read_errors"]
              + d["write_errors"] + d["timeouts"])
    return {
        "req_per_s": d["requests"] / secs if secs else 0.0,
        "requests": d["requests"],
        "p50_ms": d["p50_us"] / 1000.0,
        "p90_ms": d["p90_us"] / 1000.0,
        "p99_ms": d["p99_us"] / 1000.0,
        "mean_ms": d["mean_us"] / 1000.0,
        "errors": errors,
        "status_errors": d["status_errors"],
        "duration_s": secs,
    }
