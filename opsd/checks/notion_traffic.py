"""Whose Notion traffic a history check reads (`source`), and the kinds over the integration's
own traffic as `opsd proxy` records it: `notion.retry_tax` and `notion.request_limits`.

`source` (of `notion.rate_limit`, `notion.error_rate`, `notion.latency`):
- `opsd` (the default, today's behaviour): opsd's own requests;
- `integration`: the requests `opsd proxy` forwarded for the integration;
- `all`: both.

The retry tax is the share of the integration's request time lost to rate limits and retries:

    total  = Σ (queued + latency) over its requests  +  Σ client_wait over its retries
    wasted = Σ (queued + latency) over requests answered 429
           + Σ (client_wait + redo) over its retries

`queued` is the time a request waited for the shared budget in the proxy, `latency` Notion's
answer time; a *retry* is the same request (token, method, path, body) sent again within 120 s
of an attempt answered 429, 5xx or not at all; its `client_wait` is the SDK's sleep before it
(Retry-After or backoff) and its `redo` the time of the failed attempt it repeats (0 when that
was a 429: already counted). Pacing by the proxy is not tax; the 429s and retries it avoids are.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from opsd.checks.base import CheckSpec, Params, check
from opsd.config.base import Duration
from opsd.durations import format_duration
from opsd.reports.rollups import nearest_rank
from opsd.results import Result, Status, skipped
from opsd.store import requests

if TYPE_CHECKING:
    from opsd.context import Context

TrafficSource = Literal["opsd", "integration", "all"]
SOURCE_FIELD_DESCRIPTION = ("Whose requests: opsd's own (opsd), the integration's through "
                            "opsd proxy (integration), or both (all).")


def select(rows: list[dict[str, Any]], source: TrafficSource, *, checks_only: bool = False
           ) -> list[dict[str, Any]]:
    """The rows of `source`; `checks_only`: of opsd's, only its checks' (not token probes)
    (pure)."""
    def mine(row: dict[str, Any]) -> bool:
        return row["source"] == "opsd" and (not checks_only or row["purpose"] == "check")

    def theirs(row: dict[str, Any]) -> bool:
        return row["source"] == "integration"

    wanted = {"opsd": (mine,), "integration": (theirs,), "all": (mine, theirs)}[source]
    return [r for r in rows if any(test(r) for test in wanted)]


def retry_tax_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The retry tax of the integration's rows, and its parts (pure); see the module doc."""
    busy = sum(r["waited"] + r["latency"] for r in rows)
    limited = sum(r["waited"] + r["latency"] for r in rows if r["status"] == 429)
    retries = [r for r in rows if r["attempt"] > 0]
    client_wait = sum(r["client_wait"] for r in retries)
    redo = sum(r["redo"] for r in retries)
    total = busy + client_wait
    wasted = limited + client_wait + redo
    return {
        "requests": len(rows), "retries": len(retries),
        "answered_429": sum(1 for r in rows if r["status"] == 429),
        "seconds_total": round(total, 3), "seconds_wasted": round(wasted, 3),
        "seconds_in_429": round(limited, 3), "seconds_client_wait": round(client_wait, 3),
        "seconds_redone": round(redo, 3),
        "seconds_queued": round(sum(r["waited"] for r in rows), 3),
        "retry_tax": wasted / total if total > 0 else 0.0,
    }


class TaxParams(Params):
    window: Duration = Field(86400.0, gt=0, description="How far back to look.")
    min_samples: int = Field(
        10, ge=1, description="Fewer integration requests than this: SKIPPED, not judged.")


async def integration_rows(ctx: Context, window: float) -> list[dict[str, Any]]:
    """The integration's request-log rows of the last `window` seconds."""
    return await ctx.store.call(requests.request_rows, ctx.now() - window, source="integration")


@check("notion.retry_tax", params=TaxParams, unit="ratio", warn=0.1, crit=0.3,
       description="Share of the integration's Notion time lost to 429s and retries "
                   "(needs opsd proxy)")
async def retry_tax(spec: CheckSpec[TaxParams], ctx: Context) -> Result:
    """Value = wasted / total request time of the integration (module doc)."""
    span = format_duration(spec.params.window)
    rows = await integration_rows(ctx, spec.params.window)
    if len(rows) < spec.params.min_samples:
        return skipped(f"only {len(rows)} integration requests through opsd proxy in the last "
                       f"{span} (min_samples {spec.params.min_samples})")
    stats = retry_tax_summary(rows)
    return Result(
        Status.OK,
        f"retry tax {stats['retry_tax']:.1%} of the integration's Notion time in the last "
        f"{span}: {stats['answered_429']} answers 429, {stats['retries']} retries of "
        f"{stats['requests']} requests",
        value=stats["retry_tax"], details={**stats, "window_seconds": spec.params.window},
    )


class LimitParams(Params):
    window: Duration = Field(3600.0, gt=0, description="How far back to look.")


def limits_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Request-limit counts of the integration's rows (pure)."""
    conflicts = [r for r in rows if r["status"] == 409 and r["error"] == "conflict_error"]
    over = [r for r in rows if r["limits_exceeded"]]
    return {
        "requests": len(rows),
        "limits_exceeded": sum(r["limits_exceeded"] for r in rows),
        "requests_over_limits": len(over),
        "limits_near": sum(r["limits_near"] for r in rows),
        "conflicts": len(conflicts),
        "likely_duplicates": sum(r["likely_duplicate"] for r in rows),
        "endpoints": dict(Counter(r["endpoint"] for r in [*over, *conflicts])),
    }


@check("notion.request_limits", params=LimitParams, unit="count", warn=1, crit=10,
       description="The integration's writes over Notion's request limits, 409 conflicts and "
                   "likely duplicate pages (needs opsd proxy)")
async def request_limits(spec: CheckSpec[LimitParams], ctx: Context) -> Result:
    """Value = values over a limit + conflict_errors + likely duplicate creates in the window;
    values near a limit (90 %) are in the details."""
    span = format_duration(spec.params.window)
    rows = await integration_rows(ctx, spec.params.window)
    if not rows:
        return skipped(f"no integration requests through opsd proxy in the last {span}")
    stats = limits_summary(rows)
    value = stats["limits_exceeded"] + stats["conflicts"] + stats["likely_duplicates"]
    return Result(
        Status.OK,
        f"{stats['limits_exceeded']} values over Notion's request limits "
        f"({stats['limits_near']} near), {stats['conflicts']} conflicts, "
        f"{stats['likely_duplicates']} likely duplicate pages in {stats['requests']} requests "
        f"of the last {span}",
        value=value, details={**stats, "window_seconds": spec.params.window},
    )


async def recorded_latency(ctx: Context, source: TrafficSource, window: float) -> Result:
    """`notion.latency` from the request log: p95 of the answered requests of `source`."""
    span = format_duration(window)
    rows = select(await ctx.store.call(requests.request_rows, ctx.now() - window), source)
    timings = [r["latency"] for r in rows
               if r["status"] is not None and r["purpose"] != "queue_full"]
    if not timings:
        return skipped(f"no answered {source} Notion requests recorded in the last {span}",
                       target=source)
    p95, median = nearest_rank(timings, 0.95) or 0.0, nearest_rank(timings, 0.5) or 0.0
    return Result(
        Status.OK,
        f"p95 {p95 * 1000:.0f} ms over {len(timings)} {source} requests of the last {span} "
        f"(median {median * 1000:.0f} ms)",
        value=p95, target=source,
        details={"requests": len(timings), "median_seconds": round(median, 4),
                 "window_seconds": window},
    )
