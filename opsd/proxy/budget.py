"""One request budget per token for everything behind the proxy: opsd's own `RateLimiter`, in
the same shared state (`notion_limiter`) and under the same budget name (`budget_key`: the
upstream URL and the token's fingerprint), so opsd's checks and the integration draw from one
budget and never trip each other.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from opsd.notion.errors import parse_retry_after, rate_limit_reason
from opsd.notion.limiter import OVERLOADED, RateLimiter
from opsd.notion.service import budget_key
from opsd.store import StoreError

if TYPE_CHECKING:
    from opsd.store import StoreAccess

log = logging.getLogger("opsd.proxy")

GRACE = 0.01  # seconds on top of max_queue_wait: a free slot is never refused for jitter


def bearer_token(authorization: str) -> str | None:
    """The token of an `Authorization: Bearer …` header, or None (pure)."""
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class Budgets:
    """A `RateLimiter` per budget (created on first use), all in `store` when there is one."""

    def __init__(
        self, upstream: str, rate: float, burst: int, *, max_retry_after: float,
        store: StoreAccess | None, clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.upstream = upstream
        self.rate, self.burst = rate, burst
        self.max_retry_after = max_retry_after
        self.store = store
        # As in NotionService: UTC epoch seconds that advance with the monotonic clock.
        offset = clock() - monotonic()
        self.clock: Callable[[], float] = lambda: monotonic() + offset
        self._limiters: dict[str, RateLimiter] = {}
        self.problem = ""  # why the shared state is not used ('' while it is)

    def _in_memory(self, failure: StoreError) -> None:
        """The store failed (not merely busy): go on with each budget in memory."""
        self.problem = f"shared budget unavailable: {failure}"
        log.warning("proxy: %s; the budget goes on in memory", self.problem)
        self.store = None
        for limiter in self._limiters.values():
            limiter.store = None

    def name(self, authorization: str) -> str:
        """The budget of a request's Authorization header (a fingerprint, never the token)."""
        return budget_key(self.upstream, bearer_token(authorization))

    def limiter(self, budget: str) -> RateLimiter:
        found = self._limiters.get(budget)
        if found is None:
            found = RateLimiter(self.rate, self.burst, clock=self.clock, store=self.store,
                                budget=budget)
            self._limiters[budget] = found
        return found

    async def admit(self, budget: str, max_wait: float) -> float:
        """Wait for a slot, at most `max_wait` s; the seconds waited. Raises `NoSlotError`."""
        limiter = self.limiter(budget)
        max_wait += GRACE
        try:
            return await limiter.acquire(limiter.clock() + max_wait)
        except StoreError as exc:
            self._in_memory(exc)
            return await limiter.acquire(limiter.clock() + max_wait)

    async def answered(self, budget: str, status: int, retry_after: str | None, body: bytes
                       ) -> float | None:
        """A 429 (or a 529 with Retry-After) pauses the budget for everyone behind the proxy
        (and opsd's checks) for its Retry-After; returns that Retry-After in seconds."""
        if status not in (429, 529):
            return None
        said = parse_retry_after(retry_after, self.clock())
        if status == 529 and said is None:
            return None
        seconds = min(1.0 if said is None else said, self.max_retry_after)
        reason = rate_limit_reason(body.decode("utf-8", "replace")) if status == 429 else OVERLOADED
        limiter = self.limiter(budget)
        try:
            await limiter.pause(seconds, retry_after=said or 0.0, reason=reason,
                                slow_down=status == 429)
        except StoreError as exc:
            self._in_memory(exc)
            await limiter.pause(seconds, retry_after=said or 0.0, reason=reason,
                                slow_down=status == 429)
        return said

    def retry_after_for(self, wait: float) -> int:
        """The Retry-After (whole seconds, at least 1) of the proxy's own 429 (pure)."""
        return max(1, math.ceil(wait))
