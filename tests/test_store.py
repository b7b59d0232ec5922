"""The SQLite history: round-trip, migrations, concurrent readers, retention, backup."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path

import pytest
import sqlite_utils

from opsd.results import Result, Status
from opsd.store import Store
from opsd.store import database as store_module
from opsd.store.rollups import prune, roll_up
from opsd.store.runs import history, last_runs, latest_results, record_run
from opsd.store.state import get_state, set_state


def result(check: str, status: Status = Status.OK, value: float | None = 0.1, **kw) -> Result:
    return Result(status, f"{check} says {status}", value=value, unit="seconds",
                  check=check, kind="notion.latency", started_at=kw.pop("started_at", 1000.0),
                  duration=0.01, **kw)


def test_round_trip(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "opsd.db")
    results = [
        result("latency", target="bottlenecks", details={"samples": [0.1, 0.2]}),
        result("auth", Status.CRITICAL, None),
    ]
    run_id = record_run(store, "daily", results, started_at=1000.0, finished_at=1001.0)
    assert run_id == 1
    latest = {r.check: r for r in latest_results(store)}
    assert latest["latency"] == results[0]
    assert latest["auth"].status is Status.CRITICAL and latest["auth"].value is None
    runs = last_runs(store)
    assert runs["daily"]["status"] == "CRITICAL"
    assert "last_success" not in runs["daily"]


def test_history_filters_and_order(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "opsd.db")
    for t in (100.0, 200.0, 300.0):
        record_run(store, "r", [result("a", started_at=t), result("b", started_at=t)],
                         started_at=t, finished_at=t + 1)
    assert [r.started_at for r in history(store, check="a", since=150)] == [200.0, 300.0]
    assert [r.started_at for r in history(store, check="a", limit=2)] == [200.0, 300.0]
    assert len(history(store, kind="notion.latency")) == 6


def test_run_is_one_transaction(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "opsd.db")
    bad = result("a").replace(details={"x": object()})  # serialisable via default=str
    record_run(store, "r", [bad], started_at=1, finished_at=2)
    broken = [result("a"), result("b").replace(status="NOT A STATUS")]  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        record_run(store, "r", broken, started_at=3, finished_at=4)
    assert store.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1
    assert store.conn.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 1


def test_migrations_apply_once_and_in_order(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "opsd.db"
    first = Store.open(path)
    versions = first.schema_versions()
    core = len(store_module.MIGRATIONS["core"])
    assert versions["core"] == core
    first.close()
    extra = {**store_module.MIGRATIONS,
             "core": [*store_module.MIGRATIONS["core"],
                      "ALTER TABLE runs ADD COLUMN host TEXT NOT NULL DEFAULT ''"]}
    monkeypatch.setattr(store_module, "MIGRATIONS", extra)
    second = Store.open(path)
    assert second.schema_versions()["core"] == core + 1
    assert "host" in sqlite_utils.Database(second.conn)["runs"].columns_dict
    assert second.migrate() == []  # nothing left to apply


def test_failed_migration_rolls_back(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "opsd.db"
    Store.open(path).close()
    core = len(store_module.MIGRATIONS["core"])
    broken = {**store_module.MIGRATIONS,
              "core": [*store_module.MIGRATIONS["core"],
                       "CREATE TABLE t (x INTEGER); THIS IS NOT SQL"]}
    monkeypatch.setattr(store_module, "MIGRATIONS", broken)
    with pytest.raises(sqlite3.OperationalError):
        Store.open(path)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 't'").fetchone() is None
        assert conn.execute(
            "SELECT MAX(version) FROM schema_migrations WHERE component = 'core'"
        ).fetchone()[0] == core


def test_concurrent_reader_while_writing(tmp_path: Path) -> None:
    path = tmp_path / "opsd.db"
    reader = Store.open(path)
    errors: list[Exception] = []

    def write() -> None:
        writer = Store.open(path)  # a connection belongs to the thread that opened it
        try:
            for i in range(200):
                record_run(writer, "r", [result("a", started_at=i)], started_at=i, finished_at=i)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            writer.close()

    thread = threading.Thread(target=write)
    thread.start()
    seen = 0
    while thread.is_alive():
        seen = max(seen, len(history(reader, check="a")))
    thread.join()
    assert errors == []
    assert len(history(reader, check="a")) == 200
    assert reader.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_prune_and_backup(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "opsd.db")
    for t in (100.0, 200.0, 300.0):
        record_run(store, "r", [result("a", started_at=t)], started_at=t, finished_at=t)
    roll_up(store, now=10_000.0)  # raw results go only once rolled up
    assert prune(store, 10_000.0, raw=9_750.0, hourly=10_000.0, daily=10_000.0).runs == 2
    assert [r.started_at for r in history(store, check="a")] == [300.0]
    store.backup(tmp_path / "copy" / "opsd.db")
    copy = Store.open(tmp_path / "copy" / "opsd.db")
    assert [r.started_at for r in history(copy, check="a")] == [300.0]


def test_state_round_trip(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "opsd.db")
    assert get_state(store, "cache", "redis") is None
    set_state(store, "cache", "redis", {"hits": 10, "misses": 2}, now=5.0)
    set_state(store, "cache", "redis", {"hits": 12, "misses": 2}, now=6.0)
    assert get_state(store, "cache", "redis") == {"hits": 12, "misses": 2}


def test_unwritable_location_is_a_config_error(tmp_path: Path) -> None:
    from opsd.errors import ConfigError

    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match=r"^storage.path: cannot open"):
        Store.open(blocker / "opsd.db")
