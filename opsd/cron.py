"""Cron triggers that fire once per wall-clock time, also across daylight-saving changes.

APScheduler's CronTrigger fires twice at a wall-clock time that the autumn change repeats
(02:30 CEST, then 02:30 CET). A playbook scheduled "30 2 * * sun" should run once, as cron
does. The spring change needs nothing: a skipped time (02:30 that never happens) fires once
at the same instant an hour later on the wall clock.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

from apscheduler.triggers.cron import CronTrigger


class WallClockCronTrigger(CronTrigger):
    """CronTrigger without the second fire in the repeated hour of the autumn DST change."""

    def get_next_fire_time(
        self, previous_fire_time: dt.datetime | None, now: dt.datetime
    ) -> dt.datetime | None:
        fire = super().get_next_fire_time(previous_fire_time, now)
        repeated = (
            fire is not None and previous_fire_time is not None and fire.fold == 1
            and _wall_time(fire) == _wall_time(previous_fire_time)
        )
        return super().get_next_fire_time(fire, fire) if repeated else fire


def _wall_time(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=None, fold=0)


def validate_cron(expression: str) -> str:
    """`expression` if it is a 5-field crontab with day names; raises ValueError saying why.

    Day numbers are refused: cron counts Sunday as 0, APScheduler counts Monday as 0.
    """
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError("cron needs 5 fields: minute hour day month day-of-week")
    if re.search(r"\d", fields[4]):
        raise ValueError(
            "use day names in day-of-week (mon-fri, sun), not numbers: "
            "cron and APScheduler number the days differently"
        )
    cron_trigger(expression, "UTC")
    return expression


def cron_trigger(expression: str, timezone: str) -> WallClockCronTrigger:
    """The trigger for a 5-field crontab expression evaluated in `timezone`."""
    return WallClockCronTrigger.from_crontab(expression, timezone=zoneinfo.ZoneInfo(timezone))


def previous_fire_time(expression: str, timezone: str, now: dt.datetime) -> dt.datetime | None:
    """The last fire time of the cron `expression` at or before `now` (None if none)."""
    trigger = cron_trigger(expression, timezone)
    # Walk forward from a point far enough back to include at least one fire time.
    for lookback_days in (2, 9, 40, 400):
        cursor = now - dt.timedelta(days=lookback_days)
        previous = None
        fire = trigger.get_next_fire_time(None, cursor)
        while fire is not None and fire <= now:
            previous = fire
            # `now`, not `fire + 1s`: wall-clock arithmetic drops the DST fold, so after
            # the repeated hour the trigger would return the same fire time forever.
            fire = trigger.get_next_fire_time(fire, now)
        if previous is not None:
            return previous
    return None


def upcoming_fire_times(
    expression: str, timezone: str, start: dt.datetime, days: float = 35.0, limit: int = 64
) -> list[dt.datetime]:
    """The fire times of the cron `expression` from `start` on, for `days` (at most `limit`)."""
    trigger = cron_trigger(expression, timezone)
    until = start + dt.timedelta(days=days)
    fires: list[dt.datetime] = []
    fire = trigger.get_next_fire_time(None, start)
    while fire is not None and fire <= until and len(fires) < limit:
        fires.append(fire)
        fire = trigger.get_next_fire_time(fire, fire)
    return fires
