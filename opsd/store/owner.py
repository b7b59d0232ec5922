"""The daemon's store: one owner thread runs every SQLite call, one at a time, in order.

The event loop never touches SQLite: it awaits `call(...)`, which runs on the owner thread, so a
lock held by another process (a CLI command, a backup) delays only the store's queue, never the
scheduler, the checks or /healthz. Other threads (alert delivery) use `run(...)`, which blocks
only them. Writes nobody waits for (the Notion request log) go through `post(...)`: queued,
still in order with everything else.

No connection is shared between threads: the `Store` is opened, used and closed on the owner
thread alone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from opsd.store.database import DAEMON_BUSY_TIMEOUT, Store

P = ParamSpec("P")
T = TypeVar("T")

log = logging.getLogger(__name__)


class StoreThread:
    """A `Store` owned by one thread; same `run`/`call`/`post` protocol as `Store`."""

    def __init__(self, opener: Callable[[], Store]) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opsd-store")
        self._thread: threading.Thread | None = None
        self._pending: dict[int, float] = {}  # job id -> monotonic time it was queued
        self._next_id = 0
        self._lock = threading.Lock()
        self.store = self._executor.submit(self._open, opener).result()

    @classmethod
    def open(cls, path: str | Path, *, busy_timeout: float = DAEMON_BUSY_TIMEOUT) -> StoreThread:
        """Open and migrate the database at `path` on a new owner thread."""
        return cls(lambda: Store.open(path, busy_timeout=busy_timeout))

    def _open(self, opener: Callable[[], Store]) -> Store:
        self._thread = threading.current_thread()
        return opener()

    # --- the access protocol ---------------------------------------------------------------

    def run(self, fn: Callable[Concatenate[Store, P], T], *args: P.args, **kw: P.kwargs) -> T:
        """`fn(store, ...)` on the owner thread, blocking the calling thread (not the loop's)."""
        if threading.current_thread() is self._thread:
            return fn(self.store, *args, **kw)
        return self._submit(fn, *args, **kw).result()

    async def call(
        self, fn: Callable[Concatenate[Store, P], T], *args: P.args, **kw: P.kwargs
    ) -> T:
        """`fn(store, ...)` on the owner thread; the loop awaits it and goes on meanwhile."""
        import asyncio  # not at import time: read-only commands never start a loop

        return await asyncio.wrap_future(self._submit(fn, *args, **kw))

    def post(self, fn: Callable[Concatenate[Store, P], Any], *args: P.args, **kw: P.kwargs
             ) -> Future[Any]:
        """Queue `fn(store, ...)` without waiting; a failure is logged once."""
        future = self._submit(fn, *args, **kw)
        future.add_done_callback(_log_failure)
        return future

    # --- health ------------------------------------------------------------------------------

    def oldest_pending(self) -> float:
        """Seconds the oldest queued or running call has waited (0 when idle)."""
        with self._lock:
            oldest = min(self._pending.values(), default=None)
        return 0.0 if oldest is None else time.monotonic() - oldest

    def close(self) -> None:
        """Finish queued work, close the connection on its thread, end the thread."""
        self._executor.submit(self.store.close).result()
        self._executor.shutdown(wait=True)

    def _submit(self, fn: Callable[..., T], *args: Any, **kw: Any) -> Future[T]:
        with self._lock:
            job = self._next_id
            self._next_id += 1
            self._pending[job] = time.monotonic()
        return self._executor.submit(self._tracked, job, fn, *args, **kw)

    def _tracked(self, job: int, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        try:
            return fn(self.store, *args, **kw)
        finally:
            with self._lock:
                self._pending.pop(job, None)


def _log_failure(future: Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("store write failed: %s", future.exception())
