"""The proxy's HTTP/1.1 server on asyncio streams, and the forwarding of one request.

Every connection is a task on one loop; a request's body is read whole (it is forwarded
unchanged, and the request-limit counts parse it in memory), then it waits for a slot of its
token's budget, goes upstream over the one pooled httpx client, and the answer streams back as
it arrives: status line, headers (hop-by-hop ones excepted) and body bytes unchanged (a
compressed body stays compressed). Paths under `/__opsd/` are the proxy's own (`healthz`,
`metrics`): Notion's API has none there.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from opsd.errors import ConfigError
from opsd.notion.errors import error_code
from opsd.notion.limiter import NoSlotError
from opsd.proxy import metrics
from opsd.proxy.budget import Budgets
from opsd.proxy.endpoints import integration_endpoint
from opsd.proxy.limits import count_limits
from opsd.proxy.recorder import Recorder
from opsd.proxy.repeats import Repeat, Repeats, create_key, is_create, request_key
from opsd.proxy.wire import (
    HOP_BY_HOP,
    BadRequest,
    ProxyRequest,
    TooLarge,
    notion_error,
    parse_request,
    read_body,
    read_head,
    response_head,
)

log = logging.getLogger("opsd.proxy")

OWN_PREFIX = "/__opsd/"
IDLE_SECONDS = 75.0  # a kept-alive client connection silent this long is closed
ERROR_BODY_BYTES = 64 * 1024  # of an error answer, read for Notion's `code` (then dropped)
BACKLOG = 1024


@dataclasses.dataclass
class Outcome:
    """What one forwarded request came to (filled in as it goes)."""

    status: int | None = None
    error: str = ""
    retry_after: float | None = None
    response_bytes: int = 0
    purpose: str = "forward"


class ProxyServer:
    """Listens on host:port and forwards to `upstream` through `budgets`, recording to
    `recorder`."""

    def __init__(
        self, *, host: str, port: int, upstream: str, budgets: Budgets, recorder: Recorder,
        max_queue_wait: float, timeout: float, health_note: Callable[[], str] = lambda: "",
        clock: Callable[[], float] = time.time, workspace: str = "opsd",
    ) -> None:
        self.host, self.port = host, port
        self.workspace = workspace  # the `workspace` label of every series it exposes
        self.upstream = upstream
        self.budgets = budgets
        self.recorder = recorder
        self.max_queue_wait = max_queue_wait
        self.health_note = health_note
        self.clock = clock
        self.repeats = Repeats()
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout), trust_env=False, follow_redirects=False,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50,
                                keepalive_expiry=60.0),
        )
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        """Bind and start serving (port 0: a free one, then in `self.port`)."""
        try:
            self._server = await asyncio.start_server(
                self._serve, self.host, self.port, backlog=BACKLOG, reuse_address=True,
                limit=8192,
            )
        except OSError as exc:
            raise ConfigError(f"proxy.port: cannot listen on {self.host}:{self.port}: "
                              f"{exc.strerror or exc}") from None
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        """Stop listening, end the connections, close the upstream pool."""
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self.client.aclose()

    # --- one connection ------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._converse(reader, writer)
        except (ConnectionError, TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
            log.debug("proxy: client connection ended: %r", exc)
        except asyncio.CancelledError:  # the proxy is stopping: drop the connection
            writer.transport.abort()
        except Exception as exc:  # a bug of ours: one line, never a request's content
            log.error("proxy: request failed: %s", type(exc).__name__)
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _converse(self, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                async with asyncio.timeout(IDLE_SECONDS):
                    head = await read_head(reader)
                if head is None:
                    return
                request = parse_request(head)
                if request.header("expect").lower() == "100-continue":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # curl waits 1 s otherwise
                body = await read_body(reader, request)
            except TooLarge:
                await self._plain(writer, 413, "request body too large", keep_alive=False)
                return
            except BadRequest as exc:
                await self._plain(writer, 400, f"bad request: {exc}", keep_alive=False)
                return
            keep_alive = request.keep_alive
            if request.path.startswith(OWN_PREFIX):
                await self._own(request, writer, keep_alive)
            else:
                keep_alive = await self.forward(request, body, writer, keep_alive)
            if not keep_alive:
                return

    async def _own(self, request: ProxyRequest, writer: asyncio.StreamWriter,
                   keep_alive: bool) -> None:
        name = request.path[len(OWN_PREFIX):]
        if name == "healthz":
            healthy, line = self.health()
            await self._plain(writer, 200 if healthy else 503, line, keep_alive=keep_alive)
        elif name == "metrics":
            from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

            from opsd.daemon.workspace_label import WorkspaceRegistry
            from opsd.metrics import REGISTRY

            exposed = WorkspaceRegistry(REGISTRY, self.workspace)
            await self._send(writer, 200, generate_latest(exposed),
                             [("Content-Type", CONTENT_TYPE_LATEST)], keep_alive)
        else:
            await self._plain(writer, 404, "not found: try /__opsd/healthz or /__opsd/metrics",
                              keep_alive=keep_alive)

    def health(self) -> tuple[bool, str]:
        """(healthy, one line): forwarding always; whether the store keeps up."""
        problem = self.recorder.problem or self.budgets.problem or self.health_note()
        if problem:
            return False, (f"opsd proxy: forwarding to {self.upstream}, but the store is "
                           f"unavailable ({problem}): budget kept in memory, requests not "
                           "recorded")
        return True, (f"opsd proxy: forwarding to {self.upstream}; "
                      f"{self.recorder.written} requests recorded")

    # --- forwarding ------------------------------------------------------------------------

    async def forward(self, request: ProxyRequest, body: bytes, writer: asyncio.StreamWriter,
                      keep_alive: bool) -> bool:
        """Forward one request and stream its answer; returns whether the connection stays."""
        budget = self.budgets.name(request.header("authorization"))
        key = request_key(budget, request.method, request.target, body)
        create = create_key(budget, body) if is_create(request.method, request.path) else None
        repeat = self.repeats.arrive(key, create, self.clock())
        limits = count_limits(request.method, body)
        outcome = Outcome()
        waited = latency = 0.0
        sent_at = self.clock()
        try:
            waited = await self.budgets.admit(budget, self.max_queue_wait)
        except NoSlotError as exc:
            keep_alive = await self._refuse(writer, exc, outcome, keep_alive)
        else:
            sent_at = self.clock()
            started = time.monotonic()
            try:
                keep_alive = await self._exchange(request, body, writer, outcome, budget,
                                                  keep_alive)
            finally:
                latency = time.monotonic() - started
        finally:
            self.repeats.answered(key, create, status=outcome.status, attempt=repeat.attempt,
                                  took=waited + latency, now=self.clock())
            self._record(request, body, outcome, sent_at, latency, waited, repeat,
                         limits.exceeded, limits.near)
        return keep_alive

    async def _refuse(self, writer: asyncio.StreamWriter, exc: NoSlotError, outcome: Outcome,
                      keep_alive: bool) -> bool:
        """No slot within max_queue_wait: Notion's own 429, so SDKs back off as they would."""
        retry_after = self.budgets.retry_after_for(exc.wait)
        outcome.status, outcome.error, outcome.purpose = 429, "rate_limited", "queue_full"
        outcome.retry_after = float(retry_after)
        metrics.PROXY_REJECTED.labels(metrics.SOURCE).inc()
        body = notion_error(429, "rate_limited", "This integration's requests exceed the rate "
                            f"limit shared through opsd proxy; retry after {retry_after} s.")
        outcome.response_bytes = len(body)
        await self._send(writer, 429, body, [("Content-Type", "application/json"),
                                             ("Retry-After", str(retry_after))], keep_alive)
        return keep_alive

    async def _exchange(self, request: ProxyRequest, body: bytes, writer: asyncio.StreamWriter,
                        outcome: Outcome, budget: str, keep_alive: bool) -> bool:
        upstream = httpx.Request(request.method, self.upstream + request.target,
                                 headers=request.forwarded_headers(), content=body or None)
        try:
            response = await self.client.send(upstream, stream=True)
        except httpx.TimeoutException:
            outcome.error = "timeout"  # no answer from Notion: recorded with no status
            await self._send(writer, 504, notion_error(504, "gateway_timeout", "Notion did not "
                             "answer in time (opsd proxy)."),
                             [("Content-Type", "application/json")], keep_alive)
            return keep_alive
        except httpx.TransportError:
            outcome.error = "network_error"
            await self._send(writer, 502, notion_error(502, "bad_gateway", "opsd proxy could "
                             "not reach Notion."), [("Content-Type", "application/json")],
                             keep_alive)
            return keep_alive
        try:
            return await self._relay(response, writer, outcome, budget, keep_alive)
        finally:
            await response.aclose()

    async def _relay(self, response: httpx.Response, writer: asyncio.StreamWriter,
                     outcome: Outcome, budget: str, keep_alive: bool) -> bool:
        status = outcome.status = response.status_code
        headers = [(k.decode("latin-1"), v.decode("latin-1"))
                   for k, v in response.headers.raw]
        dropped = HOP_BY_HOP | {t.strip().lower() for t in
                                response.headers.get("connection", "").split(",")}
        kept = [(k, v) for k, v in headers if k.lower() not in dropped]
        sized = any(k.lower() == "content-length" for k, _ in kept)
        bodiless = request_has_no_body(status)
        chunked = not sized and not bodiless
        kept.append(("Connection", "keep-alive" if keep_alive else "close"))
        if chunked:
            kept.append(("Transfer-Encoding", "chunked"))
        writer.write(response_head(status, response.reason_phrase, kept))
        error_part = bytearray()
        async for chunk in response.aiter_raw():
            outcome.response_bytes += len(chunk)
            if status >= 400 and len(error_part) < ERROR_BODY_BYTES:
                error_part += chunk[:ERROR_BODY_BYTES - len(error_part)]
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            await writer.drain()
        if chunked:
            writer.write(b"0\r\n\r\n")
        await writer.drain()
        if status >= 400:
            text = bytes(error_part)
            outcome.error = error_code(text.decode("utf-8", "replace")) or "non_json"
            outcome.retry_after = await self.budgets.answered(
                budget, status, response.headers.get("retry-after"), text)
        return keep_alive

    # --- the record --------------------------------------------------------------------------

    def _record(self, request: ProxyRequest, body: bytes, outcome: Outcome, sent_at: float,
                latency: float, waited: float, repeat: Repeat, exceeded: int, near: int) -> None:
        endpoint = integration_endpoint(request.path)
        metrics.observe(endpoint=endpoint,
                        status=outcome.status if outcome.status is not None else outcome.error,
                        latency=latency, waited=waited, attempt=repeat.attempt,
                        exceeded=exceeded, near=near, duplicate=repeat.likely_duplicate)
        self.recorder.add((
            sent_at, "integration", outcome.purpose, request.method, endpoint, outcome.status,
            outcome.error, latency, repeat.attempt, waited, outcome.retry_after, len(body),
            outcome.response_bytes, repeat.client_wait, repeat.redo, exceeded, near,
            int(repeat.likely_duplicate),
        ))

    # --- plain answers -----------------------------------------------------------------------

    async def _plain(self, writer: asyncio.StreamWriter, status: int, text: str, *,
                     keep_alive: bool) -> None:
        await self._send(writer, status, (text + "\n").encode(),
                         [("Content-Type", "text/plain; charset=utf-8"),
                          ("Cache-Control", "no-store")], keep_alive)

    async def _send(self, writer: asyncio.StreamWriter, status: int, body: bytes,
                    headers: list[tuple[str, str]], keep_alive: bool) -> None:
        from http import HTTPStatus

        head = response_head(status, HTTPStatus(status).phrase, [
            *headers, ("Content-Length", str(len(body))),
            ("Connection", "keep-alive" if keep_alive else "close")])
        writer.write(head + body)
        await writer.drain()


def request_has_no_body(status: int) -> bool:
    """1xx, 204 and 304 answers carry no body (pure)."""
    return status < 200 or status in (204, 304)

