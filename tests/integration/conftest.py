"""pytest fixtures for the integration suite: real servers on loopback.

Fixtures
  pg      (session) throwaway PostgreSQL 15 cluster with database `exportd`:
          .conninfo (libpq string, unix socket), .tcp_conninfo, .port,
          .connect() -> psycopg2 connection (autocommit), .query(sql, params)
  stack   (session) migrations + demo data (acme: 2000 rows, globex: 300),
          two API keys, export.fcgi x4 under spawn-fcgi, lighttpd, exportd:
          .base_url, .keys / .key_acme / .key_globex, .conf_path,
          .storage_dir, .api(method, path, key=..., json=..., headers=...),
          .wait_for_job(id, timeout), .exportctl(*args), .psql(*args), .pg
  apache  (module) Apache (fcgi-conf/apache.conf) on its own port in front of
          the same spawn-fcgi socket: .url, .api(...)
  nginx   (module) nginx (fcgi-conf/nginx.conf, rendered) in front of 4
          export.fcgi of its own (download = x-accel-redirect): .url, .api
  front   (function, parametrised) the Api of lighttpd, Apache, then nginx,
          for tests that must hold through all three servers; front.pool
          (None: the stack's) is whose export.fcgi answered
  side    (module) side(name, settings) -> a started stack.SideWeb: one
          more export.fcgi with a config of its own behind its own lighttpd
  complete_job  (module) a complete invoices CSV export of acme (job JSON)
  exports (session) every format/type export of acme (and one of globex),
          created at once: (type, format[, "subset"|"globex"]) ->
          (job JSON, downloaded bytes)

Helpers that are not fixtures are in helpers.py; after each test that
sent requests through helpers.call(), the autouse fixture
_no_5xx_and_every_fcgi_alive checks that none was answered 5xx and that
all 4 export.fcgi processes were alive after the last one.

Test modules, one per feature of the README (none depends on another's
order or state; each can run alone):
  test_smoke          the fixtures work: servers answer through all three web servers
  test_create         POST /exports: 400/415, what is stored, jobs inserted by SQL
  test_limits         body size (413), Idempotency-Key, active-job limit (429)
  test_auth           401 for bad/revoked keys; other workspaces see 404
  test_routes         404 for unknown routes and ids, 405 with Allow
  test_get_list       GET /exports pagination, a job's fields
  test_delete_cancel  DELETE: cancel, 409, a complete export's file removed
  test_download       download through each server: 409, headers, ranges, HEAD,
                      Repr-Digest, gzip; refused handovers; nginx's workers
  test_export_bytes   CSV/JSONL byte-identical to PostgreSQL's own output
  test_export_options gzip, checksums, filters, include_deleted, as-of, CSV
                      options, limits (daemons of its own)
  test_health, test_metrics   /healthz, /metrics
  test_crash          kill -9, SIGSTOP, PostgreSQL restarts mid-export
  test_mail           notification mails and signed links (SMTP capture)
  test_s3, test_s3server      the S3 backend, and the SigV4-verifying proxy
  test_bench_smoke    scripts/bench --rows 10000 --rounds 1
  test_replica        rows read from a streaming standby: the LSN wait, the
                      fallbacks, a recovery conflict resumed byte-identical
  test_slow_clients   slow bodies through each server, raw FastCGI clients
                      that stall or send no method (fcgiraw.py), the socket's
                      mode, access logs without tokens, /metrics allow list

Environment
  EXPORTD_BUILDDIR   where export.fcgi, exportd, exportctl are (<repo>/build)
  EXPORTD_SRCDIR     the source tree (the repo holding this file)
  EXPORTD_KEEP_TMP=1 keep the temp dir (its path is printed at the end)
  EXPORTD_TEST_TMPDIR  parent for the temp dir (default: $TMPDIR or /tmp)
  EXPORTD_TEST_LOG_LEVEL  log.level written to exportd.conf (default info)
  EXPORTD_VALGRIND=1 run the stack's export.fcgi and exportd under valgrind
                     memcheck (logs in run/valgrind/, suppressions in
                     valgrind.supp); any error or definitely lost byte fails
                     the run; deadlines x EXPORTD_TIME_SCALE (default 10)

When a test fails, the lines each server logged while it ran (last 60 per
log) are attached to its report, after the traceback.
"""

import os
import pwd
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import helpers as H  # noqa: E402
import stack as S  # noqa: E402
import webstack as W  # noqa: E402

_TIMINGS = {}      # "what" -> seconds, printed in the terminal summary
_NOTES = []        # things worth knowing that are not test failures
_TMP = {}          # "root" -> Path of the session's temp dir
_FATAL = []        # sanitizer reports found after the servers stopped

# Lines ASan/UBSan/LSan print: any of them in a server's log is a failure,
# whatever the HTTP answers looked like.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")


def _sanitizer_reports(since=None):
    found = []
    for name, text in S.log_tails(since=since, lines=1000000):
        for line in text.splitlines():
            if any(m in line for m in SANITIZER_MARKERS):
                found.append("%s: %s" % (name, line.strip()))
    return found


def _sigterm(signum, frame):
    # make check, CI runners and timeout(1) stop the suite with SIGTERM;
    # turned into KeyboardInterrupt, pytest still runs the fixtures'
    # finalizers, so no postgres/lighttpd/exportd is left behind.
    raise KeyboardInterrupt("SIGTERM")


def pytest_configure(config):
    signal.signal(signal.SIGTERM, _sigterm)
    S.become_subreaper()


def _start(obj, timings_prefix=""):
    """obj.start(); on any error obj.stop() and re-raise. A StackError (a
    server did not come up) becomes a test error with its readable message
    and no Python traceback -- never a skip."""
    err = None
    try:
        obj.start()
    except S.StackError as e:
        err = e
    except BaseException:
        _stop(obj)
        raise
    finally:
        _TIMINGS.update({timings_prefix + k: v for k, v in obj.timings.items()})
    if err is not None:
        _stop(obj)
        pytest.fail(str(err), pytrace=False)
    return obj


def _stop(obj):
    errors = obj.stop() or []
    if errors:
        _NOTES.append("while stopping: %s" % "; ".join(errors))


@pytest.fixture(scope="session")
def tmp_root():
    root = S.make_tmp_root()
    _TMP["root"] = root
    try:
        yield root
    finally:
        if os.environ.get("EXPORTD_KEEP_TMP") == "1":
            _NOTES.append("temp dir kept: %s" % root)
        else:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg(tmp_root):
    pg = S.Postgres(tmp_root)
    t0 = time.monotonic()
    _start(pg, "postgres: ")
    _TIMINGS["postgres: total"] = time.monotonic() - t0
    try:
        yield pg
    finally:
        _stop(pg)


@pytest.fixture(scope="session")
def stack(pg, tmp_root):
    st = S.Stack(pg, tmp_root)
    t0 = time.monotonic()
    _start(st, "stack: ")
    _TIMINGS["stack: total"] = time.monotonic() - t0
    try:
        yield st
    finally:
        if st.exportd is not None and not st.exportd.alive():
            _NOTES.append("exportd had died during the session (exit %s)"
                          % st.exportd.proc.returncode)
        dead = 4 - len(st.fcgi_pids_alive())
        if dead:
            _NOTES.append("%d of 4 export.fcgi processes had died during the session "
                          "(spawn-fcgi does not restart them)" % dead)
        t1 = time.monotonic()
        _stop(st)
        _TIMINGS["stack: stop"] = time.monotonic() - t1
        if st.exportd is not None and st.exportd.returncode not in (0, None):
            _NOTES.append("exportd exited with status %s on SIGTERM (contract: 0)"
                          % st.exportd.returncode)
        # Leak reports are written at exit, after every test has run.
        _FATAL.extend(_sanitizer_reports())
        if S.VALGRIND:
            complaints, summary = S.valgrind_verdict(st.valgrind_dir)
            _NOTES.append(summary)
            _FATAL.extend(complaints)


@pytest.fixture(scope="module")
def apache(stack, tmp_root, request):
    name = "apache-" + request.module.__name__.rsplit(".", 1)[-1]
    ap = S.Apache(stack, tmp_root / name)
    _start(ap)
    try:
        yield ap
    finally:
        _stop(ap)


@pytest.fixture(scope="module")
def nginx(stack, tmp_root, request):
    """fcgi-conf/nginx.conf (rendered; workers as www-data) in front of 4
    export.fcgi of its own, whose config is the session's with
    http.download = x-accel-redirect: .url, .api(...), .run_dir."""
    name = "nginx-" + request.module.__name__.rsplit(".", 1)[-1]
    web = S.Nginx(stack, tmp_root / name, name, children=4, default_key=stack.key_acme)
    web.run_dir.mkdir(mode=0o755)
    web.conf = stack.write_conf(web.run_dir / "exportd.conf", download="x-accel-redirect")
    _start(web)
    try:
        yield web
    finally:
        _stop(web)


# Each web server with the download handover it supports.
FRONTS = ["lighttpd", "apache", "nginx"]


@pytest.fixture(scope="session")
def host_page(stack, tmp_root):
    """examples/php/index.php under php-cgi + lighttpd (webstack.HostPage)."""
    page = W.HostPage(stack, tmp_root / "host-page")
    _start(page, "host page: ")
    try:
        yield page
    finally:
        _stop(page)


@pytest.fixture(params=FRONTS)
def front(request, stack):
    """The API client through lighttpd (x-sendfile), Apache (x-sendfile),
    then nginx (x-accel-redirect, export.fcgi of its own)."""
    if request.param == "lighttpd":
        return stack.api
    return request.getfixturevalue(request.param).api


# Login roles test_doctor.py makes in a database of its own, known to the
# pgbouncer below (its auth_file lists every user it lets in).
DOCTOR_LOGINS = ("doctor_worker", "doctor_api")


def pgbouncer_bin():
    return shutil.which("pgbouncer", path="/usr/sbin:/usr/bin")


@pytest.fixture(scope="module")
def bouncer(stack, tmp_root):
    """A pgbouncer (pool_mode = transaction) in front of the session's
    database, on a free port; its port."""
    pg = stack.pg
    # one per module that uses it
    run = S.make_tmp_root("exportd-pgbouncer-")
    pw = pwd.getpwnam("postgres")
    os.chown(run, pw.pw_uid, pw.pw_gid)
    users = run / "users.txt"
    users.write_text("".join('"%s" ""\n' % u for u in (
        S.Postgres.API_LOGIN, S.Postgres.WORKER_LOGIN, "postgres") + DOCTOR_LOGINS))
    port = S.free_port()
    ini = run / "pgbouncer.ini"
    ini.write_text("""[databases]
%s = host=127.0.0.1 port=%d dbname=%s
* = host=127.0.0.1 port=%d

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = transaction
default_pool_size = 3
max_client_conn = 200
logfile = %s/pgbouncer.log
pidfile = %s/pgbouncer.pid
""" % (pg.dbname, pg.port, pg.dbname, pg.port, port, users, run, run))
    for f in (users, ini):
        os.chown(f, pw.pw_uid, pw.pw_gid)
    S.LOGS["pgbouncer"] = run / "pgbouncer.log"
    svc = S.Service("pgbouncer stderr",
                    ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--",
                     pgbouncer_bin(), ini], run / "pgbouncer.stderr").start()
    S.wait_until(lambda: S.port_open(port), 15, "pgbouncer", check=svc.check_alive)
    yield port
    svc.stop()



@pytest.fixture(scope="module")
def side(stack, tmp_root):
    """side(name, settings) -> a started stack.SideWeb (one export.fcgi) whose
    config is the session's database and storage with `settings`
    ({section: {key: value}}) on top; stopped after the module."""
    started = []

    def make(name, settings):
        run_dir = tmp_root / name
        run_dir.mkdir(mode=0o755)
        conf = {"database": stack.pg.database_conf(),
                "http": {"base_path": "", "download": "x-sendfile"},
                "storage": {"backend": "local", "dir": str(stack.storage_dir)},
                "log": {"level": "info"},
                # acme creates more than the default 100 an hour across the
                # suite (as in the session's config); test_quotas.py sets its own
                "export": {"max_creates_per_hour_per_workspace": "0"}}
        if "database" in settings:   # a database of its own: none of the session's roles
            conf["database"] = {}
        for section, kv in settings.items():
            conf.setdefault(section, {}).update(kv)
        web = S.SideWeb(stack, run_dir, name, children=1, default_key=stack.key_acme)
        started.append(web)
        # No wait for /healthz: a config may point at no database on purpose.
        return web.start(S.write_conf_file(run_dir / "exportd.conf", conf), wait_healthy=False)

    yield make
    for s in started:
        s.stop()


@pytest.fixture(scope="module")
def complete_job(stack):
    r = H.call(stack, stack.api, "POST", "/exports", json={"type": "invoices", "format": "csv"})
    assert r.status_code == 202, r.text
    job = stack.wait_for_job(r.json()["id"], timeout=30)
    assert job["status"] == "complete", job
    return job


# Every export of acme's demo data the suite compares or downloads, created
# at once so that the workers run them side by side: name -> (job, bytes).
@pytest.fixture(scope="session")
def exports(stack):
    specs = {}
    for t in H.EXPORT_TYPES:
        specs[(t, "csv")] = {"type": t, "format": "csv"}
        specs[(t, "jsonl")] = {"type": t, "format": "jsonl"}
    for t, cols in H.EXPORT_SUBSETS.items():
        specs[(t, "csv", "subset")] = {"type": t, "format": "csv", "columns": cols}
    jobs = {name: H.create(stack, body) for name, body in specs.items()}
    gjob = H.create(stack, {"type": "contacts"}, key=stack.key_globex)
    done = H.wait_all(stack, jobs)
    done[("contacts", "csv", "globex")] = H.wait_all(
        stack, {"g": gjob}, key=stack.key_globex)["g"]
    out = {}
    for name, job in done.items():
        key = stack.key_globex if "globex" in name else S.DEFAULT
        out[name] = (job, H.download(stack, job, key=key).content)
    return out


# ------------------------------------------------------------ reporting

@pytest.fixture(autouse=True)
def _no_5xx_and_every_fcgi_alive():
    """Fail the test whose requests (through helpers.call) got a 5xx or left
    fewer export.fcgi processes alive than its pool started (4 for the stack;
    the database is up all along)."""
    n = len(H.ANSWERS)
    yield
    mine = H.ANSWERS[n:]
    if not mine:
        return
    errors = [a[:4] for a in mine if a[3] >= 500]
    alive, started = mine[-1][4], mine[-1][5]
    if errors or alive != started:
        pytest.fail("%d of %d export.fcgi processes alive after the last request; 5xx answers: "
                    "%s" % (alive, started, errors), pytrace=False)


@pytest.fixture(autouse=True)
def _no_sanitizer_reports():
    """Fail the test during which a server logged a sanitizer report."""
    before = S.log_sizes()
    yield
    found = _sanitizer_reports(since=before)
    if found:
        pytest.fail("sanitizer report in a server log:\n  " + "\n  ".join(found[:20]),
                    pytrace=False)


def pytest_sessionfinish(session, exitstatus):
    if _FATAL and session.exitstatus == 0:
        session.exitstatus = 1

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item._exportd_log_sizes = S.log_sizes()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    # Session fixtures may have started the servers during set-up: a failure
    # in the test itself shows only what was logged while it ran.
    item._exportd_log_sizes_call = S.log_sizes()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    since = getattr(item, "_exportd_log_sizes", None)
    if rep.when == "call":
        since = getattr(item, "_exportd_log_sizes_call", since)
    elif rep.when == "setup":
        since = None  # a fixture failed: show how the servers started
    for name, text in S.log_tails(since=since, lines=60):
        rep.sections.append(("%s: %s (last lines)" % (rep.when, name), text))


def pytest_terminal_summary(terminalreporter):
    if _TIMINGS:
        terminalreporter.section("exportd integration: start-up timings")
        for what, secs in _TIMINGS.items():
            terminalreporter.write_line("%-42s %7.3f s" % (what, secs))
    if _FATAL:
        terminalreporter.section("exportd integration: SANITIZER/VALGRIND REPORTS (the run fails)")
        for line in _FATAL[:50]:
            terminalreporter.write_line(line)
    if _NOTES:
        terminalreporter.section("exportd integration: notes")
        for n in _NOTES:
            terminalreporter.write_line(n)
