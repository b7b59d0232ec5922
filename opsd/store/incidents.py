"""Incidents and their notes; the sources of an incident's timeline.

An incident is a row (who opened it, when, why, how it closed) plus the notes people add. Its
timeline is not copied anywhere: it is what the alert events, playbook runs and silences
between `opened_at` and `closed_at` (or now) say, one query per source here, merged by
`opsd.incidents.timeline`. Times are UTC epoch seconds.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from opsd.store.database import Store

_COLUMNS = (
    "id, opened_at, opened_by_user, opened_by_host, reason, trigger, closed_at, closed_by,"
    " resolution"
)


@dataclasses.dataclass(frozen=True)
class Incident:
    """One incident, open while `closed_at` is None."""

    id: int
    opened_at: float
    opened_by_user: str
    opened_by_host: str
    reason: str
    trigger: str
    closed_at: float | None = None
    closed_by: str | None = None
    resolution: str = ""

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def time_to_resolve(self) -> float | None:
        """Seconds from opening to closing; None while open."""
        return None if self.closed_at is None else self.closed_at - self.opened_at

    @property
    def opened_by(self) -> str:
        """`user@host` (just one of them when the other is unknown)."""
        return "@".join(part for part in (self.opened_by_user, self.opened_by_host) if part)

    def end(self, now: float) -> float:
        """Where its timeline ends: its closing, else `now`."""
        return now if self.closed_at is None else self.closed_at

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "state": "open" if self.is_open else "closed",
                "time_to_resolve_seconds": self.time_to_resolve}


@dataclasses.dataclass(frozen=True)
class Note:
    """Something a person wrote into an incident."""

    id: int
    incident_id: int
    at: float
    author: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def open_incident(
    store: Store, *, now: float, user: str, host: str, reason: str, trigger: str
) -> Incident:
    """Record a new open incident (inside the caller's transaction, if any)."""
    with store.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO incidents (opened_at, opened_by_user, opened_by_host, reason, trigger)"
            " VALUES (?, ?, ?, ?, ?)",
            (now, user, host, reason, trigger),
        )
    return Incident(int(cursor.lastrowid or 0), now, user, host, reason, trigger)


def open_or_join(
    store: Store, *, now: float, user: str, host: str, reason: str, trigger: str, note: str
) -> tuple[Incident, bool]:
    """The open incident with `note` added (True: joined), else a new one (False), in one
    transaction: two emergency runs at once cannot open two incidents."""
    with store.transaction():
        found = current(store)
        if found is not None:
            add_note(store, found.id, now=now, author=user, text=note)
            return found, True
        return open_incident(store, now=now, user=user, host=host, reason=reason,
                             trigger=trigger), False


def current(store: Store) -> Incident | None:
    """The open incident (the oldest, should there be more than one), or None."""
    rows = store.query(
        f"SELECT {_COLUMNS} FROM incidents WHERE closed_at IS NULL ORDER BY id LIMIT 1"
    )
    return Incident(**rows[0]) if rows else None


def get(store: Store, incident_id: int) -> Incident | None:
    rows = store.query(f"SELECT {_COLUMNS} FROM incidents WHERE id = ?", [incident_id])
    return Incident(**rows[0]) if rows else None


def list_incidents(store: Store, limit: int | None = None) -> list[Incident]:
    """Incidents, newest first."""
    rows = store.query(
        f"SELECT {_COLUMNS} FROM incidents ORDER BY id DESC LIMIT ?",
        [-1 if limit is None else limit],
    )
    return [Incident(**row) for row in rows]


def add_note(store: Store, incident_id: int, *, now: float, author: str, text: str) -> Note:
    with store.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO incident_notes (incident_id, at, author, text) VALUES (?, ?, ?, ?)",
            (incident_id, now, author, text),
        )
    return Note(int(cursor.lastrowid or 0), incident_id, now, author, text)


def notes(store: Store, incident_id: int) -> list[Note]:
    rows = store.query(
        "SELECT id, incident_id, at, author, text FROM incident_notes WHERE incident_id = ?"
        " ORDER BY at, id",
        [incident_id],
    )
    return [Note(**row) for row in rows]


def close(
    store: Store, incident_id: int, *, now: float, by: str, resolution: str
) -> Incident | None:
    """Close an open incident now; None when it is not open (closed already, or unknown)."""
    with store.transaction() as conn:
        changed = conn.execute(
            "UPDATE incidents SET closed_at = ?, closed_by = ?, resolution = ?"
            " WHERE id = ? AND closed_at IS NULL",
            (now, by, resolution, incident_id),
        ).rowcount
    return get(store, incident_id) if changed else None


def resolved_between(store: Store, since: float, until: float) -> list[tuple[int, float, float]]:
    """Incidents closed in [since, until): (id, opened_at, closed_at), by closing time; their
    time to resolve is `closed_at - opened_at` (the reports' figure)."""
    rows = store.conn.execute(
        "SELECT id, opened_at, closed_at FROM incidents"
        " WHERE closed_at >= ? AND closed_at < ? ORDER BY closed_at, id",
        (since, until),
    ).fetchall()
    return [(int(i), float(opened), float(closed)) for i, opened, closed in rows]


# --- the timeline's sources (one query each) -------------------------------------------------


def alert_events_between(store: Store, start: float, end: float) -> list[dict[str, Any]]:
    """Alert events in [start, end], oldest first."""
    return store.query(
        "SELECT id, type, check_name, target, severity, at, summary, resolution, silenced_by,"
        " suppressed_by FROM alert_events WHERE at >= ? AND at <= ? ORDER BY at, id",
        [start, end],
    )


def runs_between(store: Store, start: float, end: float) -> list[dict[str, Any]]:
    """Playbook runs finished in [start, end] with their worst status, oldest first."""
    return store.query(
        "SELECT id, playbook, trigger, status, started_at, finished_at FROM runs"
        " WHERE finished_at >= ? AND finished_at <= ? ORDER BY finished_at, id",
        [start, end],
    )


def silences_between(store: Store, start: float, end: float) -> list[dict[str, Any]]:
    """Silences added, removed or ended in [start, end]."""
    return store.query(
        "SELECT id, pattern, target, reason, created_at, ends_at, removed_at FROM silences"
        " WHERE (created_at >= ? AND created_at <= ?) OR (ends_at >= ? AND ends_at <= ?)"
        " ORDER BY id",
        [start, end, start, end],
    )


def alerts_still_firing(store: Store, start: float, end: float) -> int | None:
    """Of the alerts that fired in [start, end], how many are firing now; None when none
    fired (so "all resolved" means something only when this is 0)."""
    fired, firing = store.conn.execute(
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE s.phase = 'FIRING') FROM ("
        " SELECT DISTINCT check_name, target FROM alert_events"
        " WHERE at >= ? AND at <= ? AND type IN ('FIRING', 'ESCALATED')) e"
        " LEFT JOIN alert_states s ON s.check_name = e.check_name AND s.target = e.target",
        (start, end),
    ).fetchone()
    return None if not fired else int(firing)
