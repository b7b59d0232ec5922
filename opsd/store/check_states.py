"""Where each check stands according to the history: its latest results, since when it has
had their status, its last OK. The daemon publishes them at start, so /metrics shows a weekly
check's series at once rather than after its next run.

Every query walks the `results_check_started` index of one check name and stops at the
first row it needs: cheap for a check whose status changed lately, a walk of its whole kept
history for one that never changed (`python -m bench.metrics_restore` measures a start).
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


_SAME_SERIES = "check_name = ? AND playbook = ? AND target = ?"


def _since(store: Store, playbook: str, result: Result) -> float:
    series = [result.check, playbook, result.target]
    other = store.query(
        f"SELECT started_at FROM results WHERE {_SAME_SERIES} AND status != ?"
        " AND started_at <= ? ORDER BY started_at DESC LIMIT 1",
        [*series, result.status.value, result.started_at],
    )
    after = other[0]["started_at"] if other else None
    first = store.query(
        f"SELECT started_at FROM results WHERE {_SAME_SERIES}"
        + (" AND started_at > ?" if after is not None else "")
        + " ORDER BY started_at LIMIT 1",
        [*series, *([after] if after is not None else [])],
    )
    return float(first[0]["started_at"]) if first else result.started_at


def _last_success(store: Store, playbook: str, result: Result) -> float | None:
    if result.status is Status.OK:
        return result.started_at
    rows = store.query(
        f"SELECT started_at FROM results WHERE {_SAME_SERIES} AND status = 'OK'"
        " ORDER BY started_at DESC LIMIT 1", [result.check, playbook, result.target],
    )
    return float(rows[0]["started_at"]) if rows else None
