"""Every recorded run reaches the alert engine exactly once: a run recorded by a process that
died before its alert transition is replayed at the next start (in order, once), a run
already fed is never fed again, and no child process starts inside a transaction.

In process, on a real SQLite file; the daemon and kill -9 are in
tests/faults/test_fault_exactly_once.py."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

import pytest

from opsd.alerting import notify
from opsd.alerting.engine import AlertEvent, EventType
from opsd.alerting.messages import Origin
from opsd.alerting.observer import AlertObserver, transition
from opsd.alerting.replay import replay_unalerted
from opsd.config import Settings
from opsd.playbooks import Playbook, parse_playbook
from opsd.results import Result, RunReport, Status
from opsd.runner import Runner
from opsd.store import Store, runs
from opsd.store import migrations as migrations_module

T0 = 1_737_702_000.0
PLAYBOOK = "daily"


def settings_for(tmp_path: Path, **alerts: object) -> Settings:
    return Settings(storage={"path": str(tmp_path / "opsd.db")}, alerts=alerts)


def disk(status: Status, at: float) -> Result:
    return Result(status, f"disk {status.value}", value=0.5, check="disk",
                  kind="maintenance.disk", started_at=at, duration=0.1)


def crashed_run(store: Store, status: Status, at: float) -> int:
    """A run recorded by a process that died before its alert transition."""
    return runs.record_run(store, PLAYBOOK, [disk(status, at)], started_at=at,
                           finished_at=at + 1, alerted=False)


def replay(settings: Settings, store: Store) -> int:
    return replay_unalerted(settings, store, lambda: [], now=T0 + 3600, publish=False)


def events_of(store: Store) -> list[tuple[str, str, str, float]]:
    return [(row["type"], row["check_name"], row["severity"], row["at"])
            for row in store.query("SELECT * FROM alert_events ORDER BY id")]


def test_a_run_recorded_before_a_crash_is_replayed_once_as_if_uninterrupted(tmp_path):
    settings = settings_for(tmp_path)
    crashed = Store.open(tmp_path / "crashed.db")
    crashed_run(crashed, Status.CRITICAL, T0)

    assert replay(settings, crashed) == 1
    # The same run, fed to the engine by a process that did not die.
    whole = Store.open(tmp_path / "whole.db")
    run_id = crashed_run(whole, Status.CRITICAL, T0)
    transition(whole, settings, [disk(Status.CRITICAL, T0)], T0 + 1, {}, PLAYBOOK, [], False,
               run_id=run_id)

    assert events_of(crashed) == events_of(whole) == [
        ("FIRING", "disk", "CRITICAL", T0 + 1)  # at the run's own finish, not the replay's
    ]
    assert crashed.run(runs.unalerted_runs) == whole.run(runs.unalerted_runs) == []
    assert replay(settings, crashed) == 0  # a second start replays nothing
    assert len(events_of(crashed)) == 1


def test_runs_replay_in_the_order_they_ran(tmp_path):
    settings = settings_for(tmp_path)
    store = Store.open(settings.storage.path)
    for n, status in enumerate((Status.CRITICAL, Status.OK)):
        crashed_run(store, status, T0 + 60 * n)

    assert replay(settings, store) == 2
    # In the other order the OK would change nothing and the alert would still be firing.
    assert [(kind, at) for kind, _, _, at in events_of(store)] == [
        ("FIRING", T0 + 1), ("RESOLVED", T0 + 61),
    ]


def test_a_run_already_fed_by_another_process_changes_nothing(tmp_path):
    settings = settings_for(tmp_path)
    store = Store.open(settings.storage.path)
    run_id = crashed_run(store, Status.CRITICAL, T0)
    first = transition(store, settings, [disk(Status.CRITICAL, T0)], T0 + 1, {}, PLAYBOOK, [],
                       False, run_id=run_id)
    again = transition(store, settings, [disk(Status.CRITICAL, T0)], T0 + 1, {}, PLAYBOOK, [],
                       False, run_id=run_id)
    assert ([e.type for e in first], again) == ([EventType.FIRING], [])
    assert replay(settings, store) == 0
    assert len(events_of(store)) == 1


def test_the_runner_marks_a_run_seen_only_once_the_engine_had_it(tmp_path):
    settings = settings_for(tmp_path)
    store = Store.open(settings.storage.path)
    entry = {"name": "disk", "kind": "maintenance.disk", "warn": 0, "crit": 0}  # fails
    playbook = parse_playbook({"name": PLAYBOOK, "checks": [entry]}, tmp_path / "daily.toml")

    class Dies(AlertObserver):
        """The process dies after the run is recorded, before its transition."""

        async def __call__(self, report: RunReport, playbook: Playbook) -> None:
            return None

    def run_with(*observers: object) -> RunReport:
        runner = Runner(settings, store, clock=lambda: T0, observers=observers)  # type: ignore[arg-type]

        async def once() -> RunReport:
            try:
                return await runner.run(playbook)
            finally:
                await runner.resources.aclose()

        return asyncio.run(once())

    fed = run_with(AlertObserver(settings, store, publish=False))
    assert store.run(runs.unalerted_runs) == [] and len(events_of(store)) == 1
    died = run_with(Dies(settings, store, publish=False))
    assert [run.id for run in store.run(runs.unalerted_runs)] == [died.run_id]
    assert died.run_id != fed.run_id
    run_with()  # no alert engine at all: nothing to replay later
    assert [run.id for run in store.run(runs.unalerted_runs)] == [died.run_id]
    assert replay(settings, store) == 1  # still firing: no new event, but now seen
    assert store.run(runs.unalerted_runs) == [] and len(events_of(store)) == 1


def test_the_migration_marks_existing_history_as_seen(tmp_path, monkeypatch):
    path = tmp_path / "opsd.db"
    before = {**migrations_module.MIGRATIONS, "core": migrations_module.MIGRATIONS["core"][:1]}
    monkeypatch.setattr("opsd.store.database.MIGRATIONS", before)
    old = Store.open(path)
    old.conn.execute("INSERT INTO runs (playbook, trigger, status, started_at, finished_at)"
                     " VALUES ('daily', 'scheduled', 'CRITICAL', 1, 2)")
    old.close()
    monkeypatch.undo()

    store = Store.open(path)
    assert store.run(runs.unalerted_runs) == []
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT alerted_at FROM runs").fetchall() == [(2.0,)]


def test_enqueue_never_starts_the_delivery_child_inside_a_transaction(tmp_path, monkeypatch):
    settings = settings_for(tmp_path, urls=["json://127.0.0.1:9/hook"])
    store = Store.open(settings.storage.path)
    parsed: list[Settings] = []
    monkeypatch.setattr(notify, "destinations", lambda s: parsed.append(s) or [])
    firing = AlertEvent(EventType.FIRING, "disk", target="", kind="maintenance.disk",
                        playbook=PLAYBOOK, severity=Status.CRITICAL, at=T0, since=T0,
                        summary="disk full", id=1)

    with store.transaction(), pytest.raises(RuntimeError, match="parsed beforehand"):
        notify.enqueue(store, settings, [firing], Origin("ops-1"), T0)
    assert parsed == []
    notify.enqueue(store, settings, [firing], Origin("ops-1"), T0)  # outside: parses
    assert parsed == [settings]


def test_a_run_the_engine_cannot_take_is_skipped_and_a_busy_store_stops_the_replay(
    tmp_path, monkeypatch
):
    from opsd.alerting import replay as replay_module
    from opsd.store import StoreBusyError

    settings = settings_for(tmp_path)
    store = Store.open(settings.storage.path)
    for n in range(2):  # the first one is poison
        crashed_run(store, Status.CRITICAL, T0 + n)
    real = replay_module.transition

    def failing(store: Store, settings: Settings, results, *args, **kw):  # type: ignore[no-untyped-def]
        if results[0].started_at == T0:
            raise ValueError("cannot take this one")
        return real(store, settings, results, *args, **kw)

    monkeypatch.setattr(replay_module, "transition", failing)
    assert replay(settings, store) == 1  # the poison run no longer blocks every start
    assert store.run(runs.unalerted_runs) == [] and len(events_of(store)) == 1

    later = crashed_run(store, Status.OK, T0 + 60)

    def busy(*args, **kw):  # type: ignore[no-untyped-def]
        raise StoreBusyError("the database is busy")

    monkeypatch.setattr(replay_module, "transition", busy)
    assert replay(settings, store) == 0
    assert [run.id for run in store.run(runs.unalerted_runs)] == [later]  # for the next start
