"""Runbooks and summaries by cause: a threshold crossing leads the summary ("slow: 2.31 s ≥ 2 s
(critical)") and picks a runbook of its class; a failed request's runbook is its cause's (Notion
down, revoked token), not the kind's. Pure first, then real runs against the sandbox with the
real runner, alert engine and Apprise to a local webhook. Time is injected (`clock`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from test_alerts_support import run_with_alerts

from opsd.alerting.engine import AlertEvent, EventType
from opsd.alerting.messages import Origin, body
from opsd.config import Settings
from opsd.playbooks import parse_playbook
from opsd.results import Status
from opsd.runbooks import HINTS, NOTION_FAILURE_HINTS, threshold_hint
from opsd.sandbox import SANDBOX_TOKEN
from opsd.thresholds import Thresholds

T0 = 1_737_702_000.0
ORIGIN = Origin("vm")


# --- pure -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("thresholds", "value", "status", "unit", "expected"), [
    (Thresholds(1.0, 2.0), 2.31, Status.CRITICAL, "seconds", "slow: 2.31 s ≥ 2 s (critical)"),
    (Thresholds(0.5, 2.0), 0.6, Status.WARNING, "seconds", "slow: 600 ms ≥ 500 ms (warning)"),
    (Thresholds(0.8, 0.6, "below"), 0.75, Status.WARNING, "ratio", "low: 75.0% ≤ 80% (warning)"),
    (Thresholds(10, 20), 25, Status.CRITICAL, "count", "high: 25 ≥ 20 (critical)"),
    (Thresholds(1.5, 2.0), 1.6, Status.WARNING, "seconds", "slow: 1.60 s ≥ 1.5 s (warning)"),
    (Thresholds(1.0, 2.0), 0.4, Status.OK, "seconds", ""),
])
def test_a_crossing_names_its_class_the_value_and_the_limit(
    thresholds: Thresholds, value: float, status: Status, unit: str, expected: str
) -> None:
    assert thresholds.crossing(value, status, unit) == expected


def test_a_threshold_runbook_is_by_class_not_by_kind() -> None:
    slow_auth = threshold_hint("notion.auth", "notion.auth", "slow")
    assert "slowly" in slow_auth and "status.notion.so" in slow_auth
    assert "egenerate" not in slow_auth  # not the revoked-token steps
    assert threshold_hint("notion.latency", "notion.latency", "slow") == slow_auth
    slow_endpoint = threshold_hint("http.endpoint", "api", "slow")
    assert "slowly" in slow_endpoint and "notion" not in slow_endpoint.lower()
    # A count or a hit rate past its limit: the kind's own steps are about that value.
    assert threshold_hint("notion.count", "open_bugs", "high") == HINTS["notion.count"]
    assert threshold_hint("cache.hit_rate", "redis", "low") == HINTS["cache.hit_rate"]


def _event(**fields: Any) -> AlertEvent:
    return AlertEvent(EventType.FIRING, "notion.latency", "tasks", "notion.latency", "realtime",
                      Status.CRITICAL, T0, T0, "HTTP 503", **fields)


def test_the_message_runbook_is_the_cause_before_the_kind() -> None:
    down = NOTION_FAILURE_HINTS["unavailable"]
    assert f"- Runbook: {down}" in body(_event(hint=down), ORIGIN)
    assert f"- Runbook: {HINTS['notion.latency']}" in body(_event(), ORIGIN)


# --- against the sandbox ------------------------------------------------------------------------


def run_and_deliver(tmp_path: Path, sandbox, webhook, entry: dict[str, Any]) -> None:
    """One playbook of `entry` against the sandbox, through the runner's alert observer."""
    settings = Settings(
        notion={"token": SANDBOX_TOKEN, "base_url": sandbox.url, "rate_limit": 1000,
                "burst": 100, "max_retries": 0,
                "databases": [{"name": "tasks", "id": _tasks_id()}]},
        storage={"path": str(tmp_path / "opsd.db")},
        alerts={"urls": [webhook.url]},
    )
    playbook = parse_playbook({"name": "realtime", "checks": [entry]}, tmp_path / "r.toml")
    run_with_alerts(settings, playbook, [T0])


def _tasks_id() -> str:
    from opsd.sandbox import DATABASES

    return DATABASES["Task Management"]


def runbook(message: dict[str, Any]) -> str:
    found = re.search(r"^- Runbook: (.*)$", message["message"], re.MULTILINE)
    assert found, message["message"]
    return found.group(1)


def test_notion_down_gives_auth_and_latency_the_runbook_of_notion_being_down(
    tmp_path, sandbox, webhook
):
    sandbox.fail(status=503)
    run_and_deliver(tmp_path / "auth", sandbox, webhook,
                    {"name": "notion.auth", "kind": "notion.auth"})
    run_and_deliver(tmp_path / "latency", sandbox, webhook,
                    {"name": "notion.latency", "kind": "notion.latency", "samples": 1})
    auth, latency = webhook.received
    assert auth["title"].startswith("[CRITICAL] notion.auth: ")
    assert latency["title"].startswith("[CRITICAL] notion.latency")
    for message in (auth, latency):
        steps = runbook(message)
        assert "status.notion.so" in steps, steps
        assert "egenerate" not in steps and "cache hit rates" not in steps, steps


def test_a_slow_working_token_reads_as_slow_with_the_slow_runbook(tmp_path, sandbox, webhook):
    sandbox.set_latency(0.2)  # every answer at least 200 ms late: past the 100 ms limit
    run_and_deliver(tmp_path, sandbox, webhook,
                    {"name": "notion.auth", "kind": "notion.auth", "warn": 0.05, "crit": 0.1})
    [message] = webhook.received
    assert re.match(
        r"\[CRITICAL\] notion\.auth: slow: \d+ ms ≥ 100 ms \(critical\) — authenticated as ",
        message["title"],
    ), message["title"]
    steps = runbook(message)
    assert steps == threshold_hint("notion.auth", "notion.auth", "slow")
    assert "egenerate" not in steps


def test_a_cause_the_check_named_stays_first_and_keeps_its_runbook(tmp_path, sandbox, webhook):
    sandbox.unshare("Task Management")
    run_and_deliver(tmp_path, sandbox, webhook, {"name": "notion.access", "kind": "notion.access"})
    [message] = webhook.received
    assert message["title"].startswith("[CRITICAL] notion.access: 0/1 databases accessible; ")
    assert " — low: " in message["title"], message["title"]
    assert runbook(message).startswith("Share tasks with the integration")
