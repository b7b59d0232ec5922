"""Flapping end to end: a real http.endpoint check against a local server that is up and down
on alternate runs, the runner's alert observer, real Apprise to a local webhook. The run
times are injected; latency is measured on a still clock (as in test_endpoint)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_alerts_support import run_with_alerts
from test_sources_support import Clock, Route

from opsd.checks import http as http_check
from opsd.config import Settings
from opsd.playbooks import parse_playbook

T0 = 1_737_702_000.0


@pytest.fixture(autouse=True)
def still_latency(monkeypatch) -> None:
    monkeypatch.setattr(http_check, "latency_clock", Clock(1000.0))


def flip_for(count: int, tmp_path: Path, http_server, webhook, **alerts: object) -> list[str]:
    """Run the endpoint check `count` times a minute apart, down on even runs: titles received."""
    server = http_server()
    settings = Settings(
        storage={"path": str(tmp_path / "opsd.db")},
        endpoints=[{"name": "api", "url": server.url("/health")}],
        alerts={"urls": [webhook.url], **alerts},
    )
    playbook = parse_playbook({"name": "realtime", "every": "1m", "checks": [
        {"kind": "http.endpoint", "name": "api.health"}]}, tmp_path / "realtime.toml")
    def step(number: int) -> None:
        down = number % 2 == 0
        server.routes["/health"] = Route("unavailable", 503) if down else Route("ok")

    run_with_alerts(settings, playbook, [T0 + 60 * n for n in range(count)], before=step)
    return [t.rsplit(" (", 1)[0] for t in webhook.titles()]  # without the host


def test_an_endpoint_flipping_every_run_for_20_runs_sends_three_messages(
    tmp_path, http_server, webhook
):
    titles = flip_for(20, tmp_path, http_server, webhook)
    assert len(titles) == 3
    assert titles[0].startswith("[CRITICAL] api.health/api: ")
    assert titles[1].startswith("[RESOLVED] api.health/api: ")
    assert titles[2] == (
        "[CRITICAL] Flapping: api.health/api: 3 state changes in the last 4 results"
        " (OK ↔ CRITICAL)"
    )


def test_without_flapping_detection_every_change_is_a_message(tmp_path, http_server, webhook):
    titles = flip_for(8, tmp_path, http_server, webhook, flapping={"enabled": False})
    assert [t.split(" ")[0] for t in titles] == ["[CRITICAL]", "[RESOLVED]"] * 4
