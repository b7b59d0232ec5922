"""Fault injection state: added latency, error modes and 429 bursts (pure decisions).

The server asks `Faults` what to do with each request; the answer is a delay and, if a fault
applies, the status to answer with. Counting and random draws happen under the caller's lock.
Hangs block threads, so they live with the HTTP server (`server.Sandbox.hang`).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field

from opsd.sandbox.gateways import check_fault
from opsd.sandbox.responses import INJECTABLE_STATUSES


@dataclass
class ErrorMode:
    """Answer `status` to requests under `path` (a prefix; None = all).

    `remaining` counts down the next N matching requests (None = unlimited); `fraction` makes
    only that share of matching requests fail (drawn from a seeded RNG, so runs repeat).
    `html` answers a gateway's page instead of Notion's JSON, `code` picks Notion's code.
    """

    status: int
    remaining: int | None = None
    fraction: float | None = None
    path: str | None = None
    retry_after: int | None = None  # seconds; a 429 without it says 1
    http_date: bool = False
    html: bool | None = None  # a gateway's HTML page; False: JSON even for 502 (`gateways`)
    code: str | None = None  # Notion's code when a status has several (503 database_...)

    def matches(self, path: str) -> bool:
        return self.path is None or path.startswith(self.path)


@dataclass
class Faults:
    """All active faults (a fresh instance is the reset state)."""

    latency: float = 0.0
    path_latency: dict[str, float] = field(default_factory=dict)
    errors: list[ErrorMode] = field(default_factory=list)
    seed: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def delay_for(self, path: str) -> float:
        """Seconds to wait before answering `path`: the longest matching prefix wins."""
        matches = [p for p in self.path_latency if path.startswith(p)]
        return self.path_latency[max(matches, key=len)] if matches else self.latency

    def add_error(self, mode: ErrorMode) -> None:
        """Queue an error mode; validates what a user may type on the CLI or admin API."""
        if mode.html or mode.code:
            check_fault(mode.status, mode.html, mode.code)
        elif mode.status not in INJECTABLE_STATUSES:
            allowed = ", ".join(str(s) for s in INJECTABLE_STATUSES)
            raise ValueError(f"status {mode.status} cannot be injected (use one of {allowed})")
        if mode.remaining is not None and mode.remaining < 1:
            raise ValueError("count must be at least 1")
        if mode.fraction is not None and not 0 < mode.fraction <= 1:
            raise ValueError("fraction must be in (0, 1]")
        if mode.retry_after is not None and mode.retry_after < 0:
            raise ValueError("retry_after must not be negative")
        self.errors.append(mode)

    def error_for(self, path: str) -> ErrorMode | None:
        """The error mode that answers this request, if any (spending one of its count)."""
        for mode in self.errors:
            if not mode.matches(path):
                continue
            if mode.fraction is not None and self._rng.random() >= mode.fraction:
                continue
            if mode.remaining is not None:
                mode.remaining -= 1
                if mode.remaining == 0:
                    self.errors.remove(mode)
            return mode
        return None

    def describe(self) -> dict:
        """The active faults, for `GET /__sandbox/stats`."""
        return {
            "latency_seconds": self.latency,
            "path_latency_seconds": dict(self.path_latency),
            "errors": [asdict(mode) for mode in self.errors],
        }
