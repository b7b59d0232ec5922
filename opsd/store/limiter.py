"""The shared Notion request budget (`notion_limiter`): one row per budget (a base URL and a
token fingerprint, never the token), changed in one short IMMEDIATE transaction per request so
the daemon and every CLI command on this database draw from the same budget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from opsd.store.database import Store

T = TypeVar("T")

_COLUMNS = ("tat", "paused_until", "retry_after", "reason", "slowed_rate", "recovery_start")


def update_budget(
    store: Store, budget: str,
    change: Callable[[dict[str, Any] | None], tuple[dict[str, Any], T]], *, now: float,
) -> T:
    """Read the budget's row (None if new), store what `change` makes of it, return its result."""
    with store.transaction() as conn:
        found = conn.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM notion_limiter WHERE budget = ?", (budget,)
        ).fetchone()
        row, result = change(dict(zip(_COLUMNS, found, strict=True)) if found else None)
        conn.execute(
            f"INSERT INTO notion_limiter (budget, {', '.join(_COLUMNS)}, updated_at)"
            f" VALUES (?, {', '.join('?' for _ in _COLUMNS)}, ?)"
            " ON CONFLICT (budget) DO UPDATE SET "
            + ", ".join(f"{name} = excluded.{name}" for name in (*_COLUMNS, "updated_at")),
            (budget, *(row[name] for name in _COLUMNS), now),
        )
    return result


def budget_row(store: Store, budget: str) -> dict[str, Any] | None:
    """The budget's stored state, or None."""
    rows = store.query("SELECT * FROM notion_limiter WHERE budget = ?", (budget,))
    return rows[0] if rows else None
