"""Property ids as Notion sends them, and the property types Notion computes or that hold no
data: formula, rollup, unique_id, button, place (created_by and last_edited_by render the
page's author, in `render`).

Notion's property ids are short strings URL-encoded in every response (`%3AUPp`, `BJXS`,
`%5D%3Bs%60`); the title property's id is `title`. Values of computed types are derived
when a page is rendered, so a rename or a retype of what they read behaves as in Notion
(the value goes empty, nothing crashes). None of this draws from a data source's random
generator: adding a property of these types changes no other page value.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

_NAMESPACE = uuid.UUID("2b0d6f0e-6a51-4a8c-9a43-0f3d8e5c7b21")
_ID_ALPHABET = ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                ":;<=>?@[]^`{|}~")

COMPUTED_TYPES = ("formula", "rollup", "unique_id", "button", "place")

FORMULAS: dict[str, tuple[str, str, Callable[[dict[str, Any]], Any]]] = {
    "Environments Live": (
        'toNumber(prop("Local Status")) + toNumber(prop("Staging Status")) + '
        'toNumber(prop("Production Status"))',
        "number",
        lambda values: sum(bool(values.get(name)) for name in (
            "Local Status", "Staging Status", "Production Status")),
    ),
}
"""Formula property name -> (expression, result type, how the sandbox computes it)."""

ROLLUPS: dict[str, tuple[str, str, str, str]] = {
    "Bottleneck Count": ("Related Bottleneck", "Bottlenecks Registry", "Severity", "count"),
}
"""Rollup property name -> (relation property, its data source, rolled-up property, function)."""

UNIQUE_ID_PREFIX = "FIX"
PLACES = (
    {"lat": 14.5995, "lon": 120.9842, "name": "Manila Office",
     "address": "Ayala Ave, Makati, Metro Manila, Philippines"},
    {"lat": 10.3157, "lon": 123.8854, "name": "Cebu Field Site",
     "address": "Osmeña Blvd, Cebu City, Philippines"},
)


def notion_property_id(*parts: str) -> str:
    """A stable property id shaped like Notion's: 4 characters, URL-encoded (`%3AUPp`)."""
    number = uuid.uuid5(_NAMESPACE, "/".join(parts)).int
    raw = "".join(_ID_ALPHABET[(number >> (7 * i)) % len(_ID_ALPHABET)] for i in range(4))
    return quote(raw, safe="")


def schema_config(kind: str, name: str, resolve: Callable[[str, str], str]) -> dict[str, Any]:
    """The type configuration of a computed property; `resolve(source, property)` -> its id
    (source '' is the property's own data source)."""
    if kind == "formula":
        return {"expression": FORMULAS[name][0]}
    if kind == "rollup":
        relation, source, target, function = ROLLUPS[name]
        return {"relation_property_name": relation,
                "relation_property_id": resolve("", relation),
                "rollup_property_name": target, "rollup_property_id": resolve(source, target),
                "function": function}
    if kind == "unique_id":
        return {"prefix": UNIQUE_ID_PREFIX}
    return {}


def _stored(kind: str, index: int) -> Any:
    if kind == "unique_id":
        return index + 1
    if kind == "place":
        return None if index % 3 == 0 else dict(PLACES[index % len(PLACES)])
    return None


VALUE_MAKERS: dict[str, Callable[..., Any]] = {
    kind: (lambda b, rng, prop, spec, index, kind=kind: _stored(kind, index))
    for kind in (*COMPUTED_TYPES, "created_by", "last_edited_by")
}
"""Raw page values of these types, by the page's index (never drawing random numbers)."""


def _formula(prop: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    expression = (prop.get("formula") or {}).get("expression", "")
    for formula, result_type, compute in FORMULAS.values():
        if formula == expression:
            return {"type": result_type, result_type: compute(values)}
    return {"type": "string", "string": None}


def _rollup(prop: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    config = prop.get("rollup") or {}
    related = values.get(config.get("relation_property_name", ""))
    count = len(related) if isinstance(related, list) else 0
    return {"type": "number", "number": count, "function": config.get("function", "count")}


def _unique_id(prop: dict[str, Any], value: Any) -> dict[str, Any]:
    return {"prefix": (prop.get("unique_id") or {}).get("prefix"),
            "number": value if isinstance(value, int) else None}


RENDERERS: dict[str, Callable[[dict[str, Any], Any, Any], Any]] = {
    "formula": lambda prop, value, page: _formula(prop, page.values),
    "rollup": lambda prop, value, page: _rollup(prop, page.values),
    "unique_id": lambda prop, value, page: _unique_id(prop, value),
    "button": lambda prop, value, page: {},
    "place": lambda prop, value, page: value if isinstance(value, dict) else None,
}
"""Type -> how a page shows it: (schema property, raw value, page) -> Notion's value."""
