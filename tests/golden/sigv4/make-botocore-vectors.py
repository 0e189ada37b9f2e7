#!/usr/bin/python3
"""Print S3 SigV4 vectors made by botocore, for tests/unit/test_sigv4.c.

    /usr/bin/python3 tests/golden/sigv4/make-botocore-vectors.py \
        > tests/golden/sigv4/botocore.json

Needs Debian's python3-botocore (the python3 on PATH cannot import it).  The
requests are built the way botocore's S3 client builds them (the key
percent-encoded with '/' and '~' kept, query parameters with
botocore.utils.percent_encode, a flag parameter such as "uploads" written
bare) and signed by botocore.auth.S3SigV4Auth (Authorization header) or
S3SigV4QueryAuth (presigned URL) with the clock fixed at FIXED_TIME.  For each
case the output holds the C signer's inputs and botocore's results: the
canonical request, string to sign, signature, Authorization and x-amz-*
headers, and the path?query botocore puts on the wire.

"target" is that same request in canonical order: botocore's canonical path
and query (the second and third lines of its canonical request), plus the
X-Amz-Signature for a presigned URL.  The C signer sends exactly that; the
script checks that it is botocore's wire request with the parameters
reordered (and "uploads" written "uploads="), nothing else.
"""
import datetime
import hashlib
import json
import sys
from unittest import mock
from urllib.parse import quote, urlsplit

import botocore
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.utils import percent_encode

FIXED_TIME = datetime.datetime(2026, 11, 22, 9, 41, 7)
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REGION = "eu-central-1"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCWV1LXdlc3QtMSJGMEQCIEXAMPLE+token/with=padding=="
AWS_HOST = "s3.eu-central-1.amazonaws.com"
UPLOAD_ID = "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA"
ODD_UPLOAD_ID = "2~mZ9+q/x=Y.k_-"  # '+', '/', '=' must be %-encoded, '~' not
COMPLETE_BODY = (
    b"<CompleteMultipartUpload>"
    b"<Part><PartNumber>1</PartNumber><ETag>\"a54357aff0632cce46d942af68356b38\"</ETag></Part>"
    b"<Part><PartNumber>2</PartNumber><ETag>\"0c78aef83f66abc1fa1e8477f296d394\"</ETag></Part>"
    b"</CompleteMultipartUpload>"
)


class FixedDatetime(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return FIXED_TIME


class Capture:
    """Keeps botocore's canonical request, string to sign and signature."""

    def string_to_sign(self, request, canonical_request):
        self.creq = canonical_request
        self.sts = super().string_to_sign(request, canonical_request)
        return self.sts

    def signature(self, string_to_sign, request):
        self.sig = super().signature(string_to_sign, request)
        return self.sig


class HeaderSigner(Capture, S3SigV4Auth):
    pass


class QuerySigner(Capture, S3SigV4QueryAuth):
    pass


def wire_query(query):
    """The query as botocore's serializer writes it: value None is a bare flag."""
    parts = []
    for name, value in query:
        if value is None:
            parts.append(percent_encode(name))
        else:
            parts.append(percent_encode(name) + "=" + percent_encode(value))
    return "&".join(parts)


def make_url(scheme, host, path, query):
    url = "%s://%s%s" % (scheme, host, quote(path, safe="/~"))
    if query:
        url += "?" + wire_query(query)
    return url


def path_and_query(url):
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def params_of(target):
    """The multiset of name=value pairs, a bare name read as name=."""
    query = target.partition("?")[2]
    return sorted(p if "=" in p else p + "=" for p in query.split("&") if p)


def canonical_target(creq, signature=None):
    lines = creq.split("\n")
    target = lines[1] + ("?" + lines[2] if lines[2] else "")
    if signature is not None:
        target += "&X-Amz-Signature=" + signature
    return target


def inputs(name, method, host, path, query, headers, token):
    case = {
        "name": name,
        "method": method,
        "host": host,
        "path": path,
        "query": [[n, "" if v is None else v] for n, v in query],
        "headers": [[n, v] for n, v in headers],
    }
    if token is not None:
        case["session_token"] = token
    return case


def header_case(name, method, path, query=(), headers=(), body=b"", token=None,
                scheme="https", host=AWS_HOST, unsigned=False):
    url = make_url(scheme, host, path, query)
    request = AWSRequest(method=method, url=url, data=body)
    for n, v in headers:
        request.headers[n] = v
    if unsigned:
        request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    signer = HeaderSigner(Credentials(ACCESS_KEY, SECRET_KEY, token), "s3", REGION)
    with mock.patch.object(datetime, "datetime", FixedDatetime):
        signer.add_auth(request)
    payload = request.headers["X-Amz-Content-SHA256"]
    assert payload == ("UNSIGNED-PAYLOAD" if unsigned else hashlib.sha256(body).hexdigest())
    case = inputs(name, method, urlsplit(url).netloc, path, query, headers, token)
    case["payload_hash"] = payload
    expect = {
        "creq": signer.creq,
        "sts": signer.sts,
        "signature": signer.sig,
        "authorization": request.headers["Authorization"],
        "amz_date": request.headers["X-Amz-Date"],
        "content_sha256": payload,
        "target": canonical_target(signer.creq),
        "wire": path_and_query(request.url),
    }
    if token is not None:
        expect["security_token"] = request.headers["X-Amz-Security-Token"]
    assert params_of(expect["target"]) == params_of(expect["wire"]), name
    case["expect"] = expect
    return case


def presign_case(name, path, expires, query=(), token=None, scheme="https", host=AWS_HOST,
                 method="GET"):
    url = make_url(scheme, host, path, query)
    request = AWSRequest(method=method, url=url)
    signer = QuerySigner(Credentials(ACCESS_KEY, SECRET_KEY, token), "s3", REGION,
                         expires=expires)
    with mock.patch.object(datetime, "datetime", FixedDatetime):
        signer.add_auth(request)
    case = inputs(name, method, urlsplit(url).netloc, path, query, (), token)
    case["mode"] = "presign"
    case["expires"] = expires
    expect = {
        "creq": signer.creq,
        "sts": signer.sts,
        "signature": signer.sig,
        "amz_date": FIXED_TIME.strftime("%Y%m%dT%H%M%SZ"),
        "target": canonical_target(signer.creq, signer.sig),
        "wire": path_and_query(request.url),
    }
    assert params_of(expect["target"]) == params_of(expect["wire"]), name
    case["expect"] = expect
    return case


def cases():
    bucket = "/exports-bucket"
    key = bucket + "/exports/2026/11/job-42.csv.gz"
    part = b"id,name\n1,Alice\n2,Bob\n" * 64
    return [
        header_case("put-object", "PUT", key, body=b"id,name\n1,Alice\n",
                    headers=[("Content-Type", "text/csv; charset=utf-8"),
                             ("Content-Encoding", "gzip")]),
        header_case("put-object-empty", "PUT", bucket + "/exports/empty.csv"),
        header_case("create-multipart-upload", "POST", key, query=[("uploads", None)],
                    headers=[("Content-Type", "application/gzip")]),
        header_case("upload-part", "PUT", key, body=part,
                    query=[("partNumber", "3"), ("uploadId", UPLOAD_ID)]),
        header_case("upload-part-odd-upload-id", "PUT", key, body=part,
                    query=[("uploadId", ODD_UPLOAD_ID), ("partNumber", "10")]),
        header_case("upload-part-unsigned-payload", "PUT", key, body=part, unsigned=True,
                    query=[("partNumber", "1"), ("uploadId", UPLOAD_ID)]),
        header_case("complete-multipart-upload", "POST", key, body=COMPLETE_BODY,
                    query=[("uploadId", UPLOAD_ID)],
                    headers=[("Content-Type", "application/xml")]),
        header_case("abort-multipart-upload", "DELETE", key, query=[("uploadId", UPLOAD_ID)]),
        header_case("delete-object", "DELETE", key),
        header_case("head-object", "HEAD", key),
        header_case("get-object-range", "GET", key, headers=[("Range", "bytes=1048576-2097151")]),
        header_case("key-with-spaces", "PUT", bucket + "/exports/my report (final) 2026.csv",
                    body=b"a,b\n"),
        header_case("key-unicode", "PUT",
                    bucket + "/exports/M\u00fcller/\u00dcbersicht \u2013 \u6771\u4eac \U0001F600.csv",
                    body=b"a,b\n"),
        header_case("key-plus-equals", "PUT", bucket + "/exports/a+b=c&d;e,f@g$h!'(*):%25.csv",
                    body=b"a,b\n"),
        header_case("key-dots-and-slashes", "GET", bucket + "/exports//a/./b/../c"),
        header_case("list-objects-v2", "GET", bucket,
                    query=[("list-type", "2"), ("prefix", "exports/2026/11/"),
                           ("continuation-token", "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="),
                           ("max-keys", "1000")]),
        header_case("meta-header-trim", "PUT", key, body=b"x",
                    headers=[("x-amz-meta-note", "  several   spaces\tand a tab  "),
                             ("X-Amz-Meta-Job", "42")]),
        header_case("session-token", "PUT", key, body=b"id\n1\n", token=TOKEN),
        header_case("local-endpoint-port", "PUT", key, body=b"id\n1\n", scheme="http",
                    host="127.0.0.1:9000"),
        presign_case("presign-download", bucket + "/exports/2026/11/contacts-20261122.csv", 3600,
                     query=[("response-content-disposition",
                             'attachment; filename="contacts-20261122.csv"'),
                            ("response-content-type", "text/csv; charset=utf-8")]),
        presign_case("presign-session-token", key, 900, token=TOKEN,
                     query=[("response-content-disposition", "attachment")]),
        presign_case("presign-unicode-key-max-expiry",
                     bucket + "/exports/M\u00fcller report 100% (\u6771\u4eac).csv", 604800),
        presign_case("presign-local-endpoint-port", key, 1, scheme="http",
                     host="localhost:4569"),
    ]


def check_s3_docs():
    """botocore reproduces the S3 documentation's presigned example too."""
    request = AWSRequest(method="GET", url="https://examplebucket.s3.amazonaws.com/test.txt")
    signer = QuerySigner(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1", expires=86400)
    when = datetime.datetime(2013, 5, 24)
    with mock.patch.object(FixedDatetime, "utcnow", classmethod(lambda cls: when)), \
            mock.patch.object(datetime, "datetime", FixedDatetime):
        signer.add_auth(request)
    assert signer.sig == "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"


def main():
    check_s3_docs()
    doc = {
        "source": "botocore %s, tests/golden/sigv4/make-botocore-vectors.py" % botocore.__version__,
        "defaults": {
            "region": REGION,
            "service": "s3",
            "access_key_id": ACCESS_KEY,
            "secret_key": SECRET_KEY,
            "time": FIXED_TIME.strftime("%Y%m%dT%H%M%SZ"),
        },
        "cases": cases(),
    }
    json.dump(doc, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
