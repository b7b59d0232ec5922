"""Notion answering 529 for ten minutes: opsd opens its circuit, sends one light probe per
backoff step instead of its checks, and sends exactly one alert message; once Notion is back,
two good probes close the circuit, the checks run again and the alert resolves once.

The real runner, alert engine, outbox and Apprise deliver to a local webhook; the sandbox is
broken and mended through its admin API; the clock is injected and moved a minute per run.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from opsd import metrics
from opsd.alerting.observer import AlertObserver
from opsd.config import Settings
from opsd.notion.circuit import observed_line
from opsd.playbooks import parse_playbook
from opsd.results import RunReport, Status
from opsd.runner import Runner
from opsd.sandbox import DATABASES, SANDBOX_TOKEN
from opsd.store.owner import StoreThread

pytestmark = pytest.mark.slow

T0 = 1_737_702_000.0  # 2025-01-24 07:00 UTC
MINUTE = 60.0
MENDED_AT = 10  # the run (minute) before which the sandbox answers again
RUNS = 16


def notion_requests(sandbox) -> int:
    """Requests the sandbox received for Notion's API (`GET /v1/…`), whatever their answer."""
    return sum(sum(by_status.values()) for template, by_status in
               sandbox.stats()["requests"].items() if " /v1/" in template)


def admin(sandbox, action: str, **body: object) -> None:
    response = httpx.post(f"{sandbox.url}/__sandbox/{action}", json=body, timeout=60)
    assert response.status_code == 200, response.text


def realtime(sandbox) -> object:
    """The realtime playbook's Notion entries; thresholds far above any answer time (the test
    is about failures, not a slow machine)."""
    return parse_playbook({"name": "realtime", "every": "60s", "checks": [
        {"kind": "notion.auth", "crit": 600, "timeout": "20s"},
        {"kind": "notion.latency", "samples": 1, "warn": 600, "crit": 600},
        {"kind": "notion.status_page", "timeout": "15s"},
    ]}, Path("realtime.toml"))


def test_529_for_ten_minutes_probes_with_backoff_and_alerts_once(
    sandbox, webhook, tmp_path, make_config, opsd_cli,
):
    settings = Settings(
        notion={"token": SANDBOX_TOKEN, "base_url": sandbox.url, "rate_limit": 1000,
                "burst": 1000,
                "status_page_url": f"{sandbox.url}/api/v2/summary.json",
                "databases": [{"name": "fixes", "id": DATABASES["Optimization Fixes"]}]},
        storage={"path": str(tmp_path / "opsd.db")},
        alerts={"urls": [webhook.url]},
    )
    config = make_config(notion={"token": SANDBOX_TOKEN, "base_url": sandbox.url})
    playbook = realtime(sandbox)
    now = [T0]
    sent: list[int] = []  # Notion requests per run
    reports: list[RunReport] = []
    messages: list[int] = []  # webhook messages received after each run
    status_lines: list[str] = []

    def before(minute: int) -> None:
        if minute == 0:
            admin(sandbox, "fail", status=529)
        if minute == MENDED_AT:
            admin(sandbox, "reset")
        if minute == 3:  # the circuit is open: what `opsd status` says
            shown = opsd_cli("status", "--config", str(config))
            status_lines.append(next((line for line in shown.out.splitlines()
                                      if line.startswith("Notion circuit")), shown.err))
            as_json = json.loads(opsd_cli("status", "--config", str(config), "--json").out)
            status_lines.append(as_json["notion_circuit"]["state"])
            status_lines.append(observed_line("UTC") or "")  # what /healthz adds
            status_lines.append(str(metrics.NOTION_CIRCUIT_OPEN._value.get()))

    store = StoreThread.open(settings.storage.path)
    runner = Runner(settings, store, clock=lambda: now[0],
                    observers=[AlertObserver(settings, store, publish=False)])

    async def runs() -> None:
        try:
            for minute in range(RUNS):
                before(minute)
                now[0] = T0 + minute * MINUTE
                counted = notion_requests(sandbox)
                reports.append(await runner.run(playbook, trigger="schedule"))
                sent.append(notion_requests(sandbox) - counted)
                messages.append(len(webhook.received))
        finally:
            await runner.resources.aclose()

    try:
        asyncio.run(runs())
    finally:
        store.close()

    # Minute 0: the checks fail (with their retries) until five failures open the circuit.
    first = {r.check: r for r in reports[0].results}
    assert first["notion.auth"].status is Status.CRITICAL
    assert "overloaded" in first["notion.auth"].summary
    # Then one probe per backoff step (30 s, 60, 120, 240, 300 after each failed probe: the
    # minute runs meet them at 1, 2, 4, 8, 13), and none of the checks' own requests; after
    # the sandbox is mended, the probes at 13 and 14 succeed and the checks follow at 14.
    assert sent[1:14] == [1 if m in (1, 2, 4, 8, 13) else 0 for m in range(1, 14)], sent
    assert sent[14] > 1 and sent[15] > 0
    for report in reports[1:14]:
        by_check = {r.check: r for r in report.results}
        for check in ("notion.auth", "notion.latency"):
            held = by_check[check]
            assert held.status is Status.UNKNOWN and held.details["circuit_open"] is True
            assert held.summary.startswith("circuit open since 07:00 (Notion failing: ")
        assert "circuit_open" not in by_check["notion.status_page"].details  # not Notion's API
    assert all(r.status is Status.OK for r in reports[14].results if r.check == "notion.auth")
    # Exactly one alert message while Notion failed, one RESOLVED once it answered again.
    assert messages[:14] == [1] * 14, messages
    assert messages[-1] == 2
    assert webhook.received[0]["title"].startswith("[CRITICAL] notion.auth")
    assert webhook.received[1]["title"].startswith("[RESOLVED] notion.auth")
    # While open: the status line, JSON, the /healthz line and the gauge.
    assert status_lines[0] == ("Notion circuit OPEN since 07:00 (Notion failing: Notion is "
                               "overloaded (529 service_overload)), next probe 07:04")
    assert status_lines[1] == "open"
    assert status_lines[2] == status_lines[0]
    assert status_lines[3] == "1.0"
    assert metrics.NOTION_CIRCUIT_OPEN._value.get() == 0.0
