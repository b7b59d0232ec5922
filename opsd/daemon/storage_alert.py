"""The `opsd.storage` alert: CRITICAL while runs cannot be recorded, delivered from memory.

The usual way an alert reaches its receivers (an outbox row in the store, then delivery) is
the way a storage fault closes: so while storage is unhealthy the FIRING message goes straight
to every `alerts.urls` entry through the Apprise child, and the daemon remembers, in memory,
that it was sent. Once recording works again the alert's FIRING is written to the store
without a message (receivers have it already), then an OK result resolves it through the
outbox as usual: one RESOLVED message.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from opsd.alerting.engine import AlertEvent, EventType
from opsd.alerting.messages import Origin, compose
from opsd.daemon.storage_health import STORAGE_CHECK
from opsd.logs import event
from opsd.results import Result, Status

if TYPE_CHECKING:
    from opsd.config import Settings
    from opsd.store import StoreAccess

log = logging.getLogger("opsd.daemon")


@dataclasses.dataclass
class Firing:
    """The alert as sent from memory: why, and since when."""

    reason: str
    since: float


class StorageAlert:
    """Fires, delivers and resolves `opsd.storage`; call `update` whenever health may change.

    Called from one worker thread at a time (the daemon serialises it): it blocks while it
    sends."""

    def __init__(self) -> None:
        self.firing: Firing | None = None

    def update(
        self, settings: Settings, store: StoreAccess, reason: str | None, now: float
    ) -> str | None:
        """Fire (`reason`) or resolve (None) as needed; returns what it did, if anything."""
        if reason is not None and self.firing is None:
            self.firing = Firing(reason, now)
            event(log, "storage fault", level=logging.ERROR, error=reason)
            failed = send_from_memory(settings, reason, now)
            if failed:
                event(log, "storage alert not delivered", level=logging.ERROR, error=failed)
            return "fired"
        if reason is None and self.firing is not None:
            resolve_in_store(settings, store, self.firing, now)
            self.firing = None
            event(log, "storage recovered: runs are recorded again")
            return "resolved"
        return None


def storage_event(settings: Settings, reason: str, now: float) -> AlertEvent:
    return AlertEvent(
        EventType.FIRING, STORAGE_CHECK, "", STORAGE_CHECK, "daemon", Status.CRITICAL,
        now, now, settings.redact(reason),
    )


def send_from_memory(settings: Settings, reason: str, now: float) -> str:
    """Send the FIRING message to every `alerts.urls` entry without the store; returns the
    failures ("" when every URL took it)."""
    from opsd import metrics
    from opsd.alerting.notify import AppriseWorker

    if not settings.alerts.urls:
        return ""
    messages = compose([storage_event(settings, reason, now)], Origin.here(settings),
                       group=False)
    failures = []
    with AppriseWorker(settings.alerts.plugin_paths) as worker:
        for destination in worker.destinations(settings):
            for message in messages:
                error = worker.send(destination, message, settings.alerts.timeout)
                metrics.observe_notification(error is None)
                if error is not None:
                    failures.append(f"{destination.label}: {settings.redact(error)}")
    return "; ".join(failures)


def resolve_in_store(settings: Settings, store: StoreAccess, firing: Firing, now: float) -> None:
    """Record the FIRING sent from memory (no message: it went out), then resolve it."""
    from opsd.alerting.observer import apply_results, deliver

    quiet = settings.model_copy(
        update={"alerts": settings.alerts.model_copy(update={"urls": []})}
    )
    fired = Result(Status.CRITICAL, firing.reason, check=STORAGE_CHECK, kind=STORAGE_CHECK)
    apply_results(quiet, store, [fired], now=firing.since, playbook="daemon")
    ok = Result(Status.OK, "runs are recorded again", check=STORAGE_CHECK, kind=STORAGE_CHECK)
    apply_results(settings, store, [ok], now=now, playbook="daemon")
    deliver(settings, store, now)
