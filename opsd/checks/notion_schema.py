"""Notion schema checks: each watched database's properties against what the playbooks need.

Shared plumbing (failure results, per-database fan-out) lives in `opsd.checks.notion`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from opsd.checks.base import CheckSpec, NoParams, check
from opsd.checks.notion import failure, for_each_database, no_source
from opsd.notion.errors import NotionError
from opsd.results import Result, Status
from opsd.runbooks import SCHEMA_HINT

if TYPE_CHECKING:
    from opsd.config import DatabaseConfig
    from opsd.context import Context
    from opsd.notion.service import NotionService, Source


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


def schema_result(db: DatabaseConfig, source: Source, target: str) -> Result:
    """One database (or data source) against its `required_properties` (pure)."""
    required = dict(db.required_properties)
    missing, mistyped = compare_schema(source.properties, required)
    problems = len(missing) + len(mistyped)
    details: dict[str, Any] = {
        "data_source": source.name, "required": required, "missing": missing,
        "mistyped": mistyped,
    }
    if not required:
        summary = "retrievable; no required_properties configured"
    elif not problems:
        summary = ("the required property is present with the expected type"
                   if len(required) == 1 else
                   f"all {len(required)} required properties present with the expected types")
    else:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(missing))
        if mistyped:
            parts.append("mistyped " + ", ".join(
                f"{m['property']} ({m['actual']}, expected {m['expected']})" for m in mistyped))
        summary = "; ".join(parts)
        details["hint"] = SCHEMA_HINT
    return Result(Status.OK, summary, value=float(problems), target=target, details=details)


@check("notion.schema", unit="count", crit=1,
       description="Each database has its required properties with the expected types")
async def schema(spec: CheckSpec[NoParams], ctx: Context) -> list[Result]:
    """One result per database (per data source under 2025-09-03); value = problems found."""

    async def one(svc: NotionService, db: DatabaseConfig, deadline: float) -> list[Result]:
        try:
            sources = await svc.sources(db.id, deadline=deadline)
        except NotionError as exc:
            return [failure(exc, db.name)]
        if not sources:
            return [no_source(db)]
        return [
            schema_result(db, s, db.name if len(sources) == 1 else f"{db.name}/{s.name}")
            for s in sources
        ]

    return await for_each_database(spec, ctx, one)


