"""Interval ratios of counters (pure): first sample, interval, resets, clamping, baselines."""

from __future__ import annotations

import pytest

from opsd.checks.cache import judge_hit_rate, recommend_ttl, review_ttl
from opsd.counters import Interval, Sample, advance, enough_traffic, interval, ratio
from opsd.results import Result, Status
from opsd.store import Store
from opsd.store.state import get_state


def sample(hits: float, misses: float, at: float = 0.0, instance: str | None = "a") -> Sample:
    return Sample({"hits": hits, "misses": misses}, at, instance)


def test_first_sample_uses_lifetime_counters() -> None:
    measured = interval(None, sample(30, 10, at=100))
    assert measured.first and not measured.reset
    assert measured.deltas == {"hits": 30, "misses": 10}
    assert measured.describe() == "since the counters started"


def test_interval_is_the_difference_since_the_baseline() -> None:
    measured = interval(sample(30, 10, at=100), sample(40, 40, at=400))
    assert measured.deltas == {"hits": 10, "misses": 30}
    assert measured.seconds == 300 and not measured.reset
    assert measured.describe() == "over the last 5m"


def test_a_counter_that_went_down_is_a_reset() -> None:
    measured = interval(sample(1000, 100, at=0), sample(5, 20, at=60))
    assert measured.reset
    assert measured.deltas == {"hits": 5, "misses": 20}
    assert measured.describe() == "over the last 1m (counters reset)"


def test_a_new_instance_is_a_reset_even_when_counters_grew_past_the_old_ones() -> None:
    measured = interval(sample(10, 10, instance="a"), sample(50, 50, instance="b"))
    assert measured.reset and measured.deltas == {"hits": 50, "misses": 50}
    unknown = interval(sample(10, 10, instance=None), sample(50, 50, instance="b"))
    assert not unknown.reset and unknown.deltas == {"hits": 40, "misses": 40}


def test_changed_counter_names_start_over() -> None:
    previous = Sample({"errors": 1, "requests": 10}, 0)
    assert interval(previous, sample(5, 5)).first


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [(3, 4, 0.75), (0, 10, 0.0), (5, 0, None), (12, 10, 1.0), (-1, 10, 0.0)],
)
def test_ratio_stays_within_zero_and_one(part: float, whole: float, expected: float | None) -> None:
    assert ratio(part, whole) == expected


def test_enough_traffic_never_with_zero_events() -> None:
    assert not enough_traffic(0, 0)
    assert enough_traffic(1, 0)
    assert not enough_traffic(99, 100)
    assert enough_traffic(100, 100)


def test_state_round_trip_and_unreadable_state() -> None:
    original = sample(3, 4, at=12.5, instance="x")
    assert Sample.from_state(original.to_state()) == original
    assert Sample.from_state(None) is None
    assert Sample.from_state({"values": "nope"}) is None


def test_baseline_moves_only_after_enough_traffic() -> None:
    store = Store.memory()

    def step(hits: float, misses: float, at: float) -> Interval:
        return advance(store, "cache.hit_rate", "k", sample(hits, misses, at),
                       lambda i: enough_traffic(sum(i.deltas.values()), 50))

    assert step(10, 10, at=0).deltas == {"hits": 10, "misses": 10}  # 20 < 50: kept open
    assert get_state(store, "cache.hit_rate", "k") is None
    quiet_then_busy = step(40, 20, at=60)
    assert quiet_then_busy.first and quiet_then_busy.deltas == {"hits": 40, "misses": 20}
    assert get_state(store, "cache.hit_rate", "k")["values"] == {"hits": 40, "misses": 20}
    following = step(100, 40, at=120)
    assert following.deltas == {"hits": 60, "misses": 20} and following.seconds == 60


def test_too_little_traffic_is_ok_without_a_value() -> None:
    result = judge_hit_rate(Interval({"hits": 2, "misses": 1}, 60.0), 100, {})
    assert result.status is Status.OK and result.value is None
    assert result.summary == "not enough traffic to judge: 3 lookups over the last 1m (minimum 100)"


def test_hit_rate_result() -> None:
    result = judge_hit_rate(Interval({"hits": 90, "misses": 10}, 300.0), 10, {"source": "s"})
    assert result.value == pytest.approx(0.9)
    assert result.summary == "90.0% hit rate over the last 5m (90 hits, 10 misses)"
    assert result.details["lookups"] == 100 and result.details["source"] == "s"


@pytest.mark.parametrize(
    ("current", "recommended"), [(300, 600), (1800, 3600), (2400, 3600), (3600, 3600), (7200, 7200)]
)
def test_ttl_rule_is_double_capped_at_an_hour(current: float, recommended: float) -> None:
    assert recommend_ttl(current) == recommended


def test_ttl_review_weighs_samples_by_lookups() -> None:
    samples = [
        Result(Status.OK, value=0.9, details={"hits": 9, "lookups": 10}),
        Result(Status.CRITICAL, value=0.5, details={"hits": 500, "lookups": 1000}),
        Result(Status.OK, value=None, details={"hits": 1, "lookups": 1}),  # not judged
    ]
    review = review_ttl(samples, 300, 0.8, 30 * 86400)
    assert review.value == pytest.approx(509 / 1010)
    assert review.details["recommended_ttl_seconds"] == 600
    assert "raise the TTL from 300s to 600s" in review.summary
    assert review_ttl([], 300, 0.8, 86400).status is Status.SKIPPED
