"""Notion query checks: latency of a small query and page counts matching a filter.

Shared plumbing (failure results, per-database fan-out) lives in `opsd.checks.notion`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import zoneinfo
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from opsd.checks.base import CheckSpec, Params, check
from opsd.checks.notion import failure, for_each_database, no_source, not_configured
from opsd.errors import CheckError
from opsd.notion.errors import NotionError
from opsd.results import Result, Status

if TYPE_CHECKING:
    from opsd.config import DatabaseConfig
    from opsd.context import Context
    from opsd.notion.service import NotionService, Source


# --- latency ------------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (`share` in 0..1) of a non-empty list (pure)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


class LatencyParams(Params):
    samples: int = Field(5, ge=1, le=50, description="Timed queries per database.")


@check("notion.latency", params=LatencyParams, unit="seconds", warn=0.5, crit=2.0,
       description="p95 latency of a small query per database")
async def latency(spec: CheckSpec[LatencyParams], ctx: Context) -> list[Result]:
    """Times `samples` one-page queries per database, one after another; value = p95."""

    async def one(svc: NotionService, db: DatabaseConfig, deadline: float) -> list[Result]:
        try:
            sources = await svc.sources(db.id, deadline=deadline, with_schema=False)
            if not sources:
                return [no_source(db)]
            timings = []
            for _ in range(spec.params.samples):
                reply = await svc.query(sources[0].query_path, {"page_size": 1},
                                        deadline=deadline)
                timings.append(reply.latency)
        except NotionError as exc:
            return [failure(exc, db.name)]
        p95 = percentile(timings, 0.95)
        return [Result(
            Status.OK,
            f"p95 {p95 * 1000:.0f} ms over {len(timings)} queries "
            f"(median {percentile(timings, 0.5) * 1000:.0f} ms)",
            value=p95, target=db.name,
            details={"samples_seconds": [round(t, 4) for t in timings]},
        )]

    return await for_each_database(spec, ctx, one)


# --- page counts --------------------------------------------------------------------------------


class CountParams(Params):
    database: str = Field(min_length=1, description="A name from notion.databases.")
    filter: dict[str, Any] | None = Field(
        None, description="A Notion filter (JSON text or a TOML table); '{today}' is replaced "
        "by today's date in scheduler.timezone.",
    )
    data_source: str | None = Field(
        None, description="Only this data source of the database (2025-09-03); default: all."
    )
    max_pages: int = Field(50, ge=1, description="At most this many result pages of 100.")

    @field_validator("filter", mode="before")
    @classmethod
    def _parse_json(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise ValueError(f"not valid JSON: {exc}") from None
        return value


def fill_placeholders(value: Any, today: dt.date) -> Any:
    """`value` with every '{today}' in its strings replaced by today's ISO date (pure)."""
    if isinstance(value, str):
        return value.replace("{today}", today.isoformat())
    if isinstance(value, list):
        return [fill_placeholders(v, today) for v in value]
    if isinstance(value, dict):
        return {k: fill_placeholders(v, today) for k, v in value.items()}
    return value


@check("notion.count", params=CountParams, unit="count",
       description="Number of pages in a database matching a Notion filter")
async def count(spec: CheckSpec[CountParams], ctx: Context) -> Result:
    """Value = matching pages over all the database's data sources (thresholds in the entry)."""
    params = spec.params
    db = next((d for d in ctx.settings.notion.databases if d.name == params.database), None)
    if db is None:
        return not_configured(params.database)
    zone = zoneinfo.ZoneInfo(ctx.settings.scheduler.timezone)
    today = dt.datetime.fromtimestamp(ctx.now(), zone).date()
    body: dict[str, Any] = {"page_size": 100}
    if params.filter:
        body["filter"] = fill_placeholders(params.filter, today)
    svc: NotionService = ctx.notion
    deadline = svc.deadline(spec.timeout)
    try:
        sources = await svc.sources(db.id, deadline=deadline, with_schema=False)
        if params.data_source is not None:
            sources = [s for s in sources if s.name == params.data_source]
            if not sources:
                raise CheckError(f"{db.name} has no data source {params.data_source!r}")
        counts = {s.name: await _count_pages(svc, s, body, params.max_pages, deadline)
                  for s in sources}
    except NotionError as exc:
        return failure(exc, db.name)
    total = sum(n for n, _ in counts.values())
    capped = any(more for _, more in counts.values())
    return Result(
        Status.OK,
        f"{'at least ' if capped else ''}{total} matching pages",
        value=float(total), target=db.name,
        details={"per_source": {name: n for name, (n, _) in counts.items()},
                 "capped": capped, "filter": body.get("filter")},
    )


async def _count_pages(
    svc: NotionService, source: Source, body: dict[str, Any], max_pages: int, deadline: float
) -> tuple[int, bool]:
    """Pages matching `body` in one source, following cursors; (count, stopped at the cap)."""
    total = 0
    cursor = None
    for _ in range(max_pages):
        request = {**body, "start_cursor": cursor} if cursor else body
        page = (await svc.query(source.query_path, request, deadline=deadline)).body
        total += len(page.get("results") or [])
        cursor = page.get("next_cursor")
        if not page.get("has_more") or not cursor:
            return total, False
    return total, True
