"""Flapping detection (pure), as Icinga does it: the weighted share of state changes over an
alert's last `window` results.

Each result's state (OK, WARNING, CRITICAL) is kept as one letter on the alert. Between two
consecutive results there is a change or not; changes are weighted linearly from 0.8 (the
oldest) to 1.2 (the newest), so recent changes count more, and the share is the weighted
changes over the weighted transitions seen (an endpoint flipping every run scores 1.0). Above
`high` the alert is FLAPPING: receivers get one FLAPPING message and nothing more until the
share falls below `low`, when one message says which state it settled in. The states are
recorded and the engine keeps judging meanwhile: only its messages are held.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from opsd.alerting.engine import Alert, AlertEvent, EventType, Phase
from opsd.results import Status

if TYPE_CHECKING:
    from opsd.checks.base import CheckSpec
    from opsd.config import AlertsConfig

MIN_CHANGES = 3
"""A single outage is two changes (down, up): flapping takes more than that."""

HELD = "flapping"
"""`silenced_by` of the events held while an alert flaps."""

_LETTERS = {Status.OK: "O", Status.WARNING: "W", Status.CRITICAL: "C"}


@dataclasses.dataclass(frozen=True)
class FlapPolicy:
    """`[alerts.flapping]`, overridden per playbook entry (`flapping = {…}`)."""

    enabled: bool = True
    window: int = 20
    high: float = 0.3
    low: float = 0.2

    @classmethod
    def from_config(cls, alerts: AlertsConfig, spec: CheckSpec | None = None) -> FlapPolicy:
        """The entry's `flapping` keys over `[alerts.flapping]`."""
        base = alerts.flapping.model_dump()
        override = spec.flapping if spec is not None else None
        if override is not None:
            base.update(override.model_dump(exclude_none=True))
        base["low"] = min(base["low"], base["high"])  # an entry may lower only `high`
        return cls(**base)


@dataclasses.dataclass(frozen=True)
class Flap:
    """Where an alert stands after one more result."""

    history: str
    share: float
    changes: int
    flapping: bool


def share_of_changes(history: str) -> tuple[float, int]:
    """The weighted share of state changes in `history` (oldest first), and their number."""
    transitions = len(history) - 1
    if transitions < 1:
        return 0.0, 0
    total = changed = 0.0
    changes = 0
    for index in range(transitions):
        weight = 0.8 + 0.4 * index / (transitions - 1) if transitions > 1 else 1.2
        total += weight
        if history[index] != history[index + 1]:
            changed += weight
            changes += 1
    return changed / total, changes


def update(history: str, state: Status, was_flapping: bool, policy: FlapPolicy) -> Flap:
    """Add one result's state: the new history, its share of changes, and whether it flaps."""
    if not policy.enabled:
        return Flap("", 0.0, 0, False)
    history = (history + _LETTERS[state])[-policy.window:]
    share, changes = share_of_changes(history)
    if was_flapping:
        return Flap(history, share, changes, share >= policy.low)
    return Flap(history, share, changes, changes >= MIN_CHANGES and share > policy.high)


def judge(
    before: Alert,
    after: Alert,
    events: Sequence[AlertEvent],
    severity: Status | None,
    now: float,
    policy: FlapPolicy,
    silenced_by: str | None = None,
    summary: str = "",
) -> tuple[Alert, list[AlertEvent]]:
    """Apply flapping to one evaluation (`before` -> `after`, `events`) of a result judged
    `severity` (None: SKIPPED, which leaves the history alone) that says `summary`."""
    if severity is None:
        return hold(after, events)
    flap = update(_history(before), severity, before.flapping, policy)
    after = dataclasses.replace(after, flap_history=flap.history, flapping=flap.flapping)
    if not flap.flapping and not before.flapping:
        return after, list(events)
    held = [_held(e) for e in events]
    if flap.flapping and not before.flapping:
        return after, [*held, _started(before, after, flap, now, silenced_by)]
    if flap.flapping:
        return after, held
    if after.phase is Phase.FIRING:  # receivers now know its severity: remind from here
        after = dataclasses.replace(after, notified_severity=after.severity, notified_at=now)
    return after, [*held, _settled(before, after, now, silenced_by, summary)]


def _history(alert: Alert) -> str:
    """The recorded states; a new alert starts from the state it stands in (OK)."""
    if alert.flap_history:
        return alert.flap_history
    state = alert.severity if alert.phase is not Phase.OK and alert.severity else Status.OK
    return _LETTERS[state]


def hold(alert: Alert, events: Sequence[AlertEvent]) -> tuple[Alert, list[AlertEvent]]:
    """While `alert` flaps, its events (reminders too) are recorded, not sent."""
    return alert, [_held(e) for e in events] if alert.flapping else list(events)


def _held(event: AlertEvent) -> AlertEvent:
    return event if event.silenced_by else dataclasses.replace(event, silenced_by=HELD)


def _started(before: Alert, after: Alert, flap: Flap, now: float, silenced_by: str | None
             ) -> AlertEvent:
    states = sorted(set(flap.history), key="OWC".index)
    names = " ↔ ".join({"O": "OK", "W": "WARNING", "C": "CRITICAL"}[s] for s in states)
    return AlertEvent(
        type=EventType.FLAPPING, check=after.check, target=after.target, kind=after.kind,
        playbook=after.playbook, severity=_worst(flap.history), at=now,
        since=before.since if before.since is not None else now,
        summary=f"{flap.changes} state changes in the last {len(flap.history)} results"
        f" ({names})",
        silenced_by=silenced_by,
    )


def _settled(
    before: Alert, after: Alert, now: float, silenced_by: str | None, summary: str
) -> AlertEvent:
    """Settled OK reads like a RESOLVED (with `resolution`); settled in a problem, like a FIRING."""
    firing = after.phase is not Phase.OK  # firing, or failing below its failure_threshold
    return AlertEvent(
        type=EventType.FLAPPING_ENDED, check=after.check, target=after.target, kind=after.kind,
        playbook=after.playbook,
        severity=(after.severity or Status.WARNING) if firing else _worst(before.flap_history),
        at=now, since=after.since if after.since is not None else now,
        summary=after.summary if firing else summary,
        value=after.value, unit=after.unit, thresholds=after.thresholds,
        resolution="" if firing else summary or "settled OK",
        silenced_by=silenced_by,
    )


def _worst(history: str) -> Status:
    """The worst problem among the recorded states: what receivers heard it flap to."""
    return Status.CRITICAL if "C" in history else Status.WARNING
