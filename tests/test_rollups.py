"""Rollups: the pure arithmetic (counts, p95, merging, tier plans), then the store over a real
SQLite file with injected times — rolling up is idempotent and resumable, raw results go
only once rolled up, every tier has its retention, and a window's counts read from the
tiers equal the counts of the raw results they came from."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from pathlib import Path

import pytest
from pydantic import ValidationError

from opsd.config import Settings
from opsd.playbooks import parse_playbook
from opsd.reports.rollups import (
    DAY,
    HOUR,
    Counts,
    count_results,
    merge,
    merged_quantile,
    nearest_rank,
    plan_window,
)
from opsd.results import Result, Status
from opsd.runner import Runner
from opsd.store import Store
from opsd.store import rollups as store_rollups
from opsd.store.rollups import (
    SETTLE_SECONDS,
    cursors,
    daily_series,
    prune,
    roll_up,
    status_counts,
    tier_rows,
)
from opsd.store.runs import record_run

START = 1_780_012_800.0  # a UTC midnight
assert START % DAY == 0
STATUSES = [Status.OK] * 7 + [Status.WARNING, Status.CRITICAL, Status.UNKNOWN, Status.SKIPPED]


# --- pure -------------------------------------------------------------------------------------


def test_nearest_rank_p95_is_a_value_that_occurred() -> None:
    assert nearest_rank([float(v) for v in range(1, 21)]) == 19.0
    assert nearest_rank([float(v) for v in range(1, 101)]) == 95.0
    assert nearest_rank([7.0]) == 7.0
    assert nearest_rank([]) is None


def test_counts_per_status_values_and_state_changes() -> None:
    rows = [("OK", 1.0), ("SKIPPED", None), ("OK", 3.0), ("CRITICAL", None), ("CRITICAL", 2.0),
            ("SKIPPED", None), ("OK", 4.0)]
    counts = count_results(rows, previous="WARNING")
    # WARNING -> OK (1), OK -> CRITICAL (2), CRITICAL -> OK (3): SKIPPED is no state.
    assert counts == Counts(ok=3, critical=2, skipped=2, value_count=4, value_min=1.0,
                            value_avg=2.5, value_max=4.0, value_p95=4.0, state_changes=3)
    assert (counts.judged, counts.ok_ratio) == (5, 0.6)
    assert count_results(rows).state_changes == 2  # no known status before the period
    assert Counts().ok_ratio is None


def test_merge_adds_counts_and_weighs_the_mean() -> None:
    a = Counts(ok=3, warning=1, value_count=3, value_min=1.0, value_avg=2.0, value_max=3.0,
               value_p95=3.0, state_changes=1)
    b = Counts(critical=2, skipped=4, value_count=1, value_min=10.0, value_avg=10.0,
               value_max=10.0, value_p95=10.0, state_changes=2)
    merged = merge([a, b, Counts(skipped=1)])
    assert (merged.ok, merged.warning, merged.critical, merged.skipped) == (3, 1, 2, 5)
    assert merged.value_count == 4 and merged.value_avg == pytest.approx(4.0)
    assert (merged.value_min, merged.value_max, merged.state_changes) == (1.0, 10.0, 3)
    assert merge([a]).value_p95 == 3.0  # one part: its own p95
    assert merge([]) == Counts()


def test_merged_p95_of_parts() -> None:
    # Two parts spread evenly over [0, 1] and [1, 2]: the mixture is even over [0, 2].
    low = Counts(ok=100, value_count=100, value_min=0.0, value_avg=0.5, value_max=1.0,
                 value_p95=0.95)
    high = dataclasses.replace(low, value_min=1.0, value_avg=1.5, value_max=2.0, value_p95=1.95)
    assert merged_quantile([low, high]) == pytest.approx(1.9)
    assert merged_quantile([low, low, low]) == pytest.approx(0.95)  # alike: the same p95
    # 23 quiet hours and one slow one: the slow hour is 1/24 of the values (< 5 %), so the
    # day's p95 stays in the quiet range, as a p95 of the raw values would.
    quiet = Counts(ok=60, value_count=60, value_min=0.1, value_avg=0.1, value_max=0.1,
                   value_p95=0.1)
    slow = Counts(ok=60, value_count=60, value_min=5.0, value_avg=5.0, value_max=5.0,
                  value_p95=5.0)
    assert merged_quantile([quiet] * 23 + [slow]) == pytest.approx(0.1)
    # Three slow hours of 24 (12.5 % of the values): the p95 is a slow value.
    assert merged_quantile([quiet] * 21 + [slow] * 3) == pytest.approx(5.0)
    assert merged_quantile([Counts(skipped=3)]) is None


def test_plan_reads_the_coarsest_tier_and_raw_at_the_edges() -> None:
    since, until = START + 1800, START + 3 * DAY + 2 * HOUR + 600
    assert plan_window(since, until, hourly_through=None, daily_through=None).raw == (
        (since, until),)
    plan = plan_window(since, until, hourly_through=START + 3 * DAY + HOUR,
                       daily_through=START + 3 * DAY)
    assert plan.raw == ((since, START + HOUR), (START + 3 * DAY + HOUR, until))
    assert plan.hourly == ((START + HOUR, START + DAY), (START + 3 * DAY, START + 3 * DAY + HOUR))
    assert plan.daily == ((START + DAY, START + 3 * DAY),)
    # Raw results and hourly rows pruned at the start: the edge widens to the whole day.
    widened = plan_window(since, until, hourly_through=START + 3 * DAY + HOUR,
                          daily_through=START + 3 * DAY, raw_from=START + DAY,
                          hourly_from=START + DAY)
    assert widened.daily == ((START, START + 3 * DAY),)
    assert widened.raw == ((START + 3 * DAY + HOUR, until),)
    assert plan_window(until, since, hourly_through=None, daily_through=None) == type(plan)()


# --- the store --------------------------------------------------------------------------------


def seed(store: Store, days: float = 3.0, *, step: float = 600.0, seed_value: int = 7) -> None:
    """A run every `step` seconds from START with two checks x two targets: random statuses
    and values (some missing), started a few seconds into the run."""
    rng = random.Random(seed_value)
    at = START
    while at < START + days * DAY:
        results = [
            Result(rng.choice(STATUSES), "sample",
                   value=None if rng.random() < 0.1 else rng.lognormvariate(-2, 0.6),
                   unit="seconds", check=check, kind=f"kind.{check}", target=target,
                   started_at=at + rng.random() * 5)
            for check in ("api", "db") for target in ("", "eu")
        ]
        record_run(store, "realtime", results, started_at=at, finished_at=at + 6)
        at += step


def raw_counts(store: Store, since: float, until: float) -> dict[tuple[str, str, str], Counts]:
    """Each series' counts straight from every raw result (the reference)."""
    rows = store.conn.execute(
        "SELECT playbook, check_name, target, status, value FROM results"
        " ORDER BY playbook, check_name, target, started_at, id").fetchall()
    found: dict[tuple[str, str, str], list[tuple[float, str, float | None]]] = {}
    times = dict(store.conn.execute("SELECT id, started_at FROM results").fetchall())
    ids = [r[0] for r in store.conn.execute(
        "SELECT id FROM results ORDER BY playbook, check_name, target, started_at, id")]
    for row, rid in zip(rows, ids, strict=True):
        found.setdefault(row[:3], []).append((times[rid], row[3], row[4]))
    expected = {}
    for key, series in found.items():
        before = [s for t, s, _ in series if t < since and s != "SKIPPED"]
        inside = [(s, v) for t, s, v in series if since <= t < until]
        if inside:
            expected[key] = count_results(inside, before[-1] if before else None)
    return expected


def assert_same(found: dict, expected: dict) -> None:
    assert found.keys() == expected.keys()
    for key, want in expected.items():
        got = found[key]
        assert (got.ok, got.warning, got.critical, got.unknown, got.skipped, got.value_count,
                got.state_changes) == (want.ok, want.warning, want.critical, want.unknown,
                                       want.skipped, want.value_count, want.state_changes), key
        assert (got.value_min, got.value_max) == (want.value_min, want.value_max), key
        assert got.value_avg == pytest.approx(want.value_avg), key
        assert want.value_min <= got.value_p95 <= want.value_max, key


def roll_all(store: Store, now: float, limit: int = 1000) -> store_rollups.RollupProgress:
    total = store_rollups.RollupProgress()
    while True:
        step = roll_up(store, now, limit=limit)
        total += step
        if not step.due:
            return total


def table(store: Store, name: str) -> list[tuple]:
    return store.conn.execute(f"SELECT * FROM {name} ORDER BY 1, 2, 3, 5").fetchall()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store.open(tmp_path / "opsd.db")
    seed(opened)
    return opened


NOW = START + 3 * DAY + 2 * HOUR  # the seeded history ended 2 h ago


def test_complete_hours_and_days_roll_up_once(store: Store) -> None:
    done = roll_all(store, NOW)
    assert (done.hours, done.days) == (72, 3)
    assert len(table(store, "rollups_hourly")) == 72 * 4
    assert len(table(store, "rollups_daily")) == 3 * 4
    where = cursors(store)
    assert where.hourly_through == START + 3 * DAY + HOUR  # the last hour is not settled yet
    assert where.daily_through == START + 3 * DAY
    # Nothing due: nothing written.
    changes = store.conn.total_changes
    assert roll_up(store, NOW) == store_rollups.RollupProgress()
    assert store.conn.total_changes == changes


def test_an_hour_rolls_up_only_once_settled(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "opsd.db")
    seed(store, days=0.1)
    roll_up(store, START + HOUR + SETTLE_SECONDS - 1)
    assert table(store, "rollups_hourly") == []
    roll_up(store, START + HOUR + SETTLE_SECONDS)
    assert {row[0] for row in table(store, "rollups_hourly")} == {START}


def test_rolling_up_again_gives_the_same_rows(store: Store) -> None:
    roll_all(store, NOW)
    hourly, daily = table(store, "rollups_hourly"), table(store, "rollups_daily")
    store.conn.execute("DELETE FROM state WHERE namespace = 'rollups'")
    roll_all(store, NOW)
    assert (table(store, "rollups_hourly"), table(store, "rollups_daily")) == (hourly, daily)


def test_rolling_up_in_chunks_resumes_where_it_stopped(store: Store, tmp_path: Path) -> None:
    other = Store.open(tmp_path / "other.db")
    seed(other)
    roll_all(other, NOW)
    step = roll_up(store, NOW, limit=5)
    assert (step.hours, step.days, step.due) == (5, 0, True)
    assert cursors(store).hourly_through == START + 5 * HOUR
    roll_all(store, NOW, limit=5)
    assert table(store, "rollups_hourly") == table(other, "rollups_hourly")
    assert table(store, "rollups_daily") == table(other, "rollups_daily")


def test_a_late_result_rolls_its_hour_and_day_up_again(store: Store) -> None:
    roll_all(store, NOW)
    late_at = START + DAY + 5 * HOUR + 100
    record_run(store, "realtime", [Result(Status.CRITICAL, "late", value=9.0, check="api",
                                          kind="kind.api", started_at=late_at)],
               started_at=late_at, finished_at=late_at + 1)
    assert roll_up(store, NOW).late == 1
    hour = store.query("SELECT * FROM rollups_hourly WHERE period_start = ? AND check_name ="
                       " 'api' AND target = ''", [START + DAY + 5 * HOUR])[0]
    assert hour["value_max"] == 9.0
    assert_same(status_counts(store, since=START, until=NOW),
                raw_counts(store, START, NOW))


def test_status_counts_equal_the_raw_counts_from_every_tier(store: Store) -> None:
    since, until = START + 1234.0, NOW - 700.0  # edges inside hours
    expected = raw_counts(store, since, until)
    assert_same(status_counts(store, since=since, until=until), expected)  # raw only
    roll_all(store, NOW)
    assert_same(status_counts(store, since=since, until=until), expected)  # tiers + edges
    only = status_counts(store, checks=["api"], target="eu", since=since, until=until)
    assert_same(only, {k: v for k, v in expected.items() if k[1:] == ("api", "eu")})
    by_kind = status_counts(store, kinds=["kind.db"], since=since, until=until)
    assert {key[1] for key in by_kind} == {"db"}
    assert {key[1] for key in status_counts(store, exclude_kinds=["kind.db"], since=since,
                                            until=until)} == {"api"}


def test_status_counts_read_the_rollups_once_raw_results_are_gone(store: Store) -> None:
    since = START + DAY  # whole days: answered by daily rows alone
    expected = raw_counts(store, since, START + 3 * DAY)
    roll_all(store, NOW)
    store.conn.execute("DELETE FROM results WHERE started_at < ?", (START + 3 * DAY,))
    assert_same(status_counts(store, since=since, until=START + 3 * DAY), expected)


def test_raw_results_go_only_once_rolled_up(store: Store) -> None:
    everything = store.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    assert prune(store, NOW, raw=HOUR, hourly=DAY, daily=DAY).runs == 0  # nothing rolled up
    assert store.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == everything
    roll_up(store, NOW, limit=10)  # the first 10 hours
    pruned = prune(store, NOW, raw=HOUR, hourly=DAY, daily=DAY, max_runs=1000)
    oldest = store.conn.execute("SELECT MIN(started_at) FROM results").fetchone()[0]
    assert pruned.runs == 9 * 6 and oldest >= START + 9 * HOUR  # a run may end past the hour
    assert cursors(store).raw_from == START + 9 * HOUR


def test_each_tier_keeps_its_retention(store: Store) -> None:
    roll_all(store, NOW)
    step = prune(store, NOW, raw=DAY, hourly=2 * DAY, daily=4 * DAY, max_runs=50)
    assert (step.runs, step.more) == (50, True)  # bounded steps
    total = step
    while total.more:
        total += prune(store, NOW, raw=DAY, hourly=2 * DAY, daily=4 * DAY, max_runs=50)
    oldest_raw = store.conn.execute("SELECT MIN(started_at) FROM runs").fetchone()[0]
    assert oldest_raw >= NOW - DAY
    assert min(row[0] for row in table(store, "rollups_hourly")) == NOW - 2 * DAY
    assert min(row[0] for row in table(store, "rollups_daily")) == START  # 4 d: all kept
    # A period goes once it starts before the retention: the first two days here.
    assert prune(store, NOW, raw=DAY, hourly=2 * DAY, daily=2 * DAY).daily == 2 * 4


def test_a_day_whose_raw_results_are_gone_merges_its_hours(store: Store) -> None:
    expected = raw_counts(store, START, START + DAY)
    roll_up(store, NOW, limit=24)  # the first day's hours, not the day
    assert cursors(store).daily_through == START
    while prune(store, NOW, raw=HOUR, hourly=5 * DAY, daily=5 * DAY).more:
        pass
    roll_all(store, NOW)
    day = {(r[1], r[2], r[4]): Counts(*r[5:]) for r in store.conn.execute(
        "SELECT * FROM rollups_daily WHERE period_start = ?", [START])}
    assert_same(day, expected)


def test_daily_series_and_tier_rows(store: Store) -> None:
    roll_all(store, NOW)
    today = NOW - 1800  # a run of today, not rolled up yet
    record_run(store, "realtime", [Result(Status.OK, "now", check=check, kind=f"kind.{check}",
                                          target=target, started_at=today)
                                   for check in ("api", "db") for target in ("", "eu")],
               started_at=today, finished_at=today)
    series = daily_series(store, check="api", since=START + 600, until=NOW)
    assert [day for day, _ in series] == [START, START + DAY, START + 2 * DAY, START + 3 * DAY]
    for day, counts in series:
        expected = merge(raw_counts(store, day, min(day + DAY, NOW)).get(("realtime", "api", t),
                                                                         Counts())
                         for t in ("", "eu"))
        assert (counts.judged, counts.ok, counts.value_count) == (
            expected.judged, expected.ok, expected.value_count)
    rows = tier_rows(store, "daily", check="db", target="eu", since=START, until=NOW)
    assert [(start, key) for start, key, _ in rows] == [
        (START + n * DAY, ("realtime", "db", "eu")) for n in range(4)]
    assert (rows[-1][2].ok, rows[-1][2].judged) == (1, 1)  # today's, from the raw result
    hourly = tier_rows(store, "hourly", check="db", target="", since=NOW - 3 * HOUR, until=NOW)
    assert [start for start, _, _ in hourly] == [NOW - 3 * HOUR, NOW - HOUR]
    assert hourly[0][2].judged + hourly[0][2].skipped == 6


# --- the kinds that read windows ----------------------------------------------------------------


def run_entry(entry: dict, store: Store, now: float, settings: Settings | None = None
              ) -> list[Result]:
    playbook = parse_playbook({"name": "weekly", "checks": [entry]}, Path("t.toml"))
    runner = Runner(settings or Settings(), store, clock=lambda: now)
    return asyncio.run(runner.run(playbook)).results


def test_trend_and_retention_over_rolled_up_history(store: Store) -> None:
    expected = merge(raw_counts(store, NOW - 2 * DAY, NOW).values())
    settings = Settings(storage={"retention": "1d"})
    [retention] = run_entry({"kind": "maintenance.retention"}, store, NOW, settings)
    assert retention.summary.startswith(f"removed {retention.value:.0f} runs older than 1d")
    assert retention.value > 0 and cursors(store).hourly_through == NOW - HOUR
    [trend] = run_entry({"kind": "history.trend", "window": "2d"}, store, NOW, settings)
    assert trend.details["checks"]["api"]["results"] + trend.details["checks"]["db"][
        "results"] == expected.judged
    assert trend.value == pytest.approx(expected.ok / expected.judged)


def test_retention_tiers_must_grow() -> None:
    with pytest.raises(ValidationError, match=r"must be at least storage\.retention "):
        Settings(storage={"retention": "30d", "retention_hourly": "14d"})
    with pytest.raises(ValidationError, match=r"must be at least storage\.retention_hourly"):
        Settings(storage={"retention_daily": "30d"})
    storage = Settings().storage
    assert (storage.retention, storage.retention_hourly, storage.retention_daily) == (
        7 * DAY, 90 * DAY, 730 * DAY)
