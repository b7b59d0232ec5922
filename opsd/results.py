"""Check results and their status scale (Nagios: OK 0, WARNING 1, CRITICAL 2, UNKNOWN 3)."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable
from typing import Any


class Status(enum.StrEnum):
    """A check's verdict. SKIPPED means the check had nothing to look at."""

    OK = "OK"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"
    UNKNOWN = "UNKNOWN"
    SKIPPED = "SKIPPED"

    @property
    def exit_code(self) -> int:
        """The Nagios plugin exit code (SKIPPED counts as OK)."""
        return _EXIT_CODES[self]

    @property
    def rank(self) -> int:
        """Severity order used to pick the worst status: CRITICAL > UNKNOWN > WARNING > OK."""
        return _RANKS[self]

    @property
    def gauge(self) -> int:
        """Numeric value for Prometheus (0..3; SKIPPED is -1)."""
        return -1 if self is Status.SKIPPED else self.exit_code


_EXIT_CODES = {
    Status.OK: 0,
    Status.SKIPPED: 0,
    Status.WARNING: 1,
    Status.CRITICAL: 2,
    Status.UNKNOWN: 3,
}
_RANKS = {
    Status.SKIPPED: -1,
    Status.OK: 0,
    Status.WARNING: 1,
    Status.UNKNOWN: 2,
    Status.CRITICAL: 3,
}


def worst(statuses: Iterable[Status]) -> Status:
    """The most severe status; OK when there is none (or only SKIPPED)."""
    found = max(statuses, key=lambda s: s.rank, default=Status.OK)
    return Status.OK if found is Status.SKIPPED else found


@dataclasses.dataclass(frozen=True)
class Result:
    """What one check found about one target.

    Check functions fill in `status`, `value`, `summary`, `details` and, for checks with one
    result per configured thing, `target`; the runner fills in the rest.
    """

    status: Status
    summary: str = ""
    value: float | None = None
    unit: str = ""
    target: str = ""
    details: dict[str, Any] = dataclasses.field(default_factory=dict)
    check: str = ""
    kind: str = ""
    started_at: float = 0.0
    duration: float = 0.0

    def replace(self, **changes: Any) -> Result:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape the CLI prints (`duration_seconds`, status as a string)."""
        return {
            "check": self.check,
            "kind": self.kind,
            "target": self.target,
            "status": self.status.value,
            "value": self.value,
            "unit": self.unit,
            "summary": self.summary,
            "details": self.details,
            "started_at": self.started_at,
            "duration_seconds": round(self.duration, 6),
        }


@dataclasses.dataclass
class RunReport:
    """A playbook run: its results, when, and what started it."""

    playbook: str
    trigger: str
    started_at: float
    finished_at: float
    results: list[Result]
    run_id: int | None = None

    @property
    def status(self) -> Status:
        return worst(r.status for r in self.results)

    @property
    def exit_code(self) -> int:
        return self.status.exit_code

    def to_dict(self) -> dict[str, Any]:
        return {
            "playbook": self.playbook,
            "status": self.status.value,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_seconds": round(self.finished_at - self.started_at, 6),
            "trigger": self.trigger,
            "results": [r.to_dict() for r in self.results],
        }


def ok(summary: str, **fields: Any) -> Result:
    return Result(Status.OK, summary, **fields)


def skipped(reason: str, **fields: Any) -> Result:
    return Result(Status.SKIPPED, reason, **fields)
