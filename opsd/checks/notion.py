"""Notion checks: token format, auth and database access, and the plumbing the other Notion
modules share (`notion_schema`: schema; `notion_pages`: latency and counts; the
history kinds `rate_limit`, `error_rate` and `availability` are in `notion_history`).

They reach Notion only through `ctx.notion` (the shared, rate-limited `NotionService`). Every
failure is a `NotionError` whose plain-words message becomes the summary and whose runbook
steps go into `details.hint`. opsd only reads the workspace: it reports, it never changes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from opsd.checks.base import CheckSpec, NoParams, check
from opsd.notion.errors import NotionError
from opsd.notion.tokens import near_miss, token_shape
from opsd.redact import redact_secret
from opsd.results import Result, Status, skipped
from opsd.runbooks import TOKEN_SHAPE_HINT

if TYPE_CHECKING:
    from opsd.config import DatabaseConfig
    from opsd.context import Context
    from opsd.notion.service import NotionService, Source

# Failures that say opsd could not judge (its own budget, its own request, a 429 whose
# Retry-After outlasts the check), not that Notion or the integration is broken.
_UNKNOWN_KINDS = {"no_slot", "bad_request", "rate_limited"}
_RATE_LIMITED = {"no_slot", "rate_limited"}  # not sent, or answered 429: not checked


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


def source_error(sources: Sequence[Source]) -> NotionError:
    """Why a database none of whose listed data sources is readable cannot be read (pure)."""
    if not sources:
        return NotionError("no_accessible_source", "Notion lists no data source under the "
                           "database (a linked database, or none shared with the integration)")
    names = ", ".join(repr(s.name) for s in sources)
    return NotionError("no_accessible_source",
                       f"no data source the integration can read ({names} not shared)")


def no_source(db: DatabaseConfig, sources: Sequence[Source] = ()) -> Result:
    """CRITICAL: the database has no data source the integration can read."""
    return failure(source_error(sources), db.name, data_sources=[s.name for s in sources])


def source_target(db: DatabaseConfig, source: Source, sources: Sequence[Source]) -> str:
    """A result's target: the database's name, plus `/source` when it has several (pure)."""
    return db.name if len(sources) == 1 else f"{db.name}/{source.name}"


def not_configured(name: str | None) -> Result:
    """SKIPPED: the entry names a database the configuration does not have (or there is none)."""
    if name is None:
        return skipped("no databases configured (notion.databases)")
    return skipped(f"database {name!r} is not configured in notion.databases")


# --- token format (no request) ------------------------------------------------------------------


@check("notion.token_format", description="A Notion token is configured and has a known shape")
async def token_format(spec: CheckSpec[NoParams], ctx: Context) -> Result:
    """Missing -> CRITICAL; unfamiliar shape -> WARNING (Notion may change formats)."""
    secret = ctx.settings.notion.token
    if secret is None or not secret.get_secret_value():
        return Result(
            Status.CRITICAL, "no Notion token configured",
            details={"hint": NotionError("no_token", "").hint},
        )
    # Loading stripped surrounding whitespace and rejected control characters already.
    token = secret.get_secret_value()
    preview = redact_secret(token)
    details = {"token": preview}
    shape = token_shape(token)
    if shape is None:
        reason = near_miss(token) or "expected ntn_… or legacy secret_…"
        return Result(
            Status.WARNING, f"token {preview} has an unfamiliar shape ({reason})",
            details={**details, "problem": reason, "hint": TOKEN_SHAPE_HINT},
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
                 "workspace_id": (bot.get("bot") or {}).get("workspace_id"),
                 "notion_version": svc.version, "attempts": reply.attempts},
    )


# --- access -------------------------------------------------------------------------------------


@check("notion.access", unit="ratio", crit=0.999, direction="below", targets="notion.databases",
       description="Every configured database is retrievable, with a data source to read")
async def access(spec: CheckSpec[NoParams], ctx: Context) -> Result:
    """Value = the share of the databases checked that the integration can retrieve; one
    opsd could not check (rate limited, not sent) is left out, and alone makes it UNKNOWN."""
    databases = configured_databases(spec, ctx)
    if not databases:
        return not_configured(spec.target)
    svc: NotionService = ctx.notion
    deadline = svc.deadline(spec.timeout)

    async def retrieve(db: DatabaseConfig) -> NotionError | None:
        try:
            sources = await svc.sources(db.id, deadline=deadline)
        except NotionError as exc:
            return exc
        return None if any(s.readable for s in sources) else source_error(sources)

    errors = await asyncio.gather(*(retrieve(db) for db in databases))
    failed = {db.name: err for db, err in zip(databases, errors, strict=True) if err}
    unchecked = [name for name, err in failed.items() if err.kind in _RATE_LIMITED]
    checked = len(databases) - len(unchecked)
    accessible = len(databases) - len(failed)
    summary = access_summary(len(databases), failed, unchecked)
    details: dict[str, Any] = {
        "databases": {db.name: failed[db.name].kind if db.name in failed else "ok"
                      for db in databases},
    }
    if failed:
        first = next(iter(failed.values()))
        unshared = [name for name, err in failed.items() if err.kind == "not_found"]
        share = f"Share {', '.join(unshared)} with the integration. " if unshared else ""
        details["hint"] = share + first.hint
    if unchecked:
        cause = failed[unchecked[0]].details()
        details.update(not_checked=unchecked, **{
            key: cause[key] for key in ("paused_until", "retry_after", "rate_limit_reason")
            if key in cause})
    value = accessible / checked if checked else None
    # Nothing failed for real: what opsd could not check leaves the verdict open.
    status = Status.UNKNOWN if unchecked and accessible == checked else Status.OK
    return Result(status, summary, value=value, details=details)


def access_summary(total: int, failed: Mapping[str, NotionError], unchecked: Sequence[str]) -> str:
    """'3/4 databases accessible; fixes, tests: <cause>' with one cause per kind of failure, so
    per-request details (a Cloudflare Ray ID, a pause's end) do not split a group (pure)."""
    checked = total - len(unchecked)
    if checked:
        summary = f"{total - len(failed)}/{checked} databases accessible"
        summary += f", {len(unchecked)} not checked" if unchecked else ""
    else:
        summary = f"{len(unchecked)} databases not checked"
    groups: dict[tuple[str, int | None], tuple[str, list[str]]] = {}
    for name, err in failed.items():
        key = ("not_checked", None) if err.kind in _RATE_LIMITED else (err.kind, err.status)
        groups.setdefault(key, (str(err), []))[1].append(name)
    return summary + "".join(f"; {', '.join(names)}: {cause}" for cause, names in groups.values())
