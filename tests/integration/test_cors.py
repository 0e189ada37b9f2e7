"""CORS (README "In the browser"): none by default; http.cors_origins lists
the exact origins of host pages served from elsewhere, which then get
Access-Control-Allow-Origin (no credentials: only embed tokens, a header,
travel cross-origin) and an answered preflight.  Other origins get
nothing, so their browsers refuse the response and never send a
non-simple request.
"""

import requests

import helpers as H
import stack as S

ALLOWED = "http://app.example.test:8080"


def _preflight(url, origin, method="DELETE"):
    return requests.options(url + "/exports", timeout=10, headers={
        "Origin": origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type"})


def test_no_cors_by_default(stack):
    r = _preflight(stack.base_url, ALLOWED)
    assert r.status_code == 405 and "Access-Control-Allow-Origin" not in r.headers
    r = stack.api("GET", "/exports", headers={"Origin": ALLOWED})
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers


def test_allowed_origin_gets_cors(stack, side):
    web = side("cors", {"http": {"cors_origins": "https://other.example, " + ALLOWED},
                        "embed": {"secrets": S.EMBED_SECRET}})
    r = _preflight(web.url, ALLOWED)
    assert r.status_code == 204, r.text
    assert r.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "DELETE" in r.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in r.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in r.headers
    tok = H.embed_token("acme", "cors@example.com")
    r = web.api("POST", "/exports", key=tok, json={"type": "invoices"},
                headers={"Origin": ALLOWED})
    assert r.status_code == 202, r.text
    assert r.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "Origin" in r.headers["Vary"] and "Location" in r.headers[
        "Access-Control-Expose-Headers"]
    # a 401 names the origin too, so the page can read the problem
    r = web.api("GET", "/exports", key=None, headers={"Origin": ALLOWED})
    assert r.status_code == 401 and r.headers["Access-Control-Allow-Origin"] == ALLOWED


def test_other_origins_get_nothing(stack, side):
    web = side("cors-other", {"http": {"cors_origins": ALLOWED}})
    for origin in ("http://app.example.test:8081", "https://app.example.test:8080", "null",
                   ALLOWED + ".evil.example"):
        r = _preflight(web.url, origin)
        assert r.status_code == 405 and "Access-Control-Allow-Origin" not in r.headers, origin
        r = web.api("GET", "/healthz", key=None, headers={"Origin": origin})
        assert "Access-Control-Allow-Origin" not in r.headers, origin
