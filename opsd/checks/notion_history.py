"""Notion checks over opsd's own history: rate limiting and the error rate (from the request
log), availability (from the results of `notion.auth`). They only read the store."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from pydantic import Field

from opsd.checks.base import CheckSpec, Params, check
from opsd.checks.notion_traffic import SOURCE_FIELD_DESCRIPTION, TrafficSource, select
from opsd.config.base import Duration
from opsd.durations import format_duration
from opsd.reports.rollups import merge
from opsd.results import Result, Status, skipped
from opsd.store import requests, rollups

if TYPE_CHECKING:
    from opsd.context import Context


class WindowParams(Params):
    window: Duration = Field(86400.0, gt=0, description="How far back to look.")
    min_samples: int = Field(
        10, ge=1, description="Fewer requests than this in the window: SKIPPED, not judged."
    )
    source: TrafficSource = Field("opsd", description=SOURCE_FIELD_DESCRIPTION)


def too_few(count: int, noun: str, span: str, min_samples: int, **kw: str) -> Result | None:
    """SKIPPED when a window holds fewer than `min_samples` (a ratio of 3 says little)."""
    if count >= min_samples:
        return None
    return skipped(f"only {count} {noun} in the last {span} (min_samples {min_samples})", **kw)


async def requests_in_window(
    spec: CheckSpec[WindowParams], ctx: Context, start: float, checks_only: bool = False
) -> list[dict[str, Any]] | Result:
    """The request-log rows of `source` since `start` (of opsd's, only its checks' with
    `checks_only`), or SKIPPED when there are none or too few."""
    rows = select(await ctx.store.call(requests.request_rows, start), spec.params.source,
                  checks_only=checks_only)
    span = format_duration(spec.params.window)
    if not rows:
        return skipped(f"no Notion requests recorded in the last {span}")
    return too_few(len(rows), "Notion requests", span, spec.params.min_samples) or rows


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
async def rate_limit(spec: CheckSpec[WindowParams], ctx: Context) -> Result:
    """Value = share of the window during which Notion told us to wait (union of Retry-Afters)."""
    end = ctx.now()
    start = end - spec.params.window
    rows = await requests_in_window(spec, ctx, start)
    if isinstance(rows, Result):
        return rows
    span = format_duration(spec.params.window)
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
async def error_rate(spec: CheckSpec[WindowParams], ctx: Context) -> Result:
    """Value = failed / all requests of the checks (token probes of the scanner excluded)."""
    end = ctx.now()
    rows = await requests_in_window(spec, ctx, end - spec.params.window, checks_only=True)
    if isinstance(rows, Result):
        return rows
    span = format_duration(spec.params.window)
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
    min_samples: int = Field(
        10, ge=1, description="Fewer auth probes than this in a window: SKIPPED, not judged."
    )


@check("notion.availability", params=AvailabilityParams, unit="ratio", warn=0.95, crit=0.80,
       direction="below", description="Share of successful notion.auth probes per window")
async def availability(spec: CheckSpec[AvailabilityParams], ctx: Context) -> list[Result]:
    """One result per window (target `1d`, `7d`, `30d`); value = authenticated probes share."""
    now = ctx.now()
    results = []
    for window in spec.params.windows:
        label = format_duration(window)
        total, good = await auth_probes(ctx, now - window, now)
        if not total:
            results.append(skipped(f"no notion.auth probes in the last {label}", target=label))
            continue
        few = too_few(total, "auth probes", label, spec.params.min_samples, target=label)
        if few is not None:
            results.append(few)
            continue
        results.append(Result(
            Status.OK,
            f"{good / total:.2%} of {total} auth probe{'s' if total != 1 else ''} succeeded "
            f"in the last {label}",
            value=good / total, target=label,
            details={"probes": total, "succeeded": good, "window_seconds": window},
        ))
    return results


async def auth_probes(ctx: Context, since: float, until: float) -> tuple[int, int]:
    """(judged, authenticated) `notion.auth` probes in [since, until), from the rollups where
    raw results are gone: an authenticated probe is one with a value (its latency; a failed
    probe has none), so the value count is the authenticated count, whatever status the
    latency thresholds gave it."""
    found = await ctx.store.call(rollups.status_counts, kinds=["notion.auth"], since=since,
                                 until=until)
    counts = merge(found.values())
    return counts.judged, counts.value_count
