"""The widget in a real browser (README "Browser"): Debian's chromium under
playwright-core drives the example PHP host page (php-cgi under lighttpd,
tests/integration/webstack.py) through tests/browser/drive.js, one Node
process per scenario; pytest asserts on what it reports and on the API.

An exportd of the module's own (small parts, so progress moves in steps a
person, and a poll, can see) replaces the session's while these run.
Screenshots: <build>/tests/browser-screenshots/<scenario>-<state>.png.
"""

import json
import re
import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid

import pytest
import requests

import helpers as H
import stack as S

BROWSER_DIR = S.SRCDIR / "tests/browser"
SHOTS = S.BUILDDIR / "tests/browser-screenshots"
BIG_ROWS = 200000


@pytest.fixture(scope="module")
def browser(stack):
    """npm ci (tests/browser/install.sh) and chromium present."""
    S.which("chromium", "apt-get install chromium")
    S.run(["sh", str(BROWSER_DIR / "install.sh")], "tests/browser/install.sh", timeout=600)
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    return SHOTS


@pytest.fixture(scope="module")
def slow_parts(stack):
    """The session's exportd swapped for one checkpointing every 64k."""
    stack.exportd.stop()
    d = S.ExtraExportd(stack, "exportd (browser tests)",
                       {"exportd": {"part_size": "64k", "chunk_rows": "500"}})
    d.start()
    try:
        yield d
    finally:
        d.stop()
        stack.start_exportd()


@pytest.fixture(scope="module")
def big_workspace(stack, slow_parts):
    """A workspace holding BIG_ROWS contacts."""
    ws = "web_" + uuid.uuid4().hex[:10]
    stack.pg.query("INSERT INTO contacts (workspace, first_name, last_name, country, is_active,"
                   " notes) SELECT %s, 'first ' || g, 'last ' || g, 'FR', true,"
                   " repeat('x', 40) FROM generate_series(1, %s) g", (ws, BIG_ROWS))
    stack.pg.query("ANALYZE contacts")  # the estimate progress is measured against
    return ws


def drive(browser, host_page, scenario, timeout=240, env=None, base=None, **query):
    """Run one scenario of drive.js against the host page with `query`."""
    url = requests.Request("GET", base or host_page.url, params=query).prepare().url
    p = subprocess.run(["node", str(BROWSER_DIR / "drive.js"), scenario, url, str(browser)],
                       capture_output=True, text=True, timeout=timeout,
                       env=S.clean_env(**(env or {})), cwd=str(BROWSER_DIR))
    assert p.returncode == 0, "drive.js %s failed:\n%s\n%s\n%s" % (
        scenario, p.stderr[-4000:], p.stdout[-2000:], S.logs_excerpt(["export.fcgi"]))
    return json.loads(p.stdout.strip().splitlines()[-1])


def _jobs(stack, workspace):
    return [str(r[0]) for r in stack.pg.query(
        "SELECT id FROM export_jobs WHERE workspace = %s ORDER BY created_at", (workspace,))]


def test_export_progress_then_download(stack, host_page, browser, big_workspace):
    before = set(_jobs(stack, big_workspace))
    out = drive(browser, host_page, "export", type="contacts", workspace=big_workspace)
    midway = [v for v in out["seen"] if 0 < v < 100]
    assert midway, out["seen"]
    assert out["seen"] == sorted(out["seen"]), out["seen"]
    assert "%" in out["bar"]["valuetext"] and "rows" in out["bar"]["valuetext"], out["bar"]
    assert out["state"] == "complete", out
    assert "200,000 rows" in out["link"], out["link"]
    (job_id,) = set(_jobs(stack, big_workspace)) - before
    tok = H.embed_token(big_workspace, "x@example.com")
    job = stack.wait_for_job(job_id, key=tok)
    assert out["checksum"] == "SHA-256 " + job["checksum"]["sha256"]
    api_bytes = H.download(stack, job, key=tok).content
    with open(out["file"], "rb") as f:
        got = f.read()
    H.assert_same_bytes(got, api_bytes, "the browser's download")
    assert H.row(stack, job_id, "requester_email")[0] == "demo.user@example.com"
    assert not [c for c in out["console"] if c.startswith("pageerror")], out["console"]
    assert not out["failed"], out["failed"]
    assert out["idle"] == "idle", out
    for state in ("idle", "progress", "complete"):
        assert (browser / ("export-%s.png" % state)).stat().st_size > 0, state
    _assert_announced(out["liveLog"], out["link"])


def _assert_announced(log, link):
    """The aria-live region said Preparing, then the percent at most once a
    quarter (not at every poll), then that the file is ready, with the link's
    words."""
    assert log and log[0] == "Preparing your export.", log
    percents = [int(m.group(1)) for m in (re.fullmatch(r"Export (\d+)% done\.", t) for t in log) if m]
    assert percents and all(0 <= p <= 100 for p in percents), log
    quarters = [p // 25 for p in percents]
    assert quarters == sorted(set(quarters)), log
    assert log[-1] == "Your export is ready: %s." % link, log
    assert len(log) == 2 + len(percents), log


def test_cancel_while_running(stack, host_page, browser, big_workspace):
    out = drive(browser, host_page, "cancel", type="contacts", workspace=big_workspace)
    assert out["state"] == "cancelled", out
    assert "cancelled" in out["text"].lower()
    job_id = out["memo"][0]
    assert H.db_status(stack, job_id) == "cancelled"
    assert (browser / "cancel-cancelled.png").is_file()
    assert not list(stack.storage_dir.glob(job_id + "*")), "a cancelled export left a file"


@contextlib.contextmanager
def held_midway(stack, daemon, workspace):
    """Hold the workspace's next export midway: once it has rows done, stop
    the daemon's workers (SIGSTOP) until a cancel is requested (or 60 s),
    so a page finds it running however fast this machine exports."""
    done = threading.Event()

    def hold():
        deadline = time.monotonic() + 60
        stopped = []
        try:
            while not done.is_set() and time.monotonic() < deadline:
                rows = stack.pg.query(
                    "SELECT rows_done > 0, cancel_requested_at IS NOT NULL FROM export_jobs"
                    " WHERE workspace = %s AND status = 'processing'", (workspace,))
                if rows and rows[0][0] and not stopped:
                    stopped = daemon.worker_pids()
                    for pid in stopped:
                        os.kill(pid, signal.SIGSTOP)
                if stopped and rows and rows[0][1]:
                    break
                time.sleep(0.01)
        finally:
            for pid in stopped:
                os.kill(pid, signal.SIGCONT)

    t = threading.Thread(target=hold, daemon=True)
    t.start()
    try:
        yield
    finally:
        done.set()
        t.join(70)


def test_reduced_motion_stops_the_bar(stack, host_page, browser, big_workspace, slow_parts):
    """Under prefers-reduced-motion the running bar's fill does not slide
    to its width and the indeterminate bar does not move (a still, paler bar);
    with no preference they do."""
    with held_midway(stack, slow_parts, big_workspace):
        out = drive(browser, host_page, "motion", type="contacts", workspace=big_workspace)
    normal, reduced = out["normal"], out["reduced"]
    assert not normal["reduce"] and reduced["reduce"], out
    assert normal["fill"]["transitionProperty"] == "width", normal
    assert normal["fill"]["transitionDuration"] != "0s", normal
    assert normal["indeterminate"]["animationName"] == "exportd-slide", normal
    assert reduced["fill"]["transitionDuration"] == "0s", reduced
    assert reduced["indeterminate"]["animationName"] == "none", reduced
    assert reduced["indeterminate"]["opacity"] == "0.5", reduced
    assert out["state"] == "cancelled", out
    assert H.db_status(stack, out["memo"][0]) == "cancelled"
    assert (browser / "motion-reduced.png").stat().st_size > 0


def _ghost_type(stack):
    name = "ghost_" + uuid.uuid4().hex[:10]
    relation = "gone_" + uuid.uuid4().hex[:8]
    stack.pg.query("INSERT INTO export_types (name, relation, key_column, workspace_column,"
                   " columns) VALUES (%s, %s, 'id', 'workspace', '{id,label}')",
                   (name, relation))
    return name, relation


def test_failing_export_shows_message_and_retry(stack, host_page, browser, slow_parts):
    type_, relation = _ghost_type(stack)
    out = drive(browser, host_page, "failing", type=type_)
    first, second = out["first"], out["second"]
    assert first["state"] == "failed", first
    assert first["text"] == "The export failed."
    job = stack.wait_for_job(first["memo"][0])
    assert first["detail"] == job["error"]["message"] and relation in first["detail"], first
    assert out["retryVisible"]
    assert second["state"] == "failed" and second["memo"][0] != first["memo"][0], second


def test_reload_mid_export_picks_it_up(stack, host_page, browser, big_workspace):
    out = drive(browser, host_page, "reload", type="contacts", workspace=big_workspace)
    assert out["before"]["state"] == "running", out["before"]
    job_id = out["before"]["memo"][0]
    assert out["during"]["memo"] == [job_id], out["during"]
    assert out["after"]["state"] == "complete" and out["after"]["memo"] == [job_id], out["after"]
    assert len([j for j in _jobs(stack, big_workspace) if j == job_id]) == 1


def test_polling_backs_off_and_pauses_while_hidden(stack, host_page, browser, slow_parts):
    """No worker meanwhile: the export stays pending, the widget keeps polling."""
    slow_parts.stop()
    try:
        out = drive(browser, host_page, "hidden", type="invoices")
    finally:
        slow_parts.start()
    gaps = out["gaps"]
    assert len(gaps) >= 2 and gaps[-1] > gaps[0], gaps      # not a fixed interval
    assert out["whileHidden"] == 0, out                      # no poll while hidden
    assert out["resumedAfterMs"] is not None and out["resumedAfterMs"] < 500, out
    assert out["state"] == "preparing" and out["text"] == "Preparing\u2026", out
    assert (browser / "hidden-preparing.png").stat().st_size > 0


def test_expired_token_says_reload(stack, host_page, browser):
    out = drive(browser, host_page, "expired", type="contacts", lifetime="-5")
    assert out["state"] == "session", out
    assert out["text"] == "Your session has expired. Reload the page to continue."


def test_downloads_page_lists_and_deletes(stack, host_page, browser, slow_parts):
    ws = "dl_" + uuid.uuid4().hex[:8]
    H.add_contacts(stack, ws, 5)
    tok = H.embed_token(ws, "dl@example.com")
    jobs = []
    for _ in range(12):  # more than a page (10), one at a time (active limit)
        j = H.create(stack, {"type": "contacts"}, key=tok)
        S.wait_until(lambda: H.db_status(stack, j["id"]) == "complete", 60,
                     "export %s to complete" % j["id"])
        jobs.append(j)
    out = drive(browser, host_page, "downloads", view="downloads", workspace=ws)
    newest = [j["id"] for j in reversed(jobs)]
    ids = [r["id"] for r in out["before"]]
    assert ids == newest[:10], ids                          # newest first, a page of 10
    assert [r["id"] for r in out["older"]] == newest[10:]   # the cursor's next page
    assert all(r["download"] for r in out["before"])
    assert H.db_status(stack, out["deleted"]) == "expired"
    gone = [r for r in out["after"] if r["id"] == out["deleted"]]
    assert not gone or not gone[0]["download"], out["after"]


def test_keyboard_only(stack, host_page, browser, slow_parts):
    out = drive(browser, host_page, "keyboard", type="invoices")
    assert out["focused"].startswith("Export invoices"), out
    assert out["state"] == "complete", out
    # the focus went from Cancel (hidden at the end) to the Download link,
    # and the next Tab reaches the checksum's summary
    assert out["atEnd"] == "exportd-download" and out["next"] == "SUMMARY", out


@pytest.mark.parametrize("view", ["export", "downloads"])
def test_axe_and_narrow_screen(stack, host_page, browser, slow_parts, view):
    query = {"type": "invoices"} if view == "export" else {"view": "downloads"}
    out = drive(browser, host_page, "axe", **query)
    bad = [v for v in out["idle"] + out["done"] if v["impact"] in ("serious", "critical")]
    assert not bad, bad
    assert out["overflow"]["doc"] <= 320 and out["overflow"]["widget"] <= 320, out["overflow"]


def test_cross_site_post_and_delete_are_refused(stack, host_page, browser, slow_parts):
    """CSRF: a page of another origin (localhost vs 127.0.0.1) cannot create
    or delete.  A form POST carries no credential (401, nothing written);
    fetches with a token need a CORS preflight the API does not grant (no
    CORS by default), so the browser never sends them."""
    ws = "xs_" + uuid.uuid4().hex[:8]
    tok = H.embed_token(ws, "victim@example.com")
    pending = H.insert_pending(stack, workspace=ws)
    target = host_page.url.rstrip("/")
    out = drive(browser, host_page, "crosssite", base=target.replace("127.0.0.1", "localhost") + "/",
                env={"CROSS_TARGET": target, "CROSS_TOKEN": tok, "CROSS_JOB": pending})
    f = out["fetches"]
    assert f["post"] == "blocked" and f["delete"] == "blocked" and f["delete_bare"] == "blocked", f
    assert f["post_simple"] == "answered 0", f          # opaque: sent, but with no credential
    assert out["form"]["status"] == 401, out["form"]
    assert _jobs(stack, ws) == [pending]                 # nothing created
    assert H.db_status(stack, pending) == "pending"      # nothing cancelled
    r = requests.options(target + "/exports", timeout=10, headers={
        "Origin": "http://localhost", "Access-Control-Request-Method": "DELETE"})
    assert "Access-Control-Allow-Origin" not in r.headers, dict(r.headers)
