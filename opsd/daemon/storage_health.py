"""Storage health: is the daemon still recording its runs, into the file at `storage.path`?

Two faults make the history silently stop growing, and both must be loud: a run that cannot be
recorded (disk full, a read-only database, an I/O error) and a database file deleted or
replaced while open (SQLite goes on writing into the unlinked file, which nobody reads). The
daemon records the file's identity `(st_dev, st_ino)` when its store opens and compares it
with `os.stat(storage.path)` on every store probe and before every recording.

`StorageHealth` is pure state: the daemon tells it what happened, /healthz and the
`opsd.storage` alert read `reason()`. A held write lock is not a fault (runs wait in memory
and are recorded when it is released): `failed` is only told about real failures.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
from pathlib import Path

from opsd.daemon.lock import lock_path
from opsd.store.database import StoreBusyError, StoreError

STORAGE_CHECK = "opsd.storage"
"""Check and kind of the daemon's own storage alert."""
MARKER_SUFFIX = ".opened"
"""`<storage.path>.opened`: written when a database opens, evidence that history existed."""


@dataclasses.dataclass(frozen=True)
class FileIdentity:
    """Which file a path names: device and inode."""

    dev: int
    ino: int


def identity_of(path: Path) -> FileIdentity | None:
    """The identity of the file at `path` now; None if there is none."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return FileIdentity(found.st_dev, found.st_ino)


def failure_text(error: BaseException, path: Path) -> str:
    """SQLite's words for a failure to write (`database or disk is full`), without the
    `storage.path: PATH:` prefix the store puts on them."""
    text = str(error)
    for prefix in (f"storage.path: {path}: ", "storage.path: "):
        text = text.removeprefix(prefix)
    return text.strip() or type(error).__name__


def is_fault(error: BaseException) -> bool:
    """True for a failure that makes storage unhealthy; a busy lock is only a delay."""
    return not isinstance(error, StoreBusyError)


def is_store_error(error: BaseException) -> bool:
    """True for the errors a recording can meet that keeping the run for later can fix."""
    return isinstance(error, StoreError | sqlite3.Error | OSError)


class StorageHealth:
    """What the daemon knows about its storage; read from the listener's threads."""

    def __init__(self, path: Path, opened: FileIdentity | None) -> None:
        self.path = path
        self.opened = opened
        self.record_failure: str | None = None
        self.replaced = False

    def recorded(self) -> None:
        """A run (or a buffered one) was recorded: recording works."""
        self.record_failure = None

    def failed(self, error: BaseException) -> None:
        """Recording failed for `error` (ignored if it is only a busy lock)."""
        if is_fault(error):
            self.record_failure = failure_text(error, self.path)

    def check_file(self, current: FileIdentity | None) -> bool:
        """Compare the file at the path now with the one opened; True while it is the same.
        Once replaced or deleted, it stays so: only a restart opens the new file."""
        if self.opened is not None and current != self.opened:
            self.replaced = True
        return not self.replaced

    @property
    def healthy(self) -> bool:
        return self.reason() is None

    def reason(self) -> str | None:
        """One line for /healthz and the alert, or None when storage is fine."""
        if self.replaced:
            return (f"storage: {self.path} was deleted or replaced while open; runs are not "
                    "recorded: restart opsd to start a new history")
        if self.record_failure is not None:
            return f"storage: cannot record runs: {self.record_failure} ({self.path})"
        return None


def marker_path(path: Path) -> Path:
    return path.with_name(path.name + MARKER_SUFFIX)


def had_history(path: Path) -> bool:
    """True when `path` has no database although one was opened there before (its marker, or
    the `.lock` file of a previous daemon, is beside it): a restart after a deletion."""
    if path.exists():
        return False
    return marker_path(path).exists() or lock_path(path).exists()


def mark_opened(path: Path) -> None:
    """Leave the marker `had_history` looks for (best effort: its absence loses only a log
    line)."""
    try:
        marker_path(path).touch(mode=0o600, exist_ok=True)
    except OSError:
        return
