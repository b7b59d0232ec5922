"""The rows a report reads (`opsd.reports.gather`): one query per section, all over a
period [start, end). Summarising them is `opsd.reports.model`'s work."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

from opsd.store.database import Store


def alert_events(store: Store, start: float, end: float) -> list[dict[str, Any]]:
    """FIRING and RESOLVED alert events in the period, oldest first."""
    return store.query(
        "SELECT type, check_name, target, at, since FROM alert_events"
        " WHERE at >= ? AND at < ? AND type IN ('FIRING', 'RESOLVED') ORDER BY at, id",
        [start, end],
    )


def check_units(store: Store, checks: Iterable[str]) -> dict[str, str]:
    """The unit of each check's values, from its latest raw result (an index seek each);
    rollups keep values, not units."""
    units = {}
    for check in checks:
        row = store.conn.execute(
            "SELECT unit FROM results WHERE check_name = ? ORDER BY started_at DESC LIMIT 1",
            (check,),
        ).fetchone()
        if row is not None and row[0]:
            units[check] = str(row[0])
    return units


def silences_used(store: Store, start: float, end: float) -> list[str]:
    """Silences in force at some time in the period, as "pattern (reason)", oldest first."""
    rows = store.query(
        "SELECT pattern, target, reason FROM silences WHERE created_at < ?"
        " AND MIN(ends_at, COALESCE(removed_at, ends_at)) > ? ORDER BY created_at, id",
        [end, start],
    )
    return [f"{r['pattern']}{' ' + r['target'] if r['target'] else ''} ({r['reason']})"
            for r in rows]


def incidents_opened(store: Store, start: float, end: float) -> int:
    """Incidents opened in the period."""
    row = store.conn.execute("SELECT COUNT(*) FROM incidents WHERE opened_at >= ? AND"
                             " opened_at < ?", (start, end)).fetchone()
    return int(row[0])


def notion_requests(store: Store, start: float, end: float) -> list[dict[str, Any]]:
    """opsd's own Notion requests in the period, oldest first."""
    return store.query(
        "SELECT time, endpoint, status, error, latency, attempt, waited, retry_after"
        " FROM notion_requests WHERE time >= ? AND time < ? AND source = 'opsd'"
        " ORDER BY time, id",
        [start, end],
    )


TRAFFIC_CHUNK = 20_000
"""Rows per chunk of `notion_traffic`: a month of integration traffic is never all in memory."""


def notion_traffic(store: Store, start: float, end: float,
                   chunk: int = TRAFFIC_CHUNK) -> Iterator[list[dict[str, Any]]]:
    """Every source's Notion requests in the period (opsd's and the integration's through
    `opsd proxy`), oldest first, in chunks of at most `chunk` rows."""
    cursor = store.conn.cursor()
    cursor.row_factory = sqlite3.Row
    cursor.execute(
        "SELECT source, purpose, endpoint, status, error, latency, attempt, waited,"
        " retry_after, client_wait, redo, limits_exceeded, limits_near, likely_duplicate"
        " FROM notion_requests WHERE time >= ? AND time < ? ORDER BY time, id",
        [start, end],
    )
    while rows := cursor.fetchmany(chunk):
        yield [dict(row) for row in rows]


def schema_changes(store: Store, start: float, end: float) -> list[tuple[str, float, bool]]:
    """Schema versions recorded in the period as (source name, time, first ever for it)."""
    rows = store.query(
        "SELECT s.source_name, s.source_id, s.recorded_at, EXISTS (SELECT 1 FROM"
        " notion_schemas p WHERE p.database_id = s.database_id AND p.source_id = s.source_id"
        " AND p.recorded_at < s.recorded_at) AS before FROM notion_schemas s"
        " WHERE s.recorded_at >= ? AND s.recorded_at < ? ORDER BY s.recorded_at, s.id",
        [start, end],
    )
    return [(r["source_name"] or r["source_id"], float(r["recorded_at"]), not r["before"])
            for r in rows]


def new_findings(store: Store, start: float, end: float) -> list[dict[str, Any]]:
    """Secret findings first seen in the period (fingerprints and redacted previews only)."""
    return store.query(
        "SELECT rule, path, line, first_seen, COALESCE(verdict, '') AS verdict"
        " FROM secret_findings WHERE first_seen >= ? AND first_seen < ?"
        " ORDER BY first_seen, path, line",
        [start, end],
    )


def latest_of_kind(store: Store, kind: str, start: float, end: float) -> list[dict[str, Any]]:
    """The newest result of each (check, target) of `kind` in the period, details decoded."""
    rows = store.query(
        "SELECT check_name, target, status, value, summary, details, started_at FROM results r"
        " WHERE kind = ? AND started_at >= ? AND started_at < ? AND r.id = (SELECT q.id"
        " FROM results q WHERE q.kind = r.kind AND q.check_name = r.check_name AND q.target ="
        " r.target AND q.started_at >= ? AND q.started_at < ? ORDER BY q.started_at DESC,"
        " q.id DESC LIMIT 1) ORDER BY check_name, target",
        [kind, start, end, start, end],
    )
    for row in rows:
        row["details"] = json.loads(row["details"] or "{}")
    return rows


def backup_results(store: Store, start: float, end: float) -> list[dict[str, Any]]:
    """maintenance.backup results in the period, oldest first."""
    return store.query(
        "SELECT status, value, started_at FROM results WHERE kind = 'maintenance.backup'"
        " AND started_at >= ? AND started_at < ? ORDER BY started_at, id",
        [start, end],
    )
