"""The real daemon across a crash between recording a run and feeding it to the alert engine,
and two daemons on one database.

The crash is made deterministic instead of raced: the run a daemon recorded just before its
kill -9 is written straight into the database (as `runs.record_run` writes it, not yet seen by
the alert engine), then the daemon starts. Its FIRING must reach the webhook exactly once, at
the run's own time, before anything the first new run causes (here its RESOLVED: the disk is
fine again).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsd.results import Result, Status
from opsd.store import Store, runs
from tests.test_daemon import setup, wait_until  # noqa: F401 (setup is a fixture)

pytestmark = pytest.mark.slow

# The disk holding the test's database is far from full: the check passes.
DISK = ('name = "fast"\nevery = "1s"\n\n[[checks]]\nname = "disk"\nkind = "maintenance.disk"\n'
        'warn = 0.9999\ncrit = 1.0\n')


def write_playbook(tmp_path: Path) -> None:
    (tmp_path / "playbooks").mkdir(exist_ok=True)
    (tmp_path / "playbooks" / "fast.toml").write_text(DISK)


def alert_events(db: Path) -> list[tuple[int, str, float]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(
            "SELECT id, type, at FROM alert_events WHERE check_name = 'disk' ORDER BY id"
        ).fetchall()


def test_a_run_recorded_before_a_kill_fires_exactly_once_before_new_runs(
    setup, tmp_path, webhook  # noqa: F811
):
    write_playbook(tmp_path)
    db = tmp_path / "opsd.db"
    crashed_at = time.time() - 5.0
    store = Store.open(db)
    full = Result(Status.CRITICAL, "100% of the disk used", value=1.0, check="disk",
                  kind="maintenance.disk", started_at=crashed_at, duration=0.01)
    crashed_run = runs.record_run(store, "fast", [full], started_at=crashed_at,
                                  finished_at=crashed_at + 0.5, trigger="scheduled",
                                  alerted=False)
    store.close()

    daemon, notify = setup(alerts={"urls": [webhook.url]})
    notify.wait_for("READY=1")
    wait_until(lambda: len(webhook.received) >= 2, what="the FIRING and then the RESOLVED")

    titles = webhook.titles()
    assert titles[0].startswith("[CRITICAL] disk: 100% of the disk used"), titles
    assert titles[1].startswith("[RESOLVED] disk"), titles
    events = alert_events(db)
    assert [kind for _, kind, _ in events][:2] == ["FIRING", "RESOLVED"]
    assert events[0][2] == pytest.approx(crashed_at + 0.5)  # replayed at the run's own time
    assert "replayed 1 runs recorded before a crash" in daemon.log()
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM runs WHERE alerted_at IS NULL"
                            " AND id <= ?", (crashed_run,)).fetchone() == (0,)

    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0
    assert sum(t.startswith("[CRITICAL]") for t in webhook.titles()) == 1
    assert [kind for _, kind, _ in alert_events(db)] == ["FIRING", "RESOLVED"]
    assert "Traceback" not in daemon.log()


def test_one_daemon_per_database_and_the_cli_beside_it(setup, tmp_path, opsd_cli):  # noqa: F811
    write_playbook(tmp_path)
    db = tmp_path / "opsd.db"
    first, notify = setup()
    notify.wait_for("READY=1")
    wait_until(lambda: db.exists() and _run_count(db) >= 1, what="a first run")

    second, _ = setup()  # same database, its own metrics port (0)
    assert second.wait_exit() == 3
    assert second.log().strip() == f"opsd: another opsd (pid {first.proc.pid}) is running on {db}"
    lock = db.with_name("opsd.db.lock")
    assert oct(os.stat(lock).st_mode & 0o777) == "0o600"

    config = str(tmp_path / "opsd.toml")
    status = opsd_cli("--config", config, "status")
    assert status.code == 0, status.err
    assert "disk" in status.out
    check = opsd_cli("--config", config, "check", "disk")
    assert (check.code, check.out.split(" - ")[0]) == (0, "OK"), check.err

    # kill -9 leaves the file behind, but the kernel released the lock with the process.
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(timeout=60)
    third, notify3 = setup()
    notify3.wait_for("READY=1")
    third.signal(signal.SIGTERM)
    assert third.wait_exit() == 0


def _run_count(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        try:
            return int(conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
        except sqlite3.OperationalError:  # not migrated yet
            return 0


def test_a_reload_onto_another_database_takes_its_lock_or_is_refused(
    setup, tmp_path, make_config  # noqa: F811
):
    write_playbook(tmp_path)
    first_db, other_db = tmp_path / "opsd.db", tmp_path / "other" / "opsd.db"
    daemon, notify = setup()
    notify.wait_for("READY=1")
    sections = {"scheduler": {"playbooks_dir": str(tmp_path / "playbooks")},
                "metrics": {"port": 0}, "storage": {"path": str(other_db)}}

    other_db.parent.mkdir()
    with _held(other_db):  # another daemon runs on the other database
        make_config(**sections)
        daemon.signal(signal.SIGHUP)
        notify.wait_for("READY=1", count=2)
        daemon.wait_log("reload failed")
    refusal = [line for line in daemon.log().splitlines() if "reload failed" in line]
    assert len(refusal) == 1 and f"another opsd (pid 4242) is running on {other_db}" in (
        refusal[0]), refusal
    with pytest.raises(BlockingIOError), _held(first_db):  # still ours
        pass

    daemon.signal(signal.SIGHUP)  # the other daemon has gone
    notify.wait_for("READY=1", count=3)
    daemon.wait_log("msg=reloaded")
    with pytest.raises(BlockingIOError), _held(other_db):  # taken
        pass
    # The old one is given back once the runs still using it finish.
    wait_until(lambda: _free(first_db), what="the first database's lock released")
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0
    assert "Traceback" not in daemon.log()


@contextlib.contextmanager
def _held(database: Path) -> Iterator[None]:
    """Hold `database`'s daemon lock as another opsd (pid 4242) would."""
    fd = os.open(database.with_name(database.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, b"4242\n")
        yield
    finally:
        os.close(fd)


def _free(database: Path) -> bool:
    try:
        with _held(database):
            return True
    except BlockingIOError:
        return False


def test_a_cli_command_replays_runs_before_its_own(tmp_path, make_config, opsd_cli):
    write_playbook(tmp_path)
    config = make_config(scheduler={"playbooks_dir": str(tmp_path / "playbooks")})
    db = tmp_path / "opsd.db"
    crashed_at = time.time() - 60.0
    store = Store.open(db)
    full = Result(Status.CRITICAL, "100% of the disk used", value=1.0, check="disk",
                  kind="maintenance.disk", started_at=crashed_at, duration=0.01)
    runs.record_run(store, "fast", [full], started_at=crashed_at, finished_at=crashed_at + 0.5,
                    trigger="check", alerted=False)
    store.close()

    # --record: a command that records its run replays the unseen ones first.
    first = opsd_cli("--config", str(config), "check", "disk", "--record")
    assert first.code == 0, first.err
    events = alert_events(db)
    assert [kind for _, kind, _ in events] == ["FIRING", "RESOLVED"]  # the crashed run first
    assert events[0][2] == pytest.approx(crashed_at + 0.5)
    again = opsd_cli("--config", str(config), "run-playbook", "fast")
    assert again.code == 0, again.err
    assert [kind for _, kind, _ in alert_events(db)] == ["FIRING", "RESOLVED"]
