"""Runs and their results: what each playbook run found, and the queries over that history."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from opsd.results import Result, Status, worst
from opsd.store.database import Store

# A single `opsd check` records a run too, but it is not a run of the whole playbook: it
# must not make the scheduler skip a catch-up nor count as the playbook's last run.
_PLAYBOOK_RUN = "trigger != 'check'"


def record_run(
    store: Store,
    playbook: str,
    results: Sequence[Result],
    *,
    started_at: float,
    finished_at: float,
    trigger: str = "manual",
    alerted: bool = True,
) -> int:
    """Write one run and all its results in one transaction; returns the run id.

    `alerted=False`: the alert engine has yet to see the run (`claim_for_alerts` marks it
    when it does); if this process dies first, the next start replays it
    (`opsd.alerting.replay`). A run no alert engine will see is recorded as seen."""
    status = worst(r.status for r in results)
    with store.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO runs (playbook, trigger, status, started_at, finished_at, alerted_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (playbook, trigger, status.value, started_at, finished_at,
             finished_at if alerted else None),
        )
        run_id = int(cursor.lastrowid or 0)
        conn.executemany(
            "INSERT INTO results (run_id, playbook, check_name, kind, target, status, value,"
            " unit, summary, details, started_at, duration)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    run_id, playbook, r.check, r.kind, r.target, r.status.value, r.value,
                    r.unit, r.summary, json.dumps(r.details, default=str), r.started_at,
                    r.duration,
                )
                for r in results
            ],
        )
    return run_id


@dataclasses.dataclass(frozen=True)
class RecordedRun:
    """A run as stored, with its results (for the alert replay)."""

    id: int
    playbook: str
    trigger: str
    finished_at: float
    results: list[Result]


def unalerted_runs(store: Store) -> list[RecordedRun]:
    """The runs the alert engine has not seen yet, oldest (lowest id) first."""
    found = store.query(
        "SELECT id, playbook, trigger, finished_at FROM runs WHERE alerted_at IS NULL"
        " ORDER BY id"
    )
    if not found:
        return []
    rows = store.query(
        "SELECT res.* FROM results res JOIN runs r ON r.id = res.run_id"
        " WHERE r.alerted_at IS NULL ORDER BY res.id"
    )
    by_run: dict[int, list[Result]] = {r["id"]: [] for r in found}
    for row in rows:
        if row["run_id"] in by_run:  # not a run recorded between the two queries
            by_run[row["run_id"]].append(result_from_row(row))
    return [
        RecordedRun(r["id"], r["playbook"], r["trigger"], r["finished_at"], by_run[r["id"]])
        for r in found
    ]


def claim_for_alerts(store: Store, run_id: int, now: float) -> bool:
    """Mark the run as seen by the alert engine, inside the caller's transaction; False if
    it was already (another process fed it first, or a replay did)."""
    with store.transaction() as conn:
        cursor = conn.execute(
            "UPDATE runs SET alerted_at = ? WHERE id = ? AND alerted_at IS NULL", (now, run_id)
        )
    return cursor.rowcount == 1


def last_runs(store: Store) -> dict[str, dict[str, Any]]:
    """The latest run of each playbook, and its latest OK-or-better run time."""
    rows = store.query(
        "SELECT playbook, MAX(started_at) AS started_at, MAX(finished_at) AS finished_at"
        f" FROM runs WHERE {_PLAYBOOK_RUN} GROUP BY playbook"
    )
    runs = {row["playbook"]: row for row in rows}
    for row in store.query(
        "SELECT playbook, MAX(finished_at) AS last_success FROM runs"
        f" WHERE status = 'OK' AND {_PLAYBOOK_RUN} GROUP BY playbook"
    ):
        runs[row["playbook"]]["last_success"] = row["last_success"]
    for row in store.query(
        "SELECT r.playbook, r.status, r.finished_at - r.started_at AS duration FROM runs r"
        f" JOIN (SELECT playbook, MAX(id) AS id FROM runs WHERE {_PLAYBOOK_RUN}"
        " GROUP BY playbook) l ON r.id = l.id"
    ):
        runs[row["playbook"]].update(status=row["status"], duration=row["duration"])
    return runs


def last_run_started(store: Store, playbook: str) -> float | None:
    """When the playbook's latest whole run started (single `opsd check` runs excluded)."""
    row = store.conn.execute(
        f"SELECT MAX(started_at) FROM runs WHERE playbook = ? AND {_PLAYBOOK_RUN}",
        (playbook,),
    ).fetchone()
    return None if row[0] is None else float(row[0])


def latest_results(store: Store) -> list[Result]:
    """The most recent result of every (check, target)."""
    rows = store.query(
        "SELECT r.* FROM results r JOIN ("
        " SELECT check_name, target, MAX(id) AS id FROM results GROUP BY check_name, target"
        ") l ON r.id = l.id ORDER BY r.check_name, r.target"
    )
    return [result_from_row(row) for row in rows]


def history(
    store: Store,
    *,
    check: str | None = None,
    kind: str | None = None,
    target: str | None = None,
    since: float | None = None,
    limit: int | None = None,
) -> list[Result]:
    """Results, oldest first, filtered by check name or kind, target and start time."""
    rows = _history_rows(store, check=check, kind=kind, target=target, since=since, limit=limit)
    return [result_from_row(row) for row in rows]


def playbook_history(
    store: Store,
    check: str,
    *,
    playbook: str | None = None,
    target: str | None = None,
    since: float | None = None,
) -> list[tuple[str, Result]]:
    """The results of one check name with the playbook that ran each, oldest first (the same
    check in two playbooks is two histories: `opsd history` keeps them apart)."""
    rows = _history_rows(store, check=check, playbook=playbook, target=target, since=since)
    return [(row["playbook"], result_from_row(row)) for row in rows]


def _history_rows(
    store: Store,
    *,
    check: str | None = None,
    kind: str | None = None,
    playbook: str | None = None,
    target: str | None = None,
    since: float | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    where: list[str] = []
    args: list[str | float] = []
    for column, value in (("check_name", check), ("kind", kind), ("playbook", playbook),
                          ("target", target)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    if since is not None:
        where.append("started_at >= ?")
        args.append(since)
    sql = "SELECT * FROM results"
    if where:
        sql += " WHERE " + " AND ".join(where)
    if limit is not None:
        sql = f"SELECT * FROM ({sql} ORDER BY id DESC LIMIT {int(limit)})"
    sql += " ORDER BY started_at, id"
    return store.query(sql, args)


def result_from_row(row: dict[str, Any]) -> Result:
    return Result(
        status=Status(row["status"]),
        summary=row["summary"],
        value=row["value"],
        unit=row["unit"],
        target=row["target"],
        details=json.loads(row["details"] or "{}"),
        check=row["check_name"],
        kind=row["kind"],
        started_at=row["started_at"],
        duration=row["duration"],
    )
