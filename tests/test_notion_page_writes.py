"""Page writes through the shared NotionService (opsd.notion.pages) over httpx.MockTransport
with an injected clock: a write that may have been done is never sent twice, a 429 is
retried, reads page through every block, and every request is logged as the caller's."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from test_notion_client import FakeClock, notion_json, service

from opsd.notion import pages
from opsd.notion.errors import NotionError
from opsd.store import Store

PAGE = "1f2e3d4c-5b6a-4789-8abc-def012345678"
PARAGRAPH = {"type": "paragraph", "paragraph": {"rich_text": []}}


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


@pytest.mark.parametrize("failure", [
    notion_json(500, "internal_server_error"), notion_json(503, "service_unavailable"),
    httpx.ReadTimeout("slow"),
])
def test_a_create_that_may_have_been_done_is_not_sent_again(failure) -> None:
    clock = FakeClock()
    seen: list[httpx.Request] = []
    svc = service([failure, httpx.Response(200, json={"id": PAGE})], clock, seen=seen)
    with pytest.raises(NotionError):
        run(pages.create_page(svc, {"data_source_id": PAGE}, {}, [PARAGRAPH],
                              deadline=clock() + 60, purpose="report"))
    assert len(seen) == 1


def test_an_append_refused_with_429_is_sent_again_after_retry_after() -> None:
    clock = FakeClock()
    seen: list[httpx.Request] = []
    limited = notion_json(429, "rate_limited", **{"Retry-After": "2"})
    svc = service([limited, httpx.Response(200, json={"results": []})], clock, seen=seen)
    run(pages.append_blocks(svc, PAGE, [PARAGRAPH], deadline=clock() + 60, purpose="report"))
    assert len(seen) == 2 and sum(clock.slept) >= 2
    assert seen[1].method == "PATCH" and seen[1].url.path == f"/v1/blocks/{PAGE}/children"
    assert json.loads(seen[1].content) == {"children": [PARAGRAPH]}


def test_a_delete_is_idempotent_and_retried_after_a_5xx() -> None:
    clock = FakeClock()
    seen: list[httpx.Request] = []
    svc = service([notion_json(502, "bad_gateway"), httpx.Response(200, json={})], clock,
                  seen=seen)
    run(pages.delete_block(svc, PAGE, deadline=clock() + 60, purpose="report"))
    assert [r.method for r in seen] == ["DELETE", "DELETE"]


def test_an_append_of_more_than_100_blocks_is_refused_before_sending() -> None:
    clock = FakeClock()
    seen: list[httpx.Request] = []
    svc = service([httpx.Response(200, json={})], clock, seen=seen)
    with pytest.raises(ValueError, match="at most 100 blocks"):
        run(pages.append_blocks(svc, PAGE, [PARAGRAPH] * 101, deadline=clock() + 60,
                                purpose="report"))
    assert seen == []


def test_child_blocks_follows_the_cursor_and_logs_each_request_as_the_callers() -> None:
    clock = FakeClock()
    store = Store.memory()
    seen: list[httpx.Request] = []
    first = {"results": [{"id": "a"}], "has_more": True, "next_cursor": "cursor-2"}
    last = {"results": [{"id": "b"}], "has_more": False, "next_cursor": None}
    svc = service([httpx.Response(200, json=first), httpx.Response(200, json=last)], clock,
                  store=store, seen=seen)
    found = run(pages.child_blocks(svc, PAGE, deadline=clock() + 60, purpose="report"))
    assert [b["id"] for b in found] == ["a", "b"]
    assert [dict(r.url.params) for r in seen] == [
        {"page_size": "100"}, {"page_size": "100", "start_cursor": "cursor-2"}]
    rows = store.query("SELECT purpose, method, endpoint FROM notion_requests")
    assert [(r["purpose"], r["method"], r["endpoint"]) for r in rows] == [
        ("report", "GET", "/v1/blocks/{id}/children")] * 2
