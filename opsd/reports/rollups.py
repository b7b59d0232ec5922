"""Roll-up arithmetic (pure): a period's results as `Counts`, merging counts, the p95 of a
period, state changes, and which tier answers which part of a time window.

Periods are UTC: an hour starts at a multiple of 3600 epoch seconds, a day at a multiple of
86400 (epoch days are UTC days). The SQL around this lives in `opsd.store.rollups`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence

HOUR = 3600.0
DAY = 86400.0
QUANTILE = 0.95
JUDGED = ("OK", "WARNING", "CRITICAL", "UNKNOWN")
"""The statuses that judge something (SKIPPED does not; a state change is between these)."""


@dataclasses.dataclass(frozen=True)
class Counts:
    """Results of one series (or several merged) over a period: how many of each status, the
    values' count, min, mean, max and p95, and how often the status changed."""

    ok: int = 0
    warning: int = 0
    critical: int = 0
    unknown: int = 0
    skipped: int = 0
    value_count: int = 0
    value_min: float | None = None
    value_avg: float | None = None
    value_max: float | None = None
    value_p95: float | None = None
    state_changes: int = 0

    @property
    def judged(self) -> int:
        """Results with a verdict: all but SKIPPED."""
        return self.ok + self.warning + self.critical + self.unknown

    @property
    def ok_ratio(self) -> float | None:
        """OK results over judged ones (None: nothing judged)."""
        return self.ok / self.judged if self.judged else None


def nearest_rank(values: Sequence[float], quantile: float = QUANTILE) -> float | None:
    """The `quantile` of `values` by the nearest-rank method (a value that occurred: the
    smallest one at or above which `quantile` of the values lie); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(quantile * len(ordered)) - 1)]


def count_results(
    rows: Iterable[tuple[str, float | None]], previous: str | None = None
) -> Counts:
    """The `Counts` of one series' results, oldest first, as (status, value) pairs;
    `previous` is the series' judged status before the first of them (None: unknown), so a
    change across the period's start counts in this period, once."""
    tally = dict.fromkeys((*JUDGED, "SKIPPED"), 0)
    values: list[float] = []
    changes = 0
    for status, value in rows:
        tally[status] = tally.get(status, 0) + 1
        if value is not None:
            values.append(float(value))
        if status in JUDGED:
            if previous is not None and status != previous:
                changes += 1
            previous = status
    return Counts(
        ok=tally["OK"], warning=tally["WARNING"], critical=tally["CRITICAL"],
        unknown=tally["UNKNOWN"], skipped=tally["SKIPPED"],
        value_count=len(values),
        value_min=min(values) if values else None,
        value_avg=sum(values) / len(values) if values else None,
        value_max=max(values) if values else None,
        value_p95=nearest_rank(values),
        state_changes=changes,
    )


def merge(parts: Iterable[Counts]) -> Counts:
    """Several periods (or series) as one: counts and state changes add up, min and max
    hold, the mean is weighted by each part's value count, and the p95 is
    `merged_quantile`'s approximation."""
    parts = list(parts)
    if len(parts) == 1:
        return parts[0]
    ok = warning = critical = unknown = skipped = total = changes = 0
    weighted = 0.0
    lows: list[float] = []
    highs: list[float] = []
    valued: list[Counts] = []
    for part in parts:  # one pass: a year of daily rows per series is merged per query
        ok += part.ok
        warning += part.warning
        critical += part.critical
        unknown += part.unknown
        skipped += part.skipped
        changes += part.state_changes
        if part.value_count:
            valued.append(part)
            total += part.value_count
            weighted += (part.value_avg or 0.0) * part.value_count
            if part.value_min is not None:
                lows.append(part.value_min)
            if part.value_max is not None:
                highs.append(part.value_max)
    return Counts(ok, warning, critical, unknown, skipped, total,
                  min(lows, default=None), weighted / total if total else None,
                  max(highs, default=None), merged_quantile(valued), changes)


def merged_quantile(parts: Sequence[Counts], quantile: float = QUANTILE) -> float | None:
    """The p95 of several parts whose values are gone, approximated from what each part
    kept: its values are taken as spread evenly from min to p95 (95 % of them) and from p95
    to max (the other 5 %), and the answer is where the mixture of those spreads, weighted
    by value count, reaches `quantile`. One part gives back its own p95; parts alike give
    theirs; a short spike in one part moves the answer only as far as its share of the
    values does (a plain mean of p95s would hide it, their max would exaggerate it)."""
    kept = [(p.value_min, p.value_p95, p.value_max, p.value_count) for p in parts
            if p.value_count and p.value_min is not None and p.value_p95 is not None
            and p.value_max is not None]
    if len(kept) == 1:
        return kept[0][1]
    pieces: list[tuple[float, float, float]] = []  # (start, end, mass)
    for low, p95, high, count in kept:
        p95 = min(max(p95, low), high)
        pieces.append((low, p95, QUANTILE * count))
        pieces.append((p95, high, (1 - QUANTILE) * count))
    return _mixture_quantile(pieces, quantile) if pieces else None


def _mixture_quantile(pieces: list[tuple[float, float, float]], quantile: float) -> float:
    """The smallest x where the mass of `pieces` (each spread evenly over [start, end], or a
    point mass when start == end) at or below x reaches `quantile` of the whole."""
    wanted = quantile * sum(mass for _, _, mass in pieces)
    # Events along the axis, in order: a point mass jumps; an even spread changes the slope.
    events: list[tuple[float, float, float]] = []  # (x, jump, slope change)
    for start, end, mass in pieces:
        if end <= start:
            events.append((start, mass, 0.0))
        else:
            density = mass / (end - start)
            events.append((start, 0.0, density))
            events.append((end, 0.0, -density))
    events.sort()
    below, slope, position = 0.0, 0.0, events[0][0]
    for x, jump, change in events:
        if slope > 0 and x > position:
            reach = below + slope * (x - position)
            if reach >= wanted:
                return position + (wanted - below) / slope
            below = reach
        position = x
        below += jump
        if jump and below >= wanted:
            return x
        slope += change
    return position


# --- periods and tiers ----------------------------------------------------------------------


def floor_to(t: float, period: float) -> float:
    """The start of the period holding `t`."""
    return math.floor(t / period) * period


def ceil_to(t: float, period: float) -> float:
    """The first period start at or after `t`."""
    return math.ceil(t / period) * period


@dataclasses.dataclass(frozen=True)
class Plan:
    """Which tier answers which part of a window: [start, end) spans, none overlapping."""

    raw: tuple[tuple[float, float], ...] = ()
    hourly: tuple[tuple[float, float], ...] = ()
    daily: tuple[tuple[float, float], ...] = ()


def plan_window(
    since: float, until: float, *, hourly_through: float | None, daily_through: float | None,
    raw_from: float | None = None, hourly_from: float | None = None,
) -> Plan:
    """Split [since, until) between the tiers, coarsest first: daily rows for whole UTC days
    rolled up (before `daily_through`), hourly rows for whole hours rolled up (before
    `hourly_through`), raw results for the rest (the edges and what is not rolled up yet).

    Where an edge's finer tier is gone (`raw_from`, `hourly_from`: where the kept raw
    results and hourly rows begin), the edge widens to the enclosing hour or day: the whole
    period is a better answer than none."""
    if until <= since:
        return Plan()
    hour_a = ceil_to(since, HOUR)
    if raw_from is not None and since < raw_from:
        hour_a = floor_to(since, HOUR)
    hour_b = min(floor_to(until, HOUR), hourly_through if hourly_through is not None else -math.inf)
    if hour_b <= hour_a:
        return Plan(raw=((since, until),))
    day_a = ceil_to(hour_a, DAY)
    if hourly_from is not None and hour_a < hourly_from:
        day_a = floor_to(hour_a, DAY)
    day_b = min(floor_to(hour_b, DAY), daily_through if daily_through is not None else -math.inf)
    daily: tuple[tuple[float, float], ...] = ()
    hourly: tuple[tuple[float, float], ...] = ((hour_a, hour_b),)
    if day_b > day_a:
        daily = ((day_a, day_b),)
        hourly = tuple(span for span in ((hour_a, day_a), (day_b, hour_b)) if span[1] > span[0])
    first = min(hour_a, day_a) if daily else hour_a
    raw = tuple(span for span in ((since, first), (hour_b, until)) if span[1] > span[0])
    return Plan(raw=raw, hourly=hourly, daily=daily)
