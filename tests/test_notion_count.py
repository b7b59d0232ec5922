"""notion.count against the sandbox: `where` built from each property's real type (the shipped
`daily` entry works whether Status is a select or a status property), "at least N" when
Notion answers `request_status: incomplete`, and opaque `s:` cursors passed back unchanged."""

from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_notion_checks import by_check, run_entries, settings_for

from opsd.errors import PlaybookError
from opsd.notion.service import NotionService
from opsd.playbooks import load_playbook
from opsd.results import Status
from opsd.sandbox import DATA_SOURCES, SANDBOX_TOKEN, Sandbox

REPO = Path(__file__).resolve().parent.parent


def shipped_entry(playbook: str, name: str) -> dict[str, Any]:
    entries = tomllib.loads((REPO / "playbooks" / f"{playbook}.toml").read_text())["checks"]
    return next(e for e in entries if e["name"] == name)


def open_critical(sandbox: Sandbox) -> int:
    pages = sandbox.api.data_sources_of("Bottlenecks Registry")[0].pages
    return sum(p.values["Severity"] == "Critical" and p.values["Status"] != "Complete"
               for p in pages)


@pytest.mark.parametrize("version", ["2022-06-28", "2025-09-03", "2026-03-11"])
def test_the_shipped_daily_count_works_with_status_as_select_or_status(
    sandbox: Sandbox, version: str
) -> None:
    entry = shipped_entry("daily", "notion.critical_bottlenecks")
    assert "filter" not in entry and entry["where"] == {"Severity": "Critical",
                                                        "Status": "!Complete"}
    old_filter = {"name": "old", "kind": "notion.count", "database": "bottlenecks",
                  "filter": {"and": [
                      {"property": "Severity", "select": {"equals": "Critical"}},
                      {"property": "Status", "select": {"does_not_equal": "Complete"}}]}}
    expected = open_critical(sandbox)
    assert expected > 0
    settings = settings_for(sandbox, version if version != "2026-03-11" else "2025-09-03")
    settings.notion.notion_version = version  # type: ignore[assignment]
    as_select = by_check(run_entries(settings, entry, old_filter))
    sandbox.retype_property("Bottlenecks Registry", "Status", "status")
    as_status = by_check(run_entries(settings, entry, old_filter))

    for results, kind in ((as_select, "select"), (as_status, "status")):
        counted = results[("notion.critical_bottlenecks", "bottlenecks")]
        assert (counted.status, counted.value) == (Status.OK, expected)
        assert counted.summary == f"{expected} matching pages"
        assert counted.details["filter"]["and"][1] == {
            "property": "Status", kind: {"does_not_equal": "Complete"}}
    assert as_select[("old", "bottlenecks")].value == expected
    # The select-typed JSON filter the daily playbook used to ship: UNKNOWN once Status is a
    # real status property.
    broken = as_status[("old", "bottlenecks")]
    assert broken.status is Status.UNKNOWN
    assert "database property status does not match filter select" in broken.summary


def test_a_where_naming_a_missing_or_unsupported_property_is_unknown(sandbox: Sandbox) -> None:
    results = by_check(run_entries(
        settings_for(sandbox),
        {"name": "missing", "kind": "notion.count", "database": "bottlenecks",
         "where": {"Priority": "High"}},
        {"name": "text", "kind": "notion.count", "database": "bottlenecks",
         "where": {"Impact": "x"}},
    ))
    missing = results[("missing", "bottlenecks")]
    assert missing.status is Status.UNKNOWN
    assert missing.summary.startswith("bottlenecks: where: no property 'Priority' (properties: ")
    text = results[("text", "bottlenecks")]
    assert text.summary.startswith("bottlenecks: where: Impact is a rich_text property; where "
                                   "supports select, status, multi_select")
    assert "opsd schema DATABASE" in text.details["hint"]


def test_filter_and_where_together_are_refused_at_load(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('name = "p"\n[[checks]]\nkind = "notion.count"\ndatabase = "x"\n'
                    "filter = '{}'\nwhere = { Status = \"Done\" }\n")
    with pytest.raises(PlaybookError) as info:
        load_playbook(path)
    assert any("give filter or where, not both" in p for p in info.value.problems)


def test_request_status_incomplete_is_counted_as_at_least(sandbox: Sandbox) -> None:
    answer = httpx.post(f"{sandbox.url}/__sandbox/incomplete_after", json={"count": 50})
    assert answer.status_code == 200
    results = by_check(run_entries(
        settings_for(sandbox),
        {"name": "tasks", "kind": "notion.count", "database": "tasks", "data_source": "Tasks"},
        {"name": "sprint", "kind": "notion.count", "database": "tasks",
         "data_source": "Sprint Backlog"},
    ))
    capped = results[("tasks", "tasks")]  # 60 pages, Notion stops after 50
    assert capped.status is Status.OK and capped.value == 50
    assert capped.summary == ("at least 50 matching pages (Notion stopped the query at its "
                              "result limit: request_status incomplete)")
    assert capped.details["incomplete"] is True and capped.details["capped"] is False
    whole = results[("sprint", "tasks")]  # 24 pages: under the limit, exact
    assert (whole.value, whole.summary, whole.details["incomplete"]) == (
        24, "24 matching pages", False)


def query(sandbox: Sandbox, version: str, body: dict[str, Any]) -> httpx.Response:
    source = DATA_SOURCES["Task Management"]["Tasks"]
    path = (f"/v1/data_sources/{source}/query" if version != "2022-06-28"
            else f"/v1/databases/{sandbox.api.find_database('Testing Results').id}/query")
    return httpx.post(sandbox.url + path, json=body, headers={
        "Authorization": f"Bearer {SANDBOX_TOKEN}", "Notion-Version": version})


@pytest.mark.parametrize("version", ["2025-09-03", "2026-03-11"])
def test_data_source_queries_page_with_opaque_cursors(sandbox: Sandbox, version: str) -> None:
    first = query(sandbox, version, {"page_size": 25}).json()
    cursor = first["next_cursor"]
    assert cursor.startswith("s:") and first["has_more"] is True
    assert "request_status" not in first
    second = query(sandbox, version, {"page_size": 25, "start_cursor": cursor}).json()
    first_ids = {p["id"] for p in first["results"]}
    assert len(second["results"]) == 25 and not first_ids & {p["id"] for p in second["results"]}
    unknown = query(sandbox, version, {"start_cursor": "s:not-one-of-ours"})
    assert unknown.status_code == 400
    assert unknown.json()["code"] == "validation_error"
    assert "start_cursor provided is invalid" in unknown.json()["message"]
    # The old version keeps page ids as cursors.
    legacy = query(sandbox, "2022-06-28", {"page_size": 5}).json()
    assert not legacy["next_cursor"].startswith("s:")


@pytest.mark.parametrize("version", ["2025-09-03", "2026-03-11"])
def test_counting_follows_opaque_cursors_to_the_limit(sandbox: Sandbox, version: str) -> None:
    from opsd.checks.notion_pages import _count_pages

    settings = settings_for(sandbox)
    settings.notion.notion_version = version  # type: ignore[assignment]

    async def count(limit: int | None) -> tuple[int, bool, bool, int]:
        if limit is not None:
            sandbox.incomplete_after(limit)
        svc = NotionService(settings.notion)
        try:
            deadline = svc.deadline(30)
            [tasks, _] = await svc.sources(DATA_SOURCES_DB, deadline=deadline, with_schema=False)
            before = sandbox.stats()["requests_total"]
            tally = await _count_pages(svc, tasks, {"page_size": 7}, 50, deadline)
            return (tally.pages, tally.capped, tally.incomplete,
                    sandbox.stats()["requests_total"] - before)
        finally:
            await svc.aclose()

    assert asyncio.run(count(None)) == (60, False, False, 9)  # 9 pages of 7, 8 cursors
    assert asyncio.run(count(20)) == (20, False, True, 3)  # 7 + 7 + 6, then has_more false


DATA_SOURCES_DB = "adce680e-7bd8-5405-93be-8778ac69300e"  # Task Management
