"""SIGHUP with a bad file: one "reload failed" log line, the `opsd.config` alert, READY=1 again,
the previous configuration kept; fixing the file and SIGHUP again resolves the alert.

(A config that validates badly is covered by tests/test_daemon.py's
`test_sighup_with_broken_config_keeps_the_old_one`; here the file cannot even be read as text,
which used to end the reload task with "Task exception was never retrieved" and no READY=1.)
"""

from __future__ import annotations

import asyncio
import io
import signal
from pathlib import Path

import pytest

from opsd.alerting.observer import CONFIG_CHECK
from opsd.config import load_settings
from opsd.daemon import service
from opsd.store import alerts as stored_alerts
from tests.test_daemon import (  # noqa: F401 (setup is a fixture)
    FAST,
    NotifySocket,
    open_alert_checks,
    runs,
    setup,
    wait_until,
)

pytestmark = pytest.mark.slow


def reload_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "reload failed" in line]


def test_sighup_with_a_non_utf8_file_keeps_running_and_says_so_once(
    setup, tmp_path, opsd_cli  # noqa: F811
):
    daemon, notify = setup()
    notify.wait_for("READY=1")
    config = tmp_path / "opsd.toml"
    good = config.read_text()
    (tmp_path / "good.toml").write_text(good)  # for the CLI while the real one is broken

    config.write_bytes(good.encode() + b'\n# caf\xe9: latin-1, not UTF-8\n')
    daemon.signal(signal.SIGHUP)
    reloading = notify.wait_for("RELOADING=1")
    ready_again = notify.wait_for("READY=1", count=2)
    assert ready_again > reloading
    daemon.wait_log("reload failed")
    [line] = reload_lines(daemon.log())
    assert "level=error" in line and "opsd.toml: not UTF-8 text (byte 0xe9" in line
    assert "keeping the running configuration" in line
    wait_until(lambda: CONFIG_CHECK in open_alert_checks(opsd_cli, tmp_path / "good.toml"),
               what="the opsd.config alert")
    count = len(runs(tmp_path / "opsd.db"))
    wait_until(lambda: len(runs(tmp_path / "opsd.db")) > count, what="runs after the failure")
    assert daemon.proc.poll() is None

    config.write_text(good)
    daemon.signal(signal.SIGHUP)
    second_reloading = notify.wait_for("RELOADING=1", count=2)
    assert notify.wait_for("READY=1", count=3) > second_reloading
    daemon.wait_log("msg=reloaded")
    wait_until(lambda: CONFIG_CHECK not in open_alert_checks(opsd_cli, tmp_path / "good.toml"),
               what="the opsd.config alert resolved")
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0
    log = daemon.log()
    assert len(reload_lines(log)) == 1
    assert "Task exception" not in log and "Traceback" not in log


def test_an_unexpected_reload_error_is_one_line_an_alert_and_ready(
    tmp_path: Path, make_config, monkeypatch
) -> None:
    """Not a user's mistake (here: the loader itself failing) still ends as one line, the
    alert, and READY=1; the traceback shows only at debug level."""
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "fast.toml").write_text(FAST)
    config = make_config(scheduler={"playbooks_dir": str(playbooks)}, metrics={"enabled": False})
    notify = NotifySocket(str(tmp_path / "notify.sock"))
    log = io.StringIO()
    daemon = service.Daemon(load_settings(config, env={}),
                            env={"NOTIFY_SOCKET": notify.env_value}, log_stream=log)
    daemon._configure_logs()

    def broken_loader(*args: object, **kwargs: object) -> None:
        raise RuntimeError("loader exploded")

    monkeypatch.setattr(service, "load_settings", broken_loader)
    try:
        assert asyncio.run(daemon.reload()) is False
        reloading = notify.wait_for("RELOADING=1")
        assert notify.wait_for("READY=1") > reloading
        [line] = reload_lines(log.getvalue())
        assert "RuntimeError: loader exploded" in line
        assert "Traceback" not in log.getvalue()
        [alert] = daemon.app.store.run(stored_alerts.open_alerts)
        assert alert.check == CONFIG_CHECK
    finally:
        daemon.app.close_store()
        notify.close()
