"""GET /exports/{id}/download (README "Downloads"): 409 before completion;
headers, ranges and HEAD through lighttpd, Apache (X-Sendfile) and nginx
(X-Accel-Redirect), byte for byte what export.fcgi streams itself; a
handover the web server would ignore (500, not an empty 200); nginx's
workers as www-data; Repr-Digest; gzip files.
"""

import grp
import gzip
import hashlib
import pwd
import re

import pytest
import requests

import helpers as H
import stack as S


# -------------------------------------------------- before completion

def test_download_of_pending_job_is_409(front, stack):
    job_id = H.insert_pending(stack)
    H.problem(H.call(stack, front, "GET", "/exports/%s/download" % job_id), 409)
    H.call(stack, stack.api, "DELETE", "/exports/" + job_id)


# --------------------------------------------- through the web server

@pytest.fixture(scope="module")
def streamed(side):
    """export.fcgi sending the files itself (download = stream), the
    reference every web server's bytes are compared with."""
    return side("stream", {"http": {"download": "stream"}})


@pytest.mark.parametrize("name, ctype", [
    (("contacts", "csv"), "text/csv"),
    (("events", "jsonl"), "application/x-ndjson"),
])
def test_download_headers_range_and_head(front, stack, streamed, exports, name, ctype):
    job, _ = exports[name]
    path = "/exports/%s/download" % job["id"]
    full = H.download(stack, job, api=streamed.api).content
    r = H.download(stack, job, api=front)
    assert r.content == full, "%s sent %d bytes, stream %d" % (
        front.server, len(r.content), len(full))
    assert r.headers["Content-Type"].split(";")[0].strip() == ctype, r.headers
    assert r.headers["Content-Disposition"] == H.content_disposition(job), r.headers
    assert r.headers["Cache-Control"] == "private, no-store", r.headers
    assert int(r.headers["Content-Length"]) == len(full) == job["file_size"]
    # the web server consumed the handover header
    assert not {"X-Sendfile", "X-Accel-Redirect"} & set(r.headers), r.headers

    size = len(full)
    r = front("GET", path, headers={"Range": "bytes=0-9"})
    assert r.status_code == 206 and r.content == full[:10], (r.status_code, r.headers)
    assert r.headers["Content-Range"] == "bytes 0-9/%d" % size
    r = front("GET", path, headers={"Range": "bytes=-10"})
    assert r.status_code == 206 and r.content == full[-10:], (r.status_code, r.headers)
    assert r.headers["Content-Range"] == "bytes %d-%d/%d" % (size - 10, size - 1, size)
    r = front("GET", path, headers={"Range": "bytes=%d-" % (size - 5)})
    assert r.status_code == 206 and r.content == full[-5:], r.status_code
    for beyond in (size, size + 1000):
        r = front("GET", path, headers={"Range": "bytes=%d-" % beyond})
        assert r.status_code == 416, (beyond, r.status_code, r.headers)
        assert full[:50] not in r.content

    h = front("HEAD", path)
    assert h.status_code == 200, h.headers
    assert h.content == b""
    assert int(h.headers["Content-Length"]) == size, h.headers
    assert h.headers["Content-Disposition"] == H.content_disposition(job)
    # another workspace's key: the app's 404, not the file
    r = front("GET", path, key=stack.key_globex)
    assert r.status_code == 404 and full[:50] not in r.content, r.status_code
    # a download does not change the job
    assert front("GET", "/exports/" + job["id"]).json()["status"] == "complete"


def test_handover_location_is_not_reachable_from_outside(nginx, stack, exports):
    # nginx.conf's location is `internal`: the storage key in the URL of
    # the X-Accel-Redirect location gets nginx's own 404, not the file.
    job, full = exports[("contacts", "csv")]
    key = [p.name for p in stack.storage_dir.iterdir() if p.name.startswith(job["id"])][0]
    r = requests.get(nginx.url + "/_exportd_files/" + key, timeout=10)
    assert r.status_code == 404 and full[:50] not in r.content, (r.status_code, r.headers)


# ----------------------------- a handover the web server would ignore

@pytest.fixture(scope="module")
def nginx_on_xsendfile(stack, tmp_root):
    """nginx.conf in front of the session's export.fcgi, which say
    download = x-sendfile (the demo's config)."""
    web = S.Nginx(stack, tmp_root / "nginx-xsendfile", "nginx-xsendfile",
                  default_key=stack.key_acme, shared_pool=stack)
    web.start()
    yield web
    web.stop()


def _refused_handover(stack, api, job, log, mode, use):
    start = log.stat().st_size
    r = api("GET", "/exports/%s/download" % job["id"])
    body = H.problem(r, 500)
    assert body["type"] == "urn:exportd:problem:download-misconfigured", body
    assert r.content.startswith(b"{") and not {"X-Sendfile", "X-Accel-Redirect"} & set(
        r.headers), r.headers
    assert str(stack.storage_dir) not in r.text
    S.wait_until(lambda: "http.download = %s, but the web server" % mode in S.tail(
        log, 20, start), 5, "the error line in %s" % log)
    assert "set http.download = %s" % use in S.tail(log, 20, start)


def test_nginx_with_x_sendfile_is_a_500_not_an_empty_200(stack, nginx_on_xsendfile, exports):
    # nginx ignores X-Sendfile and would send the app's empty body as a 200
    # (seen with the demo's config): export.fcgi knows nginx by
    # SERVER_SOFTWARE and refuses, naming the setting in its log.
    job, _ = exports[("contacts", "csv")]
    _refused_handover(stack, nginx_on_xsendfile.api, job, stack.fcgi_log,
                      "x-sendfile", "x-accel-redirect")
    # everything but the handover works through it
    assert nginx_on_xsendfile.api("GET", "/exports/" + job["id"]).status_code == 200


def test_lighttpd_with_x_accel_redirect_is_a_500(stack, side, exports):
    job, _ = exports[("contacts", "csv")]
    web = side("accel", {"http": {"download": "x-accel-redirect"}})
    web.wait_healthz()
    _refused_handover(stack, web.api, job, web.fcgi_log, "x-accel-redirect", "x-sendfile")


# ------------------------------------------------ nginx's workers' rights

def test_nginx_workers_read_the_files_as_www_data(stack, nginx):
    # The master runs as root, its workers as www-data (nginx.conf's
    # `user`): they open the export file themselves, so a file exportd
    # made unreadable for the web server's group is nginx's 403, and the
    # storage dir's group + setgid (fcgi-conf/README.md) is what lets
    # every other download through.
    www = pwd.getpwnam("www-data").pw_uid
    workers = nginx.worker_pids()
    assert workers, "no nginx worker"
    for pid in workers:
        with open("/proc/%d/status" % pid) as f:
            uids = [line.split()[1:] for line in f if line.startswith("Uid:")][0]
        assert set(uids) == {str(www)}, (pid, uids)
    ws, key = H.new_workspace(stack)
    H.add_contacts(stack, ws, 2)
    job = stack.wait_for_job(H.post(stack, {"type": "contacts"}, key=key).json()["id"],
                             timeout=30, key=key)
    path = [p for p in stack.storage_dir.iterdir() if p.name.startswith(job["id"])][0]
    st = path.stat()
    assert st.st_mode & 0o777 == 0o640 and st.st_gid == grp.getgrnam("www-data").gr_gid, (
        oct(st.st_mode), st.st_gid)
    assert H.download(stack, job, key=key, api=nginx.api).content == path.read_bytes()
    path.chmod(0o600)
    try:
        r = nginx.api("GET", "/exports/%s/download" % job["id"], key=key)
        assert r.status_code == 403, (r.status_code, r.headers)
    finally:
        path.chmod(0o640)


# -------------------------------------------------------- Repr-Digest

def _set_real_checksum(stack, job_id, key):
    data = stack.api("GET", "/exports/%s/download" % job_id, key=key).content
    digest = hashlib.sha256(data).digest()
    stack.pg.query("UPDATE export_jobs SET checksum = %s WHERE id = %s",
                   (digest.hex(), job_id))
    return data, digest


def test_repr_digest_through_the_web_server(front, stack):
    ws, key = H.new_workspace(stack)
    H.add_contacts(stack, ws, 3)
    job = H.post(stack, {"type": "contacts"}, key=key).json()
    stack.wait_for_job(job["id"], timeout=30, key=key)
    # set by SQL: this tests the API's side whatever the worker stores
    data, digest = _set_real_checksum(stack, job["id"], key)
    for headers in ({}, {"Range": "bytes=0-4"}):   # the whole file's digest, on a 206 too
        r = front("GET", "/exports/%s/download" % job["id"], key=key, headers=headers)
        if headers:
            assert r.status_code == 206 and r.content == data[:5], r.status_code
        else:
            assert r.status_code == 200 and r.content == data
        assert r.headers.get("Repr-Digest") == "sha-256=:%s:" % H.b64(digest), r.headers
        assert r.headers.get("Digest") == "sha-256=%s" % H.b64(digest), r.headers
        assert stack.api("GET", "/exports/" + job["id"], key=key).json()["checksum"] == {
            "sha256": digest.hex()}
    # no checksum, no digest headers
    stack.pg.query("UPDATE export_jobs SET checksum = NULL WHERE id = %s", (job["id"],))
    r = front("GET", "/exports/%s/download" % job["id"], key=key)
    assert r.status_code == 200 and "Repr-Digest" not in r.headers, r.headers
    assert "Digest" not in r.headers


def test_repr_digest_when_streamed(stack, streamed):
    ws, key = H.new_workspace(stack)
    H.add_contacts(stack, ws, 4)
    job = H.post(stack, {"type": "contacts"}, key=key).json()
    stack.wait_for_job(job["id"], timeout=30, key=key)
    data, digest = _set_real_checksum(stack, job["id"], key)
    fcgi = streamed
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

def test_gzip_export_downloads_as_a_gz_file(front, stack):
    ws, key = H.new_workspace(stack)
    H.add_contacts(stack, ws, 3)
    r = H.post(stack, {"type": "contacts", "compression": "gzip", "columns": ["id", "country"]},
               key=key)
    job = stack.wait_for_job(r.json()["id"], timeout=30, key=key)
    assert job["status"] == "complete", job
    got = front("GET", "/exports/%s/download" % job["id"], key=key)
    assert got.status_code == 200
    assert got.headers["Content-Type"] == "application/gzip", got.headers
    assert "Content-Encoding" not in got.headers
    assert re.search(r'filename="contacts-\d{8}\.csv\.gz"', got.headers["Content-Disposition"])
    assert got.content[:2] == b"\x1f\x8b"
    assert gzip.decompress(got.content).decode().splitlines() == [
        "id,country"] + ["%d,FR" % i for i in sorted(
            r[0] for r in stack.pg.query("SELECT id FROM contacts WHERE workspace = %s", (ws,)))]
    assert job["checksum"] == {"sha256": hashlib.sha256(got.content).hexdigest()}
