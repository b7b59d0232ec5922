"""Windows judged fairly: window kinds are SKIPPED below `min_samples`, and an alert from an
entry that runs less often than `repeat_interval` sends no reminders. Real SQLite stores,
injected clocks."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from opsd.alerting.engine import EventType, Policy
from opsd.alerting.observer import AlertObserver, sweep
from opsd.config import Settings
from opsd.notion.requestlog import Attempt, RequestLog
from opsd.playbooks import Playbook, parse_playbook
from opsd.results import Result, Status
from opsd.runner import Runner
from opsd.store import Store
from opsd.store.alerts import events_since
from opsd.store.owner import StoreThread
from opsd.store.runs import record_run

NOW = 1_750_000_000.0
HOUR = 3600.0
DAY = 86400.0


def run_entry(entry: dict, store: Store) -> list[Result]:
    playbook = parse_playbook({"name": "t", "checks": [entry]}, Path("t.toml"))
    runner = Runner(Settings(), store, clock=lambda: NOW)
    return asyncio.run(runner.run(playbook)).results


def probe(store: Store, age: float, ok: bool) -> None:
    at = NOW - age
    # As notion.auth records it: an authenticated probe's value is its latency.
    result = Result(Status.OK if ok else Status.CRITICAL, "auth", check="notion.auth",
                    kind="notion.auth", started_at=at, value=0.2 if ok else None,
                    details={"authenticated": ok})
    record_run(store, "realtime", [result], started_at=at, finished_at=at)


def request(store: Store, age: float, status: int) -> None:
    RequestLog(store).record(
        sent_at=NOW - age, method="GET", endpoint="/v1/users/me", status=status,
        error="" if status < 400 else "service_unavailable", latency=0.1,
        attempt=Attempt(purpose="check"), retry_after=None,
    )


# --- min_samples ----------------------------------------------------------------------------


def test_a_short_outage_in_few_probes_is_skipped_not_critical():
    store = Store.memory()
    for age, ok in [(HOUR, True), (2 * HOUR, False), (3 * HOUR, False), (4 * HOUR, True),
                    (5 * HOUR, True), (6 * HOUR, True)]:
        probe(store, age, ok)
    [week] = run_entry({"kind": "notion.availability", "windows": ["7d"]}, store)
    assert (week.status, week.target, week.summary) == (
        Status.SKIPPED, "7d", "only 6 auth probes in the last 7d (min_samples 10)")
    [judged] = run_entry(
        {"kind": "notion.availability", "windows": ["7d"], "min_samples": 6}, store)
    assert (judged.status, judged.value) == (Status.CRITICAL, pytest.approx(4 / 6))


@pytest.mark.parametrize("kind", ["notion.error_rate", "notion.rate_limit"])
def test_request_log_kinds_need_min_samples_requests(kind):
    store = Store.memory()
    for age in range(1, 5):
        request(store, age * 60, 200 if age > 1 else 503)
    [few] = run_entry({"kind": kind}, store)
    assert (few.status, few.summary) == (
        Status.SKIPPED, "only 4 Notion requests in the last 1d (min_samples 10)")
    [judged] = run_entry({"kind": kind, "min_samples": 4}, store)
    assert judged.status is not Status.SKIPPED and judged.value is not None


def test_trend_needs_min_samples_judged_results():
    store = Store.memory()
    for age in (HOUR, 2 * HOUR, 3 * HOUR):
        record_run(store, "daily", [Result(Status.OK, "fine", check="disk", kind="maintenance.disk",
                                           started_at=NOW - age)],
                   started_at=NOW - age, finished_at=NOW - age)
    [few] = run_entry({"kind": "history.trend"}, store)
    assert (few.status, few.summary) == (
        Status.SKIPPED, "only 3 results in the last 7d (min_samples 10)")
    [judged] = run_entry({"kind": "history.trend", "min_samples": 3}, store)
    assert (judged.status, judged.value) == (Status.OK, 1.0)


def test_min_samples_must_be_positive():
    from opsd.errors import PlaybookError

    with pytest.raises(PlaybookError, match=r"checks\[0\]\.min_samples"):
        parse_playbook({"name": "t", "checks": [
            {"kind": "notion.availability", "min_samples": 0}]}, Path("t.toml"))


# --- no reminders from entries that run less often than repeat_interval -----------------------


def test_run_interval_from_every_cron_or_none():
    every = Playbook(name="fast", every=300)
    weekly = Playbook(name="weekly", schedule="0 6 * * mon")
    workdays = Playbook(name="daily", schedule="0 7 * * mon-fri")
    assert every.run_interval("UTC", NOW) == 300
    assert weekly.run_interval("UTC", NOW) == 7 * DAY
    assert workdays.run_interval("UTC", NOW) == DAY  # the shortest gap, not the weekend's
    assert Playbook(name="manual").run_interval("UTC", NOW) is None
    # Across a DST change the wall-clock schedule keeps its hour: 23 h that day.
    spring = dt.datetime(2025, 3, 28, 12, tzinfo=dt.UTC).timestamp()
    assert Playbook(name="d", schedule="0 7 * * *").run_interval("Europe/Berlin", spring) == (
        23 * HOUR)


def test_policy_drops_reminders_for_entries_rarer_than_repeat_interval():
    alerts = Settings(alerts={"repeat_interval": "4h"}).alerts
    assert Policy.from_config(alerts, None, run_interval=7 * DAY).repeat_interval == 0
    assert Policy.from_config(alerts, None, run_interval=4 * HOUR).repeat_interval == 4 * HOUR
    assert Policy.from_config(alerts, None, run_interval=60).repeat_interval == 4 * HOUR
    assert Policy.from_config(alerts, None).repeat_interval == 4 * HOUR


def _weekly_availability(tmp_path: Path, every: str | None) -> tuple[Settings, list]:
    settings = Settings(storage={"path": str(tmp_path / "opsd.db")})
    schedule = {"every": every} if every else {"schedule": "0 6 * * mon"}
    playbook = parse_playbook({"name": "weekly", **schedule, "checks": [
        {"kind": "notion.availability", "windows": ["7d"]}]}, tmp_path / "weekly.toml")
    store = StoreThread.open(tmp_path / "opsd.db")
    try:
        for hour in range(1, 21):
            store.run(probe, hour * HOUR, hour > 10)  # down for the last 10 hours
        runner = Runner(settings, store, clock=lambda: NOW,
                        observers=[AlertObserver(settings, store, publish=False)])

        async def once() -> None:
            try:
                await runner.run(playbook)
            finally:
                await runner.resources.aclose()

        asyncio.run(once())
        for later in (4 * HOUR, 8 * HOUR, 2 * DAY):
            sweep(settings, store, NOW + later)
        events = store.run(events_since, NOW)
    finally:
        store.close()
    return settings, [(e.type, e.check) for e in events if e.deliver]


def test_a_weekly_entry_fires_once_and_sends_no_reminders(tmp_path):
    _, events = _weekly_availability(tmp_path, None)
    assert events == [(EventType.FIRING, "notion.availability")]


def test_an_entry_running_often_still_reminds(tmp_path):
    _, events = _weekly_availability(tmp_path, "1m")
    assert events == [(EventType.FIRING, "notion.availability")] + [
        (EventType.REMINDER, "notion.availability")] * 3
