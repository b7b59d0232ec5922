"""Runs the daemon could not record yet, kept in memory and recorded in order later.

A run meets the store in one of three states: free (recorded at once, then fed to the alert
engine), busy (another process holds the write lock: the run waits here, and nothing waits
for the lock's whole busy timeout), or broken (disk full, read-only, I/O error: the run waits
here and `StorageHealth` says why). Each new run and each store probe retries the oldest first,
so history has no gap and keeps its order. The backlog is bounded (the last `limit` runs);
into a database file that was deleted or replaced nothing is written: the fix is a restart.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from opsd.daemon.storage_health import StorageHealth, identity_of, is_store_error
from opsd.errors import OpsdError
from opsd.logs import event
from opsd.store import StoreBusyError, runs

if TYPE_CHECKING:
    from opsd.playbooks import Playbook
    from opsd.results import RunReport
    from opsd.runner import Observer
    from opsd.store import StoreAccess

log = logging.getLogger("opsd.daemon")

BACKLOG_LIMIT = 100
"""Runs kept in memory while they cannot be recorded; older ones are dropped (and counted)."""


@dataclasses.dataclass
class Pending:
    """A finished run not yet through the store; `feeders` feed it to the alert engine."""

    report: RunReport
    playbook: Playbook
    feeders: Sequence[Observer] = ()
    recorded: bool = False


class RunBacklog:
    """The runs waiting for the store, oldest first."""

    def __init__(self, limit: int = BACKLOG_LIMIT) -> None:
        self.entries: collections.deque[Pending] = collections.deque()
        self.limit = limit
        self.dropped = 0
        self._lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self.entries)

    async def submit(self, pending: Pending, store: StoreAccess, health: StorageHealth) -> None:
        """Record `pending` after every run waiting before it (or keep it for later)."""
        if len(self.entries) >= self.limit:
            self.entries.popleft()
            self.dropped += 1
            if self.dropped % self.limit == 1 or self.limit == 1:  # not a line per run
                event(log, "runs not recorded: too many runs waiting for the store",
                      level=logging.ERROR, playbook=pending.report.playbook,
                      dropped=self.dropped)
        self.entries.append(pending)
        await self.flush(store, health)

    async def flush(self, store: StoreAccess, health: StorageHealth) -> int:
        """Record (and feed) waiting runs in order until one fails; returns how many went."""
        done = 0
        async with self._lock:
            while self.entries:
                if not health.check_file(identity_of(health.path)):
                    return done  # never into a replaced or deleted file
                entry = self.entries[0]
                try:
                    await _record(entry, store)
                except Exception as exc:
                    if not is_store_error(exc):
                        raise
                    health.failed(exc)
                    return done
                health.recorded()
                try:
                    for feeder in entry.feeders:
                        await feeder(entry.report, entry.playbook)  # type: ignore[misc]
                except StoreBusyError:
                    return done  # recorded; fed once the lock is free
                except OpsdError as exc:  # an operational fault: one line
                    event(log, "feeding a run to the alert engine failed; it is replayed at "
                          "the next start", level=logging.ERROR,
                          playbook=entry.report.playbook, error=str(exc))
                except Exception:  # a bug: its traceback
                    log.error("feeding the %s run to the alert engine failed",
                              entry.report.playbook, exc_info=True)
                self.entries.popleft()
                done += 1
        return done


async def _record(entry: Pending, store: StoreAccess) -> None:
    if entry.recorded:
        return
    report = entry.report
    report.run_id = await store.call_brief(
        runs.record_run, report.playbook, report.results, started_at=report.started_at,
        finished_at=report.finished_at, trigger=report.trigger, alerted=not entry.feeders,
    )
    entry.recorded = True
