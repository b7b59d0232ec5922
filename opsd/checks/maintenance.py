"""Maintenance: history retention, configuration (secrets removed) and database backup, trend
reports."""

from __future__ import annotations

import datetime as dt
import shutil
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from pydantic import Field

from opsd.checks.base import CheckSpec, Params, check
from opsd.config import Settings, config_file_of
from opsd.config.base import Duration
from opsd.config.scrubbed import scrubbed_config
from opsd.durations import format_duration
from opsd.private_files import make_private_dirs, write_private_text
from opsd.results import Result, Status, skipped
from opsd.store import Store, runs

if TYPE_CHECKING:
    from opsd.context import Context


class RetentionParams(Params):
    keep: Duration | None = Field(None, gt=0, description="Default: storage.retention.")


@check("maintenance.retention", params=RetentionParams, unit="count",
       description="Delete runs older than the retention period")
async def retention(spec: CheckSpec[RetentionParams], ctx: Context) -> Result:
    keep = spec.params.keep or ctx.settings.storage.retention
    removed = await ctx.store.call(runs.prune, ctx.now() - keep)
    return Result(
        Status.OK,
        f"removed {removed} runs older than {format_duration(keep)}",
        value=float(removed),
        details={"keep_seconds": keep},
    )


class BackupParams(Params):
    keep: int = Field(7, ge=1, description="How many backups to keep.")
    directory: Path | None = Field(None, description="Default: storage.backup_dir.")


@check("maintenance.backup", params=BackupParams, unit="bytes",
       description="Copy the config file and a consistent snapshot of the history database")
async def backup(spec: CheckSpec[BackupParams], ctx: Context) -> Result:
    directory = spec.params.directory or ctx.settings.storage.backup_dir
    if directory is None:
        return skipped("no backup directory configured (storage.backup_dir)")
    stamp = dt.datetime.fromtimestamp(ctx.now(), dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    target = Path(directory) / stamp
    make_private_dirs(target)
    config = _copy_config(ctx.settings, target)
    await ctx.store.call(Store.backup, target / "opsd.db")
    size = sum(p.stat().st_size for p in target.iterdir())
    removed = _rotate(Path(directory), spec.params.keep)
    left_out = "; config left out (a secret could not be removed)" if config is False else ""
    return Result(
        Status.OK,
        f"backup written to {target} ({size} bytes), {removed} old removed{left_out}",
        value=float(size),
        details={"path": str(target), "removed": removed, "config": config},
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


def _rotate(directory: Path, keep: int) -> int:
    backups = sorted(p for p in directory.iterdir() if p.is_dir() and p.name.endswith("Z"))
    stale = backups[:-keep]
    for path in stale:
        shutil.rmtree(path)
    return len(stale)


class DiskParams(Params):
    path: Path | None = Field(None, description="Default: the history database's directory.")


@check("maintenance.disk", params=DiskParams, unit="ratio", warn=0.8, crit=0.9,
       description="Share of the disk holding the history that is used")
async def disk(spec: CheckSpec[DiskParams], ctx: Context) -> Result:
    path = spec.params.path or Path(ctx.settings.storage.path).parent
    usage = shutil.disk_usage(path)
    used = usage.used / usage.total
    return Result(
        Status.OK,
        f"{used:.0%} of the disk holding {path} used ({usage.free // 2**20} MiB free)",
        value=used,
        details={"path": str(path), "free_bytes": usage.free, "total_bytes": usage.total},
    )


class TrendParams(Params):
    window: Duration = Field(7 * 86400.0, gt=0, description="Period the report covers.")
    min_samples: int = Field(
        10, ge=1, description="Fewer judged results than this in the window: SKIPPED."
    )


@check("history.trend", params=TrendParams, unit="ratio", warn=0.99, crit=0.95,
       direction="below", description="Share of OK results per check over a window")
async def trend(spec: CheckSpec[TrendParams], ctx: Context) -> Result:
    """Trend report: per check, how often it was OK, its worst status and mean value."""
    since = ctx.now() - spec.params.window
    rows = [r for r in await ctx.store.call(runs.history, since=since) if r.kind != spec.kind]
    if not rows:
        return skipped(f"no results in the last {format_duration(spec.params.window)}")
    per_check: dict[str, list[Result]] = defaultdict(list)
    for row in rows:
        if row.status is not Status.SKIPPED:
            per_check[row.check].append(row)
    report = {name: _summarise(results) for name, results in sorted(per_check.items())}
    judged = [r for results in per_check.values() for r in results]
    if len(judged) < spec.params.min_samples:
        return skipped(
            f"only {len(judged)} results in the last {format_duration(spec.params.window)}"
            f" (min_samples {spec.params.min_samples})"
        )
    ok_ratio = sum(r.status is Status.OK for r in judged) / len(judged) if judged else 1.0
    worst_checks = sorted(report, key=lambda n: report[n]["ok_ratio"])[:3]
    worst_text = ", ".join(f"{n} {report[n]['ok_ratio']:.0%}" for n in worst_checks)
    return Result(
        Status.OK,
        f"{ok_ratio:.1%} of {len(judged)} results OK over {format_duration(spec.params.window)}"
        + (f"; lowest: {worst_text}" if worst_text else ""),
        value=ok_ratio,
        details={"window_seconds": spec.params.window, "checks": report},
    )


class CheckTrend(TypedDict):
    """One check's line of the trend report."""

    results: int
    ok_ratio: float
    not_ok: int
    mean_value: float | None
    max_value: float | None


def _summarise(results: list[Result]) -> CheckTrend:
    values = [r.value for r in results if r.value is not None]
    return {
        "results": len(results),
        "ok_ratio": round(sum(r.status is Status.OK for r in results) / len(results), 4),
        "not_ok": sum(r.status is not Status.OK for r in results),
        "mean_value": round(sum(values) / len(values), 6) if values else None,
        "max_value": max(values) if values else None,
    }
