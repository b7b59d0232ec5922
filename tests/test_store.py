"""The SQLite history: round-trip, migrations, concurrent readers, retention, backup."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from opsd import store as store_module
from opsd.results import Result, Status
from opsd.store import Store


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
    run_id = store.record_run("daily", results, started_at=1000.0, finished_at=1001.0)
    assert run_id == 1
    latest = {r.check: r for r in store.latest_results()}
    assert latest["latency"] == results[0]
    assert latest["auth"].status is Status.CRITICAL and latest["auth"].value is None
    runs = store.last_runs()
    assert runs["daily"]["status"] == "CRITICAL"
    assert "last_success" not in runs["daily"]


def test_history_filters_and_order(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "opsd.db")
    for t in (100.0, 200.0, 300.0):
        store.record_run("r", [result("a", started_at=t), result("b", started_at=t)],
                         started_at=t, finished_at=t + 1)
    assert [r.started_at for r in store.history(check="a", since=150)] == [200.0, 300.0]
    assert [r.started_at for r in store.history(check="a", limit=2)] == [200.0, 300.0]
    assert len(store.history(kind="notion.latency")) == 6


def test_run_is_one_transaction(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "opsd.db")
    bad = result("a").replace(details={"x": object()})  # serialisable via default=str
    store.record_run("r", [bad], started_at=1, finished_at=2)
    broken = [result("a"), result("b").replace(status="NOT A STATUS")]  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        store.record_run("r", broken, started_at=3, finished_at=4)
    assert store.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1
    assert store.conn.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 1


def test_migrations_apply_once_and_in_order(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "opsd.db"
    first = Store.open(path)
    versions = first.schema_versions()
    assert versions["core"] == 1
    first.close()
    extra = {**store_module.MIGRATIONS,
             "core": [*store_module.MIGRATIONS["core"],
                      "ALTER TABLE runs ADD COLUMN host TEXT NOT NULL DEFAULT ''"]}
    monkeypatch.setattr(store_module, "MIGRATIONS", extra)
    second = Store.open(path)
    assert second.schema_versions()["core"] == 2
    assert "host" in second.db["runs"].columns_dict
    assert second.migrate() == []  # nothing left to apply


def test_failed_migration_rolls_back(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "opsd.db"
    Store.open(path).close()
    broken = {**store_module.MIGRATIONS,
              "core": [*store_module.MIGRATIONS["core"],
                       "CREATE TABLE t (x INTEGER); THIS IS NOT SQL"]}
    monkeypatch.setattr(store_module, "MIGRATIONS", broken)
    with pytest.raises(sqlite3.OperationalError):
        Store.open(path)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 't'").fetchone() is None
    assert conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0] == 1


def test_concurrent_reader_while_writing(tmp_path: Path) -> None:
    path = tmp_path / "opsd.db"
    writer = Store.open(path)
    reader = Store.open(path)
    errors: list[Exception] = []

    def write() -> None:
        try:
            for i in range(200):
                writer.record_run("r", [result("a", started_at=i)], started_at=i, finished_at=i)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    seen = 0
    while thread.is_alive():
        seen = max(seen, len(reader.history(check="a")))
    thread.join()
    assert errors == []
    assert len(reader.history(check="a")) == 200
    assert reader.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_prune_and_backup(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "opsd.db")
    for t in (100.0, 200.0, 300.0):
        store.record_run("r", [result("a", started_at=t)], started_at=t, finished_at=t)
    assert store.prune(before=250.0) == 2
    assert [r.started_at for r in store.history(check="a")] == [300.0]
    store.backup(tmp_path / "copy" / "opsd.db")
    copy = Store.open(tmp_path / "copy" / "opsd.db")
    assert [r.started_at for r in copy.history(check="a")] == [300.0]


def test_state_round_trip(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "opsd.db")
    assert store.get_state("cache", "redis") is None
    store.set_state("cache", "redis", {"hits": 10, "misses": 2}, now=5.0)
    store.set_state("cache", "redis", {"hits": 12, "misses": 2}, now=6.0)
    assert store.get_state("cache", "redis") == {"hits": 12, "misses": 2}


def test_unwritable_location_is_a_config_error(tmp_path: Path) -> None:
    from opsd.errors import ConfigError

    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match=r"^storage.path: cannot open"):
        Store.open(blocker / "opsd.db")
