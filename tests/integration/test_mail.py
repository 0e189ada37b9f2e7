"""Mail: the notification mail of a completed or failed export, its
signed download link, delivery while the SMTP server is down, AUTH, a
kill -9 between completion and delivery, and header injection.

Servers (tests/integration/mailstack.py): this module runs its own
export.fcgi x4 + lighttpd + exportd on the session's PostgreSQL and storage
dir, all with a config that has a [mail] section (the session's config has
none, so the session's export.fcgi could not verify links), plus aiosmtpd
capture servers (Maildirs). The session's exportd is STOPPED while this
module runs -- it would claim our jobs and, without mail config, complete
them without queueing a mail -- and started again at the end. Only one
mail-enabled exportd runs at a time, as every mailer delivers every pending
notification; after each test, whatever is still pending is marked failed.

Jobs are created through the API with a key of workspace "mailws" (email
MAIL_TO), type contacts (a few dozen demo rows), and two registry rows that
fail: relation no_such_table_xyz, and one whose relation name holds
"\\r\\nBcc: evil@example.com".

Figures (delay from completed_at to the mail file's mtime) are printed at
the end of the module: run with -s to see them.
"""

import email.utils
import hashlib
import hmac
import re
import statistics
import time
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
import requests

import helpers as H
import mailstack as M
import stack as S

WS = "mailws"
ROWS = 40
MAIL_TO = "mail.tester@example.com"
FROM_ADDR = "exports@example.org"
FROM_NAME = "Exporteur Café 漢字"
SECRET_OLD = "old-link-secret-0123456789abcdefghijklmnop"
SECRET_NEW = "new-link-secret-zyxwvutsrqponmlkjihgfedcba"
LIFETIME_S = 3600
SMTP_USER = "exportd-smtp"
SMTP_PASSWORD = "right-password-42"
MISSING_TYPE = "mail_missing"
MISSING_RELATION = "no_such_table_xyz"
INJECT_TYPE = "mail_inject"
INJECT_RELATION = "no_such_table\r\nBcc: evil@example.com"
SETTLE = 1.5          # > retry_max + poll_interval: a duplicate would show by then
AIOSMTPD_HEADERS = {"x-peer", "x-mailfrom", "x-rcptto"}   # added by the capture
MAIL_HEADERS = {"date", "from", "to", "subject", "message-id", "auto-submitted",
                "mime-version", "content-type"}

DELAYS = []           # (what, seconds from completed_at to the mail file's mtime)
FIGURES = {}


def mail_settings(smtp_url, **over):
    s = {
        "smtp_url": smtp_url,
        "from_address": FROM_ADDR,
        "from_name": FROM_NAME,
        "link_secrets": SECRET_OLD,
        "link_lifetime": "%ds" % LIFETIME_S,
        "timeout": "2s",
        "max_attempts": 50,
        "retry_base": "200ms",
        "retry_max": "1s",
        "poll_interval": "200ms",
    }
    s.update(over)
    return s


# ------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def mail(stack, tmp_root):
    root = tmp_root / "mail"
    root.mkdir(mode=0o755)
    env = SimpleNamespace(stack=stack, pg=stack.pg, root=root, captures=[],
                          ms=M.MailStack(stack, root), reference_duration=None)
    # The session's exportd must not claim our jobs (it has no mail config:
    # a job it completes queues no mail). Stopped cleanly (SIGTERM: it gives
    # any job back), started again below.
    stack.exportd.stop(grace=15)
    try:
        pg = stack.pg
        if pg.query("SELECT count(*) FROM contacts WHERE workspace = %s", (WS,))[0][0] == 0:
            stack.psql("-v", "rows=%d" % ROWS, "-v", "workspace=" + WS,
                       "-f", S.SRCDIR / "sql/demo/generate.sql")
        pg.query("INSERT INTO export_types (name, relation, key_column, workspace_column,"
                 " columns) VALUES (%s, %s, 'id', 'workspace', '{id}'),"
                 " (%s, %s, 'id', 'workspace', '{id}') ON CONFLICT (name) DO NOTHING",
                 (MISSING_TYPE, MISSING_RELATION, INJECT_TYPE, INJECT_RELATION))
        out = stack.exportctl("apikey", "create", "--workspace", WS, "--email", MAIL_TO).stdout
        env.key = out.strip().splitlines()[-1].strip()
        env.smtp = M.SmtpCapture(root, "main").start()
        env.captures.append(env.smtp)
        # lighttpd's port (mail.public_url) is known once it listens: start
        # it with a first config, then give export.fcgi the final one.
        env.ms.start_web(env.ms.write_conf("pre", mail_settings(env.smtp.url)))
        env.conf_main = env.ms.write_conf("main", mail_settings(env.smtp.url))
        env.ms.restart_fcgi(env.conf_main)
        yield env
    finally:
        for cap in env.captures:
            cap.stop()
        env.ms.stop()
        try:
            env.ms.wait_no_exportd()
            stack.pg.query("UPDATE export_jobs SET status = 'cancelled', completed_at = now()"
                           " WHERE workspace = %s AND status IN ('pending', 'processing')",
                           (WS,))
        finally:
            stack.start_exportd()
        for name in [n for n in S.LOGS if n.startswith("mail ")]:
            S.LOGS.pop(name, None)
        if DELAYS:
            FIGURES["mail delay completed_at -> mail file mtime, median of %d"
                    % len(DELAYS)] = "%.3f s" % statistics.median(d for _, d in DELAYS)
            FIGURES["  each"] = ", ".join("%s %.3f" % (w, d) for w, d in DELAYS)
        print("\nmail test figures:\n  " + "\n  ".join("%s: %s" % kv for kv in FIGURES.items()))


@pytest.fixture
def daemons(mail):
    """start(name, conf): a mail exportd for this test, stopped after it;
    then nothing of this test may be delivered by the next test's mailer."""
    started = []

    def start(name, conf):
        d = mail.ms.exportd(name, conf)
        started.append(d)
        return d.start()

    yield start
    try:
        for d in started:
            d.stop(wait=False)
    finally:
        for d in started:
            d.stop(wait=False)   # again, if an earlier stop raised
        mail.ms.wait_no_exportd()
    mail.pg.query("UPDATE export_notifications n SET status = 'failed',"
                  " last_error = coalesce(last_error, '') || ' [abandoned by the test]'"
                  " FROM export_jobs j WHERE j.id = n.job_id AND j.workspace = %s"
                  " AND n.status = 'pending'", (WS,))


@pytest.fixture(scope="module")
def auth_smtp(mail):
    cap = M.SmtpCapture(mail.root, "auth", auth=(SMTP_USER, SMTP_PASSWORD)).start()
    mail.captures.append(cap)
    return cap


# ------------------------------------------------------------- helpers

def create_job(env, type_="contacts", fmt="csv"):
    r = env.ms.api.post("/exports", key=env.key, json={"type": type_, "format": fmt})
    assert r.status_code == 202, "POST /exports: %d %s" % (r.status_code, r.text[:1000])
    return r.json()["id"]


def get_job(env, job_id):
    r = env.ms.api.get("/exports/%s" % job_id, key=env.key)
    assert r.status_code == 200, "GET /exports/%s: %d %s" % (job_id, r.status_code, r.text)
    return r.json()


def wait_job(env, job_id, statuses=("complete",), timeout=20, daemon=None):
    deadline = time.monotonic() + timeout
    while True:
        job = get_job(env, job_id)
        if job["status"] in S.TERMINAL_STATUSES:
            assert job["status"] in statuses, "job %s ended %r: %s" % (job_id, job["status"], job)
            return job
        if daemon is not None and not daemon.alive():
            raise AssertionError("exportd died while job %s was %s" % (job_id, job["status"]))
        assert time.monotonic() < deadline, "job %s still %s after %ss: %s" % (
            job_id, job["status"], timeout, job)
        time.sleep(0.05)


def db_notification(env, job_id):
    """The job's export_notifications row, shaped like the API's
    `notification` (sent_at as an epoch float here), or None."""
    rows = env.pg.query("SELECT status, attempts, extract(epoch FROM sent_at), last_error"
                        " FROM export_notifications WHERE job_id = %s", (job_id,))
    assert len(rows) <= 1, rows
    if not rows:
        return None
    st, attempts, sent_at, last_error = rows[0]
    return {"status": st, "attempts": attempts,
            "sent_at": float(sent_at) if sent_at is not None else None,
            "last_error": last_error}


def wait_notification(env, job_id, pred, what, timeout=15):
    """Wait on the outbox row (the database); the API's view of it is
    checked separately (check_api_notification), so that a wrong API
    answer does not hide what else a test finds."""
    deadline = time.monotonic() + timeout
    while True:
        n = db_notification(env, job_id)
        if n is not None and pred(n):
            return n
        assert time.monotonic() < deadline, "job %s: notification not %s after %ss: %r" % (
            job_id, what, timeout, n)
        time.sleep(0.05)


def check_api_notification(env, job_id, problems):
    """GET /exports/{id} must show the outbox row as it is now: status,
    attempts, sent_at (to the second) and last_error. Mismatches go to
    `problems` (asserted empty at the end of the test)."""
    db = db_notification(env, job_id)
    api = get_job(env, job_id)["notification"]
    if db is None:
        if api is not None:
            problems.append("job %s: API notification %r, no outbox row" % (job_id, api))
        return api
    if api is None:
        problems.append("job %s: GET /exports/{id} shows notification null; the outbox"
                        " row is %r" % (job_id, db))
        return api
    for k in ("status", "attempts", "last_error"):
        if api.get(k) != db[k]:
            problems.append("job %s: API notification.%s = %r, outbox %r"
                            % (job_id, k, api.get(k), db[k]))
    sent = api.get("sent_at")
    if (sent is None) != (db["sent_at"] is None) or (sent is not None and abs(
            datetime.fromisoformat(sent.replace("Z", "+00:00")).timestamp()
            - db["sent_at"]) > 1):
        problems.append("job %s: API notification.sent_at = %r, outbox %r"
                        % (job_id, sent, db["sent_at"]))
    return api


def wait_mails(captures, job_id, n=1, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        found = M.mails_about(captures, job_id)
        if len(found) >= n:
            return found
        assert time.monotonic() < deadline, "%d mail(s) about job %s after %ss, want %d" % (
            len(found), job_id, timeout, n)
        time.sleep(0.05)


def exactly_one_mail(env, job_id):
    """After the first mail arrived: wait SETTLE, then there must be one."""
    wait_mails(env.captures, job_id, 1)
    time.sleep(SETTLE)
    found = M.mails_about(env.captures, job_id)
    assert len(found) == 1, "%d mails about job %s: %s" % (
        len(found), job_id, [(c.name, str(p), m["Subject"]) for c, p, _, m in found])
    return found[0]


def db_times(env, job_id):
    row = env.pg.query("SELECT extract(epoch FROM created_at), extract(epoch FROM started_at),"
                       " extract(epoch FROM completed_at) FROM export_jobs WHERE id = %s",
                       (job_id,))[0]
    return SimpleNamespace(created=float(row[0]), started=float(row[1] or 0),
                           completed=float(row[2] or 0))


def record_delay(env, what, job_id, mtime):
    DELAYS.append((what, mtime - db_times(env, job_id).completed))


def text_part(msg):
    part = msg.get_body(("plain",))
    assert part is not None, "no text/plain part"
    return part.get_content()


def html_part(msg):
    part = msg.get_body(("html",))
    assert part is not None, "no text/html part"
    return part.get_content()


def raw_headers(path):
    """The header section of the stored file, as bytes (unfolded lines kept)."""
    data = path.read_bytes().replace(b"\r\n", b"\n")
    return data.split(b"\n\n", 1)[0]


def check_envelope(msg, path, subject):
    """The headers every mail of ours must have, right."""
    names = {k.lower() for k in msg.keys()}
    assert names - AIOSMTPD_HEADERS == MAIL_HEADERS, "headers: %s" % sorted(names)
    for name in MAIL_HEADERS:
        assert len(msg.get_all(name)) == 1, "%s appears %d times" % (name, len(msg.get_all(name)))
    # Only ASCII on the wire (non-ASCII as RFC 2047 encoded words).
    head = raw_headers(path)
    assert all(b < 0x80 for b in head), "non-ASCII bytes in the header section:\n%r" % head
    frm = msg["From"].addresses
    assert len(frm) == 1
    assert frm[0].display_name == FROM_NAME, "From display name %r" % frm[0].display_name
    assert frm[0].addr_spec == FROM_ADDR
    to = msg["To"].addresses
    assert [a.addr_spec for a in to] == [MAIL_TO]
    assert msg["X-RcptTo"] == MAIL_TO, "envelope recipients: %r" % msg["X-RcptTo"]
    assert msg["Subject"] == subject
    date = email.utils.parsedate_to_datetime(msg["Date"])
    assert date.tzinfo is not None
    assert abs((datetime.now(timezone.utc) - date).total_seconds()) < 120, msg["Date"]
    assert re.fullmatch(r"<[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+>",
                        str(msg["Message-ID"]).strip()), msg["Message-ID"]
    assert str(msg["MIME-Version"]).strip() == "1.0"
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    for p in parts:
        assert p.get_content_charset() == "utf-8"


def sign(secret, job_id, expiry):
    """src/mail/linktoken.c: "<expiry>.<base64url(HMAC-SHA256(secret,
    'exportd-link\\n' job_id '\\n' expiry))>"."""
    msg = ("exportd-link\n%s\n%d" % (job_id, expiry)).encode()
    return "%d.%s" % (expiry, H.b64url(hmac.new(secret.encode(), msg, hashlib.sha256).digest()))


def link_url(env, job_id, token):
    return "%s/exports/%s/download?token=%s" % (env.ms.base_url, job_id, token)


def get_link(url):
    return requests.get(url, timeout=30, allow_redirects=False)


def keyed_download(env, job_id):
    r = env.ms.api.get("/exports/%s/download" % job_id, key=env.key)
    assert r.status_code == 200, "%d %s" % (r.status_code, r.text[:500])
    assert len(r.content) > 0
    return r


def mail_link(msg, job_id):
    links = re.findall(r"\S+/exports/%s/download\?token=\S+" % re.escape(job_id),
                       text_part(msg))
    assert len(links) == 1, "links about %s in the text part: %r" % (job_id, links)
    return links[0]


# ------------------------------------------------------- completed: the mail

def test_completed_export_sends_one_mail_with_a_working_link(mail, daemons):
    daemons("exportd main", mail.conf_main)
    job_id = create_job(mail)
    job = wait_job(mail, job_id)
    t = db_times(mail, job_id)
    mail.reference_duration = t.completed - t.created
    FIGURES["export duration created->completed, SMTP up"] = "%.3f s" % mail.reference_duration
    cap, path, mtime, msg = exactly_one_mail(mail, job_id)
    record_delay(mail, "complete", job_id, mtime)
    assert cap is mail.smtp

    check_envelope(msg, path, "Your contacts export is ready")
    text, html = text_part(msg), html_part(msg)
    FIGURES["text part of a completion mail"] = "\n" + text
    assert job["row_count"] is not None and job["row_count"] > 0
    assert re.search(r"^\s*Rows:\s+%s\s*$" % re.escape("{:,}".format(job["row_count"])),
                     text, re.M), text
    assert job_id in text

    link = mail_link(msg, job_id)
    assert link.startswith(mail.ms.base_url + "/exports/"), link
    assert 'href="%s"' % link in html, "the HTML part does not link to %s" % link
    # The token: our own signing of the same expiry gives the same token, and
    # the link lasts link_lifetime from the moment the mail was sent.
    token = link.split("?token=", 1)[1]
    expiry = int(token.split(".", 1)[0])
    assert token == sign(SECRET_OLD, job_id, expiry)
    n = wait_notification(mail, job_id, lambda n: n["status"] == "sent", "sent")
    assert n["attempts"] == 1, n
    assert n["sent_at"] is not None, n
    assert n["last_error"] is None, n
    assert abs(expiry - (n["sent_at"] + LIFETIME_S)) <= 5, (expiry, n["sent_at"])

    # The link downloads the file without a key, byte for byte the file the
    # key downloads.
    via_key = keyed_download(mail, job_id)
    r = get_link(link)
    assert r.status_code == 200, "GET link: %d %s" % (r.status_code, r.text[:500])
    assert r.content == via_key.content
    assert r.headers.get("Content-Disposition") == via_key.headers.get("Content-Disposition")
    assert len(r.content) == job["file_size"]

    # GET /exports/{id} shows it: sent, attempts 1, sent_at set.
    problems = []
    api = check_api_notification(mail, job_id, problems)
    assert not problems, problems
    assert api["status"] == "sent" and api["attempts"] == 1 and api["sent_at"], api


def test_completed_xlsx_mail_names_the_format_and_its_link_downloads_the_workbook(mail,
                                                                                daemons):
    daemons("exportd main", mail.conf_main)
    job_id = create_job(mail, fmt="xlsx")
    wait_job(mail, job_id)
    _, _, _, msg = exactly_one_mail(mail, job_id)
    text, html = text_part(msg), html_part(msg)
    assert re.search(r"^\s*Format:\s+XLSX\s*$", text, re.M), text
    assert "<td>XLSX</td>" in html, html
    r = get_link(mail_link(msg, job_id))
    assert r.status_code == 200, "GET link: %d %s" % (r.status_code, r.text[:500])
    assert r.headers["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), r.headers
    assert r.headers["Content-Disposition"].endswith('.xlsx"'), r.headers
    assert r.content.startswith(b"PK\x03\x04"), r.content[:20]


# ----------------------------------------------------------- failed: the mail

def test_failed_export_sends_one_mail_with_the_error(mail, daemons):
    daemons("exportd main", mail.conf_main)
    job_id = create_job(mail, MISSING_TYPE)
    job = wait_job(mail, job_id, statuses=("failed",))
    assert job["error"] and MISSING_RELATION in job["error"]["message"], job["error"]
    cap, path, mtime, msg = exactly_one_mail(mail, job_id)
    record_delay(mail, "failed", job_id, mtime)
    check_envelope(msg, path, "Your %s export failed" % MISSING_TYPE)
    text = text_part(msg)
    FIGURES["text part of a failure mail"] = "\n" + text
    assert job["error"]["message"].strip() in " ".join(text.split()) or \
        " ".join(job["error"]["message"].split()) in " ".join(text.split()), text
    assert "What you can do" in text and "start a new export" in text, text
    assert job_id in text
    assert "token=" not in text
    n = wait_notification(mail, job_id, lambda n: n["status"] == "sent", "sent")
    assert n["attempts"] == 1 and n["sent_at"] and n["last_error"] is None, n
    problems = []
    check_api_notification(mail, job_id, problems)
    assert not problems, problems


# -------------------------------------------------- SMTP down, then up

def mail_outcomes(env):
    """exportd_mail_deliveries_total by outcome, from /metrics."""
    s = H.scrape(env.stack.api)
    return {o: s.get('exportd_mail_deliveries_total{outcome="%s"}' % o, 0.0)
            for o in ("sent", "retried", "failed")}


def wait_outcomes(env, before, **want):
    """Wait until /metrics shows at least `want` more deliveries per outcome
    than `before`; the deltas."""
    got = {}

    def ok():
        now = mail_outcomes(env)
        got.update({o: now[o] - before[o] for o in now})
        return all(got[o] >= n for o, n in want.items())
    S.wait_until(ok, 15, "mail outcomes %s in /metrics" % want)
    return got


def test_smtp_down_then_up_delivers_once_and_never_delays_the_export(mail, daemons):
    outcomes0 = mail_outcomes(mail)
    port = S.free_port()
    conf = mail.ms.write_conf("smtp-down", mail_settings("smtp://127.0.0.1:%d" % port))
    daemons("exportd smtp-down", conf)
    job_id = create_job(mail)
    wait_job(mail, job_id)
    t = db_times(mail, job_id)
    took = t.completed - t.created
    FIGURES["export duration created->completed, SMTP down"] = "%.3f s" % took
    # As fast as with a working SMTP server (the export never waits for mail).
    assert took < 2.0, "export took %.3fs with the SMTP server down" % took
    if mail.reference_duration is not None:
        assert took < mail.reference_duration + 1.0, (took, mail.reference_duration)

    n = wait_notification(mail, job_id, lambda n: n["attempts"] >= 1, "attempted once")
    assert n["status"] == "pending", n
    assert n["last_error"], n
    assert n["sent_at"] is None, n
    FIGURES["SMTP down: last_error"] = n["last_error"]
    problems = []
    check_api_notification(mail, job_id, problems)   # pending, as the outbox says
    assert M.mails_about(mail.captures, job_id) == []

    cap = M.SmtpCapture(mail.root, "late", port=port).start()
    mail.captures.append(cap)
    t_up = time.time()
    c, path, mtime, msg = exactly_one_mail(mail, job_id)
    assert c is cap
    FIGURES["SMTP up -> mail delivered"] = "%.3f s" % (mtime - t_up)
    check_envelope(msg, path, "Your contacts export is ready")
    n = wait_notification(mail, job_id, lambda n: n["status"] == "sent", "sent")
    assert n["attempts"] >= 2 and n["sent_at"], n
    check_api_notification(mail, job_id, problems)
    assert not problems, problems
    # /metrics: the attempts while the server was down retried, then sent.
    d = wait_outcomes(mail, outcomes0, sent=1, retried=n["attempts"] - 1)
    assert d == {"sent": 1, "retried": n["attempts"] - 1, "failed": 0}, d


# ---------------------------------------------------------------- AUTH

def test_smtp_auth_accepted(mail, daemons, auth_smtp):
    conf = mail.ms.write_conf("auth-ok", mail_settings(
        auth_smtp.url, username=SMTP_USER, password=SMTP_PASSWORD))
    daemons("exportd auth-ok", conf)
    before = len(auth_smtp.auth_attempts())
    job_id = create_job(mail)
    wait_job(mail, job_id)
    cap, path, mtime, msg = exactly_one_mail(mail, job_id)
    record_delay(mail, "auth", job_id, mtime)
    assert cap is auth_smtp
    check_envelope(msg, path, "Your contacts export is ready")
    attempts = auth_smtp.auth_attempts()[before:]
    assert attempts and all(a["ok"] and a["login"] == SMTP_USER for a in attempts), attempts
    n = wait_notification(mail, job_id, lambda n: n["status"] == "sent", "sent")
    assert n["attempts"] == 1, n
    problems = []
    check_api_notification(mail, job_id, problems)
    assert not problems, problems


def test_smtp_auth_refused_is_retried_then_failed(mail, daemons, auth_smtp):
    conf = mail.ms.write_conf("auth-bad", mail_settings(
        auth_smtp.url, username=SMTP_USER, password="wrong-password", max_attempts=2))
    outcomes0 = mail_outcomes(mail)
    daemons("exportd auth-bad", conf)
    before = len(auth_smtp.auth_attempts())
    job_id = create_job(mail)
    wait_job(mail, job_id)
    n = wait_notification(mail, job_id, lambda n: n["status"] != "pending", "final")
    time.sleep(SETTLE)
    n = db_notification(mail, job_id)
    attempts = auth_smtp.auth_attempts()[before:]
    FIGURES["AUTH refused: notification"] = n
    FIGURES["AUTH refused: attempts seen by the server"] = attempts
    assert n["status"] == "failed", n
    assert n["last_error"] and re.search(r"535|[Ll]ogin denied|[Aa]uthentication", n["last_error"]), n
    assert n["sent_at"] is None, n
    assert M.mails_about(mail.captures, job_id) == []
    assert attempts and not any(a["ok"] for a in attempts), attempts
    problems = []
    check_api_notification(mail, job_id, problems)   # failed, visible in the API
    # mail.max_attempts = 2: tried twice (with backoff), then failed.
    assert n["attempts"] == 2, "notification after AUTH refusals: %r" % n
    assert len(attempts) == 2, attempts
    assert not problems, problems
    d = wait_outcomes(mail, outcomes0, retried=1, failed=1)
    assert d == {"sent": 0, "retried": 1, "failed": 1}, d


# --------------------------------------------------- kill -9 before sending

def test_kill9_between_completion_and_sending_still_one_mail(mail, daemons):
    port = S.free_port()
    conf = mail.ms.write_conf("kill9", mail_settings("smtp://127.0.0.1:%d" % port))
    d1 = daemons("exportd kill9 (1st)", conf)
    job_id = create_job(mail)
    wait_job(mail, job_id, daemon=d1)
    wait_notification(mail, job_id, lambda n: n["attempts"] >= 1, "attempted")
    mailer = mail.pg.query("SELECT count(*) FROM pg_stat_activity"
                           " WHERE application_name = 'exportd-mailer'")[0][0]
    assert mailer == 1
    killed = d1.kill9()
    assert len(killed) == 1 + M.MailStack.workers + 3, (
        "supervisor, workers, janitor, webhook deliverer, mailer: %s" % killed)
    mail.ms.wait_no_exportd()
    n = db_notification(mail, job_id)
    assert n["status"] == "pending" and n["sent_at"] is None, n

    cap = M.SmtpCapture(mail.root, "after-kill", port=port).start()
    mail.captures.append(cap)
    daemons("exportd kill9 (2nd)", conf)
    c, path, mtime, msg = exactly_one_mail(mail, job_id)
    assert c is cap
    check_envelope(msg, path, "Your contacts export is ready")
    n = wait_notification(mail, job_id, lambda n: n["status"] == "sent", "sent")
    assert n["sent_at"], n
    problems = []
    check_api_notification(mail, job_id, problems)
    assert not problems, problems


# ------------------------------------------------------------------ links

@pytest.fixture(scope="module")
def link_jobs(mail):
    """Two completed exports (A, B), their mails delivered."""
    d = mail.ms.exportd("exportd links", mail.conf_main).start()
    try:
        ids = [create_job(mail), create_job(mail)]
        for job_id in ids:
            wait_job(mail, job_id, daemon=d)
        for job_id in ids:
            wait_notification(mail, job_id, lambda n: n["status"] == "sent", "sent")
            (_, _, mtime, _), = wait_mails(mail.captures, job_id)
            record_delay(mail, "link job", job_id, mtime)
    finally:
        d.stop()
    return SimpleNamespace(a=ids[0], b=ids[1],
                           files={i: keyed_download(mail, i).content for i in ids})


def test_link_signed_like_the_mail_downloads(mail, link_jobs):
    r = get_link(link_url(mail, link_jobs.a, sign(SECRET_OLD, link_jobs.a, int(time.time()) + 600)))
    assert r.status_code == 200, "%d %s" % (r.status_code, r.text[:500])
    assert r.content == link_jobs.files[link_jobs.a]


@pytest.fixture(scope="module")
def link_fronts(mail, stack):
    """The mail web's export.fcgi (they know link_secrets) behind its
    lighttpd and behind Apache (x-sendfile), and 4 more reading the same
    config but download = x-accel-redirect behind nginx: server -> URL."""
    ap = S.Apache(stack, mail.root / "apache", fcgi_socket=mail.ms.web.fcgi_socket)
    ng = S.Nginx(stack, mail.root / "nginx", "mail nginx", default_key=mail.key)
    ng.run_dir.mkdir(mode=0o755)
    ng.conf = mail.ms.write_conf("nginx", mail_settings(mail.smtp.url),
                                 download="x-accel-redirect")
    try:
        ap.start()
        ng.start()
        yield {"lighttpd": mail.ms.base_url, "apache": ap.url, "nginx": ng.url}
    finally:
        ng.stop()
        ap.stop()


@pytest.mark.parametrize("server", ["lighttpd", "apache", "nginx"])
def test_signed_link_through_each_server(mail, link_jobs, link_fronts, server):
    # The mail's link is opened by a browser: no key, the file byte for
    # byte, Range and HEAD handled by the web server; a tampered token is
    # the app's 403 whichever server is in front.
    a = link_jobs.a
    url = "%s/exports/%s/download?token=" % (link_fronts[server], a)
    token = sign(SECRET_OLD, a, int(time.time()) + 600)
    r = get_link(url + token)
    assert r.status_code == 200, "%d %s" % (r.status_code, r.text[:500])
    full = link_jobs.files[a]
    assert r.content == full and r.headers["Content-Disposition"].startswith("attachment;")
    part = requests.get(url + token, headers={"Range": "bytes=0-9"}, timeout=30)
    assert part.status_code == 206 and part.content == full[:10], part.status_code
    head = requests.head(url + token, timeout=30)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(full)
    bad = get_link(url + token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
    assert H.problem(bad, 403)["type"] == "urn:exportd:problem:invalid-link"
    assert full[:20] not in bad.content


def test_expired_link_is_410(mail, link_jobs):
    body = H.problem(get_link(link_url(
        mail, link_jobs.a, sign(SECRET_OLD, link_jobs.a, int(time.time()) - 5))), 410)
    assert body["type"] == "urn:exportd:problem:link-expired", body
    assert "expired" in body["detail"], body


def _invalid_tokens(a, b):
    now = int(time.time())
    good = sign(SECRET_OLD, a, now + 600)
    expiry, sig = good.split(".")
    flipped = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
    return {
        "signature char flipped": (a, "%s.%s" % (expiry, flipped)),
        "expiry digits changed": (a, "%d.%s" % (int(expiry) + 1, sig)),
        "expiry made longer": (a, "%s0.%s" % (expiry, sig)),
        "expiry with a leading zero": (a, "0%s.%s" % (expiry, sig)),
        "another job's token": (b, good),
        "unknown secret": (a, sign("not-the-secret-at-all-000000000000", a, now + 600)),
        "unknown secret, expired": (a, sign("not-the-secret-at-all-000000000000", a, now - 60)),
        "expired, expiry changed": (a, "%d.%s" % (now - 60, sign(SECRET_OLD, a, now - 61)
                                                   .split(".")[1])),
        "signature cut": (a, good[:-1]),
        "no dot": (a, good.replace(".", "")),
        "empty": (a, ""),
    }


def test_invalid_links_are_403_with_one_body(mail, link_jobs):
    bodies = {}
    for case, (job_id, token) in _invalid_tokens(link_jobs.a, link_jobs.b).items():
        r = get_link(link_url(mail, job_id, token))
        assert r.status_code == 403, "%s: %d %s" % (case, r.status_code, r.text[:300])
        body = H.problem(r, 403)
        assert body["type"] == "urn:exportd:problem:invalid-link", (case, body)
        assert "instance" in body, (case, body)
        bodies[case] = {k: v for k, v in body.items() if k != "instance"}
    distinct = {repr(sorted(b.items())) for b in bodies.values()}
    assert len(distinct) == 1, "403 bodies differ (apart from instance): %s" % bodies


def test_rotated_secret(mail, link_jobs):
    a = link_jobs.a
    exp = int(time.time()) + 600
    old, new = sign(SECRET_OLD, a, exp), sign(SECRET_NEW, a, exp)
    ms = mail.ms
    try:
        ms.restart_fcgi(ms.write_conf("rotated", mail_settings(
            mail.smtp.url, link_secrets="%s, %s" % (SECRET_NEW, SECRET_OLD))))
        for what, tok in (("old secret, still listed", old), ("new secret", new)):
            r = get_link(link_url(mail, a, tok))
            assert r.status_code == 200, "%s: %d %s" % (what, r.status_code, r.text[:300])
            assert r.content == link_jobs.files[a]
        ms.restart_fcgi(ms.write_conf("new-only", mail_settings(
            mail.smtp.url, link_secrets=SECRET_NEW)))
        r = get_link(link_url(mail, a, old))
        assert H.problem(r, 403)["type"] == "urn:exportd:problem:invalid-link"
        r = get_link(link_url(mail, a, new))
        assert r.status_code == 200, "%d %s" % (r.status_code, r.text[:300])
    finally:
        ms.restart_fcgi(mail.conf_main)


def test_link_dies_with_the_key_that_created_the_job(mail):
    """A link works while the job's key lives; `exportctl apikey revoke`
    (or deleting the key) withdraws it: 403 link-revoked.  A plain-SQL job
    has no key: its link keeps working."""
    stack = mail.stack
    revoked = H.new_key(stack, WS, email=MAIL_TO)
    deleted = H.new_key(stack, WS, email=MAIL_TO)
    d = mail.ms.exportd("exportd key links", mail.conf_main).start()
    try:
        ids = {}
        for name, key in (("revoked", revoked), ("deleted", deleted)):
            r = mail.ms.api.post("/exports", key=key, json={"type": "contacts"})
            assert r.status_code == 202, r.text[:500]
            ids[name] = r.json()["id"]
        ids["plain"] = str(mail.pg.query(
            "INSERT INTO export_jobs (workspace, type, format) VALUES (%s, 'contacts', 'csv')"
            " RETURNING id", (WS,))[0][0])
        for job_id in ids.values():
            wait_job(mail, job_id, daemon=d)
        for name in ("revoked", "deleted"):
            wait_notification(mail, ids[name], lambda n: n["status"] == "sent", "sent")
    finally:
        d.stop()
    exp = int(time.time()) + 600
    links = {name: link_url(mail, i, sign(SECRET_OLD, i, exp)) for name, i in ids.items()}
    for name, url in links.items():
        r = get_link(url)
        assert r.status_code == 200, "%s before: %d %s" % (name, r.status_code, r.text[:300])
    stack.exportctl("apikey", "revoke", revoked)
    mail.pg.query("DELETE FROM api_keys WHERE id = %s", (deleted.split("_")[1],))
    for name in ("revoked", "deleted"):
        for method in ("GET", "HEAD"):
            r = requests.request(method, links[name], timeout=30, allow_redirects=False)
            assert r.status_code == 403, "%s %s: %d %s" % (name, method, r.status_code, r.text)
        body = H.problem(get_link(links[name]), 403)
        assert body["type"] == "urn:exportd:problem:link-revoked", (name, body)
        # Another live key of the workspace still downloads the file.
        keyed_download(mail, ids[name])
    r = get_link(links["plain"])
    assert r.status_code == 200, "plain-SQL job: %d %s" % (r.status_code, r.text[:300])


# ------------------------------------------------------- header injection

@pytest.mark.parametrize("email_", ["x@example.com\r\nBcc: evil@example.com",
                                    "x@example.com\nBcc: evil@example.com",
                                    "x@example.com\r"])
def test_key_email_with_crlf_is_refused(mail, email_):
    p = mail.stack.exportctl("apikey", "create", "--workspace", WS, "--email", email_,
                             check=False)
    assert p.returncode == 2, "exit %d, out %r err %r" % (p.returncode, p.stdout, p.stderr)
    assert "exk_" not in p.stdout
    assert mail.pg.query("SELECT count(*) FROM api_keys WHERE email = %s", (email_,))[0][0] == 0


def test_crlf_in_error_message_adds_no_header(mail, daemons):
    daemons("exportd main", mail.conf_main)
    job_id = create_job(mail, INJECT_TYPE)
    job = wait_job(mail, job_id, statuses=("failed",))
    # Precondition: the error echoes the relation name, CR LF and all.
    assert "Bcc: evil@example.com" in job["error"]["message"], job["error"]
    assert "\n" in job["error"]["message"], job["error"]
    cap, path, mtime, msg = exactly_one_mail(mail, job_id)
    record_delay(mail, "failed (CRLF)", job_id, mtime)
    check_envelope(msg, path, "Your %s export failed" % INJECT_TYPE)
    head = raw_headers(path)
    assert not re.search(rb"(?im)^(bcc|cc)\s*:", head), head
    assert b"evil" not in head, head
    assert "Bcc: evil@example.com" in text_part(msg)   # in the body, harmlessly
    # Nobody else got anything, from any test.
    for c in mail.captures:
        for p, _, m in c.messages():
            rcpt = str(m.get("X-RcptTo", ""))
            assert "evil" not in rcpt, "%s got a mail for %s" % (p, rcpt)
            assert "evil" not in str(m.get("To", "")) and m.get("Bcc") is None
