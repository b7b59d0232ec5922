"""Handler of `opsd slo [--json]`: every `[[slos]]` entry now — attainment over its window,
error budget left, burn rate per alert window and the burn-rate alerts firing.

Exit code like `opsd status`: 0 when no alert fires, 1 when only a ticket alert does, 2 when a
page alert does; 3 when no SLO is configured (nothing to report).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from typing import Any

from opsd.cli import output
from opsd.config import load_settings
from opsd.config.loading import config_label
from opsd.durations import format_duration
from opsd.errors import ConfigError
from opsd.reports.slo import SloStatus, evaluate
from opsd.store import CLI_BUSY_TIMEOUT
from opsd.store.owner import StoreThread

HEADERS = ("SLO", "OBJECTIVE", "WINDOW", "ATTAINMENT", "BUDGET LEFT", "FIRING", "BURN RATES")


def cmd_slo(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    if not settings.slos:
        raise ConfigError(f"{config_label(settings)}: slos: none configured (add [[slos]] "
                          "entries; see config.example.toml)")
    now = time.time()
    store = StoreThread.open(settings.storage.path, busy_timeout=CLI_BUSY_TIMEOUT)
    try:
        statuses = store.run(evaluate, settings.slos, now)
    finally:
        store.close()
    code = max(status.exit_code for status in statuses)
    if args.json:
        output.print_json({"at": now, "slos": [status_json(s) for s in statuses]})
        return code
    output.table([_row(s) for s in statuses], HEADERS)
    return code


def status_json(status: SloStatus) -> dict[str, Any]:
    """One SLO as `opsd slo --json` prints it (`window` in seconds)."""
    return {**dataclasses.asdict(status), "severity": status.severity}


def _row(status: SloStatus) -> list[str]:
    rates = "  ".join(f"{label} {_rate(rate)}" for label, rate in status.burn_rates.items())
    return [status.name, _percent(status.objective), format_duration(status.window),
            _percent(status.attainment), _percent(status.budget_remaining),
            ",".join(status.firing) or "-", rates]


def _percent(ratio: float | None) -> str:
    if ratio is None:
        return "-"
    return f"{ratio * 100:.3f}".rstrip("0").rstrip(".") + "%"


def _rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.2f}x"
