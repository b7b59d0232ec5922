"""The daemon's storage watch: records runs through the backlog, keeps `StorageHealth` true,
fires and resolves `opsd.storage`, sets `opsd_storage_healthy`. One per daemon (it outlives
reloads; a reload to another `storage.path` starts a fresh health record)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from opsd import metrics
from opsd.daemon.run_backlog import Pending, RunBacklog
from opsd.daemon.storage_alert import StorageAlert
from opsd.daemon.storage_health import (
    StorageHealth,
    had_history,
    identity_of,
    mark_opened,
)
from opsd.logs import event
from opsd.store import probe
from opsd.store.database import StoreBusyError, StoreError
from opsd.store.owner import StoreThread

if TYPE_CHECKING:
    from opsd.app import App
    from opsd.playbooks import Playbook
    from opsd.results import RunReport
    from opsd.runner import Observer

log = logging.getLogger("opsd.daemon")


class StorageWatch:
    """See the module docstring; `clock` is the daemon's wall clock."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.health: StorageHealth | None = None
        self.backlog = RunBacklog()
        self.alert = StorageAlert()
        self._alerting = asyncio.Lock()

    async def open(self, app: App) -> None:
        """Open `app`'s store off the loop; warn when a previous database at the path is gone."""
        path = Path(app.settings.storage.path)
        empty = had_history(path)
        await asyncio.to_thread(lambda: app.store)
        if empty:
            event(log, f"starting an empty history at {path}: the database that was there "
                  "is gone", level=logging.WARNING)
        self._watch(path)

    def _watch(self, path: Path) -> None:
        self.health = StorageHealth(path, identity_of(path))
        mark_opened(path)

    def reason(self) -> str | None:
        """Why storage is unhealthy (one line for /healthz), or None."""
        return self.health.reason() if self.health is not None else None

    async def record(
        self, app: App, report: RunReport, playbook: Playbook, feeders: Sequence[Observer]
    ) -> None:
        """The runner's recorder: record `report` after the runs waiting before it."""
        health = self._health_of(app)
        await self.backlog.submit(Pending(report, playbook, tuple(feeders)), app.store, health)
        await self._publish(app)

    async def probe(self, app: App) -> None:
        """The store probe's part: compare the file, retry waiting runs and writes."""
        health = self._health_of(app)
        health.check_file(identity_of(health.path))
        await self.backlog.flush(app.store, health)
        app.store.flush_deferred()
        await self._publish(app)

    def _health_of(self, app: App) -> StorageHealth:
        path = Path(app.settings.storage.path)
        if self.health is None or self.health.path != path:
            self._watch(path)
        assert self.health is not None
        return self.health

    async def _publish(self, app: App) -> None:
        reason = self.reason()
        metrics.set_storage_healthy(reason is None)
        if (reason is None) == (self.alert.firing is None):
            return  # nothing to fire or resolve
        async with self._alerting:  # one at a time: it blocks while it sends
            try:
                await asyncio.to_thread(
                    self.alert.update, app.settings, app.store, self.reason(), self.clock()
                )
            except (StoreError, OSError) as exc:  # resolving needs the store: next probe
                event(log, "storage alert not updated", level=logging.WARNING, error=str(exc))


async def lock_free(store: StoreThread) -> bool:
    """True unless another process holds the write lock right now (asked briefly)."""
    try:
        return await store.call_brief(probe.lock_free)
    except StoreBusyError:
        return False
