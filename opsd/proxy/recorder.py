"""The integration's request log, written in batches off the request path.

Each forwarded request becomes one row tuple (`opsd.store.requests.INTEGRATION_COLUMNS`) in
memory; every FLUSH_EVERY seconds (or at BATCH_ROWS rows) the batch goes to the store's owner
thread as one transaction. A request never waits for SQLite. While the store fails the rows
wait (up to MAX_BACKLOG, the oldest dropped first) and /__opsd/healthz says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

from opsd.proxy import metrics
from opsd.store import requests

if TYPE_CHECKING:
    from opsd.store.owner import StoreThread

log = logging.getLogger("opsd.proxy")

FLUSH_EVERY = 0.5  # seconds between batch writes
BATCH_ROWS = 500  # rows that start a write at once
MAX_BACKLOG = 100_000  # rows kept while the store fails; the oldest go first


class Recorder:
    """Rows in memory, written by `run()` in batches to `store` (None: kept nowhere)."""

    def __init__(self, store: StoreThread | None, *, unavailable: str = "") -> None:
        self.store = store
        self.problem = unavailable  # '' while the last write succeeded
        self.written = 0
        self._rows: deque[tuple[Any, ...]] = deque(maxlen=MAX_BACKLOG)
        self._wake = asyncio.Event()

    def add(self, row: tuple[Any, ...]) -> None:
        """Queue one row (never blocks)."""
        if self.store is None:
            return
        self._rows.append(row)
        metrics.PROXY_RECORD_BACKLOG.set(len(self._rows))
        if len(self._rows) >= BATCH_ROWS:
            self._wake.set()

    async def run(self) -> None:
        """Write batches until cancelled (then once more, for what is left)."""
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), FLUSH_EVERY)
                self._wake.clear()
                await self.flush()
        finally:
            await self.flush()

    async def flush(self) -> None:
        """Write what is queued in one transaction; on failure the rows stay for next time."""
        if self.store is None or not self._rows:
            return
        batch = list(self._rows)
        try:
            self.written += await asyncio.get_running_loop().run_in_executor(
                None, self.store.run, requests.record_batch, batch)
        except Exception as exc:  # the store's failure is reported, never fatal to forwarding
            if not self.problem:
                log.warning("proxy: request log not written (rows kept in memory): %s", exc)
            self.problem = f"request log not written: {exc}"
            return
        for _ in batch:
            self._rows.popleft()
        self.problem = ""
        metrics.PROXY_RECORD_BACKLOG.set(len(self._rows))
