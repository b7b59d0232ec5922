"""`[storage]` retention per tier: raw results (`retention`), then hourly and daily rollups,
each kept at least as long as the finer tier it is rolled up from."""

from __future__ import annotations

from pydantic import ValidationInfo

from opsd.durations import format_duration

FINER_TIER = {"retention_hourly": "retention", "retention_daily": "retention_hourly"}


def longer_than_finer_tier(value: float, info: ValidationInfo) -> float:
    """A field validator: the tier is kept at least as long as the one it rolls up (reads
    turn to the coarser tier where a finer one is gone; a shorter one would leave a hole)."""
    finer = FINER_TIER[str(info.field_name)]
    kept = info.data.get(finer)
    if kept is not None and value < kept:
        raise ValueError(f"must be at least storage.{finer} ({format_duration(kept)}), "
                         f"not {format_duration(value)}")
    return value
