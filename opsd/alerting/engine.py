"""The alert state machine (pure): one alert per (check, target), fed results and the clock.

    OK ──first non-OK──> PENDING ──failure_threshold in a row──> FIRING
    FIRING ──success_threshold OKs in a row──> OK (a RESOLVED event)

While FIRING, receivers hear about the alert once (FIRING), again when it gets worse
(ESCALATED, WARNING -> CRITICAL), and every `repeat_interval` (REMINDER, which also notes a
de-escalation: `previous_severity` above `severity`). A silence holds messages: the event is
recorded with `silenced_by`, and the announcement goes out at the first evaluation after the
silence ends if the problem persists. The one exception is RESOLVED for an alert receivers
were told about: it is always sent, so no receiver is left with an alert that never closes.
An acknowledged alert (`acked_by`, set by `opsd ack`) sends no reminders; its acknowledgement
ends when it resolves or gets worse. Timed escalation (`escalation`) adds ESCALATION events.
A firing parent holds its children the way a silence does (`dependencies`: `suppressed_by`).

Nothing here touches the store, the network or the real clock: every function takes `now`.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import TYPE_CHECKING, Any

from opsd.results import Result, Status

if TYPE_CHECKING:
    from opsd.config import AlertsConfig
    from opsd.playbooks import CheckSpec

DEFAULT_FAILURE_THRESHOLDS = {Status.CRITICAL: 1, Status.WARNING: 2}


class Phase(enum.StrEnum):
    """Where an alert stands."""

    OK = "OK"
    PENDING = "PENDING"
    FIRING = "FIRING"


class EventType(enum.StrEnum):
    """What an alert event tells receivers."""

    FIRING = "FIRING"
    REMINDER = "REMINDER"
    ESCALATED = "ESCALATED"
    RESOLVED = "RESOLVED"
    ESCALATION = "ESCALATION"
    FLAPPING = "FLAPPING"  # changing state too often: one message, then quiet (`flapping`)
    FLAPPING_ENDED = "FLAPPING_ENDED"  # settled: `resolution` set when it settled OK


@dataclasses.dataclass(frozen=True)
class Policy:
    """The thresholds one alert is judged by (global settings, overridden per playbook entry)."""

    failure_threshold: int | None = None
    success_threshold: int = 1
    repeat_interval: float = 4 * 3600.0
    unknown_as: str = "WARNING"

    @classmethod
    def from_config(
        cls, alerts: AlertsConfig, spec: CheckSpec | None = None,
        run_interval: float | None = None,
    ) -> Policy:
        """The policy of a playbook entry (`spec`), falling back to `[alerts]`.

        `run_interval`: how often the entry runs; one that runs less often than
        `repeat_interval` sends no reminders (each run says anew whether it still fails).
        """
        failure = spec.failure_threshold if spec is not None else None
        success = spec.success_threshold if spec is not None else None
        repeat = spec.repeat_interval if spec is not None else None
        repeat_interval = alerts.repeat_interval if repeat is None else repeat
        if run_interval is not None and run_interval > repeat_interval:
            repeat_interval = 0.0
        return cls(
            failure_threshold=failure or alerts.failure_threshold,
            success_threshold=success or alerts.success_threshold,
            repeat_interval=repeat_interval,
            unknown_as=alerts.unknown_as,
        )

    def threshold(self, severity: Status) -> int:
        """Non-OK results in a row before an alert of `severity` fires."""
        return self.failure_threshold or DEFAULT_FAILURE_THRESHOLDS[severity]

    def severity_of(self, status: Status) -> Status | None:
        """OK, WARNING or CRITICAL; None when the result says nothing (SKIPPED, ignored UNKNOWN)."""
        if status is Status.SKIPPED:
            return None
        if status is Status.UNKNOWN:
            return None if self.unknown_as == "ignore" else Status(self.unknown_as)
        return status

    def judge(self, result: Result) -> Status | None:
        """`severity_of` the result's status; None also for a check not sent because opsd's
        Notion circuit is open (`details.circuit_open`): the alert stays as it stands, so a
        Notion outage stays the one message it already is (`opsd.notion.circuit`)."""
        if result.details.get("circuit_open"):
            return None
        return self.severity_of(result.status)


@dataclasses.dataclass(frozen=True)
class Alert:
    """The persisted state of one (check, target)."""

    check: str
    target: str = ""
    kind: str = ""
    playbook: str = ""
    phase: Phase = Phase.OK
    severity: Status | None = None
    failures: int = 0
    successes: int = 0
    since: float | None = None
    fired_at: float | None = None
    notified_severity: Status | None = None
    notified_at: float | None = None
    silenced_by: str | None = None
    value: float | None = None
    unit: str = ""
    summary: str = ""
    thresholds: dict[str, Any] = dataclasses.field(default_factory=dict)
    repeat_interval: float = 4 * 3600.0
    updated_at: float = 0.0
    acked_by: str | None = None
    acked_at: float | None = None
    ack_comment: str = ""
    escalated_to: str = ""
    hint: str = ""  # the latest problem's runbook (its cause's), '' for the kind's
    suppressed_by: str | None = None  # the firing parent holding it (`dependencies`)
    flap_history: str = ""  # the last results' states, one letter each (`flapping`)
    flapping: bool = False

    @property
    def label(self) -> str:
        """`check` or `check/target`, as messages and tables show it."""
        return f"{self.check}/{self.target}" if self.target else self.check


@dataclasses.dataclass(frozen=True)
class AlertEvent:
    """Something receivers should hear about, unless `silenced_by` says why not."""

    type: EventType
    check: str
    target: str
    kind: str
    playbook: str
    severity: Status
    at: float
    since: float
    summary: str
    value: float | None = None
    unit: str = ""
    thresholds: dict[str, Any] = dataclasses.field(default_factory=dict)
    previous_severity: Status | None = None
    resolution: str = ""
    silenced_by: str | None = None
    id: int | None = None
    acked_by: str | None = None
    acked_at: float | None = None
    escalated_to: str = ""
    hint: str = ""
    suppressed_by: str | None = None
    holding: str = ""  # the children this (parent's) alert holds, as "label, label"

    @property
    def deliver(self) -> bool:
        return self.silenced_by is None and self.suppressed_by is None

    @property
    def label(self) -> str:
        return f"{self.check}/{self.target}" if self.target else self.check


def evaluate(
    alert: Alert, result: Result, now: float, policy: Policy, silenced_by: str | None = None
) -> tuple[Alert, list[AlertEvent]]:
    """Apply one result to an alert: the new state and the events it causes."""
    severity = policy.judge(result)
    if severity is None:
        return tick(alert, now, silenced_by)
    alert = dataclasses.replace(
        alert,
        kind=result.kind or alert.kind,
        repeat_interval=policy.repeat_interval,
        updated_at=now,
    )
    if severity is Status.OK:
        return _on_ok(alert, result, now, policy, silenced_by)
    outcome = _on_problem(alert, result, severity, now, policy, silenced_by)
    return _end_ack_if_worse(alert, *outcome)


def tick(
    alert: Alert, now: float, silenced_by: str | None = None
) -> tuple[Alert, list[AlertEvent]]:
    """Time passing without a result: reminders, and announcements held by an ended silence."""
    if alert.phase is not Phase.FIRING:
        return alert, []
    return _announce(alert, now, silenced_by)


def _on_problem(
    alert: Alert,
    result: Result,
    severity: Status,
    now: float,
    policy: Policy,
    silenced_by: str | None,
) -> tuple[Alert, list[AlertEvent]]:
    alert = dataclasses.replace(
        alert,
        severity=severity,
        failures=alert.failures + 1,
        successes=0,
        since=alert.since if alert.phase is not Phase.OK else now,
        value=result.value,
        unit=result.unit,
        summary=result.summary,
        thresholds=dict(result.details.get("thresholds") or {}),
        hint=str(result.details.get("hint") or ""),
    )
    if alert.phase is Phase.FIRING:
        return _announce(alert, now, silenced_by)
    if alert.failures >= policy.threshold(severity):
        firing = dataclasses.replace(alert, phase=Phase.FIRING, fired_at=now)
        return _announce(firing, now, silenced_by)
    return dataclasses.replace(alert, phase=Phase.PENDING), []


def _end_ack_if_worse(
    before: Alert, after: Alert, events: list[AlertEvent]
) -> tuple[Alert, list[AlertEvent]]:
    """An acknowledgement covers the alert as it was: it ends when the alert gets worse."""
    if after.acked_at is None or _rank(after.severity) <= _rank(before.severity):
        return after, events
    return dataclasses.replace(after, acked_by=None, acked_at=None, ack_comment=""), events


def _on_ok(
    alert: Alert, result: Result, now: float, policy: Policy, silenced_by: str | None
) -> tuple[Alert, list[AlertEvent]]:
    if alert.phase is not Phase.FIRING:
        return _cleared(alert, now), []
    alert = dataclasses.replace(alert, successes=alert.successes + 1)
    if alert.successes < policy.success_threshold:
        return alert, []
    announced = alert.notified_severity is not None
    event = event_of(
        alert, EventType.RESOLVED, now,
        severity=alert.notified_severity or alert.severity,
        resolution=result.summary,
        # Receivers who heard of the alert always hear it ended; others never heard of it.
        silenced_by=None if announced else (silenced_by or alert.silenced_by or "never announced"),
    )
    return _cleared(alert, now), [event]


def _cleared(alert: Alert, now: float) -> Alert:
    return Alert(
        check=alert.check, target=alert.target, kind=alert.kind, playbook=alert.playbook,
        repeat_interval=alert.repeat_interval, updated_at=now,
    )


def _announce(alert: Alert, now: float, silenced_by: str | None) -> tuple[Alert, list[AlertEvent]]:
    """Tell receivers what they have not heard yet (or a reminder), unless silenced."""
    event_type = _due_announcement(alert, now)
    if event_type is None:
        return dataclasses.replace(alert, silenced_by=silenced_by and alert.silenced_by), []
    if silenced_by is not None:
        if alert.silenced_by == silenced_by:
            return alert, []  # this silence already holds (and recorded) an announcement
        held = event_of(alert, event_type, now, silenced_by=silenced_by)
        return dataclasses.replace(alert, silenced_by=silenced_by), [held]
    event = event_of(alert, event_type, now)
    return dataclasses.replace(
        alert,
        notified_severity=alert.severity,
        notified_at=now,
        silenced_by=None,
    ), [event]


def _due_announcement(alert: Alert, now: float) -> EventType | None:
    if alert.notified_severity is None:
        return EventType.FIRING
    if _rank(alert.severity) > alert.notified_severity.rank:
        return EventType.ESCALATED
    if (
        alert.repeat_interval > 0
        and alert.notified_at is not None
        and now - alert.notified_at >= alert.repeat_interval
        and alert.acked_at is None  # the acknowledger knows: no reminders
    ):
        return EventType.REMINDER
    return None


def event_of(
    alert: Alert,
    event_type: EventType,
    now: float,
    *,
    severity: Status | None = None,
    resolution: str = "",
    silenced_by: str | None = None,
) -> AlertEvent:
    """The event of `event_type` about `alert` at `now`, carrying the alert's facts (pure)."""
    previous = None
    if event_type is EventType.ESCALATED or (
        # A reminder notes a de-escalation since the last message.
        event_type is EventType.REMINDER
        and alert.notified_severity is not None
        and alert.notified_severity.rank > _rank(alert.severity)
    ):
        previous = alert.notified_severity
    return AlertEvent(
        type=event_type,
        check=alert.check,
        target=alert.target,
        kind=alert.kind,
        playbook=alert.playbook,
        severity=severity or alert.severity or Status.WARNING,
        at=now,
        since=alert.since if alert.since is not None else now,
        summary=alert.summary,
        value=alert.value,
        unit=alert.unit,
        thresholds=alert.thresholds,
        previous_severity=previous,
        resolution=resolution,
        silenced_by=silenced_by,
        acked_by=alert.acked_by,
        acked_at=alert.acked_at,
        escalated_to=alert.escalated_to,
        hint=alert.hint,
    )


def _rank(severity: Status | None) -> int:
    return severity.rank if severity is not None else Status.OK.rank
