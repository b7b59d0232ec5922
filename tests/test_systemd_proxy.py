"""The proxy's unit: `systemd-analyze verify` is clean, `security` rates it 2.0 or lower, and it
shares opsd's user and state directory (one database: one budget)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.test_systemd import INSTALLED_PATH, directives

UNIT = REPO / "systemd" / "opsd-proxy.service"


@pytest.fixture
def proxy_unit(tmp_path: Path) -> Path:
    binary = tmp_path / "opsd"
    binary.write_text("#!/bin/sh\nexec python3 -m opsd \"$@\"\n")
    binary.chmod(0o755)
    text = UNIT.read_text()
    assert f"ExecStart={INSTALLED_PATH} proxy" in text
    copy = tmp_path / "opsd-proxy.service"
    copy.write_text(text.replace(INSTALLED_PATH, str(binary)))
    return copy


def test_proxy_unit_verifies_clean(systemd_analyze, proxy_unit):
    done = subprocess.run([systemd_analyze, "verify", str(proxy_unit)], capture_output=True,
                          text=True, timeout=120)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_proxy_unit_exposure_is_ok(systemd_analyze, proxy_unit):
    done = subprocess.run(
        [systemd_analyze, "security", "--offline=yes", "--no-pager", str(proxy_unit)],
        capture_output=True, text=True, timeout=120,
    )
    found = re.search(r"Overall exposure level for opsd-proxy\.service: (\d+\.\d+) (\w+)",
                      done.stdout)
    assert found, done.stdout + done.stderr
    assert float(found.group(1)) <= 2.0, done.stdout
    assert found.group(2) == "OK"


def test_proxy_unit_shares_opsds_user_and_state():
    unit = directives(UNIT.read_text())
    assert unit["User"] == ["opsd"] and unit["StateDirectory"] == ["opsd"]
    assert unit["DynamicUser"] == ["yes"] and unit["Type"] == ["notify"]
    assert "LoadCredential" not in unit  # it holds no token of its own
