"""A data source's schema by property id, and what changed between two of them (pure).

Notion keeps a property's id when it is renamed or retyped, so comparing by id tells a
rename ("Severity is now named Priority") from a property removed and another added. Ids are
kept exactly as Notion sends them (URL-encoded, e.g. `%3AUPp`; `title` for the title).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal

OPTION_TYPES = frozenset({"select", "multi_select", "status"})
"""Property types whose configuration lists options (by name and id)."""

ChangeKind = Literal["renamed", "retyped", "added", "removed", "option_removed", "option_added",
                     "option_renamed"]


@dataclasses.dataclass(frozen=True)
class PropertyInfo:
    """One property of a schema: its id, name, type and (select/status) option names.

    `option_ids` are the options' Notion ids, in the same order; empty when unknown (schemas
    recorded before ids were kept), and then options compare by name.
    """

    id: str
    name: str
    type: str
    options: tuple[str, ...] = ()
    option_ids: tuple[str, ...] = ()

    def option_names(self) -> dict[str, str] | None:
        """Option id -> name, or None when the ids are unknown."""
        if not self.option_ids or len(self.option_ids) != len(self.options):
            return None
        return dict(zip(self.option_ids, self.options, strict=True))

    def to_dict(self) -> dict[str, Any]:
        """JSON form: `id`, `name`, `type`, `options` (and `option_ids` when known)."""
        data: dict[str, Any] = {"id": self.id, "name": self.name, "type": self.type,
                                "options": list(self.options)}
        if self.option_ids:
            data["option_ids"] = list(self.option_ids)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PropertyInfo:
        """The inverse of `to_dict` (a dict without `option_ids` loads with none)."""
        return cls(str(data["id"]), str(data["name"]), str(data["type"]),
                   tuple(str(o) for o in data.get("options") or ()),
                   tuple(str(o) for o in data.get("option_ids") or ()))


Schema = dict[str, PropertyInfo]
"""Property id -> property, in Notion's order."""


def schema_of(properties: Mapping[str, Any] | None) -> Schema:
    """A schema from a Notion `properties` object (database or data source)."""
    schema: Schema = {}
    for name, prop in (properties or {}).items():
        kind = str(prop.get("type", ""))
        config = prop.get(kind) if isinstance(prop.get(kind), dict) else {}
        listed = [o for o in config.get("options") or () if isinstance(o, dict)
                  ] if kind in OPTION_TYPES else []
        options = tuple(str(o.get("name", "")) for o in listed)
        ids = tuple(str(o.get("id") or "") for o in listed)
        prop_id = str(prop.get("id") or name)
        schema[prop_id] = PropertyInfo(prop_id, str(prop.get("name") or name), kind, options,
                                       ids if all(ids) else ())
    return schema


def schema_to_json(schema: Schema) -> list[dict[str, Any]]:
    """The schema as a JSON list (order kept)."""
    return [prop.to_dict() for prop in schema.values()]


def schema_from_json(data: Iterable[Mapping[str, Any]]) -> Schema:
    """The inverse of `schema_to_json`."""
    props = [PropertyInfo.from_dict(item) for item in data]
    return {prop.id: prop for prop in props}


@dataclasses.dataclass(frozen=True)
class Change:
    """One difference between two schemas, about the property `property_id`.

    `name` is the property's current name (its last name if removed); `old`/`new` are the
    names (renamed), types (retyped, added, removed), the option (option_removed/added) or
    its old and new names (option_renamed).
    """

    kind: ChangeKind
    property_id: str
    name: str
    old: str | None = None
    new: str | None = None

    def describe(self) -> str:
        """One line for people, e.g. `Severity is now named Priority`."""
        if self.kind == "renamed":
            return f"{self.old} is now named {self.new}"
        if self.kind == "retyped":
            return f"{self.name} changed type from {self.old} to {self.new}"
        if self.kind == "added":
            return f"{self.name} was added ({self.new})"
        if self.kind == "removed":
            return f"{self.name} was removed (was {self.old})"
        if self.kind == "option_removed":
            return f"{self.name} lost option {self.old!r}"
        if self.kind == "option_renamed":
            return f"{self.name} option {self.old!r} is now named {self.new!r}"
        return f"{self.name} gained option {self.new!r}"

    def to_dict(self) -> dict[str, Any]:
        """JSON form: `kind`, `property_id`, `name`, `old`, `new`, `summary`."""
        return {**dataclasses.asdict(self), "summary": self.describe()}


def diff_schemas(old: Schema, new: Schema) -> list[Change]:
    """What changed from `old` to `new`, property by property id (new order, then removals)."""
    changes: list[Change] = []
    for prop_id, now in new.items():
        before = old.get(prop_id)
        if before is None:
            changes.append(Change("added", prop_id, now.name, None, now.type))
            continue
        if before.name != now.name:
            changes.append(Change("renamed", prop_id, now.name, before.name, now.name))
        if before.type != now.type:
            changes.append(Change("retyped", prop_id, now.name, before.type, now.type))
        elif now.type in OPTION_TYPES:
            changes += _option_changes(before, now)
    changes += [Change("removed", prop_id, before.name, before.type, None)
                for prop_id, before in old.items() if prop_id not in new]
    return changes


def _option_changes(before: PropertyInfo, now: PropertyInfo) -> list[Change]:
    """Options renamed (same id, when both sides know ids), then removed, then added."""
    old_ids, new_ids = before.option_names(), now.option_names()
    renames = {name: new_ids[i] for i, name in old_ids.items()
               if i in new_ids and new_ids[i] != name} if old_ids and new_ids else {}
    changes = [Change("option_renamed", now.id, now.name, old, new)
               for old, new in renames.items()]
    changes += [Change("option_removed", now.id, now.name, option, None)
                for option in before.options
                if option not in now.options and option not in renames]
    changes += [Change("option_added", now.id, now.name, None, option)
                for option in now.options
                if option not in before.options and option not in renames.values()]
    return changes


def renamed_option(history: Iterable[Schema], now: PropertyInfo, option: str) -> str | None:
    """What `now` calls the option that was named `option` in `history` (same id), or None."""
    current = now.option_names() or {}
    for schema in reversed(list(history)):
        before = schema.get(now.id)
        names = (before.option_names() if before else None) or {}
        option_id = next((i for i, name in names.items() if name == option), None)
        if option_id in current and current[option_id] != option:
            return current[option_id]
    return None


def by_name(schema: Schema, name: str) -> PropertyInfo | None:
    """The property named `name` (or, as Notion filters allow, with that id), or None."""
    found = next((p for p in schema.values() if p.name == name), None)
    return found or schema.get(name)


def former_names(history: Iterable[Schema]) -> dict[str, str]:
    """Every name a property had in `history` (oldest first) -> its id (the latest wins)."""
    names: dict[str, str] = {}
    for schema in history:
        names.update({prop.name: prop.id for prop in schema.values()})
    return names


# --- what playbook filters use ------------------------------------------------------------------

_OPTION_CONDITIONS = ("equals", "does_not_equal", "contains", "does_not_contain")


@dataclasses.dataclass(frozen=True)
class FilterUse:
    """A property a filter names, and the option it compares with (None: no option)."""

    property: str
    option: str | None = None


def filter_uses(notion_filter: Any) -> list[FilterUse]:
    """The properties and options a Notion filter object names (compounds followed)."""
    return list(dict.fromkeys(_walk_filter(notion_filter)))


def _walk_filter(node: Any) -> Iterator[FilterUse]:
    if not isinstance(node, dict):
        return
    for compound in ("and", "or"):
        for part in node.get(compound) or ():
            yield from _walk_filter(part)
    name = node.get("property")
    if not isinstance(name, str):
        return
    found = False
    for kind in OPTION_TYPES:
        condition = node.get(kind)
        if not isinstance(condition, dict):
            continue
        for key in _OPTION_CONDITIONS:
            if isinstance(condition.get(key), str):
                found = True
                yield FilterUse(name, condition[key])
    if not found:
        yield FilterUse(name)


def where_uses(where: Any) -> list[FilterUse]:
    """The properties and option-like values of a `where = {Status = "!Complete"}` table."""
    if not isinstance(where, dict):
        return []
    uses: list[FilterUse] = []
    for name, value in where.items():
        values = value if isinstance(value, list) else [value]
        texts = [v.removeprefix("!") for v in values if isinstance(v, str)]
        uses += [FilterUse(str(name), text) for text in texts] or [FilterUse(str(name))]
    return uses
