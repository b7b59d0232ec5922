"""Status at a glance: where each series — one (playbook, check, target) — stands, how long it
has stood there and when it was last OK, worst first. `opsd status` lists every configured
series; `opsd history CHECK` heads its results with the series of that check.

A series is never merged with another: the daily 1-day and the monthly 30-day
`notion.error_rate` are two rows, each judged against its own playbook's schedule.

Order, worst first: CRITICAL, UNKNOWN, WARNING, OK, SKIPPED — the severity that decides the
exit code (`Status.rank`), so the first row explains it; SKIPPED (nothing to look at) comes
last. A *stale* row — its latest result older than its playbook's schedule allows — stands
as UNKNOWN when its own status is milder: the history no longer says where the check is.
Ties go by playbook, check and target. A row is *failing* unless it stands OK or SKIPPED.

"Since" and "last OK" come from `opsd.store.check_states`, the same figures the daemon
restores on /metrics at start (`opsd_check_state_since_timestamp_seconds`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from opsd.cli.stale import staleness
from opsd.cli.suggest import did_you_mean
from opsd.durations import format_duration
from opsd.errors import UsageError
from opsd.results import Result, Status, worst
from opsd.store import check_states, runs
from opsd.units import format_age, format_value

if TYPE_CHECKING:
    from opsd.cli.view import PlaybookInfo, View
    from opsd.store import Store


NOT_FAILING = frozenset({Status.OK, Status.SKIPPED})
"""What `--failing` leaves out."""


@dataclasses.dataclass(frozen=True)
class Row:
    """One series as `opsd status` shows it."""

    playbook: str
    result: Result
    """Its latest result."""
    since: float
    """The start of the first result of its current streak in this status."""
    last_ok: float | None
    """The start of its latest OK result (None: never OK in the kept history)."""
    stale: str | None = None
    """`stale: last result 3h ago, expected every 1m`, or None when fresh."""

    @property
    def standing(self) -> Status:
        """The status the row counts as: its own, and at least UNKNOWN when stale."""
        if self.stale and self.result.status.rank < Status.UNKNOWN.rank:
            return Status.UNKNOWN
        return self.result.status

    @property
    def failing(self) -> bool:
        return self.standing not in NOT_FAILING


def rows_of(
    histories: Iterable[check_states.CheckHistory], playbooks: Sequence[PlaybookInfo],
    now: float,
) -> list[Row]:
    """The rows of these series, worst first; each judged stale against its own playbook."""
    by_name = {p.name: p for p in playbooks}
    rows = []
    for found in histories:
        schedule = [by_name[found.playbook]] if found.playbook in by_name else []
        rows.append(Row(
            found.playbook, found.result, found.since, found.last_success,
            staleness(schedule, found.result.check, found.result.started_at, now),
        ))
    return worst_first(rows)


def worst_first(rows: Iterable[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: (-r.standing.rank, r.playbook, r.result.check,
                                       r.result.target))


def exit_code(rows: Iterable[Row]) -> int:
    """The Nagios code of the worst standing (a stale result counts as UNKNOWN)."""
    return worst(r.standing for r in rows).exit_code


def check_playbook(name: str | None, known: Iterable[str]) -> None:
    """Raise UsageError (exit 3) if `--playbook NAME` names none of `known`."""
    names = set(known)
    if name is None or name in names:
        return
    hint = did_you_mean(name, names) or f" (known: {', '.join(sorted(names)) or 'none'})"
    raise UsageError(f"--playbook: unknown playbook {name!r}{hint}")


# --- reading the store (on its thread: `opsd.cli.report.query`) -----------------------------


def status_rows(store: Store, view: View, now: float) -> list[Row]:
    """Every configured series' row; when the playbooks cannot be read, every series the
    history holds (the caller says so)."""
    if view.playbook_problems:
        entries = check_states.recorded_entries(store)
    else:
        entries = [(p.name, check) for p in view.playbooks for check in p.checks]
    return rows_of(check_states.latest_checks(store, entries), view.playbooks, now)


def history_of(
    store: Store, view: View, check: str, *, since: float, now: float,
    playbook: str | None = None, target: str | None = None,
) -> tuple[list[Row], list[tuple[str, Result]]]:
    """The series of `check` (each configured playbook running it, and any other with
    results since `since`) and those results, grouped by series worst first, oldest first
    within one."""
    results = runs.playbook_history(store, check, playbook=playbook, target=target,
                                    since=since)
    recorded = {name for name, _ in results}
    check_playbook(playbook, {*(p.name for p in view.playbooks), *recorded})
    running = {p.name for p in view.playbooks if check in p.checks}
    entries = [(name, check) for name in sorted(running | recorded) if playbook in (None, name)]
    rows = [row for row in rows_of(check_states.latest_checks(store, entries),
                                   view.playbooks, now)
            if target in (None, row.result.target)]
    order = {(row.playbook, row.result.target): index for index, row in enumerate(rows)}
    results.sort(key=lambda found: (order.get((found[0], found[1].target), len(order)),
                                    found[0], found[1].target, found[1].started_at))
    return rows, results


# --- rendering -------------------------------------------------------------------------------


STATUS_HEADERS = ("STATUS", "PLAYBOOK", "CHECK", "TARGET", "VALUE", "SINCE", "LAST OK", "AGE",
                  "SUMMARY")
SERIES_HEADERS = ("STATUS", "PLAYBOOK", "TARGET", "SINCE", "LAST OK", "AGE", "SUMMARY")


def status_table_row(row: Row, now: float, tz: dt.tzinfo) -> tuple[str, ...]:
    r = row.result
    return (str(r.status), row.playbook, r.check, r.target or "-",
            format_value(r.value, r.unit), *_standing_cells(row, now, tz), _summary(row))


def series_table_row(row: Row, now: float, tz: dt.tzinfo) -> tuple[str, ...]:
    """A series heading `opsd history` (the check is the command's argument)."""
    return (str(row.result.status), row.playbook, row.result.target or "-",
            *_standing_cells(row, now, tz), _summary(row))


def _standing_cells(row: Row, now: float, tz: dt.tzinfo) -> tuple[str, str, str]:
    """SINCE (how long in this status), LAST OK and AGE (of the latest result)."""
    if row.result.status is Status.OK:
        last_ok = "-"
    elif row.last_ok is None:
        last_ok = "never"
    else:
        last_ok = dt.datetime.fromtimestamp(row.last_ok, tz).strftime("%Y-%m-%d %H:%M %Z")
    return (format_duration(max(0.0, now - row.since)), last_ok,
            format_age(row.result.started_at, now))


def _summary(row: Row) -> str:
    return f"{row.stale} — {row.result.summary}" if row.stale else row.result.summary


def row_json(row: Row, now: float, tz: dt.tzinfo) -> dict[str, Any]:
    """A result's JSON (`Result.to_dict`) with its series' standing: `playbook`, `stale`,
    `since` and `last_ok` as epoch seconds and as ISO 8601 in the configured time zone."""
    return {
        **row.result.to_dict(),
        "playbook": row.playbook,
        "age_seconds": round(now - row.result.started_at, 3),
        "stale": row.stale is not None,
        "stale_reason": row.stale,
        "since": row.since,
        "since_iso": iso(row.since, tz),
        "last_ok": row.last_ok,
        "last_ok_iso": iso(row.last_ok, tz),
    }


def iso(epoch: float | None, tz: dt.tzinfo) -> str | None:
    return None if epoch is None else dt.datetime.fromtimestamp(epoch, tz).isoformat()
