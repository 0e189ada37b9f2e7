"""Do the fixtures work? The servers answer through lighttpd, Apache and nginx."""

import helpers as H


def test_healthz(front):
    r = front("GET", "/healthz", key=None)
    assert r.status_code == 200, r.text


def test_unknown_route_is_problem_json(front):
    H.problem(front("GET", "/no/such/route", key=None), 404)


def test_unknown_route_with_key_is_404_too(front, stack):
    H.problem(front("GET", "/nope", key=stack.key_acme), 404)


def test_stack_basics(stack, pg):
    assert stack.key_acme != stack.key_globex
    for key in (stack.key_acme, stack.key_globex):
        assert key.startswith("exk_")
    assert stack.storage_dir.is_dir()
    assert stack.conf_path.is_file()
    # the demo data is there, for both workspaces (other tests may add rows)
    rows = dict(pg.query("SELECT workspace, count(*) FROM contacts GROUP BY 1"))
    assert rows.get("acme", 0) >= 2000 and rows.get("globex", 0) >= 300, rows
    # exportd and the 4 FastCGI processes are up
    assert stack.exportd.alive()
    assert len(stack.fcgi_pids_alive()) == 4


def test_authorization_reaches_the_app(front, stack):
    # Apache drops Authorization unless CGIPassAuth is on: a key that works
    # through lighttpd must work through Apache too.
    assert front("GET", "/exports", key=None).status_code == 401
    r = front("GET", "/exports", key=stack.key_acme)
    assert r.status_code == 200, r.text


def test_export_and_download_through_the_server(front, stack):
    # The whole path the fixtures wire up: job row -> exportd -> storage dir
    # -> export.fcgi answers X-Sendfile -> the web server sends the file.
    r = front("POST", "/exports", json={"type": "contacts", "format": "csv"})
    assert r.status_code == 202, r.text
    job = stack.wait_for_job(r.json()["id"], timeout=60, api=front)
    assert job["status"] == "complete", job
    live = stack.pg.query("SELECT count(*) FROM contacts WHERE workspace = 'acme'"
                          " AND deleted_at IS NULL")[0][0]
    assert job["row_count"] == live, job  # acme's demo contacts, soft-deleted ones out

    d = front("GET", "/exports/%s/download" % job["id"])
    assert d.status_code == 200, d.text[:500]
    on_disk = [p for p in stack.storage_dir.iterdir() if p.name.startswith(job["id"])]
    assert len(on_disk) == 1, on_disk
    assert d.content == on_disk[0].read_bytes()
    assert int(d.headers["Content-Length"]) == job["file_size"]

    part = front("GET", "/exports/%s/download" % job["id"], headers={"Range": "bytes=0-9"})
    assert part.status_code == 206, part.headers
    assert part.content == d.content[:10]
