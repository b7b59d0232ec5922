"""The metrics listener in-process (`opsd.daemon.http.MetricsServer` on port 0): HEAD, 405, 404,
/healthz, content negotiation, gzip, `name[]`, keep-alive, the per-connection timeout, the
connection cap, idle connections that do not stop a scrape, and client misbehaviour that is
answered (or dropped) quietly. Plus the shared render and the non-loopback warning, which need
no socket.

Waits are for events (the server closing a socket, a connection count) with a deadline that
only bounds a hang; no test measures time.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import socket
import struct
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily

from opsd.daemon import exposure
from opsd.daemon.http import MetricsServer
from opsd.daemon.http_messages import BadRequest, parse_head, read_head, response_head
from opsd.daemon.scrape import SharedRender
from tests.test_daemon import HANG, wait_until

HealthState = dict[str, tuple[bool, str]]


def fixed_registry() -> CollectorRegistry:
    """A registry whose output does not change between scrapes."""
    registry = CollectorRegistry()
    Gauge("opsd_test_value", "A test gauge.", registry=registry).set(3)
    Counter("opsd_test_events", "A test counter.", registry=registry).inc(2)
    return registry


@pytest.fixture
def metrics_server() -> Iterator[Callable[..., tuple[MetricsServer, HealthState]]]:
    """Start listeners on 127.0.0.1:0 (a fixed registry; options injected); stopped after.

    The per-connection timeout defaults to far beyond HANG: a connection the server should
    close after its response, but keeps open, fails the test instead of timing out quietly."""
    started: list[MetricsServer] = []

    def start(**options: object) -> tuple[MetricsServer, HealthState]:
        state: HealthState = {"health": (True, "ok")}
        options.setdefault("timeout", 10 * HANG)
        registry = options.pop("registry", None) or fixed_registry()
        server = MetricsServer("127.0.0.1", 0, lambda: state["health"], registry,  # type: ignore[arg-type]
                               **options)  # type: ignore[arg-type]
        server.start()
        started.append(server)
        return server, state

    yield start
    for server in started:
        server.stop()


def connect(server: MetricsServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=HANG)
    sock.settimeout(HANG)  # bounds a hang only: every read here waits for an event
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def raw(server: MetricsServer, request: bytes) -> bytes:
    """Send `request` on a fresh connection and read until the server closes it."""
    with contextlib.closing(connect(server)) as sock:
        sock.sendall(request)
        return read_until_closed(sock)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def headers_of(response: bytes) -> dict[str, str]:
    head = response.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]
    return {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in head)}


def body_of(response: bytes) -> bytes:
    return response.split(b"\r\n\r\n", 1)[1]


# --- what it answers -----------------------------------------------------------------------


def test_get_head_404_and_healthz(metrics_server):
    server, state = metrics_server()
    with httpx.Client(base_url=server.url, timeout=HANG) as client:
        got = client.get("/metrics")
        assert got.status_code == 200
        assert got.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert "opsd_test_value 3.0" in got.text
        assert client.get("/").text == "opsd: see /metrics and /healthz\n"
        missing = client.get("/nope")
        assert (missing.status_code, missing.text) == (404, "not found: try /metrics or /healthz\n")
        assert (client.get("/healthz").status_code, client.get("/healthz").text) == (200, "ok\n")
        state["health"] = (False, "scheduler loop unresponsive for 12s")
        sick = client.get("/healthz")
        assert (sick.status_code, sick.text) == (503, "scheduler loop unresponsive for 12s\n")

    # HEAD: GET's headers, Content-Length of the body it leaves out, then (HTTP/1.0) close.
    for path in ("/metrics", "/healthz", "/nope"):
        get = raw(server, f"GET {path} HTTP/1.0\r\n\r\n".encode())
        head = raw(server, f"HEAD {path} HTTP/1.0\r\n\r\n".encode())
        assert status_of(head) == status_of(get)
        assert headers_of(head) == headers_of(get)
        assert int(headers_of(head)["content-length"]) == len(body_of(get)) > 0
        assert body_of(head) == b""
        assert headers_of(get)["connection"] == "close"


def test_a_blocked_event_loop_of_the_caller_does_not_stop_scrapes(metrics_server):
    """The daemon starts the listener from its scheduler loop; with that loop blocked (a stuck
    call), scrapes and /healthz are still answered: the listener has a loop of its own."""

    async def blocked_loop() -> list[int]:
        server, _ = metrics_server()
        answers: list[int] = []

        def scrape() -> None:
            answers.append(httpx.get(f"{server.url}/metrics", timeout=HANG).status_code)
            answers.append(httpx.get(f"{server.url}/healthz", timeout=HANG).status_code)

        scraper = threading.Thread(target=scrape)
        scraper.start()
        scraper.join(HANG)  # blocks this loop until the scrapes are answered
        return answers

    assert asyncio.run(blocked_loop()) == [200, 200]


def test_other_methods_get_405_with_allow(metrics_server):
    server, _ = metrics_server()
    for method in ("POST", "PUT", "DELETE", "OPTIONS", "BREW"):
        response = raw(server, f"{method} /metrics HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert status_of(response) == 405, response
        assert headers_of(response)["allow"] == "GET, HEAD"
        assert headers_of(response)["connection"] == "close"
    # A body it will not read: answered, then the connection is closed.
    response = raw(server, b"POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")
    assert status_of(response) == 405


def test_openmetrics_gzip_and_name_filter(metrics_server):
    server, _ = metrics_server()
    with httpx.Client(base_url=server.url, timeout=HANG) as client:
        openmetrics = client.get(
            "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        assert openmetrics.headers["content-type"].startswith(
            "application/openmetrics-text; version=1.0.0")
        assert openmetrics.text.rstrip().endswith("# EOF")
        assert "opsd_test_events_total 2.0" in openmetrics.text

        # An Accept prometheus_client cannot read is no preference: the text format.
        odd = client.get("/metrics", headers={"Accept": "text/plain; version=x.y"})
        assert odd.status_code == 200
        assert odd.headers["content-type"].startswith("text/plain; version=0.0.4")

        plain = client.get("/metrics", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        zipped = raw(server, b"GET /metrics HTTP/1.0\r\nAccept-Encoding: gzip, br\r\n\r\n")
        assert headers_of(zipped)["content-encoding"] == "gzip"
        assert gzip.decompress(body_of(zipped)) == plain.content

        only = client.get("/metrics", params={"name[]": "opsd_test_value"})
        assert "opsd_test_value 3.0" in only.text
        assert "opsd_test_events" not in only.text


def test_keep_alive_and_connection_close(metrics_server):
    server, _ = metrics_server()
    with contextlib.closing(connect(server)) as sock:
        reader = sock.makefile("rb")
        for _ in range(3):  # HTTP/1.1: the connection stays open between requests
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert reader.readline() == b"HTTP/1.1 200 OK\r\n"
            headers = {}
            while (line := reader.readline()) != b"\r\n":
                name, value = line.decode().split(":", 1)
                headers[name.lower()] = value.strip()
            assert headers["connection"] == "keep-alive"
            assert reader.read(int(headers["content-length"])) == b"ok\n"
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        last = reader.read()  # to the end: the server closes after this one
        assert headers_of(last)["connection"] == "close" and body_of(last) == b"ok\n"


# --- limits ----------------------------------------------------------------------------------


def test_an_idle_or_half_sent_connection_is_closed_after_the_timeout(metrics_server):
    server, _ = metrics_server(timeout=0.5)
    with contextlib.closing(connect(server)) as idle, \
            contextlib.closing(connect(server)) as half:
        half.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never the blank line
        assert idle.recv(1) == b""  # the server closed it: no response, no wait forever
        assert half.recv(1) == b""
    # An idle keep-alive connection too, after its answered request.
    with contextlib.closing(connect(server)) as kept:
        kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_until_closed(kept).endswith(b"ok\n")
    wait_until(lambda: server.open_connections == 0, what="no open connection")


def test_the_connection_cap_answers_503_and_frees_up(metrics_server):
    server, _ = metrics_server(max_connections=5)
    held = [connect(server) for _ in range(5)]
    try:
        wait_until(lambda: server.open_connections == 5, what="5 connections served")
        with contextlib.closing(connect(server)) as sixth:
            refused = read_until_closed(sixth)
        assert status_of(refused) == 503
        assert headers_of(refused)["connection"] == "close"
        assert body_of(refused) == b"opsd: too many connections\n"
        held.pop().close()
        wait_until(lambda: server.open_connections == 4, what="a connection closed")
        assert httpx.get(f"{server.url}/metrics", timeout=HANG).status_code == 200
    finally:
        for sock in held:
            sock.close()


def test_200_idle_connections_do_not_stop_a_scrape(metrics_server):
    server, _ = metrics_server()
    held = [connect(server) for _ in range(200)]
    try:
        wait_until(lambda: server.open_connections == 200, what="200 idle connections")
        threads = threading.active_count()
        scraped = httpx.get(f"{server.url}/metrics", timeout=HANG)
        assert scraped.status_code == 200 and "opsd_test_value 3.0" in scraped.text
        assert httpx.get(f"{server.url}/healthz", timeout=HANG).text == "ok\n"
        # One loop serves them all: no thread per connection (the render pool adds <= 2).
        assert threading.active_count() <= threads + 2
    finally:
        for sock in held:
            sock.close()


def test_stop_closes_connections_and_frees_the_port(metrics_server):
    server, _ = metrics_server()
    idle = connect(server)
    wait_until(lambda: server.open_connections == 1, what="the connection served")
    server.stop()
    with contextlib.closing(idle):
        assert idle.recv(1) == b""
    again = MetricsServer("127.0.0.1", server.port, lambda: (True, "ok"), fixed_registry())
    again.start()
    try:
        assert httpx.get(f"{again.url}/healthz", timeout=HANG).status_code == 200
    finally:
        again.stop()


# --- client misbehaviour ---------------------------------------------------------------------


def test_misbehaving_clients_get_400_or_are_dropped_quietly(metrics_server, caplog):
    caplog.set_level(logging.DEBUG, logger="opsd.daemon.http")
    server, _ = metrics_server()
    for request in (
        b"GET\r\n\r\n",
        b"GET /metrics\r\n\r\n",  # HTTP/0.9
        b"GET /metrics HTTP/2.0\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",  # a TLS hello, more or less
        b"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\n folded: header\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nX-Long: " + b"a" * 20_000 + b"\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\n" + b"X-A: b\r\n" * 200 + b"\r\n",
        b"GET /metrics HTTP/1.1\r\nAuthorization Bearer sekrit-value\r\n\r\n",
        b"GET /metrics?token=sekrit-value HTTP/1.3\r\n\r\n",
    ):
        response = raw(server, request)
        assert status_of(response) == 400, (request[:40], response)
        assert headers_of(response)["connection"] == "close"
        assert b"sekrit" not in response  # what a client sent is never echoed or logged

    # Reset mid-request, half-closed after a request, gone before the response is read.
    with contextlib.closing(connect(server)) as reset:
        reset.sendall(b"GET /metrics HTTP/1.1\r\n")
        reset.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.closing(connect(server)) as half:
        half.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        half.shutdown(socket.SHUT_WR)
        assert read_until_closed(half).endswith(b"ok\n")
    for _ in range(20):
        with contextlib.closing(connect(server)) as gone:
            gone.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            gone.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    wait_until(lambda: server.open_connections == 0, what="every connection closed")

    assert httpx.get(f"{server.url}/healthz", timeout=HANG).status_code == 200
    loud = [r for r in caplog.records if r.levelno > logging.DEBUG or r.exc_info]
    assert loud == [], [r.getMessage() for r in loud]
    assert any("bad request" in r.getMessage() for r in caplog.records)
    assert not any("sekrit" in r.getMessage() for r in caplog.records)


# --- the shared render (no socket) -----------------------------------------------------------


class BlockingCollector:
    """Collects once per render; the first render waits until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.collects = 0

    def collect(self):  # type: ignore[no-untyped-def]
        self.collects += 1
        self.entered.set()
        self.release.wait(HANG)
        yield GaugeMetricFamily("opsd_test_render", "Render number.", value=self.collects)


def test_scrapes_during_a_render_share_it_and_later_ones_render_afresh():
    registry = CollectorRegistry()
    collector = BlockingCollector()
    registry.register(collector)  # type: ignore[arg-type]
    shared = SharedRender(registry)

    async def scenario() -> tuple[list[bytes], bytes, bytes]:
        first = asyncio.create_task(shared.exposition("", ""))
        await asyncio.to_thread(collector.entered.wait, HANG)
        joiners = [asyncio.create_task(shared.exposition("", "")) for _ in range(50)]
        hung_up = asyncio.create_task(shared.exposition("", ""))
        await asyncio.sleep(0)  # every joiner has found the render in progress
        hung_up.cancel()  # a scraper that goes away does not cancel the others' render
        collector.release.set()
        bodies = [e.body for e in await asyncio.gather(first, *joiners)]
        later = await shared.exposition("", "")
        zipped = await shared.exposition("", "gzip")
        return bodies, later.body, gzip.decompress(zipped.body)

    bodies, later, unzipped = asyncio.run(scenario())
    assert set(bodies) == {bodies[0]} and b"opsd_test_render 1.0" in bodies[0]
    assert b"opsd_test_render 2.0" in later  # after the render ended: a new one
    assert b"opsd_test_render 3.0" in unzipped  # another format: its own render
    assert (shared.renders, collector.collects) == (3, 3)


# --- request heads (no socket) --------------------------------------------------------------


def head_of(data: bytes) -> list[bytes] | None:
    async def read() -> list[bytes] | None:
        reader = asyncio.StreamReader(limit=64)
        reader.feed_data(data)
        reader.feed_eof()
        return await read_head(reader)

    return asyncio.run(read())


def test_request_heads_are_read_and_parsed():
    lines = head_of(b"\r\nGET /metrics?name[]=a&name[]=b HTTP/1.1\r\nAccept:  text/plain \r\n"
                    b"X-A: 1\r\nx-a: 2\r\n\r\nnext request")
    assert lines is not None
    request = parse_head(lines)
    assert (request.method, request.path, request.version) == ("GET", "/metrics", "HTTP/1.1")
    assert request.query == {"name[]": ["a", "b"]}
    assert (request.header("Accept"), request.header("x-a")) == ("text/plain", "1, 2")
    assert request.keep_alive and not request.has_body
    assert parse_head([b"GET http://opsd:9464/healthz HTTP/1.0\r\n"]).path == "/healthz"

    assert head_of(b"") is None  # closed between requests
    assert head_of(b"GET /metrics HTTP/1.1\r\nHost: x\r\n") is None  # closed mid-head
    with pytest.raises(BadRequest, match="too long"):
        head_of(b"GET /" + b"a" * 100 + b" HTTP/1.1\r\n\r\n")
    with pytest.raises(BadRequest, match="over 100 lines"):
        head_of(b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 100 + b"\r\n")


@pytest.mark.parametrize("head", [
    b"GET / HTTP/1.1 extra\r\n", b"GET  / HTTP/1.1\r\n", b"GET / HTTP/1.2\r\n",
    b"GET / http/1.1\r\n", b"G(T / HTTP/1.1\r\n", b"GET /\r\n", b"\x00\x01\r\n",
])
def test_malformed_request_lines_are_bad_requests(head):
    with pytest.raises(BadRequest, match="malformed request line"):
        parse_head([head])


@pytest.mark.parametrize(("version", "connection", "body", "keep_alive"), [
    ("HTTP/1.1", "", "", True),
    ("HTTP/1.1", "Connection: Close\r\n", "", False),
    ("HTTP/1.1", "Connection: upgrade, close\r\n", "", False),
    ("HTTP/1.0", "", "", False),
    ("HTTP/1.0", "Connection: keep-alive\r\n", "", True),
    ("HTTP/1.1", "", "Content-Length: 0\r\n", True),
])
def test_keep_alive_follows_the_version_and_connection_header(version, connection, body,
                                                              keep_alive):
    head = f"GET / {version}\r\n{connection}{body}".encode().splitlines(keepends=True)
    request = parse_head(head)
    assert request.keep_alive is keep_alive and not request.has_body
    with_body = parse_head([*head, b"Transfer-Encoding: chunked\r\n"])
    assert with_body.has_body


def test_response_head():
    assert response_head(405, [("Allow", "GET, HEAD"), ("Content-Length", "0")]) == (
        b"HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nContent-Length: 0\r\n\r\n")


# --- the non-loopback warning (pure) ---------------------------------------------------------


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.3.2.1", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("LOCALHOST", True), ("metrics.localhost", True),
    ("::ffff:127.0.0.1", True),
    ("0.0.0.0", False), ("::", False), ("", False), ("192.168.1.10", False),
    ("10.0.0.5", False), ("fe80::1%eth0", False), ("monitoring.example.com", False),
    ("999.1.1.1", False),
])
def test_is_loopback(host, loopback):
    assert exposure.is_loopback(host) is loopback


def test_one_warning_for_a_listener_reachable_from_the_network():
    assert exposure.metrics_host_warnings(True, "127.0.0.1") == []
    assert exposure.metrics_host_warnings(False, "0.0.0.0") == []  # not listening at all
    assert exposure.metrics_host_warnings(True, "0.0.0.0") == [
        "warning: metrics.host 0.0.0.0 is not loopback: /metrics and /healthz are reachable"
        " from the network (no authentication)"
    ]
