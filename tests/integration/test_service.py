"""exportd as a service manager runs it: `exportd -t` (the unit's
ExecStartPre) and the sd_notify protocol of a Type=notify unit (READY,
RELOADING, STOPPING, STATUS), read from a datagram socket standing in for
systemd's $NOTIFY_SOCKET."""
import os
import signal
import socket
import subprocess
import time
import uuid

import pytest

import stack as S


def exportd_t(stack, conf, **env):
    return subprocess.run([str(stack.exportd_bin), "-t", "-c", str(conf)],
                          env=S.clean_env(**env), capture_output=True, text=True, timeout=60)


def test_t_says_ok_for_the_running_config(stack):
    p = exportd_t(stack, stack.conf_path)
    assert p.returncode == 0, p
    assert "configuration, database and schema ok" in p.stdout, p.stdout


def test_t_names_a_database_that_does_not_answer(stack):
    p = exportd_t(stack, stack.conf_path,
                  EXPORTD_DATABASE_URL="host=127.0.0.1 port=%d dbname=x user=x connect_timeout=2"
                  % S.free_port())
    assert p.returncode == 1, p
    assert "database.url:" in p.stderr and "Connection refused" in p.stderr, p.stderr


def test_t_refuses_an_empty_database_url(stack):
    p = exportd_t(stack, stack.conf_path, EXPORTD_DATABASE_URL="")
    assert p.returncode == 1, p
    assert "database.url: empty" in p.stderr, p.stderr


def test_t_refuses_a_database_that_lacks_migrations(stack):
    db = "notmigrated_" + uuid.uuid4().hex[:8]
    stack.pg.query("CREATE DATABASE %s" % db, dbname="postgres")
    try:
        p = exportd_t(stack, stack.conf_path, EXPORTD_DATABASE_URL=stack.pg.dsn(db))
        assert p.returncode == 1, p
        assert "lacks" in p.stderr and "from 001_core" in p.stderr \
            and "exportctl migrate" in p.stderr, p.stderr
    finally:
        stack.pg.query("DROP DATABASE %s" % db, dbname="postgres")


def test_t_runs_as_the_worker_role(stack):
    """The runtime role may read which migrations ran (migration 010)."""
    assert stack.pg.database_conf()["url"].endswith("user=" + S.Postgres.WORKER_LOGIN)
    p = exportd_t(stack, stack.conf_path)
    assert p.returncode == 0 and "permission denied" not in p.stderr, p


class NotifySocket:
    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.seen = []

    def wait_for(self, pred, timeout, what, start=0):
        """The first notification from the start-th on that pred accepts."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for msg in self.seen[start:]:
                if pred(msg):
                    return msg
            try:
                self.seen.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass
        raise AssertionError("no %s notification in %s" % (what, self.seen))

    def close(self):
        self.sock.close()


@pytest.fixture
def notified(stack, tmp_path):
    """(an exportd of its own with $NOTIFY_SOCKET, the socket); the
    session's exportd is stopped meanwhile so that only this one claims."""
    ns = NotifySocket(tmp_path / "notify.sock")
    stack.exportd.stop(grace=15)
    d = S.ExtraExportd(stack, "exportd notify", {"exportd": {"workers": "2"}})
    env = S.clean_env(NOTIFY_SOCKET=ns.path)
    try:
        d.service = S.Service(d.name, [stack.exportd_bin, "-c", d.conf_path], d.log,
                              env=env).start()
        yield d, ns
    finally:
        if d.alive():
            d.service.stop(grace=15)
        ns.close()
        stack.start_exportd()


def test_notify_ready_status_reloading_stopping(stack, notified):
    d, ns = notified
    ns.wait_for(lambda m: "READY=1" in m, 15, "READY")
    st = ns.wait_for(lambda m: "exports running" in m or "export running" in m, 15,
                     "STATUS from the janitor")
    assert "STATUS=2 workers;" in st and "waiting" in st, st
    n = len(ns.seen)
    os.kill(d.pid, signal.SIGHUP)
    ns.wait_for(lambda m: m == "RELOADING=1", 10, "RELOADING", start=n)
    ns.wait_for(lambda m: m == "READY=1", 15, "READY after the reload", start=n)
    os.kill(d.pid, signal.SIGTERM)
    ns.wait_for(lambda m: m == "STOPPING=1", 15, "STOPPING")
    assert d.service.proc.wait(15) == 0


def test_status_counts_waiting_exports(stack, notified):
    """With the workers stopped, due jobs show up as waiting in the STATUS
    line the janitor keeps current."""
    d, ns = notified
    ns.wait_for(lambda m: "READY=1" in m, 15, "READY")
    workers = [int(p) for p in subprocess.run(
        ["pgrep", "-P", str(d.pid), "-x", "exportd-worker"],
        capture_output=True, text=True).stdout.split()]
    assert len(workers) == 2, workers
    for pid in workers:
        os.kill(pid, signal.SIGSTOP)
    try:
        stack.pg.query("INSERT INTO export_jobs (workspace, type, format)"
                       " SELECT 'acme', 'contacts', 'csv' FROM generate_series(1, 3)")
        ns.wait_for(lambda m: m.startswith("STATUS=") and m.endswith(" 3 waiting"), 20,
                    "STATUS with 3 waiting")
        n = len(ns.seen)
    finally:
        for pid in workers:
            os.kill(pid, signal.SIGCONT)
    ns.wait_for(lambda m: m.startswith("STATUS=") and m.endswith(" 0 waiting"), 60,
                "STATUS with none waiting once the workers ran them", start=n)


def test_export_files_get_the_configured_group_and_mode(stack, tmp_path):
    """storage.file_group / storage.file_mode: the web server's group reads
    the files (X-Sendfile / X-Accel-Redirect), whatever exportd's umask; a
    storage.dir exportd creates gets the group too."""
    import grp
    store = S.make_tmp_root("exportd-perm-") / "exports"
    stack.exportd.stop(grace=15)
    d = S.ExtraExportd(stack, "exportd file model", {
        "storage": {"file_group": "www-data", "file_mode": "0660"}}, storage_dir=store)
    try:
        d.service = S.Service(d.name, ["sh", "-c", 'umask 077; exec "$@"', "sh",
                                       stack.exportd_bin, "-c", d.conf_path], d.log).start()
        job = str(stack.pg.query("INSERT INTO export_jobs (workspace, type, format)"
                                 " VALUES ('acme', 'contacts', 'csv') RETURNING id")[0][0])
        S.wait_until(lambda: stack.pg.query("SELECT status FROM export_jobs WHERE id = %s",
                                            (job,))[0][0] == "complete", 30, "the export")
        www = grp.getgrnam("www-data").gr_gid
        f = next(store.glob(job + "*")).stat()
        assert (f.st_gid, oct(f.st_mode & 0o777)) == (www, "0o660")
        st = store.stat()
        assert (st.st_gid, oct(st.st_mode & 0o777)) == (www, "0o750")
    finally:
        d.service.stop(grace=15)
        stack.start_exportd()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGUSR1])
def test_export_fcgi_finishes_the_request_in_hand_then_exits(stack, side, sig):
    """SIGTERM (systemd, spawn-fcgi users) or SIGUSR1 (multiwatch's
    graceful stop) while a request is half read: the request is answered
    whole, then the process exits 0; an idle process exits at once."""
    import fcgiraw as F
    web = side("graceful-%d" % sig, {"http": {"body_timeout": "10s"}})
    web.wait_healthz()
    pid = S.read_pids(web.fcgi_pidfile)[0]
    body = b'{"type": "contacts", "columns": ["id"]}'
    env = F.cgi_env("POST", "/exports", {"Authorization": "Bearer " + stack.key_acme,
                                         "Content-Type": "application/json"},
                    content_length=len(body))
    with F.Conn(web.fcgi_socket, timeout=15) as c:
        c.send(F.begin() + F.params(env) + F.record(F.STDIN, body[:5]))
        time.sleep(0.5)  # the process is reading the body
        os.kill(pid, sig)
        time.sleep(0.3)
        assert S.pid_alive(pid), "export.fcgi died with a request in hand"
        c.send(F.record(F.STDIN, body[5:]) + F.record(F.STDIN, b""))
        a = c.answer()
    assert a.status == 202, a
    S.wait_until(lambda: not S.pid_alive(pid), 5, "export.fcgi to exit after its request")
    try:  # spawn-fcgi's children are orphans the suite reaps (stack.become_subreaper)
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    except ChildProcessError:
        pass
    # idle: at once
    web.stop_fcgi()
    web.start_fcgi(web.conf)
    pid = S.read_pids(web.fcgi_pidfile)[0]
    t0 = time.monotonic()
    os.kill(pid, sig)
    S.wait_until(lambda: not S.pid_alive(pid), 2, "an idle export.fcgi to exit")
    assert time.monotonic() - t0 < 1
