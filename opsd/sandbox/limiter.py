"""Per-token budgets: a token bucket (Notion's "3 requests per second on average, bursts
allowed") or a budget per 60-second window (how Notion counts, answering Retry-After up to 60 s).

Pure logic with an injected clock, so tests drive time instead of sleeping.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """Independent buckets of `burst` tokens refilled at `rate` per second, one per key."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Spend one token of `key`'s bucket: 0.0 if allowed, else seconds until one is free."""
        with self._lock:
            now = self._clock()
            bucket = self._buckets.setdefault(key, _Bucket(float(self.burst), now))
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self.rate


    def describe(self) -> dict[str, float]:
        """The settings, for `stats()["rate"]`."""
        return {"rate": self.rate, "burst": self.burst}


class WindowBudgets:
    """Notion's budget per 60-second window: `limit` requests per `window` seconds, one budget
    per key; a refused request waits for the end of its key's window (up to `window` s).

    A key's window starts with its first request after the previous window ended.
    """

    def __init__(self, limit: int, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window start, requests)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Count one request of `key`: 0.0 if allowed, else seconds until its window ends."""
        with self._lock:
            now = self._clock()
            start, used = self._windows.get(key, (-math.inf, 0))
            if now >= start + self.window:
                start, used = now, 0
            if used >= self.limit:
                return start + self.window - now
            self._windows[key] = (start, used + 1)
            return 0.0

    def describe(self) -> dict[str, float]:
        """The settings, for `stats()["rate"]`."""
        return {"window_limit": self.limit, "window_seconds": self.window}


def retry_after_seconds(wait: float) -> int:
    """Whole seconds for a `Retry-After` header: never 0, so a client that obeys it succeeds."""
    return max(1, math.ceil(wait))
