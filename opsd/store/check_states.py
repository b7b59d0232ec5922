"""Where each check stands according to the history: its latest results, since when it has
had their status, its last OK. The daemon publishes them at start, so /metrics shows a weekly
check's series at once rather than after its next run.

The latest run comes from the `results_check_started` index (walked back from the newest
row of the check name to the first of the playbook); "since" and "last OK" are seeks in the
`results_series_status` index (playbook, check, target, status, start), one per status, so
they cost the same for a check that changed a minute ago as for one that never changed
(`python -m bench.metrics_restore` measures a start). `opsd status` reads the same figures.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from opsd.results import Result, Status
from opsd.store.database import Store
from opsd.store.runs import result_from_row


@dataclasses.dataclass(frozen=True)
class CheckHistory:
    """One (playbook, check, target) as the history has it."""

    playbook: str
    result: Result
    """The latest result."""
    since: float
    """The start of the first result of the latest unbroken run of results in its status."""
    last_success: float | None
    """The start of the latest OK result (None: never OK in the kept history)."""


def latest_checks(store: Store, entries: Iterable[tuple[str, str]]) -> list[CheckHistory]:
    """The latest results of each (playbook, check name) in `entries`: every target of the
    latest run that had the check (a target that run no longer reported has gone)."""
    found = []
    for playbook, check in entries:
        latest = store.query(
            "SELECT run_id FROM results WHERE check_name = ? AND playbook = ?"
            " ORDER BY started_at DESC, id DESC LIMIT 1", [check, playbook],
        )
        if not latest:
            continue
        rows = store.query(
            "SELECT * FROM results WHERE run_id = ? AND check_name = ? ORDER BY target, id",
            [latest[0]["run_id"], check],
        )
        for row in rows:
            result = result_from_row(row)
            found.append(CheckHistory(
                playbook, result, _since(store, playbook, result),
                _last_success(store, playbook, result),
            ))
    return found


def last_success_of_kind(store: Store, kind: str) -> float | None:
    """When the latest OK result of any check of `kind` finished (e.g. the last backup)."""
    rows = store.query(
        "SELECT started_at + duration AS finished_at FROM results"
        " WHERE kind = ? AND status = 'OK' ORDER BY started_at DESC LIMIT 1", [kind],
    )
    return float(rows[0]["finished_at"]) if rows else None


def recorded_entries(store: Store) -> list[tuple[str, str]]:
    """Every (playbook, check name) the kept history has results of, sorted (a scan of the
    `results_series_status` index: for when the configured playbooks cannot be read)."""
    rows = store.query(
        "SELECT DISTINCT playbook, check_name FROM results ORDER BY playbook, check_name"
    )
    return [(row["playbook"], row["check_name"]) for row in rows]


_SAME_SERIES = "check_name = ? AND playbook = ? AND target = ?"


def _since(store: Store, playbook: str, result: Result) -> float:
    series = [result.check, playbook, result.target]
    # The latest result in another status (one index seek per status), then the first
    # result after it: the start of the current streak.
    ends = [
        row["started_at"]
        for other in Status if other is not result.status
        for row in store.query(
            f"SELECT MAX(started_at) AS started_at FROM results WHERE {_SAME_SERIES}"
            " AND status = ? AND started_at <= ?",
            [*series, other.value, result.started_at],
        )
        if row["started_at"] is not None
    ]
    after = max(ends, default=None)
    first = store.query(
        f"SELECT started_at FROM results WHERE {_SAME_SERIES} AND status = ?"
        + (" AND started_at > ?" if after is not None else "")
        + " ORDER BY started_at LIMIT 1",
        [*series, result.status.value, *([after] if after is not None else [])],
    )
    return float(first[0]["started_at"]) if first else result.started_at


def _last_success(store: Store, playbook: str, result: Result) -> float | None:
    if result.status is Status.OK:
        return result.started_at
    rows = store.query(
        f"SELECT MAX(started_at) AS started_at FROM results WHERE {_SAME_SERIES}"
        " AND status = 'OK'", [result.check, playbook, result.target],
    )
    found = rows[0]["started_at"] if rows else None
    return None if found is None else float(found)
