"""DELETE /exports/{id} (README "HTTP API"): cancelling a pending job,
409 for a failed one, deleting a complete export (its file removed, then
410). Cancelling a running job is in test_crash.py (it needs a throttled
export), deleting an S3 export in test_s3.py.
"""

from pathlib import Path

import helpers as H


# ------------------------------------------------------------- cancel

def test_cancel_pending_job(stack):
    job_id = H.insert_pending(stack)
    r = H.call(stack, stack.api, "GET", "/exports/%s/download" % job_id)
    H.problem(r, 409)
    for _ in range(2):  # cancelling again answers the same
        r = H.call(stack, stack.api, "DELETE", "/exports/" + job_id)
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"].split(";")[0] == "application/json"
        job = r.json()
        assert job["id"] == job_id and job["status"] == "cancelled", job
        assert job["completed_at"] is not None, job
        assert H.db_status(stack, job_id) == "cancelled"
    H.problem(H.call(stack, stack.api, "GET", "/exports/%s/download" % job_id), 409)


def test_cancel_failed_job_is_409(stack):
    # A complete job's DELETE removes its file (below); a
    # failed one has nothing to cancel or remove.
    job_id = str(stack.pg.query(
        "INSERT INTO export_jobs (workspace, type, format, status, error_code, error_message,"
        " completed_at) VALUES ('acme', 'contacts', 'csv', 'failed', 'invalid_job', 'x', now())"
        " RETURNING id")[0][0])
    r = H.call(stack, stack.api, "DELETE", "/exports/" + job_id)
    H.problem(r, 409)
    assert H.db_status(stack, job_id) == "failed"
    r = H.call(stack, stack.api, "GET", "/exports/" + job_id)
    assert r.json()["status"] == "failed" and not r.json()["cancel_requested"]


# ------------------------------------------------------------- delete

def test_delete_complete_export_removes_the_file_then_410(stack):
    ws, key = H.new_workspace(stack)
    H.add_contacts(stack, ws, 3)
    job = H.post(stack, {"type": "contacts"}, key=key).json()
    assert stack.wait_for_job(job["id"], timeout=30, key=key)["status"] == "complete"
    file_key = H.row(stack, job["id"], "file_key")[0]
    path = Path(stack.storage_dir) / file_key
    assert path.is_file()
    r = stack.api("DELETE", "/exports/" + job["id"], key=key)
    assert r.status_code == 200, r.text
    gone = r.json()
    assert gone["status"] == "expired" and gone["purged_at"] is not None, gone
    assert not path.exists(), "the file is still there after DELETE"
    status, purged = H.row(stack, job["id"], "status, purged_at IS NOT NULL")
    assert (status, purged) == ("expired", True)
    body = H.problem(stack.api("GET", "/exports/%s/download" % job["id"], key=key), 410)
    assert "deleted" in body["detail"] and "new export" in body["detail"], body
    # again: nothing left to do, the job as it is
    again = stack.api("DELETE", "/exports/" + job["id"], key=key)
    assert again.status_code == 200 and again.json()["status"] == "expired"
    assert stack.api("GET", "/exports/" + job["id"], key=key).json()["status"] == "expired"
    # another workspace cannot delete it (404, as for any id)
    other = H.post(stack, {"type": "contacts"}, key=key).json()
    stack.wait_for_job(other["id"], timeout=30, key=key)
    H.problem(stack.api("DELETE", "/exports/" + other["id"], key=stack.key_globex), 404)
    assert H.row(stack, other["id"], "status")[0] == "complete"
