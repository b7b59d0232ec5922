"""The outbox: one row per (message, destination URL) until delivered or abandoned.

Rows hold a hash of the URL without its credentials and its privacy-masked label, never the
URL. A sender claims a row (`claimed_by`: its process, `claimed_until`: a lease), commits
`sending_at` before it sends and the outcome after; a row taken over with `sending_at` still
set has an unknown outcome: it is marked `uncertain`.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Callable, Sequence
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


def _anyone_alive(claimer: str) -> bool:
    return True


def claim_next(
    store: Store, now: float, lease: float, skip_keys: set[str], claimer: str = "",
    alive: Callable[[str], bool] = _anyone_alive,
) -> dict[str, Any] | None:
    """The oldest due row not for `skip_keys`, claimed by `claimer` (a process identity) for
    `lease` seconds; None if none.

    Only a URL's oldest waiting row (its head) is ever due: a receiver gets its messages in
    the order they were queued, and a failing head holds back the rows behind it. A row
    claimed by another process is left alone until its lease ends, unless `alive` says that
    process is gone. A row taken over with `sending_at` set (its sender died mid-send) is
    marked uncertain, and comes back with `taken_over` true (and `taken_from`, the claimer
    it was taken from); else false."""
    skip = ",".join("?" * len(skip_keys))
    with store.transaction() as conn:
        # Read lazily, stopping at the first claimable head: the oldest one, nearly always.
        cursor = conn.cursor()
        cursor.row_factory = sqlite3.Row
        heads = cursor.execute(
            "SELECT * FROM outbox o WHERE delivered_at IS NULL AND abandoned_at IS NULL"
            f" AND next_attempt_at <= ? AND url_key NOT IN ({skip}) AND NOT EXISTS ("
            "SELECT 1 FROM outbox h WHERE h.url_key = o.url_key AND h.id < o.id"
            " AND h.delivered_at IS NULL AND h.abandoned_at IS NULL) ORDER BY id",
            [now, *sorted(skip_keys)],
        )
        row = next((h for h in map(dict, heads) if _claimable(h, now, alive)), None)
        cursor.close()
        if row is None:
            return None
        taken_over = row["sending_at"] is not None
        conn.execute(
            "UPDATE outbox SET claimed_until = ?, claimed_by = ?, sending_at = NULL,"
            " uncertain = MAX(uncertain, ?),"
            " uncertain_at = CASE WHEN ? THEN ? ELSE uncertain_at END WHERE id = ?",
            (now + lease, claimer or None, int(taken_over), taken_over, now, row["id"]),
        )
    return {**row, "claimed_until": now + lease, "claimed_by": claimer or None,
            "sending_at": None, "uncertain": int(row["uncertain"] or taken_over),
            "taken_over": taken_over, "taken_from": row["claimed_by"]}


def _claimable(row: dict[str, Any], now: float, alive: Callable[[str], bool]) -> bool:
    """Unclaimed, its lease over, or its claimer gone (a claim without a name waits out its
    lease: an older opsd made it)."""
    if row["claimed_until"] is None or row["claimed_until"] <= now:
        return True
    return row["claimed_by"] is not None and not alive(row["claimed_by"])


def begin_send(store: Store, row_id: int, now: float) -> None:
    """An attempt to send row `row_id` starts now: committed before the message goes out,
    so a sender that dies before the outcome leaves the row uncertain."""
    with store.transaction() as conn:
        conn.execute("UPDATE outbox SET sending_at = ? WHERE id = ?", (now, row_id))


def superseded(store: Store, event_ids: Sequence[int]) -> bool:
    """Whether every event of a row is a FIRING, REMINDER or escalation whose alert has
    resolved since (a later RESOLVED event): the row would tell a stale story."""
    if not event_ids:
        return False
    marks = ",".join("?" * len(event_ids))
    total, stale = store.conn.execute(
        f"SELECT COUNT(*), COUNT(*) FILTER (WHERE e.type != 'RESOLVED' AND EXISTS ("
        " SELECT 1 FROM alert_events r WHERE r.check_name = e.check_name"
        " AND r.target = e.target AND r.type = 'RESOLVED' AND r.id > e.id"
        # A RESOLVED held while the alert flapped (`alerting.flapping`) was never sent.
        " AND r.silenced_by IS NULL))"
        f" FROM alert_events e WHERE e.id IN ({marks})",
        list(event_ids),
    ).fetchone()
    return bool(total) and stale == total


def expire(store: Store, now: float, max_age: float, note: str) -> dict[str, int]:
    """Give up the waiting rows queued `max_age` ago or earlier (not claimed), `note` leading
    their error: marked lost until a later message to their URL says so; returns how many
    per URL label."""
    cutoff = now - max_age
    waiting = (
        " FROM outbox WHERE delivered_at IS NULL AND abandoned_at IS NULL AND created_at <= ?"
        " AND (claimed_until IS NULL OR claimed_until <= ?)"
    )
    with store.transaction() as conn:
        counts = {
            row["url_label"]: row["n"]
            for row in store.query(
                f"SELECT url_label, COUNT(*) AS n{waiting} GROUP BY url_label", [cutoff, now]
            )
        }
        if counts:
            conn.execute(
                "UPDATE outbox SET abandoned_at = ?, lost = 1, claimed_until = NULL,"
                " last_error = ? || ', attempts ' || attempts || ': '"
                " || COALESCE(last_error, 'never tried') WHERE id IN (SELECT id" + waiting + ")",
                (now, note, cutoff, now),
            )
    return counts


def unreported_losses(store: Store, url_key: str) -> list[int]:
    """Ids of the rows to `url_key` given up as lost that no delivered message told about."""
    return [
        row["id"] for row in store.query(
            "SELECT id FROM outbox WHERE url_key = ? AND lost = 1 ORDER BY id", [url_key]
        )
    ]


def mark_reported(store: Store, row_ids: Sequence[int]) -> None:
    """A delivered message told its receiver about these lost rows."""
    with store.transaction() as conn:
        conn.executemany("UPDATE outbox SET lost = 2 WHERE id = ?", [(i,) for i in row_ids])


def mark_delivered(store: Store, row_id: int, now: float) -> None:
    with store.transaction() as conn:
        conn.execute(
            "UPDATE outbox SET delivered_at = ?, attempts = attempts + 1, claimed_until = NULL,"
            " claimed_by = NULL, sending_at = NULL, last_error = NULL WHERE id = ?",
            (now, row_id),
        )


def mark_failed(
    store: Store, row_id: int, *, attempts: int, error: str, next_attempt_at: float,
    uncertain_at: float | None = None,
) -> None:
    """An attempt failed; or, with `uncertain_at` (when that turned out), its outcome is
    unknown: the row goes out again marked as a possible repeat."""
    with store.transaction() as conn:
        conn.execute(
            "UPDATE outbox SET attempts = ?, last_error = ?, next_attempt_at = ?,"
            " claimed_until = NULL, claimed_by = NULL, sending_at = NULL,"
            " uncertain = MAX(uncertain, ? IS NOT NULL),"
            " uncertain_at = COALESCE(?, uncertain_at) WHERE id = ?",
            (attempts, error, next_attempt_at, uncertain_at, uncertain_at, row_id),
        )


def give_up(
    store: Store, row_id: int, now: float, error: str, attempts: int | None = None
) -> None:
    with store.transaction() as conn:
        conn.execute(
            "UPDATE outbox SET abandoned_at = ?, last_error = ?, claimed_until = NULL,"
            " claimed_by = NULL, sending_at = NULL, attempts = COALESCE(?, attempts)"
            " WHERE id = ?",
            (now, error, attempts, row_id),
        )


def release(store: Store, row_id: int) -> None:
    """Give up the claim on row `row_id` without trying it: it is due again at once."""
    with store.transaction() as conn:
        conn.execute("UPDATE outbox SET claimed_until = NULL, claimed_by = NULL WHERE id = ?",
                     (row_id,))


def rekey(store: Store, old_key: str, new_key: str, claimed: int) -> None:
    """Move `old_key`'s rows (queued before rows were keyed by URL) to `new_key`'s queue, in
    their order, and `release` the claim on row `claimed` so the queue's head goes first."""
    with store.transaction() as conn:
        conn.execute("UPDATE outbox SET url_key = ? WHERE url_key = ?", (new_key, old_key))
        release(store, claimed)


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
        " next_attempt_at, delivered_at, abandoned_at, uncertain FROM outbox"
        " WHERE created_at >= ?"
        " ORDER BY id",
        [since],
    )
