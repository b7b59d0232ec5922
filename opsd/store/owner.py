"""The daemon's store: one owner thread runs every SQLite call, one at a time, in order.

The event loop never touches SQLite: it awaits `call(...)`, which runs on the owner thread, so a
lock held by another process (a CLI command, a backup) delays only the store's queue, never the
scheduler, the checks or /healthz. Other threads (alert delivery) use `run(...)`, which blocks
only them. Writes nobody waits for (the Notion request log) go through `post(...)`: queued,
still in order with everything else.

A write lock held by another process must cost the daemon nothing: work a check depends on uses
`call_brief` (a short busy wait, and a bounded wait for the queue, so the caller can fall back
on what it has in memory), and writes nobody waits for use `defer` (kept in memory while the
lock is held and written in order once it is free), so no job holds the queue for the whole
busy timeout on their behalf.

No connection is shared between threads: the `Store` is opened, used and closed on the owner
thread alone.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from opsd.store.database import DAEMON_BUSY_TIMEOUT, Store, StoreBusyError

P = ParamSpec("P")
T = TypeVar("T")

log = logging.getLogger(__name__)

BRIEF_BUSY_WAIT = 0.05
"""Seconds a `call_brief` or deferred write waits for another process's write lock."""
BRIEF_QUEUE_WAIT = 0.5
"""Seconds a `call_brief` caller waits for its turn on the owner thread before giving up."""
DEFERRED_LIMIT = 10_000
"""Deferred writes kept in memory while the lock is held; the oldest go beyond this."""


class StoreThread:
    """A `Store` owned by one thread; same `run`/`call`/`post` protocol as `Store`."""

    def __init__(self, opener: Callable[[], Store]) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opsd-store")
        self._thread: threading.Thread | None = None
        self._pending: dict[int, float] = {}  # job id -> monotonic time it was queued
        self._next_id = 0
        self._lock = threading.Lock()
        self._deferred: collections.deque[tuple[Callable[..., Any], tuple, dict]] = (
            collections.deque(maxlen=DEFERRED_LIMIT)
        )
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

    async def call_brief(
        self, fn: Callable[Concatenate[Store, P], T], *args: P.args, **kw: P.kwargs
    ) -> T:
        """`call`, but giving up soon on a foreign write lock: `StoreBusyError` after
        BRIEF_BUSY_WAIT on the lock, or BRIEF_QUEUE_WAIT for the queue (the job is then
        dropped if it has not started)."""
        import asyncio

        future = self._submit(self._briefly, fn, *args, **kw)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), BRIEF_QUEUE_WAIT)
        except TimeoutError:
            raise StoreBusyError(
                f"the database is busy: its queue did not answer in {BRIEF_QUEUE_WAIT:g}s"
            ) from None

    def defer(self, fn: Callable[Concatenate[Store, P], Any], *args: P.args, **kw: P.kwargs
              ) -> None:
        """Queue a write nobody waits for; while another process holds the write lock it is
        kept in memory (up to DEFERRED_LIMIT) and written in order later."""
        with self._lock:
            self._deferred.append((fn, args, kw))
        self.post(_flush_deferred, self)

    def flush_deferred(self) -> None:
        """Try the writes kept in memory again (the store probe calls this)."""
        if self._deferred:
            self.post(_flush_deferred, self)

    @staticmethod
    def _briefly(store: Store, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """`fn(store, ...)` with the connection's busy wait cut to BRIEF_BUSY_WAIT."""
        with store.busy_wait(BRIEF_BUSY_WAIT):
            return fn(store, *args, **kw)

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


def _flush_deferred(store: Store, owner: StoreThread) -> int:
    """Write the deferred jobs, oldest first, until one meets the foreign lock (it stays, with
    those behind it); returns how many were written. A job that fails otherwise is logged and
    dropped."""
    written = 0
    with store.busy_wait(BRIEF_BUSY_WAIT):
        while True:
            with owner._lock:
                if not owner._deferred:
                    return written
                fn, args, kw = owner._deferred[0]
            try:
                fn(store, *args, **kw)
            except StoreBusyError:
                return written
            except Exception as exc:
                log.warning("store write failed: %s", exc)
            with owner._lock:
                owner._deferred.popleft()
            written += 1


def _log_failure(future: Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("store write failed: %s", future.exception())
