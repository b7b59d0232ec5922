"""Schema snapshots of watched data sources (`notion_schemas`): a row per schema seen.

A row is appended only when a data source's schema differs from its latest row; otherwise the
latest row's `seen_at` moves on. `properties` is the JSON list of `opsd.notion.schema`
(`id`, `name`, `type`, `options`). `source_id` is the data source id, or the database id when
the database was read as one (Notion-Version 2022-06-28).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from opsd.store.database import Store

_COLUMNS = "database_id, source_id, source_name, properties, recorded_at, seen_at"


@dataclasses.dataclass(frozen=True)
class SchemaSnapshot:
    """One recorded schema: in force from `recorded_at`, last confirmed at `seen_at`."""

    database_id: str
    source_id: str
    source_name: str
    properties: list[dict[str, Any]]
    recorded_at: float
    seen_at: float


def _snapshot(row: dict[str, Any]) -> SchemaSnapshot:
    return SchemaSnapshot(row["database_id"], row["source_id"], row["source_name"],
                          json.loads(row["properties"]), row["recorded_at"], row["seen_at"])


def record_schema(
    store: Store, *, database_id: str, source_id: str, source_name: str,
    properties: list[dict[str, Any]], now: float,
) -> bool:
    """Note the schema seen `now`; True if it differs from the latest (a row was appended)."""
    with store.transaction() as conn:
        latest = latest_schema(store, database_id, source_id)
        if latest is not None and latest.properties == properties:
            conn.execute(
                "UPDATE notion_schemas SET seen_at = ?, source_name = ? WHERE database_id = ?"
                " AND source_id = ? AND recorded_at = ?",
                (max(now, latest.seen_at), source_name, database_id, source_id,
                 latest.recorded_at),
            )
            return False
        conn.execute(
            f"INSERT INTO notion_schemas ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            (database_id, source_id, source_name, json.dumps(properties), now, now),
        )
        return True


def latest_schema(store: Store, database_id: str, source_id: str) -> SchemaSnapshot | None:
    """The newest snapshot of a data source, or None."""
    rows = store.query(
        f"SELECT {_COLUMNS} FROM notion_schemas WHERE database_id = ? AND source_id = ?"
        " ORDER BY recorded_at DESC, id DESC LIMIT 1",
        (database_id, source_id),
    )
    return _snapshot(rows[0]) if rows else None


def schema_as_of(
    store: Store, database_id: str, source_id: str, when: float
) -> SchemaSnapshot | None:
    """The snapshot in force at `when`; the oldest kept if none is that old; None if none."""
    rows = store.query(
        f"SELECT {_COLUMNS} FROM notion_schemas WHERE database_id = ? AND source_id = ?"
        " ORDER BY recorded_at <= ? DESC,"
        " CASE WHEN recorded_at <= ? THEN -recorded_at ELSE recorded_at END, id LIMIT 1",
        (database_id, source_id, when, when),
    )
    return _snapshot(rows[0]) if rows else None


def schema_history(store: Store, database_id: str, source_id: str) -> list[SchemaSnapshot]:
    """Every kept snapshot of a data source, oldest first."""
    rows = store.query(
        f"SELECT {_COLUMNS} FROM notion_schemas WHERE database_id = ? AND source_id = ?"
        " ORDER BY recorded_at, id",
        (database_id, source_id),
    )
    return [_snapshot(row) for row in rows]


def prune_schemas(store: Store, before: float) -> int:
    """Delete snapshots superseded before `before` (each data source keeps its latest)."""
    with store.transaction() as conn:
        return int(conn.execute(
            "DELETE FROM notion_schemas WHERE seen_at < ? AND id NOT IN ("
            " SELECT MAX(id) FROM notion_schemas GROUP BY database_id, source_id)",
            (before,),
        ).rowcount)
