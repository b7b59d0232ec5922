"""Alert events as messages for people (pure): a title naming severity, check and workspace; a
Markdown body with value against threshold, since when, playbook, host and the runbook."""

from __future__ import annotations

import dataclasses
import socket
import zoneinfo
from collections.abc import Sequence
from typing import TYPE_CHECKING

from opsd.alerting.engine import AlertEvent, EventType
from opsd.alerting.escalation import escalated_tags
from opsd.durations import format_duration
from opsd.results import Status
from opsd.runbooks import hint
from opsd.units import format_time, format_value

if TYPE_CHECKING:
    from opsd.config import Settings

_NOTIFY_TYPES = {Status.CRITICAL: "failure", Status.WARNING: "warning"}


@dataclasses.dataclass(frozen=True)
class Message:
    """One message: what receivers read, the alert events it tells about, and the HTTP
    headers it carries where its URL takes custom headers (name, value). Alerts are Markdown;
    a report sends e-mail an HTML `body` with its plain-text rendering (`text`) and files."""

    title: str
    body: str
    notify_type: str
    event_ids: tuple[int, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    body_format: str = "markdown"
    text: str | None = None
    attachments: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Origin:
    """Where messages come from: this host, the Notion workspace, the display time zone."""

    host: str
    workspace: str | None = None
    timezone: str = "UTC"

    @classmethod
    def here(cls, settings: Settings, workspace: str | None = None) -> Origin:
        return cls(socket.gethostname(), workspace, settings.scheduler.timezone)

    @property
    def name(self) -> str:
        return self.workspace or self.host



def routing_tags(event: AlertEvent) -> set[str]:
    """The Apprise tags a message about `event` goes to (`critical`, `warning`), and the
    `[[alerts.escalations]]` tags it was escalated to (only those for an ESCALATION)."""
    escalated = set(escalated_tags(event.escalated_to))
    if event.type is EventType.ESCALATION:
        return escalated
    return {event.severity.value.lower()} | escalated


def compose(events: Sequence[AlertEvent], origin: Origin, *, group: bool) -> list[Message]:
    """The messages for `events`: one each, or one for all of them when `group` is on."""
    if not events:
        return []
    if group and len(events) > 1:
        return [_grouped(events, origin)]
    return [
        Message(title(e, origin), body(e, origin), _notify_type([e]), _ids([e])) for e in events
    ]


def title(event: AlertEvent, origin: Origin) -> str:
    """`[CRITICAL] notion.auth: token invalid or revoked (Acme Ops)`."""
    return f"{_tag(event)} {event.label}: {event.summary or event.type.value} ({origin.name})"


def body(event: AlertEvent, origin: Origin) -> str:
    """Markdown: what, value vs threshold, since when, playbook, host, runbook hint."""
    tz = zoneinfo.ZoneInfo(origin.timezone)
    lasted = format_duration(max(0.0, event.at - event.since))
    if event.type is EventType.FLAPPING_ENDED and _closes(event):
        lines = [
            f"**{event.label}** stopped flapping and settled OK (was {event.severity.value}): "
            f"{event.resolution}",
        ]
    elif event.type is EventType.RESOLVED:
        lines = [
            f"**{event.label}** is OK again after {lasted} (was {event.severity.value}): "
            f"{event.resolution or 'check passed'}",
            f"- Problem was: {event.summary}",
        ]
    elif event.type is EventType.FLAPPING:
        lines = [
            f"**{event.label}** is flapping: {event.summary}",
            f"- Since: {format_time(event.since, tz)} (for {lasted})",
            "- No more messages about it until it settles; one message will say in which state.",
        ]
    else:
        lines = [f"**{event.label}** is {event.severity.value}: {event.summary}"]
        if event.value is not None:
            lines.append(f"- Value: {_value_vs_threshold(event)}")
        lines.append(f"- Since: {format_time(event.since, tz)} (for {lasted})")
        note = _change_note(event)
        if note:
            lines.append(f"- {note}")
        if event.holding:
            lines.append(f"- Holding: {event.holding} (held until this alert resolves)")
    if event.acked_by and event.acked_at is not None:
        lines.append(f"- Acknowledged by {event.acked_by} at {format_time(event.acked_at, tz)}")
    lines += [
        f"- Playbook: {event.playbook or '-'}",
        f"- Host: {origin.host}" + (f" (workspace {origin.workspace})" if origin.workspace else ""),
    ]
    if not _closes(event):
        # The cause's runbook (a 503, a revoked token, a slow answer) before the kind's.
        lines.append(f"- Runbook: {event.hint or hint(event.kind, event.check)}")
    return "\n".join(lines)


def _closes(event: AlertEvent) -> bool:
    """A RESOLVED, or the end of flapping in OK (`flapping`)."""
    return event.type is EventType.RESOLVED or (
        event.type is EventType.FLAPPING_ENDED and bool(event.resolution)
    )


def _grouped(events: Sequence[AlertEvent], origin: Origin) -> Message:
    open_events = [e for e in events if not _closes(e)]
    head = (
        f"[{max((e.severity for e in open_events), key=lambda s: s.rank).value}]"
        if open_events else "[RESOLVED]"
    )
    labels = ", ".join(e.label for e in events[:3]) + (", …" if len(events) > 3 else "")
    sections = [f"### {_tag(e)} {e.label}\n{body(e, origin)}" for e in events]
    return Message(
        f"{head} {len(events)} alerts: {labels} ({origin.name})",
        "\n\n".join(sections),
        _notify_type(events),
        _ids(events),
    )


def _tag(event: AlertEvent) -> str:
    severity = event.severity.value
    return {
        EventType.FIRING: f"[{severity}]",
        EventType.REMINDER: f"[{severity}] Reminder:",
        EventType.ESCALATED: f"[{severity}] Escalated:",
        EventType.RESOLVED: "[RESOLVED]",
        EventType.ESCALATION: f"[{severity}] Unacknowledged:",
        EventType.FLAPPING: f"[{severity}] Flapping:",
        EventType.FLAPPING_ENDED: (
            "[RESOLVED] Stopped flapping:" if _closes(event) else f"[{severity}] Stopped flapping:"
        ),
    }[event.type]


def _change_note(event: AlertEvent) -> str:
    previous = event.previous_severity.value if event.previous_severity else None
    if event.type is EventType.ESCALATED:
        return f"Escalated from {previous}."
    if event.type is EventType.ESCALATION:
        lasted = format_duration(max(0.0, event.at - event.since))
        return f"Not acknowledged after {lasted}: escalated to {event.escalated_to}."
    if event.type is EventType.FLAPPING_ENDED:
        return f"Stopped flapping: settled {event.severity.value}."
    if event.type is EventType.REMINDER:
        still = f"Still firing after {format_duration(max(0.0, event.at - event.since))}."
        if previous:
            return f"De-escalated from {previous} since the last message. {still}"
        return still
    return ""


def _value_vs_threshold(event: AlertEvent) -> str:
    text = format_value(event.value, event.unit)
    limits = event.thresholds or {}
    sign = ">=" if limits.get("direction", "above") == "above" else "<="
    parts = [
        f"{name} {sign} {format_value(limits[key], event.unit)}"
        for key, name in (("warn", "warning"), ("crit", "critical"))
        if limits.get(key) is not None
    ]
    return text + (f" (threshold: {', '.join(parts)})" if parts else "")


def _notify_type(events: Sequence[AlertEvent]) -> str:
    open_events = [e for e in events if not _closes(e)]
    if not open_events:
        return "success"
    worst = max((e.severity for e in open_events), key=lambda s: s.rank)
    return _NOTIFY_TYPES.get(worst, "warning")


def _ids(events: Sequence[AlertEvent]) -> tuple[int, ...]:
    return tuple(e.id for e in events if e.id is not None)
