"""The alert engine at work: a recorded run's results -> alert states, events and outbox rows
(one SQLite transaction on the store's thread), then delivery of whatever is due.

The state machine itself is pure (`engine`); this module loads and saves its state through
`opsd.store.alerts`, asks `silences` what is silenced, and queues messages with `notify`.
Because states live in SQLite, a restart neither repeats a firing alert nor forgets it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from opsd.alerting.dependencies import Holds, parents_first
from opsd.alerting.engine import Alert, AlertEvent, Phase, Policy
from opsd.alerting.escalation import escalate
from opsd.alerting.flapping import FlapPolicy, hold, judge
from opsd.alerting.messages import Origin
from opsd.alerting.notify import Destination, Send, destinations, drain, enqueue
from opsd.alerting.silences import Silencer, silencer
from opsd.incidents.opening import open_for_events
from opsd.results import Result, RunReport, Status
from opsd.store import Store, alerts, outbox, runs, state

if TYPE_CHECKING:
    from opsd.checks.base import CheckSpec
    from opsd.config import Settings
    from opsd.playbooks import Playbook
    from opsd.store import StoreAccess

CONFIG_CHECK = "opsd.config"
DELIVERY_CHECK = "opsd.delivery"


def apply_results(
    settings: Settings,
    store: StoreAccess,
    results: Sequence[Result],
    *,
    now: float,
    specs: Mapping[str, CheckSpec] | None = None,
    playbook: str = "",
) -> list[AlertEvent]:
    """Feed results to their alerts, remind and release held alerts, queue messages.

    `specs` (by entry name) carry per-entry thresholds; returns the events recorded, with ids.
    Blocks the calling thread (never call it on the event loop: see `AlertObserver`).
    """
    targets = _targets(settings)
    return store.run(transition, settings, results, now, specs or {}, playbook, targets, True)


def transition(
    store: Store,
    settings: Settings,
    results: Sequence[Result],
    now: float,
    specs: Mapping[str, CheckSpec],
    playbook: str,
    targets: Sequence[Destination],
    publish: bool,
    run_interval: float | None = None,
    run_id: int | None = None,
) -> list[AlertEvent]:
    """`apply_results` on the store's own thread: one transaction for states, events and
    outbox rows; then (`publish`) the firing and outbox gauges. `run_interval`: how often
    the playbook runs (see `Policy.from_config`).

    `run_id`: the recorded run the results come from, marked as seen by the alert engine in
    the same transaction; a run already marked (fed by another process, or replayed) changes
    nothing and returns no events, so each run reaches the engine exactly once.
    `targets` must be parsed beforehand: no child process starts inside the transaction."""
    silenced = silencer(store, settings, now)
    origin = Origin.here(settings, _workspace(store, results, now))
    events: list[AlertEvent] = []
    with store.transaction():
        if run_id is not None and not runs.claim_for_alerts(store, run_id, now):
            return []
        seen = set()
        holds = Holds(alerts.open_alerts(store))
        for result in parents_first(results, specs):
            seen.add((result.check, result.target))
            loaded = alerts.load_alert(store, result.check, result.target)
            alert = loaded or Alert(result.check, result.target)
            alert = dataclasses.replace(alert, playbook=playbook or alert.playbook)
            spec = specs.get(result.check)
            policy = Policy.from_config(settings.alerts, spec, run_interval)
            before = alert
            muted = silenced(result.check, result.kind, result.target)
            alert, new = holds.evaluate(
                alert, result, now, policy, muted, spec.depends_on if spec is not None else (),
            )
            alert, new = _escalated(settings, alert, new, now, silenced)
            alert, new = judge(
                before, alert, new, policy.judge(result), now,
                FlapPolicy.from_config(settings.alerts, spec), muted or alert.suppressed_by,
                result.summary,
            )
            if loaded is not None or alert.phase is not Phase.OK:
                alerts.save_alert(store, alert)
            events += new
        # Alerts not in this run still get their reminders and held announcements.
        for alert in alerts.open_alerts(store):
            if (alert.check, alert.target) in seen:
                continue
            ticked, new = holds.tick(alert, now, silenced(alert.check, alert.kind, alert.target))
            ticked, new = _escalated(settings, ticked, new, now, silenced)
            ticked, new = hold(ticked, new)
            if ticked != alert:
                alerts.save_alert(store, ticked)
            events += new
        events = alerts.record_events(store, holds.name_held(events))
        open_for_events(store, events, specs, now)  # an `incident = true` alert opens one
        enqueue(store, settings, events, origin, now, targets)
    if publish:
        publish_metrics(store)
    return events


def _escalated(
    settings: Settings, alert: Alert, events: list[AlertEvent], now: float, silenced: Silencer
) -> tuple[Alert, list[AlertEvent]]:
    """`alert` after its due `[[alerts.escalations]]`, their event after `events`."""
    # A child held by its firing parent (`dependencies`) pages nobody either.
    silenced_by = silenced(alert.check, alert.kind, alert.target) or alert.suppressed_by
    alert, more = escalate(alert, now, settings.alerts.escalations, silenced_by)
    return alert, [*events, *more]


def sweep(settings: Settings, store: StoreAccess, now: float) -> list[AlertEvent]:
    """Reminders and announcements held by ended silences, without new results."""
    return apply_results(settings, store, [], now=now)


class AlertObserver:
    """The runner observer: every recorded run goes through the alert engine (on the store's
    thread), then the outbox is flushed (in a worker thread: delivery blocks).
    `send`: see `notify.drain`; `publish`: update the Prometheus gauges (the daemon's, which
    it serves; a CLI command has none to update)."""

    feeds_alerts = True
    """The runner records its runs as not yet seen by the alert engine (see `runs.record_run`)."""

    def __init__(
        self, settings: Settings, store: StoreAccess, send: Send | None = None,
        *, publish: bool = True,
    ) -> None:
        self.settings = settings
        self.store = store
        self.send = send
        self.publish = publish

    async def __call__(self, report: RunReport, playbook: Playbook) -> None:
        targets = await asyncio.to_thread(_targets, self.settings)
        specs = {spec.name: spec for spec in playbook.checks}
        run_interval = await asyncio.to_thread(
            playbook.run_interval, self.settings.scheduler.timezone, report.finished_at
        )
        await self.store.call(
            transition, self.settings, report.results, report.finished_at, specs,
            playbook.name, targets, self.publish, run_interval, run_id=report.run_id,
        )
        await asyncio.to_thread(
            deliver, self.settings, self.store, report.finished_at, self.send
        )


def raise_config_alert(
    store: StoreAccess, settings: Settings, message: str, now: float, send: Send | None = None
) -> list[AlertEvent]:
    """A CRITICAL `opsd.config` alert (a reload found a broken config), sent right away.

    `settings` are the ones still in force (the previous, valid config).
    """
    result = Result(Status.CRITICAL, message, check=CONFIG_CHECK, kind=CONFIG_CHECK)
    return _apply_and_send(store, settings, result, now, send)


def clear_config_alert(
    store: StoreAccess, settings: Settings, now: float, send: Send | None = None
) -> list[AlertEvent]:
    """Resolve the `opsd.config` alert after a successful reload."""
    result = Result(Status.OK, "configuration reloaded", check=CONFIG_CHECK, kind=CONFIG_CHECK)
    return _apply_and_send(store, settings, result, now, send)


def _apply_and_send(
    store: StoreAccess, settings: Settings, result: Result, now: float, send: Send | None
) -> list[AlertEvent]:
    events = apply_results(settings, store, [result], now=now, playbook="daemon")
    deliver(settings, store, now, send)
    return events


def deliver(settings: Settings, store: StoreAccess, now: float, send: Send | None = None) -> int:
    """Send the due outbox rows (`notify.drain`); returns how many were delivered.

    A permanent failure raises the CRITICAL `opsd.delivery` alert, sent at once (retrying
    cannot help: someone must fix the URL); a later pass that delivers without one resolves it.
    """
    drained = drain(settings, store, now, send)
    if drained.permanent:
        failures = "; ".join(f"{label}: {error}" for label, error in drained.permanent.items())
        result = Result(Status.CRITICAL, f"alert URL failed permanently, not retried: {failures}",
                        check=DELIVERY_CHECK, kind=DELIVERY_CHECK)
    elif drained.delivered and _firing(store, DELIVERY_CHECK):
        result = Result(Status.OK, "messages delivered again", check=DELIVERY_CHECK,
                        kind=DELIVERY_CHECK)
    else:
        return drained.delivered
    apply_results(settings, store, [result], now=now, playbook="daemon")
    return drained.delivered + drain(settings, store, now, send).delivered


def _firing(store: StoreAccess, check: str) -> bool:
    alert = store.run(alerts.load_alert, check, "")
    return alert is not None and alert.phase is not Phase.OK


def publish_metrics(store: Store) -> None:
    """Firing and pending alerts by severity and the outbox depth, to the Prometheus gauges."""
    from opsd import metrics  # prometheus_client: loaded where metrics are kept, not per command
    metrics.set_alerts_firing(alerts.firing_counts(store))
    metrics.set_alerts_pending(alerts.pending_counts(store))
    metrics.set_outbox_depth(outbox.outbox_depth(store))


def _targets(settings: Settings) -> list[Destination]:
    """The parsed `alerts.urls` (the delivery child parses them once per config)."""
    return destinations(settings) if settings.alerts.urls else []


def _workspace(store: Store, results: Sequence[Result], now: float) -> str | None:
    """The Notion workspace name from a `notion.auth` result, remembered for later runs."""
    for result in results:
        workspace = result.details.get("workspace") if result.kind == "notion.auth" else None
        if workspace:
            state.set_state(store, "alerts", "workspace", str(workspace), now=now)
            return str(workspace)
    found = state.get_state(store, "alerts", "workspace")
    return None if found is None else str(found)
