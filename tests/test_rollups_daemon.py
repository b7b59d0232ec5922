"""Rollups in the real processes: a started daemon rolls up a seeded history's complete hours
and days and prunes raw results past `storage.retention` (only once rolled up); `opsd history`
shows raw results, hourly or daily rollups by how far `--since` reaches."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from pathlib import Path

import pytest

from opsd.reports.rollups import DAY, HOUR, floor_to
from opsd.results import Result, Status
from opsd.store import Store
from opsd.store.rollups import roll_up_in_chunks
from opsd.store.runs import record_run
from tests.test_daemon import setup, wait_until  # noqa: F401 (setup is a fixture)

pytestmark = pytest.mark.slow


def seed(path: Path, now: float, *, days: float, step: float) -> None:
    """A run every `step` seconds for `days` up to two hours ago: `api` (two targets) mostly OK
    with a latency, CRITICAL every fifth run."""
    store = Store.open(path)
    at, n = floor_to(now - days * DAY, HOUR), 0
    while at < now - 2 * HOUR:  # every hour complete and settled
        status = Status.CRITICAL if n % 5 == 4 else Status.OK
        record_run(store, "realtime", [
            Result(status, "probe", value=0.1 + 0.01 * (n % 7), unit="seconds", check="api",
                   kind="http.endpoint", target=target, started_at=at)
            for target in ("eu", "us")
        ], started_at=at, finished_at=at + 1)
        at += step
        n += 1
    store.close()


def count(db: Path, sql: str) -> int:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return int(conn.execute(sql).fetchone()[0])


def test_the_daemon_rolls_up_and_prunes_at_start(setup, tmp_path: Path) -> None:  # noqa: F811
    db = tmp_path / "opsd.db"
    now = time.time()
    seed(db, now, days=3, step=1200)
    seeded = count(db, "SELECT COUNT(*) FROM results")
    hours = count(db, "SELECT COUNT(DISTINCT CAST(started_at / 3600 AS INTEGER)) FROM results")
    days = count(db, "SELECT COUNT(DISTINCT CAST(started_at / 86400 AS INTEGER)) FROM results")
    daemon, notify = setup(storage={"retention": "1d"})
    notify.wait_for("READY=1")
    # Every seeded hour is complete; every seeded day but today's.
    wait_until(lambda: count(db, "SELECT COUNT(*) FROM rollups_daily") == 2 * (days - 1),
               what="daily rollups of the seeded days")
    assert count(db, "SELECT COUNT(*) FROM rollups_hourly WHERE check_name = 'api'") == 2 * hours
    assert count(db, "SELECT SUM(ok + critical) FROM rollups_hourly WHERE check_name = 'api'"
                 ) == seeded
    # Raw results past the 1 d retention are gone (their hours are rolled up).
    wait_until(lambda: count(db, "SELECT MIN(started_at) FROM results WHERE check_name = 'api'"
                             ) >= now - DAY, what="raw results pruned to storage.retention")
    daemon.wait_log("rolled up")
    assert "Traceback" not in daemon.log()


def test_history_shows_the_tier_its_window_needs(tmp_path: Path, make_config, opsd_cli) -> None:
    config = make_config(storage={"retention": "3d", "retention_hourly": "60d"})
    db = tmp_path / "opsd.db"
    now = time.time()
    seed(db, now, days=210, step=6 * HOUR)
    store = Store.open(db)
    asyncio.run(roll_up_in_chunks(store, now))
    store.close()

    daily = opsd_cli("--config", str(config), "history", "api", "--since", "200d")
    assert daily.code == 0, daily.err
    assert "daily rollups (raw results are kept 3d; periods in UTC)" in daily.out
    assert "PERIOD" in daily.out and "P95" in daily.out
    found = json.loads(opsd_cli("--config", str(config), "history", "api", "--since", "200d",
                                "--target", "eu", "--json").out)
    assert found["tier"] == "daily"
    days = [row["period_start"] for row in found["rollups"]]
    assert days == sorted(days) and len(days) in (200, 201)
    assert all(row["target"] == "eu" for row in found["rollups"])
    assert sum(row["critical"] for row in found["rollups"]) > 0

    hourly = json.loads(opsd_cli("--config", str(config), "history", "api", "--since", "30d",
                                 "--json").out)
    assert hourly["tier"] == "hourly"
    assert {row["period_start"] % HOUR for row in hourly["rollups"]} == {0}
    raw = json.loads(opsd_cli("--config", str(config), "history", "api", "--since", "2d",
                              "--json").out)
    assert raw["tier"] == "raw" and raw["results"]
    failing = json.loads(opsd_cli("--config", str(config), "history", "api", "--since", "200d",
                                  "--failing", "--json").out)
    assert failing["rollups"] and all(row["critical"] for row in failing["rollups"])


def test_a_tier_shorter_than_the_one_it_rolls_up_is_one_line(tmp_path: Path, make_config,
                                                              opsd_cli) -> None:
    config = make_config(storage={"retention": "30d", "retention_hourly": "14d"})
    done = opsd_cli("--config", str(config), "config", "check")
    assert done.code == 3
    assert done.out.strip() == ("opsd.toml: storage.retention_hourly: must be at least "
                                "storage.retention (30d), not 14d")


def test_failing_rollups_keep_the_unit_of_a_series_ok_now(tmp_path: Path, make_config,
                                                          opsd_cli) -> None:
    config = make_config(storage={"retention": "3d"})
    store = Store.open(tmp_path / "opsd.db")
    now = time.time()
    for status, value, at in ((Status.CRITICAL, 2.5, now - 3 * HOUR), (Status.OK, 0.1, now)):
        record_run(store, "realtime", [
            Result(status, "probe", value=value, unit="seconds", check="http.endpoint",
                   kind="http.endpoint", started_at=at)
        ], started_at=at, finished_at=at + 1)
    store.close()

    # The realtime playbook runs http.endpoint: its series (OK now) gives the values' unit.
    done = opsd_cli("--config", str(config), "history", "http.endpoint", "--since", "30d",
                    "--failing")
    assert done.code == 0, done.err
    assert "hourly rollups" in done.out
    assert "2.50 s" in done.out
