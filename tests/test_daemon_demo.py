"""`opsd demo`: the README's first command (`--once`) and the live daemon printing an alert."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx

from opsd.cli.demo import demo_config
from opsd.sandbox import SANDBOX_TOKEN
from tests.conftest import REPO

HANG = 60.0  # a deadline that only bounds a hang (the demo answers in seconds)


def test_demo_once_runs_every_playbook_ok(opsd_cli):
    done = opsd_cli("demo", "--once", env={"NOTION_API_TOKEN": "ntn_" + "x" * 46})
    assert done.code == 0, done.out + done.err
    for playbook in ("daily", "emergency", "evening", "monthly", "realtime", "weekly"):
        assert f"== {playbook}: OK" in done.out
    assert re.search(r"^demo: OK \(6 playbooks, \d+ results\)$", done.out, re.MULTILINE)
    # The user's own token never reaches the demo: it talks to the sandbox with its own.
    assert "authenticated as 'opsd sandbox integration'" in done.out


def test_demo_config_is_valid_and_names_the_sandbox(tmp_path, opsd_cli):
    config = demo_config(tmp_path, "http://127.0.0.1:1", 9999)
    checked = opsd_cli("--config", str(config), "config", "check")
    assert (checked.code, checked.out.strip()) == (0, "ok")
    assert SANDBOX_TOKEN in config.read_text()
    assert 'every = "10s"' in (tmp_path / "playbooks" / "realtime.toml").read_text()


def test_live_demo_prints_an_alert_and_stops_on_ctrl_c(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSD_")}
    log = tmp_path / "demo.out"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "opsd", "demo"], stdout=out,
                                stderr=subprocess.STDOUT, env=env, cwd=REPO)
    try:
        sandbox = _wait_for(log, r"sandbox\s+(http://127\.0\.0\.1:\d+)")
        unshared = httpx.post(f"{sandbox}/__sandbox/unshare",
                              json={"database": "Bottlenecks Registry"}, timeout=HANG)
        assert unshared.status_code == 200, unshared.text
        # The next realtime run (every 10 s) finds the database gone and alerts.
        _wait_for(log, r"\*\*\* ALERT \(failure\) \[CRITICAL\]")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=HANG) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert "msg=stopped" in text and "Traceback" not in text
    assert SANDBOX_TOKEN not in text


def _wait_for(log, pattern: str, timeout: float = HANG) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(pattern, log.read_text())
        if found:
            return found.group(1) if found.groups() else found.group(0)
        time.sleep(0.1)
    raise AssertionError(f"{pattern!r} not in the demo output:\n{log.read_text()}")
