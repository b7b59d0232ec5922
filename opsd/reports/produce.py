"""Producing a report end to end, for `opsd report` and the `report` check kind: gather it
from the store, render it, and deliver it where asked (`--send`: the URLs tagged `report`;
`--notion`: the period's page in `[reports] notion_database`).

A delivery that fails is recorded in `Produced.problems` (the other one still runs); a
delivery that cannot even start for want of configuration (no URL tagged `report`, no
`notion_database`) is checked first by `check_deliveries` and refused before anything runs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from opsd.config import Settings
from opsd.errors import ConfigError, OpsdError
from opsd.exception_text import exception_text
from opsd.reports.gather import gather
from opsd.reports.model import Report
from opsd.reports.period import Period, PeriodKind, period_of
from opsd.reports.render_markdown import render_markdown

if TYPE_CHECKING:
    from opsd.notion.service import NotionService
    from opsd.reports.delivery import SendOutcome
    from opsd.reports.notion_page import PublishOutcome
    from opsd.store import StoreAccess

CHARTS_LEFT_OUT = "charts left out"
"""How a problem with the charts starts: the report still went out, without them."""


@dataclasses.dataclass
class Produced:
    report: Report
    markdown: str
    html: str = ""
    """The HTML rendering, when asked for (`html=True`)."""
    sent: list[SendOutcome] = dataclasses.field(default_factory=list)
    published: PublishOutcome | None = None
    problems: list[str] = dataclasses.field(default_factory=list)
    """Deliveries that failed (and charts left out: not a failure, see `failures`)."""
    notes: list[str] = dataclasses.field(default_factory=list)
    """Deliveries skipped for want of a destination (no URL tagged `report`)."""

    def deliveries(self) -> str:
        """Where it went, in words: "sent to 2 URLs, Notion page updated"."""
        said = list(self.notes)
        if self.sent:
            ok = sum(1 for s in self.sent if s.delivered)
            said.append(f"sent to {ok} URL{'s' if ok != 1 else ''}"
                        + (f" ({len(self.sent) - ok} failed)" if ok < len(self.sent) else ""))
        if self.published is not None:
            said.append("Notion page " + ("created" if self.published.created else "updated"))
        return ", ".join(said) or "not delivered"

    @property
    def failures(self) -> list[str]:
        """The problems that are failed deliveries (charts left out still make a report)."""
        return [p for p in self.problems if not p.startswith(CHARTS_LEFT_OUT)]


def check_deliveries(settings: Settings, *, send: bool, notion: bool) -> None:
    """Refuse (ConfigError, one line naming the key) a delivery with nowhere to go."""
    if notion:
        from opsd.reports.notion_page import report_database

        report_database(settings)  # set, and naming a [[notion.databases]] entry
    if send:
        from opsd.alerting.notify import destinations
        from opsd.reports.delivery import NO_REPORT_URL, REPORT_TAG

        if not any(REPORT_TAG in d.tags for d in destinations(settings)):
            raise ConfigError(NO_REPORT_URL)


async def produce(
    settings: Settings, store: StoreAccess, *, kind: PeriodKind, now: float,
    previous: bool = False, html: bool = False, send: bool = False, publish: bool = False,
    notion: Callable[[], NotionService] | None = None,
) -> Produced:
    """Gather and render the report; send it and/or publish it if asked. `notion` gives the
    shared Notion client (the task figures and the page); without it neither is read."""
    period = period_of(kind, now, settings.scheduler.timezone, previous=previous)
    report = await store.call(gather, settings, period, now=now)
    if notion is not None and settings.reports.tasks_database:
        from opsd.reports.development import gather_development

        report = dataclasses.replace(
            report, development=await gather_development(notion(), settings, period))
    produced = Produced(report, render_markdown(report))
    if html or send:
        from opsd.reports.render_html import render_html

        with tempfile.TemporaryDirectory(prefix="opsd-report-") as workdir:
            charts = await _charts(report, period, Path(workdir), produced)
            if html:
                produced.html = render_html(report, charts)
            if send:  # mail clients block data: images: attach the charts, name them by cid:
                mail = render_html(report, charts, chart_src={
                    name: f"cid:{path.name}" for name, path in charts.items()})
                await _send(settings, produced, mail, list(charts.values()))
    if publish and notion is not None:
        await _publish(settings, notion(), produced)
    return produced


async def _charts(report: Report, period: Period, workdir: Path,
                  produced: Produced) -> dict[str, Path]:
    from opsd.reports.charts import draw_charts

    try:
        return await asyncio.to_thread(draw_charts, report.charts, period.timezone,
                                       workdir / "charts")
    except (OpsdError, OSError, TimeoutError) as exc:
        produced.problems.append(f"{CHARTS_LEFT_OUT}: {exception_text(exc)}")
        return {}


async def _send(settings: Settings, produced: Produced, html: str,
                attachments: list[Path]) -> None:
    from opsd.reports.delivery import NO_REPORT_URL, send_report

    try:
        produced.sent = await asyncio.to_thread(
            send_report, settings, subject=produced.report.period.title, html=html,
            text=produced.markdown, markdown=produced.markdown, attachments=attachments)
    except OpsdError as exc:
        if str(exc) == NO_REPORT_URL:
            produced.notes.append("not sent (no alerts.urls entry is tagged `report`)")
            return
        produced.problems.append(f"sending failed: {exc}")
        return
    produced.problems.extend(f"not sent to {s.label}: {s.error}" for s in produced.sent
                             if not s.delivered)


async def _publish(settings: Settings, notion: NotionService, produced: Produced) -> None:
    from opsd.reports.notion_page import publish_report

    period = produced.report.period
    try:
        produced.published = await publish_report(
            notion, settings, key=period.key, title=period.title, markdown=produced.markdown)
    except OpsdError as exc:
        produced.problems.append(f"Notion page not written: {exc}")
