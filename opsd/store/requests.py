"""The Notion request log (`notion_requests`): one row per HTTP request, answered or not.

Never a token or an ID: `endpoint` is a template like `/v1/databases/{id}`. opsd's own
requests are `source = 'opsd'`; `opsd proxy` writes the integration's in batches
(`record_batch`, `source = 'integration'`).
"""

from __future__ import annotations

from typing import Any

from opsd.store.database import Store


def record_request(
    store: Store, *, time: float, purpose: str, method: str, endpoint: str,
    status: int | None, error: str, latency: float, attempt: int, waited: float,
    retry_after: float | None,
) -> None:
    """Store one request."""
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO notion_requests (time, purpose, method, endpoint, status, error,"
            " latency, attempt, waited, retry_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (time, purpose, method, endpoint, status, error, latency, attempt, waited,
             retry_after),
        )


def prune_requests(store: Store, before: float) -> int:
    """Delete rows older than `before`; returns how many."""
    with store.transaction() as conn:
        return int(
            conn.execute("DELETE FROM notion_requests WHERE time < ?", (before,)).rowcount
        )


def request_rows(
    store: Store, since: float, *, purpose: str | None = None, source: str | None = None,
) -> list[dict[str, Any]]:
    """Rows since `since`, oldest first (optionally of one purpose, of one source:
    `opsd` for opsd's own requests, `integration` for those `opsd proxy` forwarded)."""
    sql = "SELECT * FROM notion_requests WHERE time >= ?"
    args: list[Any] = [since]
    if purpose is not None:
        sql += " AND purpose = ?"
        args.append(purpose)
    if source is not None:
        sql += " AND source = ?"
        args.append(source)
    return store.query(sql + " ORDER BY time, id", args)


INTEGRATION_COLUMNS = (
    "time", "source", "purpose", "method", "endpoint", "status", "error", "latency", "attempt",
    "waited", "retry_after", "request_bytes", "response_bytes", "client_wait", "redo",
    "limits_exceeded", "limits_near", "likely_duplicate",
)
"""The columns `record_batch` fills, in the order of each row tuple."""


def record_batch(store: Store, rows: list[tuple[Any, ...]]) -> int:
    """Store many requests in one transaction (the proxy's batches); returns how many."""
    if not rows:
        return 0
    with store.transaction() as conn:
        conn.executemany(
            f"INSERT INTO notion_requests ({', '.join(INTEGRATION_COLUMNS)})"
            f" VALUES ({', '.join('?' for _ in INTEGRATION_COLUMNS)})", rows,
        )
    return len(rows)
