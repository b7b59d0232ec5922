"""The daemon's store probes: can a write transaction start, and is the write lock free now?

Another process's write lock is a delay, not a fault: these probes tell the two apart and
wait for the lock only briefly, so they never hold the store's queue.
"""

from __future__ import annotations

import sqlite3

from opsd.store.database import Store, StoreBusyError, StoreError

PROBE_BUSY_WAIT = 0.05
"""Seconds a probe waits for another process's write lock."""


def writable_unless_busy(store: Store) -> bool:
    """False when a write transaction cannot start (read-only, I/O error); True when it can or
    another process holds the lock."""
    try:
        with store.busy_wait(PROBE_BUSY_WAIT), store.transaction() as conn:
            conn.execute("SELECT 1")
    except StoreBusyError:
        return True
    except (sqlite3.Error, StoreError):
        return False
    return True


def lock_free(store: Store) -> bool:
    """True unless another process holds the write lock right now."""
    try:
        with store.busy_wait(PROBE_BUSY_WAIT), store.transaction():
            return True
    except StoreBusyError:
        return False
