"""The sandbox's Notion workspace: databases, data sources and pages modelled on the seeds.

Everything is deterministic: ids are UUIDv5 of fixed names (so `DATABASES` is a constant that
config files and tests can name), page contents come from a fixed-seed generator, and every
date is an offset in days from `today` (the UTC day the sandbox started, or the one given),
so "due this week" or "done today" filters find the same pages on any day.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opsd.sandbox.properties import COMPUTED_TYPES, notion_property_id, schema_config
from opsd.sandbox.properties import VALUE_MAKERS as COMPUTED_VALUES

WORKSPACE_NAME = "AgSense ERP (CARD MRI Pilot)"
_NAMESPACE = uuid.UUID("7f3c1a52-0d4e-4b8e-9a51-6f0e2c3d4b10")
_SEED = 20250903

# Option colours cycle through Notion's palette, as the app assigns them.
_COLORS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "gray")


def make_id(*parts: str) -> str:
    """A stable dashed UUID for the named object (same name, same id, in every process)."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def normalize_id(value: str) -> str | None:
    """`value` as a dashed lowercase UUID, or None if it is not a UUID (with or without dashes)."""
    try:
        return str(uuid.UUID(hex=value.replace("-", "")))
    except ValueError:
        return None


@dataclass(frozen=True)
class PropertySpec:
    """One column of a data source's schema: its name, Notion type and select/status options."""

    name: str
    type: str
    options: tuple[str, ...] = ()
    relation_to: str | None = None  # data source name, for relation properties
    own_stream: bool = False
    """Values from a generator of the page's own (`_own_values`), so adding such a property
    leaves every other value of the workspace as it was."""


@dataclass(frozen=True)
class SourceSpec:
    """A data source to generate: schema, row count and title pool."""

    name: str
    properties: tuple[PropertySpec, ...]
    pages: int
    titles: tuple[str, ...]


@dataclass(frozen=True)
class DatabaseSpec:
    """A database with an icon and one or more data sources."""

    name: str
    icon: str
    sources: tuple[SourceSpec, ...]


@dataclass
class Page:
    """A row: raw property values (option names, ISO dates, user ids, page ids...)."""

    id: str
    data_source_id: str
    database_id: str
    created_time: str
    last_edited_time: str
    created_by: str
    values: dict[str, Any]


@dataclass
class DataSource:
    """A table under a database: its schema (Notion property objects, by name) and its pages."""

    id: str
    name: str
    database_id: str
    created_time: str
    last_edited_time: str
    properties: dict[str, dict[str, Any]]
    pages: list[Page] = field(default_factory=list)
    shared: bool = True  # False: listed under its database, but GET and query answer 404


@dataclass
class Database:
    """A database container; `shared` False makes it invisible to the integration (404)."""

    id: str
    name: str
    icon: str
    created_time: str
    last_edited_time: str
    data_sources: list[DataSource]
    shared: bool = True
    linked: bool = False  # a linked database: a view of another database's data source


@dataclass(frozen=True)
class User:
    """A person in the workspace."""

    id: str
    name: str
    email: str


USERS = tuple(
    User(make_id("user", name), name, email)
    for name, email in (
        ("Maria Santos", "maria.santos@agsense.example"),
        ("Jose Reyes", "jose.reyes@agsense.example"),
        ("Ana Cruz", "ana.cruz@agsense.example"),
        ("Paolo Garcia", "paolo.garcia@agsense.example"),
        ("Liza Mendoza", "liza.mendoza@agsense.example"),
    )
)
BOT_ID = make_id("user", "bot")
BOT_NAME = "opsd sandbox integration"
WORKSPACE_PAGE_ID = make_id("page", "Main Dashboard")

_ENVIRONMENTS = ("Local", "Staging", "Production")
_P = PropertySpec

WORKSPACE_SPEC: tuple[DatabaseSpec, ...] = (
    DatabaseSpec("Bottlenecks Registry", "🚨", (SourceSpec(
        "Bottlenecks Registry",
        (
            _P("Bottleneck Name", "title"),
            _P("Severity", "select", ("Critical", "High", "Medium")),
            _P("Impact", "rich_text"),
            _P("Status", "select", ("Not Started", "In Progress", "Testing", "Complete")),
            _P("Assigned To", "people"),
            _P("Start Date", "date"),
            _P("Target Date", "date"),
            _P("Environment", "multi_select", _ENVIRONMENTS),
            _P("Performance Before", "rich_text"),
            _P("Performance After", "rich_text"),
            _P("Documentation", "url"),
        ),
        36,
        ("Single Point of Failure", "Synchronous Notion API Calls", "Missing Redis Cache",
         "Database Connection Pool Exhaustion", "Unbounded Log Growth", "No Rate Limit Handling",
         "Cold Start Latency", "N+1 Queries in Farmer Sync", "Large Payload Serialization",
         "Blocking File Uploads", "Missing Health Checks", "Memory Leak in Worker"),
    ),)),
    DatabaseSpec("Optimization Fixes", "🔧", (SourceSpec(
        "Optimization Fixes",
        (
            _P("Fix Title", "title"),
            _P("Related Bottleneck", "relation", relation_to="Bottlenecks Registry"),
            _P("Implementation Status", "select",
               ("Planning", "Development", "Testing", "Deployed")),
            _P("Local Status", "checkbox"),
            _P("Staging Status", "checkbox"),
            _P("Production Status", "checkbox"),
            _P("Code Repository", "url"),
            _P("Performance Metrics", "rich_text"),
            _P("Lessons Learned", "rich_text"),
            # The types Notion computes or that hold no data (opsd.sandbox.properties).
            _P("Environments Live", "formula"),
            _P("Bottleneck Count", "rollup"),
            _P("Fix ID", "unique_id"),
            _P("Mark Deployed", "button"),
            _P("Site", "place"),
            _P("Created By", "created_by"),
            _P("Last Edited By", "last_edited_by"),
        ),
        40,
        ("Multi-Instance Deployment", "Async Notion Client", "Redis Response Cache",
         "Connection Pool Tuning", "Log Rotation", "Token Bucket Limiter", "Warm Pool Workers",
         "Batch Farmer Queries", "Streaming Serializer", "Background Uploads"),
    ),)),
    DatabaseSpec("Testing Results", "🧪", (SourceSpec(
        "Testing Results",
        (
            _P("Test Name", "title"),
            _P("Environment", "select", _ENVIRONMENTS),
            _P("Test Date", "date"),
            _P("Test Results", "select", ("Pass", "Fail", "Partial")),
            _P("Performance Data", "rich_text"),
            _P("Issues Found", "rich_text"),
            _P("Next Steps", "rich_text"),
        ),
        48,
        ("Load Balancer Failover Test", "Cache Hit Rate Test", "Rate Limit Soak Test",
         "Database Failover Drill", "API Latency Benchmark", "Memory Leak Soak",
         "Deployment Rollback Drill", "Token Rotation Test"),
    ),)),
    DatabaseSpec("Deployment Log", "🚀", (SourceSpec(
        "Deployment Log",
        (
            _P("Release", "title"),
            _P("Environment", "select", _ENVIRONMENTS),
            _P("Status", "status", ("Scheduled", "Deploying", "Succeeded", "Rolled Back")),
            _P("Deployed At", "date"),
            _P("Deployed By", "people"),
            _P("Version", "rich_text"),
            _P("Duration (min)", "number"),
            _P("Rollback", "checkbox"),
            _P("Release Notes", "url"),
        ),
        30,
        ("Release",),
    ),)),
    DatabaseSpec("Task Management", "✅", (
        SourceSpec(
            "Tasks",
            (
                _P("Task", "title"),
                _P("Status", "status", ("Not started", "In progress", "Done")),
                _P("Priority", "select", ("High", "Medium", "Low")),
                _P("Assignee", "people"),
                _P("Due Date", "date"),
                _P("Tags", "multi_select", ("backend", "notion", "infra", "docs", "testing")),
                _P("Estimate (h)", "number"),
                # The development figures of the reports (opsd.reports.development).
                _P("Estimated Hours", "number", own_stream=True),
                _P("Actual Hours", "number", own_stream=True),
            ),
            60,
            ("Review bottleneck report", "Rotate Notion token", "Update runbook",
             "Check cache hit rate", "Triage failed tests", "Share database with integration",
             "Prune old log entries", "Write weekly summary", "Verify staging deploy",
             "Tune alert thresholds"),
        ),
        SourceSpec(
            "Sprint Backlog",
            (
                _P("Item", "title"),
                _P("Sprint", "select", ("Sprint 1", "Sprint 2", "Sprint 3", "Sprint 4")),
                _P("Story Points", "number"),
                _P("Status", "status", ("Not started", "In progress", "Done")),
                _P("Owner", "people"),
            ),
            24,
            ("Spike: data source migration", "Alert routing", "Grafana dashboard",
             "Secret scanning baseline", "Playbook editor docs", "Outbox retries"),
        ),
    )),
)

DATABASES: dict[str, str] = {spec.name: make_id("database", spec.name) for spec in WORKSPACE_SPEC}
"""Database name -> id (dashed), stable across runs: name them in configs and tests."""

DATA_SOURCES: dict[str, dict[str, str]] = {
    spec.name: {src.name: make_id("data_source", spec.name, src.name) for src in spec.sources}
    for spec in WORKSPACE_SPEC
}
"""Database name -> {data source name -> id}; Task Management has two data sources."""

_GENERATED_SOURCE = (
    _P("Name", "title"),
    _P("Status", "select", ("Open", "Closed")),
    _P("Score", "number"),
    _P("Checked On", "date"),
)


def generated_spec(index: int) -> DatabaseSpec:
    """The `index`-th extra database (1-based), for benchmarks over many databases."""
    name = f"Generated Database {index:03d}"
    return DatabaseSpec(name, "📦", (SourceSpec(name, _GENERATED_SOURCE, 3, ("Item",)),))


def added_source(today: dt.date, db: Database, name: str) -> DataSource:
    """A data source created in Notion under `db` after the start: a small generated table."""
    return _Builder(today).source(db.id, db.name, SourceSpec(name, _GENERATED_SOURCE, 3, ("Item",)))


def build_workspace(today: dt.date, extra_databases: int = 0) -> dict[str, Database]:
    """Fresh databases by id: the seeds' five plus `extra_databases` generated ones."""
    specs = list(WORKSPACE_SPEC) + [generated_spec(i + 1) for i in range(extra_databases)]
    builder = _Builder(today)
    databases = [builder.database(spec) for spec in specs]
    return {db.id: db for db in databases}


def iso_time(moment: dt.datetime) -> str:
    """Notion's timestamp form: UTC, milliseconds, `Z`."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class _Builder:
    """Generates schemas and pages; one seeded RNG per data source keeps each independent."""

    def __init__(self, today: dt.date) -> None:
        self.today = today
        self.midnight = dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC)
        self.pages_by_source: dict[str, list[str]] = {}
        self.ids_by_source_name: dict[str, tuple[str, str]] = {}

    def database(self, spec: DatabaseSpec) -> Database:
        db_id = make_id("database", spec.name)
        created = iso_time(self.midnight - dt.timedelta(days=180))
        sources = [self.source(db_id, spec.name, src) for src in spec.sources]
        edited = max(p.last_edited_time for s in sources for p in s.pages)
        return Database(db_id, spec.name, spec.icon, created, edited, sources)

    def source(self, db_id: str, db_name: str, spec: SourceSpec) -> DataSource:
        ds_id = make_id("data_source", db_name, spec.name)
        self.ids_by_source_name[spec.name] = (ds_id, db_id)
        rng = random.Random(f"{_SEED}/{db_name}/{spec.name}")
        properties = {p.name: self.schema_property(ds_id, p) for p in spec.properties}
        pages = [self.page(rng, ds_id, db_id, spec, i) for i in range(spec.pages)]
        self.pages_by_source[spec.name] = [p.id for p in pages]
        created = iso_time(self.midnight - dt.timedelta(days=180))
        edited = max(p.last_edited_time for p in pages)
        return DataSource(ds_id, spec.name, db_id, created, edited, properties, pages)

    def schema_property(self, ds_id: str, spec: PropertySpec) -> dict[str, Any]:
        prop_id = "title" if spec.type == "title" else notion_property_id(ds_id, spec.name)
        config: dict[str, Any] = {}
        if spec.type in COMPUTED_TYPES:
            config = schema_config(spec.type, spec.name, lambda source, name: notion_property_id(
                self.ids_by_source_name[source][0] if source else ds_id, name))
        if spec.type in ("select", "multi_select", "status"):
            config["options"] = [
                {"id": property_id(ds_id, spec.name, option), "name": option,
                 "color": _option_color(spec, i), "description": None}
                for i, option in enumerate(spec.options)
            ]
        if spec.type == "status":
            config["groups"] = status_groups(config["options"])
        if spec.type == "number":
            config["format"] = "number"
        if spec.type == "relation" and spec.relation_to:
            target_ds, target_db = self.ids_by_source_name[spec.relation_to]
            config.update(data_source_id=target_ds, database_id=target_db,
                          type="single_property", single_property={})
        return {"id": prop_id, "name": spec.name, "type": spec.type, "description": None,
                spec.type: config}

    def page(self, rng: random.Random, ds_id: str, db_id: str, spec: SourceSpec,
             index: int) -> Page:
        page_id = make_id("page", ds_id, str(index))
        created = self.midnight - dt.timedelta(days=rng.randint(1, 120),
                                               minutes=rng.randint(0, 1439))
        age = (self.midnight - created).total_seconds()
        edited = created + dt.timedelta(seconds=rng.uniform(0, age))
        values = {p.name: self.value(rng, p, spec, index) for p in spec.properties
                  if not p.own_stream}
        values.update(_own_values(page_id, spec))
        return Page(page_id, ds_id, db_id, iso_time(created), iso_time(edited),
                    rng.choice(USERS).id, values)

    def value(self, rng: random.Random, prop: PropertySpec, spec: SourceSpec, index: int) -> Any:
        return _VALUE_MAKERS[prop.type](self, rng, prop, spec, index)


def _title(b: _Builder, rng: random.Random, prop: PropertySpec, spec: SourceSpec,
           index: int) -> str:
    pool = spec.titles
    if len(pool) == 1:  # a release train: "Release 1.0.0", "Release 1.1.0", ...
        return f"{pool[0]} {index // 10 + 1}.{index % 10}.0"
    round_number = index // len(pool)
    base = pool[index % len(pool)]
    return base if round_number == 0 else f"{base} ({round_number + 1})"


def _text(b: _Builder, rng: random.Random, prop: PropertySpec, *_: Any) -> str:
    if prop.name.startswith("Performance"):
        return f"p95 {rng.randint(120, 2400)} ms, {rng.randint(5, 60)} req/s"
    if prop.name == "Version":
        return f"v1.{rng.randint(0, 9)}.{rng.randint(0, 20)}"
    return rng.choice(("", "See linked doc", "Needs follow-up", "Verified in staging",
                       "Customer-facing impact", "Resolved by retry with backoff"))


def _select(b: _Builder, rng: random.Random, prop: PropertySpec, *_: Any) -> str | None:
    return rng.choice(prop.options) if rng.random() > 0.05 else None


def _multi_select(b: _Builder, rng: random.Random, prop: PropertySpec, *_: Any) -> list[str]:
    chosen = rng.sample(prop.options, rng.randint(0, min(2, len(prop.options))))
    return sorted(chosen, key=prop.options.index)


def _people(b: _Builder, rng: random.Random, *_: Any) -> list[str]:
    return [rng.choice(USERS).id] if rng.random() > 0.1 else []


def _date(b: _Builder, rng: random.Random, *_: Any) -> str | None:
    if rng.random() < 0.1:
        return None
    return (b.today + dt.timedelta(days=rng.randint(-45, 30))).isoformat()


def _number(b: _Builder, rng: random.Random, *_: Any) -> float | None:
    return rng.choice((1, 2, 3, 5, 8, 13)) if rng.random() > 0.1 else None


def _url(b: _Builder, rng: random.Random, prop: PropertySpec, spec: SourceSpec,
         index: int) -> str | None:
    return None if rng.random() < 0.2 else f"https://github.com/agsense/erp/pull/{100 + index}"


def _checkbox(b: _Builder, rng: random.Random, *_: Any) -> bool:
    return rng.random() < 0.5


def _relation(b: _Builder, rng: random.Random, prop: PropertySpec, *_: Any) -> list[str]:
    targets = b.pages_by_source.get(prop.relation_to or "", [])
    return [rng.choice(targets)] if targets else []


def _own_values(page_id: str, spec: SourceSpec) -> dict[str, Any]:
    """The `own_stream` properties' values: hours estimated (1–16) and spent (the estimate
    times 0.6–1.8, to the half hour), from a generator seeded by the page's id."""
    own = [p.name for p in spec.properties if p.own_stream]
    if not own:
        return {}
    rng = random.Random(page_id)
    estimated = float(rng.choice((1, 2, 3, 4, 6, 8, 12, 16)))
    actual = round(estimated * rng.uniform(0.6, 1.8) * 2) / 2
    hours = {"Estimated Hours": estimated, "Actual Hours": max(actual, 0.5)}
    return {name: hours.get(name) for name in own}


_VALUE_MAKERS: dict[str, Callable[..., Any]] = {
    "title": _title, "rich_text": _text, "select": _select, "status": _select,
    "multi_select": _multi_select, "people": _people, "date": _date, "number": _number,
    "url": _url, "checkbox": _checkbox, "relation": _relation, **COMPUTED_VALUES,
}

EMPTY_VALUES: dict[str, Any] = {
    "title": "", "rich_text": "", "select": None, "status": None, "multi_select": [],
    "people": [], "date": None, "number": None, "url": None, "checkbox": False, "relation": [],
    "email": None, "phone_number": None, "files": [],
}
"""The value a page holds for a property of each type when nothing is set (after a retype)."""


def retyped(old: dict[str, Any], new_type: str) -> tuple[dict[str, Any], bool]:
    """`old` (a schema property) as `new_type`, and whether page values survive the change.

    Select and status convert into each other with their options, as the Notion app does;
    any other change starts from an empty configuration.
    """
    converts = {old["type"], new_type} <= {"select", "status"}
    config: dict[str, Any] = {"options": []} if new_type in (
        "select", "multi_select", "status") else {}
    if converts:
        config = {"options": [dict(o) for o in old[old["type"]].get("options", [])]}
        if new_type == "status":
            config["groups"] = status_groups(config["options"])
    return {"id": old["id"], "name": old["name"], "type": new_type, "description": None,
            new_type: config}, converts


def _option_color(spec: PropertySpec, index: int) -> str:
    """Colours as the Notion app assigns them; status options take their group's colour."""
    if spec.type != "status":
        return _COLORS[index % len(_COLORS)]
    if index == 0:
        return "default"
    return "green" if index == len(spec.options) - 1 else "blue"


def property_id(*parts: str) -> str:
    """A short, stable property/option id shaped like Notion's (4 URL-safe characters)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    number = uuid.uuid5(_NAMESPACE, "/".join(parts)).int
    return "".join(alphabet[(number >> (6 * i)) % len(alphabet)] for i in range(4))


def status_groups(options: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Notion's three status groups; the last option is Complete, the first To-do."""
    ids = [o["id"] for o in options]
    groups = (("To-do", "gray", ids[:1]), ("In progress", "blue", ids[1:-1]),
              ("Complete", "green", ids[-1:]))
    return [{"id": property_id("group", name, *ids), "name": name, "color": color,
             "option_ids": members} for name, color, members in groups]
