"""The period a report covers, in the scheduler's time zone.

A daily report covers a calendar day, a weekly one an ISO week (Monday to Sunday), a monthly
one a calendar month, each from local midnight to local midnight: a day of a DST change is
23 or 25 hours long, and a week holding one is 167 or 169.

By default a report covers **the current period so far** (from its start to now): the evening
playbook's 18:00 daily report is about today. `previous=True` (`opsd report weekly
--previous`, the `report` kind's `previous = true`) covers **the last complete period**: the
Monday-morning weekly report is about last week, the monthly one of the 1st about last month.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from typing import Literal

PeriodKind = Literal["daily", "weekly", "monthly"]
KINDS: tuple[PeriodKind, ...] = ("daily", "weekly", "monthly")


@dataclasses.dataclass(frozen=True)
class Period:
    """One report period: [start, end) in UTC epoch seconds, and `until`, where its data stops
    (now for the current period, `end` for a complete one)."""

    kind: PeriodKind
    start: float
    end: float
    until: float
    key: str
    """"2026-11-30", "2026-W48" (ISO week) or "2026-11": one Notion page per key."""
    timezone: str

    @property
    def title(self) -> str:
        return f"opsd {self.kind} report {self.key}"

    @property
    def complete(self) -> bool:
        return self.until >= self.end

    @property
    def length(self) -> float:
        """Seconds the report covers (the part of the period up to `until`)."""
        return self.until - self.start

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "key": self.key, "title": self.title, "start": self.start,
                "end": self.end, "until": self.until, "timezone": self.timezone,
                "complete": self.complete}


def period_of(kind: PeriodKind, now: float, timezone: str, *, previous: bool = False) -> Period:
    """The `kind` period holding `now` (so far), or with `previous` the one before it."""
    tz = zoneinfo.ZoneInfo(timezone)
    today = dt.datetime.fromtimestamp(now, tz).date()
    first = _first_day(kind, today)
    if previous:
        first = _first_day(kind, first - dt.timedelta(days=1))
    after = _next_first_day(kind, first)
    start, end = _midnight(first, tz), _midnight(after, tz)
    return Period(kind, start, end, min(now, end), _key(kind, first), timezone)


def _first_day(kind: PeriodKind, day: dt.date) -> dt.date:
    if kind == "daily":
        return day
    if kind == "weekly":
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1)


def _next_first_day(kind: PeriodKind, first: dt.date) -> dt.date:
    if kind == "daily":
        return first + dt.timedelta(days=1)
    if kind == "weekly":
        return first + dt.timedelta(days=7)
    return (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _midnight(day: dt.date, tz: zoneinfo.ZoneInfo) -> float:
    """The epoch of `day`'s first instant in `tz` (where midnight is skipped by a DST change,
    the instant the clocks jump to)."""
    naive = dt.datetime(day.year, day.month, day.day)
    local = naive.replace(tzinfo=tz)
    roundtrip = dt.datetime.fromtimestamp(local.timestamp(), tz).replace(tzinfo=None)
    if roundtrip.date() != day:  # a skipped midnight resolved into the day before
        local = local.replace(fold=1)
    return local.timestamp()


def _key(kind: PeriodKind, first: dt.date) -> str:
    if kind == "daily":
        return first.isoformat()
    if kind == "weekly":
        year, week, _ = first.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{first.year}-{first.month:02d}"
