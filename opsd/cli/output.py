"""Rendering for humans: aligned tables, values in their units, JSON (the Nagios plugin's
output is `opsd.cli.nagios`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from opsd.results import Result
from opsd.units import format_age, format_time, format_value

__all__ = [
    "format_age", "format_time", "format_value", "print_json", "results_table",
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
