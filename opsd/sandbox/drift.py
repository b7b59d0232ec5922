"""Schema edits a Notion user makes, applied to one data source: rename a property (its id
stays), rename a select/status/multi-select option (its id stays, pages follow) and remove one
(pages holding it lose the value)."""

from __future__ import annotations

from opsd.sandbox.workspace import DataSource, status_groups

OPTION_TYPES = ("select", "multi_select", "status")


def rename_property(ds: DataSource, prop: str, new_name: str) -> None:
    """`prop` is now called `new_name`: same id, same place in the schema, pages keep values."""
    if not new_name.strip() or new_name in ds.properties:
        raise ValueError(f"{ds.name!r} already has a property named {new_name!r}")
    ds.properties = {
        (new_name if name == prop else name): ({**spec, "name": new_name} if name == prop
                                                else spec)
        for name, spec in ds.properties.items()
    }
    for page in ds.pages:
        page.values = {(new_name if name == prop else name): value
                       for name, value in page.values.items()}


def _options(ds: DataSource, prop: str, option: str) -> list[dict]:
    """The options of `prop`, which must include one named `option` (ValueError if not)."""
    spec = ds.properties[prop]
    kind = spec["type"]
    options: list[dict] = (spec.get(kind) or {}).get("options", []) if (
        kind in OPTION_TYPES) else []
    if not any(o["name"] == option for o in options):
        raise ValueError(f"{prop!r} of {ds.name!r} has no option {option!r}")
    return options


def rename_option(ds: DataSource, prop: str, option: str, new_name: str) -> None:
    """`option` of `prop` is now called `new_name`: same option id and colour; pages follow."""
    options = _options(ds, prop, option)
    if not new_name.strip() or any(o["name"] == new_name for o in options):
        raise ValueError(f"{prop!r} of {ds.name!r} already has an option named {new_name!r}")
    spec = ds.properties[prop]
    kind = spec["type"]
    config = {**spec[kind], "options": [{**o, "name": new_name} if o["name"] == option else o
                                        for o in options]}
    ds.properties[prop] = {**spec, kind: config}  # status groups list option ids: unchanged
    for page in ds.pages:
        value = page.values.get(prop)
        if kind == "multi_select":
            page.values[prop] = [new_name if v == option else v for v in value or []]
        elif value == option:
            page.values[prop] = new_name


def remove_option(ds: DataSource, prop: str, option: str) -> None:
    """Delete `option` from a select, multi-select or status property, and from every page."""
    options = _options(ds, prop, option)
    spec = ds.properties[prop]
    kind = spec["type"]
    config = {**spec[kind], "options": [o for o in options if o["name"] != option]}
    if kind == "status":
        config["groups"] = status_groups(config["options"])
    ds.properties[prop] = {**spec, kind: config}
    for page in ds.pages:
        value = page.values.get(prop)
        if kind == "multi_select":
            page.values[prop] = [v for v in value or [] if v != option]
        elif value == option:
            page.values[prop] = None
