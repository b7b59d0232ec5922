"""The sandbox's page writes (opsd.sandbox.pages, opsd.sandbox.blocks) through
`NotionApi.handle`, without a socket: pages created in a database, found by a query, their
blocks listed, appended and deleted, trashed and restored, and Notion's limits enforced with
Notion's 400 `validation_error` messages."""

from __future__ import annotations

import json
from typing import Any

import pytest

from opsd.sandbox.api import SANDBOX_TOKEN, NotionApi
from opsd.sandbox.routing import Request
from opsd.sandbox.workspace import DATA_SOURCES, DATABASES

DB = DATABASES["Testing Results"]
DS = DATA_SOURCES["Testing Results"]["Testing Results"]
TITLE = "opsd weekly report 2026-W48"


class Api:
    """A NotionApi and a way to call it as a client would (JSON in, status and JSON out)."""

    def __init__(self, version: str = "2025-09-03", **options: Any) -> None:
        self.api = NotionApi(**{"rate": 1000, "burst": 1000, **options})
        self.headers = {"authorization": f"Bearer {SANDBOX_TOKEN}", "notion-version": version}

    def __call__(self, method: str, path: str, body: Any = None,
                 query: str = "") -> tuple[int, dict[str, Any]]:
        raw = b"" if body is None else json.dumps(body).encode()
        response = self.api.handle(Request(method, path, self.headers, raw, query))
        return response.status, json.loads(response.body)

    def create(self, title: str = TITLE, children: list | None = None,
               parent: dict | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "parent": parent or {"data_source_id": DS},
            "properties": {"Test Name": {"title": [{"text": {"content": title}}]}},
        }
        if children is not None:
            body["children"] = children
        status, page = self("POST", "/v1/pages", body)
        assert status == 200, page
        return page

    def titled(self, title: str = TITLE) -> list[str]:
        query = {"filter": {"property": "Test Name", "title": {"equals": title}}}
        status, found = self("POST", f"/v1/data_sources/{DS}/query", query)
        assert status == 200, found
        return [page["id"] for page in found["results"]]

    def children(self, block_id: str, query: str = "") -> dict[str, Any]:
        status, listed = self("GET", f"/v1/blocks/{block_id}/children", query=query)
        assert status == 200, listed
        return listed


def paragraph(text: str) -> dict[str, Any]:
    return {"object": "block", "type": "paragraph",
            "paragraph": {"rich_text": [{"type": "text", "text": {"content": text}}]}}


def content(block: dict[str, Any]) -> str:
    return "".join(i["plain_text"] for i in block[block["type"]]["rich_text"])


def test_a_created_page_has_its_title_and_children_and_queries_find_it() -> None:
    api = Api()
    page = api.create(children=[paragraph("first"), paragraph("second")])
    assert page["object"] == "page" and page["parent"]["data_source_id"] == DS
    assert page["properties"]["Test Name"]["title"][0]["plain_text"] == TITLE
    assert api.titled() == [page["id"]]
    listed = api.children(page["id"])
    assert [content(b) for b in listed["results"]] == ["first", "second"]
    assert listed["results"][0]["parent"] == {"type": "page_id", "page_id": page["id"]}
    status, read = api("GET", f"/v1/pages/{page['id']}")
    assert status == 200 and read["id"] == page["id"] and read["in_trash"] is False


def test_children_are_appended_in_order_and_listed_100_at_a_time() -> None:
    api = Api()
    page = api.create()
    for start in (0, 100, 200):
        status, added = api("PATCH", f"/v1/blocks/{page['id']}/children",
                            {"children": [paragraph(f"p{i}") for i in range(start, start + 100)]})
        assert status == 200 and len(added["results"]) == 100
    first = api.children(page["id"])
    assert len(first["results"]) == 100 and first["has_more"]
    rest = api.children(page["id"], f"page_size=100&start_cursor={first['next_cursor']}")
    last = api.children(page["id"], f"start_cursor={rest['next_cursor']}")
    texts = [content(b) for b in first["results"] + rest["results"] + last["results"]]
    assert texts == [f"p{i}" for i in range(300)] and not last["has_more"]
    status, error = api("GET", f"/v1/blocks/{page['id']}/children", query="page_size=101")
    assert status == 400 and error["code"] == "validation_error"


def test_a_deleted_block_leaves_the_list_with_its_children() -> None:
    api = Api()
    table = {"type": "table", "table": {"table_width": 1, "has_column_header": False,
                                        "children": [{"type": "table_row", "table_row": {
                                            "cells": [[{"text": {"content": "cell"}}]]}}]}}
    page = api.create(children=[table, paragraph("kept")])
    table_id = api.children(page["id"])["results"][0]["id"]
    assert api.children(page["id"])["results"][0]["has_children"]
    status, deleted = api("DELETE", f"/v1/blocks/{table_id}")
    assert status == 200 and deleted["in_trash"] is True
    assert [content(b) for b in api.children(page["id"])["results"]] == ["kept"]
    status, again = api("DELETE", f"/v1/blocks/{table_id}")
    assert status == 400 and "archived" in again["message"]


def test_a_trashed_page_leaves_queries_and_comes_back_when_restored() -> None:
    api = Api()
    page = api.create()
    status, trashed = api("PATCH", f"/v1/pages/{page['id']}", {"in_trash": True})
    assert status == 200 and trashed["in_trash"] is True
    assert api.titled() == []
    status, refused = api("PATCH", f"/v1/blocks/{page['id']}/children",
                          {"children": [paragraph("late")]})
    assert status == 400 and refused["message"].startswith("Can't edit block that is archived")
    status, restored = api("PATCH", f"/v1/pages/{page['id']}", {"archived": False})
    assert status == 200 and restored["in_trash"] is False
    assert api.titled() == [page["id"]]
    status, _ = api("DELETE", f"/v1/blocks/{page['id']}")
    assert status == 200 and api.titled() == []


def test_properties_are_updated() -> None:
    api = Api()
    page = api.create()
    status, updated = api("PATCH", f"/v1/pages/{page['id']}", {"properties": {
        "Test Results": {"select": {"name": "Pass"}},
        "Test Name": {"title": [{"text": {"content": "renamed"}}]}}})
    assert status == 200
    assert updated["properties"]["Test Results"]["select"]["name"] == "Pass"
    assert api.titled("renamed") == [page["id"]] and api.titled() == []


@pytest.mark.parametrize(("body", "message"), [
    ({"children": [paragraph("x" * 2001)]},
     "body failed validation: body.children[0].paragraph.rich_text[0].text.content.length "
     "should be ≤ `2000`, instead was `2001`."),
    ({"children": [paragraph("x")] * 101},
     "body failed validation: body.children.length should be ≤ `100`, instead was `101`."),
    ({"children": [{"type": "paragraph", "paragraph": {
        "rich_text": [{"text": {"content": "x"}}] * 101}}]},
     "body failed validation: body.children[0].paragraph.rich_text.length should be ≤ `100`, "
     "instead was `101`."),
    ({"children": [{"type": "bulleted_list_item", "bulleted_list_item": {
        "rich_text": [], "children": [{"type": "bulleted_list_item", "bulleted_list_item": {
            "rich_text": [], "children": [paragraph("too deep")]}}]}}]},
     "body failed validation: body.children[0].bulleted_list_item.children[0]."
     "bulleted_list_item.children is nested more than 2 levels deep; append deeper children "
     "in a later request."),
    ({"children": [{"type": "video", "video": {}}]}, "should be a block of one of the types"),
    ({}, "body failed validation: body.children should be defined, instead was `undefined`."),
])
def test_appends_over_notions_limits_are_refused(body: dict, message: str) -> None:
    api = Api()
    page = api.create()
    status, error = api("PATCH", f"/v1/blocks/{page['id']}/children", body)
    assert status == 400 and error["code"] == "validation_error"
    assert message in error["message"]
    assert api.children(page["id"])["results"] == []


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"parent": {"data_source_id": DS},
      "properties": {"Test Name": {"title": [{"text": {"content": "t" * 2001}}]}}},
     400, "body.properties.Test Name.title[0].text.content.length should be ≤ `2000`"),
    ({"parent": {"data_source_id": DS}, "properties": {"Nope": {"title": []}}},
     400, "Nope is not a property that exists."),
    ({"parent": {"data_source_id": DS}, "properties": {}, "children": [paragraph("x")] * 101},
     400, "body.children.length should be ≤ `100`, instead was `101`."),
    ({"properties": {}}, 400, "body.parent should be defined"),
    ({"parent": {"database_id": DATABASES["Task Management"]}, "properties": {}},
     400, "has 2 data sources"),
    ({"parent": {"database_id": "0" * 32}, "properties": {}},
     404, "Could not find database with ID: 00000000-0000-0000-0000-000000000000."),
])
def test_page_creation_is_checked_as_notion_checks_it(body: dict, status: int,
                                                      message: str) -> None:
    api = Api()
    answered, error = api("POST", "/v1/pages", body)
    assert answered == status and message in error["message"]
    assert len(api.api.databases[DB].data_sources[0].pages) == 48  # the seeds: none added


def test_the_2022_version_creates_in_a_database() -> None:
    api = Api("2022-06-28")
    page = api.create(parent={"database_id": DB})
    assert page["parent"] == {"type": "database_id", "database_id": DB}
    status, found = api("POST", f"/v1/databases/{DB}/query",
                        {"filter": {"property": "Test Name", "title": {"equals": TITLE}}})
    assert status == 200 and [p["id"] for p in found["results"]] == [page["id"]]


def test_every_write_counts_against_the_rate_limit() -> None:
    api = Api(rate=0.001, burst=2, clock=lambda: 0.0)
    page = api.create()
    status, _ = api("PATCH", f"/v1/blocks/{page['id']}/children", {"children": []})
    assert status == 200
    status, limited = api("DELETE", f"/v1/blocks/{page['id']}")
    assert status == 429 and limited["code"] == "rate_limited"
    assert api.api.stats()["requests"]["DELETE /v1/blocks/{id}"] == {"429": 1}


def test_unknown_pages_and_blocks_are_not_found() -> None:
    api = Api()
    missing = "11111111-2222-4333-8444-555555555555"
    for method, path in (("GET", f"/v1/pages/{missing}"), ("PATCH", f"/v1/pages/{missing}"),
                         ("GET", f"/v1/blocks/{missing}/children"),
                         ("DELETE", f"/v1/blocks/{missing}")):
        status, error = api(method, path, {} if method == "PATCH" else None)
        assert status == 404 and error["code"] == "object_not_found", (method, path)
    status, error = api("GET", "/v1/pages/not-an-id")
    assert status == 400 and "path.page_id should be a valid uuid" in error["message"]
