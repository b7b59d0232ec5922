"""Notion schema checks: each watched database's properties against what the playbooks need.

Every run records each data source's schema (property ids, names, types, options) in the store
(`opsd.store.schemas`), so a property renamed in Notion (same id) is reported as renamed, never
as missing, and an option a playbook filter compares with is noticed when it disappears.
Shared plumbing (failure results, per-database fan-out) lives in `opsd.checks.notion`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from opsd.checks.base import CheckSpec, NoParams, check
from opsd.checks.notion import failure, for_each_database, no_source
from opsd.notion.errors import NotionError
from opsd.notion.schema import (
    OPTION_TYPES,
    FilterUse,
    PropertyInfo,
    Schema,
    by_name,
    diff_schemas,
    filter_uses,
    former_names,
    renamed_option,
    schema_from_json,
    schema_to_json,
    where_uses,
)
from opsd.results import Result, Status
from opsd.runbooks import (
    SCHEMA_HINT,
    SCHEMA_OPTION_HINT,
    SCHEMA_OPTION_RENAME_HINT,
    SCHEMA_RENAME_HINT,
)
from opsd.store import schemas

if TYPE_CHECKING:
    from opsd.config import DatabaseConfig
    from opsd.context import Context
    from opsd.notion.service import NotionService, Source
    from opsd.playbooks import PlaybookSet


# --- schema -------------------------------------------------------------------------------------


def compare_schema(
    actual: Mapping[str, str], required: Mapping[str, str]
) -> tuple[list[str], list[dict[str, str]]]:
    """Missing property names and mistyped ones (`property`, `expected`, `actual`) (pure)."""
    missing = [name for name in required if name not in actual]
    mistyped = [
        {"property": name, "expected": kind, "actual": actual[name]}
        for name, kind in required.items()
        if name in actual and actual[name] != kind
    ]
    return missing, mistyped


def renamed_properties(
    names: Sequence[str], current: Schema, history: Sequence[Schema]
) -> dict[str, PropertyInfo]:
    """Of `names` no property has now, those a recorded property had: old name -> it now."""
    if not history:
        return {}
    former = former_names(history)
    present = {prop.name for prop in current.values()}
    renamed = {}
    for name in names:
        now = current.get(former.get(name, ""))
        if name not in present and now is not None and now.name != name:
            renamed[name] = now
    return renamed


FilterUses = Sequence[tuple[str, FilterUse]]
"""(playbook entry name, what its filter names) for one data source."""


def removed_options(
    uses: FilterUses, current: Schema, renamed: Mapping[str, PropertyInfo],
    history: Sequence[Schema],
) -> list[dict[str, Any]]:
    """Options the filters compare with that their (select/status) property lacks (pure).

    `renamed_to` is the option's new name when the property still has it (same option id).
    """
    found = []
    for entry, use in uses:
        prop = renamed.get(use.property) or by_name(current, use.property)
        if use.option is None or prop is None or prop.type not in OPTION_TYPES:
            continue
        if use.option in prop.options:
            continue
        renamed_to = renamed_option(history, prop, use.option)
        removed = renamed_to is None and any(
            use.option in old[prop.id].options for old in history if prop.id in old)
        found.append({"check": entry, "property": prop.name, "option": use.option,
                      "removed": removed, "renamed_to": renamed_to})
    return list({(f["check"], f["property"], f["option"]): f for f in found}.values())


def _option_text(problem: Mapping[str, Any]) -> str:
    if problem["renamed_to"] is not None:
        return (f"the filter of {problem['check']} uses option {problem['option']!r}, which "
                f"{problem['property']} now calls {problem['renamed_to']!r}")
    how = "no longer has" if problem["removed"] else "does not have"
    return (f"the filter of {problem['check']} uses option {problem['option']!r}, which "
            f"{problem['property']} {how}")


def schema_result(
    db: DatabaseConfig, source: Source, target: str, *,
    history: Sequence[Schema] = (), uses: FilterUses = (),
) -> Result:
    """One data source against `required_properties`, its recorded schemas and the playbook
    filters that read it (pure): renames are WARNINGs, never "missing"."""
    required = dict(db.required_properties)
    current = source.schema or {
        name: PropertyInfo(name, name, kind) for name, kind in source.properties.items()}
    named = list(dict.fromkeys([*required, *(use.property for _, use in uses)]))
    renamed = renamed_properties(named, current, history)
    resolved = {**source.properties, **{old: now.type for old, now in renamed.items()}}
    missing, mistyped = compare_schema(resolved, required)
    options = removed_options(uses, current, renamed, history)
    problems = len(missing) + len(mistyped)
    changes = diff_schemas(history[-1], current) if history else []
    details: dict[str, Any] = {
        "data_source": source.name, "required": required, "missing": missing,
        "mistyped": mistyped,
        "renamed": [{"property": old, "name": now.name, "id": now.id}
                    for old, now in renamed.items()],
        "options_missing": options,
        "changes": [change.to_dict() for change in changes],
    }
    parts = [f"{old} is now named {now.name}" for old, now in renamed.items()]
    if missing:
        parts.append("missing " + ", ".join(missing))
    if mistyped:
        parts.append("mistyped " + ", ".join(
            f"{m['property']} ({m['actual']}, expected {m['expected']})" for m in mistyped))
    parts += [_option_text(problem) for problem in options]
    renamed_options = [o for o in options if o["renamed_to"] is not None]
    hints = [hint for hint, present in (
        (SCHEMA_RENAME_HINT, renamed), (SCHEMA_HINT, problems),
        (SCHEMA_OPTION_RENAME_HINT, renamed_options),
        (SCHEMA_OPTION_HINT, len(options) > len(renamed_options))) if present]
    if hints:
        details["hint"] = hints[0] if len(hints) == 1 else " ".join(
            h if h.endswith(".") else h + "." for h in hints)
    if parts:
        summary = "; ".join(parts)
    elif not required:
        summary = "retrievable; no required_properties configured"
    elif len(required) == 1:
        summary = "the required property is present with the expected type"
    else:
        summary = f"all {len(required)} required properties present with the expected types"
    status = Status.WARNING if renamed or options else Status.OK
    return Result(status, summary, value=float(problems), target=target, details=details)


class FilterRef(NamedTuple):
    """What a notion.count entry's filter names: entry, data source (None: all), use."""

    check: str
    data_source: str | None
    use: FilterUse


def playbook_filter_uses(playbooks: PlaybookSet | None) -> dict[str, list[FilterRef]]:
    """Database name -> what the filters of its notion.count entries name."""
    found: dict[str, list[FilterRef]] = {}
    for playbook in (playbooks.playbooks.values() if playbooks else ()):
        for entry in playbook.checks:
            params = entry.params
            database = getattr(params, "database", None)
            if entry.kind != "notion.count" or not isinstance(database, str):
                continue
            uses = (filter_uses(getattr(params, "filter", None))
                    + where_uses(getattr(params, "where", None)))
            source = getattr(params, "data_source", None)
            found.setdefault(database, []).extend(FilterRef(entry.name, source, use)
                                                  for use in uses)
    return found


async def record_and_judge(
    ctx: Context, db: DatabaseConfig, source: Source, target: str,
    uses: Sequence[FilterRef],
) -> Result:
    """Judge one data source against its recorded schemas, then record the schema seen now
    (a read-only plugin run records nothing)."""
    key = source.id or db.id
    kept = await ctx.store.call(schemas.schema_history, db.id, key)
    history = [schema_from_json(snapshot.properties) for snapshot in kept]
    mine = [(ref.check, ref.use) for ref in uses if ref.data_source in (None, source.name)]
    result = schema_result(db, source, target, history=history, uses=mine)
    if ctx.read_only:  # a plugin run: the daemon's next run still sees what changed
        return result
    now = ctx.now()
    await ctx.store.call(schemas.record_schema, database_id=db.id, source_id=key,
                         source_name=source.name, properties=schema_to_json(source.schema),
                         now=now)
    # A few rows per change, kept like the hourly rollups (raw results go after a week).
    await ctx.store.call(schemas.prune_schemas, now - ctx.settings.storage.retention_hourly)
    return result


@check("notion.schema", unit="count", crit=1, targets="notion.databases",
       description="Each database has its required properties with the expected types; "
                   "renames and removed filter options noticed")
async def schema(spec: CheckSpec[NoParams], ctx: Context) -> list[Result]:
    """One result per database (per data source under 2025-09-03); value = problems found."""
    uses = playbook_filter_uses(ctx.resources.playbooks())

    async def one(svc: NotionService, db: DatabaseConfig, deadline: float) -> list[Result]:
        try:
            sources = await svc.sources(db.id, deadline=deadline)
        except NotionError as exc:
            return [failure(exc, db.name)]
        readable = [s for s in sources if s.readable]
        if not readable:
            return [no_source(db, sources)]
        return [
            await record_and_judge(ctx, db, s,
                                   db.name if len(sources) == 1 else f"{db.name}/{s.name}",
                                   uses.get(db.name, []))
            for s in readable
        ]

    return await for_each_database(spec, ctx, one)
