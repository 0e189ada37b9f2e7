"""Webhooks (README "Webhooks"): POST/GET/DELETE /webhooks with workspace
scoping, and delivery by exportd's webhook process to a real HTTP receiver
on loopback (http.server in a thread of this module) that checks every
request's Exportd-Signature with its own HMAC code: signed once per event,
retried on 500 and after a 429's Retry-After, final on 410, redelivered by
exportctl with the same event id, delivered after its process is killed
with -9 mid-request, refused when the target is on loopback and
webhooks.allow_private is off (an exportd of its own), counted in /metrics.

The session's config allows http and private targets (a receiver on this
machine) with fast retries (retry_base 200ms, retry_max 5s, poll 200ms).
Every test has a workspace of its own, so one test's endpoints never see
another's jobs.
"""

import hashlib
import hmac
import json
import os
import re
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import statistics

import pytest

import helpers as H
import stack as S

EVENTS = ["export.completed", "export.failed", "export.cancelled", "export.expired"]
FIGURES = {}


# ------------------------------------------------------------ the receiver

class Receiver:
    """An HTTP server on 127.0.0.1 recording every POST; script(path, answers)
    sets what a path answers, one (status, headers, delay_s) per request in
    order, then 200."""

    def __init__(self, port=0):
        self.lock = threading.Lock()
        self.requests = []            # SimpleNamespace(path, at, headers, body)
        self.scripts = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with receiver.lock:
                    receiver.requests.append(SimpleNamespace(
                        path=self.path, at=time.monotonic(), wall=time.time(),
                        headers=dict(self.headers), body=body))
                    script = receiver.scripts.get(self.path, [])
                    status, headers, delay = script.pop(0) if script else (200, {}, 0)
                if delay:
                    time.sleep(delay)
                reply = b'{"ok": true}'
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except OSError:
                    pass   # the sender went away (killed mid-request)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path, host="127.0.0.1"):
        return "http://%s:%d%s" % (host, self.server.server_address[1], path)

    def script(self, path, answers):
        with self.lock:
            self.scripts[path] = list(answers)

    def got(self, path):
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def wait(self, path, n, timeout=20):
        S.wait_until(lambda: len(self.got(path)) >= n, timeout * S.TIME_SCALE,
                     "%d request(s) on %s (got %d)" % (n, path, len(self.got(path))))
        return self.got(path)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def verify(secret, headers, body, tolerance=300):
    """A receiver's check of Exportd-Signature, written from the README's
    description: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>."""
    parts = dict(p.split("=", 1) for p in headers["Exportd-Signature"].split(","))
    t = int(parts["t"])
    want = hmac.new(secret.encode(), b"%d." % t + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, parts["v1"]) and abs(time.time() - t) <= tolerance


# ------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.stop()
    if FIGURES:
        print("\nwebhook figures:\n  " + "\n  ".join("%s: %s" % kv for kv in FIGURES.items()))


@pytest.fixture
def ws(stack):
    """A workspace of this test with a few contacts and a key; its
    endpoints are removed after the test (their pending deliveries too)."""
    name, key = H.new_workspace(stack, "hook")
    H.add_contacts(stack, name, 5)
    yield SimpleNamespace(name=name, key=key)
    stack.pg.query("DELETE FROM export_webhooks WHERE workspace = %s", (name,))


def register(stack, ws, url, events=None, api=None):
    body = {"url": url}
    if events is not None:
        body["events"] = events
    r = H.call(stack, api or stack.api, "POST", "/webhooks", key=ws.key, json=body)
    assert r.status_code == 201, r.text
    hook = r.json()
    assert r.headers["Location"].endswith("/webhooks/" + hook["id"]), r.headers
    return hook


def export(stack, ws):
    """A complete contacts export of the workspace (the job JSON)."""
    job = H.create(stack, {"type": "contacts"}, key=ws.key)
    job = stack.wait_for_job(job["id"], key=ws.key)
    assert job["status"] == "complete", job
    return job


def job_view(stack, ws, job_id):
    r = stack.api.get("/exports/%s" % job_id, key=ws.key)
    assert r.status_code == 200, r.text
    return r.json()


def wait_delivery(stack, ws, job_id, status, timeout=20):
    """The job's one webhook delivery (as the job view shows it) once it is
    in status."""
    got = {}

    def done():
        got["job"] = job_view(stack, ws, job_id)
        hooks = got["job"]["webhooks"]
        return len(hooks) == 1 and hooks[0]["status"] == status
    S.wait_until(done, timeout * S.TIME_SCALE, "job %s: a delivery %s" % (job_id, status))
    return got["job"]["webhooks"][0]


def payload(req):
    return json.loads(req.body)


# ------------------------------------------------------------ the endpoints

def test_register_list_delete_and_scoping(stack, ws, receiver):
    hook = register(stack, ws, receiver.url("/scoping"), events=["export.failed"])
    assert re.fullmatch(r"whsec_[0-9a-f]{64}", hook["secret"]), hook
    assert hook["url"] == receiver.url("/scoping") and hook["events"] == ["export.failed"]
    listed = H.call(stack, stack.api, "GET", "/webhooks", key=ws.key)
    assert listed.status_code == 200 and listed.headers["Cache-Control"] == "no-store"
    (shown,) = listed.json()["data"]
    assert shown["id"] == hook["id"] and "secret" not in shown, shown
    assert set(shown) == {"id", "url", "events", "created_at"}

    other, other_key = H.new_workspace(stack, "hookother")
    assert H.call(stack, stack.api, "GET", "/webhooks", key=other_key).json()["data"] == []
    r = H.call(stack, stack.api, "DELETE", "/webhooks/%s" % hook["id"], key=other_key)
    H.problem(r, 404)
    assert len(H.call(stack, stack.api, "GET", "/webhooks", key=ws.key).json()["data"]) == 1
    r = H.call(stack, stack.api, "DELETE", "/webhooks/%s" % hook["id"], key=ws.key)
    assert r.status_code == 200 and r.json()["id"] == hook["id"], r.text
    assert H.call(stack, stack.api, "GET", "/webhooks", key=ws.key).json()["data"] == []
    H.problem(H.call(stack, stack.api, "DELETE", "/webhooks/%s" % hook["id"], key=ws.key), 404)
    # no key: 401, as for /exports
    assert H.call(stack, stack.api, "GET", "/webhooks", key=None).status_code == 401
    # every event by default
    assert register(stack, ws, receiver.url("/all"))["events"] == EVENTS


@pytest.mark.parametrize("body,field", [
    ({}, "url"),
    ({"url": 42}, "url"),
    ({"url": "ftp://127.0.0.1/x"}, "url"),
    ({"url": "http://user:pw@127.0.0.1/x"}, "url"),
    ({"url": "http://127.0.0.1/x", "events": []}, "events"),
    ({"url": "http://127.0.0.1/x", "events": ["export.done"]}, "events"),
    ({"url": "http://127.0.0.1/x", "events": "export.failed"}, "events"),
    ({"url": "http://127.0.0.1/x", "secret": "mine"}, "secret"),
])
def test_register_refuses(stack, ws, body, field):
    H.field_problem(H.call(stack, stack.api, "POST", "/webhooks", key=ws.key, json=body), field)
    assert stack.pg.query("SELECT count(*) FROM export_webhooks WHERE workspace = %s",
                          (ws.name,))[0][0] == 0


def test_register_limit_per_workspace(stack, ws):
    """webhooks.max_per_workspace (default 10): the next one answers 409,
    and another workspace is not affected."""
    for i in range(10):
        register(stack, ws, "https://hooks.example.com/%d" % i)
    r = H.call(stack, stack.api, "POST", "/webhooks", key=ws.key,
               json={"url": "https://hooks.example.com/10"})
    p = H.problem(r, 409)
    assert p["type"] == "urn:exportd:problem:too-many-webhooks", p
    assert "webhooks.max_per_workspace" in p["detail"], p
    r = stack.exportctl("webhook", "add", "--workspace", ws.name, "https://hooks.example.com/x",
                        check=False)
    assert r.returncode == 1 and "max_per_workspace" in r.stderr, r
    other, other_key = H.new_workspace(stack, "hookother")
    try:
        r = H.call(stack, stack.api, "POST", "/webhooks", key=other_key,
                   json={"url": "https://hooks.example.com/y"})
        assert r.status_code == 201, r.text
    finally:
        stack.pg.query("DELETE FROM export_webhooks WHERE workspace = %s", (other,))


def test_exportctl_add_list_remove(stack, ws):
    r = stack.exportctl("webhook", "add", "--workspace", ws.name, "--events",
                        "export.failed,export.expired", "https://hooks.example.com/ctl")
    secret = r.stdout.strip()
    assert re.fullmatch(r"whsec_[0-9a-f]{64}", secret), r.stdout
    assert "shown only once" in r.stderr, r.stderr
    (row,) = json.loads(stack.exportctl("webhook", "list", "--workspace", ws.name,
                                        "--json").stdout)
    assert row["url"] == "https://hooks.example.com/ctl" and row["workspace"] == ws.name, row
    assert row["events"] == ["export.failed", "export.expired"] and "secret" not in row, row
    assert secret not in stack.exportctl("webhook", "list").stdout
    shown = H.call(stack, stack.api, "GET", "/webhooks", key=ws.key).json()["data"]
    assert [h["id"] for h in shown] == [row["id"]]
    for bad, why in ((["--events", "export.done", "https://hooks.example.com/ctl"], "event"),
                     (["ftp://hooks.example.com/ctl"], "URL")):
        r = stack.exportctl("webhook", "add", "--workspace", ws.name, *bad, check=False)
        assert r.returncode == 2 and why in r.stderr, r
    assert "removed" in stack.exportctl("webhook", "remove", row["id"]).stdout
    r = stack.exportctl("webhook", "remove", row["id"], check=False)
    assert r.returncode == 1 and "no such webhook" in r.stderr, r


def test_register_needs_json(stack, ws):
    r = H.call(stack, stack.api, "POST", "/webhooks", key=ws.key,
               data=b'{"url": "https://example.com/"}', headers={"Content-Type": "text/plain"})
    H.problem(r, 415)


def test_https_only_unless_allowed(stack, ws, side):
    web = side("hook-https", {})   # no [webhooks]: allow_http off
    r = H.call(stack, web.api, "POST", "/webhooks", key=ws.key,
               json={"url": "http://127.0.0.1:9/x"})
    p = H.field_problem(r, "url")
    assert "https" in json.dumps(p), p
    hook = register(stack, ws, "https://hooks.example.com/exportd", api=web.api)
    assert hook["url"] == "https://hooks.example.com/exportd"


# ------------------------------------------------------------ delivery

def test_delivered_once_signed(stack, ws, receiver):
    hook = register(stack, ws, receiver.url("/signed"))
    job = export(stack, ws)
    (req,) = receiver.wait("/signed", 1)
    body = payload(req)
    assert req.headers["Content-Type"] == "application/json"
    assert req.headers["Exportd-Event-Id"] == body["id"]
    assert verify(hook["secret"], req.headers, req.body)
    # a receiver's own check refuses a tampered body and another secret
    assert not verify(hook["secret"], req.headers, req.body.replace(b"complete", b"failed__"))
    assert not verify("whsec_" + "0" * 64, req.headers, req.body)
    assert body["type"] == "export.completed" and set(body) == {"id", "type", "created", "data"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", body["created"]), body
    data, shown = body["data"], job_view(stack, ws, job["id"])
    for k in ("id", "type", "format", "status", "row_count", "file_size", "checksum",
              "completed_at", "links"):
        assert data[k] == shown[k], (k, data[k], shown[k])
    d = wait_delivery(stack, ws, job["id"], "delivered")
    assert d["id"] == body["id"] and d["attempts"] == 1 and d["last_status"] == 200, d
    assert d["event"] == "export.completed" and d["webhook_id"] == hook["id"], d
    assert d["next_attempt_at"] is None and d["delivered_at"] is not None, d
    shown = json.loads(stack.exportctl("jobs", "show", job["id"], "--json").stdout)
    assert [(w["id"], w["status"], w["attempts"]) for w in shown["webhooks"]] == [
        (body["id"], "delivered", 1)], shown["webhooks"]
    time.sleep(1.0)   # > poll_interval: a second delivery would show by now
    assert len(receiver.got("/signed")) == 1


def test_500_then_success(stack, ws, receiver):
    receiver.script("/flaky", [(500, {}, 0), (503, {}, 0)])
    before = H.scrape(stack.api)
    register(stack, ws, receiver.url("/flaky"))
    job = export(stack, ws)
    reqs = receiver.wait("/flaky", 3)
    ids = {r.headers["Exportd-Event-Id"] for r in reqs}
    assert len(ids) == 1, ids
    d = wait_delivery(stack, ws, job["id"], "delivered")
    assert d["attempts"] == 3 and d["last_error"] is None, d
    # backoff: the second retry waits longer than the first (base 200ms doubling)
    assert reqs[1].at - reqs[0].at >= 0.09 and reqs[2].at - reqs[1].at >= 0.19, [
        r.at for r in reqs]

    def counted(s):
        def n(outcome):
            k = 'exportd_webhook_deliveries_total{outcome="%s"}' % outcome
            return s.get(k, 0) - before.get(k, 0)
        return n("retried") >= 2 and n("delivered") >= 1
    H.scrape_until(stack.api, counted, "retried and delivered counted")


def test_retry_after_honoured(stack, ws, receiver):
    receiver.script("/busy", [(429, {"Retry-After": "2"}, 0)])
    register(stack, ws, receiver.url("/busy"))
    job = export(stack, ws)
    reqs = receiver.wait("/busy", 2)
    # without Retry-After the first retry comes after 100-200 ms
    assert reqs[1].at - reqs[0].at >= 1.9, reqs[1].at - reqs[0].at
    d = wait_delivery(stack, ws, job["id"], "delivered")
    assert d["attempts"] == 2, d


def test_gone_is_final_then_redeliver(stack, ws, receiver):
    receiver.script("/gone", [(410, {}, 0)])
    register(stack, ws, receiver.url("/gone"))
    job = export(stack, ws)
    d = wait_delivery(stack, ws, job["id"], "failed")
    assert d["attempts"] == 1 and d["last_status"] == 410 and "410" in d["last_error"], d
    assert d["next_attempt_at"] is None, d
    time.sleep(1.0)
    assert len(receiver.got("/gone")) == 1
    out = stack.exportctl("webhook", "deliveries", "--workspace", ws.name, "--json").stdout
    (row,) = json.loads(out)
    assert row["id"] == d["id"] and row["status"] == "failed" and row["last_status"] == 410, row
    out = stack.exportctl("webhook", "redeliver", d["id"]).stdout
    assert d["id"] in out, out
    reqs = receiver.wait("/gone", 2)
    assert reqs[1].headers["Exportd-Event-Id"] == d["id"]
    d = wait_delivery(stack, ws, job["id"], "delivered")
    assert d["attempts"] == 2, d
    assert json.loads(stack.exportctl("webhook", "deliveries", "--workspace", ws.name,
                                      "--json").stdout) == []
    r = stack.exportctl("webhook", "redeliver", "00000000-0000-0000-0000-000000000000",
                        check=False)
    assert r.returncode == 1 and "no such delivery" in r.stderr, r


def test_events_chosen_and_expired(stack, ws, receiver):
    register(stack, ws, receiver.url("/expired"), events=["export.expired"])
    job = export(stack, ws)
    time.sleep(1.0)
    assert receiver.got("/expired") == []
    r = H.call(stack, stack.api, "DELETE", "/exports/%s" % job["id"], key=ws.key)
    assert r.status_code == 200 and r.json()["status"] == "expired", r.text
    (req,) = receiver.wait("/expired", 1)
    assert payload(req)["type"] == "export.expired"
    assert payload(req)["data"]["status"] == "expired"


def test_kill9_mid_request_redelivers_same_event(stack, ws, receiver):
    """The webhook process dies while the receiver holds the request: its
    transaction rolls back, the supervisor starts another, and the event
    comes again with the same id (at least once; receivers dedupe)."""
    receiver.script("/slow", [(200, {}, 1.5)])
    register(stack, ws, receiver.url("/slow"))
    job = export(stack, ws)
    receiver.wait("/slow", 1)
    (pid,) = [p for p in S.children_of(stack.exportd.pid) if S.comm_of(p) == "exportd-webhook"]
    os.kill(pid, signal.SIGKILL)
    reqs = receiver.wait("/slow", 2, timeout=30)
    assert reqs[0].headers["Exportd-Event-Id"] == reqs[1].headers["Exportd-Event-Id"]
    d = wait_delivery(stack, ws, job["id"], "delivered")
    assert d["attempts"] == 1, d   # the killed attempt was never recorded
    time.sleep(1.0)
    assert len(receiver.got("/slow")) == 2


def test_private_targets_refused(stack, ws, receiver):
    """With webhooks.allow_private off (the default), a target that resolves
    to loopback is refused before any connection, whatever its name."""
    extra = S.ExtraExportd(stack, "exportd hook-ssrf", {
        "exportd": {"workers": "1", "poll_interval": "200ms"},
        "webhooks": {"allow_http": "on", "poll_interval": "200ms"}})
    stack.exportd.stop(grace=15)
    try:
        extra.start()
        register(stack, ws, receiver.url("/ssrf"))
        register(stack, ws, receiver.url("/ssrf", host="localhost"))
        job = H.create(stack, {"type": "contacts"}, key=ws.key)

        def refused():
            hooks = job_view(stack, ws, job["id"])["webhooks"]
            return len(hooks) == 2 and all(h["status"] == "failed" for h in hooks)
        S.wait_until(refused, 20 * S.TIME_SCALE, "both deliveries refused")
        for h in job_view(stack, ws, job["id"])["webhooks"]:
            assert "loopback" in h["last_error"] and h["last_status"] is None, h
        assert receiver.got("/ssrf") == []
    finally:
        extra.kill(sig=signal.SIGTERM, timeout=30)
        stack.start_exportd()


def test_receiver_down_then_back(stack, ws):
    """Nothing listens on the endpoint's port: attempts fail (connection
    refused) and are retried with backoff; once a receiver listens there,
    the event arrives, once."""
    port = S.free_port()
    hook = register(stack, ws, "http://127.0.0.1:%d/down" % port)
    job = export(stack, ws)

    def failing():
        d = job_view(stack, ws, job["id"])["webhooks"]
        return d and d[0]["status"] == "pending" and d[0]["attempts"] >= 3
    S.wait_until(failing, 20 * S.TIME_SCALE, "three refused attempts")
    d = job_view(stack, ws, job["id"])["webhooks"][0]
    assert d["last_status"] is None and d["last_error"] and d["next_attempt_at"], d
    down_at = time.monotonic()
    back = Receiver(port)
    try:
        (req,) = back.wait("/down", 1, timeout=30)
        assert verify(hook["secret"], req.headers, req.body)
        d = wait_delivery(stack, ws, job["id"], "delivered")
        assert d["attempts"] >= 4 and d["last_error"] is None, d
        FIGURES["outage: receiver back -> event received"] = "%.2f s (after %d failed attempts)" % (
            req.at - down_at, d["attempts"] - 1)
        time.sleep(1.0)
        assert len(back.got("/down")) == 1
    finally:
        back.stop()


def test_latency_100_events(stack, ws, receiver):
    """100 exports of one workspace, one endpoint: each event arrives
    exactly once (one event id per job, none repeated), and the time from
    the job's completed_at to the receiver's 2xx is measured."""
    n = 100
    register(stack, ws, receiver.url("/latency"))
    ids = [str(r[0]) for r in stack.pg.query(
        "INSERT INTO export_jobs (workspace, type, format)"
        " SELECT %s, 'contacts', 'csv' FROM generate_series(1, %s) RETURNING id", (ws.name, n))]
    reqs = receiver.wait("/latency", n, timeout=120)
    bodies = [payload(r) for r in reqs]
    assert sorted(b["data"]["id"] for b in bodies) == sorted(ids)
    assert len({b["id"] for b in bodies}) == n
    completed = dict(stack.pg.query(
        "SELECT id::text, extract(epoch FROM completed_at)::float8 FROM export_jobs"
        " WHERE id = ANY(%s::uuid[])", (ids,)))
    lat = sorted(r.wall - completed[payload(r)["data"]["id"]] for r in reqs)
    FIGURES["latency completed_at -> receiver, %d events" % n] = (
        "median %.3f s, p99 %.3f s, max %.3f s" % (
            statistics.median(lat), lat[int(0.99 * (n - 1))], lat[-1]))
    assert lat[0] > -0.5, lat[:5]   # clocks are the same machine's
    time.sleep(1.0)
    assert len(receiver.got("/latency")) == n
