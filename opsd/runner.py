"""Run a playbook: its checks concurrently (bounded, each with a timeout), thresholds applied,
one transaction to the store, then the observers (alert engine, metrics)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from opsd.checks import get_kind
from opsd.checks.base import CheckKind, CheckSpec
from opsd.context import Context, Resources
from opsd.errors import CheckError
from opsd.exception_text import describe_exception
from opsd.notion import statuspage
from opsd.results import Result, RunReport, Status
from opsd.runbooks import threshold_hint
from opsd.store import runs
from opsd.thresholds import Thresholds

if TYPE_CHECKING:
    from opsd.config import Settings
    from opsd.playbooks import Playbook
    from opsd.store import StoreAccess

log = logging.getLogger(__name__)

Observer = Callable[["RunReport", "Playbook"], Awaitable[None] | None]
"""Sees every finished run (the alert engine, metrics); one that raises is logged, not fatal."""

Recorder = Callable[["RunReport", "Playbook", "Sequence[Observer]"], Awaitable[None]]
"""Records a finished run and feeds it to the given alert observers, now or (the daemon, after
a storage fault or behind another process's write lock) later and in order."""


class Runner:
    """Executes playbooks against one settings/store/resources triple."""

    def __init__(
        self,
        settings: Settings,
        store: StoreAccess,
        resources: Resources | None = None,
        *,
        clock: Callable[[], float] = time.time,
        observers: Sequence[Observer] = (),
        recorder: Recorder | None = None,
        read_only: bool = False,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.resources = resources or Resources(settings, store, clock)
        self.observers = list(observers)
        self.recorder = recorder
        # Read-only (the Nagios plugin without --record): the run is neither recorded nor
        # shown to any observer, and its checks keep no baseline (`Context.read_only`).
        self.read_only = read_only

    async def run(
        self, playbook: Playbook, *, trigger: str = "manual", only: str | None = None
    ) -> RunReport:
        """Run every entry of `playbook` (or only the one named `only`) and record the run."""
        specs = [s for s in playbook.checks if only is None or s.name == only]
        ctx = Context(self.settings, self.store, self.resources, playbook.name, self.clock,
                      read_only=self.read_only)
        started_at = self.clock()
        limit = asyncio.Semaphore(self.settings.scheduler.max_concurrency)

        async def bounded(spec: CheckSpec[Any]) -> list[Result]:
            async with limit:
                return await self.run_check(spec, ctx)

        batches = await asyncio.gather(*(bounded(spec) for spec in specs))
        results = [result for batch in batches for result in batch]
        finished_at = self.clock()
        report = RunReport(playbook.name, trigger, started_at, finished_at, results)
        if self.read_only:
            return report
        if self.recorder is not None:
            feeders = [o for o in self.observers if _feeds_alerts(o)]
            await self.recorder(report, playbook, feeders)
            for observer in self.observers:
                if observer not in feeders:
                    await _notify(observer, report, playbook)
            return report
        try:
            report.run_id = await self.store.call(
                runs.record_run, playbook.name, results, started_at=started_at,
                finished_at=finished_at, trigger=trigger, alerted=not self.feeds_alerts,
            )
        except Exception as exc:  # a full disk must not stop metrics and alerts
            log.error("recording the %s run failed: %s", playbook.name, exc)
        for observer in self.observers:
            await _notify(observer, report, playbook)
        return report

    @property
    def feeds_alerts(self) -> bool:
        """Whether an observer feeds the runs to the alert engine (which then marks each run
        as seen, in the transaction of its alert events)."""
        return any(_feeds_alerts(observer) for observer in self.observers)

    async def run_check(self, spec: CheckSpec[Any], ctx: Context) -> list[Result]:
        """One entry -> its results. Never raises: failures become UNKNOWN or CRITICAL."""
        kind = get_kind(spec.kind)
        started_at = self.clock()
        started = time.monotonic()
        raw = await _outcome(kind, spec, ctx)
        duration = time.monotonic() - started
        unit = kind.unit if kind else ""
        base = kind.thresholds if kind else spec.defaults
        finished = []
        for result in raw:
            try:
                finished.append(self._finish(result, spec, unit, base, started_at, duration))
            except Exception as exc:
                log.debug("finishing a %s result failed", spec.name, exc_info=True)
                finished.append(self._finish(
                    Result(Status.UNKNOWN, f"check failed: {type(exc).__name__}: {exc}"),
                    spec, unit, base, started_at, duration,
                ))
        # A failing Notion result names the incident Notion's status page reports, if any.
        return await statuspage.annotate(finished, spec.kind, self.store, self.clock())

    def _finish(
        self, result: Result, spec: CheckSpec[Any], unit: str, base: Thresholds,
        started_at: float, duration: float,
    ) -> Result:
        thresholds = spec.thresholds_over(base)
        status = result.status
        details = dict(result.details)
        summary = result.summary
        if status is not Status.SKIPPED and result.value is not None and thresholds.defined:
            crossed = thresholds.evaluate(result.value)
            if crossed.rank > status.rank:
                status = crossed
                shown_unit = result.unit or unit
                crossing = thresholds.crossing(result.value, crossed, shown_unit)
                if "hint" in details:  # the check named the cause (an unshared database)
                    summary = f"{summary} — {crossing}" if summary else crossing
                else:  # the crossing is the cause: it leads, and picks the runbook
                    summary = f"{crossing} — {summary}" if summary else crossing
                    details["hint"] = threshold_hint(
                        spec.kind, spec.name, thresholds.cause(shown_unit)
                    )
            details.setdefault(
                "thresholds",
                {"warn": thresholds.warn, "crit": thresholds.crit,
                 "direction": thresholds.direction},
            )
        return result.replace(
            status=status,
            summary=self.settings.redact(summary.replace("\n", " ").strip()),
            details=_redact_details(details, self.settings),
            unit=result.unit or unit,
            check=spec.name,
            kind=spec.kind,
            started_at=result.started_at or started_at,
            duration=result.duration or duration,
        )


def _redact_details(details: dict[str, Any], settings: Settings) -> dict[str, Any]:
    if not settings.secret_values():
        return details
    text = json.dumps(details, default=str)
    redacted = settings.redact(text)
    return details if redacted == text else json.loads(redacted)


def _feeds_alerts(observer: Observer) -> bool:
    return bool(getattr(observer, "feeds_alerts", False))


async def _outcome(kind: CheckKind | None, spec: CheckSpec[Any], ctx: Context) -> list[Result]:
    """What the check function returned, or its failure as a result; never raises."""
    if kind is None:
        return [Result(Status.UNKNOWN, f"unknown check kind {spec.kind!r}")]
    try:
        outcome = await asyncio.wait_for(kind.func(spec, ctx), timeout=spec.timeout)
    except TimeoutError:
        return [Result(Status.CRITICAL, f"timed out after {spec.timeout:g}s")]
    except CheckError as exc:
        return [Result(exc.status, str(exc), details=exc.details)]
    except Exception as exc:
        log.debug("check %s raised", spec.name, exc_info=True)
        return [Result(Status.UNKNOWN, f"check failed: {describe_exception(exc)}")]
    raw = outcome if isinstance(outcome, list) else [outcome]
    return raw or [Result(Status.SKIPPED, "nothing to check")]


async def _notify(observer: Observer, report: RunReport, playbook: Playbook) -> None:
    """Hand `report` to one observer; its failure is logged and does not reach the others."""
    try:
        outcome = observer(report, playbook)
        if asyncio.iscoroutine(outcome):
            await outcome
    except Exception:
        name = getattr(observer, "__qualname__", type(observer).__name__)
        log.error("observer %s failed on the %s run", name, report.playbook, exc_info=True)
