"""Applications: the share of failed requests over the interval since the previous sample."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opsd.checks.base import CheckSpec, NoParams, check
from opsd.counters import Interval, Sample, advance, enough_traffic, judge_ratio
from opsd.results import Result
from opsd.sources import display_url, each_target, read

if TYPE_CHECKING:
    from opsd.config import AppConfig
    from opsd.context import Context


@check("app.error_rate", unit="ratio", warn=0.01, crit=0.05, direction="above", targets="apps",
       description="Errors / requests since the previous sample (one result per [[apps]] entry)")
async def error_rate(spec: CheckSpec[NoParams], ctx: Context) -> list[Result]:
    async def probe(app: AppConfig) -> Result:
        reading = await read(app, {"errors": app.errors, "requests": app.requests}, ctx.http)
        measured = await ctx.store.call(
            advance, spec.kind, f"{ctx.playbook}/{spec.name}/{app.name}",
            Sample(reading.values, ctx.now(), reading.instance),
            lambda i: enough_traffic(i.deltas["requests"], app.min_requests),
            keep=not ctx.read_only,
        )
        return judge_error_rate(measured, app.min_requests, {"source": display_url(app.source)})

    return await each_target(ctx.settings.apps, spec.target, "apps", probe)


def judge_error_rate(measured: Interval, min_requests: int, details: dict) -> Result:
    """The error-rate result of one interval (pure); too little traffic is OK without a value."""
    errors, requests = measured.deltas["errors"], measured.deltas["requests"]
    return judge_ratio(
        measured, errors, requests, "requests", min_requests, details,
        lambda value: f"{value:.2%} errors {measured.describe()} "
        f"({errors:.0f} of {requests:.0f} requests)",
    )
