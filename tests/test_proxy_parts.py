"""The proxy's pure parts: request limits, retries and duplicate creates, endpoint templates,
request heads, the retry tax and the source selection."""

from __future__ import annotations

import json

import pytest

from opsd.checks.notion_traffic import limits_summary, retry_tax_summary, select
from opsd.proxy.budget import bearer_token
from opsd.proxy.endpoints import integration_endpoint
from opsd.proxy.limits import LimitCounts, count_limits
from opsd.proxy.repeats import Repeats, create_key, request_key
from opsd.proxy.wire import BadRequest, parse_request


def text(content: str) -> dict:
    return {"type": "text", "text": {"content": content}}


def paragraph(*parts: dict, children: list | None = None) -> dict:
    block: dict = {"object": "block", "type": "paragraph", "paragraph": {"rich_text": list(parts)}}
    if children is not None:
        block["paragraph"]["children"] = children
    return block


def body(value: object) -> bytes:
    return json.dumps(value).encode()


def test_limits_count_long_texts_long_arrays_many_blocks_and_big_bodies() -> None:
    assert count_limits("POST", body({"children": [paragraph(text("a" * 2001))]})) == \
        LimitCounts(exceeded=1)
    assert count_limits("PATCH", body({"children": [paragraph(text("a" * 1900))]})) == \
        LimitCounts(near=1)
    assert count_limits("POST", body({"children": [paragraph(text("ok"))] * 101})).exceeded == 1
    nested = [paragraph(text("x"), children=[paragraph(text("y"))] * 99)] * 10  # 1,000 blocks
    counts = count_limits("PATCH", body({"children": nested}))
    assert counts == LimitCounts(near=10 + 1)  # ten arrays of 99, and 1,000 blocks of 1,000
    big = count_limits("POST", body({"children": [paragraph(text("z" * 1500))] * 90} | {
        "pad": "p" * 400_000}))
    assert big.exceeded == 1  # over 500 KB
    assert count_limits("GET", body({"children": [paragraph(text("a" * 5000))]})).exceeded == 0
    assert count_limits("POST", b"not json") == LimitCounts()


def test_a_retry_is_the_same_request_after_a_retryable_failure() -> None:
    repeats = Repeats()
    key = request_key("budget", "POST", "/v1/databases/x/query", b"{}")
    assert repeats.arrive(key, None, now=0.0).attempt == 0
    repeats.answered(key, None, status=429, attempt=0, took=0.2, now=0.2)
    retry = repeats.arrive(key, None, now=1.2)
    assert (retry.attempt, retry.client_wait, retry.redo) == (1, pytest.approx(1.0), 0.0)
    repeats.answered(key, None, status=502, attempt=1, took=0.5, now=1.7)
    again = repeats.arrive(key, None, now=2.7)
    assert (again.attempt, again.redo) == (2, 0.5)  # a 5xx's time is redone; a 429's is not
    repeats.answered(key, None, status=200, attempt=2, took=0.1, now=2.8)
    assert repeats.arrive(key, None, now=3.0).attempt == 0  # answered: a new request
    other = request_key("budget", "POST", "/v1/databases/x/query", b'{"a":1}')
    repeats.answered(other, None, status=500, attempt=0, took=0.1, now=10.0)
    assert repeats.arrive(other, None, now=200.0).attempt == 0  # too late to be its retry


def test_a_create_repeated_while_unanswered_or_after_a_timeout_is_a_likely_duplicate() -> None:
    repeats = Repeats()
    page = body({"parent": {"database_id": "d"}, "properties": {}})
    create = create_key("budget", page)
    assert create is not None and create_key("budget", b"[]") is None
    key = request_key("budget", "POST", "/v1/pages", page)
    assert not repeats.arrive(key, create, now=0.0).likely_duplicate
    assert repeats.arrive(key, create, now=5.0).likely_duplicate  # the first is in flight
    repeats.answered(key, create, status=None, attempt=0, took=30.0, now=30.0)
    repeats.answered(key, create, status=200, attempt=0, took=1.0, now=31.0)
    assert repeats.arrive(key, create, now=60.0).likely_duplicate  # 30 s after a timeout
    repeats.answered(key, create, status=200, attempt=0, took=1.0, now=61.0)
    assert not repeats.arrive(key, create, now=62.0).likely_duplicate


def test_endpoint_templates_never_hold_an_id() -> None:
    assert integration_endpoint("/v1/pages/59833787-2cf9-4fdf-8782-e53db20768a5/properties/"
                                "%3AUPp") == "/v1/pages/{id}/properties/{id}"
    assert integration_endpoint("/v1/blocks/abc123/children") == "/v1/blocks/{id}/children"
    assert integration_endpoint("/v1/users/me") == "/v1/users/me"
    assert integration_endpoint("/secret_token_here") == "/{id}"


def test_request_heads_are_kept_as_sent_and_hop_by_hop_headers_dropped() -> None:
    request = parse_request([b"POST /v1/search?x=1 HTTP/1.1\r\n", b"Host: proxy\r\n",
                             b"Authorization: Bearer t0k\r\n", b"Connection: keep-alive, X-Hop\r\n",
                             b"X-Hop: 1\r\n", b"Notion-Version: 2022-06-28\r\n",
                             b"Content-Length: 2\r\n"])
    assert (request.target, request.path, request.keep_alive) == ("/v1/search?x=1",
                                                                 "/v1/search", True)
    assert request.forwarded_headers() == [("Authorization", "Bearer t0k"),
                                           ("Notion-Version", "2022-06-28")]
    with pytest.raises(BadRequest):
        parse_request([b"GET http://elsewhere/ HTTP/1.1\r\n"])  # not a proxy for any host
    assert bearer_token("Bearer abc") == "abc" and bearer_token("Basic abc") is None


def row(**values: object) -> dict:
    base = {"source": "integration", "purpose": "forward", "status": 200, "error": "",
            "waited": 0.0, "latency": 1.0, "attempt": 0, "client_wait": 0.0, "redo": 0.0,
            "limits_exceeded": 0, "limits_near": 0, "likely_duplicate": 0, "endpoint": "/v1/x"}
    return base | values


def test_the_retry_tax_counts_429s_client_waits_and_redone_attempts() -> None:
    rows = [row(status=429, latency=0.5, waited=0.5),  # 1 s lost to a 429
            row(attempt=1, client_wait=2.0, latency=1.0),  # its retry after a 2 s sleep
            row(status=502, latency=1.0),  # 1 s redone by the next retry
            row(attempt=1, client_wait=1.0, redo=1.0, latency=1.0),
            row(latency=4.0, waited=1.0)]  # 1 s of pacing is not tax
    stats = retry_tax_summary(rows)
    assert stats["seconds_total"] == pytest.approx(1 + 3 + 1 + 2 + 5)
    assert stats["seconds_wasted"] == pytest.approx(1 + 2 + 1 + 1)
    assert stats["retry_tax"] == pytest.approx(5 / 12)
    assert retry_tax_summary([])["retry_tax"] == 0.0


def test_sources_and_limit_counts() -> None:
    rows = [row(), row(source="opsd", purpose="check"), row(source="opsd", purpose="token_probe"),
            row(status=409, error="conflict_error", limits_exceeded=2, likely_duplicate=1)]
    assert len(select(rows, "integration")) == 2
    assert len(select(rows, "opsd")) == 2 and len(select(rows, "opsd", checks_only=True)) == 1
    assert len(select(rows, "all", checks_only=True)) == 3
    stats = limits_summary(rows)
    assert (stats["limits_exceeded"], stats["conflicts"], stats["likely_duplicates"]) == (2, 1, 1)
