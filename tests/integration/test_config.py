"""The config file (README "Configuration"): it holds secrets, so every
program warns when others can read it (or group or others can write it),
and refuses a link secret shorter than 32 bytes.  No servers: the programs
stop at the configuration (exportctl `config check` needs no database).
"""

import os
import subprocess

import pytest

import stack as S

GOOD_SECRET = "0123456789abcdef0123456789abcdef"   # 32 bytes
WARNING = "the file is readable by others"


def programs():
    return {"exportctl": [S.BUILDDIR / "exportctl", "-c"],
            "exportd": [S.BUILDDIR / "exportd", "-c"],
            "export.fcgi": [S.BUILDDIR / "export.fcgi", "-c"]}


def run(name, conf, *args):
    argv = [str(a) for a in programs()[name] + [conf] + list(args)]
    return subprocess.run(argv, env=S.clean_env(), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=30)


def write(path, secrets, mode):
    S.write_conf_file(path, {"storage": {"dir": "/var/tmp/exportd-test-config"},
                             "mail": {"link_secrets": secrets}})
    os.chmod(path, mode)
    return path


@pytest.mark.parametrize("mode,warns", [(0o600, False), (0o640, False), (0o644, True),
                                        (0o604, True), (0o660, True), (0o602, True)])
def test_config_mode_warning(tmp_path, mode, warns):
    conf = write(tmp_path / "exportd.conf", GOOD_SECRET, mode)
    p = run("exportctl", conf, "config", "check")
    assert p.returncode == 0, p.stderr
    warned = [line for line in p.stderr.splitlines() if " warn: " in line]
    if not warns:
        assert warned == [], p.stderr
        return
    assert len(warned) == 1, p.stderr
    assert str(conf) in warned[0] and "mode %04o" % mode in warned[0], warned
    assert GOOD_SECRET not in p.stderr and GOOD_SECRET not in p.stdout


@pytest.mark.parametrize("name", ["exportctl", "exportd", "export.fcgi"])
def test_every_program_warns_and_refuses_a_short_secret(tmp_path, name):
    """0644 and a 12-byte secret (the old man page's example): the warning,
    then the refusal naming the key, exit 1; the secret is never shown."""
    short = "6f1c0ed3a9b2"
    conf = write(tmp_path / "short.conf", "%s, %s" % (GOOD_SECRET, short), 0o644)
    p = run(name, conf, *(["config", "check"] if name == "exportctl" else []))
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert "mode 0644" in p.stderr and WARNING in p.stderr, p.stderr
    assert "mail.link_secrets: secret 2 is 12 bytes" in p.stderr, p.stderr
    assert short not in p.stderr + p.stdout and GOOD_SECRET not in p.stderr + p.stdout
