"""Smoke run of the benchmark suite (scripts/bench, BENCHMARKS.md).

`scripts/bench --rows 10000 --rounds 1 --quick` starts its own PostgreSQL,
export.fcgi, lighttpd, a trivial FastCGI ceiling and exportd on free loopback
ports in its own temp dir (it does not use the session's `stack`), and writes
its JSON to a temp file instead of bench/results/latest.json. The test checks
that it exits 0 and that every figure the JSON promises is there and sane.
It does not check the targets: a 10k-row run on a busy CI machine says
nothing about them. The CSV export to S3 (e) and the Node.js reference (n)
run in the smoke run too (the S3 test server of the integration tests,
npm ci of bench/node-export): measured, or an "n/a (...)" line saying why
not (offline: npm ci failed).
"""

import json
import math
import os
import re
import subprocess
import time

import pytest

import stack as S

BENCH = S.SRCDIR / "scripts" / "bench"
BUDGET_S = 60

METHOD_KEYS = ("wall_s", "wall_min_s", "wall_max_s", "rows_per_s", "mb_per_s",
               "ratio_to_psql", "peak_rss_kib", "bytes")
EXPORTD_KEYS = ("created_to_completed_s", "ratio_min", "ratio_max", "ratio_to_psql_created")
ROUTE_KEYS = ("req_per_s", "p50_ms", "p99_ms", "ratio_to_ceiling")
CEILING_KEYS = ("req_per_s", "p50_ms", "p99_ms")
PICKUP_KEYS = ("p50_ms", "p99_ms", "jobs", "interval_ms")


def positive(d, keys, where):
    for k in keys:
        assert k in d, "%s: key %r missing in %s" % (where, k, sorted(d))
        v = d[k]
        assert isinstance(v, (int, float)) and not isinstance(v, bool), \
            "%s.%s is %r, not a number" % (where, k, v)
        assert math.isfinite(v) and v > 0, "%s.%s = %r, expected a positive number" % (where, k, v)


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    if not BENCH.exists():
        # A dist tarball ships tests/integration but not scripts/ or bench/.
        pytest.skip("scripts/bench is not in this tree (%s)" % BENCH)
    out = tmp_path_factory.mktemp("bench") / "latest.json"
    env = S.clean_env(EXPORTD_BUILDDIR=S.BUILDDIR, EXPORTD_SRCDIR=S.SRCDIR)
    # The one-time npm ci of s3rver and of the Node.js reference is not the
    # bench's time: done first (a no-op when done; offline, the bench says n/a).
    for install in (S.SRCDIR / "tests/s3/install.sh", S.SRCDIR / "bench/node-export/install.sh"):
        subprocess.run(["sh", str(install)], env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=600)
    t0 = time.monotonic()
    p = subprocess.run([str(BENCH), "--rows", "10000", "--rounds", "1", "--quick",
                        "--output", str(out)],
                       env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=300)
    took = time.monotonic() - t0
    return p, out, took


def test_bench_exits_0_in_budget(bench_run):
    p, out, took = bench_run
    assert p.returncode == 0, "scripts/bench exited %d\nstdout:\n%s\nstderr:\n%s" % (
        p.returncode, p.stdout[-4000:], p.stderr[-6000:])
    assert out.is_file(), "no JSON written to %s" % out
    assert took < 2 * BUDGET_S, "the smoke run took %.0f s (budget ~%d s)" % (took, BUDGET_S)
    # The table went to stdout.
    for words in ("psql \\copy", "exportd CSV", "exportd JSONL", "CSV + gzip", "CSV + zstd",
                  "(e) exportd CSV → S3", "(n) Node.js",
                  "GET /exports/{id}", "POST /exports", "LISTEN/NOTIFY", "polling only"):
        assert words in p.stdout, "%r missing from the printed table:\n%s" % (words, p.stdout)


def test_bench_json_has_every_figure(bench_run):
    p, out, _ = bench_run
    assert p.returncode == 0, p.stderr[-4000:]
    res = json.loads(out.read_text())
    assert res["meta"]["rows"] == 10000 and res["meta"]["rounds"] == 1

    m = res["methods"]
    for name in ("psql_plain_csv", "psql_copy_csv", "exportd_csv", "exportd_jsonl"):
        positive(m[name], METHOD_KEYS, "methods." + name)
        assert len(m[name]["rounds"]) == 1
    for name in ("psql_copy_csv", "exportd_csv", "exportd_jsonl"):
        assert m[name]["rows"] == 10000
    # The plain reference (the speed baseline) leaves the soft-deleted rows out.
    plain = m["psql_plain_csv"]
    assert 0 < plain["rows"] < 10000 and plain["ratio_to_psql"] == 1.0, plain
    assert '"deleted_at" IS NULL' in plain["select"] and "to_json" not in plain["select"]
    positive(m["psql_copy_csv"], ("ratio_min", "ratio_max"), "methods.psql_copy_csv")
    for name in ("exportd_csv", "exportd_jsonl"):
        positive(m[name], EXPORTD_KEYS, "methods." + name)
        assert m[name]["wall_min_s"] <= m[name]["wall_s"] <= m[name]["wall_max_s"]
    # gzip is measured when the build has it, else printed as n/a.
    for comp in ("gzip", "zstd"):
        gz = m["exportd_csv_" + comp]
        if res["meta"]["features"][comp]:
            positive(gz, METHOD_KEYS + EXPORTD_KEYS, "methods.exportd_csv_" + comp)
            assert gz["bytes"] < m["exportd_csv"]["bytes"], gz
        else:
            assert gz == {"status": "n/a (not built)"}, gz
    s3 = m["exportd_csv_s3"]
    if not res["meta"]["features"]["s3"]:
        assert s3 == {"status": "n/a (not built)"}, s3
    elif s3["status"] != "measured":
        assert s3["status"].startswith("n/a (the S3 test server did not start: "), s3
    else:
        positive(s3, METHOD_KEYS + EXPORTD_KEYS + ("ratio_to_local",), "methods.exportd_csv_s3")
        assert s3["rows"] == 10000 and s3["bytes"] == m["exportd_csv"]["bytes"], s3
        # The object on S3 is the local file, and every request was signed right.
        assert s3["identical_to_local"] is True and s3["unverified_requests"] == 0, s3
    node = m["node_csv"]
    if node["status"] != "measured":
        assert re.match(r"n/a \((npm ci failed|/usr/bin/node not found): ", node["status"]), node
    else:
        positive(node, METHOD_KEYS + ("exportd_csv_speedup", "ratio_min", "ratio_max"),
                 "methods.node_csv")
        # The rows of the plain reference (p), the live ones.
        assert node["rows"] == plain["rows"], (node["rows"], plain["rows"])
    # Same rows, same bytes: exportd's CSV is psql's CSV.
    assert res["csv_identical_to_psql"] is True
    assert m["exportd_csv"]["bytes"] == m["psql_copy_csv"]["bytes"]

    api = res["api"]
    for name in ("get_export", "post_exports"):
        positive(api[name], ROUTE_KEYS, "api." + name)
        assert api[name]["errors"] == 0, api[name]
        assert api[name]["p50_ms"] <= api[name]["p99_ms"]
    for name in ("ceiling_get", "ceiling_post"):
        positive(api[name], CEILING_KEYS, "api." + name)
        assert api[name]["errors"] == 0, api[name]

    idle = res["idle"]
    for k in ("worker_core_pct", "backend_core_pct", "total_core_pct"):
        assert isinstance(idle[k], float) and idle[k] >= 0, idle

    pk = res["pickup"]
    for name in ("listen", "polling"):
        positive(pk[name], PICKUP_KEYS, "pickup." + name)
        assert pk[name]["jobs"] == 100

    t = res["targets"]
    want = {"csv_ratio_to_psql", "jsonl_ratio_to_psql", "worker_peak_rss_mib",
            "status_route_ratio_to_ceiling", "create_route_ratio_to_ceiling",
            "pickup_listen_p50_ms"}
    if res["meta"]["features"]["gzip"]:
        want.add("csv_gzip_ratio_to_psql")
    if s3["status"] == "measured":
        want |= {"csv_s3_ratio_to_local", "worker_peak_rss_s3_mib"}
    if node["status"] == "measured":
        want.add("csv_ratio_to_node")
    assert set(t) == want
    for name, d in t.items():
        assert isinstance(d["met"], bool) and d["value"] > 0, (name, d)


def test_bench_leaves_nothing_behind(bench_run):
    """The bench's temp dir is removed and no process still runs from it
    (postgres carries the data dir on its command line)."""
    p, _, _ = bench_run
    assert p.returncode == 0, p.stderr[-4000:]
    m = re.search(r"work dir (\S+) \(removed at the end\)", p.stderr)
    assert m, "the bench did not say which temp dir it used:\n" + p.stderr[-2000:]
    root = m.group(1)
    assert not os.path.exists(root), "the bench left %s behind" % root
    leftovers = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if root in cmd:
            leftovers.append("%s: %s" % (d, cmd[:200]))
    assert not leftovers, "processes of the bench still running:\n" + "\n".join(leftovers)
