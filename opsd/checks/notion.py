"""Notion checks: token format, auth, database access, schema, latency and page counts (the
history kinds `rate_limit`, `error_rate` and `availability` are in `notion_history`).

They reach Notion only through `ctx.notion` (the shared, rate-limited `NotionService`). Every
failure is a `NotionError` whose plain-words message becomes the summary and whose runbook
steps go into `details.hint`. opsd only reads the workspace: it reports, it never changes it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import re
import zoneinfo
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from opsd.checks.base import CheckSpec, NoParams, Params, check
from opsd.errors import CheckError
from opsd.notion.errors import NotionError
from opsd.redact import redact_secret
from opsd.results import Result, Status, skipped
from opsd.runbooks import SCHEMA_HINT, TOKEN_SHAPE_HINT, TOKEN_WHITESPACE_HINT

if TYPE_CHECKING:
    from opsd.config import DatabaseConfig
    from opsd.context import Context
    from opsd.notion.service import NotionService, Source

TOKEN_SHAPES = {
    "ntn": re.compile(r"ntn_[A-Za-z0-9]{40,60}"),
    "secret": re.compile(r"secret_[A-Za-z0-9]{43}"),
}
# Failures that say opsd could not judge (its own budget, its own request), not that Notion
# or the integration is broken.
_UNKNOWN_KINDS = {"no_slot", "bad_request"}


def failure(error: NotionError, target: str = "", **details: Any) -> Result:
    """A result for a failed Notion call: plain words, runbook hint in details."""
    status = Status.UNKNOWN if error.kind in _UNKNOWN_KINDS else Status.CRITICAL
    return Result(status, str(error), target=target, details={**error.details(), **details})


def configured_databases(spec: CheckSpec[Any], ctx: Context) -> list[DatabaseConfig]:
    """The databases an entry looks at: all configured, or only `target` (maybe none)."""
    return [db for db in ctx.settings.notion.databases
            if spec.target is None or db.name == spec.target]


PerDatabase = Callable[["NotionService", "DatabaseConfig", float], Awaitable[list[Result]]]


async def for_each_database(spec: CheckSpec[Any], ctx: Context, one: PerDatabase) -> list[Result]:
    """`one(service, database, deadline)` for every database of the entry, concurrently."""
    databases = configured_databases(spec, ctx)
    if not databases:
        return [not_configured(spec.target)]
    svc: NotionService = ctx.notion
    deadline = svc.deadline(spec.timeout)
    batches = await asyncio.gather(*(one(svc, db, deadline) for db in databases))
    return [result for batch in batches for result in batch]


def no_source(db: DatabaseConfig) -> Result:
    """CRITICAL: Notion lists no data source under the database."""
    return Result(Status.CRITICAL, "the database has no data source", target=db.name)


def not_configured(name: str | None) -> Result:
    """SKIPPED: the entry names a database the configuration does not have (or there is none)."""
    if name is None:
        return skipped("no databases configured (notion.databases)")
    return skipped(f"database {name!r} is not configured in notion.databases")


# --- token format (no request) ------------------------------------------------------------------


def token_shape(token: str) -> str | None:
    """`ntn` or `secret` (legacy) if `token` has a known shape, else None (pure)."""
    for name, pattern in TOKEN_SHAPES.items():
        if pattern.fullmatch(token):
            return name
    return None


@check("notion.token_format", description="A Notion token is configured and has a known shape")
async def token_format(spec: CheckSpec[NoParams], ctx: Context) -> Result:
    """Missing -> CRITICAL; unfamiliar shape -> WARNING (Notion may change formats)."""
    secret = ctx.settings.notion.token
    if secret is None or not secret.get_secret_value():
        return Result(
            Status.CRITICAL, "no Notion token configured",
            details={"hint": NotionError("no_token", "").hint},
        )
    token = secret.get_secret_value()
    preview = redact_secret(token.strip())
    details = {"token": preview}
    if token != token.strip():
        return Result(Status.WARNING, f"token {preview} has surrounding whitespace or a newline",
                      details={**details, "hint": TOKEN_WHITESPACE_HINT})
    shape = token_shape(token)
    if shape is None:
        return Result(
            Status.WARNING,
            f"token {preview} has an unfamiliar shape (expected ntn_… or legacy secret_…)",
            details={**details, "hint": TOKEN_SHAPE_HINT},
        )
    label = "ntn_ format" if shape == "ntn" else "legacy secret_ format"
    return Result(Status.OK, f"token {preview} has the {label}",
                  details={**details, "shape": shape})


# --- auth -------------------------------------------------------------------------------------


@check("notion.auth", unit="seconds", crit=2.0,
       description="GET /v1/users/me: the token works; names the bot and workspace")
async def auth(spec: CheckSpec[NoParams], ctx: Context) -> Result:
    """OK names the bot and its workspace; value = the request's latency."""
    svc: NotionService = ctx.notion
    try:
        reply = await svc.me(deadline=svc.deadline(spec.timeout))
    except NotionError as exc:
        return failure(exc, authenticated=False)
    bot = reply.body
    name = bot.get("name") or "unnamed bot"
    workspace = (bot.get("bot") or {}).get("workspace_name") or "unknown workspace"
    return Result(
        Status.OK,
        f"authenticated as {name!r} in workspace {workspace!r}",
        value=reply.latency,
        details={"authenticated": True, "bot": name, "workspace": workspace,
                 "notion_version": svc.version, "attempts": reply.attempts},
    )


# --- access -------------------------------------------------------------------------------------


@check("notion.access", unit="ratio", crit=0.999, direction="below",
       description="Every configured database is retrievable by the integration")
async def access(spec: CheckSpec[NoParams], ctx: Context) -> Result:
    """Value = the share of configured databases the integration can retrieve."""
    databases = configured_databases(spec, ctx)
    if not databases:
        return not_configured(spec.target)
    svc: NotionService = ctx.notion
    deadline = svc.deadline(spec.timeout)

    async def retrieve(db: DatabaseConfig) -> NotionError | None:
        try:
            await svc.retrieve_database(db.id, deadline=deadline)
        except NotionError as exc:
            return exc
        return None

    errors = await asyncio.gather(*(retrieve(db) for db in databases))
    failed = {db.name: err for db, err in zip(databases, errors, strict=True) if err}
    accessible = len(databases) - len(failed)
    summary = f"{accessible}/{len(databases)} databases accessible"
    by_cause: dict[str, list[str]] = {}
    for name, err in failed.items():
        by_cause.setdefault(str(err), []).append(name)
    summary += "".join(f"; {', '.join(names)}: {cause}" for cause, names in by_cause.items())
    details: dict[str, Any] = {
        "databases": {db.name: failed[db.name].kind if db.name in failed else "ok"
                      for db in databases},
    }
    if failed:
        first = next(iter(failed.values()))
        unshared = [name for name, err in failed.items() if err.kind == "not_found"]
        share = f"Share {', '.join(unshared)} with the integration. " if unshared else ""
        details["hint"] = share + first.hint
    return Result(Status.OK, summary, value=accessible / len(databases), details=details)


# --- schema -------------------------------------------------------------------------------------


def compare_schema(
    actual: Mapping[str, str], required: Mapping[str, str]
) -> tuple[list[str], list[dict[str, str]]]:
    """Missing property names and mistyped ones (`property`, `expected`, `actual`) (pure)."""
    missing = [name for name in required if name not in actual]
    mistyped = [
        {"property": name, "expected": kind, "actual": actual[name]}
        for name, kind in required.items()
        if name in actual and actual[name] != kind
    ]
    return missing, mistyped


def schema_result(db: DatabaseConfig, source: Source, target: str) -> Result:
    """One database (or data source) against its `required_properties` (pure)."""
    required = dict(db.required_properties)
    missing, mistyped = compare_schema(source.properties, required)
    problems = len(missing) + len(mistyped)
    details: dict[str, Any] = {
        "data_source": source.name, "required": required, "missing": missing,
        "mistyped": mistyped,
    }
    if not required:
        summary = "retrievable; no required_properties configured"
    elif not problems:
        summary = ("the required property is present with the expected type"
                   if len(required) == 1 else
                   f"all {len(required)} required properties present with the expected types")
    else:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(missing))
        if mistyped:
            parts.append("mistyped " + ", ".join(
                f"{m['property']} ({m['actual']}, expected {m['expected']})" for m in mistyped))
        summary = "; ".join(parts)
        details["hint"] = SCHEMA_HINT
    return Result(Status.OK, summary, value=float(problems), target=target, details=details)


@check("notion.schema", unit="count", crit=1,
       description="Each database has its required properties with the expected types")
async def schema(spec: CheckSpec[NoParams], ctx: Context) -> list[Result]:
    """One result per database (per data source under 2025-09-03); value = problems found."""

    async def one(svc: NotionService, db: DatabaseConfig, deadline: float) -> list[Result]:
        try:
            sources = await svc.sources(db.id, deadline=deadline)
        except NotionError as exc:
            return [failure(exc, db.name)]
        if not sources:
            return [no_source(db)]
        return [
            schema_result(db, s, db.name if len(sources) == 1 else f"{db.name}/{s.name}")
            for s in sources
        ]

    return await for_each_database(spec, ctx, one)


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
