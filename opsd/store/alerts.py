"""Alert states (one row per check and target) and the events the engine emitted."""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from opsd.alerting.engine import Alert, AlertEvent, EventType, Phase
from opsd.results import Status
from opsd.store.database import Store

_ENUMS: dict[str, type[enum.Enum]] = {
    "phase": Phase,
    "type": EventType,
    "severity": Status,
    "notified_severity": Status,
    "previous_severity": Status,
}
_Row = TypeVar("_Row", Alert, AlertEvent)


def load_alert(store: Store, check: str, target: str) -> Alert | None:
    """The stored state of one alert, or None if it never left OK."""
    rows = store.query(
        "SELECT * FROM alert_states WHERE check_name = ? AND target = ?", [check, target]
    )
    return next((_from_row(Alert, row) for row in rows), None)


def open_alerts(store: Store) -> list[Alert]:
    """Firing and pending alerts, firing first, then by when they started."""
    rows = store.query(
        "SELECT * FROM alert_states WHERE phase != 'OK'"
        " ORDER BY phase = 'PENDING', since, check_name, target"
    )
    return [_from_row(Alert, row) for row in rows]


def firing_counts(store: Store) -> dict[str, int]:
    """Firing alerts by severity."""
    return _counts_in_phase(store, Phase.FIRING)


def pending_counts(store: Store) -> dict[str, int]:
    """Pending alerts (a problem seen, not yet enough times to fire) by severity."""
    return _counts_in_phase(store, Phase.PENDING)


def _counts_in_phase(store: Store, phase: Phase) -> dict[str, int]:
    rows = store.conn.execute(
        "SELECT severity, COUNT(*) FROM alert_states WHERE phase = ? GROUP BY severity",
        (phase.value,),
    )
    return {row[0]: int(row[1]) for row in rows}


def events_since(store: Store, since: float) -> list[AlertEvent]:
    """Alert events at or after `since`, oldest first."""
    rows = store.query("SELECT * FROM alert_events WHERE at >= ? ORDER BY id", [since])
    return [_from_row(AlertEvent, row) for row in rows]


def save_alert(store: Store, alert: Alert) -> None:
    """Insert or replace one alert's state (inside the caller's transaction)."""
    _insert(store, "alert_states", _to_row(alert), replace=True)


def record_events(store: Store, events: Sequence[AlertEvent]) -> list[AlertEvent]:
    """Insert events (inside the caller's transaction); returns them with their ids."""
    recorded = []
    for event in events:
        row = _to_row(event)
        del row["id"]
        recorded.append(dataclasses.replace(event, id=_insert(store, "alert_events", row)))
    return recorded


def _insert(store: Store, table: str, row: dict[str, Any], *, replace: bool = False) -> int:
    columns = ", ".join(row)
    marks = ", ".join("?" * len(row))
    verb = "INSERT OR REPLACE" if replace else "INSERT"
    cursor = store.conn.execute(
        f"{verb} INTO {table} ({columns}) VALUES ({marks})", list(row.values())
    )
    return int(cursor.lastrowid or 0)


def _to_row(item: Alert | AlertEvent) -> dict[str, Any]:
    row = {}
    for field in dataclasses.fields(item):
        value = getattr(item, field.name)
        if isinstance(value, enum.Enum):
            value = value.value
        elif isinstance(value, dict):
            value = json.dumps(value, default=str)
        row[_column(field.name)] = value
    return row


def _from_row(cls: type[_Row], row: dict[str, Any]) -> _Row:
    values = {}
    for field in dataclasses.fields(cls):
        value = row[_column(field.name)]
        if field.name in _ENUMS and value is not None:
            value = _ENUMS[field.name](value)
        elif field.name == "thresholds":
            value = json.loads(value or "{}")
        elif field.type == "bool":  # SQLite keeps booleans as 0/1
            value = bool(value)
        values[field.name] = value
    return cls(**values)


def _column(field_name: str) -> str:
    # `check` is an SQL keyword.
    return "check_name" if field_name == "check" else field_name
