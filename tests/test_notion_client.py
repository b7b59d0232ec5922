"""The Notion client's pure parts (limiter, retry timing, error words, templates) and its retry
policy over httpx.MockTransport with an injected clock: nothing here sleeps for real."""

from __future__ import annotations

import asyncio
import email.utils
import json

import httpx
import pytest

from opsd.config import NotionConfig
from opsd.notion.errors import (
    NotionError,
    classify_exception,
    classify_response,
    parse_retry_after,
)
from opsd.notion.limiter import (
    BACKOFF_CAP,
    RateLimiter,
    TokenBucket,
    backoff_delay,
    retry_after_delay,
)
from opsd.notion.requestlog import endpoint_template
from opsd.notion.service import NotionService
from opsd.store import Store

CANARY = "ntn_CANARY0canary0CANARY0canary0CANARY0canary00"
DB_ID = "1f2e3d4c-5b6a-4789-8abc-def012345678"


class FakeClock:
    """Monotonic time that only moves when someone sleeps."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def notion_json(status: int, code: str, message: str = "m", **headers: str) -> httpx.Response:
    body = {"object": "error", "status": status, "code": code, "message": message}
    return httpx.Response(status, json=body, headers=headers)


BOT = {"object": "user", "type": "bot", "name": "ops bot",
       "bot": {"workspace_name": "Acme"}}


def service(
    answers: list[httpx.Response | Exception],
    clock: FakeClock,
    *,
    store: Store | None = None,
    seen: list[httpx.Request] | None = None,
    **config: object,
) -> NotionService:
    """A service whose transport answers from `answers` in order (the last one repeats)."""
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    settings = NotionConfig(**{"token": CANARY, "base_url": "https://notion.test",
                               "rate_limit": 1000, "burst": 100, **config})
    return NotionService(
        settings, store=store, clock=lambda: 1_700_000_000.0 + clock.now,
        transport=httpx.MockTransport(handler), monotonic=clock, sleep=clock.sleep,
        rng=lambda: 0.0,
    )


# --- pure parts -----------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "template"), [
    (f"/v1/databases/{DB_ID}", "/v1/databases/{id}"),
    (f"/v1/data_sources/{DB_ID.replace('-', '')}/query", "/v1/data_sources/{id}/query"),
    ("/v1/users/me", "/v1/users/me"),
    ("/v1/search", "/v1/search"),
])
def test_endpoint_template_hides_ids(path: str, template: str) -> None:
    assert endpoint_template(path) == template


def test_retry_after_in_seconds_and_as_http_date() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("2", now) == 2.0
    assert parse_retry_after(email.utils.formatdate(now + 3, usegmt=True), now) == 3.0
    assert parse_retry_after(email.utils.formatdate(now - 5, usegmt=True), now) == 0.0
    assert parse_retry_after(None, now) is None
    assert parse_retry_after("soon", now) is None


@pytest.mark.parametrize(("status", "body", "kind", "words"), [
    (401, {"code": "unauthorized"}, "revoked", "token invalid or revoked (401 unauthorized)"),
    (403, {"code": "restricted_resource"}, "forbidden", "lacks permission"),
    (404, {"code": "object_not_found"}, "not_found", "not shared with the integration"),
    (400, {"code": "validation_error", "message": "bad filter"}, "bad_request", "bad filter"),
    (429, {"code": "rate_limited"}, "rate_limited", "Retry-After 2s"),
    (500, {"code": "internal_server_error"}, "server_error", "Notion server error"),
    (503, {"code": "service_unavailable"}, "unavailable", "unavailable"),
    (504, {"code": "gateway_timeout"}, "gateway_timeout", "gateway timeout"),
    (529, {"code": "service_overload"}, "overloaded", "overloaded (529 service_overload)"),
    (502, {"code": "bad_gateway"}, "bad_gateway", "could not reach its own servers"),
    (503, {"code": "database_connection_unavailable"}, "unavailable", "database is unavailable"),
    (502, "<html><h1>502 Bad Gateway</h1></html>", "gateway", "answered HTTP 502 with an HTML"),
])
def test_error_responses_in_plain_words(status, body, kind, words) -> None:
    text = body if isinstance(body, str) else json.dumps(body)
    error = classify_response(status, text, {"Retry-After": "2"}, 0.0)
    assert error.kind == kind
    assert words in str(error)
    assert error.hint
    assert error.retryable == (kind in {"rate_limited", "server_error", "unavailable",
                                        "gateway_timeout", "overloaded", "bad_gateway",
                                        "gateway"})


def test_transport_failures_in_plain_words() -> None:
    timeout = classify_exception(httpx.ReadTimeout("slow"), "http://x", 2.0)
    assert (timeout.kind, str(timeout)) == ("timeout", "Notion did not answer within 2s (timeout)")
    network = classify_exception(httpx.ConnectError("refused"), "http://x", 2.0)
    assert network.kind == "network"
    assert str(network) == "cannot reach Notion at http://x: refused"
    assert "DNS" in network.hint


def test_bucket_allows_a_burst_then_spaces_requests() -> None:
    bucket = TokenBucket(rate=2.0, burst=3, now=0.0)
    assert [bucket.reserve(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.reserve(0.0) == pytest.approx(0.5)
    assert bucket.reserve(0.0) == pytest.approx(1.0)
    # After a quiet spell the bucket refills up to the burst, not beyond.
    assert [bucket.reserve(10.0) for _ in range(4)] == pytest.approx([0, 0, 0, 0.5])


def test_bucket_refuses_a_slot_past_the_deadline_without_booking_it() -> None:
    bucket = TokenBucket(rate=1.0, burst=1, now=0.0)
    assert bucket.reserve(0.0) == 0.0
    assert bucket.reserve(0.0, max_wait=0.5) is None
    assert bucket.reserve(0.0) == pytest.approx(1.0)  # the refused call booked nothing


def test_bucket_pause_holds_everyone_then_paces_without_burst() -> None:
    bucket = TokenBucket(rate=2.0, burst=5, now=0.0)
    bucket.pause(until=3.0)
    assert [bucket.reserve(1.0) for _ in range(4)] == pytest.approx([2.0, 2.5, 3.0, 3.5])
    single = TokenBucket(rate=2.0, burst=1, now=0.0)
    single.pause(until=3.0)
    assert [single.reserve(1.0) for _ in range(2)] == pytest.approx([2.0, 2.5])


def test_bucket_pause_starts_the_queue_again_at_its_end() -> None:
    bucket = TokenBucket(rate=1.0, burst=1, now=0.0)
    booked = [bucket.reserve(0.0) for _ in range(10)]  # slots 0..9 s
    assert booked[-1] == pytest.approx(9.0)
    bucket.pause(until=2.0)  # those slots are void: their callers book again (RateLimiter)
    assert bucket.reserve(0.0) == pytest.approx(2.0)
    bucket.pause(until=1.0)  # an earlier end never shortens the pause
    assert bucket.paused_until == 2.0


def test_limiter_books_again_when_a_429_arrives_while_it_waits() -> None:
    clock = FakeClock(0.0)

    async def sleep(seconds: float) -> None:
        await asyncio.sleep(0)  # others run while it sleeps: here, the 429 arrives
        await clock.sleep(seconds)

    limiter = RateLimiter(rate=1.0, burst=1, clock=clock, sleep=sleep)

    async def scenario() -> list[float]:
        assert await limiter.acquire() == 0.0
        waiting = asyncio.ensure_future(limiter.acquire())  # its slot: 1 s from now
        await asyncio.sleep(0)
        await limiter.pause(5.0, slow_down=True)  # a 429 meanwhile, Retry-After 5 s
        return [await waiting, clock.now]

    waited, now = asyncio.run(scenario())
    assert now == pytest.approx(5.0) and waited == pytest.approx(5.0)


def test_limiter_sleeps_for_its_slot_and_reports_the_wait() -> None:
    clock = FakeClock(0.0)
    limiter = RateLimiter(rate=4.0, burst=1, clock=clock, sleep=clock.sleep)

    async def take(n: int) -> list[float]:
        return [await limiter.acquire() for _ in range(n)]

    assert asyncio.run(take(3)) == pytest.approx([0.0, 0.25, 0.25])
    assert clock.now == pytest.approx(0.5)


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    delays = [backoff_delay(n, rng=lambda: 1.0) for n in range(8)]
    assert delays[:3] == [0.5, 1.0, 2.0]
    assert max(delays) == BACKOFF_CAP
    assert backoff_delay(0, rng=lambda: 0.0) == 0.25
    assert retry_after_delay(2.0, rng=lambda: 1.0) == pytest.approx(2.1)


# --- the retry policy -------------------------------------------------------------------------


def run(coroutine):
    return asyncio.run(coroutine)


def test_429_waits_retry_after_then_succeeds_and_is_recorded() -> None:
    clock = FakeClock()
    store = Store.memory()
    svc = service([notion_json(429, "rate_limited", **{"Retry-After": "2"}),
                   httpx.Response(200, json=BOT)], clock, store=store)
    reply = run(svc.me(deadline=clock() + 30))
    assert reply.body["name"] == "ops bot"
    assert (reply.attempts, reply.waited) == (2, pytest.approx(2.0))
    rows = list(store.query("SELECT * FROM notion_requests ORDER BY id"))
    assert [(r["endpoint"], r["status"], r["error"], r["attempt"]) for r in rows] == [
        ("/v1/users/me", 429, "rate_limited", 0), ("/v1/users/me", 200, "", 1)]
    assert rows[0]["retry_after"] == 2.0
    assert rows[1]["waited"] == pytest.approx(2.0)


def test_retry_after_as_http_date_is_honoured() -> None:
    clock = FakeClock()
    svc = service([], clock)
    wall = svc.clock()
    date = email.utils.formatdate(wall + 3, usegmt=True)
    svc = service([notion_json(429, "rate_limited", **{"Retry-After": date}),
                   httpx.Response(200, json=BOT)], clock)
    reply = run(svc.me(deadline=clock() + 30))
    assert reply.waited == pytest.approx(3.0)


@pytest.mark.parametrize("first", [
    notion_json(500, "internal_server_error"),
    notion_json(503, "service_unavailable"),
    notion_json(529, "service_overload"),
    httpx.Response(502, text="<html>502 Bad Gateway</html>", headers={"Content-Type": "text/html"}),
    notion_json(504, "gateway_timeout"),
    httpx.ReadTimeout("slow"),
    httpx.ConnectError("refused"),
])
def test_transient_failures_are_retried_with_backoff(first) -> None:
    clock = FakeClock()
    svc = service([first, httpx.Response(200, json={"results": []})], clock)
    reply = run(svc.query(f"data_sources/{DB_ID}/query", {"page_size": 1},
                          deadline=clock() + 30))
    assert reply.attempts == 2
    assert clock.slept == [0.25]  # backoff_delay(0) with rng 0


def test_permanent_failures_are_not_retried() -> None:
    clock = FakeClock()
    seen: list[httpx.Request] = []
    svc = service([notion_json(401, "unauthorized", "API token is invalid.")], clock, seen=seen)
    with pytest.raises(NotionError) as caught:
        run(svc.me(deadline=clock() + 30))
    assert caught.value.kind == "revoked"
    assert len(seen) == 1


def test_retries_stop_at_max_retries() -> None:
    clock = FakeClock()
    seen: list[httpx.Request] = []
    svc = service([notion_json(529, "service_overload")], clock, seen=seen, max_retries=2)
    with pytest.raises(NotionError) as caught:
        run(svc.me(deadline=clock() + 60))
    assert (caught.value.kind, caught.value.attempts, len(seen)) == ("overloaded", 3, 3)
    assert clock.slept == [0.25, 0.5]


def test_a_retry_after_beyond_the_deadline_is_not_waited_for() -> None:
    clock = FakeClock()
    svc = service([notion_json(429, "rate_limited", **{"Retry-After": "30"})], clock)
    with pytest.raises(NotionError) as caught:
        run(svc.me(deadline=clock() + 5))
    assert str(caught.value) == "rate limited until 22:30:30 (Retry-After 30 s)"
    assert caught.value.paused_until == 1_700_000_000.0 + 1030
    assert clock.now == 1000.0  # nothing slept


def test_the_limiter_wait_counts_against_the_deadline() -> None:
    clock = FakeClock()
    svc = service([httpx.Response(200, json=BOT)], clock, rate_limit=0.1, burst=1)
    run(svc.me(deadline=clock() + 5))
    with pytest.raises(NotionError) as caught:
        run(svc.me(deadline=clock() + 5))
    assert caught.value.kind == "no_slot"


def test_no_token_fails_before_any_request() -> None:
    clock = FakeClock()
    seen: list[httpx.Request] = []
    svc = service([httpx.Response(200, json=BOT)], clock, seen=seen, token=None)
    with pytest.raises(NotionError, match="no Notion token configured"):
        run(svc.me(deadline=clock() + 5))
    assert seen == []


def test_requests_carry_token_and_version_but_rows_and_errors_never_the_token() -> None:
    clock = FakeClock()
    store = Store.memory()
    seen: list[httpx.Request] = []
    svc = service([notion_json(401, "unauthorized")], clock, store=store, seen=seen,
                  notion_version="2022-06-28")
    with pytest.raises(NotionError) as caught:
        run(svc.retrieve_database(DB_ID, deadline=clock() + 5))
    assert seen[0].headers["Authorization"] == f"Bearer {CANARY}"
    assert seen[0].headers["Notion-Version"] == "2022-06-28"
    assert CANARY not in str(caught.value) and CANARY not in json.dumps(caught.value.details())
    dump = "\n".join(str(row) for row in store.conn.execute("SELECT * FROM notion_requests"))
    assert "/v1/databases/{id}" in dump
    assert CANARY not in dump and DB_ID not in dump


@pytest.mark.parametrize(("answer", "verdict"), [
    (httpx.Response(200, json=BOT), "live"),
    (notion_json(401, "unauthorized"), "revoked"),
    (notion_json(403, "restricted_resource"), "live"),
    (notion_json(400, "validation_error"), "unknown"),
])
def test_probe_token_uses_the_given_token(answer, verdict) -> None:
    clock = FakeClock()
    store = Store.memory()
    seen: list[httpx.Request] = []
    other = "secret_" + "x" * 43
    svc = service([answer], clock, store=store, seen=seen)
    assert run(svc.probe_token(other)) == verdict
    assert seen[0].headers["Authorization"] == f"Bearer {other}"
    assert [r["purpose"] for r in store.query("SELECT purpose FROM notion_requests")] == [
        "token_probe"]


def test_probe_token_never_sends_the_configured_token_for_an_empty_one() -> None:
    clock = FakeClock()
    seen: list[httpx.Request] = []
    svc = service([httpx.Response(200, json=BOT)], clock, seen=seen)
    assert run(svc.probe_token("  ")) == "unknown"
    assert seen == []


def test_old_request_log_rows_are_pruned_when_the_service_starts() -> None:
    clock = FakeClock()
    store = Store.memory()
    wall = 1_700_000_000.0 + clock.now
    retention = NotionConfig().request_log_retention
    for age in (retention + 60, retention - 60):
        store.conn.execute(
            "INSERT INTO notion_requests (time, method, endpoint, latency)"
            " VALUES (?, 'GET', '/v1/users/me', 0)", (wall - age,),
        )
    service([httpx.Response(200, json=BOT)], clock, store=store)
    times = [r[0] for r in store.conn.execute("SELECT time FROM notion_requests")]
    assert times == [wall - retention + 60]


def test_data_sources_are_reused_for_queries_but_reread_for_schemas() -> None:
    clock = FakeClock()
    seen: list[httpx.Request] = []
    database = {"object": "database", "title": [{"plain_text": "Tasks"}],
                "data_sources": [{"id": DB_ID, "name": "Tasks"}]}
    source = {"object": "data_source", "properties": {"Name": {"type": "title"}}}

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=database if "/databases/" in request.url.path else source)

    svc = NotionService(
        NotionConfig(token=CANARY, base_url="https://notion.test", rate_limit=1000, burst=100),
        transport=httpx.MockTransport(answer), monotonic=clock, sleep=clock.sleep,
    )

    async def go() -> None:
        for _ in range(3):
            [plain] = await svc.sources(DB_ID, deadline=clock() + 5, with_schema=False)
            assert plain.query_path == f"data_sources/{DB_ID}/query"
        [full] = await svc.sources(DB_ID, deadline=clock() + 5)
        assert full.properties == {"Name": "title"}

    run(go())
    assert [endpoint_template(r.url.path) for r in seen] == [
        "/v1/databases/{id}", "/v1/databases/{id}", "/v1/data_sources/{id}"]
