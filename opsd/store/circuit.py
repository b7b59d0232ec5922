"""The Notion circuit breaker's state (`notion_circuit`): one row per budget (a base URL and a
token fingerprint, never the token), shared like the request budget (`limiter`) so the daemon,
`opsd run-playbook` and `opsd check` stop and probe together.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from opsd.store.database import Store

T = TypeVar("T")

COLUMNS = ("open", "failures", "successes", "opened_at", "backoff", "next_probe_at",
           "last_error")


def update_circuit(
    store: Store, budget: str,
    change: Callable[[dict[str, Any] | None], tuple[dict[str, Any] | None, T]], *, now: float,
) -> T:
    """Read the budget's circuit (None if new), store what `change` makes of it unless that
    is the same (or None), return `change`'s result; one IMMEDIATE transaction."""
    with store.transaction() as conn:
        found = conn.execute(
            f"SELECT {', '.join(COLUMNS)} FROM notion_circuit WHERE budget = ?", (budget,)
        ).fetchone()
        before = dict(zip(COLUMNS, found, strict=True)) if found else None
        row, result = change(before)
        if row is not None and row != before:
            conn.execute(
                f"INSERT INTO notion_circuit (budget, {', '.join(COLUMNS)}, updated_at)"
                f" VALUES (?, {', '.join('?' for _ in COLUMNS)}, ?)"
                " ON CONFLICT (budget) DO UPDATE SET "
                + ", ".join(f"{name} = excluded.{name}" for name in (*COLUMNS, "updated_at")),
                (budget, *(row[name] for name in COLUMNS), now),
            )
    return result


def circuit_row(store: Store, budget: str) -> dict[str, Any] | None:
    """The budget's stored circuit, or None."""
    rows = store.query(
        f"SELECT {', '.join(COLUMNS)} FROM notion_circuit WHERE budget = ?", (budget,))
    return rows[0] if rows else None


def latest_circuit(store: Store) -> dict[str, Any] | None:
    """The circuit to show when the budget is not known (`opsd status`): an open one first,
    else the one changed last; None when no Notion request was ever judged."""
    rows = store.query(
        f"SELECT {', '.join(COLUMNS)} FROM notion_circuit ORDER BY open DESC, updated_at DESC"
        " LIMIT 1")
    return rows[0] if rows else None
