"""Trusted web-server login (README "In the browser", auth.remote_user):
the web server authenticates (here Basic auth in lighttpd and in Apache,
tests/integration/lighttpd-basic.conf, apache-basic.conf) and passes
REMOTE_USER; exportd maps
it to a workspace and an email through `exportctl user add|remove|list`.
An unknown user is 403; a state-changing request must carry
X-Exportd-Request (ambient credentials are forgeable cross-site); with the
setting off (the default) REMOTE_USER is ignored.
"""

import base64
import hashlib
import json
import subprocess
import uuid

import pytest
import requests

import helpers as H
import stack as S


PAGE = ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<title>Contacts</title><link rel="stylesheet" href="/web/exportd.css">'
        '<script src="/web/exportd.js" defer></script></head><body><main>'
        '<h1>Contacts</h1><div data-exportd-export data-type="contacts" data-format="csv"'
        ' data-label="Export contacts to CSV"></div></main></body></html>\n')


class BasicWeb:
    """A web server with Basic auth (lighttpd-basic.conf or apache-basic.conf)
    on a free port in front of an export.fcgi socket; a host page without a
    token at /index.html."""

    def __init__(self, stack, root, socket, kind="lighttpd"):
        self.stack, self.run_dir, self.socket, self.kind = stack, root, socket, kind
        self.service = None
        self.url = None
        self.timings = {}

    def _files(self):
        self.run_dir.mkdir(mode=0o755)
        docroot = self.run_dir / "www"
        docroot.mkdir(mode=0o755)
        (docroot / "index.html").write_text(PAGE)
        users = self.run_dir / "users"
        if self.kind == "lighttpd":
            users.write_text("ana:ana-password\nbob:bob-password\n")
        else:  # htpasswd's {SHA} form
            users.write_text("".join(
                "%s:{SHA}%s\n" % (u, base64.b64encode(hashlib.sha1(
                    (u + "-password").encode()).digest()).decode()) for u in ("ana", "bob")))
        users.chmod(0o644)
        return docroot, users

    def start(self):
        docroot, users = self._files()
        if self.kind == "lighttpd":
            binary = S.which("lighttpd", "apt-get install lighttpd")
            argv = [binary, "-D", "-f", S.SRCDIR / "tests/integration/lighttpd-basic.conf"]
        else:
            binary = S.which("apache2", "apt-get install apache2")
            argv = [binary, "-f", S.SRCDIR / "tests/integration/apache-basic.conf",
                    "-DFOREGROUND"]
        name = "basic-auth %s" % self.kind

        def make(port):
            return S.Service(name, argv, self.run_dir / "server.stderr",
                             env=S.clean_env(HTTPD_PORT=port, HTTPD_FCGI_SOCKET=self.socket,
                                             HTTPD_STORAGE_DIR=self.stack.storage_dir,
                                             HTTPD_RUN_DIR=self.run_dir, HTTPD_USERFILE=users,
                                             HTTPD_DOCROOT=docroot))

        self.service, port = S.start_on_free_port(make, name, [name])
        self.url = "http://127.0.0.1:%d" % port
        S.wait_until(lambda: requests.get(self.url + "/healthz", timeout=2).status_code == 401,
                     20, "%s to answer" % name)
        return self

    def stop(self):
        if self.service is not None:
            self.service.stop()
        return []

    def call(self, user, method, path, **kw):
        auth = (user, user + "-password") if user else None
        return requests.request(method, self.url + path, auth=auth, timeout=30, **kw)


@pytest.fixture(scope="module", params=["lighttpd", "apache"])
def web(stack, tmp_root, request):
    w = BasicWeb(stack, tmp_root / ("basic-auth-" + request.param), stack.fcgi_socket,
                 request.param).start()
    yield w
    w.stop()


@pytest.fixture(scope="module")
def ana(stack):
    ws = "ru_" + uuid.uuid4().hex[:8]
    H.add_contacts(stack, ws, 7)
    out = stack.exportctl("user", "add", "--workspace", ws, "--email", "ana@example.com", "ana")
    assert "ana" in out.stdout
    yield ws
    stack.exportctl("user", "remove", "ana", check=False)


BROWSER_DIR = S.SRCDIR / "tests/browser"
WRITE = {"X-Exportd-Request": "1", "Content-Type": "application/json"}


def test_mapped_user_creates_lists_downloads(stack, web, ana):
    r = web.call("ana", "POST", "/exports", json={"type": "contacts"}, headers=WRITE)
    assert r.status_code == 202, r.text
    job = r.json()
    assert H.row(stack, job["id"], "requester_email, workspace, api_key_id") == (
        "ana@example.com", ana, None)
    S.wait_until(lambda: H.db_status(stack, job["id"]) == "complete", 60, "the export")
    listed = web.call("ana", "GET", "/exports").json()["data"]
    assert listed[0]["id"] == job["id"]  # newest first
    r = web.call("ana", "GET", "/exports/%s/download" % job["id"])
    assert r.status_code == 200 and r.content.count(b"\n") == 8, r.content[:200]


def test_unknown_user_is_403(stack, web, ana):
    r = web.call("bob", "GET", "/exports")
    assert H.problem(r, 403)["type"] == "urn:exportd:problem:unknown-user"
    r = H.assert_writes_nothing(stack, lambda: web.call(
        "bob", "POST", "/exports", json={"type": "contacts"}, headers=WRITE))
    H.problem(r, 403)


def test_state_change_without_the_header_is_403(stack, web, ana):
    r = H.assert_writes_nothing(stack, lambda: web.call(
        "ana", "POST", "/exports", json={"type": "contacts"}))
    assert H.problem(r, 403)["type"] == "urn:exportd:problem:cross-site-request"
    pending = H.insert_pending(stack, workspace=ana)
    r = web.call("ana", "DELETE", "/exports/" + pending)
    assert H.problem(r, 403)["type"] == "urn:exportd:problem:cross-site-request"
    assert H.db_status(stack, pending) == "pending"
    r = web.call("ana", "DELETE", "/exports/" + pending, headers={"X-Exportd-Request": "1"})
    assert r.status_code == 200, r.text
    assert H.db_status(stack, pending) == "cancelled"


def test_off_by_default_ignores_remote_user(stack, side, tmp_root, ana):
    off = side("remote-user-off", {})
    w = BasicWeb(stack, tmp_root / "basic-auth-off", off.fcgi_socket).start()
    try:
        r = w.call("ana", "GET", "/exports")
        H.problem(r, 401)
    finally:
        w.stop()


def test_exportctl_user_add_list_remove(stack):
    ws = "ru_" + uuid.uuid4().hex[:8]
    stack.exportctl("user", "add", "--workspace", ws, "--email", "c@example.com", "carol")
    stack.exportctl("user", "add", "--workspace", ws, "--email", "c2@example.com", "carol")
    lines = stack.exportctl("user", "list").stdout.splitlines()
    assert lines[0].split("\t") == ["remote_user", "workspace", "email", "created_at"]
    assert [l.split("\t")[:3] for l in lines if l.startswith("carol\t")] == [
        ["carol", ws, "c2@example.com"]]
    bad = stack.exportctl("user", "add", "--workspace", ws, "--email", "nope", "dave",
                          check=False)
    assert bad.returncode == 2 and "--email" in bad.stderr
    assert stack.exportctl("user", "remove", "carol").returncode == 0
    gone = stack.exportctl("user", "remove", "carol", check=False)
    assert gone.returncode == 1 and "no such user" in gone.stderr


def _drive(web, user, scenario="simple"):
    """tests/browser/drive.js with a Basic login for every request."""
    shots = S.BUILDDIR / "tests/browser-screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    p = subprocess.run(["node", str(BROWSER_DIR / "drive.js"), scenario, web.url + "/index.html",
                        str(shots)], capture_output=True, text=True, timeout=240, cwd=str(BROWSER_DIR),
                       env=S.clean_env(HTTP_USER=user, HTTP_PASSWORD=user + "-password"))
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_browser_with_the_web_servers_login(stack, web, ana):
    """The widget with no token: the page's Basic login, same origin."""
    S.run(["sh", str(S.SRCDIR / "tests/browser/install.sh")], "tests/browser/install.sh",
          timeout=600)
    out = _drive(web, "ana")
    assert out["state"] == "complete", out
    assert "access_token" not in out["href"], out["href"]
    job_id = out["memo"][0]
    assert H.row(stack, job_id, "requester_email, workspace") == ("ana@example.com", ana)
    with open(out["file"], "rb") as f:
        assert f.read() == web.call("ana", "GET", "/exports/%s/download" % job_id).content
    out = _drive(web, "bob")
    assert out["state"] == "error", out
    assert "not mapped to a workspace" in out["detail"], out
