"""The SLO gauges, from the `slo.burn_rate` check's results: `opsd_slo_objective_ratio`,
`opsd_slo_attainment_ratio`, `opsd_slo_error_budget_remaining_ratio` and
`opsd_slo_burn_rate{window}`, labelled by SLO.

A run of the check reports every configured SLO, so an SLO it no longer reports (removed on a
reload) loses its series; so does a window without results (no burn rate to show). At the
daemon's start the latest stored results restore them (`opsd.daemon.series`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import Gauge

from opsd.config.slos import BURN_RATE_KIND
from opsd.metrics import REGISTRY
from opsd.results import Status

if TYPE_CHECKING:
    from opsd.playbooks import Playbook
    from opsd.results import Result, RunReport

OBJECTIVE = Gauge("opsd_slo_objective_ratio", "The SLO's objective (share of good results)",
                  ["slo"], registry=REGISTRY)
ATTAINMENT = Gauge("opsd_slo_attainment_ratio",
                   "Share of good results over the SLO's window", ["slo"], registry=REGISTRY)
BUDGET = Gauge("opsd_slo_error_budget_remaining_ratio",
               "Share of the window's error budget left (negative: overspent)", ["slo"],
               registry=REGISTRY)
BURN = Gauge("opsd_slo_burn_rate",
             "Error budget burn rate over an alert window (1: spent exactly over the SLO's "
             "window); windows are the workbook's, scaled to the SLO", ["slo", "window"],
             registry=REGISTRY)

_windows: dict[str, set[str]] = {}
"""The burn-rate windows published per SLO (an SLO here has series)."""


def observe_run(report: RunReport, playbook: Playbook | None = None) -> None:
    """A runner observer: the gauges of the run's SLO results."""
    observe(report.results)


def observe(results: Iterable[Result]) -> None:
    """Publish the SLO results among `results`; if there are any, they are every SLO."""
    found = [r for r in results if r.kind == BURN_RATE_KIND]
    if not found:
        return
    current = {r.target: r.details for r in found if r.status is not Status.SKIPPED}
    keep_only(set(current))
    for name, details in current.items():
        _publish(name, details)


def keep_only(names: set[str]) -> None:
    """Remove the series of every SLO not in `names`."""
    for gone in set(_windows) - names:
        for gauge in (OBJECTIVE, ATTAINMENT, BUDGET):
            _remove(gauge, gone)
        for window in _windows.pop(gone):
            _remove(BURN, gone, window)


def _publish(name: str, details: dict[str, Any]) -> None:
    OBJECTIVE.labels(name).set(details["objective"])
    for gauge, key in ((ATTAINMENT, "attainment"), (BUDGET, "budget_remaining")):
        if details.get(key) is None:
            _remove(gauge, name)
        else:
            gauge.labels(name).set(details[key])
    rates: dict[str, float | None] = details.get("burn_rates", {})
    shown = {window for window, rate in rates.items() if rate is not None}
    for window in _windows.get(name, set()) - shown:
        _remove(BURN, name, window)
    for window in shown:
        BURN.labels(name, window).set(rates[window] or 0.0)
    _windows[name] = shown


def _remove(gauge: Gauge, *labels: str) -> None:
    """Remove one series; one never published (no results yet) is no error."""
    with contextlib.suppress(KeyError):
        gauge.remove(*labels)
