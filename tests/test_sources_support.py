"""Real servers for the source, cache, endpoint and error-rate tests (no tests here); the
tests get them from conftest's `redis_server`, `make_redis` and `http_server` fixtures.

- `RedisServer`: a real `redis-server` on a reserved 127.0.0.1 port, restartable (counter
  reset);
- `LocalHTTP`: a stdlib HTTP(S) server on port 0 in a thread whose routes the test changes as
  it goes; a route can hold its answer until released, or take time on an injected clock;
- `self_signed`: a certificate for 127.0.0.1 expiring in a given number of days.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import http.server
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conftest import ReservedPort, require_tool

from opsd.app import App
from opsd.results import RunReport

STARTUP_TIMEOUT = 60.0  # only bounds a hang: a loaded machine may take seconds to start one


def wait_for_port(
    port: int, process: subprocess.Popen | None = None, timeout: float = STARTUP_TIMEOUT
) -> None:
    """Return once 127.0.0.1:`port` accepts connections (a server's readiness, not a sleep);
    fail at once if `process`, the server, exited instead."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                return
        except OSError:
            if process is not None and process.poll() is not None:
                raise AssertionError(f"the server exited with {process.returncode}") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class RedisServer:
    """A throwaway `redis-server` (no persistence) that the test can restart.

    redis-server cannot bind port 0 (to redis, port 0 means "no TCP at all"), so its port is
    reserved here (`ReservedPort`) for as long as the object lives: redis binds it with
    SO_REUSEADDR, and no other test can take it between a stop and a restart.
    """

    def __init__(self, workdir: Path, password: str | None = None) -> None:
        self.binary = require_tool("redis-server")
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.password = password
        self._reserved = ReservedPort()
        self.port = self._reserved.port
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        if self.password:
            args += ["--requirepass", self.password]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.process)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the server and give its port back."""
        self.stop()
        self._reserved.close()

    def lookups(self, hits: int, misses: int) -> None:
        """Real GETs: `hits` of a key that exists, `misses` of keys that do not."""
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, password=self.password)
        try:
            client.set("present", "1")
            for _ in range(hits):
                assert client.get("present") == b"1"
            for index in range(misses):
                assert client.get(f"absent-{index}") is None
        finally:
            client.close()


class Clock:
    """An injected clock the test moves forward."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclasses.dataclass
class Route:
    """What the local server answers on one path.

    `takes`: seconds the answer takes on the server's `clock` (moved forward after the headers
    went out and before the body does: a client measures it only if it times the whole body).
    `hold`: answer only once this event is set (a hanging upstream; released at the end).
    """

    body: str | bytes = ""
    status: int = 200
    content_type: str = "text/plain"
    takes: float = 0.0
    hold: threading.Event | None = None
    require_header: tuple[str, str] | None = None


class LocalHTTP:
    """A threaded HTTP (or HTTPS) server on 127.0.0.1 serving `routes`, which tests mutate.

    `clock` is the clock that routes' `takes` move (the one the code under test reads).
    """

    def __init__(self, tls: ssl.SSLContext | None = None, clock: Clock | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[dict[str, Any]] = []
        self.clock = clock
        self.released = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append({"path": self.path, "headers": dict(self.headers)})
                route = server.routes.get(self.path, Route("not found", 404))
                if route.require_header and (
                    self.headers.get(route.require_header[0]) != route.require_header[1]
                ):
                    route = Route("unauthorized", 401)
                if route.hold is not None:
                    route.hold.wait()
                    if server.released.is_set():
                        return  # the server stops: drop the request unanswered
                body = route.body.encode() if isinstance(route.body, str) else route.body
                try:
                    self.send_response(route.status)
                    self.send_header("Content-Type", route.content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.flush()
                    if route.takes:
                        assert server.clock is not None, "a route that takes time needs a clock"
                        server.clock.advance(route.takes)
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client gave up (timeout test)

            do_POST = do_GET
            do_HEAD = do_GET

            def log_message(self, *args: object) -> None:
                return

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        self.port = self.httpd.server_address[1]
        # A short poll interval: shutdown() waits for the next poll (0.5 s by default).
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,),
                                       daemon=True)

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> LocalHTTP:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        for route in self.routes.values():
            if route.hold is not None:
                route.hold.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def self_signed(directory: Path, days: float, now: dt.datetime | None = None) -> tuple[Path, Path]:
    """(cert.pem, key.pem) for 127.0.0.1, valid from an hour ago for `days` days."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = now or dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "opsd test")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"cert-{days}.pem", directory / f"key-{days}.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def run_entry(config: Path, playbook: str, entry: str, clock: Callable[[], float]) -> RunReport:
    """Run one entry of a playbook through the real runner (results stored), clients closed."""
    app = App.from_config(config, clock=clock)

    async def main() -> RunReport:
        try:
            return await app.runner.run(app.playbooks.get(playbook), only=entry)
        finally:
            await app.aclose()

    try:
        return asyncio.run(main())
    finally:
        app.close_store()
