#!/usr/bin/python3
"""A reverse proxy that verifies AWS Signature Version 4 in front of s3rver.

s3rver accepts any signature (wrong secret, tampered presigned URL, no
signature at all), so the integration tests put
this proxy between exportd and s3rver. Every request is checked the way
real S3 checks it, then forwarded to s3rver (127.0.0.1:UPSTREAM) with its
credentials taken off, or answered with an S3-style XML error:

  * header-signed requests (Authorization: AWS4-HMAC-SHA256 ...): the
    credential scope (access key, date, region, "s3", "aws4_request"),
    x-amz-date within --max-skew seconds of now, x-amz-content-sha256
    present and equal to the body's SHA-256 unless UNSIGNED-PAYLOAD,
    Content-MD5 (when sent) equal to the body's MD5;
  * presigned query-string requests (X-Amz-Algorithm, X-Amz-Credential,
    X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders, X-Amz-Signature): the
    same scope checks, then not expired (X-Amz-Date + X-Amz-Expires vs the
    current time), X-Amz-Expires at most 604800;
  * both: every x-amz-* header and `host` must be in SignedHeaders, and the
    signature is recomputed from the request exactly as received: method,
    the raw path percent-decoded then URI-encoded the AWS way ('/' kept),
    the raw query split on '&', each name and value percent-decoded,
    URI-encoded, sorted (X-Amz-Signature left out), the headers named in
    SignedHeaders (values trimmed, inner whitespace collapsed, repeats joined
    with ','). A client that signed anything else (an unsorted query,
    `uploads` instead of `uploads=`, a ':' left unencoded in the path) is
    rejected, as real S3 rejects it;
  * unsigned requests, SigV2 and aws-chunked (STREAMING-...) uploads are
    refused (403 AccessDenied / 400 / 501), so is a PUT without
    Content-Length (411, e.g. Transfer-Encoding: chunked).

Checks are made in this order: scope, signature, then time (so "expired"
and "skewed" mean "correctly signed but out of date") and payload hashes.

Every request except the control endpoints is appended as one JSON line
to --request-log before its answer is sent, e.g.
  {"id": 7, "time": 1700000000.1, "method": "PUT", "path": "/b/k",
   "query": "partNumber=1&uploadId=x", "auth": "header", "access_key": "AK..",
   "verdict": "ok", "code": null, "status": 200, "forwarded": true,
   "fault": null, "bytes": 5242880, "elapsed": 0.02, "detail": ""}
verdict: ok | unsigned | sigv2 | malformed | unknown-access-key |
wrong-region | bad-signature | headers-not-signed | expired | not-yet-valid |
skewed | payload-mismatch | bad-digest | unsupported | no-content-length |
too-large. On bad-signature the entry (and the proxy's stderr) also holds
the canonical request and string to sign the proxy computed; the XML error
carries them too, as real S3's does.

Control endpoints (no signature, only from 127.0.0.1, never logged):
  POST   /__faults  a rule or a list of rules (JSON), appended
  GET    /__faults  the rules with their hit counts
  DELETE /__faults  remove every rule
  GET    /__log     the request log (JSON lines)
  POST   /__reset   remove every rule and empty the request log
  GET    /__health  "ok"
Fault rules apply only to requests that verified (a bad signature always
gets its 403), the first rule that matches and has hits left wins:
  {"match": {"method": "PUT", "query_has": "partNumber=3"},
   "action": "status", "status": 500, "times": 2}
  match (every key optional, all must hold):
    method       "PUT"
    path         the exact decoded path, "/bucket/key"
    path_prefix  a prefix of the decoded path
    path_regex   re.search on the decoded path
    query_has    "name=value" (that decoded pair is in the query) or "name"
                 (present), or a list of them (all must hold)
    auth         "header" or "query"
  times  how many matching requests it hits (default: all of them)
  after  let this many matching requests through first (default 0)
  delay  seconds to wait before the action (any action)
  action
    status        answer `status` with an S3 XML error: "code" (default by
                  status: 500 InternalError, 503 SlowDown, ...), "message",
                  "headers" ({name: value}); the request is not forwarded
    drop          read the request, close the connection without answering
                  ("rst": true resets it instead of a clean close)
    delay         wait "seconds", then forward as usual
    drop_response forward it (s3rver does the work), then close the
                  connection without passing the answer on

Run:  sigv4proxy.py --port P --upstream-port U --access-key AK \\
        --secret-key SK --region R --request-log FILE
Standard library only (Python >= 3.7).
"""

import argparse
import base64
import binascii
import calendar
import hashlib
import hmac
import http.client
import http.server
import itertools
import json
import re
import socket
import struct
import sys
import threading
import time
from urllib.parse import quote, unquote_to_bytes
from xml.sax.saxutils import escape

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MAX_EXPIRES = 604800
DEFAULT_MAX_SKEW = 900
MAX_BODY = 256 * 1024 * 1024
# GET query parameters that set the answer's headers (S3 GetObject).
RESPONSE_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-disposition": "Content-Disposition",
    "response-content-language": "Content-Language",
    "response-content-encoding": "Content-Encoding",
    "response-cache-control": "Cache-Control",
    "response-expires": "Expires",
}

PRESIGN_PARAMS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date",
                  "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature",
                  "X-Amz-Security-Token")
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate",
                        "proxy-authorization", "te", "trailer", "trailers",
                        "transfer-encoding", "upgrade", "expect"})
DEFAULT_CODES = {400: ("BadRequest", "Injected fault."),
                 403: ("AccessDenied", "Access Denied"),
                 404: ("NoSuchKey", "The specified key does not exist."),
                 409: ("OperationAborted", "A conflicting conditional operation"
                       " is currently in progress against this resource."),
                 500: ("InternalError", "We encountered an internal error."
                       " Please try again."),
                 501: ("NotImplemented", "A header you provided implies"
                       " functionality that is not implemented."),
                 503: ("SlowDown", "Please reduce your request rate.")}


# ------------------------------------------------------------ SigV4 math

def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def signing_key(secret, date, region, service):
    k = ("AWS4" + secret).encode("utf-8")
    for part in (date, region, service, "aws4_request"):
        k = hmac.new(k, part.encode("utf-8"), hashlib.sha256).digest()
    return k


def sign(secret, date, region, service, string_to_sign):
    return hmac.new(signing_key(secret, date, region, service),
                    string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def uri_encode(raw, keep_slash):
    """AWS UriEncode: every byte but A-Za-z0-9-_.~ (and '/' if kept) as %XX."""
    return quote(raw, safe="/" if keep_slash else "")


def canonical_uri(raw_path):
    """The path as S3 sees it (percent-decoded) re-encoded the AWS way."""
    return uri_encode(unquote_to_bytes(raw_path), True) or "/"


def split_query(raw_query):
    """[(raw name, raw value)] in the order sent ('' pieces skipped)."""
    out = []
    for piece in raw_query.split("&"):
        if piece:
            name, _, value = piece.partition("=")
            out.append((name, value))
    return out


def decode(raw):
    return unquote_to_bytes(raw).decode("utf-8", "replace")


def canonical_query(raw_query, leave_out=()):
    pairs = []
    for name, value in split_query(raw_query):
        if decode(name) in leave_out:
            continue
        pairs.append((uri_encode(unquote_to_bytes(name), False),
                      uri_encode(unquote_to_bytes(value), False)))
    pairs.sort()
    return "&".join("%s=%s" % p for p in pairs)


def header_map(headers):
    """{lower-case name: [values in order]} from [(name, value)]."""
    out = {}
    for name, value in headers:
        out.setdefault(name.strip().lower(), []).append(value)
    return out


def canonical_headers(hmap, signed):
    lines = []
    for name in signed:
        values = [" ".join(v.split()) for v in hmap[name]]
        lines.append("%s:%s\n" % (name, ",".join(values)))
    return "".join(lines)


def parse_amz_date(text):
    """Epoch seconds of an ISO 8601 basic timestamp (20130524T000000Z)."""
    if not re.fullmatch(r"\d{8}T\d{6}Z", text or ""):
        return None
    try:
        return calendar.timegm(time.strptime(text, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        return None


class Creds:
    def __init__(self, access_key, secret_key, region, service="s3"):
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.service = service


class Verdict:
    """What the proxy makes of a request's authentication."""

    def __init__(self, verdict, status=None, code=None, message="", **info):
        self.verdict = verdict
        self.status = status
        self.code = code
        self.message = message
        self.auth = info.pop("auth", None)
        self.access_key = info.pop("access_key", None)
        self.canonical_request = info.pop("canonical_request", None)
        self.string_to_sign = info.pop("string_to_sign", None)
        self.extra = info  # more elements for the XML error

    @property
    def ok(self):
        return self.verdict == "ok"

    def __repr__(self):
        return "Verdict(%s %s %s: %s)" % (self.verdict, self.status, self.code, self.message)


def _fail(verdict, status, code, message, ctx, **extra):
    return Verdict(verdict, status, code, message, auth=ctx.get("auth"),
                   access_key=ctx.get("access_key"), **extra)


def _check_scope(credential, amz_date, creds, ctx, header_auth):
    """Errors of the credential scope, or None. Sets ctx['access_key']."""
    parts = credential.split("/")
    malformed_code = "AuthorizationHeaderMalformed" if header_auth \
        else "AuthorizationQueryParametersError"
    if len(parts) != 5:
        return _fail("malformed", 400, malformed_code,
                     "The credential is malformed; expecting "
                     "\"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".", ctx)
    key, date, region, service, terminator = parts
    ctx["access_key"] = key
    if key != creds.access_key:
        return _fail("unknown-access-key", 403, "InvalidAccessKeyId",
                     "The AWS Access Key Id you provided does not exist in our records.",
                     ctx, AWSAccessKeyId=key)
    if region != creds.region:
        return _fail("wrong-region", 400, malformed_code,
                     "The authorization header is malformed; the region '%s' is wrong;"
                     " expecting '%s'" % (region, creds.region), ctx, Region=creds.region)
    if service != creds.service or terminator != "aws4_request":
        return _fail("malformed", 400, malformed_code,
                     "The credential scope must end in /%s/aws4_request, not /%s/%s"
                     % (creds.service, service, terminator), ctx)
    if amz_date is None or parse_amz_date(amz_date) is None:
        return _fail("malformed", 403, "AccessDenied",
                     "AWS authentication requires a valid Date or x-amz-date header"
                     if header_auth else "X-Amz-Date must be in the ISO8601 Long Format"
                     " \"yyyyMMdd'T'HHmmss'Z'\"", ctx)
    if amz_date[:8] != date:
        return _fail("malformed", 400, malformed_code,
                     "Invalid credential date \"%s\". This date is not the same as"
                     " X-Amz-Date: \"%s\"." % (date, amz_date[:8]), ctx)
    return None


def verify(method, target, headers, body, creds, now=None, max_skew=DEFAULT_MAX_SKEW):
    """Check the SigV4 authentication of one request as received.

    target: the request-target exactly as sent (raw path and query);
    headers: [(name, value)] as received; body: bytes. Returns a Verdict;
    verdict "ok" when S3 would accept it."""
    now = time.time() if now is None else now
    if target.startswith(("http://", "https://")):  # absolute-form
        target = "/" + target.split("/", 3)[3] if target.count("/") >= 3 else "/"
    raw_path, _, raw_query = target.partition("?")
    params = {}
    for name, value in split_query(raw_query):
        params.setdefault(decode(name), decode(value))
    hmap = header_map(headers)
    authz = (hmap.get("authorization") or [None])[0]
    ctx = {}

    by_header = authz is not None
    by_query = "X-Amz-Algorithm" in params or "X-Amz-Signature" in params
    if ("Signature" in params and "AWSAccessKeyId" in params) \
            or (authz or "").startswith("AWS "):
        return _fail("sigv2", 400, "InvalidArgument",
                     "Signature Version 2 is not accepted here: sign with AWS4-HMAC-SHA256.",
                     ctx)
    if by_header and by_query:
        return _fail("malformed", 400, "InvalidArgument",
                     "Only one auth mechanism allowed; only the X-Amz-Algorithm query"
                     " parameter, Signature query string parameter or the Authorization"
                     " header should be specified", ctx)
    if not by_header and not by_query:
        return _fail("unsigned", 403, "AccessDenied",
                     "Access Denied (anonymous request: the request is not signed)", ctx)

    if by_header:
        ctx["auth"] = "header"
        alg, _, rest = authz.strip().partition(" ")
        if alg != ALGORITHM:
            return _fail("malformed", 400, "InvalidArgument",
                         "Unsupported Authorization Type \"%s\"" % alg, ctx)
        comps = {}
        for part in rest.split(","):
            k, _, v = part.strip().partition("=")
            comps[k.strip()] = v.strip()
        if not all(comps.get(k) for k in ("Credential", "SignedHeaders", "Signature")):
            return _fail("malformed", 400, "AuthorizationHeaderMalformed",
                         "The authorization header is malformed; it must hold"
                         " Credential=, SignedHeaders= and Signature=: %r" % authz, ctx)
        credential, signed_str, provided = (comps["Credential"], comps["SignedHeaders"],
                                            comps["Signature"])
        amz_date = (hmap.get("x-amz-date") or [None])[0]
        payload = (hmap.get("x-amz-content-sha256") or [None])[0]
    else:
        ctx["auth"] = "query"
        missing = [p for p in PRESIGN_PARAMS[:6] if not params.get(p)]
        if missing:
            return _fail("malformed", 403, "AccessDenied",
                         "Query-string authentication version 4 requires the"
                         " X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date,"
                         " X-Amz-SignedHeaders, and X-Amz-Expires parameters (missing: %s)."
                         % ", ".join(missing), ctx)
        if params["X-Amz-Algorithm"] != ALGORITHM:
            return _fail("malformed", 400, "AuthorizationQueryParametersError",
                         "X-Amz-Algorithm only supports \"%s\"" % ALGORITHM, ctx)
        credential, signed_str, provided = (params["X-Amz-Credential"],
                                            params["X-Amz-SignedHeaders"],
                                            params["X-Amz-Signature"])
        amz_date = params["X-Amz-Date"]
        payload = params.get("X-Amz-Content-Sha256", UNSIGNED_PAYLOAD)

    err = _check_scope(credential, amz_date, creds, ctx, by_header)
    if err:
        return err

    signed = signed_str.split(";")
    if signed != sorted(set(signed)) or any(h != h.strip().lower() or not h for h in signed):
        return _fail("malformed", 400, "AuthorizationHeaderMalformed" if by_header
                     else "AuthorizationQueryParametersError",
                     "SignedHeaders must be lower-case header names, sorted, without"
                     " repeats, separated by ';': %r" % signed_str, ctx)
    if "host" not in signed:
        return _fail("headers-not-signed", 403, "AccessDenied",
                     "The host header must be signed (SignedHeaders=%s)" % signed_str, ctx)
    unsigned_amz = sorted(h for h in hmap if h.startswith("x-amz-") and h not in signed)
    if unsigned_amz:
        return _fail("headers-not-signed", 403, "AccessDenied",
                     "There were headers present in the request which were not signed",
                     ctx, HeadersNotSigned=", ".join(unsigned_amz))
    absent = [h for h in signed if h not in hmap]
    if absent:
        return _fail("headers-not-signed", 403, "AccessDenied",
                     "SignedHeaders names headers the request does not have: %s"
                     % ", ".join(absent), ctx)

    if payload is None:
        return _fail("malformed", 400, "InvalidRequest",
                     "Missing required header for this request: x-amz-content-sha256", ctx)
    if payload.startswith("STREAMING-"):
        return _fail("unsupported", 501, "NotImplemented",
                     "aws-chunked uploads (x-amz-content-sha256: %s) are not supported by"
                     " this test proxy" % payload, ctx)
    if payload != UNSIGNED_PAYLOAD and not re.fullmatch(r"[0-9a-fA-F]{64}", payload):
        return _fail("malformed", 400, "InvalidArgument",
                     "x-amz-content-sha256 must be UNSIGNED-PAYLOAD,"
                     " STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid sha256 value.", ctx)

    creq = "\n".join([
        method,
        canonical_uri(raw_path),
        canonical_query(raw_query, ("X-Amz-Signature",) if by_query else ()),
        canonical_headers(hmap, signed),
        signed_str,
        payload,
    ])
    scope = credential.split("/", 1)[1]
    sts = "\n".join([ALGORITHM, amz_date, scope, sha256_hex(creq.encode("utf-8"))])
    expected = sign(creds.secret_key, amz_date[:8], creds.region, creds.service, sts)
    if not hmac.compare_digest(expected, provided):
        return _fail("bad-signature", 403, "SignatureDoesNotMatch",
                     "The request signature we calculated does not match the signature"
                     " you provided. Check your key and signing method.", ctx,
                     canonical_request=creq, string_to_sign=sts,
                     SignatureProvided=provided, CanonicalRequest=creq, StringToSign=sts)

    t = parse_amz_date(amz_date)
    if by_query:
        try:
            expires = int(params["X-Amz-Expires"])
        except ValueError:
            expires = -1
        if expires < 0:
            return _fail("malformed", 400, "AuthorizationQueryParametersError",
                         "X-Amz-Expires should be a number", ctx)
        if expires > MAX_EXPIRES:
            return _fail("malformed", 400, "AuthorizationQueryParametersError",
                         "X-Amz-Expires must be less than a week (in seconds); that is,"
                         " the given X-Amz-Expires must be less than 604800 seconds", ctx)
        if now > t + expires:
            return _fail("expired", 403, "AccessDenied", "Request has expired", ctx,
                         XAmzExpires=str(expires),
                         Expires=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t + expires)),
                         ServerTime=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)))
        if t > now + max_skew:
            return _fail("not-yet-valid", 403, "AccessDenied", "Request is not valid yet", ctx)
    elif abs(now - t) > max_skew:
        return _fail("skewed", 403, "RequestTimeTooSkewed",
                     "The difference between the request time and the current time is"
                     " too large.", ctx, RequestTime=amz_date,
                     ServerTime=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
                     MaxAllowedSkewMilliseconds=str(max_skew * 1000))

    if payload not in (UNSIGNED_PAYLOAD,) and payload.lower() != sha256_hex(body):
        return _fail("payload-mismatch", 400, "XAmzContentSHA256Mismatch",
                     "The provided 'x-amz-content-sha256' header does not match what"
                     " was computed.", ctx, ClientComputedContentSHA256=payload,
                     S3ComputedContentSHA256=sha256_hex(body))
    md5 = (hmap.get("content-md5") or [None])[0]
    if md5 is not None:
        try:
            sent = base64.b64decode(md5.strip(), validate=True)
        except (binascii.Error, ValueError):
            sent = b""
        if len(sent) != 16:
            return _fail("bad-digest", 400, "InvalidDigest",
                         "The Content-MD5 you specified was invalid.", ctx)
        if sent != hashlib.md5(body).digest():
            return _fail("bad-digest", 400, "BadDigest",
                         "The Content-MD5 you specified did not match what we received.",
                         ctx)
    return Verdict("ok", auth=ctx["auth"], access_key=ctx["access_key"])


# ------------------------------------------------------------ fault rules

MATCH_KEYS = {"method", "path", "path_prefix", "path_regex", "query_has", "auth"}
ACTIONS = {"status", "drop", "delay", "drop_response"}


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []

    @staticmethod
    def check(rule):
        if not isinstance(rule, dict):
            raise ValueError("a rule is a JSON object: %r" % (rule,))
        match = rule.get("match", {})
        if not isinstance(match, dict) or set(match) - MATCH_KEYS:
            raise ValueError("match keys are %s: %r" % (sorted(MATCH_KEYS), match))
        if rule.get("action") not in ACTIONS:
            raise ValueError("action must be one of %s: %r" % (sorted(ACTIONS), rule))
        if rule["action"] == "status" and not isinstance(rule.get("status"), int):
            raise ValueError("a status rule needs an integer status: %r" % (rule,))
        if rule["action"] == "delay" and not isinstance(rule.get("seconds"), (int, float)):
            raise ValueError("a delay rule needs seconds: %r" % (rule,))
        times = rule.get("times")
        if times is not None and (not isinstance(times, int) or times < 1):
            raise ValueError("times must be a positive integer: %r" % (rule,))
        if "path_regex" in match:
            re.compile(match["path_regex"])
        qh = match.get("query_has", [])
        if not isinstance(qh, (str, list)):
            raise ValueError("query_has is a string or a list of strings: %r" % (qh,))

    def add(self, rules):
        if isinstance(rules, dict):
            rules = [rules]
        if not isinstance(rules, list):
            raise ValueError("POST a rule or a list of rules")
        for r in rules:
            self.check(r)
        with self.lock:
            for r in rules:
                r = dict(r)
                r["hits"] = 0
                r["seen"] = 0
                self.rules.append(r)
            return self.snapshot()

    def clear(self):
        with self.lock:
            self.rules = []

    def snapshot(self):
        return [dict(r, index=i) for i, r in enumerate(self.rules)]

    @staticmethod
    def matches(match, method, path, pairs, auth):
        if "method" in match and match["method"].upper() != method:
            return False
        if "path" in match and match["path"] != path:
            return False
        if "path_prefix" in match and not path.startswith(match["path_prefix"]):
            return False
        if "path_regex" in match and not re.search(match["path_regex"], path):
            return False
        if "auth" in match and match["auth"] != auth:
            return False
        wanted = match.get("query_has", [])
        for want in [wanted] if isinstance(wanted, str) else wanted:
            name, eq, value = want.partition("=")
            if not any(n == name and (not eq or v == value) for n, v in pairs):
                return False
        return True

    def pick(self, method, path, pairs, auth):
        """The rule that hits this request (counted), or None."""
        with self.lock:
            for i, r in enumerate(self.rules):
                if r.get("times") is not None and r["hits"] >= r["times"]:
                    continue
                if not self.matches(r.get("match", {}), method, path, pairs, auth):
                    continue
                r["seen"] += 1
                if r["seen"] <= r.get("after", 0):
                    continue
                r["hits"] += 1
                return dict(r, index=i)
        return None


# ------------------------------------------------------------ the server

class RequestLog:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        open(path, "a").close()

    def write(self, entry):
        with self.lock:
            entry["id"] = next(self.ids)
            line = json.dumps(entry) + "\n"
            with open(self.path, "a") as f:
                f.write(line)

    def read(self):
        with self.lock:
            with open(self.path, "rb") as f:
                return f.read()

    def clear(self):
        with self.lock:
            open(self.path, "w").close()


def error_xml(code, message, extra=None, request_id=""):
    items = "".join("<%s>%s</%s>" % (k, escape(str(v)), k) for k, v in (extra or {}).items())
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
            '<Message>%s</Message>%s<RequestId>%s</RequestId></Error>'
            % (escape(code), escape(message), items, request_id)).encode("utf-8")


class Proxy(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, addr, upstream, creds, request_log, max_skew):
        super().__init__(addr, Handler)
        self.upstream = upstream
        self.creds = creds
        self.request_log = request_log
        self.max_skew = max_skew
        self.faults = Faults()
        self.ids = itertools.count(1)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sigv4proxy"
    timeout = 300

    def log_message(self, fmt, *args):
        sys.stderr.write("%s [%s] %s\n" % (time.strftime("%Y-%m-%d %H:%M:%S"),
                                           self.address_string(), fmt % args))
        sys.stderr.flush()

    # -- plumbing

    def _send(self, status, headers, body=b"", reason=None):
        self.log_request(status)
        self.send_response_only(status, reason)
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def _send_json(self, status, obj):
        body = (json.dumps(obj, indent=1) + "\n").encode()
        self._send(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body)))], body)

    def _error(self, status, code, message, extra=None, close=False):
        rid = "%016X" % self.request_id
        body = error_xml(code, message, extra, rid)
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", rid),
                   ("Content-Length", str(len(body)))]
        if close:
            self.close_connection = True
            headers.append(("Connection", "close"))
        self._send(status, headers, body)

    def _drop(self, rst=False):
        self.close_connection = True
        if rst:
            # Linger 0 and a close without shutdown (which would send a FIN
            # first): the kernel answers with a RST. The socket closes only
            # once its makefile() reader is closed too.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.rfile.close()
            self.connection.close()
            return
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- every method

    def handle_any(self):
        self.request_id = next(self.server.ids)
        t0 = time.monotonic()
        raw_path, _, raw_query = self.path.partition("?")
        if raw_path.startswith("/__"):
            return self.control(raw_path)
        entry = {"id": None, "time": round(time.time(), 3), "client": self.client_address[0],
                 "method": self.command, "path": raw_path, "query": raw_query,
                 "auth": None, "access_key": None, "verdict": None, "code": None,
                 "status": None, "forwarded": False, "fault": None, "bytes": 0,
                 "elapsed": None, "detail": ""}

        def log(**kw):
            entry.update(kw)
            entry["elapsed"] = round(time.monotonic() - t0, 3)
            self.server.request_log.write(entry)

        # body
        te = self.headers.get("Transfer-Encoding")
        length = self.headers.get("Content-Length")
        if te is not None and te.strip().lower() != "identity":
            log(verdict="no-content-length", status=411, code="MissingContentLength",
                detail="Transfer-Encoding: %s" % te)
            return self._error(411, "MissingContentLength",
                               "You must provide the Content-Length HTTP header"
                               " (Transfer-Encoding: %s is not accepted)." % te, close=True)
        if length is None and self.command == "PUT":
            log(verdict="no-content-length", status=411, code="MissingContentLength")
            return self._error(411, "MissingContentLength",
                               "You must provide the Content-Length HTTP header.")
        try:
            n = int(length or 0)
            if n < 0:
                raise ValueError
        except ValueError:
            log(verdict="malformed", status=400, code="BadRequest",
                detail="Content-Length: %r" % length)
            return self._error(400, "BadRequest", "Bad Content-Length", close=True)
        if n > MAX_BODY:
            log(verdict="too-large", status=400, code="EntityTooLarge", bytes=n)
            return self._error(400, "EntityTooLarge", "This test proxy buffers bodies in"
                               " memory: at most %d bytes" % MAX_BODY, close=True)
        chunks, left = [], n
        while left:
            chunk = self.rfile.read(min(left, 1 << 20))
            if not chunk:
                self.close_connection = True
                log(verdict="malformed", detail="body cut short: %d of %d bytes"
                    % (n - left, n), bytes=n - left)
                return
            chunks.append(chunk)
            left -= len(chunk)
        body = b"".join(chunks)
        entry["bytes"] = len(body)

        v = verify(self.command, self.path, list(self.headers.items()), body,
                   self.server.creds, max_skew=self.server.max_skew)
        entry.update(auth=v.auth, access_key=v.access_key, verdict=v.verdict)
        if not v.ok:
            if v.canonical_request is not None:
                entry["canonical_request"] = v.canonical_request
                entry["string_to_sign"] = v.string_to_sign
                self.log_message("SignatureDoesNotMatch for %s %s\n--- canonical request"
                                 " computed by the proxy ---\n%s\n--- string to sign ---\n%s\n---",
                                 self.command, self.path, v.canonical_request,
                                 v.string_to_sign)
            else:
                self.log_message("rejected %s %s: %s %s", self.command, self.path,
                                 v.code, v.message)
            log(status=v.status, code=v.code, detail=v.message)
            return self._error(v.status, v.code, v.message, v.extra)

        pairs = [(decode(k), decode(val)) for k, val in split_query(raw_query)]
        rule = self.server.faults.pick(self.command, decode(raw_path), pairs, v.auth)
        action = None
        if rule is not None:
            action = rule["action"]
            entry["fault"] = {"rule": rule["index"], "action": action}
            pause = rule.get("seconds", 0) if action == "delay" else rule.get("delay", 0)
            if pause:
                time.sleep(pause)
            if action == "status":
                status = rule["status"]
                code, message = DEFAULT_CODES.get(status, ("InjectedFault", "Injected fault."))
                code = rule.get("code", code)
                message = rule.get("message", message)
                log(status=status, code=code, detail="injected")
                rid = "%016X" % self.request_id
                xml = error_xml(code, message, None, rid)
                headers = [("Content-Type", "application/xml"), ("x-amz-request-id", rid),
                           ("Content-Length", str(len(xml)))]
                headers += list(rule.get("headers", {}).items())
                return self._send(status, headers, xml)
            if action == "drop":
                log(detail="injected: connection dropped")
                return self._drop(rule.get("rst", False))

        try:
            status, reason, headers, data = self.forward(raw_path, raw_query, body)
        except (OSError, http.client.HTTPException) as e:
            log(status=502, code="BadGateway", detail="upstream: %s" % e)
            return self._error(502, "BadGateway", "s3rver did not answer: %s" % e)
        entry["forwarded"] = True
        if action == "drop_response":
            log(status=None, detail="injected: s3rver answered %d, answer dropped" % status)
            return self._drop(rule.get("rst", False))
        log(status=status)
        self._send(status, headers, data, reason)

    def forward(self, raw_path, raw_query, body):
        """Send the request to s3rver without its credentials; (status,
        reason, headers, body) of the answer.  The response-* overrides of a
        (verified) GET are applied here, as S3 does: s3rver refuses them on
        the anonymous request it gets."""
        overrides = {}
        kept = []
        for p in raw_query.split("&"):
            name = decode(p.partition("=")[0]) if p else ""
            if not p or name in PRESIGN_PARAMS:
                continue
            if self.command in ("GET", "HEAD") and name in RESPONSE_OVERRIDES:
                overrides[RESPONSE_OVERRIDES[name]] = decode(p.partition("=")[2])
                continue
            kept.append(p)
        target = raw_path + ("?" + "&".join(kept) if kept else "")
        conn = http.client.HTTPConnection("127.0.0.1", self.server.upstream, timeout=120)
        try:
            conn.putrequest(self.command, target, skip_host=True, skip_accept_encoding=True)
            for k, v in self.headers.items():
                if k.lower() in HOP_BY_HOP or k.lower() in ("authorization", "content-length"):
                    continue
                conn.putheader(k, v)
            if body or self.headers.get("Content-Length") is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            resp = conn.getresponse()
            data = resp.read()
            headers = []
            length = None
            for k, v in resp.getheaders():
                if k.lower() == "content-length":
                    length = v
                elif k.lower() not in HOP_BY_HOP:
                    headers.append((k, v))
            if self.command == "HEAD" or resp.status in (204, 304):
                if length is not None:
                    headers.append(("Content-Length", length))
            else:
                headers.append(("Content-Length", str(len(data))))
            if 200 <= resp.status < 300 and overrides:
                headers = [(k, v) for k, v in headers if k.lower() not in
                           {h.lower() for h in overrides}] + list(overrides.items())
            return resp.status, resp.reason, headers, data
        finally:
            conn.close()

    # -- control endpoints

    def control(self, path):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if self.client_address[0] != "127.0.0.1":
            return self._send_json(403, {"error": "control endpoints only from 127.0.0.1"})
        srv = self.server
        route = (self.command, path)
        if route == ("GET", "/__health"):
            return self._send_json(200, "ok")
        if route == ("GET", "/__log"):
            data = srv.request_log.read()
            return self._send(200, [("Content-Type", "application/x-ndjson"),
                                    ("Content-Length", str(len(data)))], data)
        if route == ("POST", "/__reset"):
            srv.faults.clear()
            srv.request_log.clear()
            return self._send_json(200, {"reset": True})
        if route == ("GET", "/__faults"):
            with srv.faults.lock:
                return self._send_json(200, srv.faults.snapshot())
        if route == ("DELETE", "/__faults"):
            srv.faults.clear()
            return self._send_json(200, [])
        if route == ("POST", "/__faults"):
            try:
                return self._send_json(200, srv.faults.add(json.loads(raw or b"null")))
            except (ValueError, re.error) as e:
                return self._send_json(400, {"error": str(e)})
        return self._send_json(404, {"error": "no control endpoint %s %s" % route})


for _m in ("GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH"):
    setattr(Handler, "do_" + _m, Handler.handle_any)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--upstream-port", type=int, required=True, help="s3rver's port")
    ap.add_argument("--access-key", required=True)
    ap.add_argument("--secret-key", required=True)
    ap.add_argument("--region", required=True)
    ap.add_argument("--request-log", required=True, help="JSON lines, one per request")
    ap.add_argument("--max-skew", type=int, default=DEFAULT_MAX_SKEW,
                    help="seconds x-amz-date may differ from now (default 900)")
    args = ap.parse_args(argv)
    creds = Creds(args.access_key, args.secret_key, args.region)
    srv = Proxy((args.host, args.port), args.upstream_port, creds,
                RequestLog(args.request_log), args.max_skew)
    sys.stderr.write("sigv4proxy: listening on %s:%d, upstream 127.0.0.1:%d, region %s,"
                     " access key %s\n" % (args.host, args.port, args.upstream_port,
                                           args.region, args.access_key))
    sys.stderr.flush()
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
