"""Acknowledgements (`opsd ack`): who took a firing alert, kept on its row until it resolves
or gets worse (the engine ends it then)."""

from __future__ import annotations

from opsd.alerting.engine import Alert
from opsd.store.alerts import load_alert
from opsd.store.database import Store


def acknowledge(
    store: Store, check: str, target: str, *, by: str, comment: str, now: float
) -> Alert | None:
    """Acknowledge the firing alert of (`check`, `target`); None if it is not firing."""
    with store.transaction() as conn:
        cursor = conn.execute(
            "UPDATE alert_states SET acked_by = ?, acked_at = ?, ack_comment = ?"
            " WHERE check_name = ? AND target = ? AND phase = 'FIRING'",
            (by, now, comment, check, target),
        )
        return load_alert(store, check, target) if cursor.rowcount else None


def unacknowledge(store: Store, check: str, target: str) -> Alert | None:
    """End the acknowledgement of (`check`, `target`); the alert as it was, or None if none."""
    with store.transaction() as conn:
        alert = load_alert(store, check, target)
        if alert is None or alert.acked_at is None:
            return None
        conn.execute(
            "UPDATE alert_states SET acked_by = NULL, acked_at = NULL, ack_comment = ''"
            " WHERE check_name = ? AND target = ?",
            (check, target),
        )
    return alert
