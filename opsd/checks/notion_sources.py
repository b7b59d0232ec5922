"""Notion data sources: how many each database holds, their titles, and changes between runs.

A database that gains a second data source still works under Notion-Version 2025-09-03, but
every integration pinned to 2022-06-28 stops reading it ("Databases with multiple data sources
are not supported in this API version"), so a change is worth a WARNING even when opsd itself
reads it fine. The previous listing (data source id -> title) is kept per database in the
store's key/value state; the first run only records it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from opsd.checks.base import CheckSpec, NoParams, check
from opsd.checks.notion import failure, for_each_database, no_source
from opsd.notion import versions
from opsd.notion.errors import NotionError
from opsd.results import Result, Status
from opsd.runbooks import DATA_SOURCES_CHANGED_HINT, SOURCE_NOT_SHARED_HINT
from opsd.store import state

if TYPE_CHECKING:
    from opsd.config import DatabaseConfig
    from opsd.context import Context
    from opsd.notion.service import NotionService, Source

STATE_NAMESPACE = "notion.data_sources"
"""Key/value state: database id -> {data source id: title} as listed by the last run."""


def compare_listings(
    previous: Mapping[str, str], current: Mapping[str, str]
) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """Titles added and removed, and (old, new) titles renamed, between two listings (pure)."""
    added = [title for ds_id, title in current.items() if ds_id not in previous]
    removed = [title for ds_id, title in previous.items() if ds_id not in current]
    renamed = [(previous[ds_id], title) for ds_id, title in current.items()
               if ds_id in previous and previous[ds_id] != title]
    return added, removed, renamed


def _titles(names: Sequence[str]) -> str:
    return ", ".join(repr(name) for name in names)


def listing_result(
    db: DatabaseConfig, sources: Sequence[Source], previous: Mapping[str, str] | None
) -> Result:
    """One database's data sources against the previous run's listing (pure)."""
    current = {s.id: s.name for s in sources}
    count = len(sources)
    details: dict[str, Any] = {
        "data_sources": [{"id": s.id, "name": s.name, "readable": s.readable} for s in sources],
        "previous": dict(previous) if previous is not None else None,
    }
    if not any(s.readable for s in sources):
        missing = no_source(db, sources)
        return missing.replace(value=float(count), details={**missing.details, **details})
    added, removed, renamed = compare_listings(current if previous is None else previous,
                                               current)
    unshared = [s.name for s in sources if not s.readable]
    details.update(added=added, removed=removed,
                   renamed=[{"from": old, "to": new} for old, new in renamed],
                   not_shared=unshared)
    parts = [f"{count} data source{'s' if count != 1 else ''}: {_titles(list(current.values()))}"]
    status = Status.OK
    if added or removed:
        status = Status.WARNING
        changes = ([f"gained {_titles(added)}"] if added else []) + (
            [f"lost {_titles(removed)}"] if removed else [])
        parts.append(f"{' and '.join(changes)} since the last run (breaks integrations pinned "
                     f"to {versions.LEGACY})")
        details["hint"] = DATA_SOURCES_CHANGED_HINT
    parts += [f"{old!r} is now named {new!r}" for old, new in renamed]
    if unshared:
        status = Status.WARNING
        parts.append(f"{_titles(unshared)} not shared with the integration")
        details.setdefault("hint", SOURCE_NOT_SHARED_HINT)
    return Result(status, "; ".join(parts), value=float(count), target=db.name, details=details)


@check("notion.data_sources", unit="count", targets="notion.databases",
       description="Each database's data sources: count and titles, changes since the last run")
async def data_sources(spec: CheckSpec[NoParams], ctx: Context) -> list[Result]:
    """WARNING when a database gains or loses a data source; CRITICAL when none is readable."""

    async def one(svc: NotionService, db: DatabaseConfig, deadline: float) -> list[Result]:
        try:
            sources = await svc.sources(db.id, deadline=deadline)
        except NotionError as exc:
            return [failure(exc, db.name)]
        if not versions.has_data_sources(svc.version):
            return [Result(
                Status.OK,
                f"read as one database under Notion-Version {svc.version} (it cannot list "
                "data sources; a second one would make the database unreadable)",
                value=1.0, target=db.name, details={"notion_version": svc.version},
            )]
        previous = await ctx.store.call(state.get_state, STATE_NAMESPACE, db.id)
        result = listing_result(db, sources, previous)
        # An empty listing (linked database) is no baseline to compare with.
        if sources and not ctx.read_only:
            await ctx.store.call(state.set_state, STATE_NAMESPACE, db.id,
                                 {s.id: s.name for s in sources}, now=ctx.now())
        return [result]

    return await for_each_database(spec, ctx, one)
