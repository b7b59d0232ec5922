"""SLO arithmetic: attainment, error budget, and the multi-window, multi-burn-rate alerts of
the SRE workbook (chapter "Alerting on SLOs"), scaled to each SLO's window.

An alert of a pair fires while the burn rate over BOTH its windows exceeds the pair's factor,
and resolves as soon as either window drops to it: the long window says enough budget has
gone, the short one that it is still going. The burn rate over a window is
`(1 - SLI) / (1 - objective)`: 1 spends the budget exactly over the SLO's window.
Everything but `evaluate` is pure; `evaluate` reads the counts (`opsd.store.slo_hours`).
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from opsd.durations import format_duration
from opsd.store import slo_hours

if TYPE_CHECKING:
    from opsd.config.slos import SloConfig
    from opsd.store import Store

REFERENCE_WINDOW = 30 * 86400.0
"""The SLO window the workbook's alert windows are given for."""


@dataclasses.dataclass(frozen=True)
class BurnAlert:
    """One multi-window alert: fires while both windows burn faster than `factor`."""

    name: str
    severity: Literal["page", "ticket"]
    factor: float
    long: float
    short: float

    def scaled(self, window: float) -> BurnAlert:
        """This alert for an SLO over `window` (the windows shrink or grow in proportion)."""
        ratio = window / REFERENCE_WINDOW
        return dataclasses.replace(self, long=round(self.long * ratio),
                                   short=round(self.short * ratio))


WORKBOOK_ALERTS = (
    BurnAlert("page-fast", "page", 14.4, 3600.0, 300.0),
    BurnAlert("page-slow", "page", 6.0, 6 * 3600.0, 1800.0),
    BurnAlert("ticket", "ticket", 1.0, 3 * 86400.0, 6 * 3600.0),
)
"""2 % of a 30-day budget in 1 h, 5 % in 6 h (page); 10 % in 3 days (ticket)."""


@dataclasses.dataclass(frozen=True)
class SloStatus:
    """An SLO at one moment: its attainment over its window and its burn-rate alerts."""

    name: str
    objective: float
    window: float
    good: int
    total: int
    attainment: float | None
    budget_remaining: float | None
    burn_rates: dict[str, float | None]
    """Burn rate per alert window, keyed by its label ("5m", "1h", …, scaled to the SLO)."""
    firing: list[str]
    """The alerts firing now: "page-fast", "page-slow", "ticket"."""

    @property
    def severity(self) -> Literal["page", "ticket"] | None:
        """The most urgent firing alert's severity."""
        severities = {a.severity for a in WORKBOOK_ALERTS if a.name in self.firing}
        return "page" if "page" in severities else "ticket" if severities else None

    @property
    def exit_code(self) -> int:
        """2 while a page alert fires, 1 while only the ticket does, 0 otherwise."""
        return {"page": 2, "ticket": 1, None: 0}[self.severity]


def alerts_for(window: float) -> list[BurnAlert]:
    """The workbook's alerts scaled to an SLO over `window`."""
    return [alert.scaled(window) for alert in WORKBOOK_ALERTS]


def window_label(seconds: float) -> str:
    """`300` -> "5m", `60480` -> "16h48m"; seconds where minutes would round ("70s")."""
    whole = round(seconds)
    return f"{whole}s" if whole < 3600 and whole % 60 else format_duration(whole)


def attainment(good: int, total: int) -> float | None:
    """The SLI: the share of good results; None without results."""
    return good / total if total else None


def burn_rate(good: int, total: int, objective: float) -> float | None:
    """How fast the window spends the budget (1: exactly over the SLO's window)."""
    if not total:
        return None
    # Rounded: 1 - 0.99 is 0.010000000000000009 in floating point, and 100x should read 100.
    return round((total - good) / total / (1 - objective), 9)


def budget_remaining(sli: float | None, objective: float) -> float | None:
    """The share of the window's error budget left (negative: overspent)."""
    return None if sli is None else round(1 - (1 - sli) / (1 - objective), 9)


def firing(alerts: Sequence[BurnAlert], rates: dict[str, float | None]) -> list[str]:
    """The alerts whose two windows both burn faster than their factor."""
    def over(window: float, factor: float) -> bool:
        rate = rates.get(window_label(window))
        return rate is not None and rate > factor

    return [a.name for a in alerts if over(a.long, a.factor) and over(a.short, a.factor)]


def evaluate(store: Store, slos: Sequence[SloConfig], now: float,
             window: float | None = None) -> list[SloStatus]:
    """Every SLO at `now`: attainment over `window` (default: its own), burn rates, alerts."""
    known = slo_hours.check_names(store)  # read once: every SLO's glob picks from them
    return [_evaluate_one(store, slo, [n for n in known if fnmatch.fnmatchcase(n, slo.checks)],
                          now, window or slo.window) for slo in slos]


def _evaluate_one(store: Store, slo: SloConfig, names: list[str], now: float,
                  window: float) -> SloStatus:
    whole = slo_hours.count(store, slo, names, now - window, now, now)
    alerts = alerts_for(slo.window)
    spans = sorted({s for a in alerts for s in (a.short, a.long)})
    rates: dict[str, float | None] = {}
    for span in spans:
        tally = slo_hours.count(store, slo, names, now - span, now, now)
        rates[window_label(span)] = burn_rate(tally.good, tally.total, slo.objective)
    sli = attainment(whole.good, whole.total)
    return SloStatus(
        name=slo.name, objective=slo.objective, window=window, good=whole.good,
        total=whole.total, attainment=sli, budget_remaining=budget_remaining(sli, slo.objective),
        burn_rates=rates, firing=firing(alerts, rates),
    )
