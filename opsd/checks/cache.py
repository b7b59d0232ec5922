"""Caches: hit rate over the interval since the previous sample, and the monthly TTL review."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from opsd.checks.base import CheckSpec, NoParams, Params, check
from opsd.config.base import Duration
from opsd.counters import Interval, Sample, advance, enough_traffic, judge_ratio
from opsd.durations import format_duration
from opsd.errors import CheckError
from opsd.reports.rollups import merge
from opsd.results import Result, Status
from opsd.sources import REDIS_DEFAULTS, display_url, each_target, read
from opsd.store import rollups, runs

if TYPE_CHECKING:
    from opsd.config import CacheConfig
    from opsd.context import Context

# The seeds' TTL rule: double a low-hit-rate cache's TTL, up to one hour.
TTL_FACTOR = 2.0
TTL_CAP_SECONDS = 3600.0


@check("cache.hit_rate", unit="ratio", warn=0.8, crit=0.6, direction="below", targets="caches",
       description="Cache hit ratio since the previous sample (one result per [[caches]] entry)")
async def hit_rate(spec: CheckSpec[NoParams], ctx: Context) -> list[Result]:
    async def probe(cache: CacheConfig) -> Result:
        return await _hit_rate(cache, spec, ctx)

    return await each_target(ctx.settings.caches, spec.target, "caches", probe)


async def _hit_rate(cache: CacheConfig, spec: CheckSpec[NoParams], ctx: Context) -> Result:
    where = {"source": display_url(cache.source)}
    if cache.ratio is not None:
        value = (await read(cache, {"ratio": cache.ratio}, ctx.http)).values["ratio"]
        if not 0.0 <= value <= 1.0:
            raise CheckError(f"{cache.ratio} is {value:g}, not a ratio 0..1 (a percentage?)")
        return Result(Status.OK, f"{value:.1%} hit rate as reported by the source",
                      value=value, details=where)
    selectors = {
        "hits": cache.hits or REDIS_DEFAULTS["hits"],
        "misses": cache.misses or REDIS_DEFAULTS["misses"],
    }
    reading = await read(cache, selectors, ctx.http)
    measured = await ctx.store.call(
        advance, spec.kind, f"{ctx.playbook}/{spec.name}/{cache.name}",
        Sample(reading.values, ctx.now(), reading.instance),
        lambda i: enough_traffic(_lookups(i), cache.min_lookups), keep=not ctx.read_only,
    )
    return judge_hit_rate(measured, cache.min_lookups, where)


def _lookups(measured: Interval) -> float:
    return measured.deltas["hits"] + measured.deltas["misses"]


def judge_hit_rate(measured: Interval, min_lookups: int, details: dict) -> Result:
    """The hit-rate result of one interval (pure); too little traffic is OK without a value."""
    hits, misses = measured.deltas["hits"], measured.deltas["misses"]
    return judge_ratio(
        measured, hits, hits + misses, "lookups", min_lookups, details,
        lambda value: f"{value:.1%} hit rate {measured.describe()} "
        f"({hits:.0f} hits, {misses:.0f} misses)",
    )


class TtlReviewParams(Params):
    window: Duration = Field(30 * 86400.0, gt=0, description="Period of hit-rate results reviewed.")


@check("cache.ttl_review", params=TtlReviewParams, unit="ratio", warn=0.8, crit=0.6,
       direction="below", targets="caches",
       description="Monthly: recommend a longer TTL for caches whose hit rate stayed low")
async def ttl_review(spec: CheckSpec[TtlReviewParams], ctx: Context) -> list[Result]:
    """Per cache: the window's hit rate from stored `cache.hit_rate` results; below `warn`,
    recommend TTL = min(current x 2, 3600 s). Over a window the raw results cover
    (`storage.retention`), hits over lookups; over a longer one, from the rollups, the mean
    of the sampled ratios (rollups keep no lookup counts)."""
    window = spec.params.window
    now = ctx.now()
    since = now - window

    async def probe(cache: CacheConfig) -> Result:
        if window > ctx.settings.storage.retention:
            found = await ctx.store.call(rollups.status_counts, kinds=["cache.hit_rate"],
                                         target=cache.name, since=since, until=now)
            counts = merge(found.values())
            return advise_ttl(counts.value_avg, counts.value_count, cache.ttl_seconds,
                              spec.thresholds.warn, window)
        samples = await ctx.store.call(
            runs.history, kind="cache.hit_rate", target=cache.name, since=since
        )
        return review_ttl(samples, cache.ttl_seconds, spec.thresholds.warn, window)

    return await each_target(ctx.settings.caches, spec.target, "caches", probe)


def review_ttl(
    samples: list[Result], ttl_seconds: float | None, warn: float | None, window: float
) -> Result:
    """The TTL review of one cache from its hit-rate results over `window` (pure)."""
    judged = [r for r in samples if r.value is not None and r.status is not Status.UNKNOWN]
    rate = _window_rate(judged) if judged else None
    return advise_ttl(rate, len(judged), ttl_seconds, warn, window)


def advise_ttl(
    window_rate: float | None, samples: int, ttl_seconds: float | None, warn: float | None,
    window: float,
) -> Result:
    """The TTL review of one cache from its hit rate over `window` and the samples it came
    from (pure)."""
    span = format_duration(window)
    if window_rate is None or not samples:
        return Result(Status.SKIPPED, f"no judged hit-rate samples in the last {span}")
    details = {
        "window_seconds": window, "samples": samples, "window_hit_rate": window_rate,
        "current_ttl_seconds": ttl_seconds, "recommended_ttl_seconds": None,
    }
    summary = f"{window_rate:.1%} hit rate over {span} ({samples} samples)"
    if warn is None or window_rate > warn:
        return Result(Status.OK, f"{summary}: TTL fine", value=window_rate, details=details)
    if ttl_seconds is None:
        advice = "raise the TTL (set ttl_seconds in [[caches]] for a figure)"
    else:
        recommended = recommend_ttl(ttl_seconds)
        details["recommended_ttl_seconds"] = recommended
        advice = (
            f"raise the TTL from {ttl_seconds:g}s to {recommended:g}s"
            if recommended > ttl_seconds
            else f"TTL already at the {TTL_CAP_SECONDS:g}s cap: review invalidation and keys"
        )
    return Result(Status.OK, f"{summary}: {advice}", value=window_rate, details=details)


def recommend_ttl(current_seconds: float) -> float:
    """The seeds' rule: min(current x 2, 3600 s), never below the current TTL."""
    return max(current_seconds, min(current_seconds * TTL_FACTOR, TTL_CAP_SECONDS))


def _window_rate(judged: list[Result]) -> float:
    """Hits over lookups across the window when the samples carry counts (so a busy hour weighs
    more than a quiet one); otherwise the mean of the sampled ratios."""
    counted = [r for r in judged if r.details.get("lookups")]
    if counted:
        hits = sum(float(r.details["hits"]) for r in counted)
        lookups = sum(float(r.details["lookups"]) for r in counted)
        return hits / lookups
    return sum(float(r.value or 0.0) for r in judged) / len(judged)
