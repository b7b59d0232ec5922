"""Notion checks about Notion itself rather than our workspace: the API version opsd speaks
(`notion.api_version`, no request) and Notion's public status page (`notion.status_page`).

`notion.status_page` stores each reading in the store; the runner then appends "Notion
reports an incident: <name>" to every failing Notion result while the reading is fresh (see
`opsd.notion.statuspage`), so the on-call person knows whether the trouble is theirs or
Notion's. An unreachable status page is UNKNOWN here and changes nothing elsewhere.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from opsd.checks.base import CheckSpec, NoParams, check
from opsd.notion import statuspage, versions
from opsd.results import Result, Status
from opsd.runbooks import HINTS
from opsd.store import state

if TYPE_CHECKING:
    from opsd.context import Context

_INDICATOR_STATUS = {"none": Status.OK, "minor": Status.WARNING, "major": Status.WARNING,
                     "critical": Status.CRITICAL}
"""Statuspage's overall indicator -> our status (an open incident is at least WARNING)."""


@check("notion.api_version",
       description="The configured Notion-Version is the newest opsd knows; names what changes")
async def api_version(spec: CheckSpec[NoParams], ctx: Context) -> Result:
    """OK on the newest known version; WARNING naming each newer version's changes."""
    configured = ctx.settings.notion.notion_version
    newer = versions.newer_than(configured)
    details = {"configured": configured, "newest": versions.NEWEST, "known": list(versions.KNOWN)}
    if not newer:
        return Result(Status.OK, f"Notion-Version {configured} is the newest opsd knows",
                      details=details)
    notes = versions.upgrade_notes(configured)
    return Result(
        Status.WARNING,
        f"Notion-Version {configured} is older than {versions.NEWEST}; " + "; ".join(notes),
        details={**details, "changes": notes, "hint": HINTS["notion.api_version"]},
    )


@check("notion.status_page", unit="count",
       description="Notion's public status page: open incidents and degraded components")
async def status_page(spec: CheckSpec[NoParams], ctx: Context) -> Result:
    """Value = open incidents; OK when all systems are operational, UNKNOWN if unreadable."""
    url = ctx.settings.notion.status_page_url
    try:
        summary = await statuspage.fetch_summary(ctx.http, url, timeout=spec.timeout * 0.9)
    except statuspage.StatusPageError as exc:
        return Result(Status.UNKNOWN, f"could not read Notion's status page: {exc}",
                      details={"url": url})
    await ctx.store.call(state.set_state, statuspage.STATE_NAMESPACE, statuspage.STATE_KEY,
                         summary.to_state(ctx.now()), now=ctx.now())
    status = _INDICATOR_STATUS.get(summary.indicator, Status.WARNING)
    if summary.incidents or summary.degraded:
        status = max(status, Status.WARNING, key=lambda s: s.rank)
    details = {"url": url, "indicator": summary.indicator, "description": summary.description,
               "incidents": [dataclasses.asdict(i) for i in summary.incidents],
               "degraded_components": summary.degraded}
    if status is Status.OK:
        text = f"Notion reports: {summary.description or 'all systems operational'}"
    else:
        parts = [f"{i.name} ({i.impact}, {i.status})" for i in summary.incidents]
        parts += [f"{name} {state_.replace('_', ' ')}" for name, state_ in summary.degraded.items()]
        text = "Notion reports " + "; ".join(parts or [summary.description])
        details["hint"] = HINTS["notion.status_page"]
    return Result(status, text, value=float(len(summary.incidents)), details=details)
