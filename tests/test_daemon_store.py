"""The real daemon while another process holds the database's write lock for 12 s: its loop
never waits on SQLite (the store's own thread does), so it keeps ticking and answers /healthz
(a loop blocked for over 10 s would say "unresponsive"), then records every run in order once
the lock is gone, keeps to its schedule and raises no alert."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path

import httpx

from tests.test_daemon import setup, wait_until  # noqa: F401 (setup is a fixture)

HOLD_SECONDS = 12.0  # longer than /healthz's 10 s staleness limit for a blocked loop
DISK = ('name = "fast"\nevery = "1s"\n\n[[checks]]\nkind = "maintenance.disk"\n'
        '\n[[checks]]\nkind = "history.trend"\n')


def run_starts(db: Path) -> list[float]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return [row[0] for row in conn.execute(
            "SELECT started_at FROM runs WHERE playbook = 'fast' ORDER BY id"
        )]


def alert_rows(db: Path) -> list[tuple[str, str]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT type, check_name FROM alert_events").fetchall()


def test_a_foreign_write_lock_never_stops_the_daemon(setup, tmp_path):  # noqa: F811
    (tmp_path / "playbooks").mkdir(exist_ok=True)
    (tmp_path / "playbooks" / "fast.toml").write_text(DISK)
    daemon, _notify = setup()
    db = tmp_path / "opsd.db"
    url = daemon.metrics_url()
    wait_until(lambda: len(run_starts(db)) >= 2, what="two runs before the lock")

    answers: list[tuple[int, str]] = []
    locker = sqlite3.connect(db, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    locker.execute("INSERT INTO state VALUES ('test', 'lock', '1', 0)")
    held_from = time.time()
    try:
        while time.time() - held_from < HOLD_SECONDS:
            response = httpx.get(f"{url}/healthz", timeout=5)
            answers.append((response.status_code, response.text.strip()))
            time.sleep(0.5)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    held_until = time.time()

    assert len(answers) >= 10
    assert set(answers) == {(200, "ok")}, answers  # the loop ticked through the whole hold
    wait_until(lambda: len([s for s in run_starts(db) if s > held_until]) >= 3,
               what="runs on schedule after the lock")
    starts = run_starts(db)
    assert starts == sorted(starts)  # recorded in order, each once
    assert alert_rows(db) == []  # no false alert from the wait
    assert "unresponsive" not in daemon.log()
