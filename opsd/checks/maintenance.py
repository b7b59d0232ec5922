"""Maintenance: history retention, disk space, trend reports (the backup: `opsd.checks.backup`)."""

from __future__ import annotations

import shutil
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from pydantic import Field

from opsd.checks.base import CheckSpec, Params, check
from opsd.config.base import Duration
from opsd.durations import format_duration
from opsd.reports.rollups import Counts, merge
from opsd.results import Result, Status, skipped
from opsd.store import rollups

if TYPE_CHECKING:
    from opsd.context import Context


class RetentionParams(Params):
    keep: Duration | None = Field(None, gt=0, description="Default: storage.retention.")


@check("maintenance.retention", params=RetentionParams, unit="count",
       description="Delete runs older than the retention period")
async def retention(spec: CheckSpec[RetentionParams], ctx: Context) -> Result:
    """Roll up what is due (a deployment without the daemon has nobody else to), then prune
    each tier: raw runs once rolled up, hourly and daily rollups past their retention."""
    storage = ctx.settings.storage
    keep = spec.params.keep or storage.retention
    now = ctx.now()
    _, removed = await rollups.roll_up_and_prune(ctx.store, now, raw=keep,
                                                 hourly=storage.retention_hourly,
                                                 daily=storage.retention_daily)
    return Result(
        Status.OK,
        f"removed {removed.runs} runs older than {format_duration(keep)}, {removed.hourly}"
        f" hourly and {removed.daily} daily rollups",
        value=float(removed.runs),
        details={"keep_seconds": keep, "hourly_rows": removed.hourly,
                 "daily_rows": removed.daily},
    )


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
    """Trend report: per check, how often it was OK, how often not and its mean and
    highest value (from the rollups where raw results are gone)."""
    now = ctx.now()
    found = await ctx.store.call(rollups.status_counts, exclude_kinds=[spec.kind],
                                 since=now - spec.params.window, until=now)
    span = format_duration(spec.params.window)
    if not found:
        return skipped(f"no results in the last {span}")
    per_check: dict[str, list[Counts]] = defaultdict(list)
    for (_, name, _), counts in found.items():
        per_check[name].append(counts)
    merged = {name: merge(parts) for name, parts in sorted(per_check.items())}
    report = {name: _summarise(counts) for name, counts in merged.items() if counts.judged}
    judged = sum(counts.judged for counts in merged.values())
    if judged < spec.params.min_samples:
        return skipped(
            f"only {judged} results in the last {span} (min_samples {spec.params.min_samples})"
        )
    ok_ratio = sum(counts.ok for counts in merged.values()) / judged
    worst_checks = sorted(report, key=lambda n: report[n]["ok_ratio"])[:3]
    worst_text = ", ".join(f"{n} {report[n]['ok_ratio']:.0%}" for n in worst_checks)
    return Result(
        Status.OK,
        f"{ok_ratio:.1%} of {judged} results OK over {span}"
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


def _summarise(counts: Counts) -> CheckTrend:
    return {
        "results": counts.judged,
        "ok_ratio": round(counts.ok / counts.judged, 4),
        "not_ok": counts.judged - counts.ok,
        "mean_value": round(counts.value_avg, 6) if counts.value_avg is not None else None,
        "max_value": counts.value_max,
    }
