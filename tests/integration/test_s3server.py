"""The S3 test harness itself (s3stack.py, tests/s3/sigv4proxy.py).

The exportd S3 tests trust the proxy to reject what real S3 rejects and to
inject the faults they ask for; these tests prove it: botocore-signed
requests (header and presigned) verify and reach s3rver, wrong secrets,
tampered and expired requests get the proxy's 403 and never reach s3rver,
non-canonical signing (libcurl 7.88 style) is caught, and the fault rules
hit exactly what they say. The SigV4 code of the proxy is also checked
against AWS's published S3 examples, independently of botocore.
"""

import base64
import calendar
import datetime
import hashlib
import http.client
import io
import sys
import time
import types
from urllib.parse import urlsplit

import pytest

import stack as S
from s3stack import S3DIR, S3Server, require_botocore

require_botocore()  # a clear StackError (packages to install) instead of an ImportError
import botocore.auth  # noqa: E402
import botocore.exceptions  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

sys.path.insert(0, str(S3DIR))
import sigv4proxy  # noqa: E402


@pytest.fixture(scope="module")
def s3(tmp_root):
    srv = S3Server(tmp_root / "s3-harness")
    try:
        srv.start()
    except S.StackError as e:
        srv.stop()
        pytest.fail(str(e), pytrace=False)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(autouse=True)
def _fresh(request):
    if "s3" in request.fixturenames:
        srv = request.getfixturevalue("s3")
        srv.reset()
        srv.empty()
    yield


# ------------------------------------------------------------ helpers

def raw(s3, method, target, headers=None, body=None, source=None):
    """One HTTP request to the proxy exactly as given: (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", s3.port, timeout=10,
                                      source_address=(source, 0) if source else None)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def target_of(url):
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def sign(s3, method, target, body=b"", headers=None, secret=None, auth_class=None,
         region=None):
    """Headers botocore's S3 SigV4 signer adds for this request (target as sent)."""
    req = AWSRequest(method=method, url=s3.endpoint + target, data=body,
                     headers=dict(headers or {}))
    cls = auth_class or botocore.auth.S3SigV4Auth
    cls(Credentials(s3.access_key, secret or s3.secret_key), "s3",
        region or s3.region).add_auth(req)
    return dict(req.headers.items())


class _FixedClock:
    """botocore.auth's `datetime` module, with utcnow() `offset` s away."""

    def __init__(self, offset):
        real = datetime.datetime

        class FakeDateTime(real):
            @classmethod
            def utcnow(cls):
                return real.utcnow() + datetime.timedelta(seconds=offset)

        self.module = types.SimpleNamespace(datetime=FakeDateTime)


def signed_at(monkeypatch, offset):
    monkeypatch.setattr(botocore.auth, "datetime", _FixedClock(offset).module)


def err_code(exc_info):
    e = exc_info.value
    return e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"]


def assert_all_verified(s3, n):
    log = s3.log()
    assert len(log) == n, log
    assert s3.unverified(log) == [], log
    assert all(e["forwarded"] for e in log), log
    return log


# ------------------------------------------------- SigV4 against AWS's examples

AWS_EX = sigv4proxy.Creds("AKIAIOSFODNN7EXAMPLE",
                          "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1")
AWS_EX_NOW = 1369353600  # 2013-05-24T00:00:00Z
EMPTY = hashlib.sha256(b"").hexdigest()


def _aws_ex_headers(signed, signature, extra):
    return [("Host", "examplebucket.s3.amazonaws.com"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/"
             "us-east-1/s3/aws4_request,SignedHeaders=%s,Signature=%s" % (signed, signature))
            ] + extra


@pytest.mark.parametrize("method,target,body,signed,signature,extra", [
    ("GET", "/test.txt", b"", "host;range;x-amz-content-sha256;x-amz-date",
     "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
     [("Range", "bytes=0-9"), ("x-amz-content-sha256", EMPTY),
      ("x-amz-date", "20130524T000000Z")]),
    ("PUT", "/test%24file.text", b"Welcome to Amazon S3.",
     "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
     "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
     [("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-date", "20130524T000000Z"),
      ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
      ("x-amz-content-sha256", hashlib.sha256(b"Welcome to Amazon S3.").hexdigest())]),
    ("GET", "/?lifecycle", b"", "host;x-amz-content-sha256;x-amz-date",
     "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
     [("x-amz-content-sha256", EMPTY), ("x-amz-date", "20130524T000000Z")]),
    ("GET", "/?max-keys=2&prefix=J", b"", "host;x-amz-content-sha256;x-amz-date",
     "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
     [("x-amz-content-sha256", EMPTY), ("x-amz-date", "20130524T000000Z")]),
], ids=["get-object", "put-object", "get-lifecycle", "list-objects"])
def test_verifier_accepts_aws_header_examples(method, target, body, signed, signature, extra):
    """AWS's documented S3 SigV4 examples verify; one changed byte does not."""
    headers = _aws_ex_headers(signed, signature, extra)
    v = sigv4proxy.verify(method, target, headers, body, AWS_EX, now=AWS_EX_NOW)
    assert v.ok, (v, v.canonical_request)
    bad = _aws_ex_headers(signed, signature[:-1] + ("0" if signature[-1] != "0" else "1"),
                          extra)
    v = sigv4proxy.verify(method, target, bad, body, AWS_EX, now=AWS_EX_NOW)
    assert v.verdict == "bad-signature" and v.status == 403, v


def test_verifier_presigned_aws_example():
    target = ("/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE"
              "%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z"
              "&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature="
              "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
    host = [("Host", "examplebucket.s3.amazonaws.com")]
    assert sigv4proxy.verify("GET", target, host, b"", AWS_EX, now=AWS_EX_NOW + 86400).ok
    v = sigv4proxy.verify("GET", target, host, b"", AWS_EX, now=AWS_EX_NOW + 86401)
    assert v.verdict == "expired", v
    v = sigv4proxy.verify("GET", target.replace("86400", "86399"), host, b"", AWS_EX,
                          now=AWS_EX_NOW)
    assert v.verdict == "bad-signature", v


# ------------------------------------------------- signed requests through the proxy

def test_put_head_get_list_delete_verify(s3):
    c = s3.client()
    key = "exports/2024-01-02T03:04:05Z/a b+c=d&é.csv"
    c.put_object(Bucket=s3.bucket, Key=key, Body=b"id,name\n1,x\n")
    c.put_object(Bucket=s3.bucket, Key="exports/other.csv", Body=b"2")
    assert c.head_object(Bucket=s3.bucket, Key=key)["ContentLength"] == 12
    assert c.get_object(Bucket=s3.bucket, Key=key, Range="bytes=0-6")["Body"].read() == b"id,name"
    listed = c.list_objects_v2(Bucket=s3.bucket, Prefix="exports/2024", Delimiter="/")
    assert [p["Prefix"] for p in listed["CommonPrefixes"]] == ["exports/2024-01-02T03:04:05Z/"]
    c.delete_object(Bucket=s3.bucket, Key="exports/other.csv")

    log = assert_all_verified(s3, 6)
    assert [(e["method"], e["status"]) for e in log] == [
        ("PUT", 200), ("PUT", 200), ("HEAD", 200), ("GET", 206), ("GET", 200), ("DELETE", 204)]
    assert {e["auth"] for e in log} == {"header"}
    assert {e["access_key"] for e in log} == {s3.access_key}
    assert s3.objects("exports/") == {key: 12}
    assert s3.get(key) == b"id,name\n1,x\n"


def test_multipart_upload_verifies(s3):
    c = s3.client()
    key = "big/export.csv"
    big = bytes(range(256)) * (6 * 4096)  # 6 MiB, sent with Expect: 100-continue
    up = c.create_multipart_upload(Bucket=s3.bucket, Key=key)["UploadId"]
    e1 = c.upload_part(Bucket=s3.bucket, Key=key, UploadId=up, PartNumber=1,
                       Body=io.BytesIO(big))["ETag"]
    e2 = c.upload_part(Bucket=s3.bucket, Key=key, UploadId=up, PartNumber=2,
                       Body=b"tail")["ETag"]
    c.complete_multipart_upload(Bucket=s3.bucket, Key=key, UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})

    log = assert_all_verified(s3, 4)
    assert [(e["method"], e["status"]) for e in log] == [
        ("POST", 200), ("PUT", 200), ("PUT", 200), ("POST", 200)]
    assert log[0]["query"] == "uploads"  # botocore sends it bare, signs "uploads="
    assert "partNumber=1" in log[1]["query"] and log[1]["bytes"] == len(big)
    assert s3.get(key) == big + b"tail"


def test_wrong_secret_rejected_before_s3rver(s3):
    s3.client().put_object(Bucket=s3.bucket, Key="kept", Body=b"1")
    bad = s3.client(secret_key=s3.secret_key[:-1] + "X")
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        bad.put_object(Bucket=s3.bucket, Key="never", Body=b"2")
    assert err_code(ei) == (403, "SignatureDoesNotMatch")
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        bad.get_object(Bucket=s3.bucket, Key="kept")
    assert err_code(ei) == (403, "SignatureDoesNotMatch")

    log = s3.log()
    assert [(e["verdict"], e["status"], e["forwarded"]) for e in log] == [
        ("ok", 200, True), ("bad-signature", 403, False), ("bad-signature", 403, False)]
    assert "host:127.0.0.1:%d\n" % s3.port in log[1]["canonical_request"]
    assert s3.get("never") is None
    assert "canonical request computed by the proxy" in s3.proxy_log.read_text()


def test_wrong_access_key_region_or_no_signature(s3):
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        s3.client(access_key="AKIAOTHER0000000000").list_objects_v2(Bucket=s3.bucket)
    assert err_code(ei) == (403, "InvalidAccessKeyId")
    target = "/%s?list-type=2" % s3.bucket
    status, _, body = raw(s3, "GET", target, sign(s3, "GET", target, region="us-east-1"))
    assert status == 400 and b"<Code>AuthorizationHeaderMalformed</Code>" in body
    assert b"<Region>%s</Region>" % s3.region.encode() in body
    status, _, body = raw(s3, "GET", target)
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    log = s3.log()
    assert [e["verdict"] for e in log] == ["unknown-access-key", "wrong-region", "unsigned"]
    assert not any(e["forwarded"] for e in log)
    # botocore, like the AWS SDKs, follows the region S3 names in that error.
    s3.client(region="us-east-1").list_objects_v2(Bucket=s3.bucket)
    assert [e["verdict"] for e in s3.log()[3:]] == ["wrong-region", "ok"]


def test_tampered_header_signed_requests(s3, monkeypatch):
    b = s3.bucket
    # The unsorted query as sent is fine: the proxy canonicalises it.
    ok = sign(s3, "GET", "/%s?prefix=a&list-type=2" % b)
    assert raw(s3, "GET", "/%s?prefix=a&list-type=2" % b, ok)[0] == 200
    # Another path or body than the one signed.
    h = sign(s3, "PUT", "/%s/a" % b, b"abc")
    assert raw(s3, "PUT", "/%s/b" % b, h, b"abc")[0] == 403
    status, _, body = raw(s3, "PUT", "/%s/a" % b, h, b"abd")
    assert status == 400 and b"XAmzContentSHA256Mismatch" in body
    # An x-amz-* header added after signing.
    h = sign(s3, "PUT", "/%s/a" % b, b"abc")
    assert raw(s3, "PUT", "/%s/a" % b, dict(h, **{"x-amz-meta-x": "1"}), b"abc")[0] == 403
    # A Content-MD5 that is not the body's (signed, so only the digest is wrong).
    md5 = base64.b64encode(hashlib.md5(b"abd").digest()).decode()
    h = sign(s3, "PUT", "/%s/a" % b, b"abc", {"Content-MD5": md5})
    status, _, body = raw(s3, "PUT", "/%s/a" % b, h, b"abc")
    assert status == 400 and b"<Code>BadDigest</Code>" in body
    # Signed 20 minutes ago: RequestTimeTooSkewed.
    signed_at(monkeypatch, -1200)
    h = sign(s3, "PUT", "/%s/a" % b, b"abc")
    monkeypatch.undo()
    status, _, body = raw(s3, "PUT", "/%s/a" % b, h, b"abc")
    assert status == 403 and b"RequestTimeTooSkewed" in body
    assert [e["verdict"] for e in s3.log()] == [
        "ok", "bad-signature", "payload-mismatch", "headers-not-signed", "bad-digest",
        "skewed"]
    assert s3.objects() == {}


def test_non_canonical_signing_rejected(s3):
    """A signer that signs the query and path exactly as written (libcurl
    7.88's CURLOPT_AWS_SIGV4) is caught, as real S3 catches it."""
    class RawQuery(botocore.auth.S3SigV4Auth):
        def canonical_query_string(self, request):
            return urlsplit(request.url).query

    b = s3.bucket
    h = sign(s3, "POST", "/%s/k?uploads" % b, auth_class=RawQuery)      # signs "uploads"
    assert raw(s3, "POST", "/%s/k?uploads" % b, h)[0] == 403
    h = sign(s3, "POST", "/%s/k?uploads=" % b, auth_class=RawQuery)     # canonical as written
    assert raw(s3, "POST", "/%s/k?uploads=" % b, h)[0] == 200
    h = sign(s3, "PUT", "/%s/a:b" % b, b"x")                             # ':' not encoded
    assert raw(s3, "PUT", "/%s/a:b" % b, h, b"x")[0] == 403
    h = sign(s3, "PUT", "/%s/a%%3Ab" % b, b"x")
    assert raw(s3, "PUT", "/%s/a%%3Ab" % b, h, b"x")[0] == 200
    assert [e["verdict"] for e in s3.log()] == ["bad-signature", "ok", "bad-signature", "ok"]
    assert s3.objects() == {"a:b": 1}


# ------------------------------------------------------------ presigned URLs

def test_presigned_urls_verify_and_tampering_is_rejected(s3):
    c = s3.client()
    c.put_object(Bucket=s3.bucket, Key="dl/file.csv", Body=b"payload")
    url = c.generate_presigned_url("get_object", ExpiresIn=600,
                                   Params={"Bucket": s3.bucket, "Key": "dl/file.csv"})
    t = target_of(url)
    assert raw(s3, "GET", t)[::2] == (200, b"payload")

    sig = t.rsplit("X-Amz-Signature=", 1)[1][:64]
    flipped = sig[:10] + ("0" if sig[10] != "0" else "1") + sig[11:]
    tampered = {
        "signature": t.replace(sig, flipped),
        "expires": t.replace("X-Amz-Expires=600", "X-Amz-Expires=6000"),
        "key": t.replace("/dl/file.csv", "/dl/file.csw"),
    }
    for what, bad in tampered.items():
        assert bad != t
        status, _, body = raw(s3, "GET", bad)
        assert (what, status) == (what, 403) and b"SignatureDoesNotMatch" in body, body

    put = c.generate_presigned_url("put_object", ExpiresIn=600,
                                   Params={"Bucket": s3.bucket, "Key": "up/x.bin"})
    assert raw(s3, "PUT", target_of(put), {}, b"uploaded")[0] == 200
    assert s3.get("up/x.bin") == b"uploaded"

    log = s3.log()[1:]
    assert [(e["auth"], e["verdict"]) for e in log] == [
        ("query", "ok"), ("query", "bad-signature"), ("query", "bad-signature"),
        ("query", "bad-signature"), ("query", "ok")]


def test_expired_presigned_url_rejected(s3, monkeypatch):
    c = s3.client()
    c.put_object(Bucket=s3.bucket, Key="old.csv", Body=b"x")
    params = {"Bucket": s3.bucket, "Key": "old.csv"}
    # Signed two minutes ago for one minute.
    signed_at(monkeypatch, -120)
    stale = c.generate_presigned_url("get_object", Params=params, ExpiresIn=60)
    monkeypatch.undo()
    status, _, body = raw(s3, "GET", target_of(stale))
    assert status == 403 and b"Request has expired" in body
    # Valid now for 2 s, then not.
    url = c.generate_presigned_url("get_object", Params=params, ExpiresIn=2)
    signed = calendar.timegm(time.strptime(
        url.split("X-Amz-Date=")[1][:16], "%Y%m%dT%H%M%SZ"))
    assert raw(s3, "GET", target_of(url))[0] == 200
    time.sleep(max(0.0, signed + 2.2 - time.time()))
    assert raw(s3, "GET", target_of(url))[0] == 403
    assert [e["verdict"] for e in s3.log()[1:]] == ["expired", "ok", "expired"]


def test_control_endpoints_only_from_127_0_0_1(s3):
    status, _, _ = raw(s3, "POST", "/__reset", source="127.0.0.2")
    assert status == 403
    assert raw(s3, "GET", "/__health")[0] == 200
    assert s3.log() == []  # control requests are not logged


# ------------------------------------------------------------ fault injection

def test_fault_status_hits_exactly_times(s3):
    c = s3.client()
    key = "mp/faulty.csv"
    up = c.create_multipart_upload(Bucket=s3.bucket, Key=key)["UploadId"]
    s3.faults({"match": {"method": "PUT", "query_has": "partNumber=3"},
               "action": "status", "status": 500, "times": 2})

    def part(n, body):
        return c.upload_part(Bucket=s3.bucket, Key=key, UploadId=up, PartNumber=n,
                             Body=body)["ETag"]

    etags = {1: part(1, b"a"), 2: part(2, b"b"), 30: part(30, b"d")}  # 30 is not 3
    for _ in range(2):
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            part(3, b"c")
        assert err_code(ei) == (500, "InternalError")
    etags[3] = part(3, b"c")
    c.complete_multipart_upload(Bucket=s3.bucket, Key=key, UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": etags[n]} for n in sorted(etags)]})
    assert s3.get(key) == b"abcd"

    (rule,) = s3.faults()
    assert rule["hits"] == 2
    faulted = [e for e in s3.log() if e["fault"]]
    assert len(faulted) == 2 and s3.unverified() == []
    assert all("partNumber=3&" in e["query"] + "&" and not e["forwarded"] and e["status"] == 500
               for e in faulted)


def test_fault_after_and_s3_error_code(s3):
    c = s3.client()
    c.put_object(Bucket=s3.bucket, Key="k", Body=b"v")
    s3.faults({"match": {"method": "GET", "path": "/%s/k" % s3.bucket}, "after": 1,
               "times": 1, "action": "status", "status": 503,
               "headers": {"Retry-After": "1"}})
    assert c.get_object(Bucket=s3.bucket, Key="k")["Body"].read() == b"v"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.get_object(Bucket=s3.bucket, Key="k")
    assert err_code(ei) == (503, "SlowDown")
    assert ei.value.response["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "1"
    assert c.get_object(Bucket=s3.bucket, Key="k")["Body"].read() == b"v"


def test_fault_drop_closes_connection(s3):
    c = s3.client()
    c.put_object(Bucket=s3.bucket, Key="d", Body=b"v")
    url = target_of(c.generate_presigned_url(
        "get_object", Params={"Bucket": s3.bucket, "Key": "d"}, ExpiresIn=60))
    s3.faults([{"match": {"method": "GET", "auth": "query"}, "action": "drop", "times": 1},
               {"match": {"method": "GET", "auth": "query"}, "action": "drop", "rst": True,
                "times": 1}])
    with pytest.raises(http.client.RemoteDisconnected):
        raw(s3, "GET", url)
    with pytest.raises(ConnectionResetError) as ei:  # RST, not a clean close
        raw(s3, "GET", url)
    assert not isinstance(ei.value, http.client.RemoteDisconnected), repr(ei.value)
    assert raw(s3, "GET", url)[::2] == (200, b"v")
    log = s3.log()[1:]
    assert [(e["fault"] or {}).get("action") for e in log] == ["drop", "drop", None]
    assert [e["status"] for e in log] == [None, None, 200]

    # drop_response: s3rver stores the object, the client never hears so.
    s3.faults({"match": {"method": "PUT"}, "action": "drop_response", "times": 1})
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        c.put_object(Bucket=s3.bucket, Key="lost-answer", Body=b"stored")
    assert s3.get("lost-answer") == b"stored"


def test_fault_delay(s3):
    c = s3.client()
    c.put_object(Bucket=s3.bucket, Key="slow", Body=b"v")
    s3.faults({"match": {"method": "HEAD"}, "action": "delay", "seconds": 1.0, "times": 1})
    t0 = time.monotonic()
    c.head_object(Bucket=s3.bucket, Key="slow")
    slow = time.monotonic() - t0
    t0 = time.monotonic()
    c.head_object(Bucket=s3.bucket, Key="slow")
    fast = time.monotonic() - t0
    assert slow >= 1.0 and fast < 0.5, (slow, fast)
    assert [e["status"] for e in s3.log()] == [200, 200, 200]


def test_bad_fault_rule_is_refused(s3):
    with pytest.raises(S.StackError, match="action must be one of"):
        s3.faults({"match": {"method": "PUT"}, "action": "explode"})
    with pytest.raises(S.StackError, match="match keys"):
        s3.faults({"match": {"verb": "PUT"}, "action": "drop"})
    assert s3.faults() == []
