"""exportd behind PgBouncer in transaction pooling, as many sites run
PostgreSQL: export.fcgi (database.api_url) and exportd's pooled connections
(database.url) go through a real pgbouncer; exportd's session-bound ones
(LISTEN, the claims' advisory locks, the named chunk statement:
database.session_url) go straight to PostgreSQL.  The core export must be
byte-identical to `psql \\copy`."""
import os
import time

import pytest

import helpers as H
import stack as S


from conftest import pgbouncer_bin

pytestmark = pytest.mark.skipif(pgbouncer_bin() is None and not os.environ.get("CI"),
                                reason="pgbouncer is not installed (scripts/install-deps)")


def through(stack, port, user):
    return "host=127.0.0.1 port=%d dbname=%s user=%s" % (port, stack.pg.dbname, user)


@pytest.fixture(scope="module")
def pooled(stack, bouncer, side):
    """An API whose database connections go through pgbouncer, and an
    exportd whose pooled ones do too (the session's exportd is stopped
    meanwhile, so that this one runs the jobs)."""
    db = stack.pg.database_conf()
    web = side("pgbouncer", {"database": {
        "url": through(stack, bouncer, S.Postgres.WORKER_LOGIN),
        "api_url": through(stack, bouncer, S.Postgres.API_LOGIN),
        "admin_url": db["admin_url"]}})
    web.wait_healthz()
    stack.exportd.stop(grace=15)
    d = S.ExtraExportd(stack, "exportd behind pgbouncer", {"database": {
        "url": through(stack, bouncer, S.Postgres.WORKER_LOGIN),
        "session_url": db["url"]}})
    d.start()
    yield web, d
    d.stop(grace=15)
    stack.start_exportd()


def wait_done(web, job_id, daemon, timeout=60):
    """Poll the job through the pooled API until it ends (the session's
    stack.wait_for_job insists on the session's own exportd)."""
    deadline = time.monotonic() + timeout
    while True:
        body = web.api.get("/exports/" + job_id).json()
        if body["status"] in S.TERMINAL_STATUSES:
            return body
        assert daemon.alive() and time.monotonic() < deadline, (
            body, S.logs_excerpt([daemon.name, "pgbouncer"]))
        time.sleep(0.1)


def backends_from_pgbouncer(stack, user):
    """Server connections pgbouncer opened for `user` (application_name is
    the client's, set per transaction by pgbouncer)."""
    return stack.pg.query("SELECT count(*) FROM pg_stat_activity WHERE usename = %s"
                          " AND client_addr IS NOT NULL", (user,))[0][0]


def test_core_export_through_pgbouncer_is_byte_identical(stack, pooled, tmp_path):
    web, d = pooled
    cols = ["id", "email", "created_at"]
    job = H.create(stack, {"type": "contacts", "columns": cols}, api=web.api)
    done = wait_done(web, job["id"], d)
    assert done["status"] == "complete", done
    got = H.download(stack, done, api=web.api).content
    want = H.psql_copy_csv(stack.pg, H.reference_select(stack.pg, "contacts", "acme",
                                                        columns=cols), tmp_path / "ref.csv")
    # the extra exportd writes LF line ends (stack.ExtraExportd)
    H.assert_same_bytes(got, want, "export through pgbouncer")
    # and the API really talked through pgbouncer
    assert backends_from_pgbouncer(stack, S.Postgres.API_LOGIN) > 0


def test_api_routes_through_pgbouncer(stack, pooled):
    """Every kind of API statement in transaction pooling: create with a
    filter and an idempotency key (one transaction with an advisory xact
    lock), the same again (replay), get, list with a cursor, cancel."""
    web, _ = pooled
    body = {"type": "contacts", "columns": ["id"], "filters": {"country": "FR"}}
    hdr = {"Idempotency-Key": "pgb-%d" % time.monotonic_ns()}
    r1 = web.api.post("/exports", json=body, headers=hdr)
    assert r1.status_code == 202, r1.text
    r2 = web.api.post("/exports", json=body, headers=hdr)
    assert r2.status_code in (200, 202) and r2.json()["id"] == r1.json()["id"], r2.text
    jid = r1.json()["id"]
    assert web.api.get("/exports/" + jid).status_code == 200
    page = web.api.get("/exports?limit=1")
    assert page.status_code == 200 and len(page.json()["data"]) == 1, page.text
    nxt = page.json()["links"].get("next")
    assert nxt and web.api.get(nxt).status_code == 200, page.json()
    r = web.api.delete("/exports/" + jid)
    # cancelled, or (the export was quicker) "already complete"
    assert r.status_code in (200, 202, 204, 409), r.text


def test_exportd_t_checks_the_session_url(stack, bouncer, tmp_path):
    conf = S.write_conf_file(tmp_path / "t.conf", {"database": {
        "url": through(stack, bouncer, S.Postgres.WORKER_LOGIN),
        "session_url": "host=127.0.0.1 port=%d dbname=x user=x" % S.free_port()}})
    p = S.subprocess.run([str(stack.exportd_bin), "-t", "-c", str(conf)], env=S.clean_env(),
                         capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "database.session_url:" in p.stderr, p
