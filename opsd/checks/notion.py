"""Notion checks: token format, auth, database access, schema, latency, rate limits, error rate,
availability and page counts.

They reach Notion only through `ctx.notion` (the shared, rate-limited `NotionService`); the
history kinds (`rate_limit`, `error_rate`, `availability`) only read the store. Every failure
is a `NotionError` whose plain-words message becomes the summary and whose runbook steps go
into `details.hint`. opsd only reads the workspace: it reports, it never changes it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import re
import zoneinfo
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import Field, field_validator

from opsd.checks import Params, check
from opsd.config import DatabaseConfig
from opsd.context import Context
from opsd.durations import Duration, format_duration
from opsd.errors import CheckError
from opsd.notion import NotionError, NotionService, RequestLog, Source
from opsd.playbooks import CheckSpec
from opsd.redact import redact_secret
from opsd.results import Result, Status, skipped

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


def configured_databases(spec: CheckSpec, ctx: Context) -> list[DatabaseConfig]:
    """The databases an entry looks at: all configured, or only `target` (maybe none)."""
    return [db for db in ctx.settings.notion.databases
            if spec.target is None or db.name == spec.target]


PerDatabase = Callable[[NotionService, DatabaseConfig, float], Awaitable[list[Result]]]


async def for_each_database(spec: CheckSpec, ctx: Context, one: PerDatabase) -> list[Result]:
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
async def token_format(spec: CheckSpec, ctx: Context) -> Result:
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
                      details={**details, "hint": "Remove the whitespace where the token is set."})
    shape = token_shape(token)
    if shape is None:
        return Result(
            Status.WARNING,
            f"token {preview} has an unfamiliar shape (expected ntn_… or legacy secret_…)",
            details={**details, "hint": "Copy the Internal Integration Secret again from "
                     "https://www.notion.so/my-integrations; Notion may also have changed "
                     "its format, in which case notion.auth tells whether it works."},
        )
    label = "ntn_ format" if shape == "ntn" else "legacy secret_ format"
    return Result(Status.OK, f"token {preview} has the {label}",
                  details={**details, "shape": shape})


# --- auth -------------------------------------------------------------------------------------


@check("notion.auth", unit="seconds", crit=2.0,
       description="GET /v1/users/me: the token works; names the bot and workspace")
async def auth(spec: CheckSpec, ctx: Context) -> Result:
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
async def access(spec: CheckSpec, ctx: Context) -> Result:
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
    actual: dict[str, str], required: dict[str, str]
) -> tuple[list[str], list[dict[str, str]]]:
    """Missing property names and mistyped ones (`property`, `expected`, `actual`) (pure)."""
    missing = [name for name in required if name not in actual]
    mistyped = [
        {"property": name, "expected": kind, "actual": actual[name]}
        for name, kind in required.items()
        if name in actual and actual[name] != kind
    ]
    return missing, mistyped


_SCHEMA_HINT = (
    "Add or retype the properties in Notion (opsd only reports; it never changes the "
    "workspace), or correct notion.databases[].required_properties."
)


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
        details["hint"] = _SCHEMA_HINT
    return Result(Status.OK, summary, value=float(problems), target=target, details=details)


@check("notion.schema", unit="count", crit=1,
       description="Each database has its required properties with the expected types")
async def schema(spec: CheckSpec, ctx: Context) -> list[Result]:
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
async def latency(spec: CheckSpec, ctx: Context) -> list[Result]:
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


# --- the request log: rate limiting and error rate ----------------------------------------------


class WindowParams(Params):
    window: Duration = Field(86400.0, gt=0, description="How far back to look.")


def covered_seconds(intervals: list[tuple[float, float]], start: float, end: float) -> float:
    """Length of the union of `intervals`, clipped to [start, end] (pure)."""
    total = 0.0
    reach = start
    for low, high in sorted(intervals):
        low, high = max(low, reach), min(high, end)
        if high > low:
            total += high - low
            reach = high
    return total


def rate_limit_summary(rows: list[dict[str, Any]], start: float, end: float) -> dict[str, Any]:
    """Share of time rate-limited, 429 share, seconds waited and retries in a window (pure).

    A 429 blocks the integration from its time until its Retry-After ran out (1 s if absent).
    """
    limited = [r for r in rows if r["status"] == 429]
    blocked = covered_seconds(
        [(r["time"], r["time"] + (r["retry_after"] or 1.0)) for r in limited], start, end
    )
    return {
        "requests": len(rows),
        "rate_limited": len(limited),
        "rate_limited_share": len(limited) / len(rows) if rows else 0.0,
        "limited_seconds": round(blocked, 3),
        "limited_time_share": blocked / (end - start),
        "retry_after_seconds": round(sum(r["retry_after"] or 0.0 for r in limited), 3),
        # Every wait before sending: opsd's own pacing, Retry-After pauses and backoff.
        "queued_seconds": round(sum(r["waited"] for r in rows), 3),
        "retries": sum(1 for r in rows if r["attempt"] > 0),
    }


@check("notion.rate_limit", params=WindowParams, unit="ratio", warn=0.01, crit=0.05,
       description="Share of time rate-limited (429 + Retry-After), from the request log")
async def rate_limit(spec: CheckSpec, ctx: Context) -> Result:
    """Value = share of the window during which Notion told us to wait (union of Retry-Afters)."""
    end = ctx.now()
    start = end - spec.params.window
    rows = RequestLog(ctx.store).rows(start)
    span = format_duration(spec.params.window)
    if not rows:
        return skipped(f"no Notion requests recorded in the last {span}")
    stats = rate_limit_summary(rows, start, end)
    return Result(
        Status.OK,
        f"rate-limited {stats['limited_time_share']:.2%} of the last {span}: "
        f"{stats['rate_limited']} of {stats['requests']} requests answered 429 "
        f"(Retry-After {stats['retry_after_seconds']:g}s in all), {stats['retries']} retries",
        value=stats["limited_time_share"],
        details={**stats, "window_seconds": spec.params.window},
    )


def request_failed(row: dict[str, Any]) -> bool:
    """No answer, or an error other than 429 (rate limiting has its own check) (pure)."""
    status = row["status"]
    return status is None or (status >= 400 and status != 429)


@check("notion.error_rate", params=WindowParams, unit="ratio", warn=0.01, crit=0.05,
       description="Share of opsd's Notion requests that failed (429 excluded)")
async def error_rate(spec: CheckSpec, ctx: Context) -> Result:
    """Value = failed / all requests of the checks (token probes of the scanner excluded)."""
    end = ctx.now()
    rows = RequestLog(ctx.store).rows(end - spec.params.window, purpose="check")
    span = format_duration(spec.params.window)
    if not rows:
        return skipped(f"no Notion requests recorded in the last {span}")
    failed = [r for r in rows if request_failed(r)]
    causes = Counter(r["error"] or str(r["status"]) for r in failed)
    share = len(failed) / len(rows)
    top = ", ".join(f"{n} {cause}" for cause, n in causes.most_common(3))
    return Result(
        Status.OK,
        f"{share:.2%} of {len(rows)} Notion requests failed in the last {span}"
        + (f" ({top})" if top else ""),
        value=share,
        details={"requests": len(rows), "failed": len(failed), "causes": dict(causes),
                 "endpoints": dict(Counter(r["endpoint"] for r in failed)),
                 "window_seconds": spec.params.window},
    )


# --- availability (from notion.auth results) ----------------------------------------------------


class AvailabilityParams(Params):
    windows: list[Duration] = Field(
        default_factory=lambda: [86400.0, 7 * 86400.0, 30 * 86400.0], min_length=1,
        description="One result per window.",
    )


@check("notion.availability", params=AvailabilityParams, unit="ratio", warn=0.95, crit=0.80,
       direction="below", description="Share of successful notion.auth probes per window")
async def availability(spec: CheckSpec, ctx: Context) -> list[Result]:
    """One result per window (target `1d`, `7d`, `30d`); value = authenticated probes share."""
    now = ctx.now()
    results = []
    for window in spec.params.windows:
        label = format_duration(window)
        total, good = ctx.store.conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(json_extract(details, '$.authenticated') = 1), 0)"
            " FROM results WHERE kind = 'notion.auth' AND status != 'SKIPPED'"
            " AND started_at >= ?",
            (now - window,),
        ).fetchone()
        if not total:
            results.append(skipped(f"no notion.auth probes in the last {label}", target=label))
            continue
        results.append(Result(
            Status.OK,
            f"{good / total:.2%} of {total} auth probe{'s' if total != 1 else ''} succeeded "
            f"in the last {label}",
            value=good / total, target=label,
            details={"probes": total, "succeeded": good, "window_seconds": window},
        ))
    return results


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
async def count(spec: CheckSpec, ctx: Context) -> Result:
    """Value = matching pages over all the database's data sources (thresholds in the entry)."""
    params: CountParams = spec.params  # type: ignore[assignment]
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
