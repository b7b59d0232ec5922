"""`maintenance.backup`: write a snapshot of the history database and the configuration file
(secrets removed), verify it at once, rotate, and judge by the newest VERIFIED backup.

Writing is not enough: a snapshot counts once `integrity_check` passes and its schema opens
(`opsd.backups`). So the result says how old the newest restore point is:

- a new snapshot written and verified: OK;
- a new snapshot written but failing verification: CRITICAL (it is kept for inspection, and
  rotation never removes the newest verified one);
- writing failed: WARNING while a verified backup younger than `max_age` exists, CRITICAL
  when none does — a backup that has failed for days ends as CRITICAL.

Its details carry the newest verified backup's id and time (`newest_verified_at`).
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from opsd import backups
from opsd.checks.base import CheckSpec, Params, check
from opsd.config import Settings, config_file_of
from opsd.config.base import Duration
from opsd.config.scrubbed import scrubbed_config
from opsd.durations import format_duration
from opsd.errors import OpsdError
from opsd.exception_text import exception_text
from opsd.private_files import make_private_dirs, write_private_text
from opsd.results import Result, Status, skipped
from opsd.store.backups import write_snapshot

if TYPE_CHECKING:
    from opsd.context import Context


class BackupParams(Params):
    keep: int = Field(7, ge=1, description="How many backups to keep.")
    directory: Path | None = Field(None, description="Default: storage.backup_dir.")
    max_age: Duration = Field(
        2 * 86400.0, gt=0,
        description="The newest verified backup may be this old (older: CRITICAL).",
    )


@check("maintenance.backup", params=BackupParams, unit="bytes",
       description="Back up the history database and the config file, verify the backup")
async def backup(spec: CheckSpec[BackupParams], ctx: Context) -> Result:
    configured = spec.params.directory or ctx.settings.storage.backup_dir
    if configured is None:
        return skipped("no backup directory configured (storage.backup_dir)")
    directory = Path(configured)
    now = ctx.now()
    target = directory / backups.snapshot_id(now)
    try:
        config = await _write(ctx, target)
    except (OSError, sqlite3.Error, OpsdError) as exc:
        newest = await asyncio.to_thread(backups.newest_verified, directory)
        return _judged_by_newest(f"backup failed: {exception_text(exc)}", newest, now,
                                 spec.params.max_age, {"path": str(target)})
    snapshot = await asyncio.to_thread(backups.find_snapshot, directory, target.name)
    verification = await asyncio.to_thread(backups.verify, snapshot, now)
    removed = await asyncio.to_thread(backups.rotate, directory, spec.params.keep)
    details: dict[str, Any] = {"path": str(target), "removed": len(removed), "config": config,
                               "verified": verification.ok}
    if not verification.ok:
        newest = await asyncio.to_thread(backups.newest_verified, directory)
        problems = "; ".join(verification.problems)
        return _judged_by_newest(f"backup {snapshot.id} is corrupt: {problems}", newest, now,
                                 spec.params.max_age, details, status=Status.CRITICAL)
    left_out = "; config left out (a secret could not be removed)" if config is False else ""
    return Result(
        Status.OK,
        f"backup written to {target} ({snapshot.size} bytes) and verified, {len(removed)} old"
        f" removed{left_out}",
        value=float(snapshot.size),
        details={**details, "newest_verified": snapshot.id,
                 "newest_verified_at": snapshot.taken_at},
    )


async def _write(ctx: Context, target: Path) -> bool | None:
    make_private_dirs(target)
    config = _copy_config(ctx.settings, target)
    await ctx.store.call(write_snapshot, target / backups.DATABASE_FILE)
    return config


def _judged_by_newest(
    problem: str, newest: backups.Snapshot | None, now: float, max_age: float,
    details: dict[str, Any], status: Status | None = None,
) -> Result:
    """A result for a backup that did not give a new verified snapshot: CRITICAL when no
    verified backup younger than `max_age` is left (else `status`, by default WARNING)."""
    limit = format_duration(max_age)
    if newest is None:
        return Result(Status.CRITICAL, f"{problem}; no verified backup (max_age {limit})",
                      details={**details, "newest_verified": None, "newest_verified_at": None})
    age = max(0.0, now - newest.taken_at)
    too_old = age > max_age
    return Result(
        Status.CRITICAL if too_old else (status or Status.WARNING),
        f"{problem}; newest verified backup {newest.id} is {format_duration(age)} old"
        f" ({'older than' if too_old else 'within'} max_age {limit})",
        details={**details, "newest_verified": newest.id, "newest_verified_at": newest.taken_at},
    )


def _copy_config(settings: Settings, target: Path) -> bool | None:
    """Write the config file into `target` with every secret `<redacted>`; returns whether
    it was written (None: there is no config file)."""
    config_file = config_file_of(settings)
    if config_file is None:
        return None
    text = scrubbed_config(config_file.read_text(), Settings, settings.secret_values())
    if text is None:
        return False
    write_private_text(target / config_file.name, text)
    return True
