"""Silences added from the CLI: a glob over check names or kinds, an optional target, an end."""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Sequence

from opsd.store.database import Store


def matches_any(patterns: Sequence[str], check: str, kind: str) -> bool:
    """True if any glob matches the check name or the kind (`notion.*`)."""
    return any(
        fnmatch.fnmatchcase(check, p) or fnmatch.fnmatchcase(kind, p) for p in patterns
    )


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
    rows = store.query(
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
