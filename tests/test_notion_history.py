"""The Notion kinds that need no request (token format, rate limit, error rate, availability)
and the pure helpers of the others, over a real SQLite store and a frozen clock."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from opsd.checks.notion import token_shape
from opsd.checks.notion_history import covered_seconds, rate_limit_summary
from opsd.checks.notion_pages import fill_placeholders, percentile
from opsd.checks.notion_schema import compare_schema
from opsd.config import Settings
from opsd.notion.requestlog import Attempt, RequestLog
from opsd.playbooks import parse_playbook
from opsd.redact import redact_secret
from opsd.results import Result, Status
from opsd.runner import Runner
from opsd.store import Store
from opsd.store.runs import record_run

NOW = 1_750_000_000.0
HOUR = 3600.0
NTN = "ntn_" + "31415926535" + "A1b2" * 8 + "Ko9"  # 11 digits + 35: the exact shape
LEGACY = "secret_" + "x" * 43


def run_entry(entry: dict, store: Store, settings: Settings | None = None) -> list[Result]:
    playbook = parse_playbook({"name": "t", "checks": [entry]}, Path("t.toml"))
    runner = Runner(settings or Settings(), store, clock=lambda: NOW)
    return asyncio.run(runner.run(playbook)).results


def log_request(
    store: Store, age: float, status: int | None, *, error: str = "", purpose: str = "check",
    attempt: int = 0, waited: float = 0.0, retry_after: float | None = None,
) -> None:
    RequestLog(store).record(
        sent_at=NOW - age, method="GET", endpoint="/v1/users/me", status=status, error=error,
        latency=0.1, attempt=Attempt(purpose=purpose, number=attempt, waited=waited),
        retry_after=retry_after,
    )


# --- token format ---------------------------------------------------------------------------


@pytest.mark.parametrize(("token", "status", "words"), [
    (NTN, Status.OK, "has the ntn_ format"),
    (LEGACY, Status.OK, "has the legacy secret_ format"),
    ("ntn_tooshort", Status.WARNING, "unfamiliar shape"),
    ("bearer-" + "z" * 40, Status.WARNING, "unfamiliar shape"),
    (NTN + "\n", Status.OK, "has the ntn_ format"),  # stripped when the config is loaded
])
def test_token_format_shows_only_the_redacted_token(token, status, words) -> None:
    settings = Settings(notion={"token": token})
    [result] = run_entry({"kind": "notion.token_format"}, Store.memory(), settings)
    assert result.status is status
    assert words in result.summary
    assert redact_secret(token.strip()) in result.summary
    assert token.strip() not in result.summary + str(result.details)


def test_token_format_without_a_token_is_critical() -> None:
    [result] = run_entry({"kind": "notion.token_format"}, Store.memory(), Settings())
    assert (result.status, result.summary) == (Status.CRITICAL, "no Notion token configured")
    assert "NOTION_API_TOKEN" in result.details["hint"]


def test_token_shapes() -> None:
    assert [token_shape(t) for t in (NTN, LEGACY, "secret_short", "")] == [
        "ntn", "secret", None, None]


# --- rate limit and error rate ------------------------------------------------------------------


def test_covered_seconds_merges_overlaps_and_clips_to_the_window() -> None:
    assert covered_seconds([(0, 2), (1, 3), (5, 6)], 0, 10) == 4
    assert covered_seconds([(-5, 1), (9, 20)], 0, 10) == 2
    assert covered_seconds([], 0, 10) == 0


def test_rate_limit_summary() -> None:
    rows = [
        {"status": 429, "retry_after": 2.0, "time": 100.0, "waited": 0.0, "attempt": 0},
        {"status": 429, "retry_after": 2.0, "time": 101.0, "waited": 0.0, "attempt": 0},
        {"status": 200, "retry_after": None, "time": 103.0, "waited": 2.1, "attempt": 1},
        {"status": 200, "retry_after": None, "time": 104.0, "waited": 0.4, "attempt": 0},
    ]
    stats = rate_limit_summary(rows, 0.0, 1000.0)
    assert stats["limited_seconds"] == 3.0  # 100..103, overlapping Retry-Afters merged
    assert stats["limited_time_share"] == pytest.approx(0.003)
    assert (stats["rate_limited"], stats["rate_limited_share"]) == (2, 0.5)
    assert (stats["retry_after_seconds"], stats["queued_seconds"], stats["retries"]) == (
        4.0, 2.5, 1)


def test_rate_limit_check_warns_past_one_percent_of_the_window() -> None:
    store = Store.memory()
    for age in range(60, 3600, 60):
        log_request(store, age, 200)
    log_request(store, 600, 429, error="rate_limited", retry_after=20)
    log_request(store, 300, 429, error="rate_limited", retry_after=20)
    log_request(store, 2 * HOUR, 429, error="rate_limited", retry_after=900)  # outside
    [result] = run_entry({"kind": "notion.rate_limit", "window": "1h"}, store)
    assert result.value == pytest.approx(40 / 3600)
    assert result.status is Status.WARNING
    assert result.summary.startswith(
        "high: 1.1% ≥ 1% (warning) — rate-limited 1.11% of the last 1h: 2 of 61 requests "
        "answered 429 (Retry-After 40s in all)")


def test_error_rate_counts_failures_but_not_429s_or_token_probes() -> None:
    store = Store.memory()
    for age in range(1, 95):
        log_request(store, age * 60, 200)
    log_request(store, 120, 404, error="object_not_found")
    log_request(store, 180, None, error="timeout")
    log_request(store, 240, 502, error="non_json")
    log_request(store, 300, 429, error="rate_limited", retry_after=1)
    log_request(store, 360, 401, error="unauthorized", purpose="token_probe")
    log_request(store, 2 * 86400, 500, error="internal_server_error")  # outside the window
    [result] = run_entry({"kind": "notion.error_rate"}, store)
    assert result.value == pytest.approx(3 / 98)
    assert result.status is Status.WARNING  # seeds: warning from 1 %, critical from 5 %
    assert result.details["causes"] == {"object_not_found": 1, "timeout": 1, "non_json": 1}
    assert result.summary.startswith(
        "high: 3.1% ≥ 1% (warning) — 3.06% of 98 Notion requests failed in the last 1d"
    )


def test_error_rate_over_five_percent_is_critical_and_no_traffic_is_skipped() -> None:
    store = Store.memory()
    [empty] = run_entry({"kind": "notion.error_rate"}, store)
    assert (empty.status, empty.summary) == (
        Status.SKIPPED, "no Notion requests recorded in the last 1d")
    for age in range(10):
        log_request(store, age, 200 if age else 503, error="" if age else "service_unavailable")
    [result] = run_entry({"kind": "notion.error_rate"}, store)
    assert (result.value, result.status) == (0.1, Status.CRITICAL)


# --- availability -------------------------------------------------------------------------------


def record_probe(store: Store, age: float, result: Result) -> None:
    at = NOW - age
    record_run(store, "realtime", [result.replace(check="notion.auth", kind="notion.auth",
                                                 started_at=at)],
                     started_at=at, finished_at=at)


def test_availability_per_window_from_the_auth_probes() -> None:
    store = Store.memory()
    # As notion.auth records them: an authenticated probe has its latency as value (the
    # count of values is the count of authenticated probes, in rollups too).
    ok = Result(Status.OK, "authenticated", value=0.2, details={"authenticated": True})
    refused = Result(Status.CRITICAL, "token invalid", details={"authenticated": False})
    timed_out = Result(Status.CRITICAL, "timed out after 20s")  # the runner's, no details
    slow_but_in = Result(Status.CRITICAL, "slow", value=2.5, details={"authenticated": True})
    for age in range(1, 24):
        record_probe(store, age * HOUR, ok)
    record_probe(store, 23.5 * HOUR, slow_but_in)
    record_probe(store, 23.7 * HOUR, timed_out)
    for day in range(2, 8):
        record_probe(store, day * 86400, refused)
    for day in range(8, 30):
        record_probe(store, day * 86400, ok)
    results = {r.target: r for r in run_entry({"kind": "notion.availability"}, store)}
    assert results["1d"].value == pytest.approx(24 / 25)
    assert results["1d"].status is Status.OK
    assert results["7d"].value == pytest.approx(24 / 31)
    assert results["7d"].status is Status.CRITICAL
    assert results["30d"].value == pytest.approx(46 / 53)
    assert results["30d"].status is Status.WARNING
    assert results["1d"].summary == "96.00% of 25 auth probes succeeded in the last 1d"


def test_availability_without_probes_is_skipped() -> None:
    [result] = run_entry({"kind": "notion.availability", "windows": ["1h"]}, Store.memory())
    assert (result.status, result.target) == (Status.SKIPPED, "1h")


# --- pure helpers of the request-making kinds ----------------------------------------------------


def test_compare_schema() -> None:
    missing, mistyped = compare_schema(
        {"Name": "title", "Severity": "rich_text", "Extra": "url"},
        {"Name": "title", "Severity": "select", "Owner": "people"},
    )
    assert missing == ["Owner"]
    assert mistyped == [{"property": "Severity", "expected": "select", "actual": "rich_text"}]


def test_percentile_is_nearest_rank() -> None:
    values = [0.5, 0.1, 0.3, 0.2, 0.4]
    assert percentile(values, 0.95) == 0.5
    assert percentile(values, 0.5) == 0.3
    assert percentile(list(range(1, 101)), 0.95) == 95


def test_today_placeholder_is_filled_everywhere() -> None:
    given = {"and": [{"date": {"equals": "{today}"}}, {"select": {"equals": "x"}}], "n": 3}
    assert fill_placeholders(given, dt.date(2025, 3, 9)) == {
        "and": [{"date": {"equals": "2025-03-09"}}, {"select": {"equals": "x"}}], "n": 3}


def test_count_filter_may_be_json_text_and_bad_json_is_a_playbook_error() -> None:
    from opsd.errors import PlaybookError

    good = parse_playbook({"name": "t", "checks": [{
        "kind": "notion.count", "database": "tasks", "filter": '{"property": "Done"}'}]},
        Path("t.toml"))
    assert good.checks[0].params.filter == {"property": "Done"}
    with pytest.raises(PlaybookError) as caught:
        parse_playbook({"name": "t", "checks": [{
            "kind": "notion.count", "database": "tasks", "filter": "{not json"}]}, Path("t.toml"))
    assert "t.toml: checks[0].filter: not valid JSON" in caught.value.problems[0]
