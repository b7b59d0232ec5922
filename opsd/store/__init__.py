"""The history database: one SQLite file, a repository module per component, and in the daemon
one owner thread that runs every query (`owner.StoreThread`).

| module      | tables                                     |
|-------------|--------------------------------------------|
| `runs`      | runs, results                              |
| `alerts`    | alert_states, alert_events                 |
| `outbox`    | outbox                                     |
| `silences`  | silences                                   |
| `requests`  | notion_requests                            |
| `limiter`   | notion_limiter (the shared request budget) |
| `circuit`   | notion_circuit (the Notion circuit breaker, per budget) |
| `state`     | state (counter baselines, workspace name)  |
| `secrets`   | secret_files, secret_findings              |
| `schemas`   | notion_schemas (schema snapshots)          |
| `check_states` | results (each check's latest state, read at start) |
| `rollups`   | rollups_hourly, rollups_daily (and their cursors in `state`) |
| `incidents` | incidents, incident_notes (and the timeline's sources) |
| `slo_hours` | slo_hourly (each SLO's good/total per hour) |

No SQL lives outside this package.
"""

from typing import TYPE_CHECKING, TypeAlias

from opsd.store.database import (
    CLI_BUSY_TIMEOUT,
    DAEMON_BUSY_TIMEOUT,
    Store,
    StoreBusyError,
    StoreError,
)
from opsd.store.migrations import MIGRATIONS

if TYPE_CHECKING:
    from opsd.store.owner import StoreThread

    StoreAccess: TypeAlias = Store | StoreThread
    """Runs a repository function: inline (`Store`) or on the owner thread (`StoreThread`)."""

__all__ = [
    "CLI_BUSY_TIMEOUT", "DAEMON_BUSY_TIMEOUT", "MIGRATIONS", "Store", "StoreBusyError",
    "StoreError",
]
