"""GET /healthz (README "HTTP API"): 200 while the database answers, 503
with Retry-After (and /metrics, /exports too) when it does not.
"""

import helpers as H
import stack as S


# ------------------------------------------------------------ healthz

def test_healthz(front, stack):
    r = H.call(stack, front, "GET", "/healthz", key=None)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].split(";")[0] == "application/json"
    assert r.json() == {"status": "ok"}


def test_healthz_and_metrics_503_when_the_database_is_unreachable(stack, side):
    port = S.free_port()  # nothing listens there
    fcgi = side("nodb", {"database": {
        "url": "host=127.0.0.1 port=%d dbname=exportd user=postgres connect_timeout=2" % port}})
    for path in ("/healthz", "/metrics", "/exports"):
        r = fcgi.api("GET", path, key=None)
        body = H.problem(r, 503)
        assert int(r.headers["Retry-After"]) > 0, r.headers
        assert "database" in body["detail"], body
    # the session's stack is unaffected
    assert stack.api("GET", "/healthz", key=None).status_code == 200
