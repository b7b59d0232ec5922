"""The shipped unit: `systemd-analyze verify` is clean and `security` rates it 2.0 or lower."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

UNIT = REPO / "systemd" / "opsd.service"
INSTALLED_PATH = "/opt/opsd/bin/opsd"  # the README's virtualenv


def directives(text: str) -> dict[str, list[str]]:
    """Key -> every value it is given in the unit (comments and section headers skipped)."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


@pytest.fixture
def unit_copy(tmp_path: Path) -> Path:
    """The unit with ExecStart at a real executable: verify checks that the binary exists."""
    binary = tmp_path / "opsd"
    binary.write_text("#!/bin/sh\nexec python3 -m opsd \"$@\"\n")
    binary.chmod(0o755)
    text = UNIT.read_text()
    assert f"ExecStart={INSTALLED_PATH} run" in text
    copy = tmp_path / "opsd.service"
    copy.write_text(text.replace(INSTALLED_PATH, str(binary)))
    return copy


def test_systemd_analyze_verify_is_clean(systemd_analyze, unit_copy):
    done = subprocess.run([systemd_analyze, "verify", str(unit_copy)], capture_output=True,
                          text=True, timeout=120)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_security_exposure_is_ok(systemd_analyze, unit_copy):
    done = subprocess.run(
        [systemd_analyze, "security", "--offline=yes", "--no-pager", str(unit_copy)],
        capture_output=True, text=True, timeout=120,
    )
    found = re.search(r"Overall exposure level for opsd\.service: (\d+\.\d+) (\w+)", done.stdout)
    assert found, done.stdout + done.stderr
    assert float(found.group(1)) <= 2.0, done.stdout
    assert found.group(2) == "OK"


def test_unit_is_a_hardened_notify_service_with_a_watchdog():
    unit = directives(UNIT.read_text())
    expected = {
        "Type": "notify", "NotifyAccess": "main", "Restart": "on-failure",
        "DynamicUser": "yes", "StateDirectory": "opsd", "ConfigurationDirectory": "opsd",
        "ProtectSystem": "strict", "NoNewPrivileges": "yes", "CapabilityBoundingSet": "",
        "ExecReload": "/bin/kill -HUP $MAINPID",
    }
    assert {key: unit.get(key, [None])[0] for key in expected} == expected
    assert "@system-service" in unit["SystemCallFilter"]
    assert unit["WatchdogSec"] and unit["WatchdogSec"][0] != "0"
    # The credential name is the file opsd reads from $CREDENTIALS_DIRECTORY.
    assert unit["LoadCredential"] == ["notion_token:/etc/opsd/notion_token"]
