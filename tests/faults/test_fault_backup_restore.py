"""`opsd backup restore` against a real `opsd run`: refused while the daemon holds the store
(one line naming its pid, nothing touched), done once it has stopped."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
from pathlib import Path

import pytest

from opsd import backups
from opsd.store import Store
from tests.test_backups import T0, checks_in, record, run_backup
from tests.test_daemon import runs, setup, wait_until  # noqa: F401 (setup is a fixture)

pytestmark = pytest.mark.slow


def playbooks_of(db: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return {row[0] for row in conn.execute("SELECT DISTINCT playbook FROM runs")}


def test_restore_is_refused_while_the_daemon_runs_and_done_once_it_stopped(
    setup, tmp_path, opsd_cli  # noqa: F811
):
    db = tmp_path / "opsd.db"
    backup_dir = tmp_path / "backups"
    with contextlib.closing(Store.open(db)) as store:
        record(store, "before", T0)
        run_backup(store, backup_dir, T0 + 10)
    snapshot = backups.snapshot_id(T0 + 10)

    daemon, notify = setup(storage={"backup_dir": str(backup_dir)})
    notify.wait_for("READY=1")
    wait_until(lambda: runs(db), what="a run of the daemon")
    config = tmp_path / "opsd.toml"
    refused = opsd_cli("--config", str(config), "backup", "restore", snapshot, "--yes")
    assert (refused.code, refused.err) == (
        3, f"opsd: another opsd (pid {daemon.proc.pid}) is running on {db}\n")
    assert refused.out == ""
    assert not list(tmp_path.glob("opsd.db.before-restore-*"))

    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0
    done = opsd_cli("--config", str(config), "backup", "restore", snapshot, "--yes")
    assert done.code == 0, done.err
    assert done.out.startswith(f"restored backup {snapshot} (taken ")
    assert "fast" not in playbooks_of(db) and "before" in checks_in(db)
    (aside,) = tmp_path.glob("opsd.db.before-restore-*")
    assert "fast" in playbooks_of(aside)
    assert "Traceback" not in daemon.log()
