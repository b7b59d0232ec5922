"""Ratios of monotonic counters over an interval, with counter resets handled (pure, plus one
thin function that keeps the baseline sample in the store).

A counter only grows until its process restarts. The interval between two samples is the
difference of the counters, unless a counter went down or the counting process changed (its
`instance`, e.g. Redis's run_id): then the process restarted in between, and the current
values are what it counted since — never a negative delta, never a ratio outside 0..1.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opsd.durations import format_duration
from opsd.results import Result, Status
from opsd.store import state

if TYPE_CHECKING:
    from opsd.store import Store


@dataclasses.dataclass(frozen=True)
class Sample:
    """Counter values read at one time (`at`, epoch seconds) from one process (`instance`)."""

    values: dict[str, float]
    at: float
    instance: str | None = None

    def to_state(self) -> dict[str, Any]:
        """The JSON shape kept in the store."""
        return {"values": self.values, "at": self.at, "instance": self.instance}

    @classmethod
    def from_state(cls, state: Any) -> Sample | None:
        """The sample stored by `to_state`, or None if there is none (or it is unreadable)."""
        if not isinstance(state, dict) or not isinstance(state.get("values"), dict):
            return None
        return cls(
            {k: float(v) for k, v in state["values"].items()},
            float(state.get("at", 0.0)),
            state.get("instance"),
        )


@dataclasses.dataclass(frozen=True)
class Interval:
    """What the counters counted between a baseline and now.

    `seconds` is None for a first sample, whose deltas are the lifetime counters.
    """

    deltas: dict[str, float]
    seconds: float | None
    reset: bool = False

    @property
    def first(self) -> bool:
        return self.seconds is None

    def as_details(self) -> dict[str, Any]:
        """The interval's shape for a result's details."""
        return {
            "interval_seconds": self.seconds, "first_sample": self.first,
            "counter_reset": self.reset,
        }

    def describe(self) -> str:
        """`over the last 5m`, `since the counters started`, `... (counters reset)`."""
        if self.seconds is None:
            return "since the counters started"
        text = f"over the last {format_duration(self.seconds)}"
        return f"{text} (counters reset)" if self.reset else text


def interval(previous: Sample | None, current: Sample) -> Interval:
    """The interval from `previous` (None: there is no baseline) to `current`."""
    if previous is None or previous.values.keys() != current.values.keys():
        return Interval(dict(current.values), None)
    restarted = (
        previous.instance is not None
        and current.instance is not None
        and previous.instance != current.instance
    )
    went_down = any(current.values[k] < previous.values[k] for k in current.values)
    if restarted or went_down:
        return Interval(dict(current.values), current.at - previous.at, reset=True)
    deltas = {k: current.values[k] - previous.values[k] for k in current.values}
    return Interval(deltas, current.at - previous.at)


def ratio(part: float, whole: float) -> float | None:
    """`part / whole` kept within 0..1; None when there is nothing to divide."""
    if whole <= 0:
        return None
    return min(1.0, max(0.0, part / whole))


def enough_traffic(count: float, minimum: int) -> bool:
    """Whether `count` events are enough to judge a ratio (never when there are none)."""
    return count > 0 and count >= minimum


def judge_ratio(
    measured: Interval,
    part: float,
    whole: float,
    noun: str,
    minimum: int,
    details: dict[str, Any],
    summary: Callable[[float], str],
) -> Result:
    """OK with `part / whole` as its value and `summary(value)`; with fewer than `minimum`
    `noun` (e.g. lookups) OK without a value, since a ratio of a handful of events would only
    raise false alarms. The thresholds are the runner's to apply."""
    details = {
        **details, **measured.deltas, noun: whole, **measured.as_details(), f"min_{noun}": minimum,
    }
    value = ratio(part, whole)
    if value is None or not enough_traffic(whole, minimum):
        return Result(
            Status.OK,
            f"not enough traffic to judge: {whole:.0f} {noun} {measured.describe()} "
            f"(minimum {minimum})",
            details=details,
        )
    return Result(Status.OK, summary(value), value=value, details=details)


def advance(
    store: Store, namespace: str, key: str, current: Sample, enough: Callable[[Interval], bool],
    *, keep: bool = True,
) -> Interval:
    """The interval since the stored baseline; the baseline moves to `current` only when the
    interval had `enough` traffic, so that quiet periods add up until they can be judged.
    `keep=False` (a read-only plugin run) measures the same interval and never moves it.

    Runs on the store's thread: `await ctx.store.call(advance, ...)`."""
    measured = interval(Sample.from_state(state.get_state(store, namespace, key)), current)
    if keep and enough(measured):
        state.set_state(store, namespace, key, current.to_state(), now=current.at)
    return measured
