"""API keys and workspaces (README "HTTP API", "Authentication"): a bad or
revoked key is 401 on every route; another workspace's job is a 404 that
reads exactly like an unknown id, and is not listed.
"""

import base64
import uuid

import pytest

import helpers as H


# ---------------------------------------------------------------- 401

def _auth_cases(stack):
    real = stack.key_acme
    kid, secret = real[4:16], real[17:]
    other_secret = ("0" if secret[0] != "0" else "1") + secret[1:]
    return {
        "missing": {},
        "basic-scheme": {"Authorization": "Basic " + base64.b64encode(b"a:b").decode()},
        "bearer-empty": {"Authorization": "Bearer "},
        "malformed": {"Authorization": "Bearer not-a-key"},
        "too-long": {"Authorization": "Bearer " + real + "0"},
        "uppercase-hex": {"Authorization": "Bearer exk_%s_%s" % (kid, secret.upper())},
        "unknown-id": {"Authorization": "Bearer exk_%s_%s" % ("ab" * 6, secret)},
        "wrong-secret": {"Authorization": "Bearer exk_%s_%s" % (kid, other_secret)},
    }


AUTH_CASES = ["missing", "basic-scheme", "bearer-empty", "malformed", "too-long",
              "uppercase-hex", "unknown-id", "wrong-secret"]


def assert_401(r):
    H.problem(r, 401)
    www = r.headers.get("WWW-Authenticate", "")
    assert www.lower().startswith("bearer"), dict(r.headers)


@pytest.mark.parametrize("case", AUTH_CASES)
def test_bad_key_is_401(front, stack, complete_job, case):
    headers = _auth_cases(stack)[case]
    assert_401(H.call(stack, front, "GET", "/exports", key=None, headers=headers))
    assert_401(H.call(stack, front, "GET", "/exports/" + complete_job["id"], key=None,
                      headers=headers))
    assert_401(H.call(stack, front, "GET", "/exports/%s/download" % complete_job["id"],
                      key=None, headers=headers))
    r = H.assert_writes_nothing(stack, lambda: H.call(
        stack, front, "POST", "/exports", key=None, json={"type": "contacts"},
        headers=headers))
    assert_401(r)


def test_revoked_key_is_401(stack, complete_job):
    key = H.new_key(stack, "acme")
    r = H.call(stack, stack.api, "GET", "/exports", key=key)
    assert r.status_code == 200, r.text
    # GET /exports/{id} reads the key and the job in one statement
    job = "/exports/" + complete_job["id"]
    assert H.call(stack, stack.api, "GET", job, key=key).status_code == 200
    stack.exportctl("apikey", "revoke", key)
    assert_401(H.call(stack, stack.api, "GET", "/exports", key=key))
    assert_401(H.call(stack, stack.api, "GET", job, key=key))
    r = H.assert_writes_nothing(stack, lambda: H.call(
        stack, stack.api, "POST", "/exports", key=key, json={"type": "contacts"}))
    assert_401(r)
    # the other keys of the workspace still work
    assert H.call(stack, stack.api, "GET", "/exports").status_code == 200


# --------------------------------------------------- other workspaces

def _without_instance(r):
    body = r.json()
    body.pop("instance", None)
    return body


def test_other_workspace_job_is_404_like_unknown_id(front, stack, complete_job):
    pending = H.insert_pending(stack)
    for job_id in (complete_job["id"], pending):
        for method, suffix in (("GET", ""), ("GET", "/download"), ("DELETE", "")):
            theirs = H.call(stack, front, method, "/exports/%s%s" % (job_id, suffix),
                            key=stack.key_globex)
            unknown = H.call(stack, front, method, "/exports/%s%s" % (uuid.uuid4(), suffix),
                             key=stack.key_globex)
            H.problem(theirs, 404)
            H.problem(unknown, 404)
            assert _without_instance(theirs) == _without_instance(unknown), (method, suffix)
            assert theirs.headers["Content-Type"] == unknown.headers["Content-Type"]
    # globex's DELETE did not cancel acme's job, nor does globex's list show it
    assert H.db_status(stack, pending) == "pending"
    listed = H.call(stack, front, "GET", "/exports?limit=100", key=stack.key_globex).json()
    assert not {complete_job["id"], pending} & {j["id"] for j in listed["data"]}
    H.call(stack, stack.api, "DELETE", "/exports/" + pending)  # tidy up


def test_globex_cannot_see_or_download_acme_job(stack, exports):
    job, _ = exports[("contacts", "csv")]
    for suffix in ("", "/download"):
        theirs = stack.api("GET", "/exports/%s%s" % (job["id"], suffix), key=stack.key_globex)
        nobody = stack.api("GET", "/exports/%s%s" % (uuid.uuid4(), suffix),
                           key=stack.key_globex)
        assert theirs.status_code == 404, (theirs.status_code, theirs.text[:300])
        assert "X-Sendfile" not in theirs.headers and len(theirs.content) < 1000
        a, b = theirs.json(), nobody.json()
        a.pop("instance"), b.pop("instance")
        assert a == b
    listed = stack.api("GET", "/exports?limit=100", key=stack.key_globex).json()
    assert job["id"] not in {j["id"] for j in listed["data"]}
