"""The `report` check kind run by the real runner over a seeded store: the weekly report
mailed as HTML with its charts attached (local SMTP), WARNING when a delivery fails, and
produced without complaint where no URL is tagged `report`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from report_support import NOW, TZ, seed_week
from test_notion_checks import run_entries

from opsd.config import Settings
from opsd.results import Status
from opsd.store import Store

ENTRY = {"name": "report.weekly", "kind": "report", "period": "weekly", "previous": True}


def run_report(tmp_path: Path, *urls: str) -> Any:
    settings = Settings(scheduler={"timezone": TZ}, alerts={"urls": list(urls)})
    store = Store.open(tmp_path / "opsd.db")
    seed_week(store)
    try:
        (result,) = run_entries(settings, ENTRY, store=store, clock=lambda: NOW)
    finally:
        store.close()
    return result


def test_the_weekly_report_is_mailed_with_its_charts(tmp_path: Path, mailbox: Any) -> None:
    result = run_report(tmp_path, "report=" + mailbox.url)
    assert result.status == Status.OK, result.summary
    assert result.summary == "weekly report 2026-W47: sent to 1 URL"
    (message,) = mailbox.messages
    assert message["Subject"] == "opsd weekly report 2026-W47"
    html = message.get_body(("html",)).get_content()
    assert 'src="cid:uptime.png"' in html and 'src="cid:p95.png"' in html
    assert ">Status at a glance</h2>" in html
    images = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert sorted(p["Content-ID"] for p in images) == ["<p95.png>", "<uptime.png>"]
    assert all(p.get_content()[:8] == b"\x89PNG\r\n\x1a\n" for p in images)
    assert "| notion.auth | – | realtime | 92.86 % | CRITICAL |" in message.get_body(
        ("plain",)).get_content()


def test_a_failed_delivery_is_a_warning(tmp_path: Path, closed_port: int,
                                        webhook: Any) -> None:
    mail = (f"report=mailto://ops:pw@127.0.0.1:{closed_port}"
            "?to=oncall@example.com&from=opsd@example.com&mode=insecure")
    result = run_report(tmp_path, mail, "report=" + webhook.url)
    assert result.status == Status.WARNING
    assert result.summary.startswith("weekly report 2026-W47: sent to 1 URL (1 failed)")
    assert len(webhook.received) == 1


def test_no_url_tagged_report_still_produces_it(tmp_path: Path, webhook: Any) -> None:
    result = run_report(tmp_path, webhook.url)
    assert result.status == Status.OK
    assert result.summary == ("weekly report 2026-W47: not sent (no alerts.urls entry is "
                              "tagged `report`)")
    assert webhook.received == []
