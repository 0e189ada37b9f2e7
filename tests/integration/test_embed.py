"""Signed embed tokens (README "Browser", docs/CONTRACTS.md "Embed tokens"):
a host application's server mints a short-lived token for one user of one
workspace; its page calls the API with it instead of an API key.  The job's
requester is the token's email; an expired token is its own 401 type so the
widget can say "reload the page"; the PHP/Perl/Python snippets mint tokens
the API accepts.
"""

import os
import subprocess
import time

import pytest

import helpers as H
import stack as S

EMAIL = "web.user@example.com"
EXPIRED = "urn:exportd:problem:token-expired"
INVALID = "urn:exportd:problem:invalid-token"


def test_token_creates_job_as_its_user(stack):
    tok = H.embed_token("acme", EMAIL)
    job = H.create(stack, {"type": "contacts", "format": "csv"}, key=tok)
    email, key_id, ws = H.row(stack, job["id"], "requester_email, api_key_id, workspace")
    assert (email, key_id, ws) == (EMAIL, None, "acme")
    done = stack.wait_for_job(job["id"], key=tok)
    assert done["status"] == "complete", done
    listed = H.call(stack, stack.api, "GET", "/exports", key=tok)
    assert listed.status_code == 200, listed.text
    assert job["id"] in [j["id"] for j in listed.json()["data"]]
    by_key = H.download(stack, done)
    by_token = H.download(stack, done, key=tok)
    assert by_token.content == by_key.content


def test_download_link_carries_token_in_query(stack, complete_job):
    """A browser's <a href> cannot send a header: ?access_token= on the
    download route (only there)."""
    tok = H.embed_token("acme", EMAIL)
    path = "/exports/%s/download" % complete_job["id"]
    r = H.call(stack, stack.api, "GET", path, key=None, params={"access_token": tok})
    assert r.status_code == 200, r.text
    assert r.content == H.download(stack, complete_job).content
    r = H.call(stack, stack.api, "GET", "/exports/" + complete_job["id"], key=None,
               params={"access_token": tok})
    H.problem(r, 401)
    old = H.embed_token("acme", EMAIL, expiry=int(time.time()) - 5)
    r = H.call(stack, stack.api, "GET", path, key=None, params={"access_token": old})
    assert H.problem(r, 401)["type"] == EXPIRED


def test_token_is_scoped_to_its_workspace(stack, complete_job):
    tok = H.embed_token("globex", EMAIL)
    for method, suffix in (("GET", ""), ("GET", "/download"), ("DELETE", "")):
        r = H.call(stack, stack.api, method, "/exports/" + complete_job["id"] + suffix, key=tok)
        H.problem(r, 404)
    listed = H.call(stack, stack.api, "GET", "/exports", key=tok).json()["data"]
    assert complete_job["id"] not in [j["id"] for j in listed]


def test_token_cancels(stack):
    tok = H.embed_token("acme", EMAIL)
    job_id = H.insert_pending(stack)
    r = H.call(stack, stack.api, "DELETE", "/exports/" + job_id, key=tok)
    assert r.status_code in (200, 202, 204), r.text
    assert H.db_status(stack, job_id) == "cancelled"


def test_expired_token_is_token_expired(stack, complete_job):
    tok = H.embed_token("acme", EMAIL, expiry=int(time.time()) - 1)
    for method, path in (("GET", "/exports"), ("GET", "/exports/" + complete_job["id"]),
                         ("DELETE", "/exports/" + complete_job["id"])):
        body = H.problem(H.call(stack, stack.api, method, path, key=tok), 401)
        assert body["type"] == EXPIRED, body
        assert "reload the page" in body["detail"], body
    r = H.assert_writes_nothing(stack, lambda: H.call(
        stack, stack.api, "POST", "/exports", key=tok, json={"type": "contacts"}))
    assert H.problem(r, 401)["type"] == EXPIRED
    assert "invalid_token" in r.headers["WWW-Authenticate"]


def _bad_tokens():
    good = H.embed_token("acme", EMAIL)
    payload, sig = good.rsplit(".", 1)
    return {
        "other-secret": H.embed_token("acme", EMAIL, secret="x" * 40),
        "tampered-payload": H.embed_token("globex", EMAIL).rsplit(".", 1)[0] + "." + sig,
        "tampered-sig": payload + "." + ("A" if sig[0] != "A" else "B") + sig[1:],
        "no-sig": payload,
        "other-version": H.embed_token("acme", EMAIL, prefix="exe2."),
        "bad-email": H.embed_token("acme", "not an address"),
        "empty-workspace": H.embed_token("", EMAIL),
        "beyond-max-lifetime": H.embed_token("acme", EMAIL, expiry=int(time.time()) + 13 * 3600),
        # an expired forgery says nothing about expiry
        "expired-forgery": H.embed_token("acme", EMAIL, expiry=1, secret="x" * 40),
        "huge": "exe1." + "A" * 5000,
    }


@pytest.mark.parametrize("case", ["other-secret", "tampered-payload", "tampered-sig", "no-sig",
                                  "other-version", "bad-email", "empty-workspace",
                                  "beyond-max-lifetime", "expired-forgery", "huge"])
def test_bad_token_is_invalid_token(stack, case):
    tok = _bad_tokens()[case]
    r = H.call(stack, stack.api, "GET", "/exports", key=tok)
    body = H.problem(r, 401)
    if case == "other-version":
        return  # not an embed token at all: read as a malformed API key
    assert body["type"] == INVALID, body


def test_old_secret_still_verifies(stack):
    """embed.secrets rotation: the second secret of the list verifies."""
    tok = H.embed_token("acme", EMAIL, secret=S.EMBED_SECRET_OLD)
    assert H.call(stack, stack.api, "GET", "/exports", key=tok).status_code == 200


def test_embed_disabled_without_secrets(stack, side):
    web = side("embed-off", {})
    tok = H.embed_token("acme", EMAIL)
    body = H.problem(H.call(stack, web.api, "GET", "/exports", key=tok), 401)
    assert "embed.secrets" in body["detail"], body


def _mint(argv):
    env = dict(os.environ, EXPORTD_EMBED_SECRET=S.EMBED_SECRET)
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30, check=True)
    return out.stdout.strip()


@pytest.mark.parametrize("lang", ["python", "perl"])
def test_snippet_mints_accepted_token(stack, lang):
    """The snippets docs/CONTRACTS.md shows, run as they are shipped."""
    argv = {"python": ["/usr/bin/python3", S.SRCDIR / "examples/python/embed_token.py"],
            "perl": ["perl", S.SRCDIR / "examples/perl/embed_token.pl"]}[lang]
    tok = _mint([str(a) for a in argv] + ["acme", "snippet.%s@example.com" % lang, "600"])
    job = H.create(stack, {"type": "invoices"}, key=tok)
    assert H.row(stack, job["id"], "requester_email")[0] == "snippet.%s@example.com" % lang
    expired = _mint([str(a) for a in argv] + ["acme", "x@example.com", "-10"])
    body = H.problem(H.call(stack, stack.api, "GET", "/exports", key=expired), 401)
    assert body["type"] == EXPIRED
