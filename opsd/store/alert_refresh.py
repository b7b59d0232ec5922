"""What an Alertmanager resend reads: the alerts receivers were told about and that are still
open, and which peers have messages waiting (`opsd.daemon.alertmanager_resend`)."""

from __future__ import annotations

from collections.abc import Sequence

from opsd.alerting.engine import Alert
from opsd.store import alerts
from opsd.store.database import Store


def announced_alerts(store: Store) -> list[Alert]:
    """Firing alerts whose FIRING went out (a held or silenced one never did), and flapping
    alerts (their FLAPPING message went out; they stay open until they settle)."""
    rows = store.query(
        "SELECT * FROM alert_states WHERE (phase = 'FIRING' AND notified_severity IS NOT NULL)"
        " OR flapping = 1 ORDER BY since, check_name, target"
    )
    return [alerts._from_row(Alert, row) for row in rows]


def waiting_keys(store: Store, url_keys: Sequence[str]) -> set[str]:
    """Those of `url_keys` with outbox rows still waiting for delivery."""
    if not url_keys:
        return set()
    marks = ",".join("?" * len(url_keys))
    rows = store.query(
        f"SELECT DISTINCT url_key FROM outbox WHERE url_key IN ({marks})"
        " AND delivered_at IS NULL AND abandoned_at IS NULL",
        list(url_keys),
    )
    return {row["url_key"] for row in rows}
