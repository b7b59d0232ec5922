"""The development figures of a report: the task database queried through the shared Notion
client against the sandbox, compared with the sandbox's own pages; the pure parts by hand."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from opsd.config import Settings
from opsd.notion.service import NotionService, Source
from opsd.reports.development import gather_development, query_body, task_figures
from opsd.reports.model import Development, summarise_development
from opsd.reports.period import period_of
from opsd.sandbox import DATABASES, SANDBOX_TOKEN

TODAY = dt.date(2026, 11, 30)
NOW = dt.datetime(2026, 11, 30, 0, 0, tzinfo=dt.UTC).timestamp()


def settings_for(sandbox: Any, **reports: Any) -> Settings:
    return Settings(
        scheduler={"timezone": "UTC"},
        notion={"token": SANDBOX_TOKEN, "base_url": sandbox.url, "rate_limit": 1000,
                "burst": 100, "databases": [{"name": "tasks",
                                             "id": DATABASES["Task Management"]}]},
        reports={"tasks_database": "tasks", **reports},
    )


def gathered(settings: Settings, kind: str = "monthly") -> Development | None:
    async def run() -> Development | None:
        notion = NotionService(settings.notion)
        try:
            return await gather_development(notion, settings, period_of(
                kind, NOW, "UTC", previous=True))  # type: ignore[arg-type]
        finally:
            await notion.aclose()

    return asyncio.run(run())


def _epoch(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_figures_match_the_sandbox_tasks_done_in_the_period(make_sandbox: Any) -> None:
    sandbox = make_sandbox(rate=1000, burst=1000, today=TODAY)
    period = period_of("monthly", NOW, "UTC", previous=True)  # October 2026
    pages = sandbox.api.data_sources_of("Task Management")[0].pages
    done = [p for p in pages if p.values["Status"] == "Done"
            and period.start <= _epoch(p.last_edited_time) < period.until]
    assert done, "the sandbox's seed has no task done in the period: pick another"
    expected = summarise_development("tasks", [
        ((_epoch(p.last_edited_time) - _epoch(p.created_time)) / 86400,
         p.values["Estimated Hours"], p.values["Actual Hours"]) for p in done])
    figures = gathered(settings_for(sandbox))
    assert figures is not None and figures.unavailable == ""
    assert figures.completed == len(done)
    assert figures.mean_completion_days == pytest.approx(expected.mean_completion_days)
    assert figures.estimation_ratio == pytest.approx(expected.estimation_ratio)
    assert figures.within_20_percent == pytest.approx(expected.within_20_percent)


def test_a_missing_database_or_property_says_why(make_sandbox: Any) -> None:
    sandbox = make_sandbox(rate=1000, burst=1000, today=TODAY)
    wrong = settings_for(sandbox, tasks_database="nope")
    figures = gathered(wrong)
    assert figures is not None and "no [[notion.databases]] entry named 'nope'" in (
        figures.unavailable)
    figures = gathered(settings_for(sandbox, tasks_status_property="Phase"))
    assert figures is not None and "'Phase'" in figures.unavailable
    assert gathered(settings_for(sandbox, tasks_database=None)) is None


def test_query_body_and_task_figures_with_a_completion_date_property() -> None:
    settings = Settings(reports={"tasks_database": "t", "tasks_completed_property": "Closed",
                                 "tasks_status_property": "State"})
    source = Source("Tasks", "/v1/x/query", {"State": "select", "Closed": "date"})
    period = period_of("daily", NOW + 3600, "UTC")
    body = query_body(settings, source, period)
    assert body["filter"]["and"] == [
        {"property": "State", "select": {"equals": "Done"}},
        {"property": "Closed", "date": {"on_or_after": "2026-11-30T00:00:00Z"}},
        {"property": "Closed", "date": {"before": "2026-11-30T01:00:00Z"}},
    ]
    page = {"created_time": "2026-11-28T00:00:00.000Z", "properties": {
        "Closed": {"date": {"start": "2026-11-30T12:00:00+00:00"}},
        "Estimated Hours": {"number": 4}, "Actual Hours": {"number": None}}}
    assert task_figures(page, settings) == (2.5, 4.0, None)
