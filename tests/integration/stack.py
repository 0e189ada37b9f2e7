"""Real servers for the integration tests: PostgreSQL, spawn-fcgi'd
export.fcgi, lighttpd, Apache and exportd, each on free loopback ports in a
temporary directory. Stack is the session's set; SideWeb (more export.fcgi
behind another lighttpd, with a config of their own) and ExtraExportd (one
more exportd) run beside it for the modules that need other settings.

Used by conftest.py; kept free of pytest fixtures so that it can also be
driven by hand from a Python prompt while debugging:

    /usr/bin/python3 -c 'import stack; ...'    (from tests/integration)

Conventions:
  * every process is started in its own session (process group) and stopped
    by signalling the group: TERM first, KILL after a grace period;
  * daemons that detach (postgres, spawn-fcgi's children) are stopped through
    their pid files;
  * every log file is registered in LOGS so that conftest.py can attach the
    tail of each to the report of a failing test;
  * the C programs get a scrubbed environment: no EXPORTD_* variable from the
    caller's shell leaks in (they would override the generated config, see
    docs/CONTRACTS.md), only EXPORTD_CONFIG where the contract says so.
"""

import os
import pwd
import re
import grp
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2
import requests

HERE = Path(__file__).resolve().parent
SRCDIR = Path(os.environ.get("EXPORTD_SRCDIR") or HERE.parent.parent).resolve()
BUILDDIR = Path(os.environ.get("EXPORTD_BUILDDIR") or (SRCDIR / "build")).resolve()

TERMINAL_STATUSES = frozenset({"complete", "failed", "cancelled", "expired"})

# name -> Path of every log file of the running servers (insertion ordered).
LOGS = {}

# EXPORTD_VALGRIND=1: export.fcgi and exportd (and every process they fork)
# run under valgrind's memcheck, one log per process in the stack's
# run/valgrind/; valgrind_verdict() reads them when the stack stops. The
# programs are ~20x slower there: deadlines that wait for them are
# multiplied by TIME_SCALE (EXPORTD_TIME_SCALE, default 10 under valgrind).
VALGRIND = os.environ.get("EXPORTD_VALGRIND") == "1"
TIME_SCALE = float(os.environ.get("EXPORTD_TIME_SCALE") or (10 if VALGRIND else 1))
VALGRIND_SUPP = HERE / "valgrind.supp"


class StackError(RuntimeError):
    """A server could not be set up; the message says what and why."""


# ---------------------------------------------------------------- helpers

def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def listen_inodes(port):
    """Socket inodes listening on 127.0.0.1:port (from /proc/net/tcp)."""
    inodes = set()
    want = "0100007F:%04X" % port
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[1] == want and fields[3] == "0A":  # 0A = LISTEN
                    inodes.add(fields[9])
    except OSError:
        pass
    return inodes


def listens_on(pid, port):
    """True if process pid holds a socket listening on 127.0.0.1:port.

    A connect() succeeding is not enough: another process may own the port
    that free_port() handed out, while our server is about to die of
    EADDRINUSE."""
    inodes = listen_inodes(port)
    if not inodes:
        return False
    fd_dir = "/proc/%d/fd" % pid
    try:
        for fd in os.listdir(fd_dir):
            try:
                link = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if link.startswith("socket:[") and link[8:-1] in inodes:
                return True
    except OSError:
        pass
    return False


def tail(path, lines=60, start=0):
    """The last `lines` lines of path from byte offset `start` on ('' if none)."""
    try:
        with open(path, "rb") as f:
            f.seek(start)
            data = f.read()
    except OSError as e:
        return "<cannot read %s: %s>" % (path, e.strerror)
    text = data.decode("utf-8", "replace")
    rows = text.splitlines()
    if len(rows) > lines:
        rows = ["[... %d earlier lines ...]" % (len(rows) - lines)] + rows[-lines:]
    return "\n".join(rows)


def log_sizes():
    """{name: current size} of every registered log (for per-test tails)."""
    sizes = {}
    for name, path in LOGS.items():
        try:
            sizes[name] = os.path.getsize(path)
        except OSError:
            sizes[name] = 0
    return sizes


def log_tails(since=None, lines=60):
    """[(name, text)] of the registered logs, from the offsets in `since`."""
    out = []
    for name, path in list(LOGS.items()):
        start = (since or {}).get(name, 0)
        try:
            if os.path.getsize(path) < start:  # rotated/truncated
                start = 0
        except OSError:
            pass
        text = tail(path, lines, start)
        if text:
            out.append((name, text))
    return out


def logs_excerpt(names=None, lines=40):
    """A printable block with the tails of some logs (for error messages)."""
    parts = []
    for name, text in log_tails(lines=lines):
        if names is None or name in names:
            parts.append("----- %s (%s) -----\n%s" % (name, LOGS[name], text))
    return "\n".join(parts)


def clean_env(**extra):
    """os.environ without EXPORTD_*/HTTPD_*/PG* variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("EXPORTD_", "HTTPD_", "PG"))}
    env.setdefault("LANG", "C.UTF-8")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run(argv, what, env=None, timeout=120, input=None):
    """Run a command to completion; StackError with its output on failure."""
    argv = [str(a) for a in argv]
    try:
        p = subprocess.run(argv, env=env if env is not None else clean_env(),
                           stdin=subprocess.DEVNULL if input is None else None,
                           input=input, capture_output=True, timeout=timeout,
                           text=True)
    except FileNotFoundError as e:
        raise StackError("%s: %s not found" % (what, e.filename)) from None
    except subprocess.TimeoutExpired as e:
        raise StackError("%s: timed out after %ss: %s\nstdout:\n%s\nstderr:\n%s"
                         % (what, timeout, shlex.join(argv), e.stdout, e.stderr)) from None
    if p.returncode != 0:
        raise StackError("%s failed (exit %d): %s\nstdout:\n%s\nstderr:\n%s"
                         % (what, p.returncode, shlex.join(argv),
                            p.stdout[-4000:], p.stderr[-4000:]))
    return p


def require_program(path, hint):
    path = Path(path)
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise StackError("%s is missing or not executable (%s)" % (path, hint))
    return path


def which(name, hint):
    found = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if not found:
        raise StackError("%s not found on PATH (%s)" % (name, hint))
    return found


def pid_alive(pid):
    """True if pid exists and is not a zombie (our orphans may be reaped late)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return False


def kill_pids(pids, grace=5.0):
    """TERM the pids, wait up to `grace` s, then KILL what is left.

    Returns the pids that had to be killed with SIGKILL."""
    pids = [p for p in pids if p > 1]
    killed = []
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if sig == signal.SIGKILL:
            killed = [p for p in pids if pid_alive(p)]
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
            time.sleep(0.05)
        if not any(pid_alive(p) for p in pids):
            break
    reap(pids)
    return killed


def become_subreaper():
    """Make this process the reaper of orphaned descendants.

    postgres (daemonised by pg_ctl) and spawn-fcgi's children are orphaned
    at once; without this they are re-parented to PID 1, which in containers
    often never reaps them, leaving zombies behind after every run. As a
    subreaper we inherit them and reap() them after stopping them.
    Best effort: returns False where prctl is unavailable.
    """
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_CHILD_SUBREAPER = 36
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def reap(pids):
    """Collect the exit status of these (inherited) pids, if they are ours."""
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def read_pids(path):
    try:
        with open(path) as f:
            return [int(x) for x in f.read().split() if x.strip().isdigit()]
    except OSError:
        return []


def make_tmp_root(prefix="exportd-it-"):
    """A fresh temp dir that postgres and www-data can traverse (mkdtemp: 0700)."""
    root = Path(tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("EXPORTD_TEST_TMPDIR")))
    root.chmod(0o755)
    return root


class Service:
    """A foreground process in its own process group, output to a log file."""

    def __init__(self, name, argv, log, env=None, cwd=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log = Path(log)
        self.env = env if env is not None else clean_env()
        self.cwd = cwd
        self.proc = None
        self.returncode = None
        LOGS[name] = self.log

    def start(self):
        with open(self.log, "ab") as out:
            try:
                self.proc = subprocess.Popen(
                    self.argv, stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd,
                    start_new_session=True)
            except OSError as e:
                raise StackError("%s: cannot start %s: %s"
                                 % (self.name, shlex.join(self.argv), e)) from None
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self, what="starting"):
        if not self.alive():
            raise StackError("%s exited with status %s while %s: %s"
                             % (self.name, self.proc.returncode if self.proc else None,
                                what, shlex.join(self.argv)))

    def signal(self, sig):
        if self.alive():
            os.killpg(self.proc.pid, sig)

    def stop(self, grace=10.0):
        """TERM the process group, KILL it after `grace` s; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left in the group (the leader's children), then the leader.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc.poll() is None:
            self.proc.wait(5)
        self.returncode = self.proc.returncode
        return self.returncode


def valgrind_argv(log_dir, name):
    """The command prefix that runs a program under memcheck (empty without
    EXPORTD_VALGRIND=1); its logs go to log_dir/name.<pid>.log."""
    if not VALGRIND:
        return []
    log_dir.mkdir(mode=0o755, exist_ok=True)
    return [which("valgrind", "apt-get install valgrind"), "--tool=memcheck",
            "--error-exitcode=97", "--leak-check=full", "--show-leak-kinds=definite",
            "--errors-for-leak-kinds=definite", "--trace-children=yes",
            "--child-silent-after-fork=no", "--num-callers=30",
            "--suppressions=%s" % VALGRIND_SUPP,
            "--log-file=%s/%s.%%p.log" % (log_dir, name)]


VALGRIND_ERRORS = re.compile(r"ERROR SUMMARY: ([\d,]+) errors")
VALGRIND_DEFINITE = re.compile(r"definitely lost: ([\d,]+) bytes")


def valgrind_verdict(log_dir):
    """(complaints, summary) over every memcheck log in log_dir: a complaint
    per log with errors or definitely lost bytes; summary counts them all."""
    complaints, logs, errors, lost, unfinished = [], 0, 0, 0, 0
    for log in sorted(Path(log_dir).glob("*.log")):
        text = log.read_text(errors="replace")
        logs += 1
        e = sum(int(n.replace(",", "")) for n in VALGRIND_ERRORS.findall(text))
        d = sum(int(n.replace(",", "")) for n in VALGRIND_DEFINITE.findall(text))
        if not VALGRIND_ERRORS.search(text):
            unfinished += 1  # killed (SIGKILL) before memcheck's summary
        errors, lost = errors + e, lost + d
        if e or d:
            complaints.append("%s: %d errors, %d bytes definitely lost:\n%s"
                              % (log.name, e, d, text[-6000:]))
    summary = ("valgrind: %d process logs, %d errors, %d bytes definitely lost, "
               "%d without a summary (killed)" % (logs, errors, lost, unfinished))
    return complaints, summary


def wait_until(pred, timeout, what, interval=0.05, check=None):
    """Poll pred() until true; StackError after timeout. check() may raise early."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        if check is not None:
            check()
        try:
            if pred():
                return
        except Exception as e:  # noqa: BLE001 - reported below
            last_exc = e
        if time.monotonic() > deadline:
            raise StackError("timed out after %.0fs waiting for %s%s"
                             % (timeout, what,
                                " (last error: %r)" % (last_exc,) if last_exc else ""))
        time.sleep(interval)


def start_on_free_port(make_service, what, logs, attempts=3):
    """Start make_service(port) on a free port and wait until it listens.

    free_port() is only a snapshot: when the server dies complaining that
    the address is in use, try again with another port. Returns
    (service, port); StackError with the logs' tails otherwise."""
    for attempt in range(attempts):
        port = free_port()
        svc = make_service(port)
        svc.start()
        try:
            wait_until(lambda: listens_on(svc.pid, port), 15,
                       "%s to listen on port %d" % (what, port), check=svc.check_alive)
            return svc, port
        except StackError as e:
            svc.stop()
            text = "\n".join(t for n, t in log_tails(lines=10) if n in logs)
            if attempt + 1 < attempts and "in use" in text:
                continue
            raise StackError("%s\n%s" % (e, logs_excerpt(logs))) from None


# ------------------------------------------------------------- PostgreSQL

def pg_bindir():
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True,
                             text=True, check=True).stdout.strip()
        if (Path(out) / "initdb").exists():
            return Path(out)
    except (OSError, subprocess.CalledProcessError):
        pass
    cands = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if not cands:
        raise StackError("PostgreSQL server binaries not found "
                         "(install postgresql, or set PG_BINDIR)")
    return cands[-1].parent


class Postgres:
    """A throwaway cluster: initdb as the postgres user, fsync off, unix
    socket in the temp dir plus TCP on 127.0.0.1:<free port>.

    Roles as README "Database roles" describes them: the database belongs
    to OWNER (no superuser; CREATEROLE, so that migration 005 creates the
    group roles), exportctl connects as OWNER, export.fcgi as API_LOGIN and
    exportd as WORKER_LOGIN (members of exportd_api / exportd_worker, made
    by create_login_roles() once migrated).  The tests' own SQL (.conninfo,
    .query, psql) stays the superuser postgres, standing for the source
    application and the administrator."""

    dbname = "exportd"
    OWNER = "exportd_owner"
    API_LOGIN = "exportd_fcgi"
    WORKER_LOGIN = "exportd_daemon"
    API_GROUP = "exportd_api"        # migration 005: <database>_api
    WORKER_GROUP = "exportd_worker"  # migration 005: <database>_worker

    def __init__(self, root):
        self.root = Path(root) / "pg"
        self.data = self.root / "data"
        self.sockdir = self.root / "sock"
        self.log = self.root / "postgres.log"
        self.port = None
        self.bindir = pg_bindir()
        self.started = False
        self.timings = {}
        LOGS["postgres"] = self.log

    @property
    def conninfo(self):
        """libpq conninfo for the exportd database (over the unix socket)."""
        return "host=%s port=%d dbname=%s user=postgres" % (self.sockdir, self.port, self.dbname)

    @property
    def tcp_conninfo(self):
        return "host=127.0.0.1 port=%d dbname=%s user=postgres" % (self.port, self.dbname)

    def dsn(self, dbname=None, user="postgres"):
        return "host=%s port=%d dbname=%s user=%s" % (
            self.sockdir, self.port, dbname or self.dbname, user)

    def database_conf(self):
        """The [database] section every exportd.conf of the suite has: one
        role per program."""
        return {"url": self.dsn(user=self.WORKER_LOGIN),
                "api_url": self.dsn(user=self.API_LOGIN),
                "admin_url": self.dsn(user=self.OWNER)}

    def create_login_roles(self):
        """What the administrator does once `exportctl migrate` made the
        group roles: one login role per program, a member of its group."""
        self.query("CREATE ROLE %s LOGIN IN ROLE %s; CREATE ROLE %s LOGIN IN ROLE %s"
                   % (self.API_LOGIN, self.API_GROUP, self.WORKER_LOGIN, self.WORKER_GROUP))

    def expose(self, *types):
        """Grant what export types expose to the runtime roles, as `exportctl
        type grant` does (the same SQL function), as the superuser."""
        self.query("SELECT exportd_type_grant(t) FROM unnest(%s::text[]) t", (list(types),))

    def connect(self, dbname=None, autocommit=True, **kw):
        """A psycopg2 connection (autocommit by default); caller closes it."""
        conn = psycopg2.connect(self.dsn(dbname), **kw)
        conn.autocommit = autocommit
        return conn

    def query(self, sql, params=None, dbname=None):
        """Run one statement in its own connection; rows (or None)."""
        conn = self.connect(dbname)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else None
        finally:
            conn.close()

    def _as_postgres(self, argv):
        return ["runuser", "-u", "postgres", "--"] + [str(a) for a in argv]

    def start(self):
        pw = pwd.getpwnam("postgres")
        self.root.mkdir(mode=0o755)
        for d in (self.data, self.sockdir):
            d.mkdir(mode=0o700)
            os.chown(d, pw.pw_uid, pw.pw_gid)
        self.sockdir.chmod(0o755)
        self.log.touch()
        os.chown(self.log, pw.pw_uid, pw.pw_gid)
        t0 = time.monotonic()
        run(self._as_postgres([self.bindir / "initdb", "-D", self.data, "-A", "trust",
                               "-U", "postgres", "-E", "UTF8", "--locale=C",
                               "--no-sync", "--no-instructions"]),
            "initdb", env=clean_env())
        self.timings["initdb"] = time.monotonic() - t0
        # A port can be taken between free_port() and the bind: retry.
        for attempt in range(5):
            self.port = free_port()
            opts = ("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off "
                    "-c full_page_writes=off -c synchronous_commit=off "
                    "-c max_connections=200" % (self.port, self.sockdir))
            t0 = time.monotonic()
            try:
                run(self._as_postgres([self.bindir / "pg_ctl", "-D", self.data, "-l", self.log,
                                       "-w", "-t", "60", "-o", opts, "start"]),
                    "pg_ctl start", env=clean_env())
                break
            except StackError:
                if attempt == 4 or "already in use" not in tail(self.log, 20):
                    raise StackError("PostgreSQL did not start:\n%s"
                                     % logs_excerpt(["postgres"])) from None
        self.started = True
        self.timings["pg_ctl start"] = time.monotonic() - t0
        # CREATE DATABASE cannot run in a transaction block.
        self.query("CREATE ROLE %s LOGIN CREATEROLE" % self.OWNER, dbname="postgres")
        self.query("CREATE DATABASE %s OWNER %s" % (self.dbname, self.OWNER), dbname="postgres")
        return self

    def stop(self):
        if not self.data.exists():
            return
        pidfile = self.data / "postmaster.pid"
        postmaster = read_pids(pidfile)[:1]
        if self.started or pidfile.exists():
            try:
                run(self._as_postgres([self.bindir / "pg_ctl", "-D", self.data,
                                       "-m", "immediate", "-w", "-t", "20", "stop"]),
                    "pg_ctl stop", env=clean_env(), timeout=30)
            except StackError:
                kill_pids(postmaster)
        # pg_ctl -w returns once postmaster.pid is gone; the process may
        # still be exiting.
        wait_until(lambda: not any(pid_alive(p) for p in postmaster), 10,
                   "postmaster to exit")
        reap(postmaster)
        self.started = False


# ---------------------------------------------------------- HTTP helpers

class _Default:
    def __repr__(self):
        return "<default key>"


DEFAULT = _Default()


class Api:
    """requests-based client: api(method, path, key=..., json=..., headers=...).

    key: DEFAULT (the client's default key, workspace acme for the stack),
    None (no Authorization header) or a key string (sent as Bearer).
    Further keyword arguments go to requests.request (data=, params=,
    stream=, allow_redirects=, timeout=...). Returns the requests.Response.
    """

    def __init__(self, base_url, default_key=None, timeout=30 * TIME_SCALE, server="lighttpd",
                 pool=None):
        self.base_url = base_url.rstrip("/")
        self.default_key = default_key
        self.timeout = timeout
        self.server = server  # the web server in front, for reports
        self.pool = pool      # whose export.fcgi answer (fcgi_pids_alive()); None: the stack's

    def url(self, path):
        if path.startswith(("http://", "https://")):
            return path
        return self.base_url + ("" if path.startswith("/") else "/") + path

    def __call__(self, method, path, key=DEFAULT, json=None, headers=None, **kw):
        h = dict(headers or {})
        if key is DEFAULT:
            key = self.default_key
        if key is not None and not any(k.lower() == "authorization" for k in h):
            h["Authorization"] = "Bearer " + key
        kw.setdefault("timeout", self.timeout)
        kw.setdefault("allow_redirects", False)
        return requests.request(method, self.url(path), json=json, headers=h, **kw)

    def get(self, path, **kw):
        return self("GET", path, **kw)

    def post(self, path, **kw):
        return self("POST", path, **kw)

    def delete(self, path, **kw):
        return self("DELETE", path, **kw)


def wait_http_ok(url, timeout, check=None, what=None):
    """Poll url until it answers 200; StackError with the last answer if not."""
    last = {}

    def ok():
        try:
            r = requests.get(url, timeout=2)
        except requests.RequestException as e:
            last["answer"] = repr(e)
            return False
        last["answer"] = "%d %s" % (r.status_code, r.text[:500])
        return r.status_code == 200

    try:
        wait_until(ok, timeout, what or ("200 from " + url), interval=0.05, check=check)
    except StackError as e:
        raise StackError("%s; last answer: %s" % (e, last.get("answer"))) from None


# ------------------------------------------------------------ the stack

# The FastCGI socket as fcgi-conf/README.md ships it: mode 0660, group
# www-data (Apache's children, which connect as www-data; lighttpd runs as
# root here). Nobody else may talk FastCGI to export.fcgi.
FCGI_SOCKET_MODE = ["-M", "0660", "-G", "www-data"]


# embed.secrets of the session's stack: a host page signs with the first;
# the second is an old one, still accepted (rotation).
EMBED_SECRET = "embed-secret-of-the-test-stack-0123456789abcdef"
EMBED_SECRET_OLD = "an-old-embed-secret-still-accepted-0123456789"


class Stack:
    """export.fcgi x4 (spawn-fcgi) + lighttpd + exportd on one PostgreSQL."""

    fcgi_children = 4
    workers = 2

    def __init__(self, pg, root):
        self.pg = pg
        self.root = Path(root)
        self.run_dir = self.root / "run"          # pid files, sockets, logs
        self.storage_dir = self.root / "storage"  # exportd's storage.dir
        self.conf_path = self.root / "exportd.conf"
        self.fcgi_socket = self.run_dir / "fcgi.sock"
        self.fcgi_pidfile = self.run_dir / "fcgi.pid"
        self.fcgi_log = self.run_dir / "export.fcgi.log"
        self.exportd_log = self.run_dir / "exportd.log"
        self.valgrind_dir = self.run_dir / "valgrind"  # EXPORTD_VALGRIND=1
        self.port = None
        self.base_url = None
        self.keys = {}
        self.lighttpd = None
        self.exportd = None
        self.timings = {}
        self.export_fcgi = BUILDDIR / "export.fcgi"
        self.exportd_bin = BUILDDIR / "exportd"
        self.exportctl_bin = BUILDDIR / "exportctl"
        self.api = None

    # -- conveniences for tests

    @property
    def key_acme(self):
        return self.keys["acme"]

    @property
    def key_globex(self):
        return self.keys["globex"]

    def exportctl(self, *args, check=True, timeout=60):
        """Run exportctl -c CONF ARGS...; the CompletedProcess (text)."""
        argv = [self.exportctl_bin, "-c", self.conf_path] + [str(a) for a in args]
        if check:
            return run(argv, "exportctl " + " ".join(map(str, args)),
                       env=clean_env(), timeout=timeout)
        return subprocess.run([str(a) for a in argv], env=clean_env(), capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def psql(self, *args, timeout=600):
        """psql on the exportd database with ON_ERROR_STOP; CompletedProcess."""
        argv = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.pg.conninfo] + list(args)
        return run([str(a) for a in argv], "psql " + " ".join(map(str, args)),
                   env=clean_env(), timeout=timeout)

    def wait_for_job(self, job_id, timeout=60, key=DEFAULT, until=TERMINAL_STATUSES,
                     api=None, interval=0.1):
        """Poll GET /exports/{id} until its status is in `until`; the JSON body."""
        api = api or self.api
        timeout *= TIME_SCALE
        deadline = time.monotonic() + timeout
        body = None
        while True:
            r = api("GET", "/exports/%s" % job_id, key=key)
            if r.status_code != 200:
                raise AssertionError("GET /exports/%s answered %d: %s"
                                     % (job_id, r.status_code, r.text[:2000]))
            body = r.json()
            if body.get("status") in until:
                return body
            if self.exportd is not None and not self.exportd.alive():
                raise AssertionError(
                    "job %s is %r and exportd is dead (exit %s):\n%s"
                    % (job_id, body.get("status"), self.exportd.proc.returncode,
                       logs_excerpt(["exportd"])))
            if time.monotonic() > deadline:
                raise AssertionError(
                    "job %s still %r after %ss (waiting for %s); last answer:\n%s\n%s"
                    % (job_id, body.get("status"), timeout, "/".join(sorted(until)),
                       body, logs_excerpt(["exportd"])))
            time.sleep(interval)

    # -- set-up

    def write_conf(self, path=None, download="x-sendfile"):
        """The session's exportd.conf (at conf_path), or the same with another
        http.download at path (for the export.fcgi behind nginx)."""
        return write_private(
            path or self.conf_path,
            "# written by tests/integration/stack.py\n"
            "[database]\n"
            "%(db)s"
            "\n"
            "[http]\n"
            "base_path =\n"
            "download = %(download)s\n"
            "\n"
            "[exportd]\n"
            "workers = %(workers)d\n"
            "poll_interval = 500ms\n"
            "\n"
            "[storage]\n"
            "backend = local\n"
            "dir = %(storage)s\n"
            "\n"
            "[export]\n"
            "csv_line_ending = lf\n"
            "# acme is shared by every test module and creates more than the\n"
            "# default 100 an hour; test_quotas.py checks quotas on webs of its own\n"
            "max_creates_per_hour_per_workspace = 0\n"
            "\n"
            "[log]\n"
            "level = %(level)s\n"
            "\n"
            "[auth]\n"
            "# REMOTE_USER is only ever set by test_remote_user.py's lighttpd\n"
            "remote_user = on\n"
            "\n"
            "[embed]\n"
            "# the host page's secret (examples/php, tests/browser): the first signs\n"
            "secrets = %(embed)s, %(embed_old)s\n"
            "\n"
            "[webhooks]\n"
            "# test_webhooks.py's receivers listen on loopback over plain http\n"
            "allow_http = on\n"
            "allow_private = on\n"
            "timeout = 2s\n"
            "retry_base = 200ms\n"
            "retry_max = 5s\n"
            "poll_interval = 200ms\n"
            % {"db": "".join("%s = %s\n" % kv for kv in self.pg.database_conf().items()),
               "embed": EMBED_SECRET, "embed_old": EMBED_SECRET_OLD,
               "workers": self.workers, "url": self.base_url, "download": download,
               "storage": self.storage_dir,
               "level": os.environ.get("EXPORTD_TEST_LOG_LEVEL", "info")})

    def _timed(self, name, fn, *args):
        t0 = time.monotonic()
        try:
            return fn(*args)
        finally:
            self.timings[name] = time.monotonic() - t0

    def start(self):
        require_program(self.export_fcgi, "build it: cd build && make; or set EXPORTD_BUILDDIR")
        require_program(self.exportd_bin, "build it: cd build && make; or set EXPORTD_BUILDDIR")
        require_program(self.exportctl_bin, "build it: cd build && make; or set EXPORTD_BUILDDIR")
        self.spawn_fcgi_bin = which("spawn-fcgi", "apt-get install spawn-fcgi")
        self.lighttpd_bin = which("lighttpd", "apt-get install lighttpd")
        which("psql", "apt-get install postgresql-client")
        for f in ("fcgi-conf/lighttpd.conf", "sql/demo/schema.sql", "sql/demo/generate.sql"):
            if not (SRCDIR / f).is_file():
                raise StackError("%s missing (EXPORTD_SRCDIR=%s)" % (SRCDIR / f, SRCDIR))

        self.run_dir.mkdir(mode=0o755)
        # Storage: exportd creates files 0640 (src/storage/local.c). Group
        # www-data + setgid makes them readable by Apache's children (which
        # run as www-data and open X-Sendfile'd files themselves) without
        # making them world-readable.
        self.storage_dir.mkdir(mode=0o750)
        os.chown(self.storage_dir, 0, grp.getgrnam("www-data").gr_gid)
        self.storage_dir.chmod(0o2750)

        # lighttpd first: it needs no app to listen, and its port (which
        # may need a retry) is the base URL of the API client.
        self._timed("lighttpd listening", self.start_lighttpd)
        self.base_url = "http://127.0.0.1:%d" % self.port
        self.api = Api(self.base_url)
        self.write_conf()

        self._timed("exportctl migrate", self.exportctl, "migrate")
        self._timed("demo schema", self.psql, "-f", SRCDIR / "sql/demo/schema.sql")
        self._timed("demo data acme (2000 rows)", self.psql, "-v", "rows=2000", "-v", "workspace=acme",
                    "-f", SRCDIR / "sql/demo/generate.sql")
        self._timed("demo data globex (300 rows)", self.psql, "-v", "rows=300", "-v", "workspace=globex",
                    "-f", SRCDIR / "sql/demo/generate.sql")
        self._timed("login roles, demo types granted", self.grant_demo)
        t0 = time.monotonic()
        for ws, email in (("acme", "a@example.com"), ("globex", "b@example.com")):
            out = self.exportctl("apikey", "create", "--workspace", ws, "--email", email).stdout
            lines = [l for l in out.splitlines() if l.strip()]
            if len(lines) != 1 or not lines[0].startswith("exk_"):
                raise StackError("exportctl apikey create printed %r, expected one line "
                                 "with the key (exk_...)" % out)
            self.keys[ws] = lines[0].strip()
        self.timings["apikey create x2"] = time.monotonic() - t0
        self.api.default_key = self.keys["acme"]

        self._timed("spawn-fcgi", self.start_fcgi)
        self._timed("GET /healthz through lighttpd", self.wait_healthz)
        self._timed("exportd up (workers connected)", self.start_exportd)
        return self

    def grant_demo(self):
        """The demo's tables belong to the "application" (postgres), which
        lets exportd's owner pass SELECT on; exportctl then exposes each
        type to the runtime roles."""
        self.pg.create_login_roles()
        self.pg.query("GRANT SELECT ON contacts, invoices, events TO %s WITH GRANT OPTION"
                      % self.pg.OWNER)
        for t in ("contacts", "invoices", "events"):
            self.exportctl("type", "grant", t)

    def start_fcgi(self):
        LOGS["export.fcgi"] = self.fcgi_log
        self.fcgi_log.touch()
        # spawn-fcgi points the children's stdout/stderr at /dev/null; the
        # shell keeps export.fcgi's stderr (its log) in a file instead and
        # then execs it (under valgrind with EXPORTD_VALGRIND=1, which runs
        # in the same process), so the pid in the pid file is export.fcgi's.
        argv = [self.spawn_fcgi_bin, "-s", self.fcgi_socket] + FCGI_SOCKET_MODE + [
                "-F", str(self.fcgi_children), "-P", self.fcgi_pidfile, "--",
                "/bin/sh", "-c", 'exec "$@" 2>>"$0"', self.fcgi_log] + valgrind_argv(
                self.valgrind_dir, "export.fcgi") + [self.export_fcgi]
        run([str(a) for a in argv], "spawn-fcgi",
            env=clean_env(EXPORTD_CONFIG=self.conf_path), timeout=30)
        pids = read_pids(self.fcgi_pidfile)
        if len(pids) != self.fcgi_children:
            raise StackError("spawn-fcgi wrote %r to %s, expected %d pids"
                             % (pids, self.fcgi_pidfile, self.fcgi_children))

    def stop_fcgi(self, grace=2.0):
        """SIGTERM the FastCGI processes, SIGKILL after `grace` s (scaled).

        Returns a complaint (str) when some needed SIGKILL, else None."""
        grace *= TIME_SCALE
        pids = read_pids(self.fcgi_pidfile)
        killed = kill_pids(pids, grace=grace)
        for p in (self.fcgi_socket, self.fcgi_pidfile):
            try:
                p.unlink()
            except FileNotFoundError:
                pass
        if killed:
            return ("%d of %d export.fcgi processes ignored SIGTERM for %.0fs and were "
                    "killed with SIGKILL" % (len(killed), len(pids), grace))
        return None

    def fcgi_pids_alive(self):
        return [p for p in read_pids(self.fcgi_pidfile) if pid_alive(p)]

    def httpd_env(self, port, run_dir, fcgi_socket=None):
        """Environment for fcgi-conf/lighttpd.conf and fcgi-conf/apache.conf
        (in front of the stack's export.fcgi, or of those on fcgi_socket)."""
        return clean_env(HTTPD_PORT=port, HTTPD_FCGI_SOCKET=fcgi_socket or self.fcgi_socket,
                         HTTPD_STORAGE_DIR=self.storage_dir, HTTPD_RUN_DIR=run_dir)

    def start_lighttpd(self):
        LOGS["lighttpd error log"] = self.run_dir / "lighttpd-error.log"
        LOGS["lighttpd access log"] = self.run_dir / "lighttpd-access.log"

        def make(port):
            return Service("lighttpd stderr",
                           [self.lighttpd_bin, "-D", "-f", SRCDIR / "fcgi-conf/lighttpd.conf"],
                           self.run_dir / "lighttpd.stderr",
                           env=self.httpd_env(port, self.run_dir))

        self.lighttpd, self.port = start_on_free_port(
            make, "lighttpd", ["lighttpd stderr", "lighttpd error log"])

    def wait_healthz(self):
        try:
            wait_http_ok(self.base_url + "/healthz", 20 * TIME_SCALE,
                         check=lambda: self.lighttpd.check_alive(),
                         what="GET /healthz through lighttpd")
        except StackError as e:
            raise StackError("%s\n%s" % (e, logs_excerpt(
                ["export.fcgi", "lighttpd error log", "lighttpd stderr"]))) from None

    def start_exportd(self):
        self.exportd = Service("exportd", valgrind_argv(self.valgrind_dir, "exportd") + [
                               self.exportd_bin, "-c", self.conf_path],
                               self.exportd_log, env=clean_env())
        self.exportd.start()
        # exportd has no port: it is up once each worker has connected its
        # control connection (application_name exportd-worker, see
        # src/exportd/worker.c), which LISTENs before it claims anything.
        sql = ("SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
               "AND application_name = 'exportd-worker'")
        try:
            wait_until(lambda: self.pg.query(sql, (self.pg.dbname,))[0][0] >= self.workers,
                       15 * TIME_SCALE, "%d exportd workers to connect" % self.workers,
                       interval=0.05,
                       check=lambda: self.exportd.check_alive())
        except StackError as e:
            raise StackError("%s\n%s" % (e, logs_excerpt(["exportd"]))) from None

    def stop(self):
        """Stop everything this stack started (safe to call more than once)."""
        errors = []
        if self.exportd is not None:
            try:
                self.exportd.stop(grace=15 * TIME_SCALE)
            except Exception as e:  # noqa: BLE001
                errors.append("exportd: %r" % (e,))
        if self.lighttpd is not None:
            try:
                self.lighttpd.stop()
            except Exception as e:  # noqa: BLE001
                errors.append("lighttpd: %r" % (e,))
        try:
            complaint = self.stop_fcgi()
            if complaint:
                errors.append(complaint)
        except Exception as e:  # noqa: BLE001
            errors.append("export.fcgi: %r" % (e,))
        return errors


class Apache:
    """fcgi-conf/apache.conf on its own port, against the stack's socket
    (or fcgi_socket: the export.fcgi of a SideWeb)."""

    def __init__(self, stack, root, fcgi_socket=None):
        self.stack = stack
        self.fcgi_socket = fcgi_socket
        self.run_dir = Path(root)
        self.port = None
        self.url = None
        self.service = None
        self.api = None
        self.timings = {}

    def start(self):
        apache2 = which("apache2", "apt-get install apache2 libapache2-mod-xsendfile")
        if not Path("/usr/lib/apache2/modules/mod_xsendfile.so").exists():
            raise StackError("mod_xsendfile missing: apt-get install libapache2-mod-xsendfile")
        self.run_dir.mkdir(mode=0o755)
        LOGS["apache error log"] = self.run_dir / "apache-error.log"
        LOGS["apache access log"] = self.run_dir / "apache-access.log"
        conf = SRCDIR / "fcgi-conf/apache.conf"
        t0 = time.monotonic()
        # Syntax first: a clear message instead of a dead server.
        run([apache2, "-t", "-f", str(conf)], "apache2 -t",
            env=self.stack.httpd_env(free_port(), self.run_dir, self.fcgi_socket))

        def make(port):
            return Service("apache stderr", [apache2, "-f", conf, "-DFOREGROUND"],
                           self.run_dir / "apache.stderr",
                           env=self.stack.httpd_env(port, self.run_dir, self.fcgi_socket))

        self.service, self.port = start_on_free_port(
            make, "Apache", ["apache stderr", "apache error log"])
        self.url = "http://127.0.0.1:%d" % self.port
        try:
            wait_http_ok(self.url + "/healthz", 20, check=lambda: self.service.check_alive(),
                         what="GET /healthz through Apache")
        except StackError as e:
            raise StackError("%s\n%s" % (e, logs_excerpt(
                ["apache error log", "apache stderr", "export.fcgi"]))) from None
        self.timings["apache up + /healthz"] = time.monotonic() - t0
        self.api = Api(self.url, self.stack.keys.get("acme"), server="apache")
        return self

    def stop(self):
        if self.service is not None:
            self.service.stop()
        for name in ("apache error log", "apache access log", "apache stderr"):
            LOGS.pop(name, None)


# ------------------------------------------------- crash tests (extra exportd)
#
# Added for tests/integration/test_crash.py: a second exportd with its own
# config file and log on the session's PostgreSQL, which a test may kill,
# stop, signal and restart at will, and a PostgreSQL restart that keeps the
# session's cluster usable for the tests that follow.

class SideWeb:
    """More export.fcgi processes (spawn-fcgi) behind a lighttpd of their own
    (fcgi-conf/lighttpd.conf), reading a config file of their own; the
    session's stack is untouched. Files and logs in run_dir, log names
    "<name> export.fcgi", "<name> lighttpd error log", "<name> lighttpd
    stderr". Downloads are served from the stack's storage dir.

    shared_pool: front the export.fcgi processes of another (an object with
    fcgi_socket and fcgi_pids_alive(), e.g. the Stack) instead of starting
    some; start(None) then and stop() leaves them alone. Subclasses (Nginx)
    replace the web server: server, server_logs, start_httpd()."""

    server = "lighttpd"
    server_logs = ("lighttpd error log", "lighttpd stderr")

    def __init__(self, stack, run_dir, name, children=4, default_key=None, shared_pool=None):
        self.stack, self.name = stack, name
        self.run_dir = Path(run_dir)
        self.children = children
        self.default_key = default_key
        self.shared_pool = shared_pool
        self.fcgi_socket = shared_pool.fcgi_socket if shared_pool else self.run_dir / "fcgi.sock"
        self.fcgi_pidfile = self.run_dir / "fcgi.pid"
        self.fcgi_log = self.run_dir / "export.fcgi.log"
        self.conf = None
        self.httpd = None   # the web server's Service
        self.port = None
        self.base_url = None
        self.api = None
        self.timings = {}
        self.log_names = ["%s export.fcgi" % name] + ["%s %s" % (name, n)
                                                      for n in self.server_logs]

    @property
    def url(self):
        return self.base_url

    def start(self, conf=None, wait_healthy=True):
        """export.fcgi reading conf (default: self.conf), then the web server
        on a free port; with wait_healthy, until GET /healthz answers 200
        (not for a config whose database is unreachable on purpose)."""
        t0 = time.monotonic()
        self.run_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        if self.shared_pool is None:
            self.start_fcgi(conf or self.conf)
        self.httpd, self.port = self.start_httpd()
        self.base_url = "http://127.0.0.1:%d" % self.port
        self.api = Api(self.base_url, self.default_key, server=self.server, pool=self)
        if wait_healthy:
            self.wait_healthz()
        self.timings["%s up + /healthz" % self.name] = time.monotonic() - t0
        return self

    def start_httpd(self):
        """fcgi-conf/lighttpd.conf on a free port: (Service, port)."""
        lighttpd = which("lighttpd", "apt-get install lighttpd")
        LOGS[self.log_names[1]] = self.run_dir / "lighttpd-error.log"

        def make(port):
            return Service(self.log_names[2],
                           [lighttpd, "-D", "-f", SRCDIR / "fcgi-conf/lighttpd.conf"],
                           self.run_dir / "lighttpd.stderr",
                           env=clean_env(HTTPD_PORT=port, HTTPD_FCGI_SOCKET=self.fcgi_socket,
                                         HTTPD_STORAGE_DIR=self.stack.storage_dir,
                                         HTTPD_RUN_DIR=self.run_dir))

        return start_on_free_port(make, "lighttpd (%s)" % self.name, self.log_names[1:])

    def wait_healthz(self):
        try:
            wait_http_ok(self.base_url + "/healthz", 20 * TIME_SCALE, check=self.httpd.check_alive,
                         what="GET /healthz through the %s %s" % (self.name, self.server))
        except StackError as e:
            raise StackError("%s\n%s" % (e, logs_excerpt(self.log_names))) from None

    def fcgi_pids_alive(self):
        if self.shared_pool is not None:
            return self.shared_pool.fcgi_pids_alive()
        return [p for p in read_pids(self.fcgi_pidfile) if pid_alive(p)]

    def start_fcgi(self, conf):
        LOGS[self.log_names[0]] = self.fcgi_log
        self.fcgi_log.touch()
        spawn = which("spawn-fcgi", "apt-get install spawn-fcgi")
        # As Stack.start_fcgi: the shell keeps export.fcgi's stderr in its log.
        argv = [spawn, "-s", self.fcgi_socket] + FCGI_SOCKET_MODE + ["-F", str(self.children),
                "-P", self.fcgi_pidfile, "--", "/bin/sh", "-c", 'exec "$@" 2>>"$0"',
                self.fcgi_log] + valgrind_argv(self.stack.valgrind_dir, "export.fcgi") + [
                self.stack.export_fcgi]
        run([str(a) for a in argv], "spawn-fcgi (%s)" % self.name,
            env=clean_env(EXPORTD_CONFIG=conf), timeout=30)
        pids = read_pids(self.fcgi_pidfile)
        if len(pids) != self.children:
            raise StackError("spawn-fcgi wrote %r, expected %d pids" % (pids, self.children))
        self.conf = conf

    def stop_fcgi(self):
        if self.shared_pool is not None:
            return
        kill_pids(read_pids(self.fcgi_pidfile), grace=2.0 * TIME_SCALE)
        for p in (self.fcgi_socket, self.fcgi_pidfile):
            try:
                p.unlink()
            except FileNotFoundError:
                pass

    def restart_fcgi(self, conf):
        """export.fcgi with another config (the web server keeps running)."""
        self.stop_fcgi()
        self.start_fcgi(conf)
        self.wait_healthz()

    def stop(self):
        if self.httpd is not None:
            self.httpd.stop()
        self.stop_fcgi()
        for name in self.log_names:
            LOGS.pop(name, None)


# The placeholders of fcgi-conf/nginx.conf (nginx has no environment
# substitution): the names lighttpd.conf and apache.conf read from the
# environment.
NGINX_PLACEHOLDERS = ("HTTPD_PORT", "HTTPD_FCGI_SOCKET", "HTTPD_STORAGE_DIR", "HTTPD_RUN_DIR")


def render_nginx_conf(out, values):
    """fcgi-conf/nginx.conf with exactly its ${HTTPD_*} placeholders
    replaced by values[name] (what the envsubst line at its top does),
    written to out; StackError when a non-comment line still holds a ${...}."""
    text = (SRCDIR / "fcgi-conf/nginx.conf").read_text()
    for name in NGINX_PLACEHOLDERS:
        text = text.replace("${%s}" % name, str(values[name]))
    left = [line for line in text.splitlines()
            if "${" in line and not line.lstrip().startswith("#")]
    if left:
        raise StackError("fcgi-conf/nginx.conf: placeholders left after rendering: %r" % left)
    Path(out).write_text(text)
    return out


class Nginx(SideWeb):
    """fcgi-conf/nginx.conf, rendered, as shipped otherwise: master as root,
    workers as www-data (its `user`), so that the workers open the socket
    and the export files with a web server's rights, not root's. In front
    of export.fcgi processes of its own reading conf (which should say
    download = x-accel-redirect; see Stack.write_conf), or of a shared_pool.
    Log names "<name> nginx error log", "<name> nginx access log",
    "<name> nginx stderr"."""

    server = "nginx"
    server_logs = ("nginx error log", "nginx stderr", "nginx access log")

    def start_httpd(self):
        nginx = which("nginx", "apt-get install nginx")
        err = self.run_dir / "nginx-error.log"
        LOGS[self.log_names[1]] = err
        LOGS[self.log_names[3]] = self.run_dir / "nginx-access.log"
        conf = self.run_dir / "nginx.conf"

        def render(port):
            return render_nginx_conf(conf, {
                "HTTPD_PORT": port, "HTTPD_FCGI_SOCKET": self.fcgi_socket,
                "HTTPD_STORAGE_DIR": self.stack.storage_dir, "HTTPD_RUN_DIR": self.run_dir})

        # Syntax first: a clear message instead of a dead server.
        run([nginx, "-t", "-q", "-e", err, "-c", render(free_port())], "nginx -t")

        def make(port):
            render(port)
            return Service(self.log_names[2], [nginx, "-e", err, "-c", conf],
                           self.run_dir / "nginx.stderr")

        return start_on_free_port(make, "nginx (%s)" % self.name, self.log_names[1:3])

    def worker_pids(self):
        """nginx's worker processes (children of the master)."""
        return children_of(self.httpd.pid) if self.httpd and self.httpd.alive() else []


def write_private(path, text):
    """Write a config file as exportd expects one: mode 0600 (it holds
    secrets; the programs warn about a file others can read)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def write_conf_file(path, sections):
    """An exportd.conf from {section: {key: value}}."""
    return write_private(path, "".join("[%s]\n%s\n" % (s, "".join(
        "%s = %s\n" % kv for kv in items.items())) for s, items in sections.items()))


import signal as _signal_mod  # noqa: E402 (ExtraExportd.signal shadows the name)

LOG_LINE_TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z exportd\[(\d+)\] (\w+): (.*)$")


def parse_log_time(stamp):
    """'2026-11-22T08:45:19.351' (UTC, exportd's log stamp) -> epoch seconds."""
    import calendar
    head, ms = stamp.split(".")
    return calendar.timegm(time.strptime(head, "%Y-%m-%dT%H:%M:%S")) + int(ms) / 1000.0


def parse_exportd_log(text):
    """[(epoch seconds, pid, level, message)] for every stamped line of text."""
    out = []
    for line in text.splitlines():
        m = LOG_LINE_TS.match(line)
        if m:
            out.append((parse_log_time(m.group(1)), int(m.group(2)), m.group(3), m.group(4)))
    return out


def comm_of(pid):
    """A process's name (/proc/<pid>/comm), or "" when it is gone."""
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def children_of(pid):
    """Pids (alive, not zombies) whose parent is pid, from /proc/*/stat."""
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(rest) > 1 and rest[1] == str(pid) and rest[0] not in ("Z", "X"):
            kids.append(int(entry))
    return sorted(kids)


class ExtraExportd:
    """One more exportd (supervisor + workers) with its own config file and
    log file, on the session's PostgreSQL and (by default) the stack's
    storage dir, so the API can serve what it writes.

    settings: {"section": {"key": "value"}} merged over a base written like
    Stack.write_conf (database.url, x-sendfile, storage.dir, LF line ends).
    The log is registered in LOGS under `name`, so a failing test shows its
    tail; every start appends to the same log file.

    Start it while no other exportd claims jobs on the database (the
    session's Stack.exportd can be stopped with stack.exportd.stop() and
    brought back with stack.start_exportd()): jobs go to whichever worker
    claims first.
    """

    def __init__(self, stack, name, settings=None, storage_dir=None):
        self.stack = stack
        self.name = name
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
        self.conf_path = stack.run_dir / ("%s.conf" % slug)
        self.log = stack.run_dir / ("%s.log" % slug)
        self.storage_dir = Path(storage_dir or stack.storage_dir)
        self.settings = {
            "database": stack.pg.database_conf(),
            "http": {"base_path": "", "download": "x-sendfile"},
            "exportd": {"workers": "2", "poll_interval": "500ms"},
            "storage": {"backend": "local", "dir": str(self.storage_dir)},
            "export": {"csv_line_ending": "lf"},
            "log": {"level": os.environ.get("EXPORTD_TEST_LOG_LEVEL", "info")},
        }
        for section, kv in (settings or {}).items():
            self.settings.setdefault(section, {}).update({k: str(v) for k, v in kv.items()})
        self.service = None
        self.returncodes = []      # exit status of every run that ended
        self.log.touch()
        LOGS[name] = self.log
        self.write_conf()

    @property
    def workers(self):
        return int(self.settings["exportd"]["workers"])

    def write_conf(self):
        lines = ["# written by tests/integration/stack.py (ExtraExportd %s)" % self.name]
        for section, kv in self.settings.items():
            lines.append("[%s]" % section)
            lines.extend("%s = %s" % (k, v) for k, v in kv.items())
            lines.append("")
        write_private(self.conf_path, "\n".join(lines))

    # -- processes

    @property
    def pid(self):
        """The supervisor's pid (None before the first start)."""
        return self.service.pid if self.service else None

    def alive(self):
        return self.service is not None and self.service.alive()

    def worker_pids(self):
        """The supervisor's live workers (children named exportd-worker; the
        janitor, the webhook deliverer and the mailer are children too)."""
        return [p for p in self.children() if comm_of(p) == "exportd-worker"]

    def children(self):
        """Every live child of the supervisor: workers, janitor, webhook deliverer,
        mailer."""
        return children_of(self.pid) if self.alive() else []

    def start(self, wait_connected=None, timeout=15):
        """Start it; then wait until `wait_connected` (default: workers)
        control connections (application_name exportd-worker) are in
        pg_stat_activity -- that count covers every exportd on the database."""
        if self.alive():
            raise StackError("%s is already running (pid %d)" % (self.name, self.pid))
        self.service = Service(self.name, valgrind_argv(self.stack.valgrind_dir, "exportd") + [
                               self.stack.exportd_bin, "-c", self.conf_path],
                               self.log, env=clean_env())
        self.service.start()
        want = self.workers if wait_connected is None else wait_connected
        self.wait_connected(want, timeout)
        return self

    def connected_workers(self):
        return self.stack.pg.query(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
            " AND application_name = 'exportd-worker'", (self.stack.pg.dbname,))[0][0]

    def wait_connected(self, n, timeout=15):
        try:
            wait_until(lambda: len(self.worker_pids()) >= self.workers
                       and self.connected_workers() >= n, timeout * TIME_SCALE,
                       "%s: %d workers forked and %d exportd-worker connections"
                       % (self.name, self.workers, n), interval=0.05,
                       check=lambda: self.service.check_alive())
        except StackError as e:
            raise StackError("%s\n%s" % (e, logs_excerpt([self.name]))) from None

    def signal(self, sig):
        """Send sig to the supervisor only (it forwards what it must)."""
        if self.alive():
            os.kill(self.pid, sig)

    def wait_exit(self, timeout):
        """Wait for the supervisor to exit; its status (None if still running)."""
        if self.service is None or self.service.proc is None:
            return None
        try:
            rc = self.service.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self.returncodes.append(rc)
        return rc

    def kill(self, sig=None, timeout=10):
        """Signal the whole process group (supervisor and workers at once;
        default SIGKILL); wait until all of them are gone; the supervisor's
        exit status."""
        sig = _signal_mod.SIGKILL if sig is None else sig
        if not self.alive():
            return self.service.proc.returncode if self.service else None
        pids = [self.pid] + self.children()
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass
        rc = self.wait_exit(timeout)
        wait_until(lambda: not any(pid_alive(p) for p in pids), timeout,
                   "%s: pids %s to exit after signal %d" % (self.name, pids, sig))
        reap(pids[1:])  # orphaned workers come to us (become_subreaper)
        return rc

    def stop(self, grace=15.0):
        """SIGCONT (a test may have stopped a worker), then TERM the group,
        KILL after grace; the supervisor's exit status."""
        if self.service is None:
            return None
        if self.alive():
            for p in [self.pid] + self.children():
                try:
                    os.kill(p, _signal_mod.SIGCONT)
                except ProcessLookupError:
                    pass
            rc = self.service.stop(grace)
            self.returncodes.append(rc)
            return rc
        return self.service.proc.returncode

    # -- log

    def log_size(self):
        try:
            return os.path.getsize(self.log)
        except OSError:
            return 0

    def log_text(self, start=0):
        with open(self.log, "rb") as f:
            f.seek(start)
            return f.read().decode("utf-8", "replace")

    def log_lines(self, start=0):
        """[(epoch seconds, pid, level, message)] from byte offset start."""
        return parse_exportd_log(self.log_text(start))

    def wait_for_log(self, pattern, start=0, timeout=15):
        """Wait until a line matching regex pattern is logged after offset
        start; that (time, pid, level, message) tuple."""
        rx = re.compile(pattern)
        found = []

        def seen():
            found[:] = [t for t in self.log_lines(start) if rx.search(t[3])]
            return bool(found)

        try:
            wait_until(seen, timeout, "%s to log /%s/" % (self.name, pattern), interval=0.05)
        except StackError as e:
            raise StackError("%s\n%s" % (e, logs_excerpt([self.name]))) from None
        return found[0]


def restart_postgres(pg, mode="fast", timeout=60):
    """pg_ctl restart -m mode on the session's cluster (same options: pg_ctl
    reuses postmaster.opts); returns once it accepts connections again."""
    run(pg._as_postgres([pg.bindir / "pg_ctl", "-D", pg.data, "-l", pg.log, "-m", mode,
                         "-w", "-t", str(timeout), "restart"]),
        "pg_ctl restart", env=clean_env(), timeout=timeout + 10)


def wait_fcgi_reconnected(stack, expect, timeout=30):
    """After a PostgreSQL restart: each export.fcgi process finds its broken
    connection on its next request (answering 503 once) and reconnects.
    Send parallel /healthz requests until `expect` export.fcgi connections
    are back and /healthz answers 200 several times in a row."""
    import concurrent.futures

    def connected():
        return stack.pg.query("SELECT count(*) FROM pg_stat_activity WHERE"
                              " application_name = 'export.fcgi'")[0][0]

    def burst():
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            codes = list(ex.map(lambda _: requests.get(stack.base_url + "/healthz",
                                                       timeout=5).status_code, range(8)))
        return codes

    last = {}

    def ok():
        last["codes"] = burst()
        last["connected"] = connected()
        return last["connected"] >= expect and all(c == 200 for c in last["codes"])

    try:
        wait_until(ok, timeout, "export.fcgi to reconnect (%d connections) and /healthz 200"
                   % expect, interval=0.1)
    except StackError as e:
        raise StackError("%s; last: %s\n%s" % (e, last, logs_excerpt(
            ["export.fcgi", "lighttpd error log", "postgres"]))) from None
