"""Timed escalation (pure): a firing alert nobody acknowledged also goes to the URLs tagged by
`[[alerts.escalations]]` once it has fired for `after`, once per tag.

An escalation needs receivers to have been told (a held, silenced or flapping alert pages
nobody) and no acknowledgement; the tags it reached stay on the alert (`escalated_to`) until
it resolves, so later messages about it, its RESOLVED included, reach them too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from opsd.alerting.engine import Alert, AlertEvent, EventType, Phase, event_of

if TYPE_CHECKING:
    from opsd.config.sections import Escalation


def escalated_tags(text: str) -> list[str]:
    """The tags in an `escalated_to` column (comma-separated)."""
    return [tag for tag in text.split(",") if tag]


def due_escalations(
    alert: Alert, now: float, escalations: Sequence[Escalation], silenced_by: str | None = None
) -> list[str]:
    """The tags `alert` is due to be escalated to at `now` (none if acknowledged or held)."""
    if (
        alert.phase is not Phase.FIRING
        or alert.fired_at is None
        or alert.notified_at is None
        or alert.acked_at is not None
        or alert.flapping  # one message while it flaps (`flapping`), no pages
        or silenced_by is not None
    ):
        return []
    done = set(escalated_tags(alert.escalated_to))
    due: list[str] = []
    for escalation in escalations:
        if alert.fired_at + escalation.after <= now and escalation.tag not in done | set(due):
            due.append(escalation.tag)
    return due


def escalate(
    alert: Alert, now: float, escalations: Sequence[Escalation], silenced_by: str | None = None
) -> tuple[Alert, list[AlertEvent]]:
    """The alert with its due escalations recorded, and one ESCALATION event for them."""
    due = due_escalations(alert, now, escalations, silenced_by)
    if not due:
        return alert, []
    event = dataclasses.replace(
        event_of(alert, EventType.ESCALATION, now), escalated_to=",".join(due)
    )
    reached = ",".join([*escalated_tags(alert.escalated_to), *due])
    return dataclasses.replace(alert, escalated_to=reached), [event]

