"""Do the fixtures work? The servers answer through lighttpd and Apache."""


def test_healthz(front):
    r = front("GET", "/healthz", key=None)
    assert r.status_code == 200, r.text


def test_unknown_route_is_problem_json(front):
    r = front("GET", "/no/such/route", key=None)
    assert r.status_code == 404, r.text
    ctype = r.headers.get("Content-Type", "")
    assert ctype.split(";")[0].strip() == "application/problem+json", ctype
    body = r.json()
    assert body["status"] == 404, body
    assert body["type"].startswith("urn:exportd:problem:"), body
    assert body.get("title"), body


def test_unknown_route_with_key_is_404_too(front, stack):
    r = front("GET", "/nope", key=stack.key_acme)
    assert r.status_code == 404, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")


def test_stack_basics(stack, pg):
    assert stack.key_acme != stack.key_globex
    for key in (stack.key_acme, stack.key_globex):
        assert key.startswith("exk_")
    assert stack.storage_dir.is_dir()
    assert stack.conf_path.is_file()
    # the demo data is there, for both workspaces
    rows = dict(pg.query("SELECT workspace, count(*) FROM contacts GROUP BY 1"))
    assert rows == {"acme": 2000, "globex": 300}, rows
    # exportd and the 4 FastCGI processes are up
    assert stack.exportd.alive()
    assert len(stack.fcgi_pids_alive()) == 4
