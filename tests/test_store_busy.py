"""Another process holding the database's write lock: the event loop never waits on it (the
store's own thread does), reads go on, and a CLI command that must write says so in one line."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from opsd.results import Result, Status
from opsd.store import Store, StoreBusyError
from opsd.store.owner import StoreThread
from opsd.store.runs import history, record_run
from opsd.store.state import get_state, set_state


@contextmanager
def write_lock(path: Path) -> Iterator[sqlite3.Connection]:
    """Another connection holding the write lock (as a CLI command or a backup tool would)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO state VALUES ('test', 'lock', '1', 0)")
    try:
        yield conn
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def test_the_loop_keeps_running_while_the_store_waits_for_a_lock(tmp_path: Path) -> None:
    path = tmp_path / "opsd.db"
    Store.open(path).close()
    owner = StoreThread.open(path, busy_timeout=30.0)
    ticks: list[str] = []

    async def main() -> None:
        with write_lock(path):
            write = asyncio.ensure_future(owner.call(
                record_run, "realtime", [Result(Status.OK, "ok", check="c", kind="k")],
                started_at=1.0, finished_at=2.0,
            ))
            for _ in range(20):  # the loop is free: these run while the write waits
                await asyncio.sleep(0)
                ticks.append("tick")
            assert not write.done()
            assert owner.oldest_pending() > 0
        await write  # the lock is gone: the queued write goes through, in order
        ticks.append("written")

    asyncio.run(main())
    assert ticks == ["tick"] * 20 + ["written"]
    assert [r.check for r in owner.run(history)] == ["c"]
    assert owner.oldest_pending() == 0.0
    owner.close()


def test_queued_work_runs_in_order_on_one_thread(tmp_path: Path) -> None:
    owner = StoreThread.open(tmp_path / "opsd.db")
    threads: set[str] = set()

    def note(store: Store, value: int) -> None:
        threads.add(threading.current_thread().name)
        set_state(store, "order", "last", value, now=float(value))

    for value in range(50):
        owner.post(note, value)
    assert owner.run(get_state, "order", "last") == 49
    assert len(threads) == 1 and threads != {threading.current_thread().name}
    owner.close()


def test_a_write_under_a_foreign_lock_is_busy_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "opsd.db"
    store = Store.open(path, busy_timeout=0.05)
    with write_lock(path), pytest.raises(StoreBusyError) as caught:
        set_state(store, "a", "b", 1, now=0.0)
    assert str(caught.value) == (
        f"the database is busy: another process holds its write lock ({path})"
    )
    assert get_state(store, "a", "b") is None  # nothing half-written
    store.close()


def test_cli_reads_under_a_lock_and_a_write_says_busy(opsd_cli, make_config, tmp_path) -> None:
    config = make_config()
    assert opsd_cli("--config", str(config), "status").code == 0  # creates the database
    with write_lock(tmp_path / "opsd.db"):
        status = opsd_cli("--config", str(config), "status")
        added = opsd_cli("--config", str(config), "silence", "add", "--check", "notion.*",
                         "--for", "1h", "--reason", "maintenance")
    assert (status.code, status.err) == (0, "")
    assert added.code == 3
    assert added.err.splitlines() == [
        f"opsd: the database is busy: another process holds its write lock "
        f"({tmp_path / 'opsd.db'})"
    ]
    again = opsd_cli("--config", str(config), "silence", "add", "--check", "notion.*",
                     "--for", "1h", "--reason", "maintenance")
    assert again.code == 0, again.err
