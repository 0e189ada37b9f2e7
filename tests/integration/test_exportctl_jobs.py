"""exportctl's job administration against the real stack: list filters and
--json, show (with the internals), retry, cancel and fail, each refusing
clearly when the job's state does not allow it, each recorded in the job's
history "by operator"."""
import json
import uuid

import pytest

import stack as S


def ctl(stack, *args):
    return stack.exportctl(*args, check=False)


def later_job(stack, ws="acme", type_="contacts"):
    """A pending job no worker takes yet (run_at an hour ahead)."""
    return str(stack.pg.query(
        "INSERT INTO export_jobs (workspace, type, format, run_at)"
        " VALUES (%s, %s, 'csv', now() + interval '1 hour') RETURNING id", (ws, type_))[0][0])


def job(stack, job_id):
    return stack.pg.query("SELECT status, error_message, history, lease_token, attempts,"
                          " ckpt_rows FROM export_jobs WHERE id = %s", (job_id,))[0]


@pytest.fixture(scope="module")
def failed_job(stack):
    """A job that failed for good: its type's relation is gone."""
    stack.pg.query("CREATE TABLE IF NOT EXISTS ctl_gone (id bigint PRIMARY KEY, ws text, v text);"
                   " INSERT INTO export_types (name, relation, key_column, workspace_column,"
                   " columns) VALUES ('ctl_gone', 'ctl_gone', 'id', 'ws', '{id,v}')"
                   " ON CONFLICT (name) DO NOTHING")
    stack.pg.expose("ctl_gone")
    stack.pg.query("DROP TABLE ctl_gone")
    jid = str(stack.pg.query("INSERT INTO export_jobs (workspace, type, format)"
                             " VALUES ('acme', 'ctl_gone', 'csv') RETURNING id")[0][0])
    S.wait_until(lambda: job(stack, jid)[0] == "failed", 30, "the job to fail")
    return jid


def test_show_prints_the_internals(stack, exports):
    jid = exports[("contacts", "csv")][0]["id"]
    p = ctl(stack, "jobs", "show", jid)
    assert p.returncode == 0, p
    fields = dict(line.split(None, 1) for line in p.stdout.splitlines() if " " in line)
    for name in ("lease_owner", "lease_token", "lease_expires_at", "ckpt_part", "ckpt_rows",
                 "ckpt_bytes", "ckpt_last_key", "errors", "file_key", "notifications",
                 "webhooks", "history", "stuck"):
        assert name in fields, (name, p.stdout)
    assert fields["status"] == "complete" and fields["stuck"] == "f", p.stdout
    j = json.loads(ctl(stack, "jobs", "show", jid, "--json").stdout)
    assert j["id"] == jid and isinstance(j["lease_token"], int) and \
        isinstance(j["notifications"], list) and j["history"] == [], j


def test_show_refuses_unknown_and_other_workspaces(stack, exports):
    p = ctl(stack, "jobs", "show", str(uuid.uuid4()))
    assert p.returncode == 1 and "no job" in p.stderr, p
    p = ctl(stack, "jobs", "show", "not-a-uuid")
    assert p.returncode == 1 and "invalid input syntax for type uuid" in p.stderr, p
    jid = later_job(stack)
    p = ctl(stack, "jobs", "show", jid, "--workspace", "globex")
    assert p.returncode == 1 and "no job" in p.stderr, p


def test_retry_runs_a_failed_job_again_and_records_it(stack, failed_job):
    p = ctl(stack, "jobs", "retry", failed_job)
    assert p.returncode == 0 and "retry %s: pending" % failed_job in p.stdout, p
    S.wait_until(lambda: job(stack, failed_job)[0] == "failed", 30, "the job to fail again")
    status, _, history, _, attempts, _ = job(stack, failed_job)
    assert history[0]["by"] == "operator" and history[0]["action"] == "retry" and \
        history[0]["from"] == "failed", history
    assert attempts == 1, attempts


def test_retry_refuses_a_complete_job(stack, exports):
    jid = exports[("contacts", "jsonl")][0]["id"]
    p = ctl(stack, "jobs", "retry", jid)
    assert p.returncode == 1, p
    assert "is complete: only failed or cancelled jobs can be retried" in p.stderr, p
    assert job(stack, jid)[2] == []


def test_cancel_then_cancel_again(stack):
    jid = later_job(stack)
    p = ctl(stack, "jobs", "cancel", jid)
    assert p.returncode == 0 and "cancelled" in p.stdout, p
    assert job(stack, jid)[0] == "cancelled"
    p = ctl(stack, "jobs", "cancel", jid)
    assert p.returncode == 1 and "is cancelled: only pending or processing" in p.stderr, p
    # and a cancelled job may be retried
    p = ctl(stack, "jobs", "retry", jid)
    assert p.returncode == 0, p
    assert [h["action"] for h in job(stack, jid)[2]] == ["cancel", "retry"]
    ctl(stack, "jobs", "cancel", jid)


def test_fail_needs_a_reason_and_tells_the_requester(stack):
    jid = later_job(stack)
    p = ctl(stack, "jobs", "fail", jid)
    assert p.returncode == 2 and "--reason" in p.stderr, p
    p = ctl(stack, "jobs", "fail", jid, "--reason", "table being rebuilt")
    assert p.returncode == 0, p
    status, message, history, _, _, _ = job(stack, jid)
    assert status == "failed" and message == "failed by an operator: table being rebuilt"
    assert history[-1]["reason"] == "table being rebuilt", history


def test_fail_takes_a_stuck_job_and_fences_its_worker(stack):
    """Stuck: processing, its lease expired, and no worker left to take it
    over (a live exportd would claim it at once)."""
    stack.exportd.stop(grace=15)
    try:
        jid = later_job(stack)
        stack.pg.query("UPDATE export_jobs SET status = 'processing', lease_owner = 'gone:1:0',"
                       " lease_token = 7, lease_expires_at = now() - interval '1 minute'"
                       " WHERE id = %s", (jid,))
        listed = json.loads(ctl(stack, "jobs", "list", "--stuck", "--json").stdout)
        assert jid in [j["id"] for j in listed], listed
        p = ctl(stack, "jobs", "fail", jid, "--reason", "worker host lost")
        assert p.returncode == 0, p
        status, _, _, token, _, _ = job(stack, jid)
        assert status == "failed" and token > 7
    finally:
        stack.start_exportd()


def test_fail_refuses_a_job_a_live_worker_holds(stack):
    jid = later_job(stack)
    stack.pg.query("UPDATE export_jobs SET status = 'processing', lease_owner = 'h:1:0',"
                   " lease_expires_at = now() + interval '1 minute' WHERE id = %s", (jid,))
    try:
        p = ctl(stack, "jobs", "fail", jid, "--reason", "x")
        assert p.returncode == 1 and "cancel a running one instead" in p.stderr, p
        assert job(stack, jid)[0] == "processing"
    finally:
        stack.pg.query("UPDATE export_jobs SET status = 'cancelled', completed_at = now()"
                       " WHERE id = %s", (jid,))


def test_list_filters_and_json(stack, failed_job):
    rows = json.loads(ctl(stack, "jobs", "list", "--type", "ctl_gone", "--json").stdout)
    assert rows and all(r["type"] == "ctl_gone" for r in rows), rows
    assert isinstance(rows[0]["attempts"], int)
    p = ctl(stack, "jobs", "list", "--type", "ctl_gone", "--older-than", "1 day")
    assert p.returncode == 0 and len(p.stdout.splitlines()) == 1, p  # the header only
    p = ctl(stack, "jobs", "list", "--status", "failed", "--workspace", "acme")
    assert p.returncode == 0 and failed_job in p.stdout, p
    keys = json.loads(ctl(stack, "apikey", "list", "--json").stdout)
    assert keys and all("secret_hash" not in k for k in keys), keys


def test_purge_removes_old_finished_jobs_files_and_rows(stack):
    """Finished before --before: files removed, rows deleted (complete ones
    expire first, all folded into the /metrics totals so that no counter
    goes down); pending and newer jobs stay."""
    from pathlib import Path
    ws = "purge-%s" % uuid.uuid4().hex[:6]
    stack.pg.query("INSERT INTO contacts (workspace, email) VALUES (%s, 'a@example.com')",
                   (ws,))
    done = str(stack.pg.query("INSERT INTO export_jobs (workspace, type, format)"
                              " VALUES (%s, 'contacts', 'csv') RETURNING id", (ws,))[0][0])
    S.wait_until(lambda: job(stack, done)[0] == "complete", 30, "the export")
    key = stack.pg.query("SELECT file_key FROM export_jobs WHERE id = %s", (done,))[0][0]
    path = Path(stack.storage_dir) / key
    assert path.exists()
    gone = later_job(stack, ws)
    ctl(stack, "jobs", "cancel", gone)
    waiting = later_job(stack, ws)
    before = stack.pg.query("SELECT now() + interval '1 second'")[0][0].isoformat()
    totals0 = stack.pg.query("SELECT expired, cancelled FROM export_job_totals")[0]
    p = ctl(stack, "jobs", "purge", "--before", before, "--workspace", ws)
    assert p.returncode == 0 and "purged 2 jobs (1 files removed)" in p.stdout, p
    assert not path.exists()
    left = [r[0] for r in stack.pg.query("SELECT id::text FROM export_jobs WHERE workspace = %s",
                                         (ws,))]
    assert left == [waiting], left
    totals1 = stack.pg.query("SELECT expired, cancelled FROM export_job_totals")[0]
    assert totals1[0] >= totals0[0] + 1 and totals1[1] >= totals0[1] + 1, (totals0, totals1)
    p = ctl(stack, "jobs", "purge", "--before", "yesterday-ish")
    assert p.returncode == 1 and "invalid input syntax for type timestamp" in p.stderr, p
    p = ctl(stack, "jobs", "purge")
    assert p.returncode == 2 and "--before" in p.stderr, p
    ctl(stack, "jobs", "cancel", waiting)
