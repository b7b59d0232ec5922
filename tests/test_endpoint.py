"""http.endpoint against local HTTP and HTTPS servers: up, down, slow, timed out, wrong status,
body or JSON field; a self-signed certificate close to expiry; secret headers.

Latency is measured on an injected clock that only moves when the server says a response takes
time (`Route.takes`), so thresholds are judged exactly, however busy the machine is."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from pathlib import Path

import pytest
from test_sources_support import Clock, Route, run_entry, self_signed, server_tls

from opsd.checks import http as http_check
from opsd.checks.http import response_problems
from opsd.config import EndpointConfig
from opsd.results import Result, Status

HEALTH = json.dumps({"status": "ok", "checks": {"notion": "up"}, "version": "1.4.2"})


@pytest.fixture(autouse=True)
def latency(monkeypatch) -> Clock:
    """The clock http.endpoint measures latency with: still, unless a route takes time."""
    clock = Clock(1000.0)
    monkeypatch.setattr(http_check, "latency_clock", clock)
    return clock


@pytest.fixture
def playbooks(tmp_path: Path) -> Path:
    """A playbook whose endpoint entry has its own latency thresholds (80 ms, 2 s)."""
    directory = tmp_path / "playbooks"
    directory.mkdir()
    (directory / "probe.toml").write_text(
        'name = "probe"\n[[checks]]\nname = "ep"\nkind = "http.endpoint"\n'
        "warn = 0.08\ncrit = 2.0\n"
    )
    return directory


def probe(make_config, playbooks: Path, endpoints: list[dict], clock: Clock) -> dict[str, Result]:
    config = make_config(scheduler={"playbooks_dir": str(playbooks)}, endpoints=endpoints)
    return {r.target: r for r in run_entry(config, "probe", "ep", clock).results}


def test_up_down_timeout_status_body_and_json(
    make_config, playbooks: Path, http_server, closed_port: int
) -> None:
    server = http_server()
    server.routes.update({
        "/health": Route(HEALTH, content_type="application/json"),
        "/hang": Route(HEALTH, hold=threading.Event()),  # no answer until the test ends
        "/broken": Route("upstream unavailable", status=503),
        "/degraded": Route(json.dumps({"status": "degraded"})),
        "/html": Route("<html>maintenance</html>"),
    })
    results = probe(make_config, playbooks, [
        {"name": "mcp", "url": server.url("/health"), "json_field": "checks.notion",
         "json_value": "up", "body_contains": "1.4"},
        {"name": "down", "url": f"http://127.0.0.1:{closed_port}/health"},
        {"name": "hang", "url": server.url("/hang"), "timeout": 0.1},
        {"name": "broken", "url": server.url("/broken")},
        {"name": "degraded", "url": server.url("/degraded"), "json_field": "status",
         "json_value": "ok"},
        {"name": "html", "url": server.url("/html"), "json_field": "status"},
        {"name": "wording", "url": server.url("/health"), "body_contains": "healthy"},
    ], Clock(time.time()))

    mcp = results["mcp"]
    assert mcp.status is Status.OK and mcp.summary == "HTTP 200"
    assert (mcp.unit, mcp.value) == ("seconds", 0.0)  # no time passed on the latency clock
    assert mcp.details["status_code"] == 200 and "certificate_days_left" not in mcp.details

    assert results["down"].status is Status.CRITICAL
    assert results["down"].summary.startswith("down: ") and results["down"].value is None

    assert (results["hang"].status, results["hang"].summary) == (
        Status.CRITICAL, "down: no response within 0.1s",
    )
    assert (results["broken"].status, results["broken"].summary) == (
        Status.CRITICAL, "HTTP 503, expected 200",
    )
    assert results["degraded"].status is Status.CRITICAL
    assert results["degraded"].summary == "JSON field status is 'degraded', expected 'ok'"
    assert results["html"].summary == "body is not JSON"
    assert results["wording"].summary == "body does not contain 'healthy'"


@pytest.mark.parametrize(("takes", "status", "summary"), [
    (0.05, Status.OK, "HTTP 200"),
    (0.12, Status.WARNING, "slow: 120 ms ≥ 80 ms (warning) — HTTP 200"),
    (2.5, Status.CRITICAL, "slow: 2.50 s ≥ 2 s (critical) — HTTP 200"),
])
def test_latency_until_the_last_byte_is_judged_by_the_entry_thresholds(
    make_config, playbooks: Path, http_server, latency: Clock, takes: float, status: Status,
    summary: str,
) -> None:
    server = http_server(clock=latency)
    # The time passes after the headers went out, before the body: timing only up to the
    # headers would miss it.
    server.routes["/slow"] = Route(HEALTH, takes=takes)
    [result] = probe(make_config, playbooks, [{"name": "slow", "url": server.url("/slow")}],
                     Clock(time.time())).values()
    assert (result.status, result.summary) == (status, summary)
    assert result.value == pytest.approx(takes)


def test_secret_headers_are_sent_and_never_stored(
    make_config, playbooks: Path, tmp_path: Path, http_server
) -> None:
    token = "Bearer mcp-token-0123456789abcdefghij"
    server = http_server()
    server.routes["/health"] = Route(HEALTH, require_header=("Authorization", token))
    results = probe(make_config, playbooks, [
        {"name": "with", "url": server.url("/health"), "headers": {"Authorization": token}},
        {"name": "without", "url": server.url("/health")},
    ], Clock(time.time()))
    sent = sorted(str(r["headers"].get("Authorization")) for r in server.requests)
    assert sent == [token, "None"]
    assert results["with"].status is Status.OK
    assert results["without"].summary == "HTTP 401, expected 200"
    assert b"mcp-token-0123456789" not in (tmp_path / "opsd.db").read_bytes()


# --- https: certificate expiry -------------------------------------------------------------


def https_probe(
    make_config, playbooks: Path, tmp_path: Path, http_server, days: float, clock: Clock,
    **options: object,
) -> Result:
    cert, key = self_signed(tmp_path, days, dt.datetime.fromtimestamp(time.time(), dt.UTC))
    server = http_server(tls=server_tls(cert, key))
    server.routes["/health"] = Route(HEALTH)
    endpoint = {"name": "mcp", "url": server.url("/health"), "ca_file": str(cert), **options}
    return probe(make_config, playbooks, [endpoint], clock)["mcp"]


@pytest.mark.parametrize(
    ("days", "status", "summary"),
    [
        (3, Status.CRITICAL, "HTTP 200; certificate expires in 3.0 days"),
        (10, Status.WARNING, "HTTP 200; certificate expires in 10.0 days"),
        (60, Status.OK, "HTTP 200"),
    ],
)
def test_self_signed_certificate_near_expiry(
    make_config, playbooks: Path, tmp_path: Path, http_server, days: float, status: Status,
    summary: str,
) -> None:
    result = https_probe(make_config, playbooks, tmp_path, http_server, days, Clock(time.time()))
    assert (result.status, result.summary) == (status, summary)
    assert result.details["certificate_days_left"] == pytest.approx(days, abs=0.01)


def test_certificate_days_follow_the_injected_clock(
    make_config, playbooks, tmp_path, http_server
) -> None:
    later = Clock(time.time() + 25 * 86400)
    result = https_probe(make_config, playbooks, tmp_path, http_server, 30, later,
                         cert_warn_days=21, cert_crit_days=3)
    assert result.status is Status.WARNING
    assert result.details["certificate_days_left"] == pytest.approx(5, abs=0.01)


def test_untrusted_certificate_is_down_unless_verification_is_off(
    make_config, playbooks: Path, tmp_path: Path, http_server
) -> None:
    cert, key = self_signed(tmp_path, 30)
    server = http_server(tls=server_tls(cert, key))
    server.routes["/health"] = Route(HEALTH)
    results = probe(make_config, playbooks, [
        {"name": "strict", "url": server.url("/health")},
        {"name": "lax", "url": server.url("/health"), "verify": False},
        {"name": "missing-ca", "url": server.url("/health"), "ca_file": "nope.pem"},
    ], Clock(time.time()))
    assert results["strict"].status is Status.CRITICAL
    assert "CERTIFICATE_VERIFY_FAILED" in results["strict"].summary
    assert results["lax"].status is Status.OK
    assert results["lax"].details["certificate_note"] == (
        "not verified (verify = false): expiry unknown"
    )
    assert results["missing-ca"].status is Status.UNKNOWN
    assert results["missing-ca"].summary.startswith(f"ca_file {tmp_path / 'nope.pem'}: cannot load")


# --- response judgement (pure) -------------------------------------------------------------


def test_response_problems_lists_every_mismatch() -> None:
    endpoint = EndpointConfig(name="e", url="http://h/health", expected_status=204,
                              json_field="status", json_value="ok", body_contains="ready")
    assert response_problems(endpoint, 204, b'{"status": "ok", "ready": true}') == []
    assert response_problems(endpoint, 500, b'{"state": "ok"}') == [
        "HTTP 500, expected 204",
        "body does not contain 'ready'",
        "JSON field status is missing",
    ]


def test_endpoint_config_normalises_method_and_rejects_passwords_in_urls() -> None:
    assert EndpointConfig(name="e", url="https://h/x", method="post").method == "POST"
    with pytest.raises(ValueError, match="do not put a password in the URL"):
        EndpointConfig(name="e", url="https://user:pw@h/x")
