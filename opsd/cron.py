"""Cron triggers that fire once per wall-clock time, also across daylight-saving changes.

APScheduler's CronTrigger fires twice at a wall-clock time that the autumn change repeats
(02:30 CEST, then 02:30 CET). A playbook scheduled "30 2 * * sun" should run once, as cron
does. The spring change needs nothing: a skipped time (02:30 that never happens) fires once
at the same instant an hour later on the wall clock.
"""

from __future__ import annotations

import datetime as dt
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


def cron_trigger(expression: str, timezone: str) -> WallClockCronTrigger:
    """The trigger for a 5-field crontab expression evaluated in `timezone`."""
    return WallClockCronTrigger.from_crontab(expression, timezone=zoneinfo.ZoneInfo(timezone))
