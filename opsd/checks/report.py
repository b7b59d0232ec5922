"""`report`: produce the daily, weekly or monthly report and deliver it.

OK names the period and where the report went ("weekly report 2026-W48: sent to 2 URLs,
Notion page updated"); WARNING when a delivery failed (the report itself was produced; the
next run tries again). The report's own results are left out of every report's figures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, StrictBool

from opsd.checks.base import CheckSpec, Params, check
from opsd.results import Result, Status

if TYPE_CHECKING:
    from opsd.context import Context


class ReportParams(Params):
    period: Literal["daily", "weekly", "monthly"] = Field(
        "daily", description="daily, weekly (ISO week) or monthly.")
    previous: StrictBool = Field(
        False, description="Report on the last complete period (a Monday-morning weekly "
        "report: last week) instead of the current one so far.")
    send: StrictBool = Field(True, description="Send it to the alerts.urls tagged `report`.")
    notion: StrictBool | None = Field(
        None, description="Write it to [reports] notion_database (default: when that is set).")


@check("report", params=ReportParams, unit="count",
       description="Produce the daily, weekly or monthly report; send it, write it to Notion")
async def report(spec: CheckSpec[ReportParams], ctx: Context) -> Result:
    from opsd.reports.produce import produce

    params = spec.params
    notion = params.notion if params.notion is not None else bool(
        ctx.settings.reports.notion_database)
    produced = await produce(
        ctx.settings, ctx.store, kind=params.period, now=ctx.now(), previous=params.previous,
        send=params.send, publish=notion, notion=lambda: ctx.notion)
    period = produced.report.period
    summary = f"{period.kind} report {period.key}: {produced.deliveries()}"
    failed = produced.failures
    details = {"key": period.key, "problems": produced.problems,
               "sent": sum(1 for s in produced.sent if s.delivered),
               "notion_page": produced.published.page_id if produced.published else None}
    if failed:
        return Result(Status.WARNING, f"{summary}; {'; '.join(failed)}",
                      value=float(len(failed)), details=details)
    return Result(Status.OK, summary, value=0.0, details=details)
