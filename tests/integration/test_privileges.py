"""Least privilege in the database (README "Database roles", migration
005_roles.sql): export.fcgi and exportd run as login roles of the groups
exportd_api and exportd_worker, neither a superuser nor an owner; the worker
reads only what an export type exposes (`exportctl type grant`), the API
only the tables and columns it needs.

The session's stack already runs every program as those roles (stack.py,
Postgres); these tests pin what the roles may and may not do."""

import uuid
from pathlib import Path

import psycopg2
import psycopg2.errors
import pytest

import helpers as H
import stack as S

RUNTIME_ROLES = (S.Postgres.API_GROUP, S.Postgres.WORKER_GROUP,
                 S.Postgres.API_LOGIN, S.Postgres.WORKER_LOGIN)


def as_role(pg, role, sql, params=None, dbname=None):
    """Run one statement as a login role; rows, or the psycopg2 error raised."""
    conn = psycopg2.connect(pg.dsn(dbname, user=role))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def denied(pg, role, sql, params=None):
    """The statement fails as role with SQLSTATE 42501 (insufficient privilege)."""
    with pytest.raises(psycopg2.errors.InsufficientPrivilege) as e:
        as_role(pg, role, sql, params)
    return str(e.value)


@pytest.fixture
def secrets_type(stack):
    """A table the "application" (postgres) owns, with a column no type
    exposes, rows in acme, and an export type over two of its columns; no
    grant yet.  (type name, table name)."""
    name = "priv_" + uuid.uuid4().hex[:10]
    pg = stack.pg
    pg.query("CREATE TABLE %s (id bigint PRIMARY KEY, workspace text NOT NULL, label text,"
             " password text)" % name)
    pg.query("INSERT INTO %s SELECT g, 'acme', 'label ' || g, 'hunter' || g"
             " FROM generate_series(1, 50) g" % name)
    pg.query("INSERT INTO export_types (name, relation, key_column, workspace_column, columns)"
             " VALUES (%s, %s, 'id', 'workspace', '{id,label}')", (name, name))
    return name, name


def test_runtime_roles_are_not_superusers_and_own_nothing(stack):
    pg = stack.pg
    rows = pg.query("SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls,"
                    " rolcanlogin FROM pg_roles WHERE rolname = ANY(%s) ORDER BY rolname",
                    (list(RUNTIME_ROLES),))
    assert sorted(r[0] for r in rows) == sorted(RUNTIME_ROLES), rows
    for name, sup, createrole, createdb, bypass, login in rows:
        assert not (sup or createrole or createdb or bypass), (name, rows)
        assert login == (name in (S.Postgres.API_LOGIN, S.Postgres.WORKER_LOGIN)), rows
    owned = pg.query(
        "SELECT 'class ' || relname FROM pg_class WHERE relowner::regrole::text = ANY(%s)"
        " UNION ALL SELECT 'function ' || proname FROM pg_proc"
        " WHERE proowner::regrole::text = ANY(%s)"
        " UNION ALL SELECT 'schema ' || nspname FROM pg_namespace"
        " WHERE nspowner::regrole::text = ANY(%s)"
        " UNION ALL SELECT 'database ' || datname FROM pg_database"
        " WHERE datdba::regrole::text = ANY(%s)", (list(RUNTIME_ROLES),) * 4)
    assert owned == [], owned
    # The owner that migrates is not a superuser either.
    assert pg.query("SELECT rolsuper FROM pg_roles WHERE rolname = %s",
                    (S.Postgres.OWNER,)) == [(False,)]
    # And the programs do connect as those roles.
    users = dict(pg.query("SELECT DISTINCT application_name, usename FROM pg_stat_activity"
                          " WHERE datname = %s AND application_name IN"
                          " ('export.fcgi', 'exportd-worker')", (pg.dbname,)))
    assert users.get("exportd-worker") == S.Postgres.WORKER_LOGIN, users
    stack.api("GET", "/healthz")
    users = dict(pg.query("SELECT DISTINCT application_name, usename FROM pg_stat_activity"
                          " WHERE datname = %s AND application_name = 'export.fcgi'",
                          (pg.dbname,)))
    assert users == {"export.fcgi": S.Postgres.API_LOGIN}, users


def test_a_type_over_an_ungranted_table_fails_with_permission_denied(stack, secrets_type):
    type_, table = secrets_type
    r = H.post(stack, {"type": type_, "format": "csv"})
    assert r.status_code == 202, r.text
    job = stack.wait_for_job(r.json()["id"], timeout=30)
    assert job["status"] == "failed", job
    assert job["attempts"] == 1, job
    msg = job["error"]["message"]
    assert "permission denied for table %s" % table in msg, job
    assert job["row_count"] is None and job["file_size"] is None, job
    # nothing readable leaks: no file (not even a partial one), no rows,
    # and the API could not read the source's keys either
    files = [p for p in Path(stack.storage_dir).rglob("*") if job["id"] in p.name]
    assert files == [], files
    rows_done, key_set = H.row(stack, job["id"], "rows_done, as_of_key_set")
    assert rows_done == 0 and key_set is False, (rows_done, key_set)
    r = stack.api("GET", "/exports/%s/download" % job["id"])
    assert r.status_code == 409, (r.status_code, r.text[:300])
    assert "hunter" not in r.text and "hunter" not in str(job)


def test_api_role_reads_no_source_and_writes_no_key(stack):
    pg, api = stack.pg, S.Postgres.API_LOGIN
    # a source: only the key and workspace columns (the as-of key at creation)
    denied(pg, api, "SELECT * FROM contacts")
    denied(pg, api, "SELECT email FROM contacts")
    assert as_role(pg, api, "SELECT max(id) FROM contacts WHERE workspace = 'acme'")[0][0]
    # keys: read to authenticate, touch last_used_at; nothing else
    denied(pg, api, "INSERT INTO api_keys (id, secret_hash, workspace, email)"
                    " VALUES ('0123456789ab', repeat('0', 64), 'x', 'x@example.com')")
    denied(pg, api, "UPDATE api_keys SET revoked_at = NULL")
    denied(pg, api, "UPDATE api_keys SET secret_hash = repeat('0', 64)")
    # jobs: no result columns, no outbox recipients, no migrations record
    denied(pg, api, "UPDATE export_jobs SET file_key = 'x' WHERE false")
    denied(pg, api, "SELECT recipient FROM export_notifications")
    denied(pg, api, "SELECT * FROM exportd_migrations")
    denied(pg, api, "SELECT exportd_type_grant('contacts')")


def test_worker_role_reads_only_what_types_expose(stack, secrets_type):
    pg, worker = stack.pg, S.Postgres.WORKER_LOGIN
    type_, table = secrets_type
    denied(pg, worker, "SELECT * FROM api_keys")
    denied(pg, worker, "SELECT id FROM %s" % table)
    denied(pg, worker, "INSERT INTO export_jobs (workspace, type) VALUES ('acme', 'contacts')")
    denied(pg, worker, "UPDATE export_jobs SET workspace = 'x' WHERE false")
    pg.expose(type_)
    assert len(as_role(pg, worker, "SELECT id, label, workspace FROM %s" % table)) == 50
    # the column no type exposes stays closed, also after the grant
    denied(pg, worker, "SELECT password FROM %s" % table)
    denied(pg, worker, "SELECT * FROM %s" % table)


def test_exportctl_type_grant_makes_the_type_work(stack, secrets_type):
    type_, table = secrets_type
    failed = H.create(stack, {"type": type_, "format": "csv"})
    assert stack.wait_for_job(failed["id"], timeout=30)["status"] == "failed"
    # exportd's owner may grant only what it owns or was given WITH GRANT OPTION
    p = stack.exportctl("type", "grant", type_, check=False)
    assert p.returncode == 1 and "permission denied" in p.stderr and table in p.stderr, p
    stack.pg.query("GRANT SELECT ON %s TO %s WITH GRANT OPTION" % (table, S.Postgres.OWNER))
    p = stack.exportctl("type", "grant", type_)
    assert "SELECT (id, label, workspace) to %s" % S.Postgres.WORKER_GROUP in p.stdout, p.stdout
    p = stack.exportctl("type", "grant", "no_such_type", check=False)
    assert p.returncode == 1 and 'export type "no_such_type" does not exist' in p.stderr, p

    job = stack.wait_for_job(H.create(stack, {"type": type_, "format": "csv"})["id"],
                             timeout=30)
    assert job["status"] == "complete" and job["row_count"] == 50, job
    body = H.download(stack, job).text
    assert body.splitlines()[:2] == ["id,label", "1,label 1"], body[:200]
    assert "hunter" not in body
    # the API fixed the as-of key at creation once it could read the key column
    assert H.row(stack, job["id"], "as_of_key, as_of_key_set") == ("50", True)


def test_grant_that_grants_nothing_is_an_error(stack, secrets_type):
    """An owner holding SELECT without GRANT OPTION: PostgreSQL only warns
    ("no privileges were granted"); exportctl must fail, not print success."""
    type_, table = secrets_type
    stack.pg.query("GRANT SELECT ON %s TO %s" % (table, S.Postgres.OWNER))
    p = stack.exportctl("type", "grant", type_, check=False)
    assert p.returncode == 1 and "WITH GRANT OPTION" in p.stderr, p
    denied(stack.pg, S.Postgres.WORKER_LOGIN, "SELECT id FROM %s" % table)


@pytest.fixture
def other_db(stack, tmp_path):
    """other_db(owner=None) -> (database, owner, config path): one more
    database on the session's cluster, owned by `owner` (default: a new
    login role without CREATEROLE), with a config whose url is that owner;
    dropped afterwards with the roles it made."""
    made = []

    def make(owner=None):
        db = "exportd_" + uuid.uuid4().hex[:8]
        if owner is None:
            owner = "nocr_" + db
            stack.pg.query("CREATE ROLE %s LOGIN" % owner)
        stack.pg.query("CREATE DATABASE %s OWNER %s" % (db, owner), dbname="postgres")
        made.append(db)
        conf = S.write_conf_file(tmp_path / (db + ".conf"),
                                 {"database": {"url": stack.pg.dsn(db, owner)}})
        return db, owner, conf

    yield make
    for db in made:
        stack.pg.query("DROP DATABASE %s" % db, dbname="postgres")
        stack.pg.query("DROP ROLE IF EXISTS %s_api, %s_worker, nocr_%s" % (db, db, db),
                       dbname="postgres")


def migrate(stack, conf):
    return S.subprocess.run([str(stack.exportctl_bin), "-c", str(conf), "migrate"],
                            env=S.clean_env(), capture_output=True, text=True, timeout=60)


def test_two_databases_on_one_cluster_do_not_share_roles(stack, other_db):
    pg = stack.pg
    db, _, conf = other_db(S.Postgres.OWNER)
    p = migrate(stack, conf)
    assert p.returncode == 0, p
    assert sorted(r[0] for r in pg.query(
        "SELECT rolname FROM pg_roles WHERE rolname IN (%s, %s)",
        (db + "_api", db + "_worker"))) == [db + "_api", db + "_worker"]
    # the session's logins are members of exportd_api / exportd_worker: in
    # the other database they reach nothing
    for login in (S.Postgres.API_LOGIN, S.Postgres.WORKER_LOGIN):
        for sql in ("SELECT * FROM export_jobs", "SELECT * FROM api_keys",
                    "SELECT * FROM export_types"):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                as_role(pg, login, sql, dbname=db)


def test_an_owner_without_createrole_migrates_once_the_roles_exist(stack, other_db):
    pg = stack.pg
    db, owner, conf = other_db()
    p = migrate(stack, conf)
    assert p.returncode == 1, p
    assert ('role "%s_api" does not exist and "%s" may not create it' % (db, owner)
            in p.stderr), p.stderr
    # nothing of the failed migration stays
    assert pg.query("SELECT count(*) FROM exportd_migrations WHERE version = 5",
                    dbname=db) == [(0,)]
    pg.query("CREATE ROLE %s_api NOLOGIN; CREATE ROLE %s_worker NOLOGIN" % (db, db))
    p = migrate(stack, conf)
    # 005 and every later migration the failure held back
    assert p.returncode == 0 and "applying migration 005_roles" in p.stderr, p
    assert pg.query("SELECT count(*) FROM exportd_migrations WHERE version = 5",
                    dbname=db) == [(1,)]
    assert pg.query("SELECT has_table_privilege(%s, 'export_jobs', 'INSERT'),"
                    " has_table_privilege(%s, 'export_jobs', 'INSERT')",
                    (db + "_api", db + "_worker"), dbname=db) == [(True, False)]
