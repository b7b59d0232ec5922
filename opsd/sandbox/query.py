"""Query bodies: Notion's filter, sorts and pagination over a data source's pages (pure logic).

Supported filters: property conditions for title/rich_text/url (equals, does_not_equal,
contains, does_not_contain, starts_with, ends_with, is_empty, is_not_empty), select/status
(equals, does_not_equal, is_empty, is_not_empty), multi_select/people/relation (contains,
does_not_contain, is_empty, is_not_empty), checkbox (equals, does_not_equal), number
(equals, does_not_equal, greater_than, less_than, greater_than_or_equal_to,
less_than_or_equal_to, is_empty, is_not_empty), date (equals, before, after, on_or_before,
on_or_after, is_empty, is_not_empty), timestamp filters on created_time/last_edited_time,
and `and`/`or` compounds nested at most two levels deep, as Notion allows. Anything else is a
`QueryError`, which the API answers with 400 `validation_error`.
"""

from __future__ import annotations

import base64
import binascii
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from opsd.sandbox.workspace import DataSource, Page, normalize_id

MAX_PAGE_SIZE = 100
QUERY_RESULT_LIMIT = 10_000
"""Notion returns at most this many results for one query (filter + sorts)."""
OPAQUE_PREFIX = "s:"
"""Cursors from 2025-09-03 on are opaque strings; a client passes them back unchanged."""
_MAX_NESTING = 2


class QueryError(ValueError):
    """The request body is not a valid query; the message is Notion's validation message."""


@dataclass(frozen=True)
class Pagination:
    """Validated `start_cursor` (an item id) and `page_size`; `opaque`: cursors are `s:…`."""

    start_cursor: str | None
    page_size: int
    opaque: bool = False


def parse_pagination(body: dict[str, Any], opaque: bool = False) -> Pagination:
    """`page_size` (1..100, default 100) and `start_cursor` from a request body.

    Plain cursors are page ids; `opaque` cursors (2025-09-03 on) may be any string, and one
    the sandbox never issued is answered as an invalid cursor.
    """
    size = body.get("page_size", MAX_PAGE_SIZE)
    if isinstance(size, bool) or not isinstance(size, int):
        raise QueryError(f"body failed validation: body.page_size should be a number, "
                         f"instead was `{size!r}`.")
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise QueryError(f"body failed validation: body.page_size should be ≤ `100` and ≥ `1`, "
                         f"instead was `{size}`.")
    cursor = body.get("start_cursor")
    if opaque and cursor is not None:
        if not isinstance(cursor, str):
            raise QueryError(f"body failed validation: body.start_cursor should be a string, "
                             f"instead was `{cursor!r}`.")
        return Pagination(decode_cursor(cursor), size, opaque=True)
    if cursor is not None and (not isinstance(cursor, str) or normalize_id(cursor) is None):
        raise QueryError(f"body failed validation: body.start_cursor should be a valid uuid, "
                         f"instead was `{cursor!r}`.")
    return Pagination(normalize_id(cursor) if cursor else None, size, opaque)


def paginate(items: list[Any], pagination: Pagination,
             key: Callable[[Any], str]) -> tuple[list[Any], str | None]:
    """One page of `items` from the cursor on, and the next cursor (the next item's id)."""
    start = 0
    if pagination.start_cursor is not None:
        ids = [key(item) for item in items]
        if pagination.start_cursor not in ids:
            raise QueryError("The start_cursor provided is invalid: "
                             f"{pagination.start_cursor}")
        start = ids.index(pagination.start_cursor)
    window = items[start:start + pagination.page_size]
    following = start + pagination.page_size
    if following >= len(items):
        return window, None
    cursor = key(items[following])
    return window, encode_cursor(cursor) if pagination.opaque else cursor


def encode_cursor(item_id: str) -> str:
    """An opaque cursor pointing at `item_id` (what Notion's `s:` cursors look like)."""
    return OPAQUE_PREFIX + base64.urlsafe_b64encode(item_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The item id inside an opaque cursor; an unknown string names no item (invalid)."""
    if cursor.startswith(OPAQUE_PREFIX):
        payload = cursor[len(OPAQUE_PREFIX):]
        try:
            decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError):
            return cursor
        return normalize_id(decoded) or cursor
    return cursor


def run_query(ds: DataSource, body: dict[str, Any]) -> list[Page]:
    """The pages of `ds` matching the body's `filter`, ordered by its `sorts`."""
    predicate = compile_filter(ds, body.get("filter"))
    pages = [page for page in ds.pages if predicate(page)]
    return sort_pages(ds, pages, body.get("sorts"))


def compile_filter(ds: DataSource, spec: Any, depth: int = 0) -> Callable[[Page], bool]:
    """A predicate over pages for a Notion filter object (None matches every page)."""
    if spec is None:
        return lambda page: True
    if not isinstance(spec, dict) or not spec:
        raise QueryError("body failed validation: body.filter should be an object.")
    for compound, combine in (("and", all), ("or", any)):
        if compound in spec:
            return _compound(ds, spec, compound, combine, depth)
    if "timestamp" in spec:
        return _timestamp_filter(spec)
    return _property_filter(ds, spec)


def _compound(ds: DataSource, spec: dict[str, Any], compound: str,
              combine: Callable[[Any], bool], depth: int) -> Callable[[Page], bool]:
    if depth >= _MAX_NESTING:
        raise QueryError("body failed validation: body.filter compound filters may be nested "
                         "at most 2 levels deep.")
    parts = spec[compound]
    if not isinstance(parts, list):
        raise QueryError(f"body failed validation: body.filter.{compound} should be an array.")
    predicates = [compile_filter(ds, part, depth + 1) for part in parts]
    return lambda page: combine(p(page) for p in predicates)


def _property_filter(ds: DataSource, spec: dict[str, Any]) -> Callable[[Page], bool]:
    name = spec.get("property")
    if not isinstance(name, str):
        raise QueryError("body failed validation: body.filter.property should be defined, "
                         "instead was `undefined`.")
    prop = ds.properties.get(name) or next(
        (p for p in ds.properties.values() if unquote(p["id"]) == unquote(name)), None)
    if prop is None:
        raise QueryError(f"Could not find property with name or id: {name}")
    kind = prop["type"]
    given = [k for k in spec if k != "property"]
    if len(given) != 1:
        raise QueryError(f"body failed validation: body.filter should have exactly one "
                         f"condition type for property `{name}`.")
    filter_type = given[0]
    conditions = _FILTER_TYPE.get(kind, kind)
    if filter_type not in (kind, conditions) or conditions not in _CONDITIONS:
        raise QueryError(f"database property {kind} does not match filter {filter_type}")
    test = _condition(_CONDITIONS[conditions], spec[filter_type], filter_type)
    prop_name = prop["name"]
    return lambda page: test(page.values.get(prop_name))


def _timestamp_filter(spec: dict[str, Any]) -> Callable[[Page], bool]:
    field = spec["timestamp"]
    if field not in ("created_time", "last_edited_time") or field not in spec:
        raise QueryError("body failed validation: body.filter.timestamp should be "
                         "`created_time` or `last_edited_time` with a matching condition.")
    test = _condition(_CONDITIONS["date"], spec[field], field)
    return lambda page: test(getattr(page, field)[:10])


def _condition(table: dict[str, Callable[[Any, Any], bool]], condition: Any,
               filter_type: str) -> Callable[[Any], bool]:
    if not isinstance(condition, dict) or len(condition) != 1:
        raise QueryError(f"body failed validation: body.filter.{filter_type} should have "
                         f"exactly one condition.")
    (operator_name, operand), = condition.items()
    if operator_name not in table:
        raise QueryError(f"body failed validation: body.filter.{filter_type}.{operator_name} "
                         f"is not a supported condition (supported: {', '.join(sorted(table))}).")
    test = table[operator_name]
    return lambda value: test(value, operand)


def _text(value: Any) -> str:
    return (value or "").lower()


def _is_empty(value: Any, wanted: Any) -> bool:
    return (value in (None, "", [])) is bool(wanted)


def _not_empty(value: Any, wanted: Any) -> bool:
    return (value not in (None, "", [])) is bool(wanted)


def _date_compare(compare: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    # ISO dates compare correctly as strings; datetimes are cut to their date part.
    return lambda value, operand: value is not None and compare(value[:10], str(operand)[:10])


def _number_compare(compare: Callable[[float, float], bool]) -> Callable[[Any, Any], bool]:
    return lambda value, operand: value is not None and compare(value, operand)


_EMPTINESS = {"is_empty": _is_empty, "is_not_empty": _not_empty}

_CONDITIONS: dict[str, dict[str, Callable[[Any, Any], bool]]] = {
    "rich_text": {
        "equals": lambda v, o: _text(v) == str(o).lower(),
        "does_not_equal": lambda v, o: _text(v) != str(o).lower(),
        "contains": lambda v, o: str(o).lower() in _text(v),
        "does_not_contain": lambda v, o: str(o).lower() not in _text(v),
        "starts_with": lambda v, o: _text(v).startswith(str(o).lower()),
        "ends_with": lambda v, o: _text(v).endswith(str(o).lower()),
        **_EMPTINESS,
    },
    "select": {
        "equals": lambda v, o: v == o,
        "does_not_equal": lambda v, o: v != o,
        **_EMPTINESS,
    },
    "multi_select": {
        "contains": lambda v, o: o in (v or []),
        "does_not_contain": lambda v, o: o not in (v or []),
        **_EMPTINESS,
    },
    "checkbox": {
        "equals": lambda v, o: bool(v) is bool(o),
        "does_not_equal": lambda v, o: bool(v) is not bool(o),
    },
    "number": {
        "equals": _number_compare(operator.eq),
        "does_not_equal": lambda v, o: v != o,
        "greater_than": _number_compare(operator.gt),
        "less_than": _number_compare(operator.lt),
        "greater_than_or_equal_to": _number_compare(operator.ge),
        "less_than_or_equal_to": _number_compare(operator.le),
        **_EMPTINESS,
    },
    "date": {
        "equals": _date_compare(operator.eq),
        "before": _date_compare(operator.lt),
        "after": _date_compare(operator.gt),
        "on_or_before": _date_compare(operator.le),
        "on_or_after": _date_compare(operator.ge),
        **_EMPTINESS,
    },
}
_CONDITIONS["status"] = _CONDITIONS["select"]
_CONDITIONS["people"] = _CONDITIONS["multi_select"]
_CONDITIONS["relation"] = _CONDITIONS["multi_select"]

_FILTER_TYPE = {"title": "rich_text", "url": "rich_text", "email": "rich_text",
                "phone_number": "rich_text"}
"""Property types filtered with another type's conditions (a title filter uses text ones).

Notion accepts `{"property": "Name", "title": {...}}` as well as `rich_text` for a title, so
both keys are accepted for those types.
"""


def sort_pages(ds: DataSource, pages: list[Page], sorts: Any) -> list[Page]:
    """Pages ordered by `sorts` (property or timestamp, ascending or descending).

    Without sorts Notion returns rows newest-created first; empty values sort last.
    """
    if sorts is None:
        return sorted(pages, key=lambda p: p.created_time, reverse=True)
    if not isinstance(sorts, list):
        raise QueryError("body failed validation: body.sorts should be an array.")
    ordered = list(pages)
    for sort in reversed(sorts):  # stable sorts applied last-key-first give a multi-key order
        key, descending = _sort_key(ds, sort)
        present = [p for p in ordered if key(p) is not None]
        missing = [p for p in ordered if key(p) is None]
        ordered = sorted(present, key=key, reverse=descending) + missing
    return ordered


def _sort_key(ds: DataSource, sort: Any) -> tuple[Callable[[Page], Any], bool]:
    if not isinstance(sort, dict):
        raise QueryError("body failed validation: body.sorts[0] should be an object.")
    direction = sort.get("direction", "ascending")
    if direction not in ("ascending", "descending"):
        raise QueryError("body failed validation: body.sorts[0].direction should be "
                         "`ascending` or `descending`.")
    descending = direction == "descending"
    if "timestamp" in sort:
        field = sort["timestamp"]
        if field not in ("created_time", "last_edited_time"):
            raise QueryError("body failed validation: body.sorts[0].timestamp should be "
                             "`created_time` or `last_edited_time`.")
        return (lambda page: getattr(page, field)), descending
    name = sort.get("property")
    if name not in ds.properties:
        raise QueryError(f"Could not find sort property with name or id: {name}")
    return (lambda page: _sortable(page.values.get(name))), descending


def _sortable(value: Any) -> Any:
    if value in (None, "", []):
        return None
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, str):
        return value.lower()
    return value
