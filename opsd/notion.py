"""The Notion client: notion-client's AsyncClient over one rate-limited, instrumented httpx client.

One `NotionService` lives as long as its owner (a CLI command or the daemon) and is shared by
every check, so its limiter is global to the process:

- `RateLimiter` (a token bucket, pure `TokenBucket` inside) keeps opsd under its request
  budget (`notion.rate_limit`, `notion.burst`) and pauses everyone after a 429.
- `_RecordingTransport` sees every HTTP request, including those that end in a timeout or a
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
import contextvars
import dataclasses
import json
import logging
import math
import random
import re
import time
from collections.abc import Awaitable, Callable
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Literal

import httpx
from notion_client import AsyncClient
from notion_client.errors import HTTPResponseError, RequestTimeoutError

from opsd import metrics

if TYPE_CHECKING:
    from opsd.config import NotionConfig
    from opsd.store import Store

log = logging.getLogger(__name__)

BACKOFF_BASE = 0.5  # seconds before the first retry of a 5xx, 529, network error or timeout
BACKOFF_CAP = 8.0  # the exponential backoff never waits longer than this
RETRY_AFTER_JITTER = 0.05  # up to 5 % on top of Retry-After, so clients do not return in step
DEADLINE_MARGIN = 0.1  # share of a check's timeout kept free so our own timeout fires first
PRUNE_EVERY = 3600.0  # seconds between deletions of old request-log rows
SOURCES_TTL = 600.0  # how long a database's list of data sources is reused for queries

_ID_SEGMENT = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                         r"[0-9a-fA-F]{12}$")


def endpoint_template(path: str) -> str:
    """`/v1/databases/1f2e...` -> `/v1/databases/{id}`: IDs never become labels or rows."""
    return "/".join("{id}" if _ID_SEGMENT.match(part) else part for part in path.split("/"))


# --- errors in plain words --------------------------------------------------------------------

FailureKind = Literal[
    "no_token", "revoked", "forbidden", "not_found", "bad_request", "rate_limited",
    "server_error", "unavailable", "overloaded", "bad_gateway", "gateway_timeout", "network",
    "timeout", "no_slot",
]

_TOKEN_STEPS = (
    "1. Verify the token opsd reads (notion.token, NOTION_API_TOKEN or the notion_token "
    "credential) matches the integration's secret; "
    "2. Check the integration's permissions at https://www.notion.so/my-integrations; "
    "3. Regenerate the token if necessary and update it where opsd reads it."
)
_STATUS_PAGE = "Check https://status.notion.so; opsd retried with backoff."
HINTS: dict[str, str] = {
    "no_token": "Set notion.token in the config file, NOTION_API_TOKEN in the environment, "
                "or a notion_token file in $CREDENTIALS_DIRECTORY.",
    "revoked": _TOKEN_STEPS,
    "forbidden": "The integration lacks a capability: enable 'Read content' (and 'Read user "
                 "information') in the integration's settings. " + _TOKEN_STEPS,
    "not_found": "Share the database with the integration (in Notion: ••• → Connections → add "
                 "the integration) and check its ID in notion.databases.",
    "bad_request": "Notion rejected the request: check the entry's filter and property names "
                   "and notion.notion_version.",
    "rate_limited": "Notion allows about 3 requests/s per integration on average: lower "
                    "notion.rate_limit or the integration's own request rate.",
    "server_error": _STATUS_PAGE,
    "unavailable": _STATUS_PAGE,
    "overloaded": _STATUS_PAGE + " Notion sheds load with 529: reduce request volume.",
    "bad_gateway": "Something between opsd and Notion answered with a non-JSON page: check "
                   "notion.base_url, proxies (HTTPS_PROXY) and https://status.notion.so.",
    "gateway_timeout": _STATUS_PAGE,
    "network": "Check DNS, firewall and proxy settings on this host, and notion.base_url.",
    "timeout": "Check https://status.notion.so and this host's network; raise the entry's "
               "timeout if Notion is slow but working.",
    "no_slot": "opsd's own request budget is used up: raise the entry's timeout, check fewer "
               "databases or samples, or raise notion.rate_limit (max ~3/s).",
}
RETRYABLE: frozenset[str] = frozenset({
    "rate_limited", "server_error", "unavailable", "overloaded", "bad_gateway",
    "gateway_timeout", "network", "timeout",
})


class NotionError(Exception):
    """A Notion request failed; the message says why in plain words, `hint` what to do."""

    def __init__(
        self,
        kind: FailureKind,
        message: str,
        *,
        status: int | None = None,
        code: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.code = code
        self.retry_after = retry_after
        self.attempts = 1

    @property
    def hint(self) -> str:
        """The runbook's resolution steps for this kind of failure."""
        return HINTS[self.kind]

    @property
    def retryable(self) -> bool:
        """Worth another attempt (rate limits, 5xx, 529, gateways, timeouts, network)."""
        return self.kind in RETRYABLE

    def noted(self, note: str) -> NotionError:
        """This error with `note` appended to its message."""
        self.args = (f"{self}; {note}",)
        return self

    def details(self) -> dict[str, Any]:
        """What a check puts in `Result.details` about this failure."""
        return {
            "problem": self.kind, "http_status": self.status, "notion_code": self.code,
            "attempts": self.attempts, "hint": self.hint,
        }


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), None if absent."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now)


def error_code(body: str) -> str:
    """Notion's `code` from an error body, '' when the body is not Notion's JSON."""
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    return str(data.get("code", "")) if isinstance(data, dict) else ""


def classify_response(
    status: int, body: str, headers: httpx.Headers | dict[str, str], now: float
) -> NotionError:
    """An error response (status >= 400) as a `NotionError` in plain words (pure)."""
    code = error_code(body)
    retry_after = parse_retry_after(httpx.Headers(headers).get("retry-after"), now)
    kind: FailureKind
    if not code and status >= 500:
        kind, words = "bad_gateway", "a gateway answered with a non-JSON page instead of Notion"
    elif status in _BY_STATUS:
        kind, words = _BY_STATUS[status]
    elif status >= 500:
        kind, words = "server_error", "Notion server error"
    else:
        kind, words = "bad_request", f"Notion rejected the request: {_notion_message(body)}"
    if kind == "rate_limited" and retry_after is not None:
        words += f", Retry-After {retry_after:g}s"
    where = f"{status} {code}" if code else str(status)
    return NotionError(kind, f"{words} ({where})", status=status, code=code,
                       retry_after=retry_after)


_BY_STATUS: dict[int, tuple[FailureKind, str]] = {
    401: ("revoked", "token invalid or revoked"),
    403: ("forbidden", "the integration lacks permission"),
    404: ("not_found", "not found or not shared with the integration"),
    429: ("rate_limited", "rate limited by Notion"),
    502: ("bad_gateway", "bad gateway between opsd and Notion"),
    503: ("unavailable", "Notion is unavailable"),
    504: ("gateway_timeout", "gateway timeout: Notion did not answer the gateway"),
    529: ("overloaded", "Notion is overloaded"),
}


def classify_exception(exc: BaseException, base_url: str, timeout: float) -> NotionError:
    """A transport failure (no response) as a `NotionError` in plain words (pure)."""
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return NotionError("timeout", f"Notion did not answer within {timeout:.3g}s (timeout)")
    if isinstance(exc, ValueError):
        return NotionError("bad_gateway", "the answer was not Notion's JSON (a proxy page?)")
    reason = type(exc).__name__ if not str(exc) else str(exc)
    return NotionError("network", f"cannot reach Notion at {base_url}: {reason}")


def _notion_message(body: str) -> str:
    try:
        message = json.loads(body).get("message", "")
    except (ValueError, AttributeError):
        message = ""
    return str(message)[:200] or "no message"


# --- rate limiting (pure bucket, async wrapper) -------------------------------------------------


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


class NoSlotError(Exception):
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


# --- the request log ----------------------------------------------------------------------------


@dataclasses.dataclass
class Attempt:
    """One HTTP request of a logical call, filled in by the transport."""

    purpose: str = "check"
    number: int = 0
    waited: float = 0.0
    latency: float = 0.0


_ATTEMPT: contextvars.ContextVar[Attempt | None] = contextvars.ContextVar(
    "opsd_notion_attempt", default=None
)


class RequestLog:
    """Rows of `notion_requests` (migrations in `opsd.store`): one per HTTP request."""

    def __init__(self, store: Store | None) -> None:
        self.store = store

    def record(
        self, *, sent_at: float, method: str, endpoint: str, status: int | None, error: str,
        latency: float, attempt: Attempt, retry_after: float | None,
    ) -> None:
        """Store one request (nothing without a store: unit tests, one-off probes)."""
        if self.store is None:
            return
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO notion_requests (time, purpose, method, endpoint, status, error,"
                " latency, attempt, waited, retry_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (sent_at, attempt.purpose, method, endpoint, status, error, latency,
                 attempt.number, attempt.waited, retry_after),
            )

    def prune(self, before: float) -> int:
        """Delete rows older than `before`; returns how many."""
        if self.store is None:
            return 0
        with self.store.transaction() as conn:
            return conn.execute("DELETE FROM notion_requests WHERE time < ?", (before,)).rowcount

    def rows(self, since: float, *, purpose: str | None = None) -> list[dict[str, Any]]:
        """Rows since `since`, oldest first (optionally of one purpose)."""
        if self.store is None:
            return []
        sql = "SELECT * FROM notion_requests WHERE time >= ?"
        args: list[Any] = [since]
        if purpose is not None:
            sql += " AND purpose = ?"
            args.append(purpose)
        return list(self.store.db.query(sql + " ORDER BY time, id", args))


class _RecordingTransport(httpx.AsyncBaseTransport):
    """Wraps the real transport: every request, answered or not, is measured and recorded."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, log: RequestLog, clock: Callable[[], float]
    ) -> None:
        self.inner = inner
        self.log = log
        self.clock = clock

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        attempt = _ATTEMPT.get() or Attempt()
        sent_at = self.clock()
        started = time.monotonic()
        status: int | None = None
        error = ""
        retry_after = None
        try:
            response = await self.inner.handle_async_request(request)
            status = response.status_code
            if status >= 400:
                body = (await response.aread()).decode("utf-8", "replace")
                error = error_code(body) or "non_json"
                retry_after = parse_retry_after(response.headers.get("retry-after"), self.clock())
            return response
        except httpx.TimeoutException:
            error = "timeout"
            raise
        except asyncio.CancelledError:
            error = "timeout"  # our per-attempt deadline (or the check's) ended the wait
            raise
        except httpx.TransportError:
            error = "network_error"
            raise
        finally:
            attempt.latency = time.monotonic() - started
            endpoint = endpoint_template(request.url.path)
            metrics.observe_notion_request(
                endpoint, status if status is not None else error, attempt.latency,
                waited=attempt.waited, retried=attempt.number > 0,
            )
            self.log.record(
                sent_at=sent_at, method=request.method, endpoint=endpoint, status=status,
                error=error, latency=attempt.latency, attempt=attempt, retry_after=retry_after,
            )

    async def aclose(self) -> None:
        await self.inner.aclose()


# --- the service --------------------------------------------------------------------------------


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
        store: Store | None = None,
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
        recording = _RecordingTransport(transport or httpx.AsyncHTTPTransport(), self.log, clock)
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

    async def probe_token(self, token: str) -> Literal["live", "revoked", "unknown"]:
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
            return {"revoked": "revoked", "forbidden": "live"}.get(exc.kind, "unknown")
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
        context = _ATTEMPT.set(attempt)
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
            _ATTEMPT.reset(context)

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
