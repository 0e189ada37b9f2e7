"""An S3 server for the integration tests: s3rver behind a SigV4-verifying proxy.

    client (exportd, botocore) --> sigv4proxy.py :port --> s3rver :upstream_port
                                   (verifies, logs,        (stores; accepts
                                    injects faults)         any signature)

s3rver (tests/s3/node_modules, installed by tests/s3/install.sh from the
committed package-lock.json) does not verify signatures at all, so every
request goes through tests/s3/sigv4proxy.py,
which checks AWS SigV4 the way real S3 does (header-signed and presigned),
answers S3-style XML errors (403 SignatureDoesNotMatch, ...), appends one
JSON line per request to `requests_log` and injects faults on demand. Point
exportd at `endpoint` with `access_key`/`secret_key`/`region`/`bucket`,
path-style addressing.

    srv = S3Server(tmp_root / "s3").start()
    srv.client().put_object(Bucket=srv.bucket, Key="k", Body=b"x")  # via the proxy
    srv.objects()          # {key: size}, read from s3rver directly (not logged)
    srv.get("k")           # bytes or None, directly
    srv.faults({"match": {"method": "PUT", "query_has": "partNumber=3"},
                "action": "status", "status": 500, "times": 2})
    srv.log()              # [dict] one per request the proxy saw
    srv.unverified()       # the entries whose verdict is not "ok"
    srv.reset()            # no rules, empty log
    srv.stop(); srv.cleanup()

Needs the Debian packages nodejs, npm and python3-botocore (start() says
so when one is missing; it runs tests/s3/install.sh itself when s3rver is
not installed yet). Kept free of pytest fixtures, like stack.py.
"""

import http.client
import json
import shutil
import sys
import time
from pathlib import Path

import stack as S

S3DIR = S.SRCDIR / "tests" / "s3"
INSTALL_SH = S3DIR / "install.sh"
S3RVER_BIN = S3DIR / "node_modules" / ".bin" / "s3rver"
PROXY_PY = S3DIR / "sigv4proxy.py"
PACKAGES = "Debian packages nodejs, npm and python3-botocore"

# Shaped like real AWS credentials: the secret has '/' and '+' (as real
# ones often do), the region is not us-east-1 (a hard-coded default shows).
ACCESS_KEY = "AKIAEXPORTDTEST00001"
SECRET_KEY = "exportd/Test+Secret/Key0123456789abcdefgh"
REGION = "eu-central-1"
BUCKET = "exportd-test"

# s3rver's own account: the helpers that bypass the proxy sign with it.
S3RVER_KEY = S3RVER_SECRET = "S3RVER"


def require_botocore():
    try:
        import botocore.config
        import botocore.session
    except ImportError:
        raise S.StackError("botocore is not importable by %s: install the %s and run the "
                           "tests with Debian's /usr/bin/python3" % (sys.executable, PACKAGES)
                           ) from None
    return botocore


def check_requirements():
    """StackError naming the missing package unless node, s3rver and
    botocore are there; installs s3rver (tests/s3/install.sh) if need be."""
    require_botocore()
    node = S.which("node", "install the %s" % PACKAGES)
    if not S3RVER_BIN.exists():
        if not shutil.which("npm"):
            raise S.StackError("s3rver is not installed (%s missing) and npm is not found: "
                               "install the %s, then run %s" % (S3RVER_BIN, PACKAGES, INSTALL_SH))
        S.run(["sh", INSTALL_SH], "tests/s3/install.sh (npm ci of s3rver)", timeout=300)
        if not S3RVER_BIN.exists():
            raise S.StackError("%s ran but %s is still missing" % (INSTALL_SH, S3RVER_BIN))
    return node


class S3Server:
    """s3rver on a free port with the verifying proxy in front on another."""

    def __init__(self, root, name="s3", bucket=BUCKET, access_key=ACCESS_KEY,
                 secret_key=SECRET_KEY, region=REGION):
        self.root = Path(root)
        self.name = name
        self.bucket = bucket
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.data_dir = self.root / "data"
        self.s3rver_log = self.root / "s3rver.log"
        self.proxy_log = self.root / "sigv4proxy.log"
        self.requests_log = self.root / "requests.jsonl"
        self.s3rver = None
        self.proxy = None
        self.port = None            # the proxy's: what clients talk to
        self.upstream_port = None   # s3rver's
        self.timings = {}
        self._direct = None
        S.LOGS[name + " requests"] = self.requests_log  # the proxy's verdicts

    # -- life cycle

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def upstream_endpoint(self):
        return "http://127.0.0.1:%d" % self.upstream_port

    def start(self):
        t0 = time.monotonic()
        node = check_requirements()
        self.timings["s3: requirements"] = time.monotonic() - t0
        self.data_dir.mkdir(parents=True, exist_ok=True)
        n_s3rver, n_proxy = self.name + " s3rver", self.name + " sigv4proxy"

        t0 = time.monotonic()
        self.s3rver, self.upstream_port = S.start_on_free_port(
            lambda port: S.Service(
                n_s3rver, [node, S3RVER_BIN, "-d", self.data_dir, "-a", "127.0.0.1",
                           "-p", port, "--no-vhost-buckets",
                           "--configure-bucket", self.bucket],
                self.s3rver_log, env=S.clean_env(FORCE_COLOR="0", NO_COLOR="1")),
            "s3rver", [n_s3rver])
        self.timings["s3: s3rver"] = time.monotonic() - t0

        t0 = time.monotonic()
        self.proxy, self.port = S.start_on_free_port(
            lambda port: S.Service(
                n_proxy, [sys.executable, PROXY_PY, "--port", port,
                          "--upstream-port", self.upstream_port,
                          "--access-key", self.access_key, "--secret-key", self.secret_key,
                          "--region", self.region, "--request-log", self.requests_log],
                self.proxy_log, env=S.clean_env(PYTHONDONTWRITEBYTECODE=1)),
            "sigv4proxy", [n_proxy])
        self.timings["s3: sigv4proxy"] = time.monotonic() - t0

        t0 = time.monotonic()
        try:
            S.wait_until(self._bucket_ready, 10, "s3rver to have bucket %s" % self.bucket,
                         check=self.s3rver.check_alive)
        except S.StackError as e:
            raise S.StackError("%s\n%s" % (e, S.logs_excerpt([n_s3rver]))) from None
        self.timings["s3: bucket"] = time.monotonic() - t0
        return self

    @property
    def settings(self):
        """What a client needs: endpoint (path-style), bucket, region, keys."""
        return {"endpoint": self.endpoint, "bucket": self.bucket, "region": self.region,
                "access_key": self.access_key, "secret_key": self.secret_key}

    def _bucket_ready(self):
        self.direct_client().head_bucket(Bucket=self.bucket)
        return True

    def stop(self):
        """Stop the proxy, then s3rver; [error strings] (none expected)."""
        errors = []
        for svc in (self.proxy, self.s3rver):
            if svc is None:
                continue
            try:
                svc.stop(grace=5)
            except Exception as e:  # noqa: BLE001 - reported to the caller
                errors.append("%s: %s" % (svc.name, e))
        return errors

    def cleanup(self):
        """Remove the data dir and logs (after stop())."""
        for name in (self.name + " s3rver", self.name + " sigv4proxy",
                     self.name + " requests"):
            S.LOGS.pop(name, None)
        shutil.rmtree(self.root, ignore_errors=True)

    # -- clients

    def client(self, access_key=None, secret_key=None, region=None, attempts=1, **config):
        """A botocore S3 client signing with SigV4 towards the proxy,
        path-style, without retries unless attempts > 1 (faults must show)."""
        bc = require_botocore()
        cfg = dict(signature_version="s3v4", s3={"addressing_style": "path"},
                   retries={"total_max_attempts": attempts},
                   connect_timeout=5, read_timeout=30)
        cfg.update(config)
        return bc.session.Session().create_client(
            "s3", endpoint_url=self.endpoint, region_name=region or self.region,
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            config=bc.config.Config(**cfg))

    def direct_client(self):
        """A botocore client talking to s3rver itself (not verified, not logged)."""
        if self._direct is None:
            bc = require_botocore()
            self._direct = bc.session.Session().create_client(
                "s3", endpoint_url=self.upstream_endpoint, region_name=self.region,
                aws_access_key_id=S3RVER_KEY, aws_secret_access_key=S3RVER_SECRET,
                config=bc.config.Config(signature_version="s3v4",
                                        s3={"addressing_style": "path"},
                                        retries={"total_max_attempts": 1},
                                        connect_timeout=5, read_timeout=30))
        return self._direct

    # -- what s3rver holds (read directly, bypassing the proxy)

    def objects(self, prefix=""):
        """{key: size} of the bucket's objects."""
        out = {}
        pages = self.direct_client().get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix)
        for page in pages:
            for obj in page.get("Contents", []):
                out[obj["Key"]] = obj["Size"]
        return out

    def empty(self):
        """Delete every object of the bucket (directly, not logged)."""
        for key in self.objects():
            self.direct_client().delete_object(Bucket=self.bucket, Key=key)

    def get(self, key):
        """The object's bytes, or None if there is no such key."""
        c = self.direct_client()
        try:
            return c.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except c.exceptions.NoSuchKey:
            return None

    # -- the proxy's control endpoints

    def _control(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            data = None if body is None else json.dumps(body).encode()
            conn.request(method, path, body=data,
                         headers={"Content-Type": "application/json"} if data else {})
            resp = conn.getresponse()
            text = resp.read()
        except OSError as e:
            raise S.StackError("sigv4proxy %s %s: %s\n%s" % (
                method, path, e, S.logs_excerpt([self.proxy.name]))) from None
        finally:
            conn.close()
        if resp.status != 200:
            raise S.StackError("sigv4proxy %s %s: %d %s" % (method, path, resp.status,
                                                             text.decode(errors="replace")))
        return text

    def faults(self, rules=None):
        """Add fault rules (a dict or a list; see tests/s3/sigv4proxy.py);
        returns every rule with its hit count. faults() only returns them."""
        if rules is None:
            return json.loads(self._control("GET", "/__faults"))
        return json.loads(self._control("POST", "/__faults", rules))

    def clear_faults(self):
        self._control("DELETE", "/__faults")

    def log(self):
        """[dict] one per request the proxy received, oldest first."""
        return [json.loads(line) for line in
                self._control("GET", "/__log").decode().splitlines() if line.strip()]

    def unverified(self, entries=None):
        """The log entries whose signature (or other check) failed."""
        return [e for e in (self.log() if entries is None else entries)
                if e["verdict"] != "ok"]

    def reset(self):
        """No fault rules, empty request log."""
        self._control("POST", "/__reset")
