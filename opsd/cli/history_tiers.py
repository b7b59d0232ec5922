"""`opsd history --since` beyond the raw results: which tier answers (raw results within
`storage.retention`, hourly rollups within `storage.retention_hourly`, else daily rollups),
and the rollup rows as a table or JSON."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from opsd.cli import output
from opsd.cli.view import View
from opsd.durations import format_duration
from opsd.reports.rollups import Counts
from opsd.units import format_value

Rollup = tuple[float, tuple[str, str, str], Counts]
"""(period start, (playbook, check, target), counts), as `opsd.store.rollups.tier_rows`."""

HEADERS = ("PERIOD", "PLAYBOOK", "TARGET", "OK", "WARN", "CRIT", "UNKN", "SKIP", "OK%", "AVG",
           "P95", "MAX", "CHANGES")


def tier_for(view: View, window: float) -> str:
    """The finest tier that still holds a window reaching `window` back: "raw", "hourly" or
    "daily"."""
    storage = view.shown.get("storage", {})
    if window <= storage.get("retention", window):
        return "raw"
    if window <= storage.get("retention_hourly", window):
        return "hourly"
    return "daily"


def failing(counts: Counts) -> bool:
    """True when the period had a result worse than OK."""
    return counts.judged > counts.ok


def rollups_json(rows: Sequence[Rollup]) -> list[dict[str, Any]]:
    return [{"period_start": start, "playbook": key[0], "target": key[2],
             **dataclasses.asdict(counts), "ok_ratio": counts.ok_ratio}
            for start, key, counts in rows]


def print_rollups(rows: Sequence[Rollup], tier: str, view: View,
                  units: dict[tuple[str, str], str]) -> None:
    """The table, under a line saying which tier it comes from and why; `units` maps
    (playbook, target) to the unit of the series' values."""
    kept = format_duration(view.shown.get("storage", {}).get("retention", 0.0))
    print(f"{tier} rollups (raw results are kept {kept}; periods in UTC)")
    shape = "%Y-%m-%d %H:00" if tier == "hourly" else "%Y-%m-%d"
    table = []
    for start, (playbook, _, target), counts in rows:
        unit = units.get((playbook, target), "")
        ratio = counts.ok_ratio
        table.append((
            dt.datetime.fromtimestamp(start, dt.UTC).strftime(shape), playbook, target or "-",
            *(str(n) for n in (counts.ok, counts.warning, counts.critical, counts.unknown,
                               counts.skipped)),
            "-" if ratio is None else f"{ratio:.1%}",
            format_value(counts.value_avg, unit), format_value(counts.value_p95, unit),
            format_value(counts.value_max, unit), str(counts.state_changes),
        ))
    output.table(table, HEADERS)
