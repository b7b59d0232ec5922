"""Silences (added from the CLI, stored) and recurring maintenance windows (from config).

Both answer one question for the alert engine: is this (check, kind, target) silenced now,
and by what? The answer is a short description (`silence 3: db migration`,
`maintenance window nightly`) recorded with every event it holds back.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from opsd.store import Store
from opsd.store.silences import (
    Silence,
    active_silences,
    add_silence,
    matches_any,
    remove_silence,
)

if TYPE_CHECKING:
    from opsd.config import Settings

__all__ = [
    "Silence", "Silencer", "active_silences", "add_silence", "matches_any", "remove_silence",
    "silencer", "silencing", "window_end",
]

Silencer = Callable[[str, str, str], str | None]
"""(check, kind, target) -> what silences it, or None."""


class Window(Protocol):
    """A maintenance window: `[[alerts.maintenance]]`, or its snapshot in a read-only command."""

    @property
    def name(self) -> str: ...
    @property
    def schedule(self) -> str: ...
    @property
    def duration(self) -> float: ...
    @property
    def timezone(self) -> str | None: ...
    @property
    def checks(self) -> Sequence[str]: ...


def window_end(window: Window, default_timezone: str, now: float) -> float | None:
    """When the occurrence of `window` in force at `now` ends; None if none is in force."""
    timezone = window.timezone or default_timezone
    at = dt.datetime.fromtimestamp(now, zoneinfo.ZoneInfo(timezone))
    # The window's schedule is a cron like a playbook's: the same DST-safe walk backwards.
    from opsd.cron import previous_fire_time  # the cron parser loads only when windows exist

    started = previous_fire_time(window.schedule, timezone, at)
    if started is None:
        return None
    ends = started.timestamp() + window.duration
    return ends if now < ends else None


def silencer(store: Store, settings: Settings, now: float) -> Silencer:
    """The silences and maintenance windows in force at `now`, as one lookup."""
    return silencing(
        active_silences(store, now), settings.alerts.maintenance, settings.scheduler.timezone,
        now,
    )


def silencing(
    silences: Sequence[Silence], maintenance: Sequence[Window], timezone: str, now: float
) -> Silencer:
    """`silences` and the `maintenance` windows in force at `now`, as one lookup."""
    windows = [w for w in maintenance if window_end(w, timezone, now) is not None]

    def lookup(check: str, kind: str, target: str) -> str | None:
        for silence in silences:
            if silence.matches(check, kind, target):
                return silence.describe()
        for window in windows:
            if matches_any(window.checks, check, kind):
                return f"maintenance window {window.name}"
        return None

    return lookup
