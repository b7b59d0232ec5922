"""Report periods: calendar days, ISO weeks and months in the scheduler's time zone, across
DST changes and month and year boundaries; the current period so far or the previous one."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from opsd.reports.gather import days_of
from opsd.reports.period import period_of

BERLIN = "Europe/Berlin"


def at(tz: str, *parts: int) -> float:
    return dt.datetime(*parts, tzinfo=zoneinfo.ZoneInfo(tz)).timestamp()


def test_daily_is_the_calendar_day_so_far_or_yesterday() -> None:
    now = at(BERLIN, 2026, 11, 30, 18, 0)
    today = period_of("daily", now, BERLIN)
    assert (today.key, today.start, today.end) == (
        "2026-11-30", at(BERLIN, 2026, 11, 30), at(BERLIN, 2026, 12, 1))
    assert today.until == now and not today.complete
    assert today.title == "opsd daily report 2026-11-30"
    yesterday = period_of("daily", now, BERLIN, previous=True)
    assert yesterday.key == "2026-11-29" and yesterday.complete
    assert yesterday.until == yesterday.end == today.start


def test_weekly_is_the_iso_week_monday_to_sunday() -> None:
    sunday_night = at(BERLIN, 2026, 11, 29, 23, 59)
    week = period_of("weekly", sunday_night, BERLIN)
    assert week.key == "2026-W48"
    assert (week.start, week.end) == (at(BERLIN, 2026, 11, 23), at(BERLIN, 2026, 11, 30))
    monday = period_of("weekly", at(BERLIN, 2026, 11, 30, 8, 0), BERLIN, previous=True)
    assert monday == period_of("weekly", week.end, BERLIN, previous=True)
    assert monday.key == "2026-W48" and monday.complete


def test_iso_week_across_the_new_year_takes_the_iso_year() -> None:
    week = period_of("weekly", at(BERLIN, 2027, 1, 1, 12, 0), BERLIN)
    assert week.key == "2026-W53"
    assert week.start == at(BERLIN, 2026, 12, 28)
    assert period_of("weekly", at(BERLIN, 2027, 1, 4, 0, 0), BERLIN).key == "2027-W01"


def test_dst_week_and_day_are_local_midnight_to_local_midnight() -> None:
    # Clocks go back on Sunday 25 October 2026 in Berlin: that day has 25 hours.
    week = period_of("weekly", at(BERLIN, 2026, 10, 25, 12, 0), BERLIN)
    assert week.end - week.start == 7 * 86400 + 3600
    day = period_of("daily", at(BERLIN, 2026, 10, 25, 12, 0), BERLIN)
    assert day.end - day.start == 25 * 3600
    spring = period_of("daily", at(BERLIN, 2026, 3, 29, 12, 0), BERLIN)
    assert spring.end - spring.start == 23 * 3600
    complete = period_of("weekly", at(BERLIN, 2026, 10, 26, 9, 0), BERLIN, previous=True)
    assert [end - start for start, end in days_of(complete)] == [86400] * 6 + [90000]


def test_a_skipped_midnight_starts_the_day_when_the_clocks_jump() -> None:
    # America/Havana springs forward at midnight: 2026-03-08 00:00 does not exist.
    havana = "America/Havana"
    day = period_of("daily", at(havana, 2026, 3, 8, 12, 0), havana)
    assert day.key == "2026-03-08"
    assert dt.datetime.fromtimestamp(day.start, zoneinfo.ZoneInfo(havana)).hour == 1
    assert day.end - day.start == 23 * 3600


@pytest.mark.parametrize(("moment", "key", "days"), [
    ((2026, 2, 14, 10, 0), "2026-02", 28),
    ((2028, 2, 29, 23, 0), "2028-02", 29),
    ((2026, 12, 31, 23, 59), "2026-12", 31),
    ((2026, 4, 1, 0, 0), "2026-04", 30),
])
def test_monthly_is_the_calendar_month(moment: tuple[int, ...], key: str, days: int) -> None:
    month = period_of("monthly", at("UTC", *moment), "UTC")
    assert month.key == key
    assert month.end - month.start == days * 86400


def test_previous_month_across_the_year_boundary() -> None:
    january = period_of("monthly", at(BERLIN, 2027, 1, 1, 9, 0), BERLIN, previous=True)
    assert january.key == "2026-12" and january.complete
    assert (january.start, january.end) == (at(BERLIN, 2026, 12, 1), at(BERLIN, 2027, 1, 1))
