"""The Prometheus alert rules shipped in monitoring/ (installed under
/usr/share/exportd/prometheus): promtool loads them, its unit tests fire
each alert on the series that should fire it and none on a healthy
deployment, and every metric they use is one /metrics serves."""
import re
import shutil
import subprocess

import pytest

import helpers as H
import stack as S

RULES = S.SRCDIR / "monitoring" / "exportd-alerts.yml"
TESTS = S.SRCDIR / "monitoring" / "exportd-alerts.test.yml"


@pytest.fixture(scope="module")
def promtool():
    path = shutil.which("promtool")
    assert path, "promtool is missing (Debian package prometheus, scripts/install-deps)"
    return path


def run(promtool, *args, cwd=None):
    return subprocess.run([promtool, *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd)


def test_promtool_checks_the_rules(promtool):
    p = run(promtool, "check", "rules", str(RULES))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "SUCCESS: 8 rules found" in p.stdout, p.stdout


def test_promtool_unit_tests_pass(promtool):
    p = run(promtool, "test", "rules", TESTS.name, cwd=TESTS.parent)
    assert p.returncode == 0, p.stdout + p.stderr


def test_the_unit_tests_catch_a_broken_threshold(promtool, tmp_path):
    """The unit tests are not vacuous: a latency alert that can no longer
    fire fails them."""
    broken = RULES.read_text().replace("sum by (le) (rate(exportd_queue_latency_seconds_bucket"
                                       "[10m]))) > 60", "sum by (le) (rate(exportd_queue_"
                                       "latency_seconds_bucket[10m]))) > 6000")
    assert broken != RULES.read_text()
    (tmp_path / RULES.name).write_text(broken)
    shutil.copy(TESTS, tmp_path / TESTS.name)
    p = run(promtool, "test", "rules", TESTS.name, cwd=tmp_path)
    assert p.returncode != 0 and "ExportdQueueLatencyHigh" in p.stdout + p.stderr, p.stdout


def test_every_metric_in_the_rules_is_served(stack):
    import yaml
    exprs = [r["expr"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    used = set(re.findall(r"\bexportd_[a-z0-9_]+", " ".join(exprs)))
    assert len(used) >= 8, used
    H.scrape_until(stack.api, lambda s: any(k.startswith("exportd_node_heartbeat") for k in s),
                   "the workers' heartbeat in /metrics")
    text = stack.api("GET", "/metrics", key=None).text
    # Every family is declared (# TYPE), with samples or not yet (S3 codes).
    declared = set(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    served = {n for n, _ in declared}
    served |= {n + sfx for n, t in declared if t == "histogram"
               for sfx in ("_bucket", "_sum", "_count")}
    assert not used - served, "metrics the rules use that /metrics does not declare: %s" % (
        used - served)
