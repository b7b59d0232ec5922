"""Which alerts open an incident by themselves, and opening it in their events' transaction.

An entry says so with `incident = true` (or `false`); without it, its kind decides
(`KIND_DEFAULTS`: the lowest severity at which the kind's alerts open one). A FIRING or an
ESCALATED event that is sent (not silenced, not held by a firing parent) and reaches that
severity opens an incident — unless one is open already, which the event then joins by its
time alone (`opsd.incidents.timeline`). Nobody's alert closes an incident: a person does.
"""

from __future__ import annotations

import getpass
import logging
import os
import socket
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from opsd.logs import event as log_event
from opsd.results import Status
from opsd.store import incidents

if TYPE_CHECKING:
    from opsd.alerting.engine import AlertEvent
    from opsd.checks.base import CheckSpec
    from opsd.store import Store

KIND_DEFAULTS: Mapping[str, Status] = {
    # A revoked or invalid token stops the integration outright.
    "notion.auth": Status.CRITICAL,
    # Notion failing often enough to matter over the availability window.
    "notion.availability": Status.WARNING,
}
"""Kind -> the lowest severity at which its alerts open an incident (entries of other kinds
open one only with `incident = true`)."""

_OPENING_EVENTS = frozenset({"FIRING", "ESCALATED"})
log = logging.getLogger(__name__)

DAEMON_USER = "opsd"
"""Who opened an incident an alert opened."""


def opens_incident(event: AlertEvent, spec: CheckSpec | None) -> bool:
    """Whether `event` opens an incident (when none is open), by its entry or kind."""
    if event.type.value not in _OPENING_EVENTS or not event.deliver:
        return False
    wanted = spec.incident if spec is not None else None
    if wanted is False:
        return False
    floor = Status.WARNING if wanted else KIND_DEFAULTS.get(event.kind)
    return floor is not None and event.severity.rank >= floor.rank


def open_for_events(
    store: Store,
    events: Sequence[AlertEvent],
    specs: Mapping[str, CheckSpec],
    now: float,
) -> incidents.Incident | None:
    """Open an incident for the first event that calls for one, unless one is open (inside
    the caller's transaction: the alert observer's). Returns the incident opened, if any."""
    for event in events:
        if not opens_incident(event, specs.get(event.check)):
            continue
        if incidents.current(store) is not None:
            return None
        opened = incidents.open_incident(
            store, now=now, user=DAEMON_USER, host=socket.gethostname(),
            reason=event.summary or event.label,
            trigger=f"alert {event.label}",
        )
        log_event(log, "incident opened", id=opened.id, alert=event.label,
                  severity=event.severity.value)
        return opened
    return None


def whoami() -> str:
    """The person at the keyboard: `$SUDO_USER` under sudo, else the login user."""
    sudo_user = os.environ.get("SUDO_USER", "").strip()
    if sudo_user:
        return sudo_user
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (a bare container)
        return f"uid {os.getuid()}"
