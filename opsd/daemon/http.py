"""The daemon's HTTP listener: `/metrics` (Prometheus) and `/healthz`, on its own event loop.

Its own thread and loop, not the scheduler's: a scrape must be answered even while the
scheduler loop is busy, and a hung loop must show up as a failing /healthz (the loop's
liveness is read from a timestamp the loop itself refreshes), not as a scrape that never
returns. One loop serves every connection, so idle or slow clients cost a socket each, never
a thread (under systemd's `TasksMax=` a thread per connection let 64 idle clients stop the
daemon). Limits: a listen backlog of 1024, at most `max_connections` open connections (the
next one is answered 503 and closed), and `timeout` seconds for a request head to arrive
and for a response to be taken. Client misbehaviour is logged at debug level, never as a
traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import socket
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from prometheus_client import CollectorRegistry

from opsd.daemon.http_messages import (
    MAX_LINE_BYTES,
    BadRequest,
    Request,
    parse_head,
    read_head,
    response_head,
)
from opsd.daemon.scrape import RenderError, SharedRender
from opsd.errors import ConfigError
from opsd.logs import event
from opsd.metrics import REGISTRY

log = logging.getLogger("opsd.daemon.http")

Health = Callable[[], tuple[bool, str]]
"""Returns (healthy, reason): the reason is the /healthz body. Called on the listener's
thread for every probe, so it must only read state, never block."""

BACKLOG = 1024
MAX_CONNECTIONS = 2048
TIMEOUT_SECONDS = 10.0
# File descriptors kept for everything else (database, clients, the delivery child's pipes)
# when the connection cap is weighed against RLIMIT_NOFILE.
_FD_RESERVE = 256
_ALLOWED = ("GET", "HEAD")
_STOP_SECONDS = 5.0


class MetricsServer:
    """Serves /metrics from `registry` and /healthz from `health` on host:port."""

    def __init__(
        self,
        host: str,
        port: int,
        health: Health,
        registry: CollectorRegistry = REGISTRY,
        *,
        max_connections: int = MAX_CONNECTIONS,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.host = host
        self.port = port
        self.max_connections = max_connections
        self.timeout = timeout
        self._health = health
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="opsd-render")
        self._render = SharedRender(registry, self._executor)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[asyncio.Task[None]] = set()

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Bind, then serve on a background thread; a busy port is a ConfigError."""
        sock = self._bind()
        self.port = sock.getsockname()[1]
        self.max_connections = _fd_headroom(self.max_connections)
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(_log_loop_error)
        serving = threading.Event()
        self._loop = loop
        self._thread = threading.Thread(
            target=self._run, args=(loop, sock, serving), name="opsd-metrics", daemon=True
        )
        self._thread.start()
        serving.wait(timeout=_STOP_SECONDS)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def open_connections(self) -> int:
        """Connections being served right now (read from any thread; for tests and benches)."""
        return len(self._connections)

    def stop(self) -> None:
        """Close the listening socket and every connection, then end the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = self._thread = None
        with contextlib.suppress(RuntimeError):  # the loop already stopped
            closing = asyncio.run_coroutine_threadsafe(self._close(), loop)
            with contextlib.suppress(TimeoutError):
                closing.result(timeout=_STOP_SECONDS)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=_STOP_SECONDS)
        if not thread.is_alive():
            loop.close()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _bind(self) -> socket.socket:
        try:
            family, kind, proto, _, address = socket.getaddrinfo(
                self.host or None, self.port, type=socket.SOCK_STREAM,
                flags=socket.AI_PASSIVE,
            )[0]
            sock = socket.socket(family, kind, proto)
        except OSError as exc:
            raise self._cannot_listen(exc) from None
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(BACKLOG)
        except OSError as exc:
            sock.close()
            raise self._cannot_listen(exc) from None
        sock.setblocking(False)
        return sock

    def _cannot_listen(self, exc: OSError) -> ConfigError:
        return ConfigError(
            f"metrics.port: cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
        )

    def _run(self, loop: asyncio.AbstractEventLoop, sock: socket.socket,
             serving: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        try:
            self._server = loop.run_until_complete(asyncio.start_server(
                self._serve, sock=sock, backlog=BACKLOG, limit=MAX_LINE_BYTES,
            ))
        finally:
            serving.set()
        loop.run_forever()

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    # --- one connection ----------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            if len(self._connections) > self.max_connections:
                log.debug("metrics listener: over %d connections, refused one",
                          self.max_connections)
                await self._send(writer, 503, _text("opsd: too many connections"),
                                 keep_alive=False, extra=(("Retry-After", "1"),))
                return
            await self._converse(reader, writer)
        except asyncio.CancelledError:
            writer.transport.abort()  # the listener is stopping
            raise
        except (ConnectionError, TimeoutError, OSError) as exc:
            log.debug("metrics listener: client connection ended: %r", exc)
        except Exception as exc:  # a bug of ours, not the client's: one line, no traceback
            event(log, "metrics listener: request failed", level=logging.ERROR,
                  error=repr(exc))
        finally:
            self._connections.discard(task)
            await self._close_connection(writer)

    async def _converse(self, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter) -> None:
        """Answer requests until the client closes, asks to, or stays silent `timeout` s."""
        while True:
            try:
                async with asyncio.timeout(self.timeout):  # no task per wait, unlike wait_for
                    head = await read_head(reader)
                if head is None:
                    return
                request = parse_head(head)
            except TimeoutError:
                log.debug("metrics listener: no request within %gs, closing", self.timeout)
                return
            except BadRequest as exc:
                log.debug("metrics listener: bad request: %s", exc)
                await self._send(writer, 400, _text(f"bad request: {exc}"), keep_alive=False)
                return
            # A body is never read, and a refused method ends the conversation: both close.
            keep_alive = (request.keep_alive and not request.has_body
                          and request.method in _ALLOWED)
            await self._answer(request, writer, keep_alive)
            if not keep_alive:
                return

    async def _answer(self, request: Request, writer: asyncio.StreamWriter,
                      keep_alive: bool) -> None:
        head_only = request.method == "HEAD"
        if request.method not in _ALLOWED:
            await self._send(writer, 405, _text(f"method {request.method} not allowed"),
                             keep_alive=False, extra=(("Allow", ", ".join(_ALLOWED)),))
        elif request.path == "/metrics":
            try:
                exposition = await self._render.exposition(
                    request.header("accept"), request.header("accept-encoding"),
                    request.query.get("name[]"),
                )
            except RenderError:
                await self._send(writer, 500, _text("metrics render failed (see the log)"),
                                 keep_alive=keep_alive, head_only=head_only)
                return
            await self._send(writer, 200, (exposition.body, exposition.headers),
                             keep_alive=keep_alive, head_only=head_only)
        elif request.path == "/healthz":
            healthy, reason = self._health()
            await self._send(writer, 200 if healthy else 503, _text(reason),
                             keep_alive=keep_alive, head_only=head_only)
        elif request.path == "/":
            await self._send(writer, 200, _text("opsd: see /metrics and /healthz"),
                             keep_alive=keep_alive, head_only=head_only)
        else:
            await self._send(writer, 404, _text("not found: try /metrics or /healthz"),
                             keep_alive=keep_alive, head_only=head_only)

    async def _send(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        content: tuple[bytes, Sequence[tuple[str, str]]],
        *,
        keep_alive: bool,
        head_only: bool = False,
        extra: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Write one response; HEAD gets the headers (Content-Length of the body) only."""
        body, headers = content
        head = response_head(status, [
            *headers, *extra, ("Content-Length", str(len(body))),
            ("Connection", "keep-alive" if keep_alive else "close"),
        ])
        if writer.is_closing():
            return
        writer.write(head if head_only else head + body)
        # A client that does not read its response holds the connection at most this long.
        async with asyncio.timeout(self.timeout):
            await writer.drain()

    async def _close_connection(self, writer: asyncio.StreamWriter) -> None:
        """Close after the response is flushed, or drop it if the client will not take it."""
        writer.close()
        try:
            async with asyncio.timeout(self.timeout):
                await writer.wait_closed()
        except (TimeoutError, ConnectionError, OSError):
            writer.transport.abort()
        except asyncio.CancelledError:
            writer.transport.abort()
            raise


def _text(text: str) -> tuple[bytes, tuple[tuple[str, str], ...]]:
    """A plain-text body (with a final newline) and its headers."""
    return (text + "\n").encode(), (("Content-Type", "text/plain; charset=utf-8"),
                                    ("Cache-Control", "no-store"))


def _fd_headroom(max_connections: int) -> int:
    """The connection cap the open-file limit allows, raising the soft limit towards the hard
    one if it is too low (systemd's default soft limit is 1024: a cap of 1024 would not fit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max_connections + _FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < wanted:
        raised = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (ValueError, OSError) as exc:
            log.debug("metrics listener: cannot raise the open-file limit: %r", exc)
    if soft == resource.RLIM_INFINITY:
        return max_connections
    return max(1, min(max_connections, soft - _FD_RESERVE))


def _log_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The listener loop's own errors (e.g. accept() out of file descriptors): one line."""
    error = context.get("exception")
    event(log, f"metrics listener: {context.get('message', 'error')}", level=logging.WARNING,
          error=repr(error) if error is not None else "")
