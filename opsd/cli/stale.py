"""Stale results for `opsd status`: a latest result older than its playbook's schedule allows
means the daemon stopped running it or recording it (stopped, stuck, or its storage broken).

Pure: the playbooks as the configuration snapshot lists them, the result, and `now`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import TYPE_CHECKING

from opsd.durations import format_duration

if TYPE_CHECKING:
    from opsd.cli.view import PlaybookInfo

MISSED_RUNS = 2
"""Scheduled runs a result may miss (plus one run's timeout) before it is stale."""


def interval_of(info: PlaybookInfo) -> float | None:
    """Seconds between two scheduled runs (the shortest gap for a cron playbook), or None."""
    if info.every:
        return float(info.every)
    gaps = [later - earlier for earlier, later in itertools.pairwise(info.upcoming)]
    return min(gaps) if gaps else None


def allowed_age(info: PlaybookInfo) -> float | None:
    """How old its latest result may be: MISSED_RUNS intervals plus its longest timeout."""
    interval = interval_of(info)
    return None if interval is None else MISSED_RUNS * interval + info.timeout


def staleness(
    playbooks: Iterable[PlaybookInfo], check: str, started_at: float, now: float
) -> str | None:
    """'stale: last result 3h ago, expected every 1m' when the result of `check` is older
    than every scheduled playbook running it allows; None when it is fresh or unscheduled."""
    judged = [(allowed_age(p), interval_of(p)) for p in playbooks if check in p.checks]
    limits = [(age, interval) for age, interval in judged
              if age is not None and interval is not None]
    if not limits:
        return None
    age, interval = min(limits)
    waited = now - started_at
    if waited <= age:
        return None
    return (f"stale: last result {format_duration(waited)} ago, "
            f"expected every {format_duration(interval)}")
