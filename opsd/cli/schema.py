"""`opsd schema DATABASE [--diff 7d] [--json]`: a watched database's schema as Notion has it
now (recorded in the history database, as `notion.schema` records it), and what changed since
the schema in force a while ago, compared by property id."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from opsd.cli import output
from opsd.cli.core import open_app, run_async
from opsd.durations import format_duration, parse_duration
from opsd.errors import ConfigError, OpsdError, UsageError
from opsd.notion.errors import NotionError
from opsd.notion.schema import diff_schemas, schema_from_json, schema_to_json
from opsd.store import schemas

if TYPE_CHECKING:
    from opsd.app import App
    from opsd.config import DatabaseConfig, Settings

SCHEMA_TIMEOUT = 60.0  # seconds for all of a database's requests, retries included


def find_database(settings: Settings, name: str) -> DatabaseConfig:
    """The configured database `name`; ConfigError naming the file and key if there is none."""
    from opsd.config import config_file_of

    for db in settings.notion.databases:
        if db.name == name:
            return db
    config_file = config_file_of(settings)
    known = ", ".join(db.name for db in settings.notion.databases) or "none"
    raise ConfigError(f"{config_file.name if config_file else 'config'}: notion.databases: "
                      f"no database named {name!r} (configured: {known})")


async def read_schema(app: App, db: DatabaseConfig, since: float | None) -> dict[str, Any]:
    """The database's data sources with their schemas now, and the changes since `since`."""
    svc = app.resources.notion
    sources = await svc.sources(db.id, deadline=svc.deadline(SCHEMA_TIMEOUT))
    if not any(s.readable for s in sources):
        from opsd.checks.notion import source_error

        raise source_error(sources)
    now = app.clock()
    report: dict[str, Any] = {"database": db.name, "database_id": db.id,
                              "notion_version": svc.version, "data_sources": [], "changes": []}
    if since is not None:
        report["since"] = since
    for source in sources:
        key = source.id or db.id
        entry: dict[str, Any] = {"id": key, "name": source.name, "readable": source.readable,
                                 "properties": schema_to_json(source.schema)}
        if source.readable and since is not None:
            old = await app.store.call(schemas.schema_as_of, db.id, key, since)
            entry["compared_with"] = old.recorded_at if old else None
            changes = diff_schemas(schema_from_json(old.properties), source.schema) if old else []
            report["changes"] += [{"data_source": source.name, **c.to_dict()} for c in changes]
        if source.readable:
            await app.store.call(schemas.record_schema, database_id=db.id, source_id=key,
                                 source_name=source.name, properties=entry["properties"],
                                 now=now)
        report["data_sources"].append(entry)
    return report


def print_report(report: dict[str, Any], window: float | None) -> None:
    """The schema as tables (one per data source), then the changes when asked for."""
    for number, source in enumerate(report["data_sources"]):
        if number:
            print()
        print(f"{report['database']}: data source {source['name']!r} ({source['id']})")
        if not source["readable"]:
            print("  not shared with the integration: its schema cannot be read")
            continue
        rows = [(p["id"], p["name"], p["type"], ", ".join(p["options"]))
                for p in source["properties"]]
        output.table(rows, ("ID", "NAME", "TYPE", "OPTIONS"))
    if window is None:
        return
    print()
    for source in report["data_sources"]:
        if not source["readable"]:
            continue
        compared = source.get("compared_with")
        if compared is None:
            print(f"{source['name']}: no schema recorded before now, nothing to compare")
            continue
        asked = format_duration(window)
        when = output.format_time(compared)
        oldest = compared > report["since"]
        lines = [c["summary"] for c in report["changes"] if c["data_source"] == source["name"]]
        head = (f"{source['name']}: changes since {when} (the oldest recorded schema; asked "
                f"for {asked})" if oldest else f"{source['name']}: changes in the last {asked}")
        print(head + (":" if lines else ": none"))
        for line in lines:
            print(f"  {line}")


def cmd_schema(args: argparse.Namespace) -> int:
    window = None
    if args.diff is not None:
        try:
            window = parse_duration(args.diff)
        except ValueError as exc:
            raise UsageError(f"--diff: {exc}") from None
    app = open_app(args)
    db = find_database(app.settings, args.database)
    since = app.clock() - window if window is not None else None
    try:
        report = run_async(app, read_schema(app, db, since))
    except NotionError as exc:
        raise OpsdError(f"cannot read the schema of {db.name} from Notion: {exc}") from None
    finally:
        app.close_store()
    if args.json:
        output.print_json(report)
    else:
        print_report(report, window)
    return 0
