"""/metrics across a restart and a reload, on the real daemon.

A weekly playbook ran once (`opsd run-playbook weekly`) and an on-demand one has a run in the
history, then the daemon starts: its FIRST scrape after READY=1 already has their checks'
series, restored from the history (before, they appeared only after the next weekly run).
A SIGHUP that drops a check and a playbook removes their series, while the rest stay.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from opsd.results import Result, Status
from opsd.store import Store
from opsd.store import runs as stored_runs
from tests.test_daemon import HANG, runs, setup  # noqa: F401 (setup is a fixture)

pytestmark = pytest.mark.slow

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def weekly_toml(*, with_retention: bool) -> str:
    """A weekly playbook whose fire time is days away on either side (so no start catches
    it up and no run of its own happens during the test, whatever day the test runs)."""
    day = _DAYS[(dt.datetime.now(dt.UTC).weekday() + 3) % 7]
    text = (f'name = "weekly"\nschedule = "0 6 * * {day}"\n\n'
            '[[checks]]\nname = "backup"\nkind = "maintenance.backup"\n')
    if with_retention:
        text += '\n[[checks]]\nname = "retention"\nkind = "maintenance.retention"\n'
    return text


AUDIT = 'name = "audit"\n\n[[checks]]\nname = "disk"\nkind = "maintenance.disk"\n'


def scrape(url: str) -> tuple[str, dict[tuple[str, frozenset[tuple[str, str]]], float]]:
    """/metrics as text and as {(sample name, labels): value}, without the `workspace` label
    every sample carries (the config's stem: opsd.toml)."""
    body = httpx.get(f"{url}/metrics", timeout=HANG).text
    parsed = [s for family in text_string_to_metric_families(body) for s in family.samples]
    assert {s.labels.get("workspace") for s in parsed} == {"opsd"}
    samples = {
        (s.name, frozenset((k, v) for k, v in s.labels.items() if k != "workspace")): s.value
        for s in parsed
    }
    return body, samples


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def check_labels(check: str, kind: str, playbook: str = "weekly") -> dict[str, str]:
    return {"check": check, "kind": kind, "target": "", "playbook": playbook}


def stored(db: Path, check: str) -> tuple[float, float]:
    """(started_at, duration) of the check's latest stored result."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(
            "SELECT started_at, duration FROM results WHERE check_name = ?"
            " ORDER BY id DESC LIMIT 1", (check,),
        ).fetchone()


def test_first_scrape_has_the_history_and_a_reload_drops_what_it_removed(
    setup, make_config, opsd_cli, tmp_path, promtool  # noqa: F811
):
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir(exist_ok=True)
    (playbooks / "weekly.toml").write_text(weekly_toml(with_retention=True))
    (playbooks / "audit.toml").write_text(AUDIT)
    sections = {"scheduler": {"playbooks_dir": str(playbooks), "timezone": "UTC"},
                "metrics": {"port": 0},
                "storage": {"backup_dir": str(tmp_path / "backups")}}
    config = make_config(**sections)
    done = opsd_cli("--config", str(config), "run-playbook", "weekly")
    assert done.code == 0, done.out + done.err
    db = tmp_path / "opsd.db"
    store = Store.open(db)
    at = time.time() - 3600.0  # within storage.retention: the daemon prunes older runs
    disk_result = Result(Status.WARNING, "81% used", value=0.81, unit="ratio", check="disk",
                         kind="maintenance.disk", started_at=at, duration=0.01)
    stored_runs.record_run(store, "audit", [disk_result], started_at=at,
                           finished_at=at + 1.0, trigger="manual")
    store.close()
    backup_started, backup_duration = stored(db, "backup")

    daemon, notify = setup(**sections)  # the same playbooks (and `fast`, every second)
    notify.wait_for("READY=1")
    body, first = scrape(daemon.metrics_url())

    # The daemon did not run them: what the first scrape shows came from the history.
    assert [len(runs(db, p)) for p in ("weekly", "audit")] == [1, 1]
    backup = check_labels("backup", "maintenance.backup")
    retention = check_labels("retention", "maintenance.retention")
    disk = check_labels("disk", "maintenance.disk", "audit")
    assert value(first, "opsd_check_status", **backup) == 0
    assert value(first, "opsd_check_success", **backup) == 1
    assert value(first, "opsd_check_last_run_timestamp_seconds", **backup) == backup_started
    assert value(first, "opsd_check_state_since_timestamp_seconds", **backup) == backup_started
    assert value(first, "opsd_check_value", **backup, unit="bytes") > 0
    assert value(first, "opsd_last_backup_timestamp_seconds") == pytest.approx(
        backup_started + backup_duration)
    assert value(first, "opsd_check_status", **retention) == 0
    assert value(first, "opsd_check_status", **disk) == 1
    assert value(first, "opsd_check_value", **disk, unit="ratio") == 0.81
    assert value(first, "opsd_playbook_last_run_timestamp_seconds", playbook="weekly") > 0
    assert value(first, "opsd_config_reloads_total", outcome="failure") == 0  # born at 0
    assert value(first, "opsd_playbook_runs_total", playbook="weekly", status="OK") == 0
    check = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True,
                           text=True, timeout=120)
    assert (check.returncode, check.stdout + check.stderr) == (0, "")

    (playbooks / "weekly.toml").write_text(weekly_toml(with_retention=False))
    (playbooks / "audit.toml").unlink()
    daemon.signal(signal.SIGHUP)
    notify.wait_for("READY=1", count=2)
    daemon.wait_log("msg=reloaded")
    _, reloaded = scrape(daemon.metrics_url())

    gone = [key for key in reloaded
            if dict(key[1]).get("check") in ("retention", "disk")
            or dict(key[1]).get("playbook") == "audit"]
    assert gone == []
    assert value(reloaded, "opsd_check_status", **backup) == 0
    assert value(reloaded, "opsd_config_reloads_total", outcome="success") == 1
