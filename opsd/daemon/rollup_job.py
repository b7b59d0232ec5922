"""The daemon's rollup timer: at start (after the alert replay) and every few minutes, roll up
the complete hours and days not rolled up yet and apply each tier's retention
(`opsd.store.rollups`), in short chunks on the store's thread, so other queries run between
them and no write transaction lasts long.

Pruning raw results here, minutes after their retention ends, rather than only when the
weekly `maintenance.retention` runs, is what keeps the history's size steady: at 60 results a
minute a week of raw results is most of it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from opsd.daemon.storage_watch import lock_free
from opsd.exception_text import describe_exception
from opsd.logs import event
from opsd.store import rollups

if TYPE_CHECKING:
    from opsd.daemon.service import Daemon

log = logging.getLogger("opsd.daemon")

INTERVAL_SECONDS = 300.0
"""How often the daemon rolls up and prunes (an hour is due SETTLE_SECONDS after its end)."""


def timer(daemon: Daemon, inflight: set[asyncio.Task]) -> Callable[[], Awaitable[None]]:
    """The timer's job: `run` with the daemon's current app, tracked in `inflight` so a
    shutdown lets a chunk finish (and cancels the rest after `scheduler.shutdown_timeout`)."""

    async def roll_up() -> None:
        task = asyncio.current_task()
        assert task is not None
        inflight.add(task)
        try:
            await run(daemon)
        except asyncio.CancelledError:
            pass  # the shutdown deadline: every finished chunk is committed, the rest waits
        finally:
            inflight.discard(task)

    return roll_up


async def run(daemon: Daemon) -> None:
    """Roll up what is due, then prune every tier; one log line when something changed, one
    warning when it failed (the next round tries again)."""
    app = daemon.app
    if not await lock_free(app.store):
        return  # another process's write lock: next round
    storage = app.settings.storage
    now = daemon.clock()
    try:
        rolled, pruned = await rollups.roll_up_and_prune(
            app.store, now, raw=storage.retention, hourly=storage.retention_hourly,
            daily=storage.retention_daily,
        )
    except Exception as exc:  # the store's trouble is /healthz's to report
        event(log, "rollup failed", level=logging.WARNING, error=describe_exception(exc))
        return
    if rolled.hours or rolled.days or rolled.late:
        event(log, "rolled up", hours=rolled.hours, days=rolled.days, late_hours=rolled.late,
              pruned_runs=pruned.runs)
