"""Run a playbook: its checks concurrently (bounded, each with a timeout), thresholds applied,
one transaction to the store, then the observers (alert engine, metrics)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from opsd.checks import get_kind
from opsd.config import Settings
from opsd.context import Context, Resources
from opsd.errors import CheckError
from opsd.playbooks import CheckSpec, Playbook
from opsd.results import Result, Status, worst
from opsd.store import Store

Observer = Callable[["RunReport", Playbook], Awaitable[None] | None]


@dataclasses.dataclass
class RunReport:
    playbook: str
    trigger: str
    started_at: float
    finished_at: float
    results: list[Result]
    run_id: int | None = None

    @property
    def status(self) -> Status:
        return worst(r.status for r in self.results)

    @property
    def exit_code(self) -> int:
        return self.status.exit_code

    def to_dict(self) -> dict[str, Any]:
        return {
            "playbook": self.playbook,
            "status": self.status.value,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_seconds": round(self.finished_at - self.started_at, 6),
            "trigger": self.trigger,
            "results": [r.to_dict() for r in self.results],
        }


class Runner:
    """Executes playbooks against one settings/store/resources triple."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        resources: Resources | None = None,
        *,
        clock: Callable[[], float] = time.time,
        observers: Sequence[Observer] = (),
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.resources = resources or Resources(settings, store, clock)
        self.observers = list(observers)

    async def run(
        self, playbook: Playbook, *, trigger: str = "manual", only: str | None = None
    ) -> RunReport:
        """Run every entry of `playbook` (or only the one named `only`) and record the run."""
        specs = [s for s in playbook.checks if only is None or s.name == only]
        ctx = Context(self.settings, self.store, self.resources, playbook.name, self.clock)
        started_at = self.clock()
        limit = asyncio.Semaphore(self.settings.scheduler.max_concurrency)

        async def bounded(spec: CheckSpec) -> list[Result]:
            async with limit:
                return await self.run_check(spec, ctx)

        batches = await asyncio.gather(*(bounded(spec) for spec in specs))
        results = [result for batch in batches for result in batch]
        finished_at = self.clock()
        report = RunReport(playbook.name, trigger, started_at, finished_at, results)
        report.run_id = self.store.record_run(
            playbook.name, results, started_at=started_at, finished_at=finished_at,
            trigger=trigger,
        )
        for observer in self.observers:
            outcome = observer(report, playbook)
            if asyncio.iscoroutine(outcome):
                await outcome
        return report

    async def run_check(self, spec: CheckSpec, ctx: Context) -> list[Result]:
        """One entry -> its results. Never raises: failures become UNKNOWN or CRITICAL."""
        kind = get_kind(spec.kind)
        started_at = self.clock()
        started = time.monotonic()
        if kind is None:
            raw: list[Result] = [Result(Status.UNKNOWN, f"unknown check kind {spec.kind!r}")]
        else:
            try:
                outcome = await asyncio.wait_for(kind.func(spec, ctx), timeout=spec.timeout)
                raw = outcome if isinstance(outcome, list) else [outcome]
            except TimeoutError:
                raw = [Result(Status.CRITICAL, f"timed out after {spec.timeout:g}s")]
            except CheckError as exc:
                raw = [Result(Status(exc.status), str(exc), details=exc.details)]
            except Exception as exc:
                raw = [Result(Status.UNKNOWN, f"check failed: {type(exc).__name__}: {exc}")]
            if not raw:
                raw = [Result(Status.SKIPPED, "nothing to check")]
        duration = time.monotonic() - started
        unit = kind.unit if kind else ""
        return [self._finish(r, spec, unit, started_at, duration) for r in raw]

    def _finish(
        self, result: Result, spec: CheckSpec, unit: str, started_at: float, duration: float
    ) -> Result:
        thresholds = spec.thresholds
        status = result.status
        details = dict(result.details)
        summary = result.summary
        if status is not Status.SKIPPED and result.value is not None and thresholds.defined:
            crossed = thresholds.evaluate(result.value)
            if crossed.rank > status.rank:
                status = crossed
                limit = thresholds.describe(crossed, result.unit or unit)
                summary = f"{summary} ({limit})" if summary else limit
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
