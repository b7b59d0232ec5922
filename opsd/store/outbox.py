"""The outbox: one row per (message, destination URL) until delivered or abandoned.

Rows hold a hash of the URL's config entry and its privacy-masked label, never the URL.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from opsd.store.database import Store


@dataclasses.dataclass(frozen=True)
class OutboxRow:
    """One message for one destination, as queued."""

    url_key: str
    url_label: str
    notify_type: str
    title: str
    body: str
    event_ids: tuple[int, ...] = ()


def enqueue(store: Store, rows: Sequence[OutboxRow], now: float) -> int:
    """Queue `rows` (inside the caller's transaction, if any); returns how many."""
    with store.transaction() as conn:
        conn.executemany(
            "INSERT INTO outbox (created_at, url_key, url_label, notify_type, title, body,"
            " event_ids, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (now, r.url_key, r.url_label, r.notify_type, r.title, r.body,
                 json.dumps(list(r.event_ids)), now)
                for r in rows
            ],
        )
    return len(rows)


def claim_next(
    store: Store, now: float, lease: float, skip_keys: set[str]
) -> dict[str, Any] | None:
    """The oldest due row not for `skip_keys`, claimed for `lease` seconds; None if none."""
    skip = ",".join("?" * len(skip_keys))
    with store.transaction() as conn:
        row = next(iter(store.query(
            "SELECT * FROM outbox WHERE delivered_at IS NULL AND abandoned_at IS NULL"
            " AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?)"
            f" AND url_key NOT IN ({skip}) ORDER BY id LIMIT 1",
            [now, now, *sorted(skip_keys)],
        )), None)
        if row is not None:
            conn.execute(
                "UPDATE outbox SET claimed_until = ? WHERE id = ?", (now + lease, row["id"])
            )
    return row


def mark_delivered(store: Store, row_id: int, now: float) -> None:
    with store.transaction() as conn:
        conn.execute(
            "UPDATE outbox SET delivered_at = ?, attempts = attempts + 1, claimed_until = NULL,"
            " last_error = NULL WHERE id = ?",
            (now, row_id),
        )


def mark_failed(
    store: Store, row_id: int, *, attempts: int, error: str, next_attempt_at: float
) -> None:
    with store.transaction() as conn:
        conn.execute(
            "UPDATE outbox SET attempts = ?, last_error = ?, next_attempt_at = ?,"
            " claimed_until = NULL WHERE id = ?",
            (attempts, error, next_attempt_at, row_id),
        )


def give_up(
    store: Store, row_id: int, now: float, error: str, attempts: int | None = None
) -> None:
    with store.transaction() as conn:
        conn.execute(
            "UPDATE outbox SET abandoned_at = ?, last_error = ?, claimed_until = NULL,"
            " attempts = COALESCE(?, attempts) WHERE id = ?",
            (now, error, attempts, row_id),
        )


def outbox_depth(store: Store) -> int:
    """Messages still waiting for delivery."""
    row = store.conn.execute(
        "SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL AND abandoned_at IS NULL"
    ).fetchone()
    return int(row[0])


def outbox_rows(store: Store, since: float) -> list[dict[str, Any]]:
    """Outbox rows created since `since`, oldest first (no URL in them, only labels)."""
    return store.query(
        "SELECT id, created_at, url_label, title, event_ids, attempts, last_error,"
        " delivered_at, abandoned_at FROM outbox WHERE created_at >= ? ORDER BY id",
        [since],
    )
