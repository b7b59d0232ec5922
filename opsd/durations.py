"""Human durations ("90s", "5m", "4h", "7d", "1h30m") as float seconds (pure; the pydantic field
type `Duration` is in `opsd.config.base`)."""

from __future__ import annotations

import math
import re

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(value: object) -> float:
    """Seconds from a number or a string like `90s`, `5m`, `1h30m`, `7d`; raises ValueError."""
    if isinstance(value, bool):
        raise ValueError("not a duration")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError("must be a finite duration (not inf or nan)")
        if value < 0:
            raise ValueError("must not be negative")
        return float(value)
    if not isinstance(value, str):
        raise ValueError("not a duration")
    text = value.strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    if not text or _PART.sub("", text):
        raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 5m, 4h, 7d)")
    return float(sum(float(n) * _UNITS[u] for n, u in _PART.findall(text)))


def format_duration(seconds: float) -> str:
    """Compact form: 45s, 5m, 4h, 2d3h."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
        if len(parts) == 2:
            break
    return "".join(parts)


def format_duration_exact(seconds: float) -> str:
    """Every part, so that `parse_duration` reads back the same value: `35d`, `5m`, `1h 30m`,
    `1s 500ms`, `0s`. A value with a fraction of a millisecond stays a number of seconds."""
    millis = round(seconds * 1000)
    if seconds < 0 or abs(millis - seconds * 1000) > 1e-6:
        return f"{seconds:.9f}".rstrip("0").rstrip(".")
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000),
                       ("ms", 1)):
        if millis >= size:
            parts.append(f"{millis // size}{unit}")
            millis %= size
    return " ".join(parts) or "0s"
