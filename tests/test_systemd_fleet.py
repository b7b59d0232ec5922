"""The fleet unit `systemd/opsd@.service`: an instance (`opsd@production`) passes
`systemd-analyze verify` and `security` like opsd.service, reads /etc/opsd/<instance>.toml,
keeps its own state directory and credential, and is hardened exactly as opsd.service is."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from test_systemd import INSTALLED_PATH, UNIT, directives

from tests.conftest import REPO

TEMPLATE = REPO / "systemd" / "opsd@.service"
# What differs between the two units: the instance's own config, state and credential.
PER_INSTANCE = {"Description", "Environment", "StateDirectory", "LoadCredential"}


@pytest.fixture
def instance_copy(tmp_path: Path) -> Path:
    """The template as instance `production`, ExecStart at a real executable."""
    binary = tmp_path / "opsd"
    binary.write_text("#!/bin/sh\nexec python3 -m opsd \"$@\"\n")
    binary.chmod(0o755)
    text = TEMPLATE.read_text()
    assert f"ExecStart={INSTALLED_PATH} run" in text
    copy = tmp_path / "opsd@production.service"
    copy.write_text(text.replace(INSTALLED_PATH, str(binary)))
    return copy


def test_an_instance_verifies_clean(systemd_analyze, instance_copy):
    done = subprocess.run([systemd_analyze, "verify", str(instance_copy)], capture_output=True,
                          text=True, timeout=120)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_an_instances_exposure_is_ok(systemd_analyze, instance_copy):
    done = subprocess.run(
        [systemd_analyze, "security", "--offline=yes", "--no-pager", str(instance_copy)],
        capture_output=True, text=True, timeout=120,
    )
    found = re.search(r"Overall exposure level for opsd@production\.service: (\d+\.\d+) (\w+)",
                      done.stdout)
    assert found, done.stdout + done.stderr
    assert float(found.group(1)) <= 2.0 and found.group(2) == "OK", done.stdout


def test_each_instance_has_its_config_state_and_credential_and_the_same_hardening():
    fleet, single = directives(TEMPLATE.read_text()), directives(UNIT.read_text())
    assert "OPSD_CONFIG=/etc/opsd/%i.toml" in fleet["Environment"]
    assert fleet["StateDirectory"] == ["opsd/%i"]
    assert fleet["LoadCredential"] == ["notion_token:/etc/opsd/%i.notion_token"]
    assert "%i" in fleet["Description"][0]
    same = {key: value for key, value in fleet.items() if key not in PER_INSTANCE}
    assert same == {key: value for key, value in single.items() if key not in PER_INSTANCE}
