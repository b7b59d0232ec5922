"""Scheduling: catch-up from run records, interval cadence, DST changes (frozen clock), and the
APScheduler wiring (one instance at a time, catch-up then schedule)."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import zoneinfo

import pytest
from freezegun import freeze_time

from opsd.daemon.scheduler import PlaybookScheduler, catch_up_due, first_fire_time
from opsd.playbooks import Playbook

BERLIN = "Europe/Berlin"
UTC = dt.UTC
HANG = 60.0  # a deadline that only bounds a hang


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def fires(playbook: Playbook, timezone: str, start: dt.datetime, count: int) -> list[dt.datetime]:
    """The next `count` fire times after `start`, as APScheduler walks them, in UTC."""
    trigger = playbook.trigger(timezone)
    fire = trigger.get_next_fire_time(None, start)
    found = []
    while fire is not None and len(found) < count:
        found.append(fire.astimezone(UTC))
        fire = trigger.get_next_fire_time(fire, fire)
    return found


# --- catch-up ----------------------------------------------------------------------------------


def test_a_playbook_that_never_ran_is_due_and_an_on_demand_one_never():
    now = utc(2025, 6, 2, 12)
    assert catch_up_due(Playbook(name="daily", schedule="0 7 * * mon-fri"), None, BERLIN, now)
    assert not catch_up_due(Playbook(name="emergency"), None, BERLIN, now)


def test_cron_playbook_is_due_only_when_its_last_run_predates_the_previous_fire():
    daily = Playbook(name="daily", schedule="0 7 * * mon-fri")
    monday_noon = utc(2025, 6, 2, 10)  # 12:00 CEST
    friday_run = utc(2025, 5, 30, 5, 0, 1).timestamp()  # Friday 07:00:01 CEST
    monday_run = utc(2025, 6, 2, 5, 0, 1).timestamp()
    assert catch_up_due(daily, friday_run, BERLIN, monday_noon)
    assert not catch_up_due(daily, monday_run, BERLIN, monday_noon)
    # Sunday: the previous fire is still Friday's, so Friday's run is enough.
    assert not catch_up_due(daily, friday_run, BERLIN, utc(2025, 6, 1, 10))


def test_interval_playbook_keeps_its_cadence_across_a_restart():
    realtime = Playbook(name="realtime", every=60)
    now = utc(2025, 6, 2, 12)
    last = now.timestamp() - 20
    assert not catch_up_due(realtime, last, "UTC", now)
    assert first_fire_time(realtime, last, "UTC", now) == utc(2025, 6, 2, 12, 0, 40)
    assert first_fire_time(realtime, now.timestamp() - 61, "UTC", now) == now
    assert first_fire_time(realtime, None, "UTC", now) == now


def test_cron_playbook_not_due_is_left_to_its_trigger():
    daily = Playbook(name="daily", schedule="0 7 * * *")
    now = utc(2025, 6, 2, 10)
    assert first_fire_time(daily, now.timestamp() - 60, BERLIN, now) is None


# --- daylight-saving changes (Europe/Berlin: 2025-03-30 02:00 -> 03:00, 2025-10-26 03:00 -> 02:00)


@freeze_time("2025-03-29 12:00:00")
def test_spring_forward_keeps_the_wall_clock_time():
    daily = Playbook(name="daily", schedule="0 7 * * *")
    next_run = daily.next_run(BERLIN)
    assert next_run is not None
    assert next_run.astimezone(UTC) == utc(2025, 3, 30, 5)  # 07:00 CEST, no longer 06:00 UTC
    assert next_run.strftime("%H:%M %Z") == "07:00 CEST"


@freeze_time("2025-03-30 06:00:00")
def test_catch_up_after_sleeping_through_the_spring_change():
    daily = Playbook(name="daily", schedule="0 7 * * *")
    now = dt.datetime.now(zoneinfo.ZoneInfo(BERLIN))  # 08:00 CEST, frozen
    saturday = utc(2025, 3, 29, 6, 0, 1).timestamp()  # 07:00:01 CET
    assert catch_up_due(daily, saturday, BERLIN, now)
    assert not catch_up_due(daily, utc(2025, 3, 30, 5, 0, 1).timestamp(), BERLIN, now)


def test_a_time_skipped_by_the_spring_change_fires_once():
    nightly = Playbook(name="nightly", schedule="30 2 * * *")
    assert fires(nightly, BERLIN, utc(2025, 3, 29, 12), 2) == [
        utc(2025, 3, 30, 1, 30),  # 02:30 does not exist that night: it runs at 03:30 CEST
        utc(2025, 3, 31, 0, 30),
    ]


def test_a_time_repeated_by_the_autumn_change_fires_once():
    nightly = Playbook(name="nightly", schedule="30 2 * * *")
    assert fires(nightly, BERLIN, utc(2025, 10, 25, 12), 3) == [
        utc(2025, 10, 26, 0, 30),  # 02:30 CEST; the second 02:30 (CET) is skipped
        utc(2025, 10, 27, 1, 30),
        utc(2025, 10, 28, 1, 30),
    ]


def test_no_catch_up_for_the_repeated_autumn_hour():
    # An explicit `now`, not freezegun: its FakeDatetime drops `fold`, the very bit that tells
    # the two 02:30s apart.
    nightly = Playbook(name="nightly", schedule="30 2 * * *")
    now = utc(2025, 10, 26, 2).astimezone(zoneinfo.ZoneInfo(BERLIN))  # 03:00 CET, after both
    assert not catch_up_due(nightly, utc(2025, 10, 26, 0, 30, 1).timestamp(), BERLIN, now)


def test_an_interval_counts_real_time_across_a_change():
    hourly = Playbook(name="hourly", every=3600)
    start = dt.datetime(2025, 3, 30, 0, 30, tzinfo=zoneinfo.ZoneInfo(BERLIN))
    found = fires(hourly, BERLIN, start, 4)
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(found)] == [3600] * 3


def test_day_of_week_names_mean_what_they_say():
    weekly = Playbook(name="weekly", schedule="0 8 * * sun")
    found = fires(weekly, BERLIN, utc(2025, 6, 2, 12), 2)  # from a Monday
    assert [f.astimezone(zoneinfo.ZoneInfo(BERLIN)).strftime("%a %H:%M") for f in found] == [
        "Sun 08:00", "Sun 08:00",
    ]


# --- APScheduler wiring ------------------------------------------------------------------------


def test_catch_up_fires_first_then_the_schedule_one_instance_at_a_time():
    from apscheduler.events import EVENT_JOB_MAX_INSTANCES

    calls: list[str] = []
    running = 0
    most = 0

    async def main() -> list[str]:
        skipped = asyncio.Event()  # a fire found the playbook still running
        scheduled = asyncio.Event()  # a regular fire ran

        async def run(playbook: Playbook, trigger: str) -> None:
            nonlocal running, most
            calls.append(trigger)
            running += 1
            most = max(most, running)
            if len(calls) == 1:  # hold the catch-up until a fire came while it ran
                await asyncio.wait_for(skipped.wait(), HANG)
            else:
                scheduled.set()
            running -= 1

        loop = asyncio.get_running_loop()
        scheduler = PlaybookScheduler("UTC", run)
        scheduler._scheduler.add_listener(
            lambda event: loop.call_soon_threadsafe(skipped.set), EVENT_JOB_MAX_INSTANCES
        )
        fast = Playbook(name="fast", every=0.05)
        now = dt.datetime.now(UTC)
        due = scheduler.schedule([fast, Playbook(name="emergency")], lambda name: None, now)
        scheduler.start()
        assert set(scheduler.next_runs()) == {"fast"}
        await asyncio.wait_for(scheduled.wait(), HANG)
        scheduler.shutdown()
        return due

    due = asyncio.run(main())
    assert due == ["fast"]
    assert calls[0] == "catch-up"
    assert set(calls[1:]) == {"schedule"}
    assert most == 1


def test_rescheduling_replaces_jobs_and_keeps_timers():
    async def run(playbook: Playbook, trigger: str) -> None:
        pytest.fail("nothing is due in this test")

    async def tick() -> None:
        return None

    async def main() -> tuple[set[str], set[str]]:
        scheduler = PlaybookScheduler("UTC", run)
        now = dt.datetime.now(UTC)
        recent = now.timestamp()
        scheduler.add_timer("outbox", 3600, tick)
        scheduler.schedule([Playbook(name="a", every=3600)], lambda name: recent, now)
        scheduler.start()
        first = set(scheduler.next_runs())
        scheduler.schedule([Playbook(name="b", every=3600)], lambda name: recent, now)
        second = set(scheduler.next_runs())
        jobs = {job.id for job in scheduler._scheduler.get_jobs()}
        scheduler.shutdown()
        assert "outbox" in jobs
        return first, second

    assert asyncio.run(main()) == ({"a"}, {"b"})
