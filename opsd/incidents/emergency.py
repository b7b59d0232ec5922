"""`opsd run-playbook emergency`: open (or join) the incident, run the playbook strictly, and
always send one summary.

1. The open incident gets a note ("emergency run by …, reason …"); with none open, the run
   opens one (by `$SUDO_USER` or the login user, on this host, for the reason given). One
   transaction: two runs at once cannot open two incidents.
2. The playbook runs with every entry's `failure_threshold` at 1, so a failure alerts at once
   (through the alert engine, as any run).
3. One summary (`opsd.incidents.summary`) goes to the alert URLs tagged `emergency` — to every
   URL when none carries that tag — through the outbox, so it is retried like any message.
   It carries no alert event: nothing drops it as stale or repeated.
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING

from opsd.alerting.messages import Message, Origin
from opsd.alerting.notify import Destination, Send, destinations
from opsd.alerting.observer import deliver
from opsd.incidents.opening import whoami
from opsd.incidents.summary import RunContext, compose
from opsd.store import incidents, outbox, state
from opsd.store.outbox import OutboxRow

if TYPE_CHECKING:
    from opsd.app import App
    from opsd.config import Settings
    from opsd.playbooks import Playbook
    from opsd.results import RunReport
    from opsd.store import StoreAccess

EMERGENCY = "emergency"
"""The playbook that opens an incident, and the Apprise tag its summary goes to."""
TRIGGER = "emergency run"


@dataclasses.dataclass(frozen=True)
class EmergencyRun:
    """What one emergency run did: its incident, its results, where the summary went."""

    run: RunContext
    report: RunReport
    recipients: tuple[str, ...]  # the URLs' masked labels
    tagged: bool  # whether they are the `emergency`-tagged URLs (else all URLs)
    waiting: int  # outbox rows still undelivered after the delivery pass


def join_note(user: str, host: str, reason: str) -> str:
    return f"emergency run by {user}@{host}" + (f", reason: {reason}" if reason else "")


async def begin(
    store: StoreAccess, *, user: str, host: str, reason: str, now: float
) -> RunContext:
    """Open an incident, or add the run's note to the open one."""
    incident, joined = await store.call(
        incidents.open_or_join, now=now, user=user, host=host, reason=reason,
        trigger=TRIGGER, note=join_note(user, host, reason),
    )
    return RunContext(incident, joined, user, reason)


def strict(playbook: Playbook) -> Playbook:
    """`playbook` with every entry's `failure_threshold` at 1."""
    checks = [spec.model_copy(update={"failure_threshold": 1}) for spec in playbook.checks]
    return playbook.model_copy(update={"checks": checks})


def summary_targets(targets: Sequence[Destination]) -> tuple[list[Destination], bool]:
    """The URLs tagged `emergency`, or all of them when none is (and whether tagged)."""
    tagged = [d for d in targets if EMERGENCY in d.tags]
    return (tagged, True) if tagged else (list(targets), False)


def summary_rows(
    settings: Settings, message: Message, targets: Sequence[Destination]
) -> list[OutboxRow]:
    """One outbox row per target, redacted like every message (pure)."""
    return [
        OutboxRow(d.key, d.label, message.notify_type, settings.redact(message.title),
                  settings.redact(message.body))
        for d in targets
    ]


async def run_emergency(app: App, reason: str, send: Send | None = None) -> EmergencyRun:
    """Steps 1-3 above, with the app's settings, store and clock."""
    from asyncio import to_thread

    settings, store = app.settings, app.store
    host = socket.gethostname()
    run = await begin(store, user=whoami(), host=host, reason=reason, now=app.clock())
    report = await app.runner.run(strict(app.playbooks.get(EMERGENCY)), trigger=EMERGENCY)
    workspace = await store.call(state.get_state, "alerts", "workspace")
    origin = Origin(host, None if workspace is None else str(workspace),
                    settings.scheduler.timezone)
    message = compose(report.results, run, origin)
    if not settings.alerts.urls:
        return EmergencyRun(run, report, (), False, 0)
    chosen, tagged = summary_targets(await to_thread(destinations, settings))
    now = app.clock()
    await store.call(outbox.enqueue, summary_rows(settings, message, chosen), now)
    await to_thread(deliver, settings, store, now, send)
    waiting = await store.call(outbox.outbox_depth)
    return EmergencyRun(run, report, tuple(d.label for d in chosen), tagged, waiting)
