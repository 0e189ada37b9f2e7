"""GET /exports/{id}/download (README "Downloads"): 409 before completion;
headers, ranges and HEAD through lighttpd and Apache (X-Sendfile) and
streamed by export.fcgi; Repr-Digest; gzip files.
"""

import gzip
import hashlib
import re

import pytest

import helpers as H


# -------------------------------------------------- before completion

def test_download_of_pending_job_is_409(front, stack):
    job_id = H.insert_pending(stack)
    H.problem(H.call(stack, front, "GET", "/exports/%s/download" % job_id), 409)
    H.call(stack, stack.api, "DELETE", "/exports/" + job_id)


# --------------------------------------------- through the web server

@pytest.mark.parametrize("name, ctype", [
    (("contacts", "csv"), "text/csv"),
    (("events", "jsonl"), "application/x-ndjson"),
])
def test_download_headers_range_and_head_through_lighttpd(stack, exports, name, ctype):
    job, full = exports[name]
    path = "/exports/%s/download" % job["id"]
    r = H.download(stack, job)
    assert r.content == full
    assert r.headers["Content-Type"].split(";")[0].strip() == ctype, r.headers
    assert r.headers["Content-Disposition"] == H.content_disposition(job), r.headers
    assert int(r.headers["Content-Length"]) == len(full) == job["file_size"]
    assert "X-Sendfile" not in r.headers  # the web server consumed it

    size = len(full)
    r = stack.api("GET", path, headers={"Range": "bytes=0-9"})
    assert r.status_code == 206 and r.content == full[:10], (r.status_code, r.headers)
    assert r.headers["Content-Range"] == "bytes 0-9/%d" % size
    r = stack.api("GET", path, headers={"Range": "bytes=-10"})
    assert r.status_code == 206 and r.content == full[-10:], (r.status_code, r.headers)
    assert r.headers["Content-Range"] == "bytes %d-%d/%d" % (size - 10, size - 1, size)
    r = stack.api("GET", path, headers={"Range": "bytes=%d-" % (size - 5)})
    assert r.status_code == 206 and r.content == full[-5:], r.status_code
    for beyond in (size, size + 1000):
        r = stack.api("GET", path, headers={"Range": "bytes=%d-" % beyond})
        assert r.status_code == 416, (beyond, r.status_code, r.headers)
        assert full[:50] not in r.content

    h = stack.api("HEAD", path)
    assert h.status_code == 200, h.headers
    assert h.content == b""
    assert int(h.headers["Content-Length"]) == size, h.headers
    assert h.headers["Content-Disposition"] == H.content_disposition(job)
    # a download does not change the job
    assert stack.api("GET", "/exports/" + job["id"]).json()["status"] == "complete"


@pytest.mark.parametrize("name", [("contacts", "csv"), ("events", "jsonl")])
def test_download_through_apache_is_identical(stack, apache, exports, name):
    job, full = exports[name]
    r = H.download(stack, job, api=apache.api)
    assert r.content == full, "Apache sent %d bytes, lighttpd %d" % (len(r.content), len(full))
    assert r.headers["Content-Disposition"] == H.content_disposition(job)
    assert r.headers["Content-Type"].split(";")[0] in ("text/csv", "application/x-ndjson")
    assert "X-Sendfile" not in r.headers
    r = apache.api("GET", "/exports/%s/download" % job["id"], headers={"Range": "bytes=0-9"})
    assert r.status_code == 206 and r.content == full[:10], (r.status_code, r.headers)
    r = apache.api("GET", "/exports/%s/download" % job["id"], key=stack.key_globex)
    assert r.status_code == 404, r.status_code


# -------------------------------------------------------- Repr-Digest

def _set_real_checksum(stack, job_id, key):
    data = stack.api("GET", "/exports/%s/download" % job_id, key=key).content
    digest = hashlib.sha256(data).digest()
    stack.pg.query("UPDATE export_jobs SET checksum = %s WHERE id = %s",
                   (digest.hex(), job_id))
    return data, digest


def test_repr_digest_through_lighttpd_and_apache(stack, apache):
    ws, key = H.new_workspace(stack)
    H.add_contacts(stack, ws, 3)
    job = H.post(stack, {"type": "contacts"}, key=key).json()
    stack.wait_for_job(job["id"], timeout=30, key=key)
    # set by SQL: this tests the API's side whatever the worker stores
    data, digest = _set_real_checksum(stack, job["id"], key)
    for api in (stack.api, apache.api):
        r = api("GET", "/exports/%s/download" % job["id"], key=key)
        assert r.status_code == 200 and r.content == data
        assert r.headers.get("Repr-Digest") == "sha-256=:%s:" % H.b64(digest), r.headers
        assert r.headers.get("Digest") == "sha-256=%s" % H.b64(digest), r.headers
        assert stack.api("GET", "/exports/" + job["id"], key=key).json()["checksum"] == {
            "sha256": digest.hex()}
    # no checksum, no digest headers
    stack.pg.query("UPDATE export_jobs SET checksum = NULL WHERE id = %s", (job["id"],))
    r = stack.api("GET", "/exports/%s/download" % job["id"], key=key)
    assert r.status_code == 200 and "Repr-Digest" not in r.headers


def test_repr_digest_when_streamed(stack, side):
    ws, key = H.new_workspace(stack)
    H.add_contacts(stack, ws, 4)
    job = H.post(stack, {"type": "contacts"}, key=key).json()
    stack.wait_for_job(job["id"], timeout=30, key=key)
    data, digest = _set_real_checksum(stack, job["id"], key)
    fcgi = side("stream", {"http": {"download": "stream"}})
    path = "/exports/%s/download" % job["id"]
    r = fcgi.api("GET", path, key=key)
    assert r.status_code == 200 and r.content == data, r.text
    assert "X-Sendfile" not in r.headers
    assert r.headers.get("Repr-Digest") == "sha-256=:%s:" % H.b64(digest), r.headers
    assert r.headers.get("Digest") == "sha-256=%s" % H.b64(digest), r.headers
    head = fcgi.api("HEAD", path, key=key)
    assert head.status_code == 200 and head.headers.get("Repr-Digest") == r.headers["Repr-Digest"]
    part = fcgi.api("GET", path, key=key, headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == data[:10]
    assert "Repr-Digest" not in part.headers and "Digest" not in part.headers


# --------------------------------------------------------------- gzip

def test_gzip_export_downloads_as_a_gz_file(stack):
    ws, key = H.new_workspace(stack)
    H.add_contacts(stack, ws, 3)
    r = H.post(stack, {"type": "contacts", "compression": "gzip", "columns": ["id", "country"]},
               key=key)
    job = stack.wait_for_job(r.json()["id"], timeout=30, key=key)
    assert job["status"] == "complete", job
    got = stack.api("GET", "/exports/%s/download" % job["id"], key=key)
    assert got.status_code == 200
    assert got.headers["Content-Type"] == "application/gzip", got.headers
    assert "Content-Encoding" not in got.headers
    assert re.search(r'filename="contacts-\d{8}\.csv\.gz"', got.headers["Content-Disposition"])
    assert got.content[:2] == b"\x1f\x8b"
    assert gzip.decompress(got.content).decode().splitlines() == [
        "id,country"] + ["%d,FR" % i for i in sorted(
            r[0] for r in stack.pg.query("SELECT id FROM contacts WHERE workspace = %s", (ws,)))]
    assert job["checksum"] == {"sha256": hashlib.sha256(got.content).hexdigest()}
