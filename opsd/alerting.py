"""The alert engine at work: a recorded run's results -> alert states, events and outbox rows
(one SQLite transaction), then delivery of whatever is due.

The state machine itself is pure (`opsd.alerts`); this module loads and saves its state, asks
`opsd.silences` what is silenced, and hands deliverable events to `opsd.notify`. Because
states live in SQLite, a restart neither repeats a firing alert nor forgets it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from opsd import metrics
from opsd.alerts import Alert, AlertEvent, EventType, Phase, Policy, evaluate, tick
from opsd.config import Settings
from opsd.notify import Origin, Send, enqueue, outbox_depth, retry_outbox
from opsd.playbooks import CheckSpec, Playbook
from opsd.results import Result, Status
from opsd.runner import RunReport
from opsd.silences import silencer
from opsd.store import Store

CONFIG_CHECK = "opsd.config"
_ENUMS: dict[str, type[enum.Enum]] = {
    "phase": Phase,
    "type": EventType,
    "severity": Status,
    "notified_severity": Status,
    "previous_severity": Status,
}
_Row = TypeVar("_Row", Alert, AlertEvent)


def apply_results(
    settings: Settings,
    store: Store,
    results: Sequence[Result],
    *,
    now: float,
    specs: Mapping[str, CheckSpec] | None = None,
    playbook: str = "",
) -> list[AlertEvent]:
    """Feed results to their alerts, remind and release held alerts, queue messages.

    `specs` (by entry name) carry per-entry thresholds; returns the events recorded, with ids.
    """
    specs = specs or {}
    silenced = silencer(store, settings, now)
    origin = Origin.here(settings, _workspace(store, results, now))
    events: list[AlertEvent] = []
    with store.transaction() as conn:
        seen = set()
        for result in results:
            seen.add((result.check, result.target))
            loaded = load_alert(store, result.check, result.target)
            alert = loaded or Alert(result.check, result.target)
            alert = dataclasses.replace(alert, playbook=playbook or alert.playbook)
            policy = Policy.from_config(settings.alerts, specs.get(result.check))
            alert, new = evaluate(
                alert, result, now, policy, silenced(result.check, result.kind, result.target)
            )
            if loaded is not None or alert.phase is not Phase.OK:
                _save_alert(conn, alert)
            events += new
        # Alerts not in this run still get their reminders and held announcements.
        for alert in open_alerts(store):
            if (alert.check, alert.target) in seen:
                continue
            ticked, new = tick(alert, now, silenced(alert.check, alert.kind, alert.target))
            if ticked != alert:
                _save_alert(conn, ticked)
            events += new
        events = _record_events(conn, events)
        enqueue(conn, settings, events, origin, now)
    publish_metrics(store)
    return events


def sweep(settings: Settings, store: Store, now: float) -> list[AlertEvent]:
    """Reminders and announcements held by ended silences, without new results."""
    return apply_results(settings, store, [], now=now)


class AlertObserver:
    """The runner observer: every recorded run goes through the alert engine, then the
    outbox is flushed (in a thread: delivery blocks). `send`: see `retry_outbox`."""

    def __init__(self, settings: Settings, store: Store, send: Send | None = None) -> None:
        self.settings = settings
        self.store = store
        self.send = send

    async def __call__(self, report: RunReport, playbook: Playbook) -> None:
        apply_results(
            self.settings, self.store, report.results, now=report.finished_at,
            specs={spec.name: spec for spec in playbook.checks}, playbook=playbook.name,
        )
        await asyncio.to_thread(
            retry_outbox, self.settings, self.store, report.finished_at, self.send
        )


def raise_config_alert(
    store: Store, settings: Settings, message: str, now: float, send: Send | None = None
) -> list[AlertEvent]:
    """A CRITICAL `opsd.config` alert (a reload found a broken config), sent right away.

    `settings` are the ones still in force (the previous, valid config).
    """
    result = Result(Status.CRITICAL, message, check=CONFIG_CHECK, kind=CONFIG_CHECK)
    return _apply_and_send(store, settings, result, now, send)


def clear_config_alert(
    store: Store, settings: Settings, now: float, send: Send | None = None
) -> list[AlertEvent]:
    """Resolve the `opsd.config` alert after a successful reload."""
    result = Result(Status.OK, "configuration reloaded", check=CONFIG_CHECK, kind=CONFIG_CHECK)
    return _apply_and_send(store, settings, result, now, send)


def _apply_and_send(
    store: Store, settings: Settings, result: Result, now: float, send: Send | None
) -> list[AlertEvent]:
    events = apply_results(settings, store, [result], now=now, playbook="daemon")
    retry_outbox(settings, store, now, send)
    return events


def publish_metrics(store: Store) -> None:
    """Firing alerts by severity and the outbox depth, to the Prometheus gauges."""
    counts = dict(store.conn.execute(
        "SELECT severity, COUNT(*) FROM alert_states WHERE phase = 'FIRING' GROUP BY severity"
    ).fetchall())
    metrics.set_alerts_firing(counts)
    metrics.set_outbox_depth(outbox_depth(store))


# --- persistence ----------------------------------------------------------------------------


def load_alert(store: Store, check: str, target: str) -> Alert | None:
    rows = store.db.query(
        "SELECT * FROM alert_states WHERE check_name = ? AND target = ?", [check, target]
    )
    return next((_from_row(Alert, row) for row in rows), None)


def open_alerts(store: Store) -> list[Alert]:
    """Firing and pending alerts, firing first, then by when they started."""
    rows = store.db.query(
        "SELECT * FROM alert_states WHERE phase != 'OK'"
        " ORDER BY phase = 'PENDING', since, check_name, target"
    )
    return [_from_row(Alert, row) for row in rows]


def events_since(store: Store, since: float) -> list[AlertEvent]:
    """Alert events at or after `since`, oldest first."""
    rows = store.db.query("SELECT * FROM alert_events WHERE at >= ? ORDER BY id", [since])
    return [_from_row(AlertEvent, row) for row in rows]


def _save_alert(conn: sqlite3.Connection, alert: Alert) -> None:
    _insert(conn, "alert_states", _to_row(alert), replace=True)


def _record_events(conn: sqlite3.Connection, events: list[AlertEvent]) -> list[AlertEvent]:
    recorded = []
    for event in events:
        row = _to_row(event)
        del row["id"]
        event_id = _insert(conn, "alert_events", row)
        recorded.append(dataclasses.replace(event, id=event_id))
    return recorded


def _insert(
    conn: sqlite3.Connection, table: str, row: dict[str, Any], *, replace: bool = False
) -> int:
    columns = ", ".join(row)
    marks = ", ".join("?" * len(row))
    verb = "INSERT OR REPLACE" if replace else "INSERT"
    cursor = conn.execute(f"{verb} INTO {table} ({columns}) VALUES ({marks})", list(row.values()))
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
        values[field.name] = value
    return cls(**values)


def _column(field_name: str) -> str:
    # `check` is an SQL keyword.
    return "check_name" if field_name == "check" else field_name


def _workspace(store: Store, results: Sequence[Result], now: float) -> str | None:
    """The Notion workspace name from a `notion.auth` result, remembered for later runs."""
    for result in results:
        workspace = result.details.get("workspace") if result.kind == "notion.auth" else None
        if workspace:
            store.set_state("alerts", "workspace", str(workspace), now=now)
            return str(workspace)
    return store.get_state("alerts", "workspace")
