"""Hourly and daily rollups of the results, their retention, and reads from the coarsest tier.

Rolling up: every complete UTC hour not rolled up yet becomes one `rollups_hourly` row per
(playbook, check, target) — counts per status, min/avg/max and nearest-rank p95 of the
values, state changes — and every complete UTC day one `rollups_daily` row, from the raw
results while the day's are all kept, else merged from its hourly rows (the p95 is then
`opsd.reports.rollups.merged_quantile`'s approximation from the hours' min, p95 and max).
An hour counts as complete SETTLE_SECONDS after it ends (a run that started in it may still
be recording); results recorded later still (a run that waited in memory for the write lock)
are found by their id and their hours and days rolled up again. Every period is written in
its own short transaction with the cursor that says it is done (`state`, namespace
"rollups"), so rolling up is idempotent, resumable and bounded: `roll_up` does at most
`limit` periods per call, and costs a few index seeks when nothing is due.

Retention: `prune` deletes raw runs only once their hour is rolled up, hourly rows only once
their day is, in bounded steps.

Reading: `status_counts` and `daily_series` answer a window from daily rows for the whole days
rolled up, hourly rows for the whole hours, raw results for the rest
(`opsd.reports.rollups.plan_window`).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from opsd.reports.rollups import (
    DAY,
    HOUR,
    JUDGED,
    Counts,
    count_results,
    floor_to,
    merge,
    plan_window,
)
from opsd.store.database import Store
from opsd.store.state import get_state, set_state

if TYPE_CHECKING:
    from opsd.store import StoreAccess

NAMESPACE = "rollups"
SETTLE_SECONDS = 300.0
"""How long after its end an hour is rolled up: runs that started in it have recorded."""
CHUNK = 24
"""Periods rolled up per call (each its own transaction) before the owner thread is free."""
PRUNE_RUNS = 200
"""Runs deleted per transaction when pruning raw results."""
LOOKBACK_SECONDS = 600.0
"""Raw results read before a period to know each series' status at its start."""

SeriesKey = tuple[str, str, str]
"""(playbook, check name, target)."""
TIERS = {"hourly": "rollups_hourly", "daily": "rollups_daily"}
_COUNT_COLUMNS = tuple(field.name for field in dataclasses.fields(Counts))
_ROW_COLUMNS = ("period_start", "playbook", "check_name", "kind", "target", *_COUNT_COLUMNS)


@dataclasses.dataclass(frozen=True)
class Cursors:
    """How far the rollups have got and where each finer tier's kept history begins."""

    hourly_through: float | None = None
    """Every hour before this is rolled up (None: nothing rolled up yet)."""
    daily_through: float | None = None
    """Every day before this is rolled up."""
    raw_from: float | None = None
    """Raw results before this may have been pruned."""
    hourly_from: float | None = None
    """Hourly rows before this may have been pruned."""


@dataclasses.dataclass(frozen=True)
class RollupProgress:
    """What one `roll_up` call did, and whether more is due already."""

    hours: int = 0
    days: int = 0
    late: int = 0
    due: bool = False

    def __add__(self, other: RollupProgress) -> RollupProgress:
        return RollupProgress(self.hours + other.hours, self.days + other.days,
                              self.late + other.late, other.due)


@dataclasses.dataclass(frozen=True)
class PruneProgress:
    """What one `prune` call deleted, and whether raw runs remain to delete."""

    runs: int = 0
    hourly: int = 0
    daily: int = 0
    more: bool = False

    def __add__(self, other: PruneProgress) -> PruneProgress:
        return PruneProgress(self.runs + other.runs, self.hourly + other.hourly,
                             self.daily + other.daily, other.more)


def cursors(store: Store) -> Cursors:
    """The rollups' cursors as stored."""
    return Cursors(*(get_state(store, NAMESPACE, field.name)
                     for field in dataclasses.fields(Cursors)))


def _set(store: Store, key: str, value: float | None, now: float) -> None:
    set_state(store, NAMESPACE, key, value, now=now)


# --- rolling up -----------------------------------------------------------------------------


def roll_up(store: Store, now: float, *, limit: int = CHUNK) -> RollupProgress:
    """Roll up the late results' periods again, then up to `limit` complete hours and days
    not rolled up yet; `due` says whether more are waiting."""
    where = cursors(store)
    hourly_through = where.hourly_through
    if hourly_through is None:
        first = store.conn.execute("SELECT MIN(started_at) FROM results").fetchone()[0]
        if first is None:
            return RollupProgress()
        hourly_through = floor_to(first, HOUR)
        with store.transaction():
            _set(store, "hourly_through", hourly_through, now)
            _set(store, "daily_through", floor_to(first, DAY), now)
        where = cursors(store)
    late = _roll_late(store, where, now)
    hours, hourly_through = _roll_hours(store, hourly_through, now, limit)
    days, daily_through = _roll_days(store, hourly_through, now, limit - hours)
    due_hour = floor_to(now - SETTLE_SECONDS, HOUR)
    due = hourly_through < due_hour or daily_through + DAY <= hourly_through
    return RollupProgress(hours, days, late, due)


async def roll_up_in_chunks(access: StoreAccess, now: float, *, chunk: int = CHUNK
                            ) -> RollupProgress:
    """`roll_up` until nothing is due, one chunk per call on the store's thread (other
    queries run between chunks)."""
    total = RollupProgress()
    while True:
        step: RollupProgress = await access.call(roll_up, now, limit=chunk)
        total += step
        if not step.due:
            return total


def _roll_hours(store: Store, through: float, now: float, limit: int) -> tuple[int, float]:
    due_until = floor_to(now - SETTLE_SECONDS, HOUR)
    done = 0
    while done < limit and through < due_until:
        # Skip the hours without results in one step (a daemon that was down a week).
        following = store.conn.execute(
            "SELECT MIN(started_at) FROM results WHERE started_at >= ?", (through,)
        ).fetchone()[0]
        start = floor_to(following, HOUR) if following is not None else due_until
        if start >= due_until:
            with store.transaction():
                _set(store, "hourly_through", due_until, now)
            return done, due_until
        with store.transaction():
            _roll_period(store, "rollups_hourly", start, HOUR)
            _set(store, "hourly_through", start + HOUR, now)
        through = start + HOUR
        done += 1
    return done, through


def _roll_days(store: Store, hourly_through: float, now: float, limit: int) -> tuple[int, float]:
    where = cursors(store)
    through = where.daily_through if where.daily_through is not None else floor_to(
        hourly_through, DAY)
    done = 0
    while done < limit and through + DAY <= hourly_through:
        following = store.conn.execute(
            "SELECT MIN(period_start) FROM rollups_hourly WHERE period_start >= ?", (through,)
        ).fetchone()[0]
        last_due = floor_to(hourly_through, DAY)
        start = floor_to(following, DAY) if following is not None else last_due
        if start >= last_due:
            with store.transaction():
                _set(store, "daily_through", last_due, now)
            return done, last_due
        with store.transaction():
            _roll_day(store, start, where.raw_from)
            _set(store, "daily_through", start + DAY, now)
        through = start + DAY
        done += 1
    return done, through


def _roll_late(store: Store, where: Cursors, now: float) -> int:
    """Roll up again the hours (and their days) of results recorded since the last call
    whose hour was rolled up already."""
    seen = get_state(store, NAMESPACE, "result_id")
    newest = store.conn.execute("SELECT MAX(id) FROM results").fetchone()[0] or 0
    hours: list[float] = []
    if seen is not None and newest > seen and where.hourly_through is not None:
        hours = [float(row[0]) * HOUR for row in store.conn.execute(
            "SELECT DISTINCT CAST(started_at / 3600 AS INTEGER) FROM results"
            " WHERE id > ? AND started_at < ? ORDER BY 1", (seen, where.hourly_through))]
        hours = [h for h in hours if where.raw_from is None or h >= where.raw_from]
    for hour in hours:
        with store.transaction():
            _roll_period(store, "rollups_hourly", hour, HOUR)
    days = sorted({floor_to(h, DAY) for h in hours})
    for day in days:
        if where.daily_through is not None and day < where.daily_through:
            with store.transaction():
                _roll_day(store, day, where.raw_from)
    if seen != newest:
        _set(store, "result_id", newest, now)
    return len(hours)


def _roll_day(store: Store, day: float, raw_from: float | None) -> None:
    if raw_from is None or day >= raw_from:
        _roll_period(store, "rollups_daily", day, DAY)
        return
    # The day's raw results are partly pruned: merge its hours.
    by_series: dict[SeriesKey, list[Counts]] = defaultdict(list)
    kinds: dict[SeriesKey, str] = {}
    for row in _rows(store, "rollups_hourly", day, day + DAY, Filters(), order=True):
        key = (row[1], row[2], row[4])
        by_series[key].append(_counts_of(row))
        kinds[key] = row[3]
    _write(store, "rollups_daily", day,
           [(key, kinds[key], merge(parts)) for key, parts in by_series.items()])


def _roll_period(store: Store, table: str, start: float, length: float) -> None:
    """Replace the period's rows with those its raw results give."""
    _write(store, table, start, raw_counts(store, start, start + length, Filters()))


def _write(store: Store, table: str, start: float,
           found: Sequence[tuple[SeriesKey, str, Counts]]) -> None:
    store.conn.execute(f"DELETE FROM {table} WHERE period_start = ?", (start,))
    store.conn.executemany(
        f"INSERT INTO {table} ({', '.join(_ROW_COLUMNS)})"
        f" VALUES ({', '.join('?' * len(_ROW_COLUMNS))})",
        [(start, *key[:2], kind, key[2], *dataclasses.astuple(counts))
         for key, kind, counts in found],
    )


def previous_status(store: Store, key: SeriesKey, before: float) -> str | None:
    """The series' latest judged status before `before` (one index seek per status)."""
    latest: tuple[float, str] | None = None
    for status in JUDGED:
        at = store.conn.execute(
            "SELECT MAX(started_at) FROM results WHERE playbook = ? AND check_name = ?"
            " AND target = ? AND status = ? AND started_at < ?", (*key, status, before),
        ).fetchone()[0]
        if at is not None and (latest is None or at > latest[0]):
            latest = (at, status)
    return latest[1] if latest else None


# --- retention ------------------------------------------------------------------------------


def prune(store: Store, now: float, *, raw: float, hourly: float, daily: float,
          max_runs: int = PRUNE_RUNS) -> PruneProgress:
    """Delete, older than their retention: up to `max_runs` runs (with their results) whose
    hour is rolled up, hourly rows whose day is rolled up, daily rows."""
    where = cursors(store)
    if where.hourly_through is None:  # nothing rolled up: no raw result may go yet
        runs = 0
        more = False
    else:
        # A run that started an hour before the cursor has no result in an hour after it.
        raw_before = min(now - raw, where.hourly_through - HOUR)
        if where.raw_from is None or raw_before > where.raw_from:
            _set(store, "raw_from", raw_before, now)
        runs, more = _prune_runs(store, raw_before, max_runs)
    hourly_before = min(now - hourly, where.daily_through or -1.0)
    daily_before = now - daily
    with store.transaction() as conn:
        hourly_rows = conn.execute("DELETE FROM rollups_hourly WHERE period_start < ?",
                                   (hourly_before,)).rowcount
        daily_rows = conn.execute("DELETE FROM rollups_daily WHERE period_start < ?",
                                  (daily_before,)).rowcount
    if hourly_rows and (where.hourly_from is None or hourly_before > where.hourly_from):
        _set(store, "hourly_from", hourly_before, now)
    return PruneProgress(runs, int(hourly_rows), int(daily_rows), more)


def _prune_runs(store: Store, before: float, limit: int) -> tuple[int, bool]:
    # A run the alert engine has not seen yet stays for the replay (opsd.alerting.replay).
    with store.transaction() as conn:
        ids = [row[0] for row in conn.execute(
            "SELECT id FROM runs WHERE started_at < ? AND alerted_at IS NOT NULL"
            " ORDER BY started_at LIMIT ?", (before, limit + 1))]
        chosen = ids[:limit]
        marks = ", ".join("?" * len(chosen))
        if chosen:
            conn.execute(f"DELETE FROM results WHERE run_id IN ({marks})", chosen)
            conn.execute(f"DELETE FROM runs WHERE id IN ({marks})", chosen)
    return len(chosen), len(ids) > limit


async def prune_in_steps(access: StoreAccess, now: float, *, raw: float, hourly: float,
                         daily: float) -> PruneProgress:
    """`prune` until no raw run is left to delete, one step per call on the store's thread."""
    total = PruneProgress()
    while True:
        step: PruneProgress = await access.call(prune, now, raw=raw, hourly=hourly, daily=daily)
        total += step
        if not step.more:
            return total


async def roll_up_and_prune(access: StoreAccess, now: float, *, raw: float, hourly: float,
                            daily: float) -> tuple[RollupProgress, PruneProgress]:
    """Roll up what is due, then prune every tier (the daemon's timer and
    `maintenance.retention` both)."""
    rolled = await roll_up_in_chunks(access, now)
    pruned = await prune_in_steps(access, now, raw=raw, hourly=hourly, daily=daily)
    return rolled, pruned


# --- reading --------------------------------------------------------------------------------


def status_counts(
    store: Store, *, checks: Sequence[str] | None = None, kinds: Sequence[str] | None = None,
    target: str | None = None, since: float, until: float, exclude_kinds: Sequence[str] = (),
) -> dict[SeriesKey, Counts]:
    """Each series' counts over [since, until), from the coarsest tier that answers
    (series of `exclude_kinds` left out: a trend report does not count its own results)."""
    only = Filters(checks, kinds, target, tuple(exclude_kinds))
    where = cursors(store)
    plan = plan_window(since, until, hourly_through=where.hourly_through,
                       daily_through=where.daily_through, raw_from=where.raw_from,
                       hourly_from=where.hourly_from)
    parts: dict[SeriesKey, list[Counts]] = defaultdict(list)
    for table, spans in (("rollups_daily", plan.daily), ("rollups_hourly", plan.hourly)):
        for start, end in spans:
            for row in _rows(store, table, start, end, only):
                parts[(row[1], row[2], row[4])].append(_counts_of(row))
    for start, end in plan.raw:
        for key, _, counts in raw_counts(store, start, end, only):
            parts[key].append(counts)
    return {key: merge(found) for key, found in sorted(parts.items())}


def daily_series(store: Store, *, check: str, target: str | None = None, since: float,
                 until: float) -> list[tuple[float, Counts]]:
    """The check's counts per UTC day from the day holding `since` to the one holding
    `until` (every playbook and target merged unless `target` says one); days without
    results are left out."""
    days: dict[float, list[Counts]] = defaultdict(list)
    for start, _, counts in tier_rows(store, "daily", check=check, target=target, since=since,
                                      until=until):
        days[start].append(counts)
    return [(start, merge(found)) for start, found in sorted(days.items())]


def tier_rows(store: Store, tier: str, *, check: str, target: str | None = None,
              since: float, until: float) -> list[tuple[float, SeriesKey, Counts]]:
    """A check's rows in one tier ("hourly" or "daily"), from the period holding `since`:
    (period start, series, counts), oldest first; the periods not rolled up yet (the latest
    hour or two, today) are counted from what the history has."""
    length = HOUR if tier == "hourly" else DAY
    where = cursors(store)
    through = where.hourly_through if tier == "hourly" else where.daily_through
    first = floor_to(since, length)
    rolled = min(through if through is not None else first, until)
    found = [(row[0], (row[1], row[2], row[4]), _counts_of(row))
             for row in _rows(store, TIERS[tier], first, rolled, Filters([check], target=target),
                              order=True)]
    start = max(first, rolled)
    while start < until:
        counted = status_counts(store, checks=[check], target=target, since=start,
                                until=min(start + length, until))
        found += [(start, key, counts) for key, counts in counted.items()]
        start += length
    return found


@dataclasses.dataclass(frozen=True)
class Filters:
    """Which series a read covers (None: every one)."""

    checks: Sequence[str] | None = None
    kinds: Sequence[str] | None = None
    target: str | None = None
    exclude_kinds: Sequence[str] = ()

    def sql(self) -> tuple[str, list[Any]]:
        """` AND ...` conditions and their arguments."""
        where = ""
        args: list[Any] = []
        for column, values, test in (("check_name", self.checks, "IN"),
                                     ("kind", self.kinds, "IN"),
                                     ("kind", self.exclude_kinds or None, "NOT IN")):
            if values is not None:
                where += f" AND {column} {test} ({', '.join('?' * len(values))})"
                args += list(values)
        if self.target is not None:
            where += " AND target = ?"
            args.append(self.target)
        return where, args


def _rows(store: Store, table: str, start: float, end: float, only: Filters, *,
          order: bool = False) -> list[tuple[Any, ...]]:
    """The period's rows as tuples in `_ROW_COLUMNS` order (tuples: a year of rows is
    read in milliseconds)."""
    where, args = only.sql()
    sql = (f"SELECT {', '.join(_ROW_COLUMNS)} FROM {table}"
           f" WHERE period_start >= ? AND period_start < ?{where}"
           + (" ORDER BY period_start, playbook, check_name, target" if order else ""))
    return store.conn.execute(sql, [start, end, *args]).fetchall()


def raw_counts(store: Store, start: float, end: float, only: Filters
               ) -> list[tuple[SeriesKey, str, Counts]]:
    """Each series' counts from the raw results in [start, end), with its latest kind. The
    status before `start` comes from the LOOKBACK_SECONDS before it, read with the period,
    or else from index seeks (a series that runs seldom)."""
    where, args = only.sql()
    rows = store.conn.execute(
        "SELECT playbook, check_name, target, kind, status, value, started_at FROM results"
        f" WHERE started_at >= ? AND started_at < ?{where}"
        " ORDER BY playbook, check_name, target, started_at, id",
        [start - LOOKBACK_SECONDS, end, *args],
    ).fetchall()
    found = []
    for key, group in itertools.groupby(rows, key=lambda row: (row[0], row[1], row[2])):
        series = list(group)
        inside = [row for row in series if row[6] >= start]
        if not inside:
            continue
        before = [row[4] for row in series if row[6] < start and row[4] in JUDGED]
        previous = before[-1] if before else previous_status(store, key, start)
        found.append((key, inside[-1][3],
                      count_results(((row[4], row[5]) for row in inside), previous)))
    return found


def _counts_of(row: Sequence[Any]) -> Counts:
    """The counts of a row in `_ROW_COLUMNS` order."""
    return Counts(*row[5:])
