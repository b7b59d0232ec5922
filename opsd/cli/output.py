"""Rendering for humans (aligned tables, values in their units) and for Nagios plugins."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from opsd.results import Result, worst
from opsd.units import format_age, format_time, format_value

__all__ = [
    "format_age", "format_time", "format_value", "nagios_line", "print_json", "results_table",
    "table",
]


def table(rows: Sequence[Sequence[str]], headers: Sequence[str], out: TextIO | None = None) -> None:
    """Print an aligned table; the last column is free width."""
    out = out or sys.stdout
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths[i], len(cell))
    def line(cells: Sequence[str]) -> str:
        padded = [c.ljust(widths[i]) for i, c in enumerate(cells[:-1])]
        return "  ".join([*padded, cells[-1]]).rstrip()
    print(line(headers), file=out)
    for row in rows:
        print(line(row), file=out)


def results_table(results: Sequence[Result], out: TextIO | None = None) -> None:
    rows = [
        (str(r.status), r.check, r.target or "-", format_value(r.value, r.unit), r.summary)
        for r in results
    ]
    table(rows, ("STATUS", "CHECK", "TARGET", "VALUE", "SUMMARY"), out)


def print_json(data: Any, out: TextIO | None = None) -> None:
    print(json.dumps(data, indent=2, default=str, ensure_ascii=False), file=out or sys.stdout)


_NAGIOS_UOM = {"seconds": "s", "ratio": "%", "bytes": "B", "count": ""}


def nagios_line(results: Sequence[Result]) -> str:
    """`CRITICAL - summary | 'label'=value[UOM];warn;crit ...` (Nagios plugin output)."""
    status = worst(r.status for r in results)
    judged = [r for r in results if r.status.rank >= 0] or list(results)
    lead = max(judged, key=lambda r: r.status.rank)
    summary = lead.summary
    if lead.target and len(results) > 1:
        summary = f"{lead.target}: {summary}"
    if len(results) > 1:
        summary += f" ({len(results)} targets)"
    perfdata = [_perfdata(r) for r in results if r.value is not None]
    line = f"{status} - {summary}"
    if perfdata:
        line += " | " + " ".join(perfdata)
    return line


def _perfdata(result: Result) -> str:
    label = result.check + (f"_{result.target}" if result.target else "")
    uom = _NAGIOS_UOM.get(result.unit, "")
    scale = 100.0 if result.unit == "ratio" else 1.0
    thresholds = result.details.get("thresholds") or {}

    def number(value: float | None) -> str:
        return "" if value is None else f"{value * scale:g}"

    text = f"'{label.replace(chr(39), '')}'={number(result.value)}{uom}"
    warn, crit = number(thresholds.get("warn")), number(thresholds.get("crit"))
    if warn or crit:
        text += f";{warn};{crit}"
    return text
