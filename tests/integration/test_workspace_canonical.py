"""A workspace is its tenant column's canonical text (issue 11, finding 2;
README "Export types", docs/CONTRACTS.md).

Source rows are matched after PostgreSQL casts the workspace to the tenant
column's type, so "042", "+42" and " 42" all read tenant 42 of an integer
column.  Only CAST(w AS <type>)::text = w is a workspace: refused when a key
is created (exportctl), when a job is created (API: 422 naming `workspace`;
plain SQL: a trigger), and by the worker before it reads a row.
"""

import uuid

import psycopg2
import pytest

import helpers as H

TENANT_UUID = "6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b"


@pytest.fixture(scope="module")
def tenant_types(stack):
    """h11_int (integer tenant column) and h11_uuid (uuid tenant column),
    each with rows of its tenant and of another."""
    stack.pg.query("""
        CREATE TABLE IF NOT EXISTS h11_int_tenant (
            id bigint PRIMARY KEY, tenant integer NOT NULL, v text);
        CREATE TABLE IF NOT EXISTS h11_uuid_tenant (
            id bigint PRIMARY KEY, tenant uuid NOT NULL, v text);
        DELETE FROM h11_int_tenant; DELETE FROM h11_uuid_tenant;
        INSERT INTO h11_int_tenant VALUES (1, 42, 'a'), (2, 42, 'b'), (3, 7, 'other');
        INSERT INTO h11_uuid_tenant VALUES (1, '%s', 'a'), (2, gen_random_uuid(), 'other');
        INSERT INTO export_types (name, relation, key_column, workspace_column, columns)
        VALUES ('h11_int', 'h11_int_tenant', 'id', 'tenant', '{id,v}'),
               ('h11_uuid', 'h11_uuid_tenant', 'id', 'tenant', '{id,v}')
        ON CONFLICT (name) DO NOTHING""" % TENANT_UUID)
    stack.pg.expose("h11_int", "h11_uuid")
    yield
    stack.pg.query("DELETE FROM export_jobs WHERE type IN ('h11_int', 'h11_uuid');"
                   " DELETE FROM export_types WHERE name IN ('h11_int', 'h11_uuid')")


def apikey_create(stack, ws):
    email = "wc-%s@example.com" % uuid.uuid4().hex[:8]
    return stack.exportctl("apikey", "create", "--workspace", ws, "--email", email,
                           check=False), email


ALIASES_INT = ["042", "+42", " 42", "42 ", "0042", "-0"]
ALIASES_UUID = [TENANT_UUID.upper(), "{%s}" % TENANT_UUID, TENANT_UUID.replace("-", ""),
                "6f1c-2a3b-4d5e-4f60-8a9b-0c1d-2e3f-4a5b"]


@pytest.mark.parametrize("ws", ALIASES_INT + ALIASES_UUID)
def test_exportctl_refuses_a_non_canonical_workspace(stack, tenant_types, ws):
    p, email = apikey_create(stack, ws)
    assert p.returncode != 0, (ws, p.stdout, p.stderr)
    assert "canonical" in p.stderr, p.stderr
    assert stack.pg.query("SELECT count(*) FROM api_keys WHERE email = %s", (email,))[0][0] == 0


@pytest.mark.parametrize("ws,type_,ids", [("42", "h11_int", [1, 2]),
                                          (TENANT_UUID, "h11_uuid", [1])])
def test_the_canonical_workspace_exports_its_rows(stack, tenant_types, ws, type_, ids):
    p, _ = apikey_create(stack, ws)
    assert p.returncode == 0, p.stderr
    key = p.stdout.strip()
    job = H.create(stack, {"type": type_, "columns": ["id"]}, key=key)
    done = stack.wait_for_job(job["id"], key=key)
    assert done["status"] == "complete", done
    lines = H.download(stack, done, key=key).content.decode().splitlines()[1:]
    assert sorted(int(l) for l in lines) == ids


def test_a_workspace_that_does_not_cast_may_have_a_key(stack, tenant_types):
    """"acme-x" is no integer: it can never read h11_int's rows, so the key
    is made (for the text-tenant types) with a warning."""
    p, _ = apikey_create(stack, "acme-x%s" % uuid.uuid4().hex[:6])
    assert p.returncode == 0, p.stderr
    assert "h11_int" in p.stderr, p.stderr


def key_with_workspace(stack, ws):
    """A key whose workspace was set by SQL, past exportctl's check."""
    p, email = apikey_create(stack, "wc_" + uuid.uuid4().hex[:8])
    assert p.returncode == 0, p.stderr
    stack.pg.query("UPDATE api_keys SET workspace = %s WHERE email = %s", (ws, email))
    return p.stdout.strip()


@pytest.mark.parametrize("ws,type_", [(w, "h11_int") for w in ALIASES_INT + ["abc", "1e3"]]
                         + [(w, "h11_uuid") for w in ALIASES_UUID + ["not-a-uuid", " " + TENANT_UUID]])
def test_api_refuses_a_non_canonical_workspace(stack, tenant_types, ws, type_):
    key = key_with_workspace(stack, ws)
    r = H.assert_writes_nothing(
        stack, lambda: H.post(stack, {"type": type_}, key=key))
    body = H.problem(r, 422)
    assert body["field"] == "workspace", body
    assert body["errors"][0]["in"] == "api_key", body
    assert stack.pg.query("SELECT count(*) FROM export_jobs WHERE workspace = %s",
                          (ws,))[0][0] == 0


def test_plain_sql_job_is_refused_by_the_trigger(stack, tenant_types):
    with pytest.raises(psycopg2.Error) as e:
        stack.pg.query("INSERT INTO export_jobs (workspace, type) VALUES ('042', 'h11_int')")
    assert "canonical" in str(e.value), e.value
    # the canonical spelling is fine
    job_id = stack.pg.query("INSERT INTO export_jobs (workspace, type, run_at) VALUES"
                            " ('42', 'h11_int', now() + interval '10 years') RETURNING id")[0][0]
    stack.pg.query("DELETE FROM export_jobs WHERE id = %s", (job_id,))


@pytest.mark.parametrize("ws,type_", [("042", "h11_int"), (" 42", "h11_int"),
                                      (TENANT_UUID.upper(), "h11_uuid")])
def test_worker_refuses_a_non_canonical_job_before_reading_rows(stack, tenant_types, ws,
                                                                  type_):
    """Past the trigger (disabled for the insert): the job fails with a clear
    error and no as-of key was read, no row exported."""
    conn = stack.pg.connect(autocommit=False)
    try:
        with conn.cursor() as cur:
            cur.execute("ALTER TABLE export_jobs DISABLE TRIGGER export_jobs_workspace_canonical")
            cur.execute("INSERT INTO export_jobs (workspace, type) VALUES (%s, %s) RETURNING id",
                        (ws, type_))
            job_id = cur.fetchone()[0]
            cur.execute("ALTER TABLE export_jobs ENABLE TRIGGER export_jobs_workspace_canonical")
        conn.commit()
    finally:
        conn.close()
    poll = H.Poll(stack.pg)
    try:
        H.S.wait_until(lambda: poll.query("SELECT status FROM export_jobs WHERE id = %s",
                                          (job_id,))[0][0] in ("failed", "complete"),
                       30, "the job to end")
        status, code, msg, rows, key_set = poll.query(
            "SELECT status, error_code, error_message, rows_done, as_of_key_set"
            " FROM export_jobs WHERE id = %s", (job_id,))[0]
    finally:
        poll.close()
    assert (status, code) == ("failed", "invalid_job"), (status, code, msg)
    assert "canonical" in msg, msg
    assert rows == 0 and not key_set, (rows, key_set)
