"""Silences (added from the CLI, stored) and recurring maintenance windows (from config).

Both answer one question for the alert engine: is this (check, kind, target) silenced now,
and by what? The answer is a short description (`silence 3: db migration`,
`maintenance window nightly`) recorded with every event it holds back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import zoneinfo
from collections.abc import Callable, Sequence

from opsd.config import MaintenanceWindow, Settings
from opsd.store import Store

Silencer = Callable[[str, str, str], str | None]
"""(check, kind, target) -> what silences it, or None."""


@dataclasses.dataclass(frozen=True)
class Silence:
    id: int
    pattern: str
    target: str | None
    reason: str
    created_at: float
    ends_at: float

    def matches(self, check: str, kind: str, target: str) -> bool:
        """True if the pattern matches the check name or kind (and the target, if given)."""
        if self.target is not None and self.target != target:
            return False
        return matches_any([self.pattern], check, kind)

    def describe(self) -> str:
        return f"silence {self.id}: {self.reason}"

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def matches_any(patterns: Sequence[str], check: str, kind: str) -> bool:
    """True if any glob matches the check name or the kind (`notion.*`)."""
    return any(
        fnmatch.fnmatchcase(check, p) or fnmatch.fnmatchcase(kind, p) for p in patterns
    )


def add_silence(
    store: Store, *, pattern: str, target: str | None, duration: float, reason: str, now: float
) -> Silence:
    """Store a silence from `now` for `duration` seconds."""
    with store.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO silences (pattern, target, reason, created_at, ends_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (pattern, target, reason, now, now + duration),
        )
    return Silence(int(cursor.lastrowid or 0), pattern, target, reason, now, now + duration)


def active_silences(store: Store, now: float) -> list[Silence]:
    """Silences in force at `now`, oldest first."""
    rows = store.db.query(
        "SELECT id, pattern, target, reason, created_at, ends_at FROM silences"
        " WHERE ends_at > ? AND removed_at IS NULL ORDER BY id",
        [now],
    )
    return [Silence(**row) for row in rows]


def remove_silence(store: Store, silence_id: int, now: float) -> Silence | None:
    """End an active silence now; None if there is no such active silence."""
    found = next((s for s in active_silences(store, now) if s.id == silence_id), None)
    if found is not None:
        with store.transaction() as conn:
            conn.execute(
                "UPDATE silences SET removed_at = ?, ends_at = ? WHERE id = ?",
                (now, now, silence_id),
            )
    return found


def window_end(window: MaintenanceWindow, default_timezone: str, now: float) -> float | None:
    """When the occurrence of `window` in force at `now` ends; None if none is in force."""
    from opsd.playbooks import Playbook

    timezone = window.timezone or default_timezone
    at = dt.datetime.fromtimestamp(now, zoneinfo.ZoneInfo(timezone))
    # The window's schedule is a cron like a playbook's: reuse its DST-safe walk backwards.
    started = Playbook(name="maintenance", schedule=window.schedule).previous_run(timezone, at)
    if started is None:
        return None
    ends = started.timestamp() + window.duration
    return ends if now < ends else None


def silencer(store: Store, settings: Settings, now: float) -> Silencer:
    """The silences and maintenance windows in force at `now`, as one lookup."""
    silences = active_silences(store, now)
    windows = [
        w for w in settings.alerts.maintenance
        if window_end(w, settings.scheduler.timezone, now) is not None
    ]

    def lookup(check: str, kind: str, target: str) -> str | None:
        for silence in silences:
            if silence.matches(check, kind, target):
                return silence.describe()
        for window in windows:
            if matches_any(window.checks, check, kind):
                return f"maintenance window {window.name}"
        return None

    return lookup
