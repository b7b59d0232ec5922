"""When playbooks run: APScheduler jobs in the configured time zone, and catch-up at start.

Catch-up is computed from the run records in SQLite, not from a persistent job store: a
playbook that never ran, or whose last run is older than its previous scheduled fire time,
runs once right after start. Each scheduled playbook is one job (`max_instances=1`,
`coalesce=True`), and a catch-up is that same job fired early, so a catch-up and a regular
fire can never overlap.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from opsd.logs import event
from opsd.playbooks import Playbook

log = logging.getLogger("opsd.scheduler")  # the name operators filter on (unchanged)

RunPlaybook = Callable[[Playbook, str], Awaitable[Any]]
"""Runs one playbook with a trigger label ("schedule" or "catch-up")."""

_JOB_PREFIX = "playbook:"
# Kinds that judge what other checks recorded: after a restart they catch up last, on fresh
# probes rather than on the gap the restart left.
HISTORY_KINDS = frozenset({"history.trend", "notion.availability"})


def catch_up_due(
    playbook: Playbook, last_started: float | None, timezone: str, now: dt.datetime
) -> bool:
    """True if a scheduled playbook missed its previous fire time (or has never run)."""
    if not playbook.scheduled:
        return False
    if last_started is None:
        return True
    previous = playbook.previous_run(timezone, now)
    return previous is not None and last_started < previous.timestamp()


def first_fire_time(
    playbook: Playbook, last_started: float | None, timezone: str, now: dt.datetime
) -> dt.datetime | None:
    """When the playbook's job first fires: now for a catch-up; for an interval playbook,
    one interval after its last run (keeping its cadence across restarts); else None, which
    leaves it to the trigger."""
    if catch_up_due(playbook, last_started, timezone, now):
        return now
    if playbook.every and last_started is not None:
        return dt.datetime.fromtimestamp(last_started + playbook.every, now.tzinfo)
    return None


def catch_up_order(playbooks: Iterable[Playbook]) -> list[Playbook]:
    """Catch-ups in the order they fire: playbooks that probe, then those judging history."""
    return sorted(playbooks, key=lambda p: any(s.kind in HISTORY_KINDS for s in p.checks))


class PlaybookScheduler:
    """One APScheduler job per scheduled playbook, plus plain timers (outbox retries)."""

    def __init__(self, timezone: str, run: RunPlaybook) -> None:
        self.timezone = timezone
        self._run = run
        self._playbooks: dict[str, Playbook] = {}
        self._catch_up: set[str] = set()
        self._scheduler = AsyncIOScheduler(
            timezone=zoneinfo.ZoneInfo(timezone),
            # A late fire still runs (once, coalesced) instead of being dropped as misfired.
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

    def start(self) -> None:
        self._scheduler.start()

    def pause(self) -> None:
        """Stop firing jobs; running ones continue."""
        if self._scheduler.running:
            self._scheduler.pause()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def schedule(
        self,
        playbooks: Iterable[Playbook],
        last_started: Callable[[str], float | None],
        now: dt.datetime,
        timezone: str | None = None,
        catch_up_spacing: float = 0.0,
    ) -> list[str]:
        """Replace the playbook jobs with `playbooks`; returns the names due for catch-up.

        Catch-ups fire `catch_up_spacing` seconds apart (`catch_up_order`), so that a slow
        host is not judged by all of them probing at once."""
        if timezone and timezone != self.timezone:
            self.timezone = timezone
            self._scheduler.configure(timezone=zoneinfo.ZoneInfo(timezone))
        now = now.astimezone(zoneinfo.ZoneInfo(self.timezone))
        for job in self._scheduler.get_jobs():
            if job.id.startswith(_JOB_PREFIX):
                job.remove()
        self._playbooks = {p.name: p for p in playbooks if p.scheduled}
        self._catch_up = set()
        firsts = {
            p.name: first_fire_time(p, last_started(p.name), self.timezone, now)
            for p in self._playbooks.values()
        }
        due = catch_up_order(p for p in self._playbooks.values() if firsts[p.name] == now)
        for position, playbook in enumerate(due):
            self._catch_up.add(playbook.name)
            firsts[playbook.name] = now + dt.timedelta(seconds=position * catch_up_spacing)
        for playbook in self._playbooks.values():
            first = firsts[playbook.name]
            options = {"next_run_time": first} if first is not None else {}
            self._scheduler.add_job(
                self._fire, playbook.trigger(self.timezone), args=[playbook.name],
                id=_JOB_PREFIX + playbook.name, name=playbook.name, **options,
            )
        return sorted(self._catch_up)

    def add_timer(self, name: str, seconds: float, func: Callable[[], Awaitable[Any]], *,
                  at_once: bool = False) -> None:
        """Run `func` every `seconds` (one instance at a time); `at_once`: first right away."""
        first = {"next_run_time": dt.datetime.now(self._scheduler.timezone)} if at_once else {}
        self._scheduler.add_job(func, "interval", seconds=seconds, id=name, name=name,
                                replace_existing=True, **first)

    def next_runs(self) -> dict[str, dt.datetime]:
        """The next fire time of every playbook job."""
        return {
            job.name: job.next_run_time
            for job in self._scheduler.get_jobs()
            if job.id.startswith(_JOB_PREFIX) and job.next_run_time is not None
        }

    async def _fire(self, name: str) -> None:
        playbook = self._playbooks.get(name)
        if playbook is None:
            return
        trigger = "catch-up" if name in self._catch_up else "schedule"
        self._catch_up.discard(name)
        try:
            await self._run(playbook, trigger)
        except Exception:
            # APScheduler would log this as a multi-line traceback; keep it to one event.
            event(log, "playbook run failed", level=logging.ERROR, playbook=name,
                  trigger=trigger, exc_info=True)
