"""The Notion client: notion-client's AsyncClient over one rate-limited, instrumented httpx client.

One `NotionService` lives as long as its owner (a CLI command or the daemon) and is shared by
every check, so its limiter is global to the process:

- `limiter.RateLimiter` (a token bucket, pure `TokenBucket` inside) keeps opsd under its request
  budget (`notion.rate_limit`, `notion.burst`) and pauses everyone after a 429.
- `RecordingTransport` sees every HTTP request, including those that end in a timeout or a
  network error (httpx event hooks never see those), and reports its endpoint template,
  status, Notion error code, latency, attempt and wait to Prometheus and the `notion_requests`
  table.
- The retry policy is ONE place, `NotionService._call`. notion-client's own retries are
  turned off (`retry=False`): they sleep outside our limiter and outside the check's
  deadline, retry 500/503 only for GET (our read-only queries are POSTs) and never retry 529,
  502, 504 or timeouts. Our loop retries all of those, honours Retry-After (seconds or HTTP
  date) plus jitter, backs off exponentially with a cap, and never waits past the deadline.
- `classify_response` / `classify_exception` turn any failure into a `NotionError` in plain
  words with the runbook's resolution steps as its `hint`.

The token only ever travels in the Authorization header: it is never logged, stored, or put
into an exception message.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

import httpx
from notion_client import AsyncClient
from notion_client.errors import HTTPResponseError, RequestTimeoutError

from opsd.notion.errors import NotionError, classify_exception, classify_response
from opsd.notion.limiter import NoSlotError, RateLimiter, backoff_delay, retry_after_delay
from opsd.notion.requestlog import CURRENT_ATTEMPT, Attempt, RecordingTransport, RequestLog

if TYPE_CHECKING:
    from opsd.config import NotionConfig
    from opsd.store import StoreAccess

log = logging.getLogger("opsd.notion")  # the name operators filter on (unchanged)

DEADLINE_MARGIN = 0.1  # share of a check's timeout kept free so our own timeout fires first
PRUNE_EVERY = 3600.0  # seconds between deletions of old request-log rows
SOURCES_TTL = 600.0  # how long a database's list of data sources is reused for queries

TokenVerdict = Literal["live", "revoked", "unknown"]
_PROBE_VERDICTS: dict[str, TokenVerdict] = {"revoked": "revoked", "forbidden": "live"}
"""A failed token probe's `NotionError.kind` -> the verdict (any other kind: unknown)."""


@dataclasses.dataclass(frozen=True)
class Reply:
    """A successful call: Notion's JSON, the last attempt's latency, attempts and seconds waited."""

    body: dict[str, Any]
    latency: float
    attempts: int
    waited: float


@dataclasses.dataclass(frozen=True)
class Source:
    """Something with a schema that can be queried: a data source (2025-09-03) or a database."""

    name: str
    query_path: str
    properties: dict[str, str] = dataclasses.field(default_factory=dict)


class NotionService:
    """The process-wide Notion client: limiter, retries, instrumentation, both API versions."""

    def __init__(
        self,
        config: NotionConfig,
        *,
        store: StoreAccess | None = None,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self.clock = clock
        self.monotonic = monotonic
        self.sleep = sleep
        self.rng = rng
        self.log = RequestLog(store)
        self.limiter = RateLimiter(config.rate_limit, config.burst, clock=monotonic, sleep=sleep)
        self._pruned_at = -math.inf
        recording = RecordingTransport(transport or httpx.AsyncHTTPTransport(), self.log, clock)
        token = config.token.get_secret_value() if config.token else None
        self._client = AsyncClient(
            client=httpx.AsyncClient(transport=recording),
            auth=token,
            base_url=config.base_url,
            notion_version=config.notion_version,
            timeout_ms=int(config.timeout * 1000),
            retry=False,  # the retry policy is ours alone: see the module docstring
            logger=logging.getLogger("opsd.notion.sdk"),
            log_level=logging.ERROR,  # its warnings would repeat what we record and log
        )
        self._has_token = token is not None
        self._sources: dict[str, tuple[float, list[Source]]] = {}
        self.prune()

    @property
    def version(self) -> str:
        """The Notion-Version sent with every request."""
        return self.config.notion_version

    def deadline(self, timeout: float) -> float:
        """A monotonic deadline a little inside a check's `timeout`, so ours fires first."""
        return self.monotonic() + timeout * (1 - DEADLINE_MARGIN)

    def prune(self) -> None:
        """Drop request-log rows older than notion.request_log_retention (at most hourly)."""
        now = self.clock()
        if now - self._pruned_at >= PRUNE_EVERY:
            self._pruned_at = now
            self.log.prune(now - self.config.request_log_retention)

    async def aclose(self) -> None:
        """Close the HTTP connections (the owner calls this once, at its end)."""
        await self._client.aclose()

    # --- endpoints ------------------------------------------------------------------------

    async def me(self, *, deadline: float) -> Reply:
        """GET /v1/users/me with the configured token."""
        return await self._call(lambda: self._client.users.me(), deadline)

    async def probe_token(self, token: str) -> TokenVerdict:
        """Is `token` a working Notion token? GET /v1/users/me with it, through our limiter."""
        if not token.strip():
            return "unknown"  # notion-client would fall back to the configured token
        try:
            await self._call(
                lambda: self._client.users.me(auth=token),
                self.deadline(self.config.timeout), purpose="token_probe", needs_token=False,
            )
        except NotionError as exc:
            # 403 means Notion knew the token but it lacks a capability: it is live.
            return _PROBE_VERDICTS.get(exc.kind, "unknown")
        return "live"

    async def retrieve_database(self, database_id: str, *, deadline: float) -> Reply:
        """GET /v1/databases/{id}."""
        return await self._call(
            lambda: self._client.databases.retrieve(database_id=database_id), deadline
        )

    async def retrieve_data_source(self, data_source_id: str, *, deadline: float) -> Reply:
        """GET /v1/data_sources/{id} (Notion-Version 2025-09-03)."""
        return await self._call(
            lambda: self._client.data_sources.retrieve(data_source_id=data_source_id), deadline
        )

    async def query(self, path: str, body: dict[str, Any], *, deadline: float) -> Reply:
        """POST a query to a `Source.query_path` (read-only, so safe to retry)."""
        return await self._call(
            lambda: self._client.request(path=path, method="POST", body=body), deadline
        )

    async def sources(
        self, database_id: str, *, deadline: float, with_schema: bool = True
    ) -> list[Source]:
        """What a database holds, per Notion-Version: itself (2022-06-28) or its data sources.

        Without `with_schema` (to query, not to validate) a list read in the last
        SOURCES_TTL seconds is reused: every-minute latency probes need no retrieval each time.
        """
        cached = self._sources.get(database_id)
        if not with_schema and cached and cached[0] > self.monotonic():
            return cached[1]
        sources = await self._read_sources(database_id, deadline, with_schema)
        self._sources[database_id] = (self.monotonic() + SOURCES_TTL, sources)
        return sources

    async def _read_sources(
        self, database_id: str, deadline: float, with_schema: bool
    ) -> list[Source]:
        database = (await self.retrieve_database(database_id, deadline=deadline)).body
        if self.version == "2022-06-28":
            return [Source(_plain_title(database), f"databases/{database_id}/query",
                           _property_types(database))]
        listed = database.get("data_sources") or []
        if not with_schema:
            return [Source(ds.get("name", ""), f"data_sources/{ds['id']}/query") for ds in listed]
        replies = await asyncio.gather(
            *(self.retrieve_data_source(ds["id"], deadline=deadline) for ds in listed)
        )
        return [
            Source(ds.get("name") or _plain_title(r.body), f"data_sources/{ds['id']}/query",
                   _property_types(r.body))
            for ds, r in zip(listed, replies, strict=True)
        ]

    # --- the retry policy (the only one) --------------------------------------------------

    async def _call(
        self,
        send: Callable[[], Awaitable[Any]],
        deadline: float,
        *,
        purpose: str = "check",
        needs_token: bool = True,
    ) -> Reply:
        """Send through the limiter; retry what is worth retrying while the deadline allows."""
        if needs_token and not self._has_token:
            raise NotionError("no_token", "no Notion token configured")
        self.prune()
        slept = 0.0  # backoff slept since the previous attempt
        total_waited = 0.0
        for number in range(self.config.max_retries + 1):
            try:
                waited = slept + await self.limiter.acquire(deadline)
            except NoSlotError as exc:
                raise _no_slot(exc.wait, number) from None
            total_waited += waited
            attempt = Attempt(purpose=purpose, number=number, waited=waited)
            outcome = await self._attempt(send, attempt, deadline)
            if isinstance(outcome, dict):
                return Reply(outcome, attempt.latency, number + 1, total_waited)
            outcome.attempts = number + 1
            delay = self._retry_delay(outcome, number)
            if delay is None or number == self.config.max_retries:
                raise outcome
            if self.monotonic() + delay > deadline:
                if outcome.kind == "rate_limited":
                    raise outcome.noted("waiting that long would pass the check's deadline")
                raise outcome
            log.info("notion %s, retry %d in %.1fs", outcome.kind, number + 1, delay)
            slept = 0.0
            if outcome.kind == "rate_limited":
                self.limiter.pause(delay)  # everyone waits: the budget is the integration's
            else:
                await self.sleep(delay)
                slept = delay
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _attempt(
        self, send: Callable[[], Awaitable[Any]], attempt: Attempt, deadline: float
    ) -> dict[str, Any] | NotionError:
        """One request: Notion's JSON, or the failure in plain words."""
        timeout = min(self.config.timeout, max(0.0, deadline - self.monotonic()))
        context = CURRENT_ATTEMPT.set(attempt)
        try:
            async with asyncio.timeout(timeout):
                return await send()
        except HTTPResponseError as exc:
            return classify_response(exc.status, exc.body, exc.headers, self.clock())
        except RequestTimeoutError:
            return classify_exception(TimeoutError(), self.config.base_url, timeout)
        except (TimeoutError, httpx.TransportError, ValueError) as exc:
            return classify_exception(exc, self.config.base_url, timeout)
        finally:
            CURRENT_ATTEMPT.reset(context)

    def _retry_delay(self, failure: NotionError, number: int) -> float | None:
        if not failure.retryable:
            return None
        if failure.kind == "rate_limited" and failure.retry_after is not None:
            return retry_after_delay(failure.retry_after, self.rng)
        return backoff_delay(number, self.rng)


def _no_slot(wait: float, number: int) -> NotionError:
    error = NotionError(
        "no_slot", f"no request slot within the check's deadline (next in {wait:.1f}s)"
    )
    error.attempts = number
    return error


def _plain_title(obj: dict[str, Any]) -> str:
    return "".join(part.get("plain_text", "") for part in obj.get("title") or [])


def _property_types(obj: dict[str, Any]) -> dict[str, str]:
    return {name: prop.get("type", "") for name, prop in (obj.get("properties") or {}).items()}
