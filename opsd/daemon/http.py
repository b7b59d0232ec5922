"""The daemon's HTTP listener: `/metrics` (Prometheus) and `/healthz`, in one thread.

A thread, not the event loop: a scrape must be answered even while the loop is busy, and a
hung loop must show up as a failing /healthz (the loop's liveness is read from a timestamp
the loop itself refreshes), not as a scrape that never returns.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from urllib.parse import urlparse

from prometheus_client import CollectorRegistry, MetricsHandler

from opsd.errors import ConfigError
from opsd.metrics import REGISTRY

Health = Callable[[], tuple[bool, str]]
"""Returns (healthy, reason): the reason is the /healthz body."""


class _Handler(MetricsHandler):
    health: Health

    def do_GET(self) -> None:
        path = urlparse(self.path).path
        if path == "/metrics":
            super().do_GET()
        elif path == "/healthz":
            healthy, reason = self.health()
            self._reply(200 if healthy else 503, reason)
        elif path == "/":
            self._reply(200, "opsd: see /metrics and /healthz")
        else:
            self._reply(404, "not found: try /metrics or /healthz")

    def _reply(self, code: int, text: str) -> None:
        body = (text + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


class MetricsServer:
    """Serves /metrics from `registry` and /healthz from `health` on host:port."""

    def __init__(
        self, host: str, port: int, health: Health, registry: CollectorRegistry = REGISTRY
    ) -> None:
        self.host = host
        self.port = port
        self._handler = type("Handler", (_Handler,), {"registry": registry,
                                                       "health": staticmethod(health)})
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind and serve in a background thread; a busy port is a ConfigError."""
        try:
            self._server = ThreadingHTTPServer((self.host, self.port), self._handler)
        except OSError as exc:
            raise ConfigError(
                f"metrics.port: cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
            ) from None
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
            name="opsd-metrics", daemon=True,
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
