"""One daemon per database: the daemon's store is opened only under an exclusive lock.

Two `opsd run` on one database would both schedule, share (and halve) the Notion budget and
send every alert twice. So the daemon takes an exclusive, non-blocking `flock` on
`<storage.path>.lock` (mode 0600, holding its pid) before it opens the database, and holds it
for as long as it uses that database; the kernel releases it when the process dies, kill -9
included, so a stale file never blocks a restart. CLI commands (status, history, check, …)
take no lock and keep working beside the daemon.

Within one process the lock is shared: a reload that keeps `storage.path` opens the new store
under the lock it already holds (a second `flock` on the same file from a new descriptor
would conflict with our own); each `acquire` is paired with a `release`, and the file is
unlocked when the last holder releases it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from pathlib import Path

from opsd.errors import ConfigError


class DatabaseLocked(ConfigError):
    """Another process holds the database's daemon lock."""


class DatabaseLock:
    """This process's hold on `<database>.lock`; see the module docstring."""

    def __init__(self, database: Path, fd: int, key: Path) -> None:
        self.database = database
        self._fd = fd
        self._key = key  # the resolved path it is held under in `_held`
        self._holders = 1

    @classmethod
    def acquire(cls, database: str | os.PathLike[str]) -> DatabaseLock:
        """Lock `database` for this process (or share the hold it has); raises
        `DatabaseLocked` naming the holder's pid and the database when another process has it."""
        path = Path(database)
        key = path.resolve()
        with _guard:
            held = _held.get(key)
            if held is not None:
                held._holders += 1
                return held
            lock = cls(path, _locked_fd(path), key)
            _held[key] = lock
            return lock

    def release(self) -> None:
        """Drop one hold; the last one unlocks the file (the file itself stays)."""
        with _guard:
            self._holders -= 1
            if self._holders > 0:
                return
            _held.pop(self._key, None)
            os.close(self._fd)


_held: dict[Path, DatabaseLock] = {}
"""The locks this process holds, by resolved database path."""
_guard = threading.Lock()


def lock_path(database: Path) -> Path:
    """The lock file beside the database."""
    return database.with_name(database.name + ".lock")


def _locked_fd(database: Path) -> int:
    path = lock_path(database)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Close-on-exec: the delivery child must not inherit (and outlive us holding) the lock.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise ConfigError(f"storage.path: cannot create {path}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_pid(fd)
        os.close(fd)
        raise DatabaseLocked(f"another opsd (pid {holder}) is running on {database}") from None
    except OSError as exc:
        os.close(fd)
        raise ConfigError(f"storage.path: cannot lock {path}: {exc.strerror}") from None
    with contextlib.suppress(OSError):  # a file made by another user before: keep it private
        os.fchmod(fd, 0o600)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _read_pid(fd: int) -> str:
    """The pid the holder wrote ("unknown" in the instant between its lock and its write)."""
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return text if text.isdigit() else "unknown"
