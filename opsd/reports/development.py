"""The development figures of a report, from the team's task database in Notion.

`[reports] tasks_database` names a `[[notion.databases]]` entry; a task is completed in the
period when its status property holds `tasks_done_value` and its completion time (the date
property `tasks_completed_property`, else the page's `last_edited_time`) falls in the period.
Completion time runs from the page's `created_time`; estimation accuracy compares the
`tasks_actual_property` and `tasks_estimated_property` numbers (`opsd.reports.model`).

The query goes through the shared `NotionService` (the rate budget, retries, the circuit
breaker); a failure leaves the figures out with the reason, never the whole report.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from opsd.config import Settings
from opsd.notion.errors import NotionError
from opsd.reports.model import Development, summarise_development
from opsd.reports.period import Period

if TYPE_CHECKING:
    from opsd.notion.service import NotionService, Source

TIMEOUT = 120.0
MAX_PAGES = 50
"""Query pages of 100 tasks read at most (5,000 tasks completed in one period)."""

Task = tuple[float | None, float | None, float | None]


async def gather_development(notion: NotionService, settings: Settings,
                             period: Period) -> Development | None:
    """The period's figures; None when no task database is configured."""
    cfg = settings.reports
    if not cfg.tasks_database:
        return None
    db = next((d for d in settings.notion.databases if d.name == cfg.tasks_database), None)
    if db is None:
        return Development(cfg.tasks_database, 0, None, None, None,
                           unavailable="reports.tasks_database: no [[notion.databases]] "
                           f"entry named {cfg.tasks_database!r}")
    deadline = notion.deadline(TIMEOUT)
    try:
        sources = await notion.sources(db.id, deadline=deadline, with_schema=True)
        source = _task_source(sources, cfg.tasks_status_property, cfg.tasks_data_source)
        if source is None:
            return Development(db.name, 0, None, None, None, unavailable=(
                f"no readable data source with a {cfg.tasks_status_property!r} property"))
        body = query_body(settings, source, period)
        tasks: list[Task] = []
        cursor = None
        for _ in range(MAX_PAGES):
            request = {**body, "start_cursor": cursor} if cursor else body
            reply = (await notion.query(source.query_path, request, deadline=deadline)).body
            tasks.extend(task_figures(page, settings) for page in reply.get("results") or [])
            cursor = reply.get("next_cursor")
            if not reply.get("has_more") or not cursor:
                break
    except NotionError as exc:
        return Development(db.name, 0, None, None, None, unavailable=str(exc))
    return summarise_development(db.name, tasks)


def _task_source(sources: list[Source], status: str, wanted: str | None) -> Source | None:
    readable = [s for s in sources if s.readable]
    if wanted is not None:
        return next((s for s in readable if s.name == wanted), None)
    return next((s for s in readable if status in s.properties), None)


def query_body(settings: Settings, source: Source, period: Period) -> dict[str, Any]:
    """Done tasks completed in [period.start, period.until) (pure)."""
    cfg = settings.reports
    kind = source.properties.get(cfg.tasks_status_property, "status")
    kind = kind if kind in ("status", "select") else "status"
    after = _iso(period.start)
    before = _iso(period.until)
    if cfg.tasks_completed_property:
        name = cfg.tasks_completed_property
        when = [{"property": name, "date": {"on_or_after": after}},
                {"property": name, "date": {"before": before}}]
    else:
        when = [{"timestamp": "last_edited_time", "last_edited_time": {"on_or_after": after}},
                {"timestamp": "last_edited_time", "last_edited_time": {"before": before}}]
    status = {"property": cfg.tasks_status_property, kind: {"equals": cfg.tasks_done_value}}
    return {"page_size": 100, "filter": {"and": [status, *when]}}


def task_figures(page: dict[str, Any], settings: Settings) -> Task:
    """(days from creation to completion, estimated hours, actual hours) of one page (pure)."""
    cfg = settings.reports
    props = page.get("properties") or {}
    created = _epoch(page.get("created_time"))
    if cfg.tasks_completed_property:
        completed = _epoch(((props.get(cfg.tasks_completed_property) or {}).get("date")
                            or {}).get("start"))
    else:
        completed = _epoch(page.get("last_edited_time"))
    days = (completed - created) / 86400 if created is not None and completed is not None \
        else None
    return (days, _number(props.get(cfg.tasks_estimated_property)),
            _number(props.get(cfg.tasks_actual_property)))


def _number(prop: dict[str, Any] | None) -> float | None:
    value = (prop or {}).get("number")
    return float(value) if isinstance(value, (int, float)) else None


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat().replace("+00:00", "Z")


def _epoch(text: object) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()
