"""Workspace objects as the Notion API returns them, per Notion-Version.

Under 2022-06-28 a database carries its schema (`properties`) and pages are parented by the
database; under 2025-09-03 a database lists its `data_sources` and the schema lives on each
data source, whose pages are parented by the data source.
"""

from __future__ import annotations

from typing import Any

from opsd.notion import versions
from opsd.sandbox.properties import RENDERERS as COMPUTED_RENDERERS
from opsd.sandbox.workspace import (
    BOT_ID,
    BOT_NAME,
    USERS,
    WORKSPACE_NAME,
    WORKSPACE_PAGE_ID,
    Database,
    DataSource,
    Page,
    make_id,
)

LEGACY_VERSION = versions.LEGACY
DATA_SOURCES_VERSION = "2025-09-03"
IN_TRASH_VERSION = "2026-03-11"
"""From this version on objects carry `in_trash` only: `archived` is gone."""
VERSIONS = versions.KNOWN
has_data_sources = versions.has_data_sources
WORKSPACE_ID = make_id("workspace", WORKSPACE_NAME)


def rich_text(content: str) -> list[dict[str, Any]]:
    """Notion rich text for plain `content` (empty list for an empty string)."""
    if not content:
        return []
    return [{
        "type": "text",
        "text": {"content": content, "link": None},
        "annotations": {"bold": False, "italic": False, "strikethrough": False,
                        "underline": False, "code": False, "color": "default"},
        "plain_text": content,
        "href": None,
    }]


def partial_user(user_id: str) -> dict[str, Any]:
    return {"object": "user", "id": user_id}


def bot_user() -> dict[str, Any]:
    """The integration's own user, as `GET /v1/users/me` returns it."""
    return {
        "object": "user",
        "id": BOT_ID,
        "name": BOT_NAME,
        "avatar_url": None,
        "type": "bot",
        "bot": {
            "owner": {"type": "workspace", "workspace": True},
            "workspace_name": WORKSPACE_NAME,
            "workspace_id": WORKSPACE_ID,
        },
    }


def person(user_id: str) -> dict[str, Any]:
    """A full person user object (people property values carry these)."""
    user = next(u for u in USERS if u.id == user_id)
    return {"object": "user", "id": user.id, "name": user.name, "avatar_url": None,
            "type": "person", "person": {"email": user.email}}


def notion_url(title: str, object_id: str) -> str:
    slug = "-".join(title.split())
    return f"https://www.notion.so/{slug}-{object_id.replace('-', '')}"


def _container(obj: str, object_id: str, title: str, created: str, edited: str) -> dict:
    return {
        "object": obj,
        "id": object_id,
        "cover": None,
        "created_time": created,
        "created_by": partial_user(USERS[0].id),
        "last_edited_by": partial_user(USERS[0].id),
        "last_edited_time": edited,
        "title": rich_text(title),
        "description": [],
        "is_inline": False,
        "url": notion_url(title, object_id),
        "public_url": None,
        "archived": False,
        "in_trash": False,
    }


def database_object(db: Database, version: str) -> dict[str, Any]:
    """The database as `GET /v1/databases/{id}` returns it under `version`."""
    body = _container("database", db.id, db.name, db.created_time, db.last_edited_time)
    body["icon"] = {"type": "emoji", "emoji": db.icon}
    body["parent"] = {"type": "page_id", "page_id": WORKSPACE_PAGE_ID}
    if version == LEGACY_VERSION:
        body["properties"] = schema(db.data_sources[0], version)
    else:
        # A linked database lists none: its data source belongs to another database.
        body["data_sources"] = [] if db.linked else [
            {"id": ds.id, "name": ds.name} for ds in db.data_sources]
    return trash_fields(body, version)


def trash_fields(body: dict[str, Any], version: str) -> dict[str, Any]:
    """`body` without `archived` from 2026-03-11 on (only `in_trash` says it is deleted)."""
    if version >= IN_TRASH_VERSION:
        body.pop("archived", None)
    return body


_MULTI_SOURCE_MESSAGE = (
    "Databases with multiple data sources are not supported in this API version. "
    "Use Notion-Version 2025-09-03 and the data source endpoints."
)


def legacy_unreadable(db: Database) -> str | None:
    """Notion's 2022-06-28 message for a database that version cannot read, None if it can."""
    if db.linked:
        return (f"Database with ID {db.id} is a linked database. Database retrievals do not "
                "support linked databases.")
    if len(db.data_sources) > 1:
        return _MULTI_SOURCE_MESSAGE
    if not db.data_sources[0].shared:
        return (f"Database with ID {db.id} does not contain any data sources accessible by this "
                "API bot.")
    return None


def data_source_object(ds: DataSource, db: Database,
                       version: str = DATA_SOURCES_VERSION) -> dict[str, Any]:
    """The data source as `GET /v1/data_sources/{id}` returns it (2025-09-03 and later)."""
    body = _container("data_source", ds.id, ds.name, ds.created_time, ds.last_edited_time)
    body["icon"] = {"type": "emoji", "emoji": db.icon}
    body["parent"] = {"type": "database_id", "database_id": db.id}
    body["database_parent"] = {"type": "page_id", "page_id": WORKSPACE_PAGE_ID}
    body["properties"] = schema(ds, DATA_SOURCES_VERSION)
    return trash_fields(body, version)


def schema(ds: DataSource, version: str) -> dict[str, Any]:
    """The property objects; relations name a data source only under 2025-09-03."""
    if versions.has_data_sources(version):
        return {name: dict(prop) for name, prop in ds.properties.items()}
    legacy = {}
    for name, prop in ds.properties.items():
        prop = dict(prop)
        if prop["type"] == "relation":
            prop["relation"] = {k: v for k, v in prop["relation"].items() if k != "data_source_id"}
        legacy[name] = prop
    return legacy


def page_object(page: Page, ds: DataSource, version: str) -> dict[str, Any]:
    """A page (a data source row) with typed property values."""
    if versions.has_data_sources(version):
        parent = {"type": "data_source_id", "data_source_id": ds.id,
                  "database_id": page.database_id}
    else:
        parent = {"type": "database_id", "database_id": page.database_id}
    title = next((v for n, v in page.values.items()
                  if ds.properties.get(n, {}).get("type") == "title"), "")
    return trash_fields({
        "object": "page",
        "id": page.id,
        "created_time": page.created_time,
        "last_edited_time": page.last_edited_time,
        "created_by": partial_user(page.created_by),
        "last_edited_by": partial_user(page.created_by),
        "cover": None,
        "icon": None,
        "parent": parent,
        "archived": False,
        "in_trash": False,
        "properties": {
            name: property_value(prop, page.values.get(name), page)
            for name, prop in ds.properties.items()
        },
        "url": notion_url(title, page.id),
        "public_url": None,
    }, version)


def property_value(prop: dict[str, Any], value: Any, page: Page) -> dict[str, Any]:
    """One typed property value, e.g. `{"id": "xY1z", "type": "select", "select": {...}}`."""
    kind = prop["type"]
    return {"id": prop["id"], "type": kind, kind: _VALUE_RENDERERS[kind](prop, value, page)}


def _option(prop: dict[str, Any], name: str | None) -> dict[str, Any] | None:
    options = prop[prop["type"]].get("options", [])
    match = next((o for o in options if o["name"] == name), None)
    return None if match is None else {k: match[k] for k in ("id", "name", "color")}


def _date(value: str | None) -> dict[str, Any] | None:
    return None if value is None else {"start": value, "end": None, "time_zone": None}


_VALUE_RENDERERS = {
    "title": lambda prop, value, page: rich_text(value or ""),
    "rich_text": lambda prop, value, page: rich_text(value or ""),
    "select": lambda prop, value, page: _option(prop, value),
    "status": lambda prop, value, page: _option(prop, value),
    "multi_select": lambda prop, value, page: [_option(prop, v) for v in value or []],
    "people": lambda prop, value, page: [person(u) for u in value or []],
    "date": lambda prop, value, page: _date(value),
    "number": lambda prop, value, page: value,
    "url": lambda prop, value, page: value,
    "email": lambda prop, value, page: value,
    "phone_number": lambda prop, value, page: value,
    "files": lambda prop, value, page: list(value or []),
    "checkbox": lambda prop, value, page: bool(value),
    "relation": lambda prop, value, page: [{"id": v} for v in value or []],
    "created_time": lambda prop, value, page: page.created_time,
    "last_edited_time": lambda prop, value, page: page.last_edited_time,
    "created_by": lambda prop, value, page: person(page.created_by),
    "last_edited_by": lambda prop, value, page: person(page.created_by),
    **COMPUTED_RENDERERS,
}
"""Property type -> how a raw stored value is shown in a page's `properties`."""

SUPPORTED_TYPES = frozenset(_VALUE_RENDERERS)


INCOMPLETE = {"type": "incomplete", "incomplete_reason": "query_result_limit_reached"}
"""`request_status` of a query that reached Notion's per-query result limit."""


def list_object(results: list[dict[str, Any]], next_cursor: str | None,
                version: str, incomplete: bool = False) -> dict[str, Any]:
    """A paginated list response (`object: list`), typed as Notion types query results.

    `incomplete`: the query reached Notion's result limit (`request_status` says so).
    """
    list_type = "page_or_data_source" if versions.has_data_sources(version) else "page_or_database"
    listed: dict[str, Any] = {"object": "list", "results": results, "next_cursor": next_cursor,
                              "has_more": next_cursor is not None, "type": list_type,
                              list_type: {}}
    if incomplete:
        listed["request_status"] = dict(INCOMPLETE)
    return listed
