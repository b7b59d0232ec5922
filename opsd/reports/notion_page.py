"""A report as a Notion page (`opsd report … --notion`): one page per period in the database
`[reports] notion_database` names, found again by its title on every run.

The page's title is the report's (`opsd weekly report 2026-W48`), and the title is how a
rerun finds it: a query on the database's title property (equals). Found, its blocks are
replaced (the old first-level blocks deleted, their children with them, then the new ones
appended); not found, it is created with its first 100 blocks. Pages left over with the same
title (a run that crashed between creating and recording, two runs at once) go to the trash:
one page per period remains. A database with several data sources gets the page in its
first readable one.

Notion's limits hold (`opsd.reports.notion_blocks`): rich text in items of at most 2,000
characters, appends of at most 100 blocks. Every request goes through the shared
`NotionService` (its rate budget, its retries) and is logged with purpose "report". A
report page costs about: 2 reads, one request per old first-level block, and one per 100
new blocks.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from opsd.errors import ConfigError, OpsdError
from opsd.logs import event
from opsd.notion import pages
from opsd.notion.errors import NotionError
from opsd.notion.versions import has_data_sources
from opsd.reports.notion_blocks import batches, markdown_blocks, text_items

if TYPE_CHECKING:
    from opsd.config import Settings
    from opsd.notion.service import NotionService

log = logging.getLogger(__name__)

PURPOSE = "report"


@dataclasses.dataclass(frozen=True)
class PublishOutcome:
    """The period's page, whether this run created it, and how many blocks it now holds."""

    page_id: str
    created: bool
    blocks: int


async def publish_report(
    notion: NotionService, settings: Settings, *, key: str, title: str, markdown: str
) -> PublishOutcome:
    """Write the report for period `key` (titled `title`) to its page, creating it if needed."""
    database_id = report_database(settings)
    publisher = _Publisher(notion)
    target = await publisher.target(database_id)
    title, markdown = settings.redact(title), settings.redact(markdown)
    blocks = markdown_blocks(markdown)
    found = await publisher.pages_titled(target, title)
    if not found:
        page_id = await publisher.create(target, title, blocks)
        return _published(key, PublishOutcome(page_id, True, len(blocks)))
    keep, *extra = found
    for page in extra:
        await pages.trash_page(notion, page["id"], deadline=publisher.deadline(),
                               purpose=PURPOSE)
    await publisher.replace_content(keep["id"], blocks)
    return _published(key, PublishOutcome(keep["id"], False, len(blocks)))


def _published(key: str, outcome: PublishOutcome) -> PublishOutcome:
    event(log, "report page written", period=key, page=outcome.page_id,
          created=outcome.created, blocks=outcome.blocks)
    return outcome


def report_database(settings: Settings) -> str:
    """The id of the database `[reports] notion_database` names; ConfigError if it names none."""
    name = settings.reports.notion_database
    if not name:
        raise ConfigError("reports.notion_database is not set: name the [[notion.databases]] "
                        "entry that holds the reports")
    for database in settings.notion.databases:
        if database.name == name:
            return database.id
    known = ", ".join(repr(db.name) for db in settings.notion.databases) or "none"
    raise ConfigError(f"reports.notion_database: no [[notion.databases]] entry is named "
                    f"{name!r} (known: {known})")


@dataclasses.dataclass(frozen=True)
class _Target:
    """Where report pages live: the parent of a new page, its query path, its title property."""

    parent: dict[str, str]
    query_path: str
    title_property: str


class _Publisher:
    """The requests of one publication, each with its own deadline."""

    def __init__(self, notion: NotionService) -> None:
        self.notion = notion

    def deadline(self) -> float:
        """One request's: its timeout, plus the longest pause a 429 may impose on the budget."""
        config = self.notion.config
        return self.notion.deadline(config.timeout + config.max_retry_after)

    async def get(self, path: str) -> dict[str, Any]:
        reply = await self.notion.request("GET", path, deadline=self.deadline(), purpose=PURPOSE)
        return reply.body

    async def target(self, database_id: str) -> _Target:
        """The database (2022-06-28) or its first readable data source, and its title."""
        database = await self.get(f"databases/{database_id}")
        if not has_data_sources(self.notion.version):
            return _Target({"database_id": database_id}, f"databases/{database_id}/query",
                           _title_property(database))
        for listed in database.get("data_sources") or []:
            try:
                source = await self.get(f"data_sources/{listed['id']}")
            except NotionError as exc:
                if exc.kind == "not_found":  # listed, but not shared with the integration
                    continue
                raise
            return _Target({"data_source_id": listed["id"]},
                           f"data_sources/{listed['id']}/query", _title_property(source))
        raise OpsdError(f"reports.notion_database: database {database_id} has no data source "
                        "shared with the integration")

    async def pages_titled(self, target: _Target, title: str) -> list[dict[str, Any]]:
        """The pages titled exactly `title`, oldest first."""
        body = {"filter": {"property": target.title_property, "title": {"equals": title}},
                "sorts": [{"timestamp": "created_time", "direction": "ascending"}],
                "page_size": pages.MAX_CHILDREN}
        reply = await self.notion.request("POST", target.query_path, body=body,
                                          deadline=self.deadline(), purpose=PURPOSE)
        results = reply.body.get("results") or []
        return [page for page in results if _title(page, target.title_property) == title]

    async def create(self, target: _Target, title: str, blocks: list[dict[str, Any]]) -> str:
        first, *rest = list(batches(blocks)) or [[]]
        page = await pages.create_page(
            self.notion, target.parent, {target.title_property: {"title": text_items(title)}},
            first, deadline=self.deadline(), purpose=PURPOSE)
        await self.append(page["id"], rest)
        return str(page["id"])

    async def replace_content(self, page_id: str, blocks: list[dict[str, Any]]) -> None:
        old = await pages.child_blocks(self.notion, page_id, deadline=self.deadline(),
                                       purpose=PURPOSE)
        for block in old:
            await pages.delete_block(self.notion, block["id"], deadline=self.deadline(),
                                     purpose=PURPOSE)
        await self.append(page_id, list(batches(blocks)))

    async def append(self, page_id: str, groups: list[list[dict[str, Any]]]) -> None:
        for group in groups:
            await pages.append_blocks(self.notion, page_id, group, deadline=self.deadline(),
                                      purpose=PURPOSE)


def _title_property(schema: dict[str, Any]) -> str:
    """The name of the title property of a database's or data source's schema."""
    for name, prop in (schema.get("properties") or {}).items():
        if prop.get("type") == "title":
            return str(name)
    raise OpsdError("reports.notion_database: the database has no title property")


def _title(page: dict[str, Any], title_property: str) -> str:
    value = (page.get("properties") or {}).get(title_property) or {}
    return "".join(part.get("plain_text", "") for part in value.get("title") or [])
