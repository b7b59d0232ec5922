"""Notion query checks: latency of a small query and page counts matching a filter.

Shared plumbing (failure results, per-database fan-out) lives in `opsd.checks.notion`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import zoneinfo
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator, model_validator

from opsd.checks.base import CheckSpec, Params, check
from opsd.checks.notion import (
    failure,
    for_each_database,
    no_source,
    not_configured,
    source_target,
)
from opsd.checks.notion_traffic import TrafficSource, recorded_latency
from opsd.config.base import Duration
from opsd.errors import CheckError
from opsd.notion.errors import NotionError
from opsd.notion.filters import Scalar, WhereError, build_filter
from opsd.results import Result, Status
from opsd.runbooks import WHERE_HINT

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
    source: TrafficSource = Field(
        "opsd", description="opsd: time queries now (per database); integration or all: "
        "p95 of the recorded requests (opsd proxy) of the last `window`.")
    window: Duration = Field(3600.0, gt=0, description="With source integration or all: how "
                             "far back to look.")


@check("notion.latency", params=LatencyParams, unit="seconds", warn=0.5, crit=2.0,
       targets="notion.databases", description="p95 latency of a small query per data source")
async def latency(spec: CheckSpec[LatencyParams], ctx: Context) -> list[Result]:
    """Times `samples` one-page queries per data source, one after another; value = p95.

    One result per database, or per data source (`db/source`) when it has several. With
    `source = "integration"` or `"all"`: one result, the recorded requests' p95 instead.
    """
    if spec.params.source != "opsd":
        return [await recorded_latency(ctx, spec.params.source, spec.params.window)]

    async def one(svc: NotionService, db: DatabaseConfig, deadline: float) -> list[Result]:
        try:
            sources = await svc.sources(db.id, deadline=deadline, with_schema=False)
        except NotionError as exc:
            return [failure(exc, db.name)]
        if not any(s.readable for s in sources):
            return [no_source(db, sources)]
        return [await _time_source(svc, s, source_target(db, s, sources), spec.params.samples,
                                   deadline) for s in sources]

    return await for_each_database(spec, ctx, one)


async def _time_source(
    svc: NotionService, source: Source, target: str, samples: int, deadline: float
) -> Result:
    """`samples` one-page queries of one data source; OK with the p95, or the failure."""
    timings = []
    try:
        for _ in range(samples):
            reply = await svc.query(source.query_path, {"page_size": 1}, deadline=deadline)
            timings.append(reply.latency)
    except NotionError as exc:
        return failure(exc, target, data_source=source.name)
    p95 = percentile(timings, 0.95)
    return Result(
        Status.OK,
        f"p95 {p95 * 1000:.0f} ms over {len(timings)} queries "
        f"(median {percentile(timings, 0.5) * 1000:.0f} ms)",
        value=p95, target=target,
        details={"samples_seconds": [round(t, 4) for t in timings], "data_source": source.name},
    )


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
    where: dict[str, Scalar] | None = Field(
        None, description="Property = value, e.g. {Severity = \"Critical\", Status = "
        "\"!Complete\"}: the filter is built from each property's real type (see "
        "opsd.notion.filters); instead of filter.",
    )
    max_pages: int = Field(50, ge=1, description="At most this many result pages of 100.")

    @model_validator(mode="after")
    def _one_filter(self) -> CountParams:
        if self.filter is not None and self.where is not None:
            raise ValueError("give filter or where, not both")
        if self.where is not None and not self.where:
            raise ValueError("where names no property")
        return self

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


@check("notion.count", params=CountParams, unit="count", targets="notion.databases",
       description="Number of pages in a database matching a Notion filter")
async def count(spec: CheckSpec[CountParams], ctx: Context) -> Result:
    """Value = matching pages over all the database's data sources (thresholds in the entry)."""
    params = spec.params
    db = next((d for d in ctx.settings.notion.databases if d.name == params.database), None)
    if db is None:
        return not_configured(params.database)
    zone = zoneinfo.ZoneInfo(ctx.settings.scheduler.timezone)
    today = dt.datetime.fromtimestamp(ctx.now(), zone).date()
    svc: NotionService = ctx.notion
    deadline = svc.deadline(spec.timeout)
    try:
        sources = await svc.sources(db.id, deadline=deadline,
                                    with_schema=params.where is not None)
        unreadable = [s.name for s in sources if not s.readable]
        if len(unreadable) == len(sources):
            return no_source(db, sources)
        sources = [s for s in sources if s.readable]
        if params.data_source is not None:
            sources = [s for s in sources if s.name == params.data_source]
            if not sources:
                raise CheckError(f"{db.name} has no data source {params.data_source!r}")
        try:
            bodies = {s.name: query_body(params, s, today) for s in sources}
        except WhereError as exc:
            label = source_target(db, exc.source, sources) if exc.source else db.name
            return Result(Status.UNKNOWN, f"{label}: {exc}", target=db.name,
                          details={"where": params.where, "hint": where_hint(sources)})
        counts: dict[str, Tally] = {}
        for source in sources:
            try:
                counts[source.name] = await _count_pages(
                    svc, source, bodies[source.name], params.max_pages, deadline)
            except NotionError as exc:
                if exc.kind != "not_found" or len(sources) == 1:
                    raise
                unreadable.append(source.name)  # listed, but not shared with the integration
        if not counts:
            return no_source(db, [dataclasses.replace(s, readable=False) for s in sources])
    except NotionError as exc:
        return failure(exc, db.name)
    total = sum(t.pages for t in counts.values())
    capped = any(t.capped for t in counts.values())
    incomplete = any(t.incomplete for t in counts.values())
    summary = f"{'at least ' if capped or incomplete else ''}{total} matching pages"
    if incomplete:
        summary += " (Notion stopped the query at its result limit: request_status incomplete)"
    if unreadable:
        summary += f"; not counted: {', '.join(unreadable)} (not shared with the integration)"
    filters = [b.get("filter") for b in bodies.values()]
    return Result(
        Status.OK, summary, value=float(total), target=db.name,
        details={"per_source": {name: t.pages for name, t in counts.items()},
                 "capped": capped, "incomplete": incomplete, "not_readable": unreadable,
                 "filter": filters[0] if len(filters) == 1 else filters},
    )


def where_hint(sources: list[Source]) -> str:
    """WHERE_HINT, plus how to count one data source when the database has several (pure)."""
    if len(sources) < 2:
        return WHERE_HINT
    names = " or ".join(repr(s.name) for s in sources)
    return f"{WHERE_HINT} To count one data source only, add data_source = {names} to the entry."


def query_body(params: CountParams, source: Source, today: dt.date) -> dict[str, Any]:
    """The query for one source: `filter` with '{today}' filled, or `where` built by type.

    A `where` that does not fit the source's properties raises WhereError (`.source` set).
    """
    body: dict[str, Any] = {"page_size": 100}
    if params.filter:
        body["filter"] = fill_placeholders(params.filter, today)
    elif params.where:
        try:
            body["filter"] = build_filter(params.where, source.properties, today)
        except WhereError as exc:
            exc.source = source
            raise
    return body


@dataclasses.dataclass(frozen=True)
class Tally:
    """Pages counted in one source, and whether the count is only a lower bound.

    `capped`: max_pages reached; `incomplete`: Notion's per-query result limit reached.
    """

    pages: int
    capped: bool = False
    incomplete: bool = False


async def _count_pages(
    svc: NotionService, source: Source, body: dict[str, Any], max_pages: int, deadline: float
) -> Tally:
    """Pages matching `body` in one source, following cursors unchanged."""
    total = 0
    cursor = None
    incomplete = False
    for _ in range(max_pages):
        request = {**body, "start_cursor": cursor} if cursor else body
        page = (await svc.query(source.query_path, request, deadline=deadline)).body
        total += len(page.get("results") or [])
        incomplete = incomplete or (page.get("request_status") or {}).get("type") == "incomplete"
        cursor = page.get("next_cursor")
        if not page.get("has_more") or not cursor:
            return Tally(total, incomplete=incomplete)
    return Tally(total, capped=True, incomplete=incomplete)
