"""Thresholds: a value compared with `warn` and `crit`, above or below (pure)."""

from __future__ import annotations

import dataclasses
from typing import Literal

from opsd.results import Status
from opsd.units import format_value

Direction = Literal["above", "below"]


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

    def describe(self, status: Status, unit: str = "") -> str:
        """Which limit `status` crossed, e.g. `>= 2.00 s` (empty for OK)."""
        limit = {Status.CRITICAL: self.crit, Status.WARNING: self.warn}.get(status)
        if limit is None:
            return ""
        sign = ">=" if self.direction == "above" else "<="
        return f"{sign} {format_value(limit, unit)}"

    @property
    def defined(self) -> bool:
        return self.warn is not None or self.crit is not None
