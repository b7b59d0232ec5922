"""The request log: every HTTP request to Notion (answered or not) measured by a wrapping
httpx transport and recorded as a row of `notion_requests` and in Prometheus. Never a token or
an ID: `endpoint` is a template like `/v1/databases/{id}`.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx

from opsd import metrics
from opsd.notion.errors import error_code, parse_retry_after
from opsd.store import requests

if TYPE_CHECKING:
    from opsd.store import StoreAccess

_ID_SEGMENT = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                         r"[0-9a-fA-F]{12}$")


def endpoint_template(path: str) -> str:
    """`/v1/databases/1f2e...` -> `/v1/databases/{id}`: IDs never become labels or rows."""
    return "/".join("{id}" if _ID_SEGMENT.match(part) else part for part in path.split("/"))



@dataclasses.dataclass
class Attempt:
    """One HTTP request of a logical call, filled in by the transport."""

    purpose: str = "check"
    number: int = 0
    waited: float = 0.0
    latency: float = 0.0


CURRENT_ATTEMPT: contextvars.ContextVar[Attempt | None] = contextvars.ContextVar(
    "opsd_notion_attempt", default=None
)


class RequestLog:
    """Where the transport's measurements go: `notion_requests` rows, written through the
    store's queue without waiting, and kept in memory while another process holds the write
    lock (nothing without a store: unit tests, one-off probes)."""

    def __init__(self, store: StoreAccess | None) -> None:
        self.store = store

    def record(
        self, *, sent_at: float, method: str, endpoint: str, status: int | None, error: str,
        latency: float, attempt: Attempt, retry_after: float | None,
    ) -> None:
        """Queue one request's row; the request never waits for the database."""
        if self.store is None:
            return
        self.store.defer(
            requests.record_request, time=sent_at, purpose=attempt.purpose, method=method,
            endpoint=endpoint, status=status, error=error, latency=latency,
            attempt=attempt.number, waited=attempt.waited, retry_after=retry_after,
        )

    def prune(self, before: float) -> None:
        """Queue the deletion of rows older than `before`."""
        if self.store is not None:
            self.store.defer(requests.prune_requests, before)


class RecordingTransport(httpx.AsyncBaseTransport):
    """Wraps the real transport: every request, answered or not, is measured and recorded."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, log: RequestLog, clock: Callable[[], float]
    ) -> None:
        self.inner = inner
        self.log = log
        self.clock = clock

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        attempt = CURRENT_ATTEMPT.get() or Attempt()
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
