"""Thresholds: a value compared with `warn` and `crit`, above or below (pure)."""

from __future__ import annotations

import dataclasses
import re
from typing import Literal

from opsd.results import Status
from opsd.units import format_value

Direction = Literal["above", "below"]
Cause = Literal["slow", "high", "low"]


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """`direction="above"`: a value at or above `crit` is CRITICAL, at or above `warn` WARNING;
    `direction="below"`: the same with at or below."""

    warn: float | None = None
    crit: float | None = None
    direction: Direction = "above"

    def evaluate(self, value: float | None) -> Status:
        if value is None:
            return Status.OK
        if self.crit is not None and self._crosses(value, self.crit):
            return Status.CRITICAL
        if self.warn is not None and self._crosses(value, self.warn):
            return Status.WARNING
        return Status.OK

    def _crosses(self, value: float, limit: float) -> bool:
        return value >= limit if self.direction == "above" else value <= limit

    def crossing(self, value: float, status: Status, unit: str = "") -> str:
        """What `value` crossed, class first: `slow: 2.31 s ≥ 2 s (critical)` ('' for OK)."""
        limit = {Status.CRITICAL: self.crit, Status.WARNING: self.warn}.get(status)
        if limit is None:
            return ""
        sign = "≥" if self.direction == "above" else "≤"
        return (
            f"{self.cause(unit)}: {format_value(value, unit)} {sign} "
            f"{_trimmed(format_value(limit, unit))} ({status.value.lower()})"
        )

    def cause(self, unit: str = "") -> Cause:
        """The class of failure a crossing means: `slow` (a duration above), `high`, `low`."""
        if self.direction == "below":
            return "low"
        return "slow" if unit in ("seconds", "s") else "high"

    @property
    def defined(self) -> bool:
        return self.warn is not None or self.crit is not None

    def order_problem(self) -> str | None:
        """Why `warn` and `crit` are inverted (warn would be the more severe), or None.

        Equal limits are allowed: that entry is simply critical-only."""
        if self.warn is None or self.crit is None or self.warn == self.crit:
            return None
        if self._crosses(self.warn, self.crit):
            order = "below" if self.direction == "above" else "above"
            return (f"warn ({self.warn:g}) must be {order} crit ({self.crit:g}) "
                    f"for direction {self.direction!r}")
        return None


def _trimmed(text: str) -> str:
    """`2.00 s` -> `2 s`, `80.0%` -> `80%`, `1.50 s` -> `1.5 s`: a limit as people write it."""
    return re.sub(
        r"(\d)\.(\d*?)0+(?!\d)", lambda m: m[1] + ("." + m[2] if m[2] else ""), text, count=1
    )
