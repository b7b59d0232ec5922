"""Storage faults against the real daemon: loud (/healthz 503, the `opsd.storage` alert at the
webhook, delivered without the store), buffered (runs recorded in order once it recovers), and
a foreign write lock that costs nothing.

How each fault is made, honestly, as root in an unprivileged container:
- deleted: the database file is unlinked while the daemon has it open.
- unwritable: `chattr +i` on the database and its WAL (root ignores file modes, and an open
  descriptor keeps the access it was opened with; an immutable file refuses every write, to
  open descriptors too). SQLite reports it as a disk I/O error.
- disk full: the daemon's RLIMIT_FSIZE is lowered to the WAL's current size (`prlimit` on
  the running process), so its next append fails with EFBIG (SIGXFSZ is ignored by Python),
  which SQLite reports as a disk I/O error (a full filesystem, ENOSPC, would read "database
  or disk is full"; no mount is possible here to fill one).
"""

from __future__ import annotations

import contextlib
import resource
import signal
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.test_daemon import HANG, runs, setup, wait_until  # noqa: F401 (setup is a fixture)

pytestmark = pytest.mark.slow

NOTION_FAST = ('name = "fast"\ndescription = "test"\nevery = "1s"\n\n'
               '[[checks]]\nkind = "notion.auth"\ntimeout = "20s"\n\n'
               '[[checks]]\nkind = "history.trend"\n')


def healthz(url: str) -> tuple[int, str]:
    answer = httpx.get(f"{url}/healthz", timeout=HANG)
    return answer.status_code, answer.text.strip()


def unhealthy(url: str) -> str:
    """The /healthz reason, once it answers 503."""
    answers: list[tuple[int, str]] = []
    wait_until(lambda: answers.append(healthz(url)) or answers[-1][0] == 503,
               what="/healthz 503")
    return answers[-1][1]


def storage_titles(webhook) -> list[str]:  # type: ignore[no-untyped-def]
    return [t for t in webhook.titles() if "opsd.storage" in t]


def alert_events(db: Path) -> list[tuple[str, str]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT check_name, type FROM alert_events ORDER BY id").fetchall()


def run_starts(db: Path) -> list[float]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return [row[0] for row in conn.execute(
            "SELECT started_at FROM runs WHERE playbook = 'fast' ORDER BY id")]


@contextlib.contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    """The files refuse every write (to open descriptors too) until the block ends."""
    subprocess.run(["chattr", "+i", *map(str, paths)], check=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *map(str, paths)], check=True)


def test_a_deleted_database_is_loud_and_a_restart_says_history_starts_empty(
    setup, webhook, tmp_path  # noqa: F811
):
    db = tmp_path / "opsd.db"
    daemon, _ = setup(alerts={"urls": [webhook.url]})
    url = daemon.metrics_url()
    wait_until(lambda: len(runs(db)) >= 2, what="recorded runs")
    assert healthz(url) == (200, "ok")

    db.unlink()
    reason = unhealthy(url)
    assert reason == (f"storage: {db} was deleted or replaced while open; runs are not "
                      "recorded: restart opsd to start a new history")
    titles = wait_until(lambda: storage_titles(webhook), what="the opsd.storage alert")
    assert titles == [f"[CRITICAL] opsd.storage: {reason} ({titles[0].rsplit('(', 1)[1]}"]
    assert not db.exists()  # nothing wrote a new file at the path behind the operator's back
    body = httpx.get(f"{url}/metrics", timeout=HANG).text
    assert 'opsd_storage_healthy{workspace="opsd"} 0.0' in body

    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0
    again, _ = setup(alerts={"urls": [webhook.url]})
    again.wait_log("msg=started")
    assert f"starting an empty history at {db}" in again.log()
    assert "level=warning" in next(
        line for line in again.log().splitlines() if "starting an empty history" in line)
    assert "Traceback" not in daemon.log() + again.log()


def test_an_unwritable_database_is_loud_then_resolves_with_every_run_recorded(
    setup, webhook, tmp_path  # noqa: F811
):
    db = tmp_path / "opsd.db"
    daemon, _ = setup(alerts={"urls": [webhook.url]})
    url = daemon.metrics_url()
    wait_until(lambda: len(runs(db)) >= 2, what="recorded runs")

    with immutable(db, db.with_name("opsd.db-wal")):
        before = len(runs(db))
        reason = unhealthy(url)
        assert reason == f"storage: cannot record runs: disk I/O error ({db})"
        wait_until(lambda: storage_titles(webhook), what="the opsd.storage alert")
        daemon.wait_log("msg=\"storage fault\"")
        # Runs go on while nothing can be recorded (they wait in memory).
        finished = daemon.log().count("msg=\"playbook finished\"")
        wait_until(lambda: daemon.log().count("msg=\"playbook finished\"") >= finished + 3,
                   what="runs during the fault")
        assert len(runs(db)) == before

    wait_until(lambda: healthz(url) == (200, "ok"), what="/healthz ok again")
    resolved = wait_until(lambda: [t for t in storage_titles(webhook) if "RESOLVED" in t],
                          what="the RESOLVED message")
    assert len(resolved) == 1
    assert len([t for t in storage_titles(webhook) if "CRITICAL" in t]) == 1  # not re-sent
    # Every run made during the fault is recorded, in order: no gap in the history.
    starts = run_starts(db)
    assert starts == sorted(starts)
    finished = daemon.log().count("msg=\"playbook finished\"")
    wait_until(lambda: len(runs(db)) >= finished, what="the buffered runs in the history")
    assert ("opsd.storage", "FIRING") in alert_events(db)
    assert ("opsd.storage", "RESOLVED") in alert_events(db)
    assert "Traceback" not in daemon.log()


def test_a_full_disk_is_loud_then_resolves_with_every_run_recorded(
    setup, webhook, tmp_path  # noqa: F811
):
    db = tmp_path / "opsd.db"
    daemon, _ = setup(alerts={"urls": [webhook.url]})
    url = daemon.metrics_url()
    wait_until(lambda: len(runs(db)) >= 2, what="recorded runs")
    pid = daemon.proc.pid
    unlimited = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    wal = db.with_name("opsd.db-wal")
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (wal.stat().st_size, unlimited[1]))
    try:
        before = len(runs(db))
        reason = unhealthy(url)
        assert reason == f"storage: cannot record runs: disk I/O error ({db})"
        wait_until(lambda: storage_titles(webhook), what="the opsd.storage alert")
        assert len(runs(db)) == before
    finally:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, unlimited)

    wait_until(lambda: healthz(url) == (200, "ok"), what="/healthz ok again")
    wait_until(lambda: [t for t in storage_titles(webhook) if "RESOLVED" in t],
               what="the RESOLVED message")
    finished = daemon.log().count("msg=\"playbook finished\"")
    wait_until(lambda: len(runs(db)) >= finished, what="the buffered runs in the history")
    assert daemon.proc.poll() is None  # SIGXFSZ did not end it
    assert "Traceback" not in daemon.log()


def test_a_foreign_write_lock_costs_no_run_and_no_alert(
    setup, webhook, sandbox, tmp_path  # noqa: F811
):
    from opsd.sandbox import SANDBOX_TOKEN

    (tmp_path / "playbooks" / "fast.toml").write_text(NOTION_FAST)
    db = tmp_path / "opsd.db"
    daemon, _ = setup(
        alerts={"urls": [webhook.url]},
        notion={"token": SANDBOX_TOKEN, "base_url": sandbox.url},
        storage={"busy_timeout": "1s"},
    )
    url = daemon.metrics_url()
    wait_until(lambda: len(runs(db)) >= 2, what="recorded runs")

    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
            conn.execute("BEGIN EXCLUSIVE")
            locked.set()
            release.wait(HANG)
            conn.execute("ROLLBACK")

    holder = threading.Thread(target=hold)
    holder.start()
    locked.wait(HANG)
    offset = len(daemon.log())  # what the daemon logs from the hold on
    finished = daemon.log().count("msg=\"playbook finished\"")
    try:
        # Six runs' worth of lock: runs go on meanwhile, and /healthz stays ok.
        wait_until(lambda: daemon.log().count("msg=\"playbook finished\"") >= finished + 6,
                   what="runs during the hold")
        assert healthz(url) == (200, "ok")
    finally:
        release.set()
        holder.join(HANG)
    done = daemon.log().count("msg=\"playbook finished\"")
    wait_until(lambda: len(runs(db)) >= done, what="the held runs in the history")
    log = daemon.log()[offset:]
    assert "maximum number of running instances" not in log  # no scheduled run skipped
    assert "check not ok" not in log  # no check timed out or failed for the lock
    with contextlib.closing(sqlite3.connect(db)) as conn:
        statuses = {row[0] for row in conn.execute("SELECT status FROM results")}
    assert statuses <= {"OK", "SKIPPED"} and "OK" in statuses
    starts = run_starts(db)
    assert starts == sorted(starts)
    assert alert_events(db) == []
    assert webhook.received == []
    assert "Traceback" not in daemon.log()
