"""Small key/value state per component: counter baselines, the workspace name, cursors."""

from __future__ import annotations

import json
from typing import Any

from opsd.store.database import Store


def get_state(store: Store, namespace: str, key: str) -> Any | None:
    """The value stored under (namespace, key), or None."""
    row = store.conn.execute(
        "SELECT value FROM state WHERE namespace = ? AND key = ?", (namespace, key)
    ).fetchone()
    return json.loads(row[0]) if row else None


def set_state(store: Store, namespace: str, key: str, value: Any, *, now: float) -> None:
    """Store `value` (JSON) under (namespace, key)."""
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO state (namespace, key, value, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at",
            (namespace, key, json.dumps(value), now),
        )
