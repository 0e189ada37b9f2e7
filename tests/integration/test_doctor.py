"""exportctl doctor against a deployment of its own (a database migrated
by exportctl, login roles per program, one export type exposed): all ok,
then one fault at a time, each reported by its check and nothing else
failing."""
import contextlib
import re
import uuid

import pytest

import stack as S
from conftest import DOCTOR_LOGINS, pgbouncer_bin
from mailstack import SmtpCapture

WORKER, API = DOCTOR_LOGINS


@pytest.fixture(scope="module")
def deployment(stack, tmp_root):
    """(database, settings): a database owned by the suite's owner role,
    migrated, with logins doctor_worker / doctor_api and the type
    doc_items (index on (ws, id), granted)."""
    pg = stack.pg
    db = "doctor_" + uuid.uuid4().hex[:8]
    pg.query("CREATE DATABASE %s OWNER %s" % (db, S.Postgres.OWNER), dbname="postgres")
    store = S.make_tmp_root("exportd-doctor-")

    def url(user):
        return "host=127.0.0.1 port=%d dbname=%s user=%s" % (pg.port, db, user)

    settings = {"database": {"url": url(WORKER), "api_url": url(API),
                             "admin_url": url(S.Postgres.OWNER)},
                "storage": {"backend": "local", "dir": str(store)}}
    conf = S.write_conf_file(tmp_root / (db + ".conf"), settings)
    S.run([stack.exportctl_bin, "-c", conf, "migrate"], "migrate", env=S.clean_env())
    pg.query("CREATE ROLE %s LOGIN IN ROLE %s_worker; CREATE ROLE %s LOGIN IN ROLE %s_api"
             % (WORKER, db, API, db))
    pg.query("CREATE TABLE doc_items (id bigint PRIMARY KEY, ws text NOT NULL, v text);"
             " CREATE INDEX ON doc_items (ws, id);"
             " INSERT INTO export_types (name, relation, key_column, workspace_column, columns)"
             " VALUES ('doc_items', 'doc_items', 'id', 'ws', '{id,v}');"
             " SELECT exportd_type_grant('doc_items')", dbname=db)
    yield db, settings
    pg.query("DROP DATABASE %s WITH (FORCE)" % db, dbname="postgres")
    pg.query("DROP ROLE %s, %s, %s_api, %s_worker" % (WORKER, API, db, db))


def doctor(stack, tmp_path, settings, **override):
    conf = {s: dict(kv) for s, kv in settings.items()}
    for section, kv in override.items():
        conf.setdefault(section, {}).update(kv)
    path = S.write_conf_file(tmp_path / ("doctor-%s.conf" % uuid.uuid4().hex[:6]), conf)
    p = S.subprocess.run([str(stack.exportctl_bin), "-c", str(path), "doctor"],
                         env=S.clean_env(), capture_output=True, text=True, timeout=60)
    lines = {}
    for line in p.stdout.splitlines():
        m = re.match(r"^(ok|warn|FAIL)\s+(\S+)\s+(.*)$", line)
        if m:
            lines.setdefault(m.group(2), []).append((m.group(1), m.group(3)))
    return p, lines


@contextlib.contextmanager
def fault(stack, db, do, undo):
    """The deployment with one fault (SQL do) while the block runs; undone
    (SQL undo) after it, whatever happens."""
    stack.pg.query(do, dbname=db)
    try:
        yield
    finally:
        stack.pg.query(undo, dbname=db)


def failing(lines):
    return sorted({check for check, rows in lines.items() for lvl, _ in rows if lvl != "ok"})


def test_a_healthy_deployment_is_all_ok(stack, deployment, tmp_path):
    _, settings = deployment
    p, lines = doctor(stack, tmp_path, settings)
    print(p.stdout)
    assert p.returncode == 0 and failing(lines) == [], p.stdout
    for check in ("config", "database", "migrations", "roles", "trigger", "listen", "storage",
                  "smtp", "clock", "type"):
        assert check in lines, (check, p.stdout)
    assert p.stdout.rstrip().endswith("0 failures, 0 warnings"), p.stdout


def test_a_disabled_trigger(stack, deployment, tmp_path):
    db, settings = deployment
    with fault(stack, db, "ALTER TABLE export_jobs DISABLE TRIGGER export_jobs_notify",
               "ALTER TABLE export_jobs ENABLE TRIGGER export_jobs_notify"):
        p, lines = doctor(stack, tmp_path, settings)
    assert p.returncode == 2 and failing(lines) == ["trigger"], p.stdout


def test_storage_that_cannot_be_written(stack, deployment, tmp_path):
    _, settings = deployment
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    p, lines = doctor(stack, tmp_path, settings, storage={"dir": str(blocker / "exports")})
    assert p.returncode == 2 and failing(lines) == ["storage"], p.stdout


def test_smtp_down(stack, deployment, tmp_path):
    _, settings = deployment
    p, lines = doctor(stack, tmp_path, settings, mail={
        "smtp_url": "smtp://127.0.0.1:%d" % S.free_port(), "starttls": "never",
        "link_secrets": "x" * 40, "from_address": "exports@example.com"})
    assert p.returncode == 2 and failing(lines) == ["smtp"], p.stdout
    assert "Couldn't connect" in lines["smtp"][0][1] or "connect" in lines["smtp"][0][1].lower()


def test_smtp_up_sends_nothing(stack, deployment, tmp_path):
    _, settings = deployment
    smtp = SmtpCapture(S.make_tmp_root("exportd-doctor-smtp-"), "doctor").start()
    try:
        p, lines = doctor(stack, tmp_path, settings, mail={
            "smtp_url": "smtp://127.0.0.1:%d" % smtp.port, "starttls": "never",
            "link_secrets": "x" * 40, "from_address": "exports@example.com"})
        assert p.returncode == 0 and failing(lines) == [], p.stdout
        assert "no mail sent" in lines["smtp"][0][1]
        assert smtp.messages() == []
    finally:
        smtp.stop()


def test_a_type_whose_relation_is_gone(stack, deployment, tmp_path):
    db, settings = deployment
    with fault(stack, db, "ALTER TABLE doc_items RENAME TO doc_items_old",
               "ALTER TABLE doc_items_old RENAME TO doc_items"):
        p, lines = doctor(stack, tmp_path, settings)
    assert p.returncode == 2 and failing(lines) == ["type"], p.stdout
    assert "doc_items: its relation does not exist" in p.stdout


def test_a_type_not_granted_and_one_without_an_index(stack, deployment, tmp_path):
    db, settings = deployment
    with fault(stack, db, "CREATE TABLE doc_plain (id bigint, ws text, v text);"
               " INSERT INTO export_types (name, relation, key_column, workspace_column,"
               " columns) VALUES ('doc_plain', 'doc_plain', 'id', 'ws', '{id,v}')",
               "DELETE FROM export_types WHERE name = 'doc_plain'; DROP TABLE doc_plain"):
        p, lines = doctor(stack, tmp_path, settings)
        assert "exportctl type grant doc_plain" in p.stdout, p.stdout
        stack.pg.query("SELECT exportd_type_grant('doc_plain')", dbname=db)
        p, lines = doctor(stack, tmp_path, settings)
        assert p.returncode == 1 and failing(lines) == ["type"], p.stdout
        assert "doc_plain: no index leads with (workspace, key)" in p.stdout, p.stdout


def test_a_superuser_or_a_role_outside_its_group(stack, deployment, tmp_path):
    db, settings = deployment
    p, lines = doctor(stack, tmp_path, settings, database={
        "api_url": "host=127.0.0.1 port=%d dbname=%s user=%s" % (stack.pg.port, db, WORKER),
        "url": "host=127.0.0.1 port=%d dbname=%s user=postgres" % (stack.pg.port, db),
        "session_url": settings["database"]["url"]})
    assert p.returncode == 2 and failing(lines) == ["roles"], p.stdout
    assert "a superuser" in p.stdout and ("not a member of %s_api" % db) in p.stdout, p.stdout


@pytest.mark.skipif(pgbouncer_bin() is None, reason="pgbouncer is not installed")
def test_session_url_through_pgbouncer_in_transaction_mode(stack, deployment, tmp_path,
                                                         bouncer):
    db, settings = deployment
    pooled = "host=127.0.0.1 port=%d dbname=%s user=%s" % (bouncer, db, WORKER)
    p, lines = doctor(stack, tmp_path, settings, database={"session_url": pooled})
    assert p.returncode == 2 and failing(lines) == ["listen"], p.stdout
    assert "transaction pooler" in p.stdout


# ------------------------------------------------------------------ S3

@pytest.fixture(scope="module")
def s3(tmp_root):
    from s3stack import S3Server
    srv = S3Server(tmp_root / "doctor-s3", name="doctor s3")
    srv.start()
    yield srv
    srv.stop()


def s3_override(srv, secret=None):
    from s3export import s3_settings
    base = s3_settings(srv, secret_key=secret)
    return {"storage": base["storage"], "s3": base["s3"]}


def test_s3_reachable_with_its_credentials(stack, deployment, tmp_path, s3):
    """The storage check against S3 through the verifying proxy: a
    multipart upload created, a part sent, completed and removed, every
    request signed right, nothing left in the bucket."""
    _, settings = deployment
    s3.reset()
    p, lines = doctor(stack, tmp_path, settings, **s3_override(s3))
    assert p.returncode == 0 and failing(lines) == [], p.stdout
    assert lines["storage"][0][1].startswith("s3:"), lines["storage"]
    log = s3.log()
    assert log and all(e["verdict"] == "ok" for e in log), log
    assert {e["method"] for e in log} >= {"POST", "PUT", "DELETE"}, log
    assert s3.objects() == {}


def test_s3_with_a_wrong_secret(stack, deployment, tmp_path, s3):
    _, settings = deployment
    s3.reset()
    wrong = "exportd/Wrong+Secret/Key0123456789abcdefgh"
    p, lines = doctor(stack, tmp_path, settings, **s3_override(s3, secret=wrong))
    assert p.returncode == 2 and failing(lines) == ["storage"], p.stdout
    msg = lines["storage"][0][1]
    assert "403" in msg and "SignatureDoesNotMatch" in msg and "s3.secret_access_key" in msg, msg
    assert wrong not in p.stdout + p.stderr
    log = s3.log()
    assert log and all(e["verdict"] == "bad-signature" and not e["forwarded"] for e in log), log
