"""Routing (README "HTTP API"): unknown routes and malformed ids are 404,
a known route with the wrong method is 405 with Allow; all RFC 9457
problems, through lighttpd, Apache and nginx.
"""

import pytest

import helpers as H


# ---------------------------------------------------------------- 404

@pytest.mark.parametrize("path", [
    "/", "/nope", "/exportsXYZ", "/exports/", "/export", "/healthz/x",
    "/exports/%s/download/x" % H.NIL_ID, "/exports/%s/" % H.NIL_ID, "/api/exports",
])
def test_unknown_route_is_404(front, stack, path):
    H.problem(H.call(stack, front, "GET", path), 404)


@pytest.mark.parametrize("path", [
    "/exports/not-a-uuid", "/exports/12345", "/exports/" + H.NIL_ID.replace("-", ""),
    "/exports/" + H.NIL_ID + "0", "/exports/" + H.NIL_ID[:-1] + "g",
    "/exports/not-a-uuid/download",
])
def test_malformed_id_is_404(front, stack, path):
    H.problem(H.call(stack, front, "GET", path), 404)
    H.problem(H.call(stack, front, "DELETE", path), 404)


# ---------------------------------------------------------------- 405

@pytest.mark.parametrize("method, path, allow", [
    ("PUT", "/exports", {"GET", "HEAD", "POST"}),
    ("DELETE", "/exports", {"GET", "HEAD", "POST"}),
    ("PATCH", "/exports", {"GET", "HEAD", "POST"}),
    ("POST", "/exports/" + H.NIL_ID, {"GET", "HEAD", "DELETE"}),
    ("PUT", "/exports/" + H.NIL_ID, {"GET", "HEAD", "DELETE"}),
    ("POST", "/exports/%s/download" % H.NIL_ID, {"GET", "HEAD"}),
    ("DELETE", "/exports/%s/download" % H.NIL_ID, {"GET", "HEAD"}),
    ("POST", "/healthz", {"GET", "HEAD"}),
])
def test_wrong_method_is_405_with_allow(front, stack, method, path, allow):
    r = H.assert_writes_nothing(stack, lambda: H.call(
        stack, front, method, path, data=b"{}", headers={"Content-Type": "application/json"}))
    H.problem(r, 405)
    got = {m.strip() for m in r.headers.get("Allow", "").split(",") if m.strip()}
    assert got == allow, r.headers
