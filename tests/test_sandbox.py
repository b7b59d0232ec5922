"""The Notion API sandbox over real HTTP: both Notion-Versions, errors, pagination, filters,
rate limit, every fault, the admin API and the `opsd sandbox` verb as a subprocess."""

from __future__ import annotations

import datetime as dt
import email.utils
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from conftest import REPO

from opsd.notion.tokens import token_shape
from opsd.sandbox import DATA_SOURCES, DATABASES, SANDBOX_TOKEN, Sandbox, SandboxError
from opsd.sandbox.limiter import TokenBuckets, retry_after_seconds
from opsd.sandbox.workspace import WORKSPACE_SPEC

NEW = "2025-09-03"
OLD = "2022-06-28"
TASKS = DATA_SOURCES["Task Management"]["Tasks"]
BOTTLENECKS = DATABASES["Bottlenecks Registry"]
BOTTLENECKS_DS = DATA_SOURCES["Bottlenecks Registry"]["Bottlenecks Registry"]


HANG = 60.0  # a deadline that only bounds a hang: local requests answer in milliseconds
_TLS = ssl.create_default_context()  # made once: loading the CA bundle costs ~25 ms a client
CLIENT: httpx.Client  # one per test (`_client`), so no pooled connection outlives its test


@pytest.fixture(autouse=True)
def _client() -> Iterator[None]:
    global CLIENT
    with httpx.Client(timeout=HANG, verify=_TLS) as CLIENT:
        yield


def call(sb: Sandbox, method: str, path: str, *, version: str | None = NEW,
         token: str | None = SANDBOX_TOKEN, json: object = None,
         timeout: float | httpx.Timeout = HANG) -> httpx.Response:
    headers = {}
    if version is not None:
        headers["Notion-Version"] = version
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return CLIENT.request(method, sb.url + path, headers=headers, json=json, timeout=timeout)


def query(sb: Sandbox, ds_id: str, body: dict | None = None) -> httpx.Response:
    return call(sb, "POST", f"/v1/data_sources/{ds_id}/query", json=body or {})


def all_pages(sb: Sandbox, ds_id: str, body: dict | None = None) -> list[dict]:
    """Every result of a query, following next_cursor."""
    results: list[dict] = []
    body = dict(body or {}, page_size=100)
    while True:
        page = query(sb, ds_id, body).json()
        results += page["results"]
        if not page["has_more"]:
            return results
        body["start_cursor"] = page["next_cursor"]


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["object"] == "error"
    assert body["status"] == status
    assert body["code"] == code
    assert body["message"]
    assert len(body["request_id"]) == 36
    return body


def value_of(page: dict, prop: str):
    """The plain value of a page property (option name, text, date start, bool...)."""
    item = page["properties"][prop]
    raw = item[item["type"]]
    if item["type"] in ("title", "rich_text"):
        return "".join(part["plain_text"] for part in raw)
    if item["type"] in ("select", "status"):
        return raw and raw["name"]
    if item["type"] == "date":
        return raw and raw["start"]
    return raw


# -- identity, versions, schema placement ---------------------------------------------------


def test_token_is_shaped_like_a_real_one_and_obviously_fake():
    assert SANDBOX_TOKEN.startswith("ntn_")
    assert len(SANDBOX_TOKEN) == 50
    assert SANDBOX_TOKEN[4:].isalnum() and token_shape(SANDBOX_TOKEN) == "ntn"
    assert "Sandbox" in SANDBOX_TOKEN and "Fake" in SANDBOX_TOKEN


def test_database_ids_are_stable_constants_for_the_seed_databases():
    assert list(DATABASES) == ["Bottlenecks Registry", "Optimization Fixes", "Testing Results",
                               "Deployment Log", "Task Management"]
    assert DATABASES["Bottlenecks Registry"] == "f25e3632-d89b-5a3b-8bfa-8f3218d111f3"
    assert list(DATA_SOURCES["Task Management"]) == ["Tasks", "Sprint Backlog"]


def test_users_me_is_the_bot_with_its_workspace(sandbox):
    response = call(sandbox, "GET", "/v1/users/me", version=OLD)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    me = response.json()
    assert me["object"] == "user" and me["type"] == "bot"
    assert me["bot"]["owner"] == {"type": "workspace", "workspace": True}
    assert me["bot"]["workspace_name"] == "AgSense ERP (CARD MRI Pilot)"


def test_old_version_puts_the_schema_on_the_database(sandbox):
    db = call(sandbox, "GET", f"/v1/databases/{BOTTLENECKS}", version=OLD).json()
    assert db["object"] == "database" and db["id"] == BOTTLENECKS
    assert "data_sources" not in db
    assert db["title"][0]["plain_text"] == "Bottlenecks Registry"
    assert db["properties"]["Bottleneck Name"]["type"] == "title"
    severity = db["properties"]["Severity"]
    assert severity["type"] == "select"
    assert [o["name"] for o in severity["select"]["options"]] == ["Critical", "High", "Medium"]
    assert db["properties"]["Environment"]["type"] == "multi_select"


def test_old_version_has_no_data_source_endpoints(sandbox):
    assert_error(call(sandbox, "GET", f"/v1/data_sources/{BOTTLENECKS_DS}", version=OLD),
                 400, "invalid_request_url")


def test_old_version_queries_the_database_with_database_parents(sandbox):
    response = call(sandbox, "POST", f"/v1/databases/{BOTTLENECKS}/query", version=OLD,
                    json={"page_size": 2})
    body = response.json()
    assert body["object"] == "list" and body["type"] == "page_or_database"
    assert body["results"][0]["parent"] == {"type": "database_id", "database_id": BOTTLENECKS}


def test_old_version_rejects_a_database_with_two_data_sources(sandbox):
    body = assert_error(call(sandbox, "GET", f"/v1/databases/{DATABASES['Task Management']}",
                             version=OLD), 400, "validation_error")
    assert "multiple data sources" in body["message"]


def test_new_version_lists_data_sources_and_keeps_the_schema_there(sandbox):
    db = call(sandbox, "GET", f"/v1/databases/{DATABASES['Task Management']}").json()
    assert "properties" not in db
    assert db["data_sources"] == [{"id": TASKS, "name": "Tasks"},
                                  {"id": DATA_SOURCES["Task Management"]["Sprint Backlog"],
                                   "name": "Sprint Backlog"}]
    tasks = call(sandbox, "GET", f"/v1/data_sources/{TASKS}").json()
    backlog = call(sandbox, "GET", f"/v1/data_sources/{db['data_sources'][1]['id']}").json()
    assert tasks["object"] == "data_source"
    assert tasks["parent"] == {"type": "database_id", "database_id": db["id"]}
    assert tasks["properties"]["Status"]["type"] == "status"
    assert [g["name"] for g in tasks["properties"]["Status"]["status"]["groups"]] == [
        "To-do", "In progress", "Complete"]
    assert "Story Points" in backlog["properties"] and "Story Points" not in tasks["properties"]


def test_new_version_relation_names_the_target_data_source(sandbox):
    fixes = DATA_SOURCES["Optimization Fixes"]["Optimization Fixes"]
    relation = call(sandbox, "GET", f"/v1/data_sources/{fixes}").json()[
        "properties"]["Related Bottleneck"]["relation"]
    assert relation["data_source_id"] == BOTTLENECKS_DS
    assert relation["database_id"] == BOTTLENECKS
    legacy = call(sandbox, "GET", f"/v1/databases/{DATABASES['Optimization Fixes']}",
                  version=OLD).json()["properties"]["Related Bottleneck"]["relation"]
    assert "data_source_id" not in legacy


def test_new_version_has_no_database_query(sandbox):
    assert_error(call(sandbox, "POST", f"/v1/databases/{BOTTLENECKS}/query", json={}),
                 400, "invalid_request_url")


def test_ids_are_accepted_without_dashes(sandbox):
    response = call(sandbox, "GET", f"/v1/data_sources/{BOTTLENECKS_DS.replace('-', '')}")
    assert response.status_code == 200
    assert response.json()["id"] == BOTTLENECKS_DS


def test_every_seed_property_exists_with_its_type(sandbox):
    for spec in WORKSPACE_SPEC:
        for source in spec.sources:
            ds_id = DATA_SOURCES[spec.name][source.name]
            schema = call(sandbox, "GET", f"/v1/data_sources/{ds_id}").json()["properties"]
            assert {n: p["type"] for n, p in schema.items()} == {
                p.name: p.type for p in source.properties}


def test_pages_carry_typed_values(sandbox):
    page = query(sandbox, BOTTLENECKS_DS, {"page_size": 1}).json()["results"][0]
    assert page["object"] == "page"
    assert page["parent"] == {"type": "data_source_id", "data_source_id": BOTTLENECKS_DS,
                              "database_id": BOTTLENECKS}
    props = page["properties"]
    assert props["Bottleneck Name"]["title"][0]["type"] == "text"
    assert set(props) == {p.name for p in WORKSPACE_SPEC[0].sources[0].properties}
    assert all(person["object"] == "user" for person in props["Assigned To"]["people"])
    assert page["created_time"].endswith(".000Z")


# -- errors -----------------------------------------------------------------------------------


def test_missing_authorization_is_unauthorized(sandbox):
    body = assert_error(call(sandbox, "GET", "/v1/users/me", token=None), 401, "unauthorized")
    assert body["message"] == "API token is invalid."


def test_unknown_token_is_unauthorized(sandbox):
    assert_error(call(sandbox, "GET", "/v1/users/me", token="ntn_" + "x" * 46), 401,
                 "unauthorized")


def test_missing_version_header(sandbox):
    body = assert_error(call(sandbox, "GET", "/v1/users/me", version=None), 400,
                        "missing_version")
    assert "Notion-Version" in body["message"]


def test_unknown_version_is_a_validation_error(sandbox):
    body = assert_error(call(sandbox, "GET", "/v1/users/me", version="2021-01-01"), 400,
                        "validation_error")
    assert "2021-01-01" in body["message"]


def test_unknown_database_is_not_found_with_notion_wording(sandbox):
    missing = "be907abe-510e-4116-a3d1-7ea71018c06f"
    body = assert_error(call(sandbox, "GET", f"/v1/databases/{missing}"), 404,
                        "object_not_found")
    assert body["message"] == (f"Could not find database with ID: {missing}. Make sure the "
                               "relevant pages and databases are shared with your integration.")


def test_malformed_id_invalid_json_and_unknown_path(sandbox):
    assert_error(call(sandbox, "GET", "/v1/databases/not-a-uuid"), 400, "validation_error")
    response = CLIENT.post(f"{sandbox.url}/v1/search", content=b"{oops",
                          headers={"Authorization": f"Bearer {SANDBOX_TOKEN}",
                                   "Notion-Version": NEW})
    assert_error(response, 400, "invalid_json")
    assert_error(call(sandbox, "GET", "/v1/blocks/abc/children"), 400, "validation_error")
    assert_error(call(sandbox, "GET", "/v1/comments"), 400, "invalid_request_url")


@pytest.mark.parametrize(("status", "code"), [
    (401, "unauthorized"), (403, "restricted_resource"), (429, "rate_limited"),
    (500, "internal_server_error"), (503, "service_unavailable"), (504, "gateway_timeout"),
    (529, "service_overload"),
])
def test_injected_json_errors(sandbox, status, code):
    sandbox.fail(status=status, count=1)
    assert sandbox.faults["errors"][0]["status"] == status
    response = call(sandbox, "GET", "/v1/users/me")
    assert_error(response, status, code)
    assert response.reason_phrase  # 529 too: "Site Overloaded"
    assert ("retry-after" in response.headers) is (status == 429)
    assert call(sandbox, "GET", "/v1/users/me").status_code == 200


def test_injected_502_is_an_html_gateway_page(sandbox):
    sandbox.fail(status=502, count=1)
    response = call(sandbox, "GET", "/v1/users/me")
    assert response.status_code == 502
    assert response.headers["content-type"] == "text/html"
    assert response.text.startswith("<html>") and "502 Bad Gateway" in response.text


def test_fail_rejects_a_status_it_cannot_inject(sandbox):
    with pytest.raises(SandboxError, match="cannot be injected"):
        sandbox.fail(status=418)


# -- pagination, filters, sorts, search --------------------------------------------------------


def test_pagination_walks_every_page_once(sandbox):
    seen: list[str] = []
    sizes = []
    body: dict = {"page_size": 25}
    while True:
        page = query(sandbox, TASKS, body).json()
        sizes.append(len(page["results"]))
        seen += [r["id"] for r in page["results"]]
        assert page["has_more"] is (page["next_cursor"] is not None)
        if not page["has_more"]:
            break
        body["start_cursor"] = page["next_cursor"]
    assert sizes == [25, 25, 10]
    assert len(set(seen)) == 60


def test_page_size_and_cursor_validation(sandbox):
    assert_error(query(sandbox, TASKS, {"page_size": 101}), 400, "validation_error")
    assert_error(query(sandbox, TASKS, {"page_size": 0}), 400, "validation_error")
    assert_error(query(sandbox, TASKS, {"start_cursor": "nope"}), 400, "validation_error")


def test_select_filter_matches_exactly_the_pages_with_that_option(sandbox):
    everything = all_pages(sandbox, BOTTLENECKS_DS)
    critical = all_pages(sandbox, BOTTLENECKS_DS,
                         {"filter": {"property": "Severity", "select": {"equals": "Critical"}}})
    expected = {p["id"] for p in everything if value_of(p, "Severity") == "Critical"}
    assert 0 < len(critical) < len(everything)
    assert {p["id"] for p in critical} == expected


def test_compound_filters(sandbox):
    everything = all_pages(sandbox, TASKS)
    both = {"and": [{"property": "Status", "status": {"equals": "Done"}},
                    {"property": "Priority", "select": {"equals": "High"}}]}
    either = {"or": [{"property": "Status", "status": {"equals": "Done"}},
                     {"property": "Tags", "multi_select": {"contains": "notion"}}]}
    got_and = {p["id"] for p in all_pages(sandbox, TASKS, {"filter": both})}
    got_or = {p["id"] for p in all_pages(sandbox, TASKS, {"filter": either})}
    assert got_and == {p["id"] for p in everything
                       if value_of(p, "Status") == "Done" and value_of(p, "Priority") == "High"}
    assert got_or == {p["id"] for p in everything if value_of(p, "Status") == "Done"
                      or "notion" in [o["name"] for o in value_of(p, "Tags")]}
    assert got_and < got_or


def test_text_checkbox_number_and_date_filters(sandbox):
    fixes = DATA_SOURCES["Optimization Fixes"]["Optimization Fixes"]
    titled = all_pages(sandbox, fixes,
                       {"filter": {"property": "Fix Title", "title": {"contains": "redis"}}})
    assert titled and all("Redis" in value_of(p, "Fix Title") for p in titled)
    live = all_pages(sandbox, fixes,
                     {"filter": {"property": "Production Status", "checkbox": {"equals": True}}})
    assert live and all(value_of(p, "Production Status") is True for p in live)
    big = all_pages(sandbox, TASKS,
                    {"filter": {"property": "Estimate (h)", "number": {"greater_than": 4}}})
    assert big and all(value_of(p, "Estimate (h)") > 4 for p in big)
    since = (sandbox.api.today - dt.timedelta(days=7)).isoformat()
    recent = all_pages(sandbox, TASKS,
                       {"filter": {"property": "Due Date", "date": {"on_or_after": since}}})
    assert recent and all(value_of(p, "Due Date") >= since for p in recent)


def test_timestamp_filter_and_sorts(sandbox):
    tests_ds = DATA_SOURCES["Testing Results"]["Testing Results"]
    ordered = all_pages(sandbox, tests_ds,
                        {"sorts": [{"property": "Test Date", "direction": "ascending"}]})
    dates = [value_of(p, "Test Date") for p in ordered]
    present = [d for d in dates if d is not None]
    assert present == sorted(present)
    assert dates[len(present):] == [None] * (len(dates) - len(present))  # empty values last
    newest = all_pages(sandbox, tests_ds,
                       {"sorts": [{"timestamp": "last_edited_time", "direction": "descending"}]})
    edited = [p["last_edited_time"] for p in newest]
    assert edited == sorted(edited, reverse=True)
    cutoff = sorted(p["created_time"] for p in newest)[len(newest) // 2][:10]
    later = all_pages(sandbox, tests_ds, {"filter": {
        "timestamp": "created_time", "created_time": {"on_or_after": cutoff}}})
    assert 0 < len(later) < len(newest)
    assert all(p["created_time"][:10] >= cutoff for p in later)


@pytest.mark.parametrize("bad_filter", [
    {"property": "Severity", "select": {"resembles": "Critical"}},     # unknown condition
    {"property": "Severity", "checkbox": {"equals": True}},            # wrong type
    {"property": "No Such Column", "select": {"equals": "x"}},         # unknown property
    {"and": [{"or": [{"and": [{"property": "Severity", "select": {"equals": "High"}}]}]}]},
    {"formula": {"string": {"equals": "x"}}},                          # no property named
    [1, 2],
])
def test_unknown_filter_shapes_are_validation_errors(sandbox, bad_filter):
    assert_error(query(sandbox, BOTTLENECKS_DS, {"filter": bad_filter}), 400, "validation_error")


def test_search_finds_data_sources_and_pages_by_title(sandbox):
    body = call(sandbox, "POST", "/v1/search",
                json={"query": "bottleneck", "filter": {"property": "object",
                                                        "value": "data_source"}}).json()
    assert [r["id"] for r in body["results"]] == [BOTTLENECKS_DS]
    pages = call(sandbox, "POST", "/v1/search", json={"query": "Redis"}).json()["results"]
    assert pages and all(r["object"] == "page" for r in pages)
    legacy = call(sandbox, "POST", "/v1/search", version=OLD,
                  json={"filter": {"property": "object", "value": "database"}}).json()
    assert {r["id"] for r in legacy["results"]} == set(DATABASES.values()) - {
        DATABASES["Task Management"]}
    assert_error(call(sandbox, "POST", "/v1/search",
                      json={"filter": {"property": "object", "value": "database"}}),
                 400, "validation_error")


def test_extra_databases_are_generated_and_paginated_in_search():
    with Sandbox(rate=1000, burst=1000, extra_databases=100).start() as sb:
        found = call(sb, "POST", "/v1/search",
                     json={"filter": {"property": "object", "value": "data_source"}}).json()
        assert len(found["results"]) == 100 and found["has_more"]
        rest = call(sb, "POST", "/v1/search",
                    json={"filter": {"property": "object", "value": "data_source"},
                          "start_cursor": found["next_cursor"]}).json()
        assert len(rest["results"]) == 106 - 100
        extra = sb.stats()["databases"]["Generated Database 100"]["id"]
        assert call(sb, "GET", f"/v1/databases/{extra}").status_code == 200


def test_workspace_is_deterministic_for_a_given_day():
    day = dt.date(2025, 9, 3)

    def snapshot() -> list:
        with Sandbox(rate=1000, burst=1000, today=day).start() as sb:
            return [(p["id"], p["properties"], p["created_time"])
                    for p in all_pages(sb, TASKS)]

    first = snapshot()
    assert first == snapshot()
    dates = [value_of({"properties": props}, "Due Date") for _, props, _ in first]
    assert all(d is None or "2025-07-20" <= d <= "2025-10-03" for d in dates)


# -- rate limiting -----------------------------------------------------------------------------


def test_burst_beyond_the_bucket_gets_429_with_retry_after(make_sandbox):
    sb = make_sandbox(rate=1, burst=3, clock=lambda: 100.0)  # no refill while the test runs
    statuses = [call(sb, "GET", "/v1/users/me").status_code for _ in range(3)]
    limited = call(sb, "GET", "/v1/users/me")
    other_token = "ntn_" + "o" * 46
    sb.add_token(other_token)
    assert call(sb, "GET", "/v1/users/me", token=other_token).status_code == 200
    stats = sb.stats()
    assert statuses == [200, 200, 200]
    assert_error(limited, 429, "rate_limited")
    assert limited.headers["retry-after"] == "1"
    assert stats["rate_limited_total"] == 1
    assert stats["rate"] == {"rate": 1, "burst": 3, "retry_after": "seconds"}


def test_rate_limit_retry_after_as_http_date(make_sandbox):
    now = 1_750_000_000.25
    sb = make_sandbox(rate=1, burst=1, clock=lambda: 100.0, wall_clock=lambda: now)
    sb.set_rate(rate=0.5, burst=1, http_date=True)
    assert call(sb, "GET", "/v1/users/me").status_code == 200
    limited = call(sb, "GET", "/v1/users/me")
    assert limited.status_code == 429
    when = email.utils.parsedate_to_datetime(limited.headers["retry-after"])
    # The next token comes in 2 s; a date has whole seconds, rounded up: never too early.
    assert when == dt.datetime.fromtimestamp(1_750_000_001 + 2, dt.UTC)


def test_token_bucket_refills_at_its_rate():
    now = [100.0]
    buckets = TokenBuckets(rate=2, burst=2, clock=lambda: now[0])
    assert [buckets.take("a"), buckets.take("a")] == [0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)
    assert buckets.take("b") == 0.0  # buckets are per token
    now[0] += 0.5
    assert buckets.take("a") == 0.0
    now[0] += 10
    assert [buckets.take("a") for _ in range(3)][:2] == [0.0, 0.0]
    assert retry_after_seconds(0.01) == 1 and retry_after_seconds(1.2) == 2


# -- faults ------------------------------------------------------------------------------------


def test_rate_limit_burst_then_recovery(sandbox):
    sandbox.rate_limit_burst(count=2, retry_after=7)
    first, second, third = (call(sandbox, "GET", "/v1/users/me") for _ in range(3))
    assert [first.status_code, second.status_code, third.status_code] == [429, 429, 200]
    assert first.headers["retry-after"] == "7"
    sandbox.rate_limit_burst(count=1, retry_after=2, http_date=True)
    dated = call(sandbox, "GET", "/v1/users/me")
    assert email.utils.parsedate_to_datetime(dated.headers["retry-after"]).tzinfo is not None
    assert sandbox.stats()["rate_limited_total"] == 3


def test_fail_by_path_prefix_and_for_every_request(sandbox):
    sandbox.fail(status=503, path="/v1/databases")
    assert call(sandbox, "GET", "/v1/users/me").status_code == 200
    assert call(sandbox, "GET", f"/v1/databases/{BOTTLENECKS}").status_code == 503
    assert call(sandbox, "GET", f"/v1/databases/{BOTTLENECKS}").status_code == 503
    sandbox.reset()
    assert call(sandbox, "GET", f"/v1/databases/{BOTTLENECKS}").status_code == 200


def test_fail_a_fraction_of_requests(sandbox):
    sandbox.fail(status=500, fraction=0.5)
    statuses = [call(sandbox, "GET", "/v1/users/me").status_code for _ in range(40)]
    assert set(statuses) == {200, 500}
    assert 8 <= statuses.count(500) <= 32


def test_latency_is_added_globally_and_per_path(sandbox, monkeypatch):
    waited: list[tuple[str, float]] = []
    real_sleep = sandbox.sleep

    def sleep(seconds: float) -> bool:  # record what each request waits, then wait it
        waited.append((threading.current_thread().name, seconds))
        return real_sleep(seconds)

    monkeypatch.setattr(sandbox, "sleep", sleep)
    sandbox.set_latency(0.2)
    assert call(sandbox, "GET", "/v1/users/me").status_code == 200
    sandbox.set_latency(0.0)
    sandbox.set_latency(0.3, path="/v1/search")
    assert call(sandbox, "POST", "/v1/search", json={}).status_code == 200
    assert call(sandbox, "GET", "/v1/users/me").status_code == 200
    assert [seconds for _, seconds in waited] == [0.2, 0.3, 0.0]
    assert sandbox.api.delay_for("/v1/users/me") == 0.0
    assert sandbox.faults["path_latency_seconds"] == {"/v1/search": 0.3}


def test_latency_holds_the_answer(make_sandbox):
    # The real wait, shown without measuring it: an answer 60 s away is not there in 0.2 s.
    sb = make_sandbox(rate=1000, burst=1000)
    sb.set_latency(HANG)
    with pytest.raises(httpx.ReadTimeout):
        call(sb, "GET", "/v1/users/me", timeout=httpx.Timeout(HANG, read=0.2))


def _in_thread(fn: Callable[[], object]) -> tuple[threading.Thread, list]:
    box: list = []
    thread = threading.Thread(target=lambda: box.append(_outcome(fn)))
    thread.start()
    return thread, box


def _outcome(fn: Callable[[], object]) -> object:
    try:
        return fn()
    except httpx.HTTPError as exc:
        return exc


def _wait_for_hung(sb: Sandbox, count: int) -> None:
    event = threading.Event()
    deadline = time.monotonic() + HANG
    while time.monotonic() < deadline:
        if sb.stats()["hung_requests"] == count:
            return
        event.wait(0.01)
    raise AssertionError(f"expected {count} hung requests")


def test_hang_holds_requests_until_released(sandbox):
    sandbox.hang(True)
    with pytest.raises(httpx.ReadTimeout):
        call(sandbox, "GET", "/v1/users/me", timeout=httpx.Timeout(HANG, read=0.2))
    thread, box = _in_thread(lambda: call(sandbox, "GET", "/v1/users/me"))
    _wait_for_hung(sandbox, 2)
    assert sandbox.stats()["faults"]["hanging"] is True
    sandbox.hang(False)
    thread.join(timeout=HANG)
    assert box[0].status_code == 200


def test_stop_drops_hung_requests_unanswered(make_sandbox):
    sb = make_sandbox(rate=1000, burst=1000)
    sb.hang(True)
    thread, box = _in_thread(lambda: call(sb, "GET", "/v1/users/me"))
    _wait_for_hung(sb, 1)
    sb.stop()
    thread.join(timeout=HANG)
    assert isinstance(box[0], httpx.RemoteProtocolError)
    with pytest.raises(httpx.ConnectError):
        call(sb, "GET", "/v1/users/me")


def test_revoked_and_added_tokens(sandbox):
    sandbox.revoke_token(SANDBOX_TOKEN)
    assert_error(call(sandbox, "GET", "/v1/users/me"), 401, "unauthorized")
    rotated = "ntn_" + "r" * 46
    sandbox.add_token(rotated)
    assert call(sandbox, "GET", "/v1/users/me", token=rotated).status_code == 200
    sandbox.reset()
    assert call(sandbox, "GET", "/v1/users/me").status_code == 200
    assert call(sandbox, "GET", "/v1/users/me", token=rotated).status_code == 401


def test_unshare_hides_the_database_its_data_sources_and_search_hits(sandbox):
    sandbox.unshare("Bottlenecks Registry")
    assert_error(call(sandbox, "GET", f"/v1/databases/{BOTTLENECKS}"), 404, "object_not_found")
    body = assert_error(call(sandbox, "GET", f"/v1/data_sources/{BOTTLENECKS_DS}"), 404,
                        "object_not_found")
    assert "data source" in body["message"]
    assert_error(query(sandbox, BOTTLENECKS_DS), 404, "object_not_found")
    found = call(sandbox, "POST", "/v1/search", json={"query": "Bottleneck"}).json()["results"]
    assert found  # other databases' pages still match
    assert all(BOTTLENECKS not in (r["id"], r.get("parent", {}).get("database_id"))
               for r in found)
    sandbox.share(BOTTLENECKS.replace("-", ""))
    assert call(sandbox, "GET", f"/v1/databases/{BOTTLENECKS}").status_code == 200


def test_drop_and_retype_property_change_schema_and_pages(sandbox):
    sandbox.drop_property("Bottlenecks Registry", "Severity")
    sandbox.retype_property("Bottlenecks Registry", "Status", "rich_text")
    schema = call(sandbox, "GET", f"/v1/data_sources/{BOTTLENECKS_DS}").json()["properties"]
    assert "Severity" not in schema
    assert schema["Status"]["type"] == "rich_text"
    legacy = call(sandbox, "GET", f"/v1/databases/{BOTTLENECKS}", version=OLD).json()
    assert "Severity" not in legacy["properties"]
    page = query(sandbox, BOTTLENECKS_DS, {"page_size": 1}).json()["results"][0]
    assert "Severity" not in page["properties"]
    assert page["properties"]["Status"] == {"id": schema["Status"]["id"], "type": "rich_text",
                                            "rich_text": []}
    with pytest.raises(SandboxError, match="no property"):
        sandbox.drop_property("Bottlenecks Registry", "Severity")
    with pytest.raises(SandboxError, match="no database"):
        sandbox.unshare("Nonexistent")
    with pytest.raises(SandboxError, match="cannot retype"):
        sandbox.retype_property("Bottlenecks Registry", "Impact", "hologram")


def test_drift_on_one_data_source_leaves_its_sibling_alone(sandbox):
    sandbox.drop_property("Tasks", "Status")
    backlog = DATA_SOURCES["Task Management"]["Sprint Backlog"]
    assert "Status" not in call(sandbox, "GET", f"/v1/data_sources/{TASKS}").json()["properties"]
    assert "Status" in call(sandbox, "GET", f"/v1/data_sources/{backlog}").json()["properties"]


# -- admin API and stats -----------------------------------------------------------------------


def admin(sb: Sandbox, action: str, body: dict | None = None) -> httpx.Response:
    if body is None and action == "stats":
        return CLIENT.get(f"{sb.url}/__sandbox/stats")
    return CLIENT.post(f"{sb.url}/__sandbox/{action}", json=body or {})


def admin_ok(sb: Sandbox, action: str, body: dict | None = None) -> dict:
    response = admin(sb, action, body)
    assert response.status_code == 200, response.text
    return response.json()


def test_admin_api_drives_the_same_faults(sandbox):
    admin_ok(sandbox, "fail", {"status": 529, "count": 1})
    assert call(sandbox, "GET", "/v1/users/me").status_code == 529
    admin_ok(sandbox, "unshare", {"database": "Deployment Log"})
    assert call(sandbox, "GET", f"/v1/databases/{DATABASES['Deployment Log']}").status_code == 404
    admin_ok(sandbox, "revoke_token", {"token": SANDBOX_TOKEN})
    assert call(sandbox, "GET", "/v1/users/me").status_code == 401
    admin_ok(sandbox, "reset")
    admin_ok(sandbox, "drop_property", {"database": "Testing Results", "prop": "Test Date"})
    admin_ok(sandbox, "rate_limit_burst", {"count": 1, "retry_after": 3})
    assert call(sandbox, "GET", "/v1/users/me").headers["retry-after"] == "3"
    testing = DATA_SOURCES["Testing Results"]["Testing Results"]
    assert "Test Date" not in call(sandbox, "GET", f"/v1/data_sources/{testing}").json()[
        "properties"]
    admin_ok(sandbox, "latency", {"seconds": 0.1})
    admin_ok(sandbox, "rate", {"rate": 5, "burst": 2})
    admin_ok(sandbox, "hang", {"on": False})
    stats = admin_ok(sandbox, "stats")
    assert stats["faults"]["latency_seconds"] == 0.1
    assert stats["rate"]["burst"] == 2


def test_admin_api_rejects_mistakes_in_one_line(sandbox):
    unknown = admin(sandbox, "explode")
    assert unknown.status_code == 404 and "explode" in unknown.json()["error"]
    bad_args = admin(sandbox, "fail", {"colour": "red"})
    assert bad_args.status_code == 400 and "colour" in bad_args.json()["error"]
    bad_db = admin(sandbox, "unshare", {"database": "Nope"})
    assert bad_db.status_code == 400 and "Nope" in bad_db.json()["error"]
    bad_body = CLIENT.post(f"{sandbox.url}/__sandbox/reset", content=b"[1]")
    assert bad_body.status_code == 400


def test_stats_count_by_template_and_status(sandbox):
    call(sandbox, "GET", f"/v1/databases/{BOTTLENECKS}")
    call(sandbox, "GET", f"/v1/databases/{DATABASES['Testing Results']}")
    call(sandbox, "GET", "/v1/users/me", token=None)
    sandbox.rate_limit_burst(count=1)
    call(sandbox, "GET", "/v1/users/me")
    stats = admin(sandbox, "stats").json()
    assert stats["requests"] == {"GET /v1/databases/{id}": {"200": 2},
                                 "GET /v1/users/me": {"401": 1, "429": 1}}
    assert stats["requests_total"] == 4
    assert stats["rate_limited_total"] == 1
    assert all(BOTTLENECKS not in key for key in stats["requests"])


# -- the CLI verb ------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("OPSD_")}


def _serve(*args: str) -> tuple[subprocess.Popen[str], str, str]:
    """`opsd sandbox --port 0 ...` in the background: the process, its first line, its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "opsd", "sandbox", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=_env())
    assert proc.stdout is not None and proc.stderr is not None
    line = proc.stdout.readline()
    found = re.search(r"http://127\.0\.0\.1:\d+", line)
    if not found or found.group().endswith(":0"):
        proc.kill()
        with proc:
            raise AssertionError(line + proc.stderr.read())
    return proc, line, found.group()


def test_cli_serves_until_sigterm_and_exits_zero():
    proc, line, url = _serve("--latency", "10ms")
    with proc:
        try:
            assert SANDBOX_TOKEN not in line and "ntn_…" in line
            assert DATABASES["Task Management"] in line
            response = httpx.get(f"{url}/v1/users/me", timeout=HANG,
                                 headers={"Authorization": f"Bearer {SANDBOX_TOKEN}",
                                          "Notion-Version": NEW})
            assert response.json()["type"] == "bot"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=HANG) == 0
            assert proc.stderr.read() == ""
        finally:
            proc.kill()


def test_cli_fault_flag_applies_from_the_start():
    proc, _, url = _serve("--fault", "529", "--rate", "50", "--burst", "5")
    with proc:
        try:
            stats = httpx.get(f"{url}/__sandbox/stats", timeout=HANG).json()
            assert stats["rate"]["rate"] == 50 and stats["rate"]["burst"] == 5
            response = httpx.get(f"{url}/v1/users/me", timeout=HANG)
            assert response.status_code == 529
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=HANG) == 0
        finally:
            proc.kill()


@pytest.mark.parametrize(("args", "message"), [
    (["--fault", "418"], "--fault: unknown fault '418'"),
    (["--latency", "soon"], "--latency: not a duration"),
    (["--rate", "0"], "sandbox: rate must be > 0"),
])
def test_cli_user_mistakes_are_one_line_and_exit_3(opsd_cli, args, message):
    result = opsd_cli("sandbox", "--port", "0", *args)
    assert result.code == 3
    assert result.err.strip().startswith(f"opsd: {message}")
    assert len(result.err.strip().splitlines()) == 1
    assert "Traceback" not in result.err


def test_cli_port_in_use_is_a_user_error(opsd_cli, sandbox):
    result = opsd_cli("sandbox", "--port", str(sandbox.port))
    assert result.code == 3
    assert f"cannot listen on 127.0.0.1:{sandbox.port}" in result.err
