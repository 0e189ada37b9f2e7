"""Servers for the mail tests (tests/integration/test_mail.py).

The session `stack` runs exportd without mail. The mail tests need their
own trio on the session's PostgreSQL and storage dir, all reading ONE
config file that has a [mail] section:

  * export.fcgi x4 under spawn-fcgi and lighttpd (stack.SideWeb: own
    socket, pid file, logs, port and run dir): it must know
    mail.link_secrets to verify the signed links of the mails, and the
    session's export.fcgi reads the session's config, which has none;
  * exportd (supervisor, workers and the mailer) with mail.smtp_url
    pointing at an SMTP capture server;
  * SMTP capture servers: aiosmtpd's Mailbox handler in a subprocess
    (`python3 -m aiosmtpd -n -l HOST:PORT -c aiosmtpd.handlers.Mailbox DIR`,
    messages in DIR/new), or, for AUTH, a small script starting
    aiosmtpd.controller.Controller with auth_required and an authenticator
    that accepts one user/password and logs every attempt.

While MailStack runs, the session's exportd must NOT run: it claims jobs
from the same table and, having no mail config, completes them without
queueing any mail. The test module's fixture stops it (stack.exportd.stop())
and brings it back (stack.start_exportd()) at the end. Likewise only one
mail-enabled exportd may run at a time: every mailer delivers every pending
notification of the database.

Kept free of pytest fixtures, like stack.py.
"""

import email
import email.policy
import json
import os
import signal
import textwrap
from pathlib import Path

import stack as S

PYTHON = "/usr/bin/python3"  # Debian's: it has aiosmtpd

AUTH_SERVER_SCRIPT = textwrap.dedent('''\
    """SMTP capture with AUTH: accepts one user/password, saves to a Maildir."""
    import json
    import sys
    import threading

    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Mailbox
    from aiosmtpd.smtp import AuthResult, LoginPassword

    host, port, maildir, user, password, authlog = sys.argv[1:]


    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login == user.encode()
              and auth_data.password == password.encode())
        login = auth_data.login.decode("utf-8", "replace") \\
            if isinstance(auth_data, LoginPassword) else repr(auth_data)
        with open(authlog, "a") as f:
            f.write(json.dumps({"mechanism": mechanism, "login": login, "ok": ok}) + "\\n")
        if ok:
            return AuthResult(success=True)
        # handled=False: aiosmtpd answers 535 itself (handled=True without
        # a message leaves the client waiting for ever).
        return AuthResult(success=False, handled=False)


    controller = Controller(Mailbox(maildir), hostname=host, port=int(port),
                            auth_required=True, auth_require_tls=False,
                            authenticator=authenticator)
    controller.start()
    print("listening on %s:%s" % (host, port), flush=True)
    threading.Event().wait()
''')


def parse_mail(path):
    with open(path, "rb") as f:
        return email.message_from_binary_file(f, policy=email.policy.default)


class SmtpCapture:
    """An SMTP server that saves every message it accepts to a Maildir.

    auth=(user, password): the AUTH variant (Controller script); else the
    plain `python3 -m aiosmtpd ... Mailbox` one. port: a fixed port (to
    bring a server up where exportd has been failing to connect); default a
    free one."""

    def __init__(self, root, name, port=None, auth=None):
        self.root = Path(root)
        self.name = name
        self.port = port
        self.auth = auth
        self.maildir = self.root / ("%s-maildir" % name)   # must not exist yet
        self.authlog = self.root / ("%s-auth.jsonl" % name)
        self.log = self.root / ("%s.log" % name)
        self.service = None

    @property
    def url(self):
        return "smtp://127.0.0.1:%d" % self.port

    def _service(self, port):
        if self.auth is None:
            argv = [PYTHON, "-m", "aiosmtpd", "-n", "-l", "127.0.0.1:%d" % port,
                    "-c", "aiosmtpd.handlers.Mailbox", self.maildir]
        else:
            script = self.root / "smtp_auth_server.py"
            if not script.exists():
                script.write_text(AUTH_SERVER_SCRIPT)
            argv = [PYTHON, script, "127.0.0.1", port, self.maildir,
                    self.auth[0], self.auth[1], self.authlog]
        return S.Service("smtp " + self.name, argv, self.log,
                         env=S.clean_env(PYTHONDONTWRITEBYTECODE=1))

    def start(self):
        if self.port is None:
            self.service, self.port = S.start_on_free_port(
                self._service, "SMTP capture " + self.name, ["smtp " + self.name])
        else:
            self.service = self._service(self.port).start()
            try:
                S.wait_until(lambda: S.listens_on(self.service.pid, self.port), 15,
                             "SMTP capture %s to listen on %d" % (self.name, self.port),
                             check=self.service.check_alive)
            except S.StackError as e:
                self.service.stop()
                raise S.StackError("%s\n%s" % (e, S.logs_excerpt(["smtp " + self.name])))
        return self

    def stop(self):
        if self.service is not None:
            self.service.stop(grace=5)
        S.LOGS.pop("smtp " + self.name, None)

    def files(self):
        new = self.maildir / "new"
        try:
            return sorted(new.iterdir())
        except FileNotFoundError:
            return []

    def messages(self):
        """[(path, mtime, EmailMessage)] of everything received, oldest first."""
        out = []
        for p in self.files():
            out.append((p, p.stat().st_mtime, parse_mail(p)))
        out.sort(key=lambda t: t[1])
        return out

    def auth_attempts(self):
        try:
            return [json.loads(line) for line in self.authlog.read_text().splitlines()
                    if line.strip()]
        except FileNotFoundError:
            return []


def mails_about(captures, job_id):
    """[(capture, path, mtime, msg)] of every message, in any of the
    captures, that is about job_id (its Message-ID or its text part names
    it)."""
    found = []
    for cap in captures:
        for path, mtime, msg in cap.messages():
            mid = msg.get("Message-ID", "") or ""
            try:
                body = msg.get_body(("plain",))
                text = body.get_content() if body is not None else ""
            except Exception:  # noqa: BLE001 - a broken mail still counts
                text = path.read_text("utf-8", "replace")
            if job_id in mid or job_id in text:
                found.append((cap, path, mtime, msg))
    return found


class MailExportd:
    """exportd (supervisor + workers + mailer) with a given config file."""

    def __init__(self, ms, name, conf_path):
        self.ms = ms
        self.name = name
        self.conf_path = conf_path
        self.log = ms.run_dir / ("%s.log" % name)
        self.service = None

    @property
    def pid(self):
        return self.service.pid if self.service else None

    def alive(self):
        return self.service is not None and self.service.alive()

    def start(self, timeout=15):
        self.ms.wait_no_exportd()
        self.service = S.Service("mail " + self.name,
                                 S.valgrind_argv(self.ms.stack.valgrind_dir, "exportd") + [
                                     self.ms.stack.exportd_bin, "-c", self.conf_path],
                                 self.log, env=S.clean_env())
        self.service.start()

        def up():
            w, m = self.ms.exportd_connections()
            return w >= self.ms.workers and m >= 1

        try:
            S.wait_until(up, timeout * S.TIME_SCALE, "%s: %d workers and the mailer connected"
                         % (self.name, self.ms.workers),
                         check=self.service.check_alive)
        except S.StackError as e:
            raise S.StackError("%s\n%s" % (e, S.logs_excerpt(["mail " + self.name])))
        return self

    def pids(self):
        """Supervisor and its children (workers and the mailer)."""
        if not self.alive():
            return []
        return [self.pid] + S.children_of(self.pid)

    def kill9(self):
        """SIGKILL the supervisor, workers and mailer at once (the process
        group); returns the pids that were killed."""
        pids = self.pids()
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.service.proc.wait(10)
        S.wait_until(lambda: not any(S.pid_alive(p) for p in pids), 10,
                     "%s: pids %s to die" % (self.name, pids))
        S.reap(pids[1:])
        return pids

    def stop(self, wait=True):
        """SIGTERM the group (SIGKILL after 15 s); with wait, also until no
        exportd at all is connected (do not wait while another one runs)."""
        if self.service is not None:
            self.service.stop(grace=15)
        if wait:
            self.ms.wait_no_exportd()

    def log_text(self):
        try:
            return self.log.read_text("utf-8", "replace")
        except FileNotFoundError:
            return ""


class MailStack:
    """spawn-fcgi'd export.fcgi x4 + lighttpd with its own config (the one
    with [mail]), and the means to run exportd with variants of it."""

    workers = 1

    def __init__(self, stack, root):
        self.stack = stack
        self.pg = stack.pg
        self.root = Path(root)
        self.run_dir = self.root / "run"
        self.web = None
        self._confs = 0

    # -- config

    def base_sections(self):
        """[database] and [storage] copied from the session's config file."""
        sections, cur = {}, None
        for line in Path(self.stack.conf_path).read_text().splitlines():
            s = line.strip()
            if not s or s[0] in "#;":
                continue
            if s.startswith("[") and s.endswith("]"):
                cur = s[1:-1].strip()
                continue
            if cur in ("database", "storage") and "=" in s:
                k, v = s.split("=", 1)
                sections.setdefault(cur, {})[k.strip()] = v.strip()
        return sections

    def write_conf(self, name, mail, download="x-sendfile"):
        """A config file: the session's [database]/[storage], fast polling,
        x-sendfile downloads (lighttpd, Apache; x-accel-redirect for nginx)
        and [mail] = `mail`. Returns its path."""
        self._confs += 1
        path = self.root / ("%02d-%s.conf" % (self._confs, name))
        sections = self.base_sections()
        sections.update({
            "http": {"base_path": "", "download": download},
            "exportd": {"workers": str(self.workers), "poll_interval": "200ms"},
            "export": {"csv_line_ending": "lf"},
            "log": {"level": "info"},
            "mail": {k: str(v) for k, v in mail.items()},
        })
        if self.base_url is not None:
            sections["mail"].setdefault("public_url", self.base_url)
        lines = ["# written by tests/integration/mailstack.py (%s)" % name]
        for section in ("database", "http", "exportd", "storage", "export", "log", "mail"):
            lines.append("[%s]" % section)
            for k, v in sections.get(section, {}).items():
                # Quoted, so that '#' or ';' in a value (none so far) survive.
                lines.append('%s = "%s"' % (k, v) if any(c in v for c in "#;") else
                             "%s = %s" % (k, v))
            lines.append("")
        S.write_private(path, "\n".join(lines))
        return path

    # -- export.fcgi + lighttpd (stack.SideWeb, log names "mail ...")

    def start_web(self, conf):
        self.web = S.SideWeb(self.stack, self.run_dir, "mail")
        self.web.start(conf)

    @property
    def base_url(self):
        return self.web.base_url if self.web else None

    @property
    def api(self):
        return self.web.api

    def restart_fcgi(self, conf):
        """export.fcgi with another config (lighttpd keeps running)."""
        self.web.restart_fcgi(conf)

    def stop(self):
        if self.web is not None:
            self.web.stop()

    # -- exportd

    def exportd_connections(self):
        rows = self.pg.query(
            "SELECT application_name, count(*) FROM pg_stat_activity WHERE datname = %s"
            " AND application_name IN ('exportd-worker', 'exportd-mailer')"
            " GROUP BY 1", (self.pg.dbname,))
        d = dict(rows)
        return d.get("exportd-worker", 0), d.get("exportd-mailer", 0)

    def wait_no_exportd(self, timeout=15):
        """No exportd (of any config) connected: only one may run at a time."""
        S.wait_until(lambda: self.exportd_connections() == (0, 0), timeout,
                     "every exportd-worker/exportd-mailer connection to go away")

    def exportd(self, name, conf):
        return MailExportd(self, name, conf)
