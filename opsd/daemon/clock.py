"""Wall-clock steps, detected against the monotonic clock.

Between two ticks the wall clock should advance as much as the monotonic one; when it differs
by more than STEP_THRESHOLD (an NTP step, a VM resumed, an operator's `date -s`), the schedule,
computed in wall time, is stale: a step back 30 minutes would otherwise leave no run for 30
minutes. Pure: both clocks' readings are passed in.
"""

from __future__ import annotations

from opsd.durations import format_duration

STEP_THRESHOLD = 60.0
"""Seconds of disagreement between the clocks that count as a step (slewing never does)."""


class ClockWatch:
    """Compares the progress of the wall and monotonic clocks between observations."""

    def __init__(self, wall: float, monotonic: float, threshold: float = STEP_THRESHOLD) -> None:
        self.threshold = threshold
        self._offset = wall - monotonic

    def observe(self, wall: float, monotonic: float) -> float | None:
        """The step since the last observation (seconds, negative when the clock went back),
        or None when the clocks agree within the threshold. Each observation is the next
        one's baseline, so slewing (a few ms per s) never adds up to a step."""
        offset = wall - monotonic
        step = offset - self._offset
        self._offset = offset
        return step if abs(step) > self.threshold else None


def step_words(step: float) -> str:
    """'clock stepped backwards by 30m' (or forwards)."""
    direction = "backwards" if step < 0 else "forwards"
    return f"clock stepped {direction} by {format_duration(abs(step))}"
