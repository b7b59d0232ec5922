"""SLO burn-rate alerts (`opsd.reports.slo`) as a check: one result per `[[slos]]` entry, so the
alert engine gives each SLO its own alert, reminders, silences and acknowledgements."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opsd.checks.base import check
from opsd.reports.slo import SloStatus, alerts_for, evaluate, window_label
from opsd.results import Result, Status, skipped

if TYPE_CHECKING:
    from opsd.checks.base import CheckSpec, NoParams
    from opsd.context import Context

HINT = ("the SLO spends its error budget too fast: see which of its checks fail "
        "(`opsd history`, `opsd slo`) and fix the cause before the budget is gone")


@check("slo.burn_rate", unit="times",  # the budget's sustainable rate: 14.4 is 14.4x
       description="Multi-window burn-rate alerts of each [[slos]] entry (page, ticket)")
async def burn_rate(spec: CheckSpec[NoParams], ctx: Context) -> Result | list[Result]:
    slos = ctx.settings.slos
    if not slos:
        return skipped("no [[slos]] configured")
    statuses = await ctx.store.call(evaluate, slos, ctx.now())
    return [_result(status) for status in statuses]


def _result(slo: SloStatus) -> Result:
    status = {"page": Status.CRITICAL, "ticket": Status.WARNING, None: Status.OK}[slo.severity]
    rates = [r for r in slo.burn_rates.values() if r is not None]
    details: dict[str, Any] = {
        "objective": slo.objective, "window_seconds": slo.window,
        "attainment": slo.attainment, "budget_remaining": slo.budget_remaining,
        "burn_rates": slo.burn_rates, "firing": slo.firing, "good": slo.good,
        "total": slo.total,
    }
    if slo.firing:
        details["hint"] = HINT
    return Result(status, _summary(slo), value=max(rates, default=None), target=slo.name,
                  details=details)


def _summary(slo: SloStatus) -> str:
    budget = ("no results yet" if slo.budget_remaining is None
              else f"{slo.budget_remaining:.1%} of the error budget left")
    if not slo.firing:
        top = max(slo.burn_rates.items(), key=lambda kv: kv[1] or 0.0, default=None)
        burning = f"; burn rate {top[1]:.2f}x over {top[0]}" if top and top[1] else ""
        return f"{slo.name}: {budget}{burning}"
    alert = next(a for a in alerts_for(slo.window) if a.name == slo.firing[0])
    long, short = window_label(alert.long), window_label(alert.short)
    return (f"{slo.name}: {alert.name} burn rate {slo.burn_rates[long]:.1f}x over {long} and "
            f"{slo.burn_rates[short]:.1f}x over {short} (over {alert.factor:g}x); {budget}")
