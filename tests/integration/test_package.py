"""The installed Debian package, used as an administrator would: the
programs, config layout, SQL and web-server snippets the .deb put on the
machine, the systemd units' command lines started by hand as the users the
units name (there is no systemd PID 1 here), and one export end to end
through each web server with its shipped snippet.

Needs the package installed (CI: scripts/deb, then apt-get install
./build-deb/exportd_*.deb); skipped otherwise.  It uses the installed
/run/exportd/fcgi.sock and /var/lib/exportd/exports, as the units do.
"""
import configparser
import contextlib
import csv
import io
import os
import pwd
import grp
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

import stack as S

UNITS = Path("/lib/systemd/system")
SOCKET = "/run/exportd/fcgi.sock"
STORAGE = Path("/var/lib/exportd/exports")
CONF = "/etc/exportd/exportd.conf"
ROWS = 25
LEFTOVERS = []


def installed():
    p = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "exportd"],
                       capture_output=True, text=True)
    return p.returncode == 0 and p.stdout.endswith("installed")


pytestmark = pytest.mark.skipif(
    not installed() or os.geteuid() != 0,
    reason="the exportd package is not installed (scripts/deb && apt-get install "
           "./build-deb/exportd_*.deb; CI does) or not root")


def unit(name):
    """A unit file's [Service]/[Socket] settings (last one wins, as systemd
    reads single-valued settings)."""
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    cp.read(UNITS / name)
    section = "Socket" if name.endswith(".socket") else "Service"
    return dict(cp[section])


def unit_env(settings):
    env = {}
    for item in shlex.split(settings.get("Environment", "")):
        k, _, v = item.partition("=")
        env[k] = v
    return env


def as_unit_user(settings, argv):
    """argv run as the unit's User/Group with its UMask."""
    # setpriv execs (runuser would stay as a parent and die of the TERM).
    return (["setpriv", "--reuid=" + settings["User"], "--regid=" + settings["Group"],
             "--init-groups", "--", "sh", "-c",
             'umask %s; exec "$@"' % settings.get("UMask", "0022"), "sh"] + argv)


@pytest.fixture(scope="module")
def pkgdb(stack):
    """A database of its own on the session's cluster, migrated by the
    installed exportctl, with login roles for the two programs, the
    installed demo schema and a key for workspace acme."""
    pg = stack.pg
    db = "pkg_" + uuid.uuid4().hex[:8]
    api, worker = db + "_fcgi", db + "_daemon"
    pg.query("CREATE DATABASE %s OWNER %s" % (db, S.Postgres.OWNER), dbname="postgres")

    def tcp(user):
        # TCP: the cluster's socket directory is the suite's, not one the
        # exportd user can be expected to reach.
        return "host=127.0.0.1 port=%d dbname=%s user=%s" % (pg.port, db, user)

    env = S.clean_env(EXPORTD_CONFIG=CONF, EXPORTD_DATABASE_URL=tcp(worker),
                      EXPORTD_DATABASE_API_URL=tcp(api),
                      EXPORTD_DATABASE_ADMIN_URL=tcp(S.Postgres.OWNER))

    def exportctl(*args):
        return S.run(["/usr/bin/exportctl"] + list(args), "installed exportctl", env=env)

    exportctl("migrate")
    pg.query("CREATE ROLE %s LOGIN IN ROLE %s_api; CREATE ROLE %s LOGIN IN ROLE %s_worker"
             % (api, db, worker, db))
    S.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", pg.dsn(db),
           "-f", "/usr/share/exportd/sql/demo/schema.sql"], "demo schema")
    pg.query("INSERT INTO contacts (workspace, email) SELECT 'acme', 'p' || g || '@example.com'"
             " FROM generate_series(1, %d) g" % ROWS, dbname=db)
    pg.query("SELECT exportd_type_grant('contacts')", dbname=db)
    key = exportctl("apikey", "create", "--workspace", "acme",
                    "--email", "pkg@example.com").stdout.strip()
    yield {"db": db, "env": env, "key": key}
    pg.query("DROP DATABASE %s WITH (FORCE)" % db, dbname="postgres")
    pg.query("DROP ROLE %s, %s, %s_api, %s_worker" % (api, worker, db, db))


@pytest.fixture(scope="module")
def daemon(pkgdb, tmp_path_factory):
    """exportd.service's ExecStart, as its User, with its Environment."""
    s = unit("exportd.service")
    env = dict(pkgdb["env"], **unit_env(s))
    # ExecStartPre first, as systemd runs it: config, database, schema.
    p = subprocess.run(as_unit_user(s, shlex.split(s["ExecStartPre"])), env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "schema ok" in p.stdout, p
    log = tmp_path_factory.mktemp("pkg") / "exportd.log"
    svc = S.Service("pkg-exportd", as_unit_user(s, shlex.split(s["ExecStart"])), log,
                    env=env).start()
    time.sleep(0.5)
    svc.check_alive()
    yield svc
    assert svc.stop() == 0, S.tail(log)


def fcgi(pkgdb, download, log):
    """export-fcgi.service's ExecStart on export-fcgi.socket's socket: what
    systemd does, done by spawn-fcgi (which, like StandardInput=socket,
    hands the listening socket over as standard input)."""
    sock, svc = unit("export-fcgi.socket"), unit("export-fcgi.service")
    assert sock["ListenStream"] == SOCKET
    os.makedirs(os.path.dirname(SOCKET), mode=int(sock["DirectoryMode"], 8), exist_ok=True)
    env = dict(pkgdb["env"], EXPORTD_HTTP_DOWNLOAD=download, **unit_env(svc))
    # (the socket is root's as spawn-fcgi makes it: it refuses -U root)
    assert sock["SocketUser"] == "root"
    argv = ["spawn-fcgi", "-n", "-s", SOCKET, "-M", sock["SocketMode"],
            "-G", sock["SocketGroup"],
            "-u", svc["User"], "-g", svc["Group"], "--"] + shlex.split(svc["ExecStart"])
    # spawn-fcgi drops to User/Group itself; the umask is the unit's.
    argv = ["sh", "-c", 'umask %s; exec "$@"' % svc["UMask"], "sh"] + argv
    return S.Service("pkg-fcgi", argv, log, env=env).start()


def lighttpd(run, port):
    # lighttpd opens its error log and upload dir after dropping to
    # www-data, which cannot reach into pytest's 0700 temp tree.
    run = Path(S.make_tmp_root("exportd-pkg-lighttpd-"))
    LEFTOVERS.append(run)
    pw = pwd.getpwnam("www-data")
    os.chown(run, pw.pw_uid, pw.pw_gid)
    conf = run / "lighttpd.conf"
    conf.write_text("""
server.modules = ( "mod_access", "mod_fastcgi", "mod_accesslog" )
server.bind = "127.0.0.1"
server.port = %d
server.document-root = "%s"
server.pid-file = "%s/lighttpd.pid"
server.errorlog = "%s/error.log"
server.upload-dirs = ( "%s" )
server.username = "www-data"
server.groupname = "www-data"
# Debian's conf-available/10-accesslog.conf: the default format (its
# request line holds the query string).
accesslog.filename = "%s/access.log"
include "/etc/lighttpd/conf-available/50-exportd.conf"
""" % (port, run, run, run, run, run))
    S.run(["lighttpd", "-tt", "-f", conf], "lighttpd -tt")
    return ["lighttpd", "-D", "-f", conf], [run / "access.log"]


def apache(run, port):
    # As Debian enables them, and what the snippet asks for.
    mods = ["mpm_event", "authz_core", "authz_host", "proxy", "proxy_fcgi", "buffer",
            "headers", "rewrite", "env", "setenvif", "reqtimeout", "xsendfile"]
    conf = run / "apache.conf"
    conf.write_text("".join("LoadModule %s_module /usr/lib/apache2/modules/mod_%s.so\n"
                            % (m, m) for m in mods) + """
ServerRoot "%s"
DefaultRuntimeDir "%s"
PidFile "%s/apache.pid"
ErrorLog "%s/error.log"
Listen 127.0.0.1:%d
ServerName 127.0.0.1
User www-data
Group www-data
Define APACHE_LOG_DIR %s
LogFormat "%%h %%l %%u %%t \\"%%r\\" %%>s %%O \\"%%{Referer}i\\" \\"%%{User-Agent}i\\"" combined
Include /etc/apache2/conf-available/exportd.conf
# Debian's default site with its CustomLog as README "Install on Debian"
# has the admin change it (env=!exportd_request).
<VirtualHost 127.0.0.1:%d>
    CustomLog %s/access.log combined env=!exportd_request
</VirtualHost>
""" % (run, run, run, run, port, run, port, run))
    S.run(["apache2", "-t", "-f", conf], "apache2 -t")
    return ["apache2", "-f", conf, "-DFOREGROUND"], [run / "access.log",
                                                     run / "exportd-access.log"]


def nginx(run, port):
    conf = run / "nginx.conf"
    conf.write_text("""
daemon off;
worker_processes 1;
pid %s/nginx.pid;
error_log %s/error.log warn;
user www-data www-data;
events { worker_connections 64; }
http {
    # As Debian's nginx.conf: the default format (with $request) and conf.d.
    access_log %s/access.log;
    include /etc/nginx/conf.d/exportd-log.conf;
    client_body_temp_path %s/body;
    fastcgi_temp_path %s/fastcgi;
    proxy_temp_path %s/proxy;
    uwsgi_temp_path %s/uwsgi;
    scgi_temp_path %s/scgi;
    server {
        listen 127.0.0.1:%d;
        include /etc/nginx/snippets/exportd.conf;
    }
}
""" % ((run,) * 8 + (port,)))
    S.run(["nginx", "-t", "-c", conf], "nginx -t")
    # The snippet logs to Debian's /var/log/nginx/access.log.
    return ["nginx", "-c", conf], [run / "access.log", Path("/var/log/nginx/access.log")]


SERVERS = {"lighttpd": (lighttpd, "x-sendfile"), "apache": (apache, "x-sendfile"),
           "nginx": (nginx, "x-accel-redirect")}


class Front:
    """One web server with its installed snippet in front of
    export-fcgi.service's command line."""

    def __init__(self, fc, web, base, logs):
        self.fc, self.web, self.base, self.logs = fc, web, base, logs


@contextlib.contextmanager
def front(pkgdb, tmp_path, server, download="stream"):
    make = SERVERS[server][0]
    tmp_path.chmod(0o755)
    fc = fcgi(pkgdb, download, tmp_path / "fcgi.log")
    web = None
    try:
        S.wait_until(lambda: os.path.exists(SOCKET), 10, "the FastCGI socket",
                     check=fc.check_alive)
        st = os.stat(SOCKET)
        assert (oct(st.st_mode & 0o777), grp.getgrgid(st.st_gid).gr_name) == \
            ("0o660", "www-data")
        port = S.free_port()
        argv, logs = make(tmp_path, port)
        web = S.Service("pkg-" + server, argv, tmp_path / "web.log").start()
        S.wait_until(lambda: S.port_open(port), 10, server, check=web.check_alive)
        yield Front(fc, web, "http://127.0.0.1:%d/exportd" % port, logs)
    finally:
        if web is not None:
            web.stop()
        fc.stop()
        if os.path.exists(SOCKET):
            os.unlink(SOCKET)
        while LEFTOVERS:
            shutil.rmtree(LEFTOVERS.pop(), ignore_errors=True)


def logged(logs, needle):
    """The access-log lines (of any of logs) that hold needle."""
    return [line for log in logs if log.exists()
            for line in log.read_text(errors="replace").splitlines() if needle in line]


def assert_tokens_not_logged(web, job):
    """Download links with a mail token and a widget token through the
    server: the server logs each path, never the token (Debian's default
    formats would log the query string)."""
    mark = uuid.uuid4().hex
    tokens = ("4102444800.bWFpbC10b2tlbi0" + mark, "exe1.d2lkZ2V0LXRva2VuLQ." + mark)
    path = "/exports/%s/download" % job
    for name, token in zip(("token", "access_token"), tokens):
        r = requests.get(web.base + path + "?" + name + "=" + token, timeout=10,
                         allow_redirects=False)
        # No [mail] link_secrets / [embed] secrets here: refused, but the
        # server logs the same line for a link that works.
        assert r.status_code in (401, 403, 410), (name, r.status_code, r.text)
    S.wait_until(lambda: len(logged(web.logs, "/exportd" + path)) >= 2, 10,
                 "the access log lines of %s" % path)
    # (Only this test's lines: /var/log/nginx/access.log is the machine's.)
    leaked = logged(web.logs, mark) + [line for line in logged(web.logs, "/exportd" + path)
                                       if "token=" in line]
    assert not leaked, "an access log holds a link token:\n" + "\n".join(leaked)


@pytest.mark.parametrize("server", ["lighttpd", "apache", "nginx"])
@pytest.mark.parametrize("mode", ["stream", "server"])
def test_export_through_the_installed_snippet(stack, pkgdb, daemon, tmp_path, server, mode):
    """mode "stream": export.fcgi sends the file; "server": the web server
    does (X-Sendfile / X-Accel-Redirect), as www-data."""
    download = SERVERS[server][1] if mode == "server" else "stream"
    with front(pkgdb, tmp_path, server, download) as web:
        base = web.base
        auth = {"Authorization": "Bearer " + pkgdb["key"]}

        r = requests.get(base + "/healthz", timeout=10)
        assert r.status_code == 200, r.text
        r = requests.post(base + "/exports", json={"type": "contacts",
                                                   "columns": ["id", "email"]},
                          headers=auth, timeout=10)
        assert r.status_code == 202, r.text
        job = r.json()
        deadline = time.monotonic() + 60
        while job["status"] not in ("complete", "failed", "cancelled"):
            assert time.monotonic() < deadline, job
            time.sleep(0.2)
            job = requests.get(base + "/exports/" + job["id"], headers=auth, timeout=10).json()
        assert job["status"] == "complete", job

        # The file: group www-data (the storage directory is setgid), not
        # readable by others; the web server (www-data) serves it.
        files = [p for p in STORAGE.iterdir() if p.name.startswith(job["id"])]
        assert len(files) == 1, files
        st = files[0].stat()
        assert (pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name,
                oct(st.st_mode & 0o777)) == ("exportd", "www-data", "0o640")

        r = requests.get(base + "/exports/" + job["id"] + "/download", headers=auth,
                         timeout=30)
        assert r.status_code == 200, (r.status_code, r.text[:300])
        rows = list(csv.reader(io.StringIO(r.content.decode())))
        assert rows[0] == ["id", "email"]
        ids = stack.pg.query("SELECT id FROM contacts WHERE workspace = 'acme'",
                             dbname=pkgdb["db"])
        assert sorted(int(x[0]) for x in rows[1:]) == sorted(x[0] for x in ids)
        r = requests.get(base + "/exports/" + job["id"] + "/download",
                         headers=dict(auth, Range="bytes=0-4"), timeout=30)
        assert (r.status_code, r.content) == (206, b"id,em")

        assert_tokens_not_logged(web, job["id"])

        # A body over 64k (http.body_limit): 413 problem+json, not read.
        r = requests.post(base + "/exports", data=b"x" * 70000, timeout=10,
                          headers=dict(auth, **{"Content-Type": "application/json"}))
        assert r.status_code == 413 and r.headers["Content-Type"].startswith(
            "application/problem+json") and r.json()["status"] == 413, (r.status_code, r.text)

        # /metrics: this machine only (the snippet's rule), and it answers.
        r = requests.get(base + "/metrics", timeout=10)
        assert r.status_code == 200 and "exportd_jobs" in r.text, r.text[:300]
        requests.delete(base + "/exports/" + job["id"], headers=auth, timeout=10)


def body_request(web, key, length):
    """The head of a POST /exports announcing length bytes, and the port."""
    port = int(web.base.split(":")[2].split("/")[0])
    head = ("POST /exportd/exports HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n\r\n" % (key, length)).encode()
    return port, head


def slow_sender(web, key, stop, hangups):
    """A body of 1000 bytes sent one byte every 2 s until stop is set; a
    hang-up by the server is recorded."""
    port, head = body_request(web, key, 1000)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(head + b"{")
            while not stop.wait(2):
                s.sendall(b" ")
    except OSError as e:
        hangups.append(repr(e))


def quiet_client(web, key, out):
    """Headers and one byte of a body, then nothing: the seconds until the
    server hangs up."""
    port, head = body_request(web, key, 1000)
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(head + b"{")
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass
    out.append(time.monotonic() - t0)


# How long each server, as shipped, lets a client sit quiet in a body:
# the lighttpd snippet's server.max-read-idle and the nginx snippet's
# client_body_timeout (10 s), Debian's mod_reqtimeout default for Apache
# (body=20, MinRate=500).
QUIET = {"lighttpd": 10, "apache": 20, "nginx": 10}


@pytest.mark.parametrize("server", ["lighttpd", "apache", "nginx"])
def test_slow_quiet_and_oversized_bodies_through_the_installed_snippet(pkgdb, tmp_path,
                                                                       server):
    """8 bodies at a byte every 2 s do not hold /healthz (the snippet
    buffers them); a client quiet in its body is dropped; a body announced
    over 64 KiB is refused at once (413), without waiting for it."""
    key = pkgdb["key"]
    with front(pkgdb, tmp_path, server) as web:
        # (Not Apache: mod_proxy reads the announced body before anything
        # answers, whatever LimitRequestBody says; mod_reqtimeout bounds it.)
        if server != "apache":
            port, head = body_request(web, key, 10_000_000)
            t0 = time.monotonic()
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(head + b"{")
                answer = s.recv(4096)
            assert answer.startswith((b"HTTP/1.1 413", b"HTTP/1.0 413")), answer[:200]
            assert time.monotonic() - t0 < 5

        stop, hangups, quiet = threading.Event(), [], []
        threads = [threading.Thread(target=slow_sender, args=(web, key, stop, hangups),
                                    daemon=True) for _ in range(8)]
        threads.append(threading.Thread(target=quiet_client, args=(web, key, quiet),
                                        daemon=True))
        for t in threads:
            t.start()
        seconds = []
        try:
            time.sleep(0.5)
            end = time.monotonic() + 6
            while time.monotonic() < end:
                t0 = time.monotonic()
                r = requests.get(web.base + "/healthz", timeout=5)
                seconds.append(time.monotonic() - t0)
                assert r.status_code == 200, r.text
                time.sleep(max(0.0, 0.5 - seconds[-1]))
            threads[-1].join(timeout=QUIET[server] + 10)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=10)
        print("%s: /healthz with 8 slow bodies open: %d answers, slowest %.3fs; "
              "a quiet body dropped after %s s" % (server, len(seconds), max(seconds), quiet))
        assert max(seconds) < 1, seconds
        assert quiet and QUIET[server] - 1 <= quiet[0] < QUIET[server] + 5, quiet


def fcgi_children(fc):
    """The export.fcgi processes multiwatch runs."""
    p = subprocess.run(["pgrep", "-P", str(fc.pid)], capture_output=True, text=True)
    return set(int(x) for x in p.stdout.split())


def test_multiwatch_restarts_a_child_that_dies(pkgdb, tmp_path):
    """export-fcgi.service's multiwatch replaces an export.fcgi that is
    killed, and requests keep being answered meanwhile."""
    auth = {"Authorization": "Bearer " + pkgdb["key"]}
    with front(pkgdb, tmp_path, "lighttpd") as web:
        forks = int(shlex.split(unit("export-fcgi.service")["ExecStart"])[1].split("=")[1])
        S.wait_until(lambda: len(fcgi_children(web.fc)) == forks, 10,
                     "%d export.fcgi processes" % forks)
        before = fcgi_children(web.fc)
        victim = min(before)
        assert open("/proc/%d/comm" % victim).read().strip() == "export.fcgi"
        os.kill(victim, signal.SIGKILL)
        for _ in range(2 * forks):
            r = requests.get(web.base + "/exports", headers=auth, timeout=10)
            assert r.status_code == 200, r.text
        S.wait_until(lambda: len(fcgi_children(web.fc)) == forks, 10,
                     "multiwatch to start a new export.fcgi", check=web.fc.check_alive)
        after = fcgi_children(web.fc)
        assert victim not in after and len(after - before) == 1, (before, after)
        for _ in range(2 * forks):
            r = requests.get(web.base + "/exports", headers=auth, timeout=10)
            assert r.status_code == 200, r.text


def test_the_daemon_refuses_to_start_without_a_database_url():
    """What `systemctl start exportd` does on a fresh install: the config
    ships without a database URL, and the daemon says so and exits."""
    s = unit("exportd.service")
    p = subprocess.run(as_unit_user(s, shlex.split(s["ExecStartPre"])),
                       env=S.clean_env(**unit_env(s)), capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 1, p
    assert "database.url: empty" in p.stderr, p.stderr


def test_installed_files_and_modes():
    st = os.stat(CONF)
    assert (pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name,
            oct(st.st_mode & 0o777)) == ("root", "exportd", "0o640")
    st = STORAGE.stat()
    assert (pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name,
            oct(st.st_mode & 0o7777)) == ("exportd", "www-data", "0o2750")
    for path in ("/usr/sbin/exportd", "/usr/bin/exportctl", "/usr/lib/cgi-bin/export.fcgi"):
        assert os.access(path, os.X_OK), path
    # The alert rules, as Prometheus loads them from the package.
    p = subprocess.run(["promtool", "check", "rules",
                        "/usr/share/exportd/prometheus/exportd-alerts.yml"],
                       capture_output=True, text=True, cwd="/")
    assert p.returncode == 0 and "SUCCESS: 8 rules found" in p.stdout, p.stdout + p.stderr
    p = subprocess.run(["systemd-analyze", "verify"] + [str(UNITS / u) for u in (
        "exportd.service", "export-fcgi.socket", "export-fcgi.service")],
        capture_output=True, text=True, cwd="/")
    assert p.returncode == 0, p.stderr
