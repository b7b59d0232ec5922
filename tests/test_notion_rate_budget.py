"""One rate budget that adapts and is shared: the pure bucket (AIMD, pause, stored state), the
store-backed limiter two processes share, and NotionService against the sandbox's 60-second
windows, workspace limits, 429/529 Retry-After and a slow server. Time is a fake clock the
sandbox and opsd share, moved only by opsd's sleeps (or by the test): nothing sleeps for real.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import re
import zoneinfo
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest
from test_notion_checks import run_entries, settings_for
from test_notion_client import FakeClock

from opsd.config import NotionConfig
from opsd.metrics import REGISTRY
from opsd.notion.errors import NotionError, classify_response
from opsd.notion.limiter import (
    RATE_DECREASE,
    RATE_FLOOR,
    RATE_GROWTH,
    NoSlotError,
    Pause,
    RateLimiter,
    TokenBucket,
    pause_words,
)
from opsd.notion.service import NotionService, budget_key
from opsd.results import Status
from opsd.sandbox import DATABASES, SANDBOX_TOKEN, Sandbox
from opsd.sandbox.limiter import WindowBudgets
from opsd.store import Store
from opsd.store.limiter import budget_row

START = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC


def hhmmss(epoch: float, zone: str = "UTC") -> str:
    return dt.datetime.fromtimestamp(epoch, zoneinfo.ZoneInfo(zone)).strftime("%H:%M:%S")


def notion_service(sandbox: Sandbox, time: FakeClock, store: Store | None = None,
                   **notion: Any) -> NotionService:
    config = NotionConfig(**{"token": SANDBOX_TOKEN, "base_url": sandbox.url,
                             "rate_limit": 2.5, "burst": 3, **notion})
    return NotionService(config, store=store, clock=time, monotonic=time, sleep=time.sleep,
                         rng=lambda: 0.0)


async def me(svc: NotionService, time: FakeClock, within: float) -> Any:
    return await svc.me(deadline=time() + within)


def run(scenario: Coroutine[Any, Any, None], *services: NotionService) -> None:
    """One event loop for the whole scenario (httpx's connections belong to it)."""

    async def go() -> None:
        try:
            await scenario
        finally:
            for svc in services:
                await svc.aclose()

    asyncio.run(go())


# --- the pure bucket ------------------------------------------------------------------------


def test_a_429_slows_the_rate_which_grows_back_slowly_to_the_configured_one() -> None:
    bucket = TokenBucket(rate=2.5, burst=3, now=0.0)
    bucket.slow_down(now=0.0, until=10.0)
    assert bucket.rate(10.0) == pytest.approx(2.5 * RATE_DECREASE)
    assert bucket.rate(5.0) == pytest.approx(2.5 * RATE_DECREASE)  # no growth while paused
    assert bucket.rate(10_000.0) == 2.5  # never above notion.rate_limit
    for _ in range(100):
        bucket.slow_down(now=10_000.0, until=10_000.0)
    assert bucket.rate(10_000.0) == RATE_FLOOR


def test_the_rate_grows_back_by_a_share_of_itself_per_request() -> None:
    slow = TokenBucket(rate=2.5, burst=3, now=0.0)
    slow.slow_down(now=0.0, until=0.0)
    slow.slowed_rate = 0.7  # a server that allows 0.7 requests/s: +0.1 per 10 s near it
    assert (slow.rate(0.1) - slow.rate(0.0)) / 0.1 == pytest.approx(0.01, rel=0.05)
    fast = TokenBucket(rate=25.0, burst=5, now=0.0)
    fast.slow_down(now=0.0, until=0.0)  # a 429 interrupted a fast run: back within seconds
    assert fast.rate(0.0) == pytest.approx(25 * RATE_DECREASE)
    assert fast.rate(1.0) == 25.0
    r0 = 25 * RATE_DECREASE
    assert fast.rate(0.5) == pytest.approx(1 / (1 / r0 - RATE_GROWTH * 0.5))


def test_the_429s_of_one_limit_slow_it_down_once() -> None:
    bucket = TokenBucket(rate=2.0, burst=1, now=0.0)
    bucket.slow_down(now=0.0, until=5.0)
    bucket.pause(5.0, 5.0, "integration_rate_limit")
    bucket.slow_down(now=0.1, until=5.1)  # another request in flight met the same limit
    assert bucket.rate(5.0) == pytest.approx(2.0 * RATE_DECREASE)


def test_a_slowed_bucket_allows_no_burst_and_spaces_at_its_rate() -> None:
    bucket = TokenBucket(rate=2.0, burst=5, now=0.0)
    bucket.slow_down(now=0.0, until=0.0)
    interval = 1 / (2.0 * RATE_DECREASE)
    assert [bucket.reserve(0.0) for _ in range(3)] == pytest.approx([0, interval, 2 * interval])


def test_the_stored_state_round_trips() -> None:
    bucket = TokenBucket(rate=2.0, burst=3, now=100.0)
    bucket.slow_down(now=100.0, until=145.0)
    bucket.pause(145.0, 45.0, "workspace_rate_limit")
    row = bucket.to_row()
    assert all(math.isfinite(v) for v in row.values() if isinstance(v, float))
    copy = TokenBucket.from_row(2.0, 3, 200.0, row)
    assert (copy.paused_until, copy.retry_after, copy.reason) == (145.0, 45.0,
                                                                 "workspace_rate_limit")
    assert copy.rate(150.0) == bucket.rate(150.0)
    assert copy.reserve(100.0) == bucket.reserve(100.0) == 45.0


def test_pause_words_name_the_end_in_the_configured_zone_and_the_reason() -> None:
    pause = Pause(START + 45, 45.0, "integration_rate_limit")
    assert pause_words(pause, "UTC") == ("rate limited until 08:00:45 (Retry-After 45 s, "
                                         "reason integration_rate_limit)")
    assert pause_words(pause, "Europe/Berlin").startswith("rate limited until 09:00:45 ")
    assert pause_words(Pause(START + 20, 20.0, "service_overload"), "UTC") == (
        "Notion is overloaded: requests paused until 08:00:20 (Retry-After 20 s)")


def test_a_429_body_gives_its_rate_limit_reason() -> None:
    body = ('{"object": "error", "status": 429, "code": "rate_limited", "message": "m",'
            ' "additional_data": {"rate_limit_reason": "workspace_rate_limit"}}')
    error = classify_response(429, body, {"Retry-After": "90"}, 0.0)
    assert (error.kind, error.retry_after, error.rate_limit_reason) == (
        "rate_limited", 90.0, "workspace_rate_limit")
    assert classify_response(429, '{"code": "rate_limited"}', {}, 0.0).rate_limit_reason == ""


def test_the_sandbox_window_budget_refuses_until_the_window_ends() -> None:
    now = [100.0]
    windows = WindowBudgets(limit=2, window=60, clock=lambda: now[0])
    assert [windows.take("t"), windows.take("t"), windows.take("other")] == [0.0, 0.0, 0.0]
    now[0] = 115.0
    assert windows.take("t") == pytest.approx(45.0)
    now[0] = 160.0  # a new window
    assert windows.take("t") == 0.0


# --- the budget in the store, shared by processes ---------------------------------------------


def test_two_limiters_on_one_database_file_share_pause_and_slots(tmp_path: Path) -> None:
    time = FakeClock(START)
    stores = [Store.open(tmp_path / "opsd.db") for _ in range(2)]
    daemon, cli = (RateLimiter(2.0, 1, clock=time, sleep=time.sleep, store=s, budget="b")
                   for s in stores)

    async def scenario() -> None:
        assert await daemon.acquire() == 0.0
        assert await cli.acquire() == pytest.approx(0.5)  # the daemon's slot counted
        await daemon.pause(45.0, reason="integration_rate_limit", slow_down=True)
        with pytest.raises(NoSlotError) as caught:
            await cli.acquire(deadline=time() + 10)
        assert caught.value.pause == Pause(time() + 45, 45.0, "integration_rate_limit")
        started = time()
        await cli.acquire(deadline=time() + 60)
        assert time() - started == pytest.approx(45.0)
        assert await daemon.current_rate() == pytest.approx(2.0 * RATE_DECREASE)

    asyncio.run(scenario())
    row = budget_row(stores[0], "b")
    assert row is not None and row["reason"] == "integration_rate_limit"
    for store in stores:
        store.close()


def test_the_budget_is_named_by_a_fingerprint_never_the_token() -> None:
    key = budget_key("https://api.notion.com", SANDBOX_TOKEN)
    assert re.fullmatch(r"[0-9a-f]{16}", key)
    assert SANDBOX_TOKEN not in key and key != budget_key("https://api.notion.com", "other")


# --- against the sandbox ----------------------------------------------------------------------


def test_a_429_pauses_everyone_for_its_whole_retry_after_and_nothing_is_sent_meanwhile(
    make_sandbox,
) -> None:
    time = FakeClock(START)
    sandbox = make_sandbox(clock=time, wall_clock=time)
    sandbox.rate_window(limit=5, window=60)
    svc = notion_service(sandbox, time, Store.memory())

    async def scenario() -> None:
        for _ in range(5):
            await me(svc, time, 10)
        time.now = START + 15  # the window's budget is spent; it ends at START + 60
        with pytest.raises(NotionError) as caught:
            await me(svc, time, 10)
        assert caught.value.kind == "rate_limited"
        assert str(caught.value) == ("rate limited until 08:01:00 (Retry-After 45 s, "
                                     "reason integration_rate_limit)")
        assert caught.value.details()["paused_until"] == START + 60
        assert REGISTRY.get_sample_value(
            "opsd_notion_rate_limit_paused_until_timestamp_seconds") == START + 60
        assert REGISTRY.get_sample_value("opsd_notion_request_rate_limit") == pytest.approx(
            2.5 * RATE_DECREASE)
        sent = sandbox.stats()["requests_total"]
        for _ in range(35):  # what opsd used to send in the next 13 s
            time.now += 13 / 35
            with pytest.raises(NotionError) as held:
                await me(svc, time, 10)
            assert held.value.kind == "no_slot"
            assert str(held.value).startswith("rate limited until 08:01:00 (Retry-After 45 s")
        assert sandbox.stats()["requests_total"] == sent  # nothing went out during the pause
        assert (await me(svc, time, 60)).body["type"] == "bot"
        assert time() >= START + 60

    run(scenario(), svc)


def test_a_workspace_limit_beyond_60_s_is_honoured_up_to_max_retry_after(make_sandbox) -> None:
    time = FakeClock(START)
    sandbox = make_sandbox(clock=time, wall_clock=time)
    sandbox.workspace_limit(seconds=150)
    svc = notion_service(sandbox, time)
    capped = notion_service(sandbox, time, max_retry_after=60)

    async def scenario() -> None:
        with pytest.raises(NotionError) as caught:
            await me(svc, time, 30)
        assert str(caught.value) == ("rate limited until 08:02:00 (Retry-After 150 s, "
                                     "reason workspace_rate_limit)")  # max_retry_after 120 s
        with pytest.raises(NotionError) as shorter:
            await me(capped, time, 30)
        assert shorter.value.paused_until == START + 60
        assert shorter.value.details()["rate_limit_reason"] == "workspace_rate_limit"

    run(scenario(), svc, capped)


def test_529_waits_its_retry_after_not_a_backoff(make_sandbox) -> None:
    time = FakeClock(START)
    sandbox = make_sandbox(clock=time, wall_clock=time)
    sandbox.fail(status=529, count=1, retry_after=20)
    svc = notion_service(sandbox, time)

    async def scenario() -> None:
        reply = await me(svc, time, 60)
        assert reply.attempts == 2
        assert time() - START == pytest.approx(20.0)
        sandbox.fail(status=529, count=1, retry_after=20)
        with pytest.raises(NotionError) as caught:
            await me(svc, time, 10)
        assert caught.value.kind == "overloaded"
        assert str(caught.value) == ("Notion is overloaded: requests paused until 08:00:40 "
                                     "(Retry-After 20 s)")

    run(scenario(), svc)


async def keep_calling(time: FakeClock, until: float, *services: NotionService) -> None:
    """Each service in turn asks for users/me until `until`; a refused call is expected."""
    while time() < until:
        for svc in services:
            try:
                await me(svc, time, 30)
            except NotionError as exc:
                assert exc.kind in ("rate_limited", "no_slot")


def test_the_adaptive_rate_keeps_429s_rare_against_a_slower_server(make_sandbox) -> None:
    time = FakeClock(START)
    sandbox = make_sandbox(rate=0.7, burst=3, clock=time, wall_clock=time)
    svc = notion_service(sandbox, time, Store.memory())  # notion.rate_limit 2.5 req/s
    run(keep_calling(time, START + 600, svc), svc)
    stats = sandbox.stats()
    limited, total = stats["rate_limited_total"], stats["requests_total"]
    answered = total - limited
    assert limited / total <= 0.10, (limited, total)
    assert answered / (0.7 * (time() - START) + 3) >= 0.90, (answered, time() - START)


@pytest.mark.parametrize("shared", [True, False])
def test_two_processes_on_one_store_share_one_budget(
    make_sandbox, tmp_path: Path, shared: bool
) -> None:
    time = FakeClock(START)
    sandbox = make_sandbox(rate=3.0, burst=3, clock=time, wall_clock=time)
    stores = [Store.open(tmp_path / "opsd.db") for _ in range(2)] if shared else [None, None]
    daemon, cli = (notion_service(sandbox, time, store) for store in stores)
    run(keep_calling(time, START + 60, daemon, cli), daemon, cli)
    limited = sandbox.stats()["rate_limited_total"]
    if shared:
        assert limited == 0
    else:
        assert limited > 0  # each with its own bucket: what opsd did before
    for store in stores:
        if store is not None:
            store.close()


def test_access_calls_a_rate_limited_database_unknown_not_inaccessible(sandbox) -> None:
    settings = settings_for(sandbox, "2022-06-28", max_retry_after=120)
    settings.scheduler.timezone = "Europe/Berlin"
    fixes = DATABASES["Optimization Fixes"]
    sandbox.fail(status=429, count=1, path=f"/v1/databases/{fixes}", retry_after=45)
    [result] = run_entries(settings, {"kind": "notion.access", "timeout": "10s"})
    assert result.status is Status.UNKNOWN
    until = result.details["paused_until"]
    assert result.summary == (
        f"3/3 databases accessible, 1 not checked; fixes: rate limited until "
        f"{hhmmss(until, 'Europe/Berlin')} (Retry-After 45 s, reason integration_rate_limit)")
    assert result.details["not_checked"] == ["fixes"]
    assert result.value == 1.0

    sandbox.reset()
    sandbox.unshare("Testing Results")
    sandbox.fail(status=429, count=1, path=f"/v1/databases/{fixes}", retry_after=45)
    [mixed] = run_entries(settings, {"kind": "notion.access", "timeout": "10s"})
    assert mixed.status is Status.CRITICAL  # a real failure still counts
    assert mixed.value == pytest.approx(2 / 3)


def test_a_cli_command_honours_the_pause_the_daemon_recorded(
    sandbox, make_config, opsd_cli, tmp_path: Path
) -> None:
    config = make_config(notion={"token": SANDBOX_TOKEN, "base_url": sandbox.url},
                         scheduler={"timezone": "Europe/Berlin"})
    # The daemon met a 429 (Retry-After 100 s) a moment ago: its pause is in the store.
    store = Store.open(tmp_path / "opsd.db")
    daemon = RateLimiter(2.5, 3, store=store, budget=budget_key(sandbox.url, SANDBOX_TOKEN))
    pause = asyncio.run(daemon.pause(100.0, reason="integration_rate_limit", slow_down=True))
    store.close()

    held = opsd_cli("--config", str(config), "check", "notion.auth")
    assert held.code == 3, held.out + held.err
    assert held.out.startswith(
        f"UNKNOWN - rate limited until {hhmmss(pause.until, 'Europe/Berlin')} "
        "(Retry-After 100 s, reason integration_rate_limit)")
    assert sandbox.stats()["requests_total"] == 0  # the command sent nothing


def test_publish_reads_the_stored_budget_without_booking(tmp_path: Path) -> None:
    from opsd.metrics import observe_notion_budget
    from opsd.notion.service import publish_budget

    time = FakeClock(START)
    store = Store.open(tmp_path / "opsd.db")
    config = NotionConfig(token=SANDBOX_TOKEN, base_url="http://127.0.0.1:9")
    limiter = RateLimiter(2.5, 3, clock=time, store=store,
                          budget=budget_key(config.base_url, SANDBOX_TOKEN))
    asyncio.run(limiter.pause(30.0, reason="integration_rate_limit", slow_down=True))
    stored = budget_row(store, limiter.budget)

    def gauges() -> tuple[float | None, float | None]:
        return (REGISTRY.get_sample_value("opsd_notion_rate_limit_paused_until_timestamp_seconds"),
                REGISTRY.get_sample_value("opsd_notion_request_rate_limit"))

    observe_notion_budget(None, 0.0)  # as a fresh process has them
    asyncio.run(publish_budget(config, store, time))
    assert gauges() == (START + 30.0, pytest.approx(2.5 * 0.7))
    time.now += 31.0  # the pause is over; the rate grows back from its end
    asyncio.run(publish_budget(config, store, time))
    paused_until, rate = gauges()
    assert paused_until == 0.0 and rate is not None and 2.5 * 0.7 < rate < 2.5
    assert budget_row(store, limiter.budget) == stored  # read, nothing booked
