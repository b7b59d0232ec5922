"""What /metrics says right after a start or a reload: the history's latest figures for what
is configured, and nothing about what is not.

At start every configured check's latest status, value, last run, state start and last
success come from the store, as do the playbooks' last runs, the alert counts, the outbox
depth and the last backup: a restart shows the weekly and monthly checks at once instead of
after their next run. A reload removes the series of the playbooks, checks and targets it
dropped (so an alert rule on `opsd_check_status` of a removed check ends) and publishes the
history of what it added.
"""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from opsd import metrics
from opsd.alerting.observer import publish_metrics
from opsd.check_series import CheckKey, CheckState, key_of
from opsd.config.fingerprint import config_hash
from opsd.logs import event
from opsd.reports import slo_metrics
from opsd.store import StoreError, check_states, runs

if TYPE_CHECKING:
    from opsd.app import App
    from opsd.config import Settings
    from opsd.playbooks import Playbook
    from opsd.store import Store

log = logging.getLogger("opsd.daemon")


@dataclasses.dataclass(frozen=True)
class History:
    """What the store says about the configured playbooks and checks."""

    checks: list[check_states.CheckHistory]
    playbook_runs: dict[str, dict[str, Any]]
    last_backup: float | None


async def publish_at_start(app: App) -> None:
    """Publish the history of everything configured (before READY: the first scrape has it)."""
    playbooks = list(app.playbooks)
    metrics.set_config_hash(config_hash(app.settings, playbooks))
    metrics.add_playbooks(p.name for p in playbooks)
    metrics.CHECKS.limit_to(keeper(playbooks))
    history = await _read(app, playbooks)
    if history is not None:
        _publish(history, {p.name for p in playbooks})
        metrics.set_last_backup(history.last_backup)


async def publish_after_reload(old: App, new: App) -> list[CheckKey]:
    """Drop the series of what the reload removed, publish the history of what it added;
    returns the check series removed."""
    playbooks = list(new.playbooks)
    names = {p.name for p in playbooks}
    old_names = {p.name for p in old.playbooks}
    added = names - old_names
    metrics.set_config_hash(config_hash(new.settings, playbooks))
    metrics.forget_playbooks(old_names - names)
    metrics.add_playbooks(added)
    removed = metrics.CHECKS.limit_to(
        keeper(playbooks, dropped_targets(old.settings, new.settings))
    )
    history = await _read(new, playbooks)
    if history is not None:
        _publish(history, added)
    slo_metrics.keep_only({slo.name for slo in new.settings.slos})  # not the history's
    return removed


def read_history(store: Store, entries: list[tuple[str, str]]) -> History:
    """The latest figures of `entries` (playbook, check name), on the store's thread; the
    alert and outbox gauges on the way."""
    publish_metrics(store)
    return History(
        checks=check_states.latest_checks(store, entries),
        playbook_runs=runs.last_runs(store),
        last_backup=check_states.last_success_of_kind(store, metrics.BACKUP_KIND),
    )


async def _read(app: App, playbooks: list[Playbook]) -> History | None:
    """The history, or None (logged) if the database cannot answer: the series then come
    with the next runs, and the daemon runs on."""
    entries = [(p.name, spec.name) for p in playbooks for spec in p.checks]
    try:
        return await app.store.call(read_history, entries)
    except (StoreError, sqlite3.Error) as exc:
        event(log, "metrics not restored from the history", level=logging.WARNING,
              error=str(exc))
        return None


def keeper(
    playbooks: Iterable[Playbook], dropped: frozenset[str] = frozenset()
) -> Callable[[CheckKey], bool]:
    """Whether a check series belongs to the configuration: its playbook has an entry of
    that name and kind, and its target is not a `[[…]]` entry the configuration dropped."""
    kinds = {(p.name, spec.name): spec.kind for p in playbooks for spec in p.checks}

    def keep(key: CheckKey) -> bool:
        return kinds.get((key.playbook, key.check)) == key.kind and key.target not in dropped

    return keep


def dropped_targets(old: Settings, new: Settings) -> frozenset[str]:
    """Names of databases, caches, apps and endpoints the old settings had and the new lack."""
    return frozenset(_target_names(old) - _target_names(new))


def _target_names(settings: Settings) -> set[str]:
    return {
        *(d.name for d in settings.notion.databases), *(c.name for c in settings.caches),
        *(a.name for a in settings.apps), *(e.name for e in settings.endpoints),
    }


def _publish(history: History, playbooks: set[str]) -> None:
    """The history's check states (those the configuration keeps), and the run gauges of
    `playbooks`."""
    metrics.CHECKS.restore({
        key_of(found.playbook, found.result):
            CheckState.of(found.result, found.since, found.last_success)
        for found in history.checks
    })
    slo_metrics.observe(found.result for found in history.checks)
    for name, run in history.playbook_runs.items():
        if name in playbooks:
            metrics.restore_playbook(
                name, finished_at=run["finished_at"], duration=run.get("duration", 0.0),
                last_success=run.get("last_success"),
            )
