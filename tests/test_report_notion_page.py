"""A report as a Notion page (opsd.reports.notion_page) against the real sandbox over HTTP:
one page per period however often it is written, its content the last report's, long text
and many blocks within Notion's limits (which the sandbox enforces), under both API versions
and the sandbox's rate limit."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from opsd.config import Settings
from opsd.errors import OpsdError
from opsd.notion.service import NotionService
from opsd.reports.notion_page import PublishOutcome, publish_report, report_database
from opsd.sandbox import DATABASES, SANDBOX_TOKEN
from opsd.sandbox.workspace import DATA_SOURCES
from opsd.store import Store

DB = DATABASES["Testing Results"]
DS = DATA_SOURCES["Testing Results"]["Testing Results"]
KEY = "2026-W48"
TITLE = f"opsd weekly report {KEY}"
FIRST = "# Weekly report\n\nEverything was fine.\n\n- one\n- two\n"
SECOND = "# Weekly report\n\nOne incident.\n\n| Check | Uptime |\n|---|---|\n| api | 99.9 % |\n"


def settings_for(sandbox: Any, version: str = "2025-09-03", **notion: Any) -> Settings:
    return Settings(
        notion={"token": SANDBOX_TOKEN, "base_url": sandbox.url, "notion_version": version,
                "rate_limit": 500, "burst": 500,
                "databases": [{"name": "Reports", "id": DB}], **notion},
        reports={"notion_database": "Reports"},
    )


def publish(settings: Settings, markdown: str, *, title: str = TITLE,
            store: Store | None = None) -> PublishOutcome:
    async def run() -> PublishOutcome:
        notion = NotionService(settings.notion, store=store)
        try:
            return await publish_report(notion, settings, key=KEY, title=title,
                                        markdown=markdown)
        finally:
            await notion.aclose()

    return asyncio.run(run())


def report_pages(sandbox: Any, title: str = TITLE) -> list[Any]:
    source = sandbox.api.databases[DB].data_sources[0]
    return [page for page in source.pages if page.values["Test Name"] == title]


def page_texts(sandbox: Any, page_id: str) -> list[tuple[str, str]]:
    """(type, plain text) of a page's live first-level blocks, table rows as ' | '-joined."""
    content = sandbox.api.content
    shown = []
    for block in content.live_children(page_id):
        if block.type == "table":
            rows = content.live_children(block.id)
            text = " / ".join(" | ".join("".join(i["plain_text"] for i in cell)
                                         for cell in row.content["cells"]) for row in rows)
        else:
            text = "".join(i["plain_text"] for i in block.content.get("rich_text", []))
        shown.append((block.type, text))
    return shown


@pytest.mark.parametrize("version", ["2025-09-03", "2022-06-28"])
def test_publishing_twice_leaves_one_page_with_the_second_content(sandbox, version) -> None:
    settings = settings_for(sandbox, version)
    first = publish(settings, FIRST)
    second = publish(settings, SECOND)
    assert first.created and not second.created and first.page_id == second.page_id
    (page,) = report_pages(sandbox)
    assert page.id == first.page_id
    assert page_texts(sandbox, page.id) == [
        ("heading_1", "Weekly report"), ("paragraph", "One incident."),
        ("table", "Check | Uptime / api | 99.9 %")]
    assert second.blocks == 3


def test_long_text_and_250_blocks_go_through_in_chunks_and_batches(sandbox) -> None:
    store = Store.memory()
    settings = settings_for(sandbox)
    long_paragraph = "".join(chr(ord("a") + i % 26) for i in range(5000))
    bullets = "\n".join(f"- item {i}" for i in range(249))
    outcome = publish(settings, long_paragraph + "\n\n" + bullets, store=store)
    assert outcome.created and outcome.blocks == 250
    blocks = sandbox.api.content.live_children(outcome.page_id)
    assert len(blocks) == 250
    items = blocks[0].content["rich_text"]
    assert [len(i["plain_text"]) for i in items] == [2000, 2000, 1000]
    assert "".join(i["plain_text"] for i in items) == long_paragraph
    assert [b.content["rich_text"][0]["plain_text"] for b in blocks[1:]] == [
        f"item {i}" for i in range(249)]
    requests = sandbox.api.stats()["requests"]
    # 100 blocks with the page, then appends of at most 100: 100 + 100 + 50.
    assert requests["POST /v1/pages"] == {"200": 1}
    assert requests["PATCH /v1/blocks/{id}/children"] == {"200": 2}
    purposes = {r["purpose"] for r in store.query("SELECT purpose FROM notion_requests")}
    assert purposes == {"report"}


def test_the_sandbox_refuses_what_notion_refuses(sandbox) -> None:
    page = publish(settings_for(sandbox), FIRST).page_id
    headers = {"Authorization": f"Bearer {SANDBOX_TOKEN}", "Notion-Version": "2025-09-03"}
    paragraph = {"type": "paragraph", "paragraph": {"rich_text": [
        {"type": "text", "text": {"content": "x" * 5000}}]}}
    with httpx.Client(base_url=sandbox.url, headers=headers, timeout=60) as client:
        too_long = client.patch(f"/v1/blocks/{page}/children", json={"children": [paragraph]})
        too_many = client.patch(f"/v1/blocks/{page}/children",
                                json={"children": [FIRST_BLOCK] * 250})
    assert too_long.status_code == 400 and too_long.json()["message"] == (
        "body failed validation: body.children[0].paragraph.rich_text[0].text.content.length "
        "should be ≤ `2000`, instead was `5000`.")
    assert too_many.status_code == 400 and too_many.json()["message"] == (
        "body failed validation: body.children.length should be ≤ `100`, instead was `250`.")
    assert len(sandbox.api.content.live_children(page)) == 4  # unchanged


FIRST_BLOCK = {"type": "paragraph", "paragraph": {"rich_text": []}}


def test_extra_pages_of_the_same_period_go_to_the_trash(sandbox) -> None:
    settings = settings_for(sandbox)
    first = publish(settings, FIRST).page_id
    headers = {"Authorization": f"Bearer {SANDBOX_TOKEN}", "Notion-Version": "2025-09-03"}
    duplicate = {"parent": {"data_source_id": DS},
                 "properties": {"Test Name": {"title": [{"text": {"content": TITLE}}]}}}
    with httpx.Client(base_url=sandbox.url, headers=headers, timeout=60) as client:
        assert client.post("/v1/pages", json=duplicate).status_code == 200
    assert len(report_pages(sandbox)) == 2
    outcome = publish(settings, SECOND)
    assert outcome.page_id == first and not outcome.created
    assert [p.id for p in report_pages(sandbox)] == [first]
    # Another period, or a title that only contains this one, is a page of its own.
    other = publish(settings, FIRST, title=TITLE + " (draft)")
    assert other.created and len(report_pages(sandbox)) == 1


def test_writes_wait_out_the_sandboxs_rate_limit_and_land_once(make_sandbox) -> None:
    sandbox = make_sandbox(rate=1000, burst=1000)
    settings = settings_for(sandbox, rate_limit=50, burst=50)
    publish(settings, FIRST)
    sandbox.set_rate(2, 2)  # Notion's budget is tighter than opsd's: 429s on the writes
    markdown = "\n\n".join(f"paragraph {i}" for i in range(150))
    outcome = publish(settings, markdown)
    stats = sandbox.api.stats()
    assert stats["rate_limited_total"] > 0
    texts = [text for _, text in page_texts(sandbox, outcome.page_id)]
    assert texts == [f"paragraph {i}" for i in range(150)]  # each exactly once, in order
    assert len(report_pages(sandbox)) == 1


def test_the_reports_database_must_name_a_configured_database() -> None:
    unset = Settings(notion={"databases": [{"name": "Reports", "id": DB}]})
    with pytest.raises(OpsdError, match=r"^reports.notion_database is not set"):
        report_database(unset)
    unknown = Settings(notion={"databases": [{"name": "Reports", "id": DB}]},
                       reports={"notion_database": "Weekly"})
    with pytest.raises(OpsdError, match=r"no \[\[notion.databases\]\] entry is named 'Weekly' "
                                        r"\(known: 'Reports'\)"):
        report_database(unknown)
    assert report_database(settings_for(SimpleNamespace(url="http://127.0.0.1:9"))) == DB


def test_a_secret_in_the_report_never_reaches_the_page(sandbox) -> None:
    outcome = publish(settings_for(sandbox), f"# Weekly\n\nthe token was {SANDBOX_TOKEN}\n")
    texts = " ".join(text for _, text in page_texts(sandbox, outcome.page_id))
    assert "the token was" in texts and SANDBOX_TOKEN not in texts
