"""Values in their units for people: `123 ms`, `87.5%`, `1.2 MiB`, times and ages (pure)."""

from __future__ import annotations

import datetime as dt

from opsd.durations import format_duration


def format_value(value: float | None, unit: str) -> str:
    """`0.123, "seconds"` -> `123 ms`; `0.875, "ratio"` -> `87.5%`; `14.4, "times"` ->
    `14.4x` (a multiple, e.g. an SLO's burn rate); counts as integers."""
    if value is None:
        return "-"
    if unit in ("seconds", "s"):
        return f"{value * 1000:.0f} ms" if abs(value) < 1 else f"{value:.2f} s"
    if unit == "ratio":
        return f"{value * 100:.1f}%"
    if unit == "bytes":
        for suffix in ("B", "KiB", "MiB", "GiB"):
            if abs(value) < 1024 or suffix == "GiB":
                return f"{value:.0f} {suffix}" if suffix == "B" else f"{value:.1f} {suffix}"
            value /= 1024
    if unit == "times":
        return f"{value:.3g}x"
    if unit == "days":
        return f"{value:.1f} d"
    if float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.3g}" + (f" {unit}" if unit and unit != "count" else "")


def format_time(epoch: float | None, tz: dt.tzinfo | None = None) -> str:
    if epoch is None:
        return "never"
    return dt.datetime.fromtimestamp(epoch, tz or dt.UTC).strftime("%Y-%m-%d %H:%M:%S %Z")


def format_age(epoch: float | None, now: float) -> str:
    if epoch is None:
        return "never"
    return f"{format_duration(max(0.0, now - epoch))} ago"


def describe_schedule(schedule: str | None, every: float | None) -> str:
    """`cron 0 7 * * mon-fri`, `every 1m` or `on demand`."""
    if schedule:
        return f"cron {schedule}"
    if every:
        return f"every {format_duration(every)}"
    return "on demand"
