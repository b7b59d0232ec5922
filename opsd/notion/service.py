"""The Notion client: notion-client's AsyncClient over one rate-limited, instrumented httpx client.

One `NotionService` lives as long as its owner (a CLI command or the daemon) and is shared by
every check, so its limiter is global to the process:

- `limiter.RateLimiter` (a token bucket, pure `TokenBucket` inside) keeps opsd under its request
  budget (`notion.rate_limit`, `notion.burst`), pauses everyone for the full Retry-After of a
  429 or 529 (at most `notion.max_retry_after`) and slows down after a 429. With a store its
  state is a row of `notion_limiter`, so the daemon and CLI commands share one budget.
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
import hashlib
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

import httpx
from notion_client import AsyncClient
from notion_client.errors import HTTPResponseError, RequestTimeoutError

from opsd.notion.circuit import CircuitBreaker
from opsd.notion.errors import NotionError, classify_exception, classify_response
from opsd.notion.limiter import (
    OVERLOADED,
    NoSlotError,
    RateLimiter,
    backoff_delay,
    pause_words,
    retry_after_delay,
)
from opsd.notion.requestlog import CURRENT_ATTEMPT, Attempt, RecordingTransport, RequestLog
from opsd.notion.schema import Schema, schema_of

if TYPE_CHECKING:
    from opsd.config import NotionConfig
    from opsd.store import StoreAccess

log = logging.getLogger("opsd.notion")  # the name operators filter on (unchanged)

DEADLINE_MARGIN = 0.1  # share of a check's timeout kept free so our own timeout fires first
MIN_ATTEMPT_TIME = 0.5  # seconds: a slot closer to the deadline is not taken (it would time out)
PRUNE_EVERY = 3600.0  # seconds between deletions of old request-log rows
SOURCES_TTL = 600.0  # how long a database's list of data sources is reused for queries
SCHEMA_TTL = 30.0  # how long a read with schemas is shared (the checks of one playbook run)

TokenVerdict = Literal["live", "revoked", "unknown"]
_PROBE_VERDICTS: dict[tuple[int | None, str], TokenVerdict] = {
    (401, "unauthorized"): "revoked", (403, "restricted_resource"): "live",
}
"""A failed token probe's (HTTP status, Notion's JSON `code`) -> the verdict. Anything else
(a gateway's or firewall's page, 5xx, rate limits, the network) says nothing: unknown."""


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
    id: str = ""  # the data source's id (2025-09-03); '' for a database read as one (2022-06-28)
    readable: bool = True  # False: listed under its database but not shared (GET answers 404)
    schema: Schema = dataclasses.field(default_factory=dict)  # by property id, with options


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
        timezone: str = "UTC",
    ) -> None:
        self.config = config
        self.clock = clock
        self.timezone = timezone  # of the "rate limited until HH:MM:SS" in messages
        self.monotonic = monotonic
        self.sleep = sleep
        self.rng = rng
        self.log = RequestLog(store)
        token = config.token.get_secret_value() if config.token else None
        # The shared budget's times are UTC epoch seconds, as every process sees them; they
        # advance with the monotonic clock, so a wall-clock step cannot stall or flood it.
        offset = clock() - monotonic()
        self.limiter = RateLimiter(config.rate_limit, config.burst, sleep=sleep,
                                   clock=lambda: monotonic() + offset,
                                   store=store, budget=budget_key(config.base_url, token))
        self.circuit = CircuitBreaker(config.circuit, clock=clock, store=store,
                                      budget=self.limiter.budget, zone=timezone)
        self._pruned_at = -math.inf
        recording = RecordingTransport(transport or httpx.AsyncHTTPTransport(), self.log, clock)
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
        self._schema_reads: dict[str, tuple[float, asyncio.Task[list[Source]]]] = {}
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
            reply = await self._call(
                lambda: self._client.users.me(auth=token),
                self.deadline(self.config.timeout), purpose="token_probe", needs_token=False,
            )
        except NotionError as exc:
            # Notion's own 403 restricted_resource: it knew the token, which lacks a capability.
            return _PROBE_VERDICTS.get((exc.status, exc.code), "unknown")
        return "live" if reply.body.get("object") == "user" else "unknown"

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

    async def request(
        self, method: str, path: str, *, body: dict[str, Any] | None = None,
        query: dict[str, Any] | None = None, deadline: float, purpose: str,
        idempotent: bool = True,
    ) -> Reply:
        """Any endpoint (`pages`, `blocks/{id}/children`...; see `opsd.notion.pages`) through
        the limiter and the retry policy. A write that is not `idempotent` (creating a page,
        appending blocks) is retried only after a 429, which Notion answers without doing
        anything: after a timeout or a 5xx it may have been done already."""
        return await self._call(
            lambda: self._client.request(path=path, method=method, body=body, query=query),
            deadline, purpose=purpose, idempotent=idempotent,
        )

    async def sources(
        self, database_id: str, *, deadline: float, with_schema: bool = True
    ) -> list[Source]:
        """What a database holds, per Notion-Version: itself (2022-06-28) or its data sources.

        Without `with_schema` (to query, not to validate) a list read in the last
        SOURCES_TTL seconds is reused: every-minute latency probes need no retrieval each time.
        With it, one read (in flight or under SCHEMA_TTL old) serves every check of a run:
        access, schema and data_sources of one playbook ask Notion once per database.
        """
        now = self.monotonic()
        cached = self._sources.get(database_id)
        if not with_schema and cached and cached[0] > now:
            return cached[1]
        if with_schema:
            sources = await self._shared_schema_read(database_id, deadline)
        else:
            sources = await self._read_sources(database_id, deadline, with_schema)
        self._sources[database_id] = (self.monotonic() + SOURCES_TTL, sources)
        return sources

    async def _shared_schema_read(self, database_id: str, deadline: float) -> list[Source]:
        # Aged on the run's clock (`clock`, injected with the runner's), not the monotonic
        # one: a run's checks share the read, the next run reads afresh.
        now = self.clock()
        shared = self._schema_reads.get(database_id)
        if shared is None or not 0 <= now - shared[0] < SCHEMA_TTL or _failed(shared[1]):
            read = asyncio.ensure_future(self._read_sources(database_id, deadline, True))
            read.add_done_callback(_failed)  # retrieved even if every waiter gave up
            shared = (now, read)
            self._schema_reads[database_id] = shared
        # A caller's own timeout must not cancel the read the other checks wait for.
        return await asyncio.shield(shared[1])

    async def _read_sources(
        self, database_id: str, deadline: float, with_schema: bool
    ) -> list[Source]:
        database = (await self.retrieve_database(database_id, deadline=deadline)).body
        if self.version == "2022-06-28":
            return [Source(_plain_title(database), f"databases/{database_id}/query",
                           _property_types(database),
                           schema=schema_of(database.get("properties")))]
        listed = database.get("data_sources") or []
        if not with_schema:
            return [Source(ds.get("name", ""), f"data_sources/{ds['id']}/query", id=ds["id"])
                    for ds in listed]
        return list(await asyncio.gather(*(self._read_source(ds, deadline) for ds in listed)))

    async def _read_source(self, listed: dict[str, Any], deadline: float) -> Source:
        """A listed data source with its schema; one not shared (404) comes back unreadable."""
        path = f"data_sources/{listed['id']}/query"
        try:
            body = (await self.retrieve_data_source(listed["id"], deadline=deadline)).body
        except NotionError as exc:
            if exc.kind != "not_found":
                raise
            return Source(listed.get("name", ""), path, id=listed["id"], readable=False)
        return Source(listed.get("name") or _plain_title(body), path, _property_types(body),
                      id=listed["id"], schema=schema_of(body.get("properties")))

    # --- the retry policy (the only one) --------------------------------------------------

    async def _call(
        self,
        send: Callable[[], Awaitable[Any]],
        deadline: float,
        *,
        purpose: str = "check",
        needs_token: bool = True,
        idempotent: bool = True,
    ) -> Reply:
        """Send through the limiter; retry what is worth retrying while the deadline allows."""
        if needs_token and not self._has_token:
            raise NotionError("no_token", "no Notion token configured")
        self.prune()
        slept = 0.0  # backoff slept since the previous attempt
        total_waited = 0.0
        if purpose == "check":  # a failing Notion gets no checks: `opsd.notion.circuit`
            await self.circuit.enter(lambda: self._probe(deadline))
        for number in range(self.config.max_retries + 1):
            try:
                waited = slept + await self.limiter.acquire(
                    self.limiter.clock() + deadline - self.monotonic() - MIN_ATTEMPT_TIME)
            except NoSlotError as exc:
                raise self._not_sent(exc, number) from None
            total_waited += waited
            attempt = Attempt(purpose=purpose, number=number, waited=waited)
            outcome = await self._attempt(send, attempt, deadline)
            await self.circuit.report(None if isinstance(outcome, dict) else outcome)
            if isinstance(outcome, dict):
                return Reply(outcome, attempt.latency, number + 1, total_waited)
            outcome.attempts = number + 1
            paused = await self._pause_budget(outcome, number)
            delay = self._retry_delay(outcome, number)
            if not idempotent and outcome.kind != "rate_limited":
                delay = None  # it may have been done: never twice
            if delay is None or number == self.config.max_retries:
                raise outcome
            if self.monotonic() + delay > deadline:
                raise outcome
            log.info("notion %s, retry %d in %.1fs", outcome.kind, number + 1, delay)
            slept = 0.0
            if not paused:  # a paused budget holds our next slot (and everyone's) instead
                await self.sleep(delay)
                slept = delay
            if await self.circuit.is_open():  # it opened meanwhile: no retry into it
                raise outcome
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

    async def _pause_budget(self, failure: NotionError, number: int) -> bool:
        """A 429 or a 529 with Retry-After pauses the shared budget for all of it (up to
        notion.max_retry_after), whether or not this call waits; a 429 also slows it down."""
        limited = failure.kind == "rate_limited"
        if not limited and (failure.kind != "overloaded" or failure.retry_after is None):
            return False
        said = failure.retry_after
        seconds = min(backoff_delay(number, self.rng) if said is None else said,
                      self.config.max_retry_after)
        pause = await self.limiter.pause(
            seconds, retry_after=said or 0.0, slow_down=limited,
            reason=failure.rate_limit_reason if limited else OVERLOADED,
        )
        failure.paused_until = pause.until
        failure.args = (pause_words(pause, self.timezone),)
        return True

    def _retry_delay(self, failure: NotionError, number: int) -> float | None:
        if not failure.retryable:
            return None
        if failure.kind in ("rate_limited", "overloaded") and failure.retry_after is not None:
            return retry_after_delay(min(failure.retry_after, self.config.max_retry_after),
                                     self.rng)
        return backoff_delay(number, self.rng)

    async def _probe(self, deadline: float) -> NotionError | None:
        """The open circuit's light probe: GET /v1/users/me once, through the limiter."""
        try:
            waited = await self.limiter.acquire(
                self.limiter.clock() + deadline - self.monotonic() - MIN_ATTEMPT_TIME)
        except NoSlotError as exc:
            return self._not_sent(exc, 0)
        attempt = Attempt(purpose="circuit_probe", number=0, waited=waited)
        outcome = await self._attempt(lambda: self._client.users.me(), attempt, deadline)
        if isinstance(outcome, dict):
            return None
        await self._pause_budget(outcome, 0)
        return outcome

    def _not_sent(self, exc: NoSlotError, number: int) -> NotionError:
        """The limiter had no slot in time: say until when, and why if the budget is paused."""
        pause = exc.pause
        if pause is None:
            error = NotionError(
                "no_slot", f"no request slot within the check's deadline (next in {exc.wait:.1f}s)")
        else:
            error = NotionError(
                "no_slot", pause_words(pause, self.timezone) + "; not sent",
                retry_after=pause.retry_after,
                rate_limit_reason="" if pause.reason == OVERLOADED else pause.reason)
            error.paused_until = pause.until
        error.attempts = number
        return error


async def publish_budget(
    config: NotionConfig, store: StoreAccess, clock: Callable[[], float] = time.time
) -> None:
    """The shared budget and circuit of `config`'s base URL and token, as stored, to the
    Prometheus gauges (and the circuit to /healthz)."""
    token = config.token.get_secret_value() if config.token else None
    budget = budget_key(config.base_url, token)
    await RateLimiter(config.rate_limit, config.burst, clock=clock, store=store,
                      budget=budget).publish()
    await CircuitBreaker(config.circuit, clock=clock, store=store, budget=budget).current()


def _failed(task: asyncio.Task[Any]) -> bool:
    """A finished task that raised or was cancelled (and its exception marked retrieved)."""
    return task.done() and (task.cancelled() or task.exception() is not None)


def budget_key(base_url: str, token: str | None) -> str:
    """The shared budget's name: a fingerprint of base URL and token (never the token)."""
    return hashlib.sha256(f"{base_url}\n{token or ''}".encode()).hexdigest()[:16]


def _plain_title(obj: dict[str, Any]) -> str:
    return "".join(part.get("plain_text", "") for part in obj.get("title") or [])


def _property_types(obj: dict[str, Any]) -> dict[str, str]:
    return {name: prop.get("type", "") for name, prop in (obj.get("properties") or {}).items()}
