"""Issue 16's end-to-end delivery through the real `opsd report` command: `--notion` twice for
one week leaves one page in the sandbox, `--send` reaches a local SMTP server as HTML with a
text part; both from a fresh store, with the sandbox and the SMTP server on 127.0.0.1."""

from __future__ import annotations

from typing import Any

from opsd.reports.notion_blocks import markdown_blocks
from opsd.sandbox import DATABASES, SANDBOX_TOKEN

REPORTS_DB = DATABASES["Testing Results"]


def notion_section(sandbox: Any) -> dict[str, Any]:
    return {"token": SANDBOX_TOKEN, "base_url": sandbox.url, "rate_limit": 200, "burst": 50,
            "databases": [{"name": "Reports", "id": REPORTS_DB}]}


def report_pages(sandbox: Any) -> list[Any]:
    source = sandbox.api.databases[REPORTS_DB].data_sources[0]
    return [p for p in source.pages if p.values["Test Name"].startswith("opsd weekly report")]


def plain(items: list[dict[str, Any]]) -> str:
    return "".join(item["plain_text"] for item in items)


def test_notion_twice_for_one_week_leaves_one_page(opsd_cli, make_config, sandbox) -> None:
    config = make_config(notion=notion_section(sandbox), reports={"notion_database": "Reports"})
    first = opsd_cli("--config", str(config), "report", "weekly", "--notion")
    assert first.code == 0, first.out + first.err
    (page,) = report_pages(sandbox)
    first_blocks = [b.id for b in sandbox.api.content.live_children(page.id)]
    assert first_blocks
    second = opsd_cli("--config", str(config), "report", "weekly", "--notion")
    assert second.code == 0, second.out + second.err
    assert [p.id for p in report_pages(sandbox)] == [page.id]
    blocks = sandbox.api.content.live_children(page.id)
    # Rewritten, not added to: none of the first run's blocks, exactly the second report's
    # (printed on stdout; it now counts the first run's Notion requests too).
    assert not {b.id for b in blocks} & set(first_blocks)
    expected = markdown_blocks(second.out)
    assert [b.type for b in blocks] == [e["type"] for e in expected]
    assert plain(blocks[0].content["rich_text"]) == page.values["Test Name"]
    assert SANDBOX_TOKEN not in first.out + first.err + second.out + second.err


def test_send_mails_html_with_a_text_part(opsd_cli, make_config, mailbox) -> None:
    config = make_config(alerts={"urls": ["report=" + mailbox.url]})
    sent = opsd_cli("--config", str(config), "report", "weekly", "--send")
    assert sent.code == 0, sent.out + sent.err
    (message,) = mailbox.messages
    assert message["Subject"].startswith("opsd weekly report")
    kinds = [part.get_content_type() for part in message.walk()]
    assert "multipart/alternative" in kinds
    assert message.get_body(("plain",)).get_content().strip()
    assert "<" in message.get_body(("html",)).get_content()


def test_send_without_a_report_url_is_one_line_and_exit_3(opsd_cli, make_config, mailbox) -> None:
    config = make_config(alerts={"urls": [mailbox.url]})
    refused = opsd_cli("--config", str(config), "report", "weekly", "--send")
    assert refused.code == 3
    assert refused.err.strip().count("\n") == 0 and "tagged `report`" in refused.err
    assert "Traceback" not in refused.err and mailbox.messages == []
