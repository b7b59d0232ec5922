"""Nagios plugin output for `opsd check` (pure): status, one-line summary, long output and
performance data as the Monitoring Plugins development guidelines define them.

The first line is `STATUS - summary | perfdata`; with more than one result, each result follows
on a line of its own (the plugin's "long output"). A plugin that checked nothing says so: when
every result is SKIPPED (nothing configured, nothing to look at), the status is UNKNOWN and
the exit code 3, because a monitoring system must not read "never looked" as "fine". In a
daemon or playbook run a SKIPPED result stays SKIPPED (no alert); only the plugin maps it.

Performance data, one entry per result with a value:
`'label'=value[UOM];[warn];[crit];[min];[max]`. The label is the entry name (and target),
always quoted, with `=` replaced and `'` doubled; value, thresholds, min and max are plain
decimals (no exponent) in one unit of measurement: seconds `s`, ratios `%` (x100, min 0, max
100), bytes `B`; counts carry no UOM, since `c` means a continuous counter (graphers would
plot its rate) and opsd's counts are gauges (findings now, runs removed). Thresholds use the
guidelines' range format: an entry alerting above a limit prints `limit`, one alerting below
prints `limit:` (alert when under it).
"""

from __future__ import annotations

import dataclasses
import decimal
import math
from collections.abc import Sequence

from opsd.results import Result, Status, worst

_PERCENT_SCALE = 100.0


@dataclasses.dataclass(frozen=True)
class _Unit:
    """How one opsd unit appears in perfdata."""

    uom: str = ""
    scale: float = 1.0
    min: float | None = None
    max: float | None = None


_UNITS = {
    "seconds": _Unit("s", min=0.0),
    "s": _Unit("s", min=0.0),
    "ratio": _Unit("%", _PERCENT_SCALE, 0.0, 100.0),
    "bytes": _Unit("B", min=0.0),
    "count": _Unit(min=0.0),
}


@dataclasses.dataclass(frozen=True)
class PluginOutput:
    """What `opsd check` prints and exits with (`status` is never SKIPPED)."""

    status: Status
    text: str

    @property
    def exit_code(self) -> int:
        return self.status.exit_code


def plugin_status(results: Sequence[Result]) -> Status:
    """The worst judged status; UNKNOWN when nothing was judged (no result, or all SKIPPED)."""
    judged = [r.status for r in results if r.status is not Status.SKIPPED]
    return worst(judged) if judged else Status.UNKNOWN


def plugin_output(results: Sequence[Result]) -> PluginOutput:
    """The plugin's status and text for one entry's results."""
    status = plugin_status(results)
    line = f"{status} - {_summary(results)}"
    perfdata = [
        perfdata_entry(r) for r in results if r.value is not None and math.isfinite(r.value)
    ]
    if perfdata:
        line += " | " + " ".join(perfdata)
    lines = [line]
    if len(results) > 1:
        lines += [_long_line(r) for r in _worst_first(results)]
    return PluginOutput(status, "\n".join(lines))


def _worst_first(results: Sequence[Result]) -> list[Result]:
    return sorted(results, key=lambda r: -r.status.rank)


def _summary(results: Sequence[Result]) -> str:
    if not results:
        return "nothing checked: the entry returned no result"
    lead = _worst_first(results)[0]
    summary = lead.summary or str(lead.status)
    if lead.status is Status.SKIPPED and len(results) > 1:
        summary = f"nothing checked: all {len(results)} targets skipped ({summary})"
    elif lead.target and len(results) > 1:
        summary = f"{lead.target}: {summary}"
    if len(results) > 1 and lead.status is not Status.SKIPPED:
        summary += f" ({len(results)} targets)"
    return _one_line(summary)


def _long_line(result: Result) -> str:
    where = f"{result.target}: " if result.target else ""
    return _one_line(f"{result.status} {where}{result.summary}")


def _one_line(text: str) -> str:
    """No `|` in plugin text (it starts the perfdata) and no line break within a line."""
    return " ".join(text.replace("|", "/").split())


def perfdata_label(result: Result) -> str:
    """`'entry_target'`: quoted, `=` replaced, `'` doubled (the guidelines' escape)."""
    label = result.check + (f"_{result.target}" if result.target else "")
    return "'" + label.replace("=", "_").replace("'", "''") + "'"


def perfdata_entry(result: Result) -> str:
    """`'label'=value[UOM];[warn];[crit];[min];[max]`, trailing empty fields dropped."""
    unit = _UNITS.get(result.unit, _Unit())
    thresholds = result.details.get("thresholds") or {}
    below = thresholds.get("direction") == "below"

    def scaled(value: float | None) -> str:
        return "" if value is None else decimal_text(value * unit.scale)

    def limit(value: float | None) -> str:
        text = scaled(value)
        return f"{text}:" if text and below else text

    fields = [
        limit(thresholds.get("warn")), limit(thresholds.get("crit")),
        "" if unit.min is None else decimal_text(unit.min),
        "" if unit.max is None else decimal_text(unit.max),
    ]
    while fields and not fields[-1]:
        fields.pop()
    return ";".join([f"{perfdata_label(result)}={scaled(result.value)}{unit.uom}", *fields])


def decimal_text(value: float) -> str:
    """A plain decimal, at most 6 places, never an exponent: `0.000025`, `70`, `-1.5`."""
    number = decimal.Decimal(repr(round(float(value), 6))).normalize()
    text = format(number, "f")
    return "0" if text in ("-0", "") else text
