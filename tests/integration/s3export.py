"""Fixture code for tests/integration/test_s3.py: exportd with storage.backend = s3.

    s3_settings()  ExtraExportd settings for an S3Server (path-style).
    multipart()    what the proxy's request log says about the multipart
                   uploads of one object key: creates, parts, completes,
                   aborts, and which uploads were left open.
    open_uploads() the multipart uploads s3rver still holds on disk.

Kept free of pytest fixtures, like stack.py.
"""

import datetime
import re
from types import SimpleNamespace
from urllib.parse import parse_qsl

PART_SIZE = 5 * 1024 * 1024


def s3_settings(srv, secret_key=None, exportd=None, s3=None):
    """ExtraExportd settings: storage.backend = s3 on `srv` through its
    verifying proxy, part_size 5M; `exportd` and `s3` override keys."""
    settings = {
        "exportd": {
            "workers": 2,
            "poll_interval": "200ms",
            "part_size": "5M",
            "heartbeat_interval": "300ms",
            # Longer than any one S3 request of the tests (a 2 s delay):
            # a worker blocked in curl does not heartbeat.
            "lease_timeout": "15s",
            "retry_base": "100ms",
            "retry_max": "500ms",
            "shutdown_grace": "3s",
        },
        "storage": {"backend": "s3"},
        "s3": {
            "bucket": srv.bucket,
            "prefix": "exports/",
            "region": srv.region,
            "endpoint": srv.endpoint,
            "addressing": "path",
            "access_key_id": srv.access_key,
            "secret_access_key": secret_key or srv.secret_key,
            "presign_ttl": "300s",
            "timeout": "5s",
            "max_retries": 4,
            "retry_base": "50ms",
        },
    }
    for section, kv in (("exportd", exportd), ("s3", s3)):
        settings[section].update(kv or {})
    return settings


# ------------------------------------------------------------ the proxy's log

def query_pairs(raw):
    """[(name, value)] of a raw query string, decoded; "uploads" -> ("uploads", "")."""
    return parse_qsl(raw, keep_blank_values=True)


def classify(entry):
    """The S3 operation of a proxy log entry (by method and query)."""
    q = dict(query_pairs(entry["query"]))
    m = entry["method"]
    if m == "POST" and "uploads" in q:
        return "CreateMultipartUpload"
    if m == "PUT" and "partNumber" in q and "uploadId" in q:
        return "UploadPart"
    if m == "POST" and "uploadId" in q:
        return "CompleteMultipartUpload"
    if m == "DELETE" and "uploadId" in q:
        return "AbortMultipartUpload"
    if m == "DELETE":
        return "DeleteObject"
    if m == "PUT":
        return "PutObject"
    if m in ("GET", "HEAD"):
        return m + "Object"
    return m


def multipart(log, path):
    """What the log says about the multipart uploads of the object at
    `path` ("/bucket/exports/<id>.csv"):
      creates    [entry] CreateMultipartUpload (any status)
      parts      [(entry time, upload id, part number, status, fault action)]
      completes  {upload id: [status]}
      aborts     {upload id: [status]}
      upload_ids upload ids in the order first seen
      open       upload ids never completed (200) nor aborted (204), plus one
                 None per successful create whose id never appeared (an
                 upload created and then forgotten)"""
    out = SimpleNamespace(creates=[], parts=[], completes={}, aborts={}, upload_ids=[],
                          entries=[])
    for e in log:
        if e["path"] != path:
            continue
        out.entries.append(e)
        op = classify(e)
        q = dict(query_pairs(e["query"]))
        uid = q.get("uploadId")
        if uid is not None and uid not in out.upload_ids:
            out.upload_ids.append(uid)
        fault = (e.get("fault") or {}).get("action")
        if op == "CreateMultipartUpload":
            out.creates.append(e)
        elif op == "UploadPart":
            out.parts.append((e["time"], uid, int(q["partNumber"]), e["status"], fault))
        elif op == "CompleteMultipartUpload":
            out.completes.setdefault(uid, []).append(e["status"])
        elif op == "AbortMultipartUpload":
            out.aborts.setdefault(uid, []).append(e["status"])
    done = {u for u, st in out.completes.items() if 200 in st}
    done |= {u for u, st in out.aborts.items() if 204 in st}
    out.open = [u for u in out.upload_ids if u not in done]
    created_ok = sum(1 for e in out.creates if e["status"] == 200)
    out.open += [None] * max(0, created_ok - len(out.upload_ids))
    return out


def open_uploads(srv):
    """{upload id: object key} of the multipart uploads s3rver keeps on disk
    (it removes an upload's directory when the upload is completed; it
    implements no AbortMultipartUpload, so an aborted one stays)."""
    root = srv.data_dir / srv.bucket / "._S3rver_uploads"
    out = {}
    if root.is_dir():
        for d in root.iterdir():
            keyfile = d / "key"
            out[d.name] = keyfile.read_text() if keyfile.exists() else None
    return out


# ------------------------------------------------------------ processes

def claimed_by(daemon, job_id, start=0):
    """The pids that logged "job <id>: claimed" in daemon's log since start."""
    rx = re.compile(r"^job %s: claimed" % re.escape(job_id))
    return [t[1] for t in daemon.log_lines(start) if rx.search(t[3])]


def parse_ts(text):
    """An API timestamp ("2024-01-02T03:04:05.123Z") as a datetime."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def wall(job):
    """completed_at - started_at of an API job, in seconds."""
    return (parse_ts(job["completed_at"]) - parse_ts(job["started_at"])).total_seconds()
