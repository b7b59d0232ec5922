"""Handlers of `opsd backup list|verify [ID]|restore ID` (`opsd.backups` does the work).

Exit codes: `verify` 0 when the backup is usable, 2 when it is not (corrupt, or a schema this
opsd cannot open); `restore` 2 when it refuses a backup that fails verification; 3 for a
backup id that is not there, a daemon holding the database, or no backup directory.
"""

from __future__ import annotations

import argparse
import sys
import time
import zoneinfo
from pathlib import Path
from typing import Any

from opsd import backups
from opsd.cli import output
from opsd.config import Settings, load_settings
from opsd.config.loading import config_label
from opsd.errors import ConfigError, UsageError

LIST_HEADERS = ("ID", "TAKEN", "SIZE", "SCHEMA", "VERIFIED")


def cmd_backup_list(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    directory = _directory(args, settings)
    found = backups.list_snapshots(directory)
    listed = [(snapshot, backups.read_versions(snapshot)) for snapshot in found]
    if args.json:
        output.print_json({"backup_dir": str(directory),
                           "backups": [s.to_dict(versions) for s, versions in listed]})
        return 0
    if not listed:
        print(f"no backups in {directory}")
        return 0
    tz = zoneinfo.ZoneInfo(settings.scheduler.timezone)
    output.table([_row(snapshot, versions, tz) for snapshot, versions in listed], LIST_HEADERS)
    return 0


def _row(snapshot: backups.Snapshot, versions: dict[str, int] | None,
         tz: zoneinfo.ZoneInfo) -> list[str]:
    check = snapshot.verification
    if check is None:
        verified = "not yet"
    else:
        verified = f"{'ok' if check.ok else 'FAILED'} {output.format_time(check.at, tz)}"
    return [snapshot.id, output.format_time(snapshot.taken_at, tz),
            output.format_value(float(snapshot.size), "bytes"), backups.schema_state(versions),
            verified]


def cmd_backup_verify(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    snapshot = backups.find_snapshot(_directory(args, settings), args.id)
    checked = backups.verify(snapshot, time.time())
    if args.json:
        output.print_json(_verification_dict(snapshot, checked))
    elif checked.ok:
        print(f"backup {snapshot.id}: ok (integrity_check ok, schema "
              f"{backups.schema_state(checked.versions)}, {snapshot.path})")
    else:
        print(f"backup {snapshot.id}: NOT USABLE ({snapshot.path})")
        for problem in checked.problems:
            print(f"  - {problem}")
    if checked.not_recorded and not args.json:
        print(f"(not recorded in {snapshot.path}: {checked.not_recorded})")
    return 0 if checked.ok else 2


def _verification_dict(snapshot: backups.Snapshot, checked: backups.Verification
                       ) -> dict[str, Any]:
    return {"id": snapshot.id, "path": str(snapshot.path), "taken_at": snapshot.taken_at,
            "ok": checked.ok, "problems": checked.problems, "schema": checked.versions,
            "schema_state": backups.schema_state(checked.versions), "verified_at": checked.at,
            "recorded": not checked.not_recorded}


def cmd_backup_restore(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    snapshot = backups.find_snapshot(_directory(args, settings), args.id)
    database = Path(settings.storage.path)
    if not args.yes:
        _confirm(snapshot, database)
    restored = backups.restore(snapshot, database, time.time())
    if args.json:
        output.print_json({
            "restored": snapshot.id, "database": str(database),
            "kept_aside": None if restored.kept_aside is None else str(restored.kept_aside),
            "schema": restored.versions, "schema_state": backups.schema_state(restored.versions),
        })
        return 0
    tz = zoneinfo.ZoneInfo(settings.scheduler.timezone)
    print(f"restored backup {snapshot.id} (taken {output.format_time(snapshot.taken_at, tz)},"
          f" verified) into {database}")
    if restored.kept_aside is not None:
        print(f"the database it replaced is kept at {restored.kept_aside}")
    if backups.schema_state(restored.versions) == "older":
        print("its schema is older than this opsd's: the next start applies the migrations")
    print("next: start the daemon, check `opsd status`, and record the restore in the incident")
    return 0


def _confirm(snapshot: backups.Snapshot, database: Path) -> None:
    if not sys.stdin.isatty():
        raise UsageError("--yes: restoring replaces the history database; add --yes to confirm")
    answer = input(f"Replace {database} with backup {snapshot.id}? The current database is"
                   " kept aside. [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise UsageError("restore cancelled")


def _directory(args: argparse.Namespace, settings: Settings) -> Path:
    if args.dir:
        return Path(args.dir)
    if settings.storage.backup_dir is None:
        raise ConfigError(f"{config_label(settings)}: storage.backup_dir: not set (where "
                          "maintenance.backup writes; or give --dir)")
    return Path(settings.storage.backup_dir)
