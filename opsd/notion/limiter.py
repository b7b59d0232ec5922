"""opsd's request budget for Notion: a token bucket (pure, GCRA) behind an async limiter
shared by every request of the process; a 429 pauses it for everyone. Also the retry delays.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from opsd.errors import OpsdError

BACKOFF_BASE = 0.5  # seconds before the first retry of a 5xx, 529, network error or timeout
BACKOFF_CAP = 8.0  # the exponential backoff never waits longer than this
RETRY_AFTER_JITTER = 0.05  # up to 5 % on top of Retry-After, so clients do not return in step



class TokenBucket:
    """A token bucket as virtual scheduling (GCRA): `rate` requests/s on average, `burst` at once.

    Pure: every method takes `now`. `reserve` books the next free slot, so concurrent callers
    are spaced without a lock; `pause` (after a 429) moves every slot behind `until`.
    """

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.interval = 1.0 / rate
        self.tolerance = (burst - 1) * self.interval
        self.tat = now  # theoretical arrival time of the next request at the average rate
        self.paused_until = -math.inf

    def reserve(self, now: float, max_wait: float = math.inf) -> float | None:
        """Book a slot: seconds to wait before sending; None (nothing booked) if > max_wait."""
        tat = max(self.tat, now)
        start = max(now, tat - self.tolerance, self.paused_until)
        if start - now > max_wait:
            return None
        self.tat = max(tat, start) + self.interval
        return start - now

    def pause(self, until: float) -> None:
        """After a 429: no request before `until`, then the average rate without a burst,
        except that the refused request spent no budget, so its slot is given back."""
        self.paused_until = max(self.paused_until, until)
        self.tat = max(self.tat, until + self.tolerance)
        self.tat = max(self.tat - self.interval, until)


class NoSlotError(OpsdError):
    """The limiter has no request slot before the deadline."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"next request slot in {wait:.1f}s")
        self.wait = wait


class RateLimiter:
    """Async front of `TokenBucket`, shared by every request of the process."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        self.bucket = TokenBucket(rate, burst, clock())

    async def acquire(self, deadline: float = math.inf) -> float:
        """Wait for a request slot; returns the seconds waited. Raises `NoSlotError`."""
        waited = 0.0
        while True:
            now = self.clock()
            wait = self.bucket.reserve(now, max_wait=deadline - now)
            if wait is None:
                raise NoSlotError(max(self.bucket.paused_until, self.bucket.tat) - now)
            if wait > 0:
                await self.sleep(wait)
                waited += wait
            # A 429 that arrived while we slept moves our slot behind the pause.
            if self.clock() >= self.bucket.paused_until:
                return waited

    def pause(self, seconds: float) -> None:
        """Hold every request for `seconds` (Notion said Retry-After)."""
        self.bucket.pause(self.clock() + seconds)


def backoff_delay(attempt: int, rng: Callable[[], float] = random.random) -> float:
    """Capped exponential backoff with jitter before retry number `attempt` + 1 (pure)."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempt)
    return ceiling * (0.5 + 0.5 * rng())


def retry_after_delay(retry_after: float, rng: Callable[[], float] = random.random) -> float:
    """Retry-After plus up to RETRY_AFTER_JITTER of it (pure)."""
    return retry_after * (1 + RETRY_AFTER_JITTER * rng())
