"""Backups you can use (`opsd.backups`, `opsd.store.backups`, `maintenance.backup`): real SQLite
files in tmp_path, snapshots written by the real check through the runner, an injected clock.

The `opsd backup` command itself, in a subprocess: tests/test_backup_cli.py; restore refused
while a real `opsd run` holds the store: tests/faults/test_fault_backup_restore.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from opsd import backups
from opsd.checks import backup as backup_check
from opsd.config import Settings
from opsd.daemon.lock import DatabaseLocked
from opsd.playbooks import parse_playbook
from opsd.results import Result, Status
from opsd.runner import Runner
from opsd.store import Store, runs
from opsd.store.backups import examine, expected_tables
from opsd.store.migrations import MIGRATIONS

T0 = 1_790_000_000.0  # 2026-09-21T14:13:20Z
DAY = 86400.0


def run_backup(store: Store, backup_dir: Path, at: float, **params: object) -> Result:
    """maintenance.backup through the real runner at the injected time `at`."""
    settings = Settings(storage={"path": str(store.path), "backup_dir": str(backup_dir)})
    entry = {"name": "backup", "kind": "maintenance.backup", **params}
    playbook = parse_playbook({"name": "nightly", "checks": [entry]}, Path("nightly.toml"))
    runner = Runner(settings, store, clock=lambda: at)

    async def go() -> list[Result]:
        try:
            return (await runner.run(playbook)).results
        finally:
            await runner.resources.aclose()

    (result,) = asyncio.run(go())
    return result


def record(store: Store, check: str, at: float) -> None:
    runs.record_run(store, "manual", [Result(Status.OK, "fine", check=check, kind="x",
                                             started_at=at, duration=0.1)],
                    started_at=at, finished_at=at + 0.1)


def checks_in(database: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(database)) as conn:
        return {row[0] for row in conn.execute("SELECT check_name FROM results")}


def damage(database: Path) -> None:
    """Overwrite bytes in the middle of the file (the page holding rows, not the header)."""
    data = bytearray(database.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 4096] = b"\xa5" * 4096
    database.write_bytes(bytes(data))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "opsd.db")


def test_each_backup_is_verified_and_listed_newest_first(store, tmp_path):
    backup_dir = tmp_path / "backups"
    first = run_backup(store, backup_dir, T0)
    second = run_backup(store, backup_dir, T0 + 3600)
    assert first.status is Status.OK and second.status is Status.OK, second.summary
    assert "verified" in second.summary
    assert second.details["newest_verified"] == "20260921T151320Z"
    assert second.details["newest_verified_at"] == T0 + 3600

    listed = backups.list_snapshots(backup_dir)
    assert [s.id for s in listed] == ["20260921T151320Z", "20260921T141320Z"]
    newest = listed[0]
    assert newest.taken_at == T0 + 3600 and newest.verified
    assert newest.verification is not None and newest.verification.at == T0 + 3600
    assert newest.size == second.value == newest.database.stat().st_size
    assert backups.read_versions(newest) == {c: len(s) for c, s in MIGRATIONS.items()}
    record_file = newest.path / backups.VERIFIED_FILE
    assert stat.S_IMODE(record_file.stat().st_mode) == 0o600
    assert json.loads(record_file.read_text())["ok"] is True
    # Self-contained: one file, no write-ahead log beside it.
    assert sorted(p.name for p in newest.path.iterdir()) == ["opsd.db", "verified.json"]


def test_a_changed_snapshot_is_no_longer_counted_as_verified(store, tmp_path):
    backup_dir = tmp_path / "backups"
    run_backup(store, backup_dir, T0)
    (snapshot,) = backups.list_snapshots(backup_dir)
    os.utime(snapshot.database, ns=(0, snapshot.database.stat().st_mtime_ns + 1))
    (changed,) = backups.list_snapshots(backup_dir)
    assert changed.verification is None and backups.newest_verified(backup_dir) is None


def test_verification_finds_bytes_overwritten_in_the_middle(store, tmp_path):
    for number in range(200):  # enough rows for the middle of the file to be data pages
        record(store, f"check-{number}", T0 + number)
    backup_dir = tmp_path / "backups"
    run_backup(store, backup_dir, T0 + 1000)
    (snapshot,) = backups.list_snapshots(backup_dir)
    damage(snapshot.database)
    checked = backups.verify(snapshot, T0 + 2000)
    assert not checked.ok and checked.problems
    assert any("malformed" in p or "integrity_check" in p for p in checked.problems), checked
    (listed,) = backups.list_snapshots(backup_dir)
    assert listed.verification is not None and listed.verification.ok is False
    assert listed.verification.at == T0 + 2000


def test_verification_refuses_a_schema_newer_than_this_opsd(store, tmp_path):
    backup_dir = tmp_path / "backups"
    run_backup(store, backup_dir, T0)
    (snapshot,) = backups.list_snapshots(backup_dir)
    with contextlib.closing(sqlite3.connect(snapshot.database, isolation_level=None)) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES ('core', 99, 0)")
        conn.execute("INSERT INTO schema_migrations VALUES ('teleport', 1, 0)")
    checked = backups.verify(snapshot, T0 + 1)
    assert not checked.ok
    assert f"schema core is at version 99, this opsd knows up to {len(MIGRATIONS['core'])}" \
        " (written by a newer opsd?)" in checked.problems
    assert "schema component 'teleport' is unknown to this opsd (written by a newer opsd?)" \
        in checked.problems
    assert backups.schema_state(checked.versions) == "newer"


def test_verification_finds_a_table_missing_and_a_file_that_is_not_opsds(tmp_path):
    database = tmp_path / "snapshot.db"
    with contextlib.closing(Store.open(database)) as made:
        made.conn.execute("DROP TABLE outbox")
    assert examine(database).problems == ["tables missing for its schema versions: outbox"]
    other = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(other)) as conn:
        conn.execute("CREATE TABLE t (x)")
    assert examine(other).problems == ["no schema_migrations table: not an opsd database"]
    assert examine(tmp_path / "absent.db").problems == ["absent.db is missing"]


def test_the_expected_tables_follow_the_versions():
    assert expected_tables({"core": 1}) >= {"runs", "results"}
    assert "outbox" not in expected_tables({"core": 1})
    assert expected_tables({}) == set()


def test_a_failing_backup_warns_until_the_newest_verified_one_is_older_than_max_age(
    store, tmp_path
):
    backup_dir = tmp_path / "backups"
    assert run_backup(store, backup_dir, T0).status is Status.OK

    def failing_at(at: float) -> Result:
        # A regular file where the snapshot's folder goes: writing into it fails.
        (backup_dir / backups.snapshot_id(at)).write_text("in the way")
        return run_backup(store, backup_dir, at, max_age="2d")

    day_later = failing_at(T0 + DAY)
    assert day_later.status is Status.WARNING, day_later.summary
    assert day_later.summary.startswith("backup failed: ")
    assert day_later.summary.endswith(
        "newest verified backup 20260921T141320Z is 1d old (within max_age 2d)")
    assert day_later.details["newest_verified_at"] == T0

    three_days_later = failing_at(T0 + 3 * DAY)
    assert three_days_later.status is Status.CRITICAL
    assert three_days_later.summary.endswith("is 3d old (older than max_age 2d)")
    assert three_days_later.details["newest_verified"] == "20260921T141320Z"


def test_a_failing_backup_with_no_verified_backup_at_all_is_critical(store, tmp_path):
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("not a folder")
    result = run_backup(store, in_the_way, T0)
    assert result.status is Status.CRITICAL
    assert result.summary.endswith("; no verified backup (max_age 2d)")
    assert result.details["newest_verified_at"] is None


def test_a_corrupt_new_snapshot_is_critical(store, tmp_path, monkeypatch):
    for number in range(200):
        record(store, f"check-{number}", T0 + number)
    write_snapshot = backup_check.write_snapshot

    def written_then_damaged(owner: Store, destination: Path) -> None:
        write_snapshot(owner, destination)
        damage(destination)

    backup_dir = tmp_path / "backups"
    assert run_backup(store, backup_dir, T0 + 1000).status is Status.OK
    monkeypatch.setattr(backup_check, "write_snapshot", written_then_damaged)
    result = run_backup(store, backup_dir, T0 + 2000)
    assert result.status is Status.CRITICAL
    assert result.summary.startswith(f"backup {backups.snapshot_id(T0 + 2000)} is corrupt: ")
    assert result.details["verified"] is False
    assert result.details["newest_verified_at"] == T0 + 1000


def test_rotation_keeps_the_newest_and_the_newest_verified(store, tmp_path):
    backup_dir = tmp_path / "backups"
    for hour in range(4):
        run_backup(store, backup_dir, T0 + hour * 3600, keep=10)
    ids = [s.id for s in backups.list_snapshots(backup_dir)]
    for snapshot in backups.list_snapshots(backup_dir)[:2]:  # the two newest: changed since
        os.utime(snapshot.database, ns=(0, snapshot.database.stat().st_mtime_ns + 1))
    newest_verified = backups.newest_verified(backup_dir)
    assert newest_verified is not None and newest_verified.id == ids[2]
    removed = backups.rotate(backup_dir, keep=1)
    assert removed == [ids[1], ids[3]]
    assert [s.id for s in backups.list_snapshots(backup_dir)] == [ids[0], ids[2]]


def test_restore_brings_back_the_snapshot_and_keeps_the_old_database_aside(store, tmp_path):
    database = tmp_path / "opsd.db"
    record(store, "before", T0)
    backup_dir = tmp_path / "backups"
    run_backup(store, backup_dir, T0 + 10)
    record(store, "after", T0 + 20)
    store.close()
    (snapshot,) = backups.list_snapshots(backup_dir)

    restored = backups.restore(snapshot, database, T0 + 30)

    assert checks_in(database) == {"before"}  # the snapshot's run itself came after it
    assert restored.kept_aside == tmp_path / "opsd.db.before-restore-20260921T141350Z"
    assert restored.kept_aside is not None
    assert checks_in(restored.kept_aside) == {"before", "backup", "after"}
    for path in (database, restored.kept_aside):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not database.with_name("opsd.db-wal").exists()
    assert [p.name for p in tmp_path.iterdir() if ".restore-" in p.name] == []
    with contextlib.closing(Store.open(database)) as reopened:  # the daemon's way in works
        assert reopened.schema_versions() == {c: len(s) for c, s in MIGRATIONS.items()}


def test_restore_refuses_a_corrupt_snapshot_and_leaves_the_database(store, tmp_path):
    for number in range(200):
        record(store, f"check-{number}", T0 + number)
    backup_dir = tmp_path / "backups"
    run_backup(store, backup_dir, T0 + 1000)
    store.close()
    database = tmp_path / "opsd.db"
    before = database.read_bytes()
    (snapshot,) = backups.list_snapshots(backup_dir)
    damage(snapshot.database)
    with pytest.raises(backups.CorruptBackup) as refused:
        backups.restore(snapshot, database, T0 + 2000)
    assert refused.value.exit_code == 2
    assert str(refused.value).startswith(f"backup {snapshot.id} is corrupt, not restored: ")
    assert database.read_bytes() == before
    assert not list(tmp_path.glob("opsd.db.before-restore-*"))


def test_restore_refuses_while_another_process_holds_the_store(store, tmp_path):
    import fcntl

    from opsd.daemon.lock import lock_path

    backup_dir = tmp_path / "backups"
    run_backup(store, backup_dir, T0)
    (snapshot,) = backups.list_snapshots(backup_dir)
    database = tmp_path / "opsd.db"
    fd = os.open(lock_path(database), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, b"4242\n")
        with pytest.raises(DatabaseLocked) as refused:
            backups.restore(snapshot, database, T0 + 1)
    finally:
        os.close(fd)
    assert str(refused.value) == f"another opsd (pid 4242) is running on {database}"
    assert not list(tmp_path.glob("opsd.db.before-restore-*"))


def test_restore_onto_a_lost_database_keeps_its_orphaned_log_aside(store, tmp_path):
    record(store, "before", T0)
    backup_dir = tmp_path / "backups"
    run_backup(store, backup_dir, T0 + 10)
    store.close()
    database = tmp_path / "opsd.db"
    database.unlink()
    orphan = tmp_path / "opsd.db-wal"
    orphan.write_bytes(b"a log without its database")
    (snapshot,) = backups.list_snapshots(backup_dir)

    restored = backups.restore(snapshot, database, T0 + 30)

    assert restored.kept_aside is None
    assert checks_in(database) == {"before"}
    assert not orphan.exists()
    kept = tmp_path / "opsd.db.before-restore-20260921T141350Z-wal"
    assert kept.read_bytes() == b"a log without its database"
