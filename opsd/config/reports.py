"""`[reports]`: where the daily, weekly and monthly reports go and what they read."""

from __future__ import annotations

from pydantic import Field

from opsd.config.base import Section


class ReportsConfig(Section):
    notion_database: str | None = Field(
        None, description="Name of a [[notion.databases]] entry: `opsd report --notion` writes "
        "one page per period there (rerunning updates it).",
    )
