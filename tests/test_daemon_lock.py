"""The daemon's database lock (`opsd.daemon.lock`): exclusive against any other holder of the
lock file, shared within the process (a reload on the same database), released by the last
holder, and refused with one line naming the holder's pid and the database.

Another process is stood in for by our own second descriptor on the lock file: `flock` locks
belong to the open file, so it conflicts exactly as another process's would. Two real
`opsd run` are in tests/faults/test_fault_exactly_once.py."""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsd.app import App
from opsd.config import Settings
from opsd.daemon.lock import DatabaseLock, DatabaseLocked, lock_path


@contextlib.contextmanager
def held_elsewhere(database: Path, pid: str = "4242") -> Iterator[None]:
    fd = os.open(lock_path(database), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, f"{pid}\n".encode())
        yield
    finally:
        os.close(fd)


def test_a_held_database_is_refused_naming_the_pid_and_the_database(tmp_path):
    database = tmp_path / "opsd.db"
    with held_elsewhere(database), pytest.raises(DatabaseLocked) as refused:
        DatabaseLock.acquire(database)
    assert str(refused.value) == f"another opsd (pid 4242) is running on {database}"
    assert refused.value.exit_code == 3
    lock = DatabaseLock.acquire(database)  # free again once the other holder is gone
    lock.release()


def test_the_lock_file_is_private_and_names_this_process(tmp_path):
    database = tmp_path / "opsd.db"
    old_umask = os.umask(0)
    try:
        lock = DatabaseLock.acquire(database)
    finally:
        os.umask(old_umask)
    try:
        path = lock_path(database)
        assert path.name == "opsd.db.lock"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_text() == f"{os.getpid()}\n"
        with pytest.raises(BlockingIOError), held_elsewhere(database):
            pass  # unreachable: our lock keeps the stand-in out
    finally:
        lock.release()


def test_holds_within_the_process_share_the_lock_until_the_last_release(tmp_path):
    database = tmp_path / "opsd.db"
    first = DatabaseLock.acquire(database)
    second = DatabaseLock.acquire(database)  # a reload keeping storage.path
    assert second is first
    first.release()
    with pytest.raises(BlockingIOError), held_elsewhere(database):
        pass
    second.release()
    with held_elsewhere(database):  # the last release unlocked it
        pass


def test_the_daemons_store_opens_only_under_the_lock_and_a_cli_store_never_takes_it(tmp_path):
    settings = Settings(storage={"path": str(tmp_path / "opsd.db")})
    cli = App(settings)
    cli.store  # noqa: B018
    with held_elsewhere(tmp_path / "opsd.db"):
        daemon = App(settings, daemon=True)
        with pytest.raises(DatabaseLocked):
            daemon.store  # noqa: B018
        assert cli.store.run(lambda s: s.writable())  # the CLI's store works beside it
        daemon.close_store()
    cli.close_store()
    daemon = App(settings, daemon=True)
    daemon.store  # noqa: B018
    with pytest.raises(BlockingIOError), held_elsewhere(tmp_path / "opsd.db"):
        pass
    daemon.close_store()
    with held_elsewhere(tmp_path / "opsd.db"):  # closing the store released it
        pass
