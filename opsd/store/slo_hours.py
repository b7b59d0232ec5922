"""SLI counts: each SLO's good and total results over a window, from `slo_hourly` for the
complete hours and from the raw results for the edges (the current hour, short windows).

`slo_hourly` is filled lazily, for the hours a question needs, from the raw results still
kept; an hour is complete once `SETTLE_SECONDS` has passed after its end, so the results of a
run that started in it and was recorded a little later still count. Hours whose raw results are gone
are stored as 0 of 0 (nothing to recount them from). Rows are keyed by the hash of the SLO's
definition (`definition_of`): editing an SLO's checks, target or threshold counts anew rather
than mixing two definitions in one window.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from opsd.config.slos import BURN_RATE_KIND
from opsd.reports.rollups import HOUR, ceil_to, floor_to
from opsd.store.rollups import SETTLE_SECONDS

if TYPE_CHECKING:
    from opsd.config.slos import SloConfig
    from opsd.store import Store

SHORT_WINDOW = 6 * HOUR
"""Windows up to this long are counted from raw results only."""
KEEP = 400 * 86400.0
"""How long hourly counts are kept: the longest window a report asks for, and then some."""


@dataclasses.dataclass(frozen=True)
class Tally:
    good: int = 0
    total: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.good + other.good, self.total + other.total)


def definition_of(slo: SloConfig) -> str:
    """A short hash of what decides which results an SLO counts and which are good."""
    text = json.dumps([slo.checks, slo.target, slo.threshold])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_names(store: Store) -> list[str]:
    """The check names in the kept results (an SLO's `checks` glob picks from them).

    A skip scan over the check index: one seek per distinct name, not one row per result."""
    rows = store.query(
        "WITH RECURSIVE names(name) AS ("
        " SELECT MIN(check_name) FROM results"
        " UNION ALL SELECT (SELECT MIN(check_name) FROM results WHERE check_name > name)"
        " FROM names WHERE name IS NOT NULL)"
        " SELECT name FROM names WHERE name IS NOT NULL"
    )
    return [r["name"] for r in rows]


def settled_until(now: float) -> float:
    """The end of the last complete hour at `now`."""
    return floor_to(now - SETTLE_SECONDS, HOUR)


def count(store: Store, slo: SloConfig, names: Sequence[str], since: float, until: float,
          now: float) -> Tally:
    """Good and total results of `slo` started in [since, until), `names` being the check
    names its glob matches (of `check_names`)."""
    first_hour = ceil_to(since, HOUR)
    hours_end = min(settled_until(now), floor_to(until, HOUR))
    if until - since <= SHORT_WINDOW or first_hour >= hours_end:
        return _raw(store, slo, names, since, until)
    fill_hours(store, slo, names, first_hour, hours_end)
    return (_raw(store, slo, names, since, first_hour)
            + _hourly(store, slo, first_hour, hours_end)
            + _raw(store, slo, names, hours_end, until))


def fill_hours(store: Store, slo: SloConfig, names: Sequence[str], since: float,
               until: float) -> int:
    """Count the hours in [since, until) that `slo_hourly` lacks for the SLO's definition;
    returns how many were added."""
    definition = definition_of(slo)
    span = [slo.name, definition, since, until]
    hours = _hours(since, until)
    stored = store.query("SELECT COUNT(*) AS n FROM slo_hourly WHERE slo = ? AND definition = ?"
                         " AND period_start >= ? AND period_start < ?", span)[0]["n"]
    if stored >= len(hours):  # the usual case: every hour is counted already
        return 0
    have = {r["period_start"] for r in store.query(
        "SELECT period_start FROM slo_hourly WHERE slo = ? AND definition = ?"
        " AND period_start >= ? AND period_start < ?", span,
    )}
    missing = [h for h in hours if h not in have]
    if not missing:
        return 0
    counted = _raw_by_hour(store, slo, names, missing[0], until)
    with store.transaction() as conn:
        conn.executemany(
            "INSERT OR IGNORE INTO slo_hourly (slo, definition, period_start, good, total)"
            " VALUES (?, ?, ?, ?, ?)",
            [(slo.name, definition, h, counted.get(h, Tally()).good,
              counted.get(h, Tally()).total) for h in missing],
        )
        conn.execute("DELETE FROM slo_hourly WHERE period_start < ?", [until - KEEP])
    return len(missing)


def _hours(since: float, until: float) -> list[float]:
    return [since + i * HOUR for i in range(int((until - since) // HOUR))]


def _filter(slo: SloConfig, names: Sequence[str], since: float, until: float
            ) -> tuple[str, list[Any]]:
    """The WHERE clause (and its parameters) of the SLO's judged raw results in a span."""
    marks = ", ".join("?" * len(names))
    sql = (f"check_name IN ({marks}) AND started_at >= ? AND started_at < ?"
           " AND kind != ? AND status != 'SKIPPED'")
    # The SLO check's own results are never part of an SLI (a `*` glob would count them).
    params: list[Any] = [*names, since, until, BURN_RATE_KIND]
    if slo.target is not None:
        sql += " AND target = ?"
        params.append(slo.target)
    return sql, params


def _good(slo: SloConfig) -> tuple[str, list[Any]]:
    """The SQL expression (1 or 0) of a good result; see `opsd.config.slos`."""
    if slo.threshold is None:
        return "status = 'OK'", []
    return ("(status IN ('OK', 'WARNING') AND value IS NOT NULL AND value < ?)",
            [slo.threshold])


def _raw(store: Store, slo: SloConfig, names: Sequence[str], since: float,
         until: float) -> Tally:
    if not names or until <= since:
        return Tally()
    where, params = _filter(slo, names, since, until)
    good, good_params = _good(slo)
    row = store.query(
        f"SELECT COALESCE(SUM({good}), 0) AS good, COUNT(*) AS total FROM results"
        f" WHERE {where}", [*good_params, *params],
    )[0]
    return Tally(int(row["good"]), int(row["total"]))


def _raw_by_hour(store: Store, slo: SloConfig, names: Sequence[str], since: float,
                 until: float) -> dict[float, Tally]:
    if not names:
        return {}
    where, params = _filter(slo, names, since, until)
    good, good_params = _good(slo)
    rows = store.query(
        f"SELECT CAST(started_at / {HOUR} AS INTEGER) * {HOUR} AS hour,"
        f" COALESCE(SUM({good}), 0) AS good, COUNT(*) AS total FROM results"
        f" WHERE {where} GROUP BY hour", [*good_params, *params],
    )
    return {float(r["hour"]): Tally(int(r["good"]), int(r["total"])) for r in rows}


def _hourly(store: Store, slo: SloConfig, since: float, until: float) -> Tally:
    row = store.query(
        "SELECT COALESCE(SUM(good), 0) AS good, COALESCE(SUM(total), 0) AS total"
        " FROM slo_hourly WHERE slo = ? AND definition = ? AND period_start >= ?"
        " AND period_start < ?", [slo.name, definition_of(slo), since, until],
    )[0]
    return Tally(int(row["good"]), int(row["total"]))
