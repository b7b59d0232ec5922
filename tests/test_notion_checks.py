"""The Notion check kinds over real HTTP against the local sandbox (opsd.sandbox), run by the
real runner: healthy workspace under both Notion-Versions, revoked token, unshared database,
schema drift, 429 with Retry-After, 5xx/529/HTML gateways, hangs, and the client-side limiter."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_notion_client import FakeClock

from opsd.config import Settings
from opsd.notion.errors import NotionError
from opsd.notion.service import NotionService
from opsd.playbooks import parse_playbook
from opsd.results import Result, Status
from opsd.runner import Runner
from opsd.sandbox import DATABASES, SANDBOX_TOKEN, Sandbox
from opsd.store import Store

VERSIONS = ("2022-06-28", "2025-09-03")
REQUIRED = {
    "bottlenecks": ("Bottlenecks Registry",
                    {"Bottleneck Name": "title", "Severity": "select", "Status": "select"}),
    "fixes": ("Optimization Fixes", {"Fix Title": "title", "Implementation Status": "select"}),
    "testing": ("Testing Results", {"Test Name": "title", "Test Results": "select"}),
    "deployments": ("Deployment Log", {"Release": "title", "Status": "status"}),
    # Two data sources: only Notion-Version 2025-09-03 can read it.
    "tasks": ("Task Management", {"Status": "status"}),
}


def settings_for(sandbox: Sandbox, version: str = "2025-09-03", **notion: Any) -> Settings:
    names = [n for n in REQUIRED if version == "2025-09-03" or n != "tasks"]
    databases = [
        {"name": n, "id": DATABASES[REQUIRED[n][0]], "required_properties": REQUIRED[n][1]}
        for n in names
    ]
    return Settings(notion={
        "token": SANDBOX_TOKEN, "base_url": sandbox.url, "notion_version": version,
        "rate_limit": 1000, "burst": 100, "databases": databases, **notion,
    })


# Latency thresholds for tests about something else: a loaded machine must not turn a healthy
# workspace's milliseconds into a WARNING (latency judgement: test_runner, test_endpoint).
ANY_LATENCY = {"warn": 600, "crit": 600}


def run_entries(
    settings: Settings, *entries: dict[str, Any], store: Store | None = None,
    clock: Callable[[], float] | None = None,
) -> list[Result]:
    """Run entries as one playbook with the real runner; the Notion service is closed after."""
    playbook = parse_playbook({"name": "t", "checks": list(entries)}, Path("t.toml"))
    runner = Runner(settings, store or Store.memory(), **({"clock": clock} if clock else {}))

    async def go():
        try:
            return await runner.run(playbook)
        finally:
            await runner.resources.aclose()

    return asyncio.run(go()).results


def by_check(results: list[Result]) -> dict[tuple[str, str], Result]:
    return {(r.check, r.target): r for r in results}


@pytest.mark.parametrize("version", VERSIONS)
def test_healthy_workspace_is_all_ok(sandbox: Sandbox, version: str) -> None:
    results = run_entries(
        settings_for(sandbox, version),
        {"kind": "notion.token_format"}, {"kind": "notion.auth", **ANY_LATENCY},
        {"kind": "notion.access"}, {"kind": "notion.schema"},
        {"kind": "notion.latency", "samples": 3, **ANY_LATENCY},
    )
    assert {r.status for r in results} == {Status.OK}, [r.summary for r in results]
    found = by_check(results)
    auth = found[("notion.auth", "")]
    assert auth.summary == ("authenticated as 'opsd sandbox integration' in workspace "
                            "'AgSense ERP (CARD MRI Pilot)'")
    assert auth.unit == "seconds" and auth.value is not None  # the request's latency
    assert found[("notion.access", "")].value == 1.0
    schema_targets = sorted(t for c, t in found if c == "notion.schema")
    expected = ["bottlenecks", "deployments", "fixes", "testing"]
    if version == "2025-09-03":  # per data source
        expected += ["tasks/Sprint Backlog", "tasks/Tasks"]
    assert schema_targets == sorted(expected)
    latency = found[("notion.latency", "bottlenecks")]
    assert len(latency.details["samples_seconds"]) == 3 and latency.unit == "seconds"


def test_a_multi_source_database_under_the_old_version_says_so(sandbox: Sandbox) -> None:
    settings = settings_for(sandbox, "2022-06-28", databases=[
        {"name": "tasks", "id": DATABASES["Task Management"]}])
    [result] = run_entries(settings, {"kind": "notion.schema"})
    assert result.status is Status.CRITICAL
    assert result.summary == ("the database has several data sources, which Notion-Version "
                              "2022-06-28 cannot read (400 validation_error)")
    assert result.details["problem"] == "multiple_sources"
    assert "2025-09-03" in result.details["hint"]


def test_revoked_token_is_critical_with_the_runbook_steps(sandbox: Sandbox) -> None:
    sandbox.revoke_token(SANDBOX_TOKEN)
    results = by_check(run_entries(settings_for(sandbox), {"kind": "notion.auth"},
                                   {"kind": "notion.access"}))
    auth = results[("notion.auth", "")]
    assert auth.status is Status.CRITICAL
    assert auth.summary == "token invalid or revoked (401 unauthorized)"
    assert "Regenerate the token" in auth.details["hint"]
    assert auth.details["authenticated"] is False
    access = results[("notion.access", "")]
    assert (access.status, access.value) == (Status.CRITICAL, 0.0)


def test_unshared_database_is_named_with_what_to_do(sandbox: Sandbox) -> None:
    sandbox.unshare("Testing Results")
    results = by_check(run_entries(settings_for(sandbox), {"kind": "notion.access"},
                                   {"kind": "notion.schema"}))
    schema = results[("notion.schema", "testing")]
    assert (schema.status, schema.summary) == (
        Status.CRITICAL, "not found or not shared with the integration (404 object_not_found)")
    access = results[("notion.access", "")]
    assert access.status is Status.CRITICAL
    assert access.value == pytest.approx(4 / 5)
    assert ("4/5 databases accessible; testing: not found or not shared with the integration "
            "(404 object_not_found)") in access.summary
    assert access.details["hint"].startswith("Share testing with the integration")
    assert access.details["databases"]["testing"] == "not_found"


@pytest.mark.parametrize("version", VERSIONS)
def test_missing_and_mistyped_properties_are_listed(sandbox: Sandbox, version: str) -> None:
    sandbox.drop_property("Bottlenecks Registry", "Severity")
    sandbox.retype_property("Bottlenecks Registry", "Status", "rich_text")
    results = by_check(run_entries(settings_for(sandbox, version), {"kind": "notion.schema"}))
    broken = results[("notion.schema", "bottlenecks")]
    assert broken.status is Status.CRITICAL
    assert broken.value == 2
    assert broken.details["missing"] == ["Severity"]
    assert broken.details["mistyped"] == [
        {"property": "Status", "expected": "select", "actual": "rich_text"}]
    assert broken.summary.startswith(
        "missing Severity; mistyped Status (rich_text, expected select)")
    assert results[("notion.schema", "fixes")].status is Status.OK


@pytest.mark.parametrize("http_date", [False, True])
def test_429_with_retry_after_is_waited_out(make_sandbox, http_date: bool) -> None:
    # The sandbox's and the client's wall clocks agree and stand still (an HTTP date means
    # the same wait to both); the client's monotonic clock moves only when it sleeps.
    now = 1_750_000_000.0
    sandbox = make_sandbox(rate=1000, burst=1000, wall_clock=lambda: now)
    sandbox.rate_limit_burst(count=1, retry_after=3, http_date=http_date)
    store = Store.memory()
    clock = FakeClock()
    svc = NotionService(settings_for(sandbox).notion, store=store, clock=lambda: now,
                        monotonic=clock, sleep=clock.sleep, rng=lambda: 0.0)

    async def me() -> Any:
        try:
            return await svc.me(deadline=clock() + 30)
        finally:
            await svc.aclose()

    reply = asyncio.run(me())
    assert reply.body["type"] == "bot" and reply.attempts == 2
    assert clock.slept == [3.0]  # Retry-After, plus no jitter (rng 0)
    rows = list(store.query("SELECT status, retry_after, attempt, waited"
                            " FROM notion_requests ORDER BY id"))
    assert [(r["status"], r["retry_after"], r["attempt"]) for r in rows] == [
        (429, 3.0, 0), (200, None, 1)]
    assert rows[1]["waited"] == 3.0
    assert sandbox.stats()["rate_limited_total"] == 1


@pytest.mark.parametrize(("status", "words"), [
    (500, "Notion server error (500 internal_server_error)"),
    (502, 'a gateway or firewall answered HTTP 502 with an HTML page (Cloudflare: "502 Bad '
          'Gateway"), not Notion'),
    (503, "Notion is unavailable (503 service_unavailable)"),
    (529, "Notion is overloaded (529 service_overload)"),
])
def test_server_errors_are_retried_then_reported_in_plain_words(
    sandbox: Sandbox, status: int, words: str
) -> None:
    settings = settings_for(sandbox, max_retries=1)
    sandbox.fail(status, count=1)
    [recovered] = run_entries(settings, {"kind": "notion.auth"})
    assert recovered.status is Status.OK and recovered.details["attempts"] == 2
    sandbox.fail(status)
    [failed] = run_entries(settings, {"kind": "notion.auth"})
    assert failed.status is Status.CRITICAL
    assert failed.summary == words
    assert failed.details["attempts"] == 2
    assert "status.notion.so" in failed.details["hint"]


def test_a_hang_is_ended_by_the_check_timeout(sandbox: Sandbox) -> None:
    sandbox.hang(True)  # until the sandbox stops: only the check's own timeout ends the request
    [auth] = run_entries(settings_for(sandbox), {"kind": "notion.auth", "timeout": "1s"})
    assert auth.status is Status.CRITICAL
    # The client's deadline (90 % of the entry's timeout) ended it, not the runner's timeout
    # ("timed out after 1s"); the wait it names is what was left of the 0.9 s when it sent.
    found = re.fullmatch(r"Notion did not answer within ([\d.]+)s \(timeout\)", auth.summary)
    assert found and 0 < float(found.group(1)) <= 0.9, auth.summary
    assert "raise the entry's timeout" in auth.details["hint"]


def test_count_matches_the_filter_and_today_placeholder(make_sandbox) -> None:
    # One day for the sandbox's data and for the check's clock, even across a midnight.
    today = dt.date(2025, 9, 3)
    sandbox = make_sandbox(rate=1000, burst=1000, today=today)
    noon = dt.datetime(2025, 9, 3, 12, tzinfo=dt.UTC).timestamp()
    bottlenecks = sandbox.api.data_sources_of("Bottlenecks Registry")[0].pages
    tasks = sandbox.api.data_sources_of("Task Management")[0].pages
    critical = sum(p.values.get("Severity") == "Critical" for p in bottlenecks)
    due_today = sum(p.values.get("Due Date") == today.isoformat() for p in tasks)
    results = by_check(run_entries(
        settings_for(sandbox),
        {"name": "critical", "kind": "notion.count", "database": "bottlenecks", "warn": 1,
         "filter": '{"property": "Severity", "select": {"equals": "Critical"}}'},
        {"name": "due", "kind": "notion.count", "database": "tasks", "data_source": "Tasks",
         "filter": {"property": "Due Date", "date": {"equals": "{today}"}}},
        {"name": "all", "kind": "notion.count", "database": "tasks"},
        clock=lambda: noon,
    ))
    assert critical > 0
    assert results[("critical", "bottlenecks")].value == critical
    assert results[("critical", "bottlenecks")].status is Status.WARNING
    due = results[("due", "tasks")]
    assert due.value == due_today
    assert due.details["filter"]["date"]["equals"] == today.isoformat()
    # Over both data sources (Tasks and Sprint Backlog), following next_cursor past 100.
    every = results[("all", "tasks")]
    assert every.details["per_source"] == {"Tasks": 60, "Sprint Backlog": 24}
    assert every.value == 84


def test_unconfigured_database_is_skipped_and_a_bad_filter_is_unknown(sandbox: Sandbox) -> None:
    results = by_check(run_entries(
        settings_for(sandbox),
        {"name": "nope", "kind": "notion.count", "database": "nope"},
        {"name": "bad", "kind": "notion.count", "database": "bottlenecks",
         "filter": {"property": "No Such", "select": {"equals": "x"}}},
        {"name": "elsewhere", "kind": "notion.schema", "target": "nope"},
    ))
    for name in ("nope", "elsewhere"):
        skipped = results[(name, "")]
        assert skipped.status is Status.SKIPPED
        assert skipped.summary == "database 'nope' is not configured in notion.databases"
    bad = results[("bad", "bottlenecks")]
    assert bad.status is Status.UNKNOWN
    assert "Could not find property with name or id: No Such" in bad.summary


def test_the_limiter_keeps_a_burst_of_requests_under_the_sandbox_limit(make_sandbox) -> None:
    limited = make_sandbox(rate=20, burst=5)
    # The client's budget sits below the server's, as opsd's default (2.5/s against Notion's
    # 3/s) does, so that arrival jitter on a loaded machine cannot add up to a 429.
    svc_settings = settings_for(limited, rate_limit=16, burst=3).notion

    async def burst(n: int) -> None:
        svc = NotionService(svc_settings)
        try:
            deadline = svc.deadline(120)
            await asyncio.gather(*(svc.me(deadline=deadline) for _ in range(n)),
                                 return_exceptions=True)
        finally:
            await svc.aclose()

    asyncio.run(burst(24))  # 21 beyond the client's burst: paced over 1.3 s
    assert limited.stats()["requests"]["GET /v1/users/me"] == {"200": 24}
    # Without our limiter the same burst does trip the sandbox's limit.
    svc_settings = settings_for(limited, rate_limit=1000, burst=100, max_retries=0).notion
    limited.reset()
    asyncio.run(burst(24))
    assert limited.stats()["rate_limited_total"] > 0


def test_concurrent_checks_share_one_limiter_and_cause_no_429(make_sandbox) -> None:
    limited = make_sandbox(rate=20, burst=5)
    results = run_entries(
        settings_for(limited, rate_limit=16, burst=3),
        {"kind": "notion.auth", **ANY_LATENCY, "timeout": "120s"},
        {"kind": "notion.access", "timeout": "120s"},
        {"kind": "notion.schema", "timeout": "120s"},
        {"kind": "notion.latency", "samples": 2, **ANY_LATENCY, "timeout": "120s"},
        {"kind": "notion.count", "database": "fixes", "timeout": "120s"},
    )
    assert {r.status for r in results} == {Status.OK}, [r.summary for r in results]
    stats = limited.stats()
    assert stats["requests_total"] >= 30
    assert stats["rate_limited_total"] == 0


def test_error_rate_and_rate_limit_read_what_the_checks_recorded(sandbox: Sandbox) -> None:
    store = Store.memory()
    settings = settings_for(sandbox)
    sandbox.unshare("Testing Results")
    sandbox.rate_limit_burst(count=1, retry_after=1)
    run_entries(settings, {"kind": "notion.access"}, store=store)
    results = by_check(run_entries(
        settings, {"kind": "notion.error_rate", "window": "1h"},
        {"kind": "notion.rate_limit", "window": "1h"}, store=store,
    ))
    errors = results[("notion.error_rate", "")]
    # 11 requests: the 429 (counted by notion.rate_limit, not as a failure), then 5 database
    # retrievals of which one 404, and 5 of the readable databases' data sources.
    assert errors.value == pytest.approx(1 / 11)
    assert errors.status is Status.CRITICAL
    assert errors.details["causes"] == {"object_not_found": 1}
    limited = results[("notion.rate_limit", "")]
    assert limited.details["rate_limited"] == 1
    assert limited.value == pytest.approx(1 / 3600, rel=0.2)


def test_probe_token_against_the_sandbox(sandbox: Sandbox) -> None:
    other = "ntn_" + "p" * 46
    sandbox.add_token(other)

    async def probe() -> list[str]:
        svc = NotionService(settings_for(sandbox).notion)
        try:
            live = await svc.probe_token(other)
            sandbox.revoke_token(other)
            return [live, await svc.probe_token(other)]
        finally:
            await svc.aclose()

    assert asyncio.run(probe()) == ["live", "revoked"]


def test_no_token_configured_is_critical_without_any_request(sandbox: Sandbox) -> None:
    settings = settings_for(sandbox)
    settings.notion.token = None
    results = by_check(run_entries(settings, {"kind": "notion.token_format"},
                                   {"kind": "notion.auth"}))
    assert results[("notion.token_format", "")].status is Status.CRITICAL
    assert results[("notion.auth", "")].summary == "no Notion token configured"
    assert sandbox.stats()["requests_total"] == 0


def test_service_errors_are_notion_errors_not_tracebacks(sandbox: Sandbox, closed_port) -> None:
    # Nothing listens on that port; max_retries=0 keeps the test from backing off.
    settings = settings_for(sandbox, base_url=f"http://127.0.0.1:{closed_port}", max_retries=0)

    async def call() -> NotionError:
        svc = NotionService(settings.notion)
        try:
            await svc.me(deadline=svc.deadline(3))
        except NotionError as exc:
            return exc
        finally:
            await svc.aclose()
        raise AssertionError("expected a NotionError")

    error = asyncio.run(call())
    assert error.kind == "network"
    assert str(error).startswith(f"cannot reach Notion at http://127.0.0.1:{closed_port}")
