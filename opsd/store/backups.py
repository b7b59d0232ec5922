"""The SQLite side of backups: writing a snapshot, examining one, and preparing the live
database for a restore (`opsd.backups` does the files: listing, rotation, the swap).

A snapshot is written with SQLite's online backup (consistent while the daemon writes) and
then switched to the rollback journal, so it is one self-contained file: no -wal or -shm
beside it, nothing to forget when it is copied elsewhere. Snapshots are examined through an
`immutable` read-only connection, which neither locks them nor leaves -wal/-shm files behind
(a read-only connection to a WAL-mode file would create both).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sqlite3
from pathlib import Path

from opsd.private_files import create_private_file, make_private_dirs
from opsd.store.database import Store, StoreBusyError, apply_migration
from opsd.store.migrations import MIGRATIONS

MAX_REPORTED_PROBLEMS = 5
"""`integrity_check` lines reported at most (a damaged page yields one line per row)."""


@dataclasses.dataclass(frozen=True)
class Examination:
    """What a snapshot's file holds: its schema versions, and every problem found in it."""

    versions: dict[str, int] | None
    """Component -> newest applied migration; None when the file could not be read."""
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def write_snapshot(store: Store, destination: Path) -> None:
    """A consistent copy of `store`'s database at `destination` (0600), self-contained."""
    store.backup(destination)
    with contextlib.closing(sqlite3.connect(destination, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")


def read_versions(path: Path) -> dict[str, int] | None:
    """The snapshot's schema versions, or None when it cannot be read (cheap: for listings)."""
    try:
        with contextlib.closing(_immutable(path)) as conn:
            return _versions(conn)
    except sqlite3.Error:
        return None


def examine(path: Path) -> Examination:
    """`PRAGMA integrity_check` on the snapshot at `path`, then its schema against the
    migrations this opsd knows: every component known, none newer than ours, and every table
    those versions create present."""
    if not path.is_file():
        return Examination(None, [f"{path.name} is missing"])
    try:
        with contextlib.closing(_immutable(path)) as conn:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
            damage = [str(row[0]) for row in rows if row[0] != "ok"]
            if damage:
                return Examination(None, _integrity_problems(damage))
            versions = _versions(conn)
            if versions is None:
                return Examination(None, ["no schema_migrations table: not an opsd database"])
            tables = {row[0] for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            )}
    except sqlite3.Error as exc:
        return Examination(None, [f"cannot be read: {exc}"])
    return Examination(versions, schema_problems(versions, tables))


def schema_problems(versions: dict[str, int], tables: set[str]) -> list[str]:
    """What keeps this opsd from using a database with these versions and tables."""
    problems = []
    usable: dict[str, int] = {}
    for component, version in sorted(versions.items()):
        known = len(MIGRATIONS.get(component, ()))
        if component not in MIGRATIONS:
            problems.append(f"schema component {component!r} is unknown to this opsd"
                            " (written by a newer opsd?)")
        elif version > known:
            problems.append(f"schema {component} is at version {version}, this opsd knows up to"
                            f" {known} (written by a newer opsd?)")
        else:
            usable[component] = version
    missing = sorted(expected_tables(usable) - tables)
    if missing:
        problems.append(f"tables missing for its schema versions: {', '.join(missing)}")
    return problems


def expected_tables(versions: dict[str, int]) -> set[str]:
    """The tables a database at `versions` has: the migrations up to them, applied to an
    empty in-memory database (later migrations may rename or drop tables)."""
    with contextlib.closing(sqlite3.connect(":memory:", isolation_level=None)) as conn:
        for component, steps in MIGRATIONS.items():
            for step in steps[: versions.get(component, 0)]:
                apply_migration(conn, step)
        return {row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        )}


def checkpoint(database: Path) -> None:
    """Fold the write-ahead log into the database file and empty it, so the file alone is the
    whole database; raises `StoreBusyError` when another connection keeps it from finishing."""
    with contextlib.closing(sqlite3.connect(database, isolation_level=None)) as conn:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        raise StoreBusyError(
            f"{database} is in use by another process (a command still reading it): try again"
        )


def copy_database(source: Path, destination: Path) -> None:
    """A consistent, self-contained copy of the database at `source` (0600, synced)."""
    make_private_dirs(destination.parent)
    create_private_file(destination)
    with contextlib.closing(sqlite3.connect(source)) as conn, \
            contextlib.closing(sqlite3.connect(destination, isolation_level=None)) as copy:
        conn.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")
    fsync_file(destination)


def fsync_file(path: Path) -> None:
    """Flush a file (or a folder: the renames in it) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _immutable(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?immutable=1", uri=True)


def _versions(conn: sqlite3.Connection) -> dict[str, int] | None:
    try:
        return Store(conn).schema_versions()
    except sqlite3.OperationalError:  # no schema_migrations table
        return None


def _integrity_problems(damage: list[str]) -> list[str]:
    shown = [f"integrity_check: {line}" for line in damage[:MAX_REPORTED_PROBLEMS]]
    if len(damage) > MAX_REPORTED_PROBLEMS:
        shown.append(f"integrity_check: {len(damage) - MAX_REPORTED_PROBLEMS} more problems")
    return shown
