"""opsd's request budget for Notion: a token bucket (pure, GCRA) whose rate adapts (a 429
cuts it to 70 %, then it grows back) and which 429 and 529 answers pause for their full
Retry-After; behind it an async limiter that keeps the bucket in the store, so the daemon and
every CLI command on one database share one budget. Also the retry delays.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import math
import random
import time
import zoneinfo
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from opsd import metrics
from opsd.errors import OpsdError
from opsd.store import limiter as budget_rows
from opsd.store.database import StoreBusyError

if TYPE_CHECKING:
    from opsd.store import StoreAccess

T = TypeVar("T")

BACKOFF_BASE = 0.5  # seconds before the first retry of a 5xx, 529, network error or timeout
BACKOFF_CAP = 8.0  # the exponential backoff never waits longer than this
RETRY_AFTER_JITTER = 0.05  # up to 5 % on top of Retry-After, so clients do not return in step
RATE_DECREASE = 0.7  # a 429 multiplies the rate by this (multiplicative decrease)
RATE_GROWTH = 0.02  # then it grows back by this share of itself per request interval
RATE_FLOOR = 0.1  # requests/s: however many 429s, never slower than this
OVERLOADED = "service_overload"  # the pause reason of a 529 (Notion's code for it)
BOOKING_HORIZON = 1.0  # seconds: a slot further ahead is not booked yet, its caller waits


class TokenBucket:
    """A token bucket as virtual scheduling (GCRA): `rate` requests/s on average, `burst` at once.

    Pure: every method takes `now`. `reserve` books the next free slot, so concurrent callers
    are spaced without a lock; `pause` (after a 429 or 529) starts the queue again at `until`
    (callers that booked before it book again: their slots were spaced for the old rate);
    `slow_down` (after a 429) lowers the rate (multiplicative decrease), which then grows back
    up to `rate` by RATE_GROWTH of itself per request interval (RATE_GROWTH x rate² per s):
    slowly where 429s come from a server that allows less (+0.1 requests/s per 10 s at 0.7),
    quickly where they interrupted a fast run (25 back from 17.5 in under a second).
    Bursts only at the full rate.
    """

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.ceiling = rate
        self.burst = burst
        self.tat = now  # theoretical arrival time of the next request at the average rate
        self.paused_until = -math.inf
        self.retry_after = 0.0  # the Retry-After behind the current pause
        self.reason = ""  # and why Notion sent it (rate_limit_reason, or service_overload)
        self.slowed_rate: float | None = None  # the rate right after the last decrease
        self.recovery_start = -math.inf  # when it began to grow back (the end of its pause)

    def rate(self, now: float) -> float:
        """The adaptive rate at `now`, requests/s."""
        if self.slowed_rate is None:
            return self.ceiling
        # dr/dt = RATE_GROWTH r²  =>  1/r(t) = 1/r0 - RATE_GROWTH t
        inverse = 1.0 / self.slowed_rate - RATE_GROWTH * max(0.0, now - self.recovery_start)
        return self.ceiling if inverse <= 1.0 / self.ceiling else 1.0 / inverse

    def _spacing(self, now: float) -> tuple[float, float]:
        rate = self.rate(now)
        interval = 1.0 / rate
        return interval, (self.burst - 1) * interval if rate >= self.ceiling else 0.0

    def reserve(self, now: float, max_wait: float = math.inf) -> float | None:
        """Book a slot: seconds to wait before sending; None (nothing booked) if > max_wait."""
        interval, tolerance = self._spacing(now)
        tat = max(self.tat, now)
        start = max(now, tat - tolerance, self.paused_until)
        if start - now > max_wait:
            return None
        self.tat = max(tat, start) + interval
        return start - now

    def pause(self, until: float, retry_after: float = 0.0, reason: str = "") -> None:
        """After a 429 or 529: no request before `until`, then the average rate without a
        burst. Slots booked before are void (`RateLimiter.acquire` books them again)."""
        if until < self.paused_until:
            return
        self.retry_after, self.reason = retry_after, reason
        _, tolerance = self._spacing(until)
        self.paused_until = until
        self.tat = until + tolerance

    def slow_down(self, now: float, until: float) -> None:
        """After a 429: lower the rate, to grow back from `until` (once per pause, however many
        requests in flight the same limit refused)."""
        if now < self.paused_until:
            return
        self.slowed_rate = max(RATE_FLOOR, self.rate(now) * RATE_DECREASE)
        self.recovery_start = until

    def to_row(self) -> dict[str, Any]:
        """The state kept in the store (finite numbers only)."""
        return {
            "tat": self.tat, "paused_until": _finite(self.paused_until),
            "retry_after": self.retry_after, "reason": self.reason,
            "slowed_rate": self.slowed_rate, "recovery_start": _finite(self.recovery_start),
        }

    @classmethod
    def from_row(cls, rate: float, burst: int, now: float, row: dict[str, Any] | None
                 ) -> TokenBucket:
        """A bucket for this process's `rate` and `burst` with the stored state (if any)."""
        bucket = cls(rate, burst, now)
        if row:
            bucket.tat, bucket.paused_until = row["tat"], row["paused_until"]
            bucket.retry_after, bucket.reason = row["retry_after"], row["reason"]
            bucket.slowed_rate, bucket.recovery_start = row["slowed_rate"], row["recovery_start"]
        return bucket


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 0.0


@dataclasses.dataclass(frozen=True)
class Pause:
    """Every request held until `until` because Notion said Retry-After `retry_after` s."""

    until: float
    retry_after: float
    reason: str


class NoSlotError(OpsdError):
    """The limiter has no request slot before the deadline (maybe because of a pause)."""

    def __init__(self, wait: float, pause: Pause | None = None) -> None:
        super().__init__(f"next request slot in {wait:.1f}s")
        self.wait = wait
        self.pause = pause


class RateLimiter:
    """Async front of `TokenBucket`: in memory (one process), or in the store under `budget`,
    shared by every opsd process that uses the same database (daemon and CLI commands).

    Times are the injected `clock`'s; with a store it must be the wall clock (UTC epoch), the
    one clock processes share. While another process holds the store's write lock the
    limiter goes on with the budget as it last saw it, in memory (`call_brief`): a held lock
    must not hold a check. Slots are booked at most BOOKING_HORIZON ahead, so a rate that
    grows back (or a 429 that voids booked slots) takes effect for every waiting caller.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        store: StoreAccess | None = None,
        budget: str = "",
    ) -> None:
        self.rate, self.burst = rate, burst
        self.clock = clock
        self.sleep = sleep
        self.store = store
        self.budget = budget
        self.bucket = TokenBucket(rate, burst, clock())  # the budget when there is no store

    async def acquire(self, deadline: float = math.inf) -> float:
        """Wait for a request slot; returns the seconds waited. Raises `NoSlotError`."""
        waited = 0.0
        while True:
            now = self.clock()
            booking = await self._update(self._book, now, min(deadline, now + BOOKING_HORIZON))
            wait, pause, next_slot, rate, behind = booking
            metrics.observe_notion_budget(pause.until if pause else None, rate)
            if wait is None:
                if now + next_slot > deadline:
                    raise NoSlotError(next_slot, pause)
                # Not booked yet: slots further ahead would keep today's rate after it grows.
                nap = pause.until - now if pause else min(next_slot, BOOKING_HORIZON)
                await self.sleep(nap)
                waited += nap
                continue
            if wait <= 0:
                return waited
            await self.sleep(wait)
            waited += wait
            # A 429 that arrived (in any process) while we slept voids our slot: book again.
            if _finite((await self._stored()).paused_until) == behind:
                return waited

    @staticmethod
    def _book(bucket: TokenBucket, now: float, deadline: float
              ) -> tuple[float | None, Pause | None, float, float, float]:
        wait = bucket.reserve(now, max_wait=deadline - now)
        next_slot = max(bucket.paused_until, bucket.tat) - now
        # As stored (finite): a budget never paused is -inf in memory but 0 in its row.
        return (wait, _pause_of(bucket, now), next_slot, bucket.rate(now),
                _finite(bucket.paused_until))

    async def pause(
        self, seconds: float, *, retry_after: float | None = None, reason: str = "",
        slow_down: bool = False,
    ) -> Pause:
        """Hold every request for `seconds` because Notion said `retry_after` (default:
        `seconds`); after a 429 also lower the rate (`slow_down`). Returns the pause in force."""
        now = self.clock()
        said = seconds if retry_after is None else retry_after

        def hold(bucket: TokenBucket) -> Pause:
            if slow_down:
                bucket.slow_down(now, now + seconds)
            bucket.pause(now + seconds, said, reason)
            return _pause_of(bucket, now) or Pause(now, said, reason)

        pause = await self._update(hold)
        metrics.observe_notion_budget(pause.until, await self.current_rate())
        return pause

    async def publish(self) -> None:
        """The budget as stored (a pause in force, the adaptive rate) to the Prometheus gauges,
        without booking a slot: a daemon that starts during a pause shows it at once."""
        now = self.clock()
        bucket = await self._stored()
        pause = _pause_of(bucket, now)
        metrics.observe_notion_budget(pause.until if pause else None, bucket.rate(now))

    async def current_rate(self) -> float:
        """The adaptive rate now, requests/s."""
        return (await self._stored()).rate(self.clock())

    async def _stored(self) -> TokenBucket:
        """The budget as it stands, read without a write (the store's row when shared)."""
        if self.store is None:
            return self.bucket
        try:
            row = await self.store.call_brief(budget_rows.budget_row, self.budget)
        except StoreBusyError:
            return self.bucket
        return TokenBucket.from_row(self.rate, self.burst, self.clock(), row)

    async def _update(self, change: Callable[..., T], *args: Any) -> T:
        """`change(bucket, *args)`, in one store transaction when the budget is shared."""
        if self.store is None:
            return change(self.bucket, *args)
        now = self.clock()

        def apply(row: dict[str, Any] | None) -> tuple[dict[str, Any], T]:
            bucket = TokenBucket.from_row(self.rate, self.burst, now, row)
            result = change(bucket, *args)
            self.bucket = bucket  # what the limiter goes on with if the store gets busy
            return bucket.to_row(), result

        try:
            return await self.store.call_brief(
                budget_rows.update_budget, self.budget, apply, now=now
            )
        except StoreBusyError:  # another process holds the write lock: the budget in memory
            return change(self.bucket, *args)


def _pause_of(bucket: TokenBucket, now: float) -> Pause | None:
    if bucket.paused_until <= now:
        return None
    return Pause(bucket.paused_until, bucket.retry_after, bucket.reason)


def backoff_delay(attempt: int, rng: Callable[[], float] = random.random) -> float:
    """Capped exponential backoff with jitter before retry number `attempt` + 1 (pure)."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempt)
    return ceiling * (0.5 + 0.5 * rng())


def retry_after_delay(retry_after: float, rng: Callable[[], float] = random.random) -> float:
    """Retry-After plus up to RETRY_AFTER_JITTER of it (pure)."""
    return retry_after * (1 + RETRY_AFTER_JITTER * rng())


def pause_words(pause: Pause, zone: str) -> str:
    """'rate limited until 14:03:45 (Retry-After 45 s, reason …)', the time in `zone`."""
    when = dt.datetime.fromtimestamp(pause.until, zoneinfo.ZoneInfo(zone)).strftime("%H:%M:%S")
    overloaded = pause.reason == OVERLOADED
    facts = [f"Retry-After {pause.retry_after:g} s"] if pause.retry_after else []
    if pause.reason and not overloaded:
        facts.append(f"reason {pause.reason}")
    cause = "Notion is overloaded: requests paused" if overloaded else "rate limited"
    return f"{cause} until {when}" + (f" ({', '.join(facts)})" if facts else "")
