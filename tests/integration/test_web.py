"""The browser side without a browser (README "Browser"): export.fcgi serves
the widget's script and stylesheet itself, behind every web server and even
with the database down; the example PHP host page (php-cgi under lighttpd)
mints an embed token the API accepts, and sends a strict CSP the page
needs no exception to.
"""

import re

import requests

import helpers as H
import stack as S

FILES = {"exportd.js": "text/javascript; charset=utf-8", "exportd.css": "text/css; charset=utf-8"}


def test_widget_files_served_by_export_fcgi(front, stack):
    for name, ctype in FILES.items():
        want = (S.SRCDIR / "web" / name).read_bytes()
        r = H.call(stack, front, "GET", "/web/" + name, key=None)
        assert r.status_code == 200, r.text[:300]
        assert r.content == want
        assert r.headers["Content-Type"] == ctype
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert "max-age=" in r.headers["Cache-Control"]
        etag = r.headers["ETag"]
        assert re.fullmatch(r'"[0-9a-f]{20}"', etag), etag
        r = H.call(stack, front, "GET", "/web/" + name, key=None,
                   headers={"If-None-Match": etag})
        assert r.status_code == 304 and r.content == b"", r.headers
        r = H.call(stack, front, "GET", "/web/" + name, key=None,
                   headers={"If-None-Match": '"0000"'})
        assert r.status_code == 200
        r = H.call(stack, front, "HEAD", "/web/" + name, key=None)
        assert r.status_code == 200 and r.content == b""
        assert r.headers["ETag"] == etag
    H.problem(H.call(stack, front, "POST", "/web/exportd.js", key=None, data=b"x"), 405)
    H.problem(H.call(stack, front, "GET", "/web/exportd.html", key=None), 404)


def test_widget_served_with_database_down(stack, side):
    web = side("web-nodb", {"database": {"url": "host=/nonexistent dbname=none"}})
    r = requests.get(web.url + "/web/exportd.js", timeout=10)
    assert r.status_code == 200 and r.content == (S.SRCDIR / "web/exportd.js").read_bytes()
    assert requests.get(web.url + "/healthz", timeout=10).status_code == 503


def _page_token(html):
    m = re.search(r'data-token="(exe1\.[A-Za-z0-9_.-]+)"', html)
    assert m, html[:2000]
    return m.group(1)


def test_php_page_mints_accepted_token(stack, host_page):
    r = requests.get(host_page.url, params={"type": "invoices"}, timeout=10)
    assert r.status_code == 200, r.text[:500]
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    # no inline script: every <script> has a src
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", r.text)), r.text
    tok = _page_token(r.text)
    job = H.create(stack, {"type": "invoices"}, key=tok)
    assert H.row(stack, job["id"], "requester_email")[0] == "demo.user@example.com"
    # the page's origin serves the API and the widget too
    api = S.Api(host_page.url.rstrip("/"), tok)
    assert api("GET", "/exports/" + job["id"]).status_code == 200
    assert api("GET", "/web/exportd.js", key=None).status_code == 200
    # the page's PHP sources and config are not served
    for path in ("embed_token.php", "lighttpd.conf"):
        assert requests.get(host_page.url + path, timeout=10).status_code == 403


def test_php_page_expired_token_is_token_expired(stack, host_page):
    r = requests.get(host_page.url, params={"lifetime": "-5"}, timeout=10)
    tok = _page_token(r.text)
    body = H.problem(H.call(stack, stack.api, "GET", "/exports", key=tok), 401)
    assert body["type"] == "urn:exportd:problem:token-expired"
