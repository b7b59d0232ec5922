"""Replay: every recorded run reaches the alert engine exactly once, even across a crash.

A run is recorded in one transaction and goes through the alert engine in the next
(`observer.transition`), which marks it as seen (`runs.alerted_at`) together with its alert
states, events and outbox rows. A process killed between the two leaves the run unseen: its
FIRING or RESOLVED would never be generated. So the daemon, before it schedules anything, and
every CLI command that records runs, before it runs a check, feed the unseen runs to the
engine here: oldest first, each with its stored results, its playbook's current entries and
its own finish time as "now", so the alerts move exactly as they would have without the crash.

Each run is marked in the transaction that applies it, and only if nobody marked it first: a
daemon and a CLI command replaying at once (or a replay racing the process that recorded the
run) never apply a run twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from opsd.alerting.notify import Destination, Send, destinations
from opsd.alerting.observer import deliver, transition
from opsd.errors import ConfigError
from opsd.exception_text import describe_exception
from opsd.logs import event
from opsd.store import Store, StoreError, runs
from opsd.store.runs import RecordedRun

if TYPE_CHECKING:
    from opsd.app import App
    from opsd.checks.base import CheckSpec
    from opsd.config import Settings
    from opsd.playbooks import Playbook
    from opsd.store import StoreAccess

log = logging.getLogger(__name__)


def replay_unalerted(
    settings: Settings,
    store: StoreAccess,
    playbooks: Callable[[], Iterable[Playbook]],
    *,
    now: float,
    publish: bool,
    send: Send | None = None,
) -> int:
    """Feed every run the alert engine has not seen to it, in id order, then deliver what
    they queued (at `now`); returns how many runs this call applied.

    `playbooks` is called only when there is something to replay (a run of a playbook that no
    longer exists gets no entry settings). Blocks: the daemon calls it in a worker thread.
    """
    pending = store.run(runs.unalerted_runs)
    if not pending:
        return 0
    books = {book.name: book for book in playbooks()}
    # Parsed before any transaction: parsing starts the delivery child.
    targets = destinations(settings) if settings.alerts.urls else []
    replayed = 0
    for run in pending:
        book = books.get(run.playbook)
        specs = {spec.name: spec for spec in book.checks} if book else {}
        interval = (
            book.run_interval(settings.scheduler.timezone, run.finished_at) if book else None
        )
        try:
            applied = store.run(_apply, settings, run, specs, targets, publish, interval)
        except StoreError as exc:  # the database cannot take it now: the next start retries
            event(log, "replaying runs recorded before a crash stopped", level=logging.ERROR,
                  run=run.id, error=str(exc))
            break
        except Exception as exc:  # one run the engine cannot take must not block every start
            log.debug("replaying run %s failed", run.id, exc_info=True)
            event(log, "a run recorded before a crash could not be replayed; skipped",
                  level=logging.ERROR, run=run.id, error=describe_exception(exc))
            store.run(runs.claim_for_alerts, run.id, now)
            continue
        replayed += applied
    if replayed:
        event(log, f"replayed {replayed} runs recorded before a crash", runs=replayed,
              first=pending[0].id, last=pending[-1].id)
        deliver(settings, store, now, send)
    return replayed


def replay_app(app: App) -> int:
    """`replay_unalerted` with the app's settings, store, playbooks and clock: at the daemon's
    start and at the start of each CLI command that records runs (`run-playbook`,
    `check --record`).
    A playbook that does not load (the daemon validated them all before) leaves the runs to
    the daemon or a later command: the command itself may not need that playbook."""
    try:
        return replay_unalerted(
            app.settings, app.store, lambda: app.playbooks, now=app.clock(), publish=app.daemon
        )
    except ConfigError as exc:
        event(log, "runs recorded before a crash not replayed: playbooks do not load",
              level=logging.WARNING, error=str(exc))
        return 0


def _apply(
    store: Store,
    settings: Settings,
    run: RecordedRun,
    specs: Mapping[str, CheckSpec],
    targets: Sequence[Destination],
    publish: bool,
    run_interval: float | None,
) -> int:
    """One run through the engine in one transaction, marked as seen in it; 0 if another
    process marked it first."""
    with store.transaction():
        if not runs.claim_for_alerts(store, run.id, run.finished_at):
            return 0
        transition(store, settings, run.results, run.finished_at, specs, run.playbook, targets,
                   publish, run_interval)
    return 1
