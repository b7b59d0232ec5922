"""Storage health (pure state), the run backlog against a real store, and clock steps."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from opsd.daemon.clock import ClockWatch, step_words
from opsd.daemon.run_backlog import Pending, RunBacklog
from opsd.daemon.storage_health import (
    FileIdentity,
    StorageHealth,
    failure_text,
    had_history,
    identity_of,
    mark_opened,
)
from opsd.results import Result, RunReport, Status
from opsd.store import Store, StoreBusyError, StoreError, runs

PATH = Path("/srv/opsd/opsd.db")


def test_healthy_until_a_recording_fails_and_again_once_one_succeeds():
    health = StorageHealth(PATH, FileIdentity(1, 2))
    assert health.healthy and health.reason() is None
    health.failed(StoreError(f"storage.path: {PATH}: database or disk is full"))
    assert health.reason() == f"storage: cannot record runs: database or disk is full ({PATH})"
    health.recorded()
    assert health.healthy


def test_a_busy_lock_is_not_a_fault():
    health = StorageHealth(PATH, FileIdentity(1, 2))
    health.failed(StoreBusyError("the database is busy"))
    assert health.healthy


@pytest.mark.parametrize("now", [None, FileIdentity(1, 3), FileIdentity(9, 2)])
def test_a_deleted_or_replaced_file_stays_unhealthy(now):
    health = StorageHealth(PATH, FileIdentity(1, 2))
    assert health.check_file(FileIdentity(1, 2))
    assert not health.check_file(now)
    # Even if the original came back (a restore into the same inode is impossible anyway),
    # only a restart opens the file at the path again.
    assert not health.check_file(FileIdentity(1, 2))
    health.recorded()
    reason = health.reason()
    assert reason is not None
    assert reason.startswith(f"storage: {PATH} was deleted or replaced while open")
    assert "restart" in reason


def test_failure_text_drops_the_stores_prefix():
    assert failure_text(StoreError(f"storage.path: {PATH}: disk I/O error"), PATH) == (
        "disk I/O error")
    assert failure_text(OSError(), PATH) == "OSError"


def test_identity_and_the_evidence_of_a_previous_database(tmp_path):
    db = tmp_path / "opsd.db"
    assert identity_of(db) is None
    assert not had_history(db)  # a first start
    db.write_bytes(b"")
    mark_opened(db)
    assert identity_of(db) == FileIdentity(os.stat(db).st_dev, os.stat(db).st_ino)
    assert not had_history(db)  # the database is there
    db.unlink()
    assert had_history(db)  # opened before, gone now


# --- the backlog ------------------------------------------------------------------------------


class FlakyStore:
    """A real in-memory store whose writes fail while `fault` is set (the store's own error)."""

    def __init__(self) -> None:
        self.store = Store.memory()
        self.fault: Exception | None = None

    async def call_brief(self, fn, *args, **kw):  # type: ignore[no-untyped-def]
        if self.fault is not None:
            raise self.fault
        return fn(self.store, *args, **kw)


def report(n: int) -> RunReport:
    return RunReport("fast", "schedule", float(n), float(n) + 0.5,
                     [Result(Status.OK, f"run {n}", check="c", kind="history.trend")])


def test_runs_wait_through_a_fault_and_are_recorded_in_order(tmp_path):
    store = FlakyStore()
    db = tmp_path / "opsd.db"
    db.write_bytes(b"")
    health = StorageHealth(db, identity_of(db))
    backlog = RunBacklog(limit=3)
    fed: list[int] = []

    async def feeder(rep: RunReport, playbook: object) -> None:
        assert rep.run_id is not None
        fed.append(int(rep.started_at))

    async def scenario() -> None:
        await backlog.submit(Pending(report(1), None, (feeder,)), store, health)  # type: ignore[arg-type]
        store.fault = StoreError(f"storage.path: {db}: database or disk is full")
        for n in (2, 3, 4, 5):
            await backlog.submit(Pending(report(n), None, (feeder,)), store, health)  # type: ignore[arg-type]
        assert not health.healthy and len(backlog) == 3 and backlog.dropped == 1
        store.fault = StoreBusyError("busy")  # the disk has room again, a lock is held
        assert await backlog.flush(store, health) == 0
        store.fault = None
        assert await backlog.flush(store, health) == 3

    asyncio.run(scenario())
    assert health.healthy
    recorded = [r.summary for r in store.store.run(runs.history, check="c")]
    assert recorded == ["run 1", "run 3", "run 4", "run 5"]  # run 2 dropped: the limit
    assert fed == [1, 3, 4, 5]


def test_nothing_is_written_into_a_replaced_file(tmp_path):
    store = FlakyStore()
    db = tmp_path / "opsd.db"
    db.write_bytes(b"")
    health = StorageHealth(db, identity_of(db))
    with db.open("rb"):  # held open, as the daemon holds its database: the inode stays taken
        db.unlink()
        db.write_bytes(b"")  # another file at the path
        backlog = RunBacklog()
        asyncio.run(backlog.submit(Pending(report(1), None), store, health))  # type: ignore[arg-type]
    assert len(backlog) == 1 and not health.healthy
    assert store.store.run(runs.history, check="c") == []


# --- clock steps ------------------------------------------------------------------------------


def test_clock_steps_beyond_a_minute_are_seen_against_the_monotonic_clock():
    watch = ClockWatch(wall=1_000_000.0, monotonic=50.0)
    assert watch.observe(1_000_001.0, 51.0) is None  # both advanced 1 s
    assert watch.observe(1_000_061.9, 111.0) is None  # 0.9 s of slewing
    step = watch.observe(1_000_062.0 - 1800, 112.0)
    assert step == pytest.approx(-1800.9)
    assert step_words(-1800) == "clock stepped backwards by 30m"
    assert watch.observe(1_000_063.0 - 1800, 113.0) is None  # the new time is the baseline
    assert watch.observe(1_000_064.0 - 1800 + 61.5, 114.0) == pytest.approx(61.5)
    assert step_words(3600) == "clock stepped forwards by 1h"


def test_slewing_never_adds_up_to_a_step():
    watch = ClockWatch(wall=0.0, monotonic=0.0)
    # 500 ppm fast for a day, observed every second: 43 s in all, never a step.
    steps = [watch.observe(t * 1.0005, float(t)) for t in range(1, 86_400, 1)]
    assert not any(steps)
