"""The suite's helpers that are not fixtures: one copy of each.

Fixtures live in conftest.py; the modules that start servers are stack.py
(PostgreSQL, export.fcgi, lighttpd, Apache, extra exportd daemons),
mailstack.py (SMTP capture), s3stack.py / s3export.py (the S3 server).
This module only asks things of what those started:

  answers    problem(), field_problem(), json_pointer(): RFC 9457 bodies
  requests   pool(), call() (records the answer, checks no export.fcgi died),
             create(), wait_all(), download(), content_disposition(),
             post(), post_raw(), assert_writes_nothing()
  database   Poll (a polling connection), qi(), jobs_in(), row(), db_status(), insert_pending(),
             add_contacts(), new_key(), new_workspace(), generate()
  references db_count(), registry(), column_types(), reference_select(),
             psql_copy_csv(), assert_same_bytes(): what an export must equal
  misc       b64url(), b64(), embed_token(), sha256_bytes(), sha256_file(),
             proc_status_kib(), figure()

The bench (bench/*.py) imports this module too: keep it free of pytest.
"""

import base64
import hashlib
import json
import re
import subprocess
import time
import uuid

import psycopg2

import stack as S

PROBLEM_TYPE = "application/problem+json"
NIL_ID = "00000000-0000-0000-0000-000000000000"

# The types and column subsets of conftest.py's `exports` fixture.
EXPORT_TYPES = ["contacts", "invoices", "events"]
EXPORT_SUBSETS = {
    # requested order differs from the registry's on purpose
    "contacts": ["email", "id", "created_at", "notes", "tags", "score"],
    "events": ["payload", "ip", "duration_ms", "id", "occurred_at"],
}

# Every answer call() saw: (server, method, path, status, export.fcgi
# processes alive after it, how many that pool started). conftest.py checks,
# after each test, that the test's own answers hold no 5xx and that every
# process of the pool was alive.
ANSWERS = []


# ------------------------------------------------------------- answers

def problem(r, status):
    """Assert an RFC 9457 answer with this status; its JSON body."""
    assert r.status_code == status, "expected %d, got %d: %s %r" % (
        status, r.status_code, dict(r.headers), r.text[:1000])
    ctype = r.headers.get("Content-Type", "")
    assert ctype.split(";")[0].strip() == PROBLEM_TYPE, (ctype, r.text[:500])
    try:  # JSON is UTF-8 (RFC 8259): no raw bytes echoed from the request
        body = json.loads(r.content.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise AssertionError("problem body is not UTF-8 (%s): %r" % (e, r.content[:600]))
    assert body["status"] == status, body
    assert body["type"].startswith("urn:exportd:problem:"), body
    assert isinstance(body.get("title"), str) and body["title"], body
    assert isinstance(body.get("detail"), str) and body["detail"], body
    return body


# Members of the request body that are objects or arrays: a field
# "filters/a/b" is their member "a/b", "columns/2" an element.
NESTED = ("filters", "csv", "columns")


def json_pointer(field):
    """RFC 6901 pointer for a problem's `field`: "" is the body, "columns/2"
    an element of a member, "filters/<name>" and "csv/<name>" a member of an
    object member, anything else one member (with ~ and / escaped)."""
    if field == "":
        return ""

    def esc(s):
        return s.replace("~", "~0").replace("/", "~1")

    parent, sep, member = field.partition("/")
    if sep and parent in NESTED:
        return "/" + esc(parent) + "/" + esc(member)
    return "/" + esc(field)


def field_problem(r, field, status=400):
    """A problem that names `field` in `field` and lists it in `errors` with
    its JSON pointer. field None: any field; field "columns": also an element
    of it ("columns/1"), as the answer names the faulty element."""
    body = problem(r, status)

    def names(f):
        if field is None:
            return isinstance(f, str)
        return f == field or (field == "columns" and isinstance(f, str)
                              and re.fullmatch(r"columns/\d+", f) is not None)

    assert "field" in body, "no `field` in %s" % body
    assert names(body["field"]), "field %r, expected %r: %s" % (body["field"], field, body)
    errors = body.get("errors")
    assert isinstance(errors, list) and errors, body
    hits = [e for e in errors if names(e.get("field", None))]
    assert hits, "no error for %r in %s" % (field, body)
    for e in hits:
        assert e["pointer"] == json_pointer(e["field"]), e
        assert isinstance(e.get("detail"), str) and e["detail"], e
    return body


# ------------------------------------------------------------ requests

def pool(stack, api):
    """Whose export.fcgi processes answer through api (fcgi_pids_alive()):
    the stack's, or those of the nginx in front (their own config)."""
    return getattr(api, "pool", None) or stack


def call(stack, api, method, path, **kw):
    """api(method, path, **kw), recording the answer in ANSWERS and checking
    that no export.fcgi process (of the pool behind api) died while it was
    handled."""
    procs = pool(stack, api)
    before = set(procs.fcgi_pids_alive())
    r = api(method, path, **kw)
    if r.status_code >= 500:
        time.sleep(0.3)  # a crashed child: let it become a zombie first
    alive = set(procs.fcgi_pids_alive())
    ANSWERS.append((getattr(api, "server", "?"), method, path, r.status_code, len(alive),
                    getattr(procs, "fcgi_children", None) or procs.children))
    lost = before - alive
    assert not lost, ("export.fcgi pid(s) %s died handling %s %s (answer %d: %r)"
                      % (sorted(lost), method, path, r.status_code, r.text[:300]))
    return r


def create(stack, body, key=S.DEFAULT, api=None):
    """POST /exports that must be accepted: the job (202, Location checked)."""
    r = (api or stack.api)("POST", "/exports", key=key, json=body)
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["Location"].endswith("/exports/" + job["id"]), r.headers
    assert job["status"] in ("pending", "processing", "complete"), job
    return job


def wait_all(stack, jobs, key=S.DEFAULT, timeout=60):
    """{name: job} -> {name: the job once complete} (each must complete)."""
    done = {}
    for name, job in jobs.items():
        done[name] = stack.wait_for_job(job["id"], timeout=timeout, key=key)
        assert done[name]["status"] == "complete", done[name]
    return done


def download(stack, job, key=S.DEFAULT, api=None, **kw):
    """GET /exports/{id}/download that must answer 200: the response."""
    r = (api or stack.api)("GET", "/exports/%s/download" % job["id"], key=key, **kw)
    assert r.status_code == 200, (r.status_code, r.headers, r.text[:500])
    return r


def content_disposition(job):
    """attachment; filename="<type>-<YYYYMMDD of created_at, UTC>.<ext>" """
    return 'attachment; filename="%s-%s.%s"' % (
        job["type"], job["created_at"][:10].replace("-", ""), job["format"])


def post(stack, body, key=S.DEFAULT, headers=None, raw=None):
    """POST /exports of body as JSON (or of the bytes raw) through lighttpd."""
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    data = raw if raw is not None else json.dumps(body).encode()
    return stack.api("POST", "/exports", key=key, data=data, headers=h)


def post_raw(stack, api, data, content_type="application/json", key=None, **kw):
    """POST /exports of data (str or bytes) through call()."""
    headers = dict(kw.pop("headers", {}))
    if content_type is not None:
        headers["Content-Type"] = content_type
    if key is not None:
        kw["key"] = key
    if isinstance(data, str):
        data = data.encode("utf-8")
    return call(stack, api, "POST", "/exports", data=data, headers=headers, **kw)


def assert_writes_nothing(stack, fn):
    """Run fn(); the acme workspace must have exactly as many jobs after."""
    before = jobs_in(stack)
    r = fn()
    after = jobs_in(stack)
    assert after == before, "a rejected request wrote %d job row(s): %d %r" % (
        after - before, r.status_code, r.text[:300])
    return r


# ------------------------------------------------------------ database

def qi(name):
    """An SQL identifier, quoted."""
    return '"%s"' % name.replace('"', '""')


class Poll:
    """One persistent (autocommit) connection for fast polling. It
    reconnects when PostgreSQL went away (the restart tests), up to
    `attempts` times, `pause` s apart."""

    def __init__(self, pg, attempts=100, pause=0.05):
        self.pg = pg
        self.attempts, self.pause = attempts, pause
        self.conn = None

    def query(self, sql, params=None):
        """Run one statement; its rows (None when it returns none)."""
        for attempt in range(self.attempts):
            try:
                if self.conn is None or self.conn.closed:
                    self.conn = self.pg.connect()
                with self.conn.cursor() as cur:
                    cur.execute(sql, params)
                    return cur.fetchall() if cur.description else None
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                self.close()
                if attempt == self.attempts - 1:
                    raise
                time.sleep(self.pause)
        return None

    def close(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = None


def jobs_in(stack, workspace="acme"):
    return stack.pg.query("SELECT count(*) FROM export_jobs WHERE workspace = %s",
                          (workspace,))[0][0]


def row(stack, job_id, cols):
    """SELECT cols FROM export_jobs for one job: the row."""
    return stack.pg.query("SELECT %s FROM export_jobs WHERE id = %%s" % cols, (job_id,))[0]


def db_status(stack, job_id):
    return row(stack, job_id, "status")[0]


def insert_pending(stack, workspace="acme", type_="contacts"):
    """A job that stays pending (run_at far in the future); its id."""
    return str(stack.pg.query(
        "INSERT INTO export_jobs (workspace, type, format, run_at)"
        " VALUES (%s, %s, 'csv', now() + interval '10 years') RETURNING id",
        (workspace, type_))[0][0])


def add_contacts(stack, workspace, n):
    """n contacts rows in the workspace; their ids."""
    return [r[0] for r in stack.pg.query(
        "INSERT INTO contacts (workspace, first_name, country, is_active)"
        " SELECT %s, 'n' || g, 'FR', true FROM generate_series(1, %s) g RETURNING id",
        (workspace, n))]


def new_key(stack, workspace, email=None):
    """A new API key of the workspace (exportctl apikey create)."""
    email = email or "t-%s@example.com" % uuid.uuid4().hex[:6]
    out = stack.exportctl("apikey", "create", "--workspace", workspace, "--email", email).stdout
    key = out.strip()
    assert key.startswith("exk_") and "\n" not in key, out
    return key


def new_workspace(stack, prefix="ct"):
    """A fresh workspace and an API key for it: (workspace, key)."""
    ws = "%s_%s" % (prefix, uuid.uuid4().hex[:10])
    return ws, new_key(stack, ws, email="%s@example.com" % ws)


def generate(stack, workspace, rows):
    """sql/demo/generate.sql: `rows` rows per demo table in an empty workspace."""
    have = stack.pg.query("SELECT count(*) FROM contacts WHERE workspace = %s",
                          (workspace,))[0][0]
    assert have == 0, "workspace %s already has %d contacts" % (workspace, have)
    stack.psql("-v", "rows=%d" % rows, "-v", "workspace=" + workspace,
               "-f", S.SRCDIR / "sql/demo/generate.sql")


# ---------------------------------------------------------- references

def db_count(stack, type_, workspace="acme"):
    """How many rows an export of the type holds (soft-deleted rows out)."""
    reg = registry(stack.pg, type_)
    return stack.pg.query("SELECT count(*) FROM %s.%s AS _t WHERE _t.%s = %%s%s" % (
        qi(reg["schema"]), qi(reg["relation"]), qi(reg["ws"]), live(reg)), (workspace,))[0][0]


def registry(pg, type_):
    """The export_types row of a type, by short names."""
    r = pg.query("SELECT schema_name, relation, key_column, workspace_column, columns,"
                 " deleted_at_column FROM export_types WHERE name = %s", (type_,))[0]
    return dict(zip(("schema", "relation", "key", "ws", "columns", "deleted"), r))


def column_types(pg, schema, relation):
    """column -> SQL type (format_type) of a table or view."""
    return dict(pg.query(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
        " WHERE a.attrelid = (quote_ident(%s) || '.' || quote_ident(%s))::regclass"
        " AND a.attnum > 0 AND NOT a.attisdropped", (schema, relation)))


def live(reg, alias="_t"):
    """The condition an export without include_deleted adds: soft-deleted
    rows are out ("" when the type has no soft-delete column)."""
    if not reg["deleted"]:
        return ""
    return " AND %s.%s IS NULL" % (alias, qi(reg["deleted"]))


def is_timestamp(sqltype):
    return sqltype.startswith("timestamp")


GUARD_CHARS = ("=", "+", "-", "@", "\t", "\r")


def reference_select(pg, type_, workspace="acme", columns=None, include_deleted=False,
                     where="", guard=False, relation=None):
    """The SELECT whose `psql \\copy ... CSV HEADER` (PGTZ=UTC) an export of
    the type must equal, byte for byte (README "Files"): the columns (the
    registry's by default) in order, timestamps as to_json prints them, the
    workspace's rows in key order, soft-deleted rows out unless
    include_deleted, `where` ANDed in, text cells starting with one of
    GUARD_CHARS prefixed with ' when guard (csv.formula_guard). relation:
    read another table or view with the same columns."""
    reg = registry(pg, type_)
    rel = relation or reg["relation"]
    types = column_types(pg, reg["schema"], rel)
    exprs = []
    for c in columns or reg["columns"]:
        if is_timestamp(types[c]):
            exprs.append("to_json(_t.%s) #>> '{}' AS %s" % (qi(c), qi(c)))
        elif guard and types[c] in ("text", "character varying"):
            exprs.append("CASE WHEN left(_t.%s, 1) IN ('=', '+', '-', '@', chr(9), chr(13))"
                         " THEN '''' || _t.%s ELSE _t.%s END AS %s" % (qi(c), qi(c), qi(c), qi(c)))
        else:
            exprs.append("_t.%s" % qi(c))
    cond = "_t.%s = '%s'" % (qi(reg["ws"]), workspace.replace("'", "''"))
    if not include_deleted:
        cond += live(reg)
    if where:
        cond += " AND (%s)" % where
    # ORDER BY the table's key, not an output column of the same name
    return "SELECT %s FROM %s.%s AS _t WHERE %s ORDER BY _t.%s" % (
        ", ".join(exprs), qi(reg["schema"]), qi(rel), cond, qi(reg["key"]))


def psql_argv(pg, select, path):
    """psql \\copy (select) TO path CSV HEADER, as a user would type it."""
    return ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", pg.conninfo,
            "-c", "\\copy (%s) TO '%s' CSV HEADER" % (select, path)]


def psql_env():
    """The environment of the reference psql: UTC, ISO dates."""
    return S.clean_env(PGTZ="UTC", PGDATESTYLE="ISO")


def psql_copy_csv(pg, select, path, timeout=300):
    """Run psql_argv(); the bytes it wrote to path."""
    argv = psql_argv(pg, select, path)
    p = subprocess.run(argv, env=psql_env(), capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0, "psql \\copy failed: %s\n%s" % (p.stderr, argv)
    return path.read_bytes()


def assert_same_bytes(got, want, what):
    """got == want, or an AssertionError naming the first differing line."""
    if got == want:
        return
    g, w = got.split(b"\n"), want.split(b"\n")
    for i, (a, b) in enumerate(zip(g, w)):
        if a != b:
            raise AssertionError("%s differs at line %d (of %d exported, %d expected):\n"
                                 "  got:      %r\n  expected: %r"
                                 % (what, i + 1, len(g), len(w), a[:400], b[:400]))
    raise AssertionError("%s: %d bytes in %d lines, expected %d bytes in %d lines; "
                         "first extra line: %r"
                         % (what, len(got), len(g), len(want), len(w),
                            (g[len(w)] if len(g) > len(w) else w[len(g)])[:400]))


# ---------------------------------------------------------------- misc

def b64url(raw):
    """base64url without padding (cursors, link tokens)."""
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def embed_token(workspace, email, expiry=None, secret=S.EMBED_SECRET, prefix="exe1."):
    """An embed token (docs/CONTRACTS.md) as a host application mints it;
    expiry in unix seconds (default: an hour from now)."""
    import hmac
    if expiry is None:
        expiry = int(time.time()) + 3600
    signed = prefix + b64url(("%s\n%s\n%d" % (workspace, email, expiry)).encode("utf-8"))
    mac = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).digest()
    return signed + "." + b64url(mac)


def b64(digest):
    """Standard base64 (Repr-Digest)."""
    return base64.b64encode(digest).decode()


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def proc_status_kib(pid, field):
    """A 'kB' field of /proc/<pid>/status (VmHWM, VmRSS, ...) in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError("no %s in /proc/%d/status" % (field, pid))


def figure(figures, name, value):
    """Note a measured figure in the module's dict and print it (-s, -rP)."""
    figures[name] = value
    print("FIGURE %s: %s" % (name, value))


# ----------------------------------------------------------- /metrics

SAMPLE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)'
                    r'(?P<labels>\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*"'
                    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*")*\})? '
                    r'(?P<value>-?[0-9.]+(?:e[+-]?[0-9]+)?|\+Inf|-Inf|NaN)$')


COMMENT = re.compile(r"^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* "
                     r"(counter|gauge|histogram|summary|untyped))$")


def scrape(api):
    """GET /metrics through api, checked line by line against the text
    format: {name + labels: value}."""
    r = api("GET", "/metrics", key=None)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].replace(" ", "").startswith(
        "text/plain;version=0.0.4"), r.headers
    assert r.text.endswith("\n")
    samples = {}
    for line in r.text.splitlines():
        if line.startswith("#"):
            assert COMMENT.match(line), line
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        samples[m.group("name") + (m.group("labels") or "")] = float(m.group("value"))
    return samples


def scrape_until(api, pred, what, timeout=15):
    """Scrape until pred(samples) holds (exportd writes its counters after
    each round and heartbeat); the samples that satisfied it."""
    got = {}

    def ok():
        got["s"] = scrape(api)
        return pred(got["s"])
    S.wait_until(ok, timeout, what)
    return got["s"]
