"""The Notion-Versions opsd knows and what changes from each to the next (one place: the
config's accepted values, the sandbox's `VERSIONS` and the `notion.api_version` check read it).

Sources: Notion's upgrade guides for 2025-09-03 (data sources) and 2026-03-11 (`archived`
renamed `in_trash`, `after` replaced by `position` when appending blocks, the
`transcription` block renamed `meeting_notes`).
"""

from __future__ import annotations

from opsd.config.sections import NOTION_VERSIONS

KNOWN: tuple[str, ...] = NOTION_VERSIONS
"""Every accepted Notion-Version, oldest first."""
NEWEST = KNOWN[-1]
LEGACY = "2022-06-28"
"""The last version without data sources: the schema lives on the database."""

CHANGES: dict[str, str] = {
    "2025-09-03": "databases hold data sources (schema and queries move to "
                  "/v1/data_sources); under 2022-06-28 a database with several data sources "
                  "cannot be read at all (\"Databases with multiple data sources are not "
                  "supported in this API version\")",
    "2026-03-11": "archived is renamed in_trash in every request and response; appending "
                  "blocks takes position instead of after; the transcription block is "
                  "meeting_notes",
}
"""Version -> what an integration must change to move up to it (from the version before)."""


def has_data_sources(version: str) -> bool:
    """Does `version` read schemas and queries through data sources (2025-09-03 and later)?"""
    return version != LEGACY


def newer_than(version: str) -> list[str]:
    """The known versions after `version`, oldest first (empty for the newest or unknown)."""
    if version not in KNOWN:
        return []
    return list(KNOWN[KNOWN.index(version) + 1:])


def upgrade_notes(version: str) -> list[str]:
    """`"2026-03-11: archived is renamed …"` for each newer version, oldest first (pure)."""
    return [f"{newer}: {CHANGES[newer]}" for newer in newer_than(version)]
