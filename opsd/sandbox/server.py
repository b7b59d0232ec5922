"""The sandbox's HTTP side: a stdlib ThreadingHTTPServer in a background thread, the admin
API under `/__sandbox/`, and `Sandbox`, the Python handle tests and the CLI use."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opsd.sandbox.api import SANDBOX_TOKEN, NotionApi, SandboxError
from opsd.sandbox.faults import ErrorMode
from opsd.sandbox.responses import Response
from opsd.sandbox.routing import Request
from opsd.sandbox.statuspage import SUMMARY_PATH, StatusPage

ADMIN_PREFIX = "/__sandbox/"
_MAX_BODY = 1 << 20


class Sandbox:
    """A local Notion API on `host:port` (port 0 picks a free one); start() runs it.

    `clock` (monotonic: the rate limiter) and `wall_clock` (Retry-After dates) are injectable,
    so tests drive time instead of sleeping.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, rate: float = 3.0,
                 burst: int = 10, extra_databases: int = 0, today: dt.date | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time):
        self.host = host
        self.port = port
        self.api = NotionApi(rate=rate, burst=burst, extra_databases=extra_databases,
                             today=today, clock=clock, wall_clock=wall_clock)
        self.status_page = StatusPage(wall_clock)
        self._release = threading.Condition()
        self._hanging = False
        self._hung_requests = 0
        self._stopping = False
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Listen and serve in a background thread; returns self."""
        self._stopping = False
        self._server = _Server((self.host, self.port), _Handler, self)
        self.port = self._server.server_address[1]
        # A short poll interval keeps stop() quick (shutdown waits for the next poll).
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name=f"opsd-sandbox-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: hung requests are dropped unanswered, open connections closed."""
        if self._server is None:
            return
        with self._release:
            self._stopping = True
            self._release.notify_all()
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def faults(self) -> dict[str, Any]:
        """The active faults (latency, queued error modes, hang), as in `stats()["faults"]`."""
        return self.stats()["faults"]

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:8765` (what `notion.base_url` takes)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # -- faults and state (the same operations as the admin API) -------------------------------

    def set_latency(self, seconds: float, path: str | None = None) -> None:
        """Add `seconds` before every answer (or only for paths starting with `path`)."""
        self.api.set_latency(seconds, path)

    def fail(self, status: int = 503, count: int | None = None, path: str | None = None,
             fraction: float | None = None, retry_after: int | None = None,
             html: bool | None = None, code: str | None = None) -> None:
        """Answer `status` to the next `count` requests (None: all, until reset).

        `path` limits it to paths starting with that prefix; `fraction` fails only that share
        of matching requests (deterministically). 502 answers HTML, as a gateway does.
        `retry_after` adds that header (e.g. 529 with Retry-After 20). `html=True`: the page a
        CDN or proxy sends instead of Notion (403 Cloudflare "Attention Required", 404 nginx,
        5xx); `html=False` makes 502 Notion's JSON `bad_gateway`; `code` picks Notion's code
        where a status has several (503 `database_connection_unavailable`).
        """
        self.api.add_error(ErrorMode(status, count, fraction, path, retry_after,
                                     html=html, code=code))

    def rate_limit_burst(self, count: int = 3, retry_after: int = 1,
                         http_date: bool = False) -> None:
        """The next `count` requests get 429 with `Retry-After` (seconds or an HTTP-date)."""
        self.api.add_error(ErrorMode(429, count, retry_after=retry_after, http_date=http_date))

    def set_rate(self, rate: float = 3.0, burst: int = 10, http_date: bool = False) -> None:
        """Token bucket per token: `rate` requests/s, `burst` at once; then 429."""
        self.api.set_rate(rate, burst, http_date)

    def rate_window(self, limit: int = 180, window: float = 60.0,
                    http_date: bool = False) -> None:
        """Budget per token as Notion counts it: `limit` requests per `window`-second window,
        then 429 with Retry-After = the rest of the window, reason integration_rate_limit."""
        self.api.set_rate_window(limit, window, http_date)

    def workspace_limit(self, seconds: float = 90.0) -> None:
        """The workspace-wide limit: every token gets 429 for `seconds` (Retry-After > 60 s
        possible), reason workspace_rate_limit."""
        self.api.limit_workspace(seconds)

    def hang(self, on: bool = True) -> None:
        """While on, requests are accepted and not answered (until hang(False)/reset/stop)."""
        with self._release:
            self._hanging = on
            self._release.notify_all()

    def revoke_token(self, token: str = SANDBOX_TOKEN) -> None:
        """From now on `token` (by default the sandbox's own) gets 401 unauthorized."""
        self.api.revoke_token(token)

    def add_token(self, token: str) -> None:
        """Accept `token` as a valid integration token."""
        self.api.add_token(token)

    def unshare(self, database: str) -> None:
        """The integration loses access: the database and its data sources answer 404."""
        self.api.set_shared(database, False)

    def share(self, database: str) -> None:
        """Undo `unshare`."""
        self.api.set_shared(database, True)

    def make_linked(self, database: str, linked: bool = True) -> None:
        """The database becomes a linked database (a view of another one); False undoes it.

        2025-09-03 lists `data_sources: []`; 2022-06-28 answers "... is a linked database".
        """
        self.api.set_linked(database, linked)

    def add_data_source(self, database: str, name: str) -> None:
        """A second (third...) data source appears under the database, as a Notion user adds one."""
        self.api.add_data_source(database, name)

    def unshare_data_source(self, source: str) -> None:
        """A data source (by name or id; a database: all its sources) is no longer shared.

        Its database still lists it, its GET and query answer 404; under 2022-06-28 the
        database answers "does not contain any data sources accessible by this API bot".
        """
        self.api.set_source_shared(source, False)

    def share_data_source(self, source: str) -> None:
        """Undo `unshare_data_source`."""
        self.api.set_source_shared(source, True)

    def drop_property(self, database: str, prop: str) -> None:
        """Delete a property from a database's data source(s) (by name or id)."""
        self.api.drop_property(database, prop)

    def retype_property(self, database: str, prop: str, new_type: str) -> None:
        """Change a property's type, e.g. Severity from select to rich_text."""
        self.api.retype_property(database, prop, new_type)

    def rename_property(self, database: str, prop: str, new_name: str) -> None:
        """Rename a property in Notion: the same property id under a new name."""
        self.api.rename_property(database, prop, new_name)

    def remove_option(self, database: str, prop: str, option: str) -> None:
        """Delete a select/status option from the schema and from every page."""
        self.api.remove_option(database, prop, option)

    def rename_option(self, database: str, prop: str, option: str, new_name: str) -> None:
        """Rename a select/status option: the same option id under a new name."""
        self.api.rename_option(database, prop, option, new_name)

    def incomplete_after(self, count: int) -> None:
        """Queries stop after `count` results with `request_status` incomplete (Notion: 10,000)."""
        if count < 1:
            raise SandboxError("the result limit must be at least 1")
        self.api.result_limit = count  # one attribute: read once per query

    def open_incident(self, name: str, impact: str = "major", status: str = "investigating",
                      components: list[str] | None = None) -> None:
        """Notion's status page (`/api/v2/summary.json`) reports an incident."""
        self.status_page.open_incident(name, impact, status, components)

    def resolve_incident(self, name: str | None = None) -> None:
        """The status page's incident `name` (default: every one) is resolved."""
        self.status_page.resolve_incident(name)

    def set_component(self, name: str, status: str) -> None:
        """A status page component (API, Web app, …) changes status."""
        self.status_page.set_component(name, status)

    def reset(self) -> None:
        """Everything back to the start: workspace, tokens, rate, faults, stats; hangs end."""
        self.hang(False)
        self.api.reset()
        self.status_page.reset()

    def stats(self) -> dict[str, Any]:
        """Counts by endpoint template and status, 429s sent, rate settings, active faults."""
        stats = self.api.stats()
        with self._release:
            stats["faults"]["hanging"] = self._hanging
            stats["hung_requests"] = self._hung_requests
        return stats

    # -- used by the request handler ------------------------------------------------------------

    def wait_while_hanging(self) -> bool:
        """Block while hang is on; False if the sandbox stops meanwhile (drop the request)."""
        with self._release:
            self._hung_requests += 1
            try:
                self._release.wait_for(lambda: not self._hanging or self._stopping)
            finally:
                self._hung_requests -= 1
            return not self._stopping

    def sleep(self, seconds: float) -> bool:
        """Wait `seconds` of injected latency; False if the sandbox stops meanwhile."""
        with self._release:
            self._release.wait_for(lambda: self._stopping, timeout=seconds)
            return not self._stopping

    def admin(self, method: str, action: str, body: dict[str, Any]) -> tuple[int, dict]:
        """Run one admin action (`POST /__sandbox/<action>` with JSON arguments)."""
        if method == "GET" and action == "stats":
            return 200, self.stats()
        operation = _ADMIN_ACTIONS.get(action)
        if method != "POST" or operation is None:
            return 404, {"error": f"unknown admin action {method} {ADMIN_PREFIX}{action}",
                         "actions": ["GET stats", *(f"POST {a}" for a in _ADMIN_ACTIONS)]}
        try:
            operation(self, **body)
        except TypeError as exc:
            return 400, {"error": f"bad arguments for {action}: {exc}"}
        except SandboxError as exc:
            return 400, {"error": str(exc)}
        return 200, {"ok": True, "stats": self.stats()}


_ADMIN_ACTIONS: dict[str, Callable[..., None]] = {
    "latency": Sandbox.set_latency,
    "fail": Sandbox.fail,
    "rate_limit_burst": Sandbox.rate_limit_burst,
    "rate": Sandbox.set_rate,
    "hang": Sandbox.hang,
    "revoke_token": Sandbox.revoke_token,
    "add_token": Sandbox.add_token,
    "unshare": Sandbox.unshare,
    "share": Sandbox.share,
    "make_linked": Sandbox.make_linked,
    "add_data_source": Sandbox.add_data_source,
    "unshare_data_source": Sandbox.unshare_data_source,
    "share_data_source": Sandbox.share_data_source,
    "drop_property": Sandbox.drop_property,
    "retype_property": Sandbox.retype_property,
    "rename_property": Sandbox.rename_property,
    "remove_option": Sandbox.remove_option,
    "rename_option": Sandbox.rename_option,
    "incomplete_after": Sandbox.incomplete_after,
    "open_incident": Sandbox.open_incident,
    "resolve_incident": Sandbox.resolve_incident,
    "set_component": Sandbox.set_component,
    "rate_window": Sandbox.rate_window,
    "workspace_limit": Sandbox.workspace_limit,
    "reset": Sandbox.reset,
}
"""Admin action name -> the Sandbox method it calls with the JSON body as keyword arguments."""


_REASONS = {529: "Site Overloaded"}
"""Reason phrases http.server does not know."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog (5) drops the SYNs of a burst of concurrent connections,
    # which then wait a second for their retransmission.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type, sandbox: Sandbox) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.sandbox = sandbox
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            (self._connections.add if open_ else self._connections.discard)(connection)

    def close_connections(self) -> None:
        """Close kept-alive connections, so a stopped sandbox answers nothing at all."""
        with self._connections_lock:
            for connection in self._connections:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    continue  # already closed by the client
            self._connections.clear()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients pool connections to Notion
    server_version = "opsd-sandbox"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without NODELAY, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every kept-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the stats endpoint is the record (and headers could carry tokens)."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        sandbox = self.server.sandbox
        path = self.path.split("?", 1)[0]
        body = self._read_body()
        if path.startswith(ADMIN_PREFIX):
            self._serve_admin(path[len(ADMIN_PREFIX):], body)
            return
        if path == SUMMARY_PATH and self.command == "GET":  # Notion's status page, not the API
            self._send_json(200, sandbox.status_page.summary(sandbox.url))
            return
        if not sandbox.wait_while_hanging() or not sandbox.sleep(sandbox.api.delay_for(path)):
            self.close_connection = True
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        query = self.path.partition("?")[2]
        self._send(sandbox.api.handle(Request(self.command, path, headers, body, query)))

    def _serve_admin(self, action: str, raw: bytes) -> None:
        if not ipaddress.ip_address(self.client_address[0]).is_loopback:
            self._send_json(403, {"error": "the admin API answers loopback clients only"})
            return
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self._send_json(400, {"error": "body must be a JSON object"})
            return
        self._send_json(*self.server.sandbox.admin(self.command, action.strip("/"), body))

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(min(length, _MAX_BODY)) if length > 0 else b""

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(Response(status, json.dumps(payload).encode(),
                            {"Content-Type": "application/json"}))

    def _send(self, response: Response) -> None:
        try:
            self.send_response(response.status, _REASONS.get(response.status))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (its timeout ended a slow or hanging request), as real
            # clients do: nothing to answer, and not an error of the sandbox.
            self.close_connection = True
