"""Backups you can use: the snapshots `maintenance.backup` writes, listed, verified, rotated and
restored (`opsd backup list|verify|restore`).

A snapshot is a folder in the backup directory named for when it was taken, in UTC
(`20261130T070000Z`, its id), holding `opsd.db` (the history database, self-contained) and
the configuration file with every secret `<redacted>`. Verifying one (`opsd.store.backups`)
records the outcome in `verified.json` inside its folder (0600), with the database file's
size and modification time: a file changed since is no longer counted as verified. Nothing
else is written into a snapshot, so a folder copied elsewhere is a whole backup.

Restoring swaps a snapshot in for the live database, only while no daemon holds the store
(its lock), and keeps the database it replaces as `<database>.before-restore-<time>`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from opsd.daemon.lock import DatabaseLock
from opsd.errors import OpsdError
from opsd.private_files import create_private_file, write_private_text
from opsd.store import backups as snapshots
from opsd.store.migrations import MIGRATIONS

ID_FORMAT = "%Y%m%dT%H%M%SZ"
DATABASE_FILE = "opsd.db"
VERIFIED_FILE = "verified.json"


class NoSuchBackup(OpsdError):
    """The backup asked for is not in the backup directory (exit 3)."""


class CorruptBackup(OpsdError):
    """The snapshot failed verification: it is not restored (exit 2, as for CRITICAL)."""

    exit_code = 2


@dataclasses.dataclass(frozen=True)
class Verification:
    """The outcome of one verification of a snapshot."""

    at: float
    ok: bool
    problems: list[str]
    versions: dict[str, int] | None
    not_recorded: str = ""
    """Why the outcome could not be written beside the snapshot ('' when it was)."""


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """One backup in the backup directory."""

    id: str
    path: Path
    taken_at: float
    size: int
    verification: Verification | None
    """The last verification of the database file as it is now; None if never (or changed)."""

    @property
    def database(self) -> Path:
        return self.path / DATABASE_FILE

    @property
    def verified(self) -> bool:
        return self.verification is not None and self.verification.ok

    def to_dict(self, versions: dict[str, int] | None) -> dict[str, Any]:
        """As `opsd backup list --json` prints it (`versions`: read by the caller)."""
        check = self.verification
        return {
            "id": self.id, "path": str(self.path), "taken_at": self.taken_at,
            "size_bytes": self.size, "schema": versions,
            "verified": None if check is None else check.ok,
            "verified_at": None if check is None else check.at,
            "problems": [] if check is None else check.problems,
        }


@dataclasses.dataclass(frozen=True)
class Restored:
    """What a restore did."""

    snapshot: Snapshot
    database: Path
    kept_aside: Path | None
    """The replaced database's copy; None when there was no database to replace."""
    versions: dict[str, int] | None


def snapshot_id(taken_at: float) -> str:
    """The id (folder name) of a snapshot taken at `taken_at`."""
    return dt.datetime.fromtimestamp(taken_at, dt.UTC).strftime(ID_FORMAT)


def list_snapshots(directory: Path) -> list[Snapshot]:
    """Every snapshot in `directory`, newest first (none if the directory does not exist)."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        taken_at = _taken_at(path.name)
        if taken_at is not None and path.is_dir():
            found.append(Snapshot(path.name, path, taken_at, _size(path), _recorded(path)))
    return sorted(found, key=lambda s: s.taken_at, reverse=True)


def find_snapshot(directory: Path, snapshot: str | None) -> Snapshot:
    """The snapshot `snapshot` (an id), or the newest when None; raises `NoSuchBackup`."""
    found = list_snapshots(directory)
    if not found:
        raise NoSuchBackup(f"no backups in {directory}")
    if snapshot is None:
        return found[0]
    for candidate in found:
        if candidate.id == snapshot:
            return candidate
    raise NoSuchBackup(f"backup {snapshot!r}: not in {directory} (see `opsd backup list`)")


def newest_verified(directory: Path) -> Snapshot | None:
    """The newest snapshot whose database passed its last verification, unchanged since."""
    return next((s for s in list_snapshots(directory) if s.verified), None)


def read_versions(snapshot: Snapshot) -> dict[str, int] | None:
    """The snapshot's schema versions (None: unreadable): as its passing verification of the
    file as it is recorded them, else read from the file."""
    check = snapshot.verification
    if check is not None and check.ok and check.versions is not None:
        return check.versions
    return snapshots.read_versions(snapshot.database)


def verify(snapshot: Snapshot, now: float) -> Verification:
    """Examine the snapshot's database and record the outcome beside it."""
    found = snapshots.examine(snapshot.database)
    verification = Verification(now, found.ok, found.problems, found.versions)
    if not snapshot.database.is_file():
        return verification
    try:
        _record(snapshot.path, verification)
    except OSError as exc:  # a read-only copy can still be verified
        return dataclasses.replace(verification, not_recorded=f"{exc.strerror or exc}")
    return verification


def rotate(directory: Path, keep: int) -> list[str]:
    """Remove all but the `keep` newest snapshots, never the newest verified one; returns
    the ids removed."""
    found = list_snapshots(directory)
    protected = next((s.id for s in found if s.verified), None)
    stale = [s for s in found[keep:] if s.id != protected]
    for snapshot in stale:
        shutil.rmtree(snapshot.path)
    return [s.id for s in stale]


def schema_state(versions: dict[str, int] | None) -> str:
    """`current`, `older` (a start migrates it), `newer` (a newer opsd wrote it) or `unreadable`."""
    if versions is None:
        return "unreadable"
    known = {component: len(steps) for component, steps in MIGRATIONS.items()}
    if any(version > known.get(component, 0) for component, version in versions.items()):
        return "newer"
    return "current" if versions == known else "older"


def restore(snapshot: Snapshot, database: Path, now: float) -> Restored:
    """Put `snapshot` in place of the history database at `database`.

    Refused while a daemon holds the database (`DatabaseLocked`, naming its pid: the lock is
    taken and held throughout, so none can start meanwhile) and when the snapshot fails
    verification (`CorruptBackup`). The database it replaces is checkpointed (its write-ahead
    log folded in) and copied aside; the snapshot is copied to a temporary file in the same
    folder, synced, and renamed over the database in one step, so the path always holds a
    whole database, the old one or the restored one."""
    lock = DatabaseLock.acquire(database)
    try:
        checked = verify(snapshot, now)
        if not checked.ok:
            raise CorruptBackup(
                f"backup {snapshot.id} is corrupt, not restored: {'; '.join(checked.problems)}"
            )
        try:
            kept = _keep_aside(database, now)
            _swap_in(snapshot.database, database)
        except (OSError, sqlite3.Error) as exc:
            raise OpsdError(f"restore of {snapshot.id} failed, {database} is unchanged: "
                            f"{getattr(exc, 'strerror', None) or exc}") from None
    finally:
        lock.release()
    return Restored(snapshot, database, kept, checked.versions)


def _keep_aside(database: Path, now: float) -> Path | None:
    """Copy the database aside; clear its -wal/-shm, which would otherwise be read with the
    restored file (a log is replayed into whatever file it sits beside)."""
    aside = database.with_name(f"{database.name}.before-restore-{snapshot_id(now)}")
    if database.exists():
        snapshots.checkpoint(database)  # the log is empty after this
        snapshots.copy_database(database, aside)
        for suffix in ("-wal", "-shm"):
            database.with_name(database.name + suffix).unlink(missing_ok=True)
        return aside
    for suffix in ("-wal", "-shm"):  # left without their database: kept, out of the way
        orphan = database.with_name(database.name + suffix)
        if orphan.exists():
            os.replace(orphan, aside.with_name(aside.name + suffix))
    return None


def _swap_in(source: Path, database: Path) -> None:
    temporary = database.with_name(f".{database.name}.restore-{os.getpid()}")
    temporary.unlink(missing_ok=True)
    create_private_file(temporary)
    try:
        shutil.copyfile(source, temporary)
        snapshots.fsync_file(temporary)
        os.replace(temporary, database)
    finally:
        temporary.unlink(missing_ok=True)
    # The folder too: the rename is durable (a crash right after must not bring the old file back).
    snapshots.fsync_file(database.parent)


def _taken_at(name: str) -> float | None:
    try:
        return dt.datetime.strptime(name, ID_FORMAT).replace(tzinfo=dt.UTC).timestamp()
    except ValueError:
        return None


def _size(path: Path) -> int:
    """Bytes of the backup itself (database and config), not of its verification record."""
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file() and p.name != VERIFIED_FILE)


def _record(path: Path, verification: Verification) -> None:
    stat = (path / DATABASE_FILE).stat()
    write_private_text(path / VERIFIED_FILE, json.dumps({
        "verified_at": verification.at, "ok": verification.ok,
        "problems": verification.problems, "schema": verification.versions,
        "database_size": stat.st_size, "database_mtime_ns": stat.st_mtime_ns,
    }, indent=2) + "\n")


def _recorded(path: Path) -> Verification | None:
    """The verification recorded for the folder's database, if it is of the file as it is."""
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        record = json.loads((path / VERIFIED_FILE).read_text())
        stat = (path / DATABASE_FILE).stat()
        if (record["database_size"], record["database_mtime_ns"]) != (stat.st_size,
                                                                      stat.st_mtime_ns):
            return None
        return Verification(float(record["verified_at"]), bool(record["ok"]),
                            [str(p) for p in record["problems"]], record["schema"])
    return None
