"""Secrets stay secret, with the real `opsd` command and daemon against the sandbox: a token
with a trailing newline works (stripped), one with a newline inside is refused in one line, and
after a daemon run that fails on a revoked token nothing holds any secret in any encoding —
not the database, the log, the backups, nor the bodies the webhook receiver got."""

from __future__ import annotations

import json
import signal
import sqlite3
from pathlib import Path

import pytest
from secret_forms_support import leaked, leaked_in_tree
from test_daemon import Daemon, wait_until

from opsd.sandbox import SANDBOX_TOKEN

pytestmark = pytest.mark.slow

# Valid shapes (ntn_ + 11 digits + 35 letters/digits) that the sandbox has never accepted.
REVOKED = "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"  # opsd:allow (fake)
FILE_TOKEN = "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"  # opsd:allow (fake)
HOOK_PASSWORD = "hook-pass-5f2c9e"
PROBE = """name = "probe"
description = "auth and a backup"
every = "{every}"

[[checks]]
kind = "notion.token_format"

[[checks]]
kind = "notion.auth"

[[checks]]
kind = "maintenance.backup"
"""


def write_config(tmp_path: Path, base_url: str, *, token: str | None = None,
                 urls: tuple[str, ...] = (), every: str = "1h") -> Path:
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir(exist_ok=True)
    (playbooks / "probe.toml").write_text(PROBE.format(every=every))
    lines = ["[notion]", f'base_url = "{base_url}"', "rate_limit = 100", "burst = 20"]
    lines += [f'token = "{token}"'] if token else []
    lines += ["[storage]", f'path = "{tmp_path / "state" / "opsd.db"}"',
              f'backup_dir = "{tmp_path / "backups"}"',
              "[scheduler]", f'playbooks_dir = "{playbooks}"',
              "[metrics]", "port = 0",
              "[alerts]", f"urls = {json.dumps(list(urls))}"]
    path = tmp_path / "opsd.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_token_with_a_trailing_newline_works(opsd_cli, sandbox, tmp_path: Path) -> None:
    config = write_config(tmp_path, sandbox.url)
    result = opsd_cli("--config", str(config), "run-playbook", "probe", "--json",
                      env={"NOTION_API_TOKEN": SANDBOX_TOKEN + "\n"})
    assert result.code == 0, result.out + result.err
    statuses = {r["check"]: r["status"] for r in json.loads(result.out)["results"]}
    assert statuses == {"notion.token_format": "OK", "notion.auth": "OK",
                        "maintenance.backup": "OK"}


@pytest.mark.parametrize("verb", [("config", "check"), ("run",), ("run-playbook", "probe")])
def test_a_token_with_a_newline_inside_is_one_line_exit_3(
    opsd_cli, sandbox, tmp_path: Path, verb: tuple[str, ...]
) -> None:
    config = write_config(tmp_path, sandbox.url)
    token = SANDBOX_TOKEN[:20] + "\n" + SANDBOX_TOKEN[20:]
    result = opsd_cli("--config", str(config), *verb, env={"NOTION_API_TOKEN": token})
    assert result.code == 3
    # `config check` prints its problems; other commands prefix their error with "opsd: ".
    lines = [line.removeprefix("opsd: ") for line in (result.out + result.err).splitlines()]
    assert lines == [
        "environment NOTION_API_TOKEN: notion.token: contains a control character "
        "(U+000A at position 21)"
    ]
    assert sandbox.stats()["requests_total"] == 0  # nothing was sent with it


def test_plain_http_beyond_loopback_is_refused_before_anything_is_sent(
    opsd_cli, tmp_path: Path
) -> None:
    config = write_config(tmp_path, "http://192.0.2.10:8765", token=REVOKED)
    for verb in (("config", "check"), ("run",)):
        result = opsd_cli("--config", str(config), *verb)
        assert result.code == 3
        lines = [line.removeprefix("opsd: ") for line in (result.out + result.err).splitlines()]
        assert len(lines) == 1 and lines[0].startswith("opsd.toml: notion.base_url: plain http")
    assert not (tmp_path / "state").exists()  # refused before the database was even opened


def test_plain_http_to_loopback_is_one_warning_line(opsd_cli, sandbox, tmp_path: Path) -> None:
    with_real = opsd_cli("--config", str(write_config(tmp_path, sandbox.url, token=REVOKED)),
                         "config", "check")
    assert with_real.code == 0
    warning, ok = with_real.out.splitlines()
    assert warning.startswith("warning: opsd.toml: notion.base_url: the token goes over plain")
    assert ok == "ok"
    # The built-in sandbox's public fake token protects nothing: no warning.
    with_fake = opsd_cli("--config", str(write_config(tmp_path, sandbox.url,
                                                      token=SANDBOX_TOKEN)), "config", "check")
    assert (with_fake.code, with_fake.out) == (0, "ok\n")


def test_a_revoked_token_leaves_no_trace_anywhere(sandbox, webhook, tmp_path: Path) -> None:
    hook_url = webhook.url.replace("json://", f"json://opsd:{HOOK_PASSWORD}@")
    config = write_config(tmp_path, sandbox.url, token=FILE_TOKEN, urls=(hook_url,), every="2s")
    # The environment's token (with the trailing newline of the original report) overrides
    # the file's; the sandbox answers 401 to it.
    daemon = Daemon(config, {"NOTION_API_TOKEN": REVOKED + "\n"})
    try:
        wait_until(lambda: any("notion.auth" in json.dumps(m) for m in webhook.received),
                   what="the notion.auth alert at the webhook")
        db = tmp_path / "state" / "opsd.db"

        def backups_recorded() -> int:
            with sqlite3.connect(db) as conn:
                return conn.execute(
                    "SELECT COUNT(*) FROM results WHERE kind = 'maintenance.backup'"
                    " AND status = 'OK'").fetchone()[0]

        wait_until(backups_recorded, what="a recorded backup")
        daemon.signal(signal.SIGTERM)
        assert daemon.wait_exit() == 0
    finally:
        daemon.kill()
    log = daemon.log()
    # Plain HTTP to loopback with a token other than the sandbox's: one warning at start.
    assert log.count("notion.base_url: the token goes over plain http://") == 1, log
    # The run did fail on the revoked token, and said so.
    assert any("token invalid or revoked" in m["title"] for m in webhook.received)
    bodies = json.dumps(webhook.received).encode()
    for secret in (REVOKED, FILE_TOKEN, HOOK_PASSWORD):
        assert leaked_in_tree(tmp_path / "state", secret) == {}, secret
        assert leaked_in_tree(tmp_path / "backups", secret) == {}, secret
        assert leaked(log, secret) == [], secret
        assert leaked(bodies, secret) == [], secret
    (backup,) = sorted((tmp_path / "backups").iterdir())[-1:]
    assert '"<redacted>"' in (backup / "opsd.toml").read_text()
