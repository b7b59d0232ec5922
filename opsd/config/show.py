"""`opsd config show`: the effective configuration as TOML that opsd reads back.

Durations print as `"35d"`, `"5m"`, `"1h 30m"` (the loader parses them), secrets — masked in
the dump — become comments, so the output stays a valid config file; unset values (None) are
left out, as TOML has no null. `--json` prints the plain dump instead: durations stay numbers
of seconds, for scripts.
"""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from opsd.durations import format_duration_exact, parse_duration

if TYPE_CHECKING:
    from pydantic import BaseModel

MASK = "**********"  # pydantic's form of a SecretStr in a JSON dump
Path = tuple[str | int, ...]
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def duration_paths(model: type[BaseModel], data: dict[str, Any], at: Path = ()) -> Iterator[Path]:
    """Where `data` (a dump of `model`) holds a duration: `("notion", "timeout")`,
    `("alerts", "maintenance", 0, "duration")`. Found once, when the configuration is
    validated, and kept in its snapshot, so that `config show` needs no pydantic."""
    from opsd.config.fields import is_model, unwrap

    for name, field in model.model_fields.items():
        if name not in data or data[name] is None:
            continue
        if _is_duration(field.annotation, field.metadata):
            yield (*at, name)
            continue
        inner = unwrap(field.annotation)
        if is_model(inner) and isinstance(data[name], dict):
            yield from duration_paths(inner, data[name], (*at, name))
        elif typing.get_origin(inner) is list and isinstance(data[name], list):
            item = unwrap(typing.get_args(inner)[0])
            if is_model(item):
                for index, value in enumerate(data[name]):
                    if isinstance(value, dict):
                        yield from duration_paths(item, value, (*at, name, index))


def _is_duration(annotation: Any, metadata: list[Any]) -> bool:
    """A `Duration` field (also `Duration | None`): validated by `parse_duration`."""
    from pydantic import BeforeValidator

    def parses(items: Any) -> bool:
        return any(isinstance(m, BeforeValidator) and m.func is parse_duration for m in items)

    if parses(metadata):
        return True
    for arg in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(arg) is typing.Annotated and parses(typing.get_args(arg)[1:]):
            return True
    return False


def humanize(data: dict[str, Any], durations: Iterable[Path]) -> dict[str, Any]:
    """A copy of `data` with the durations at these paths as strings (`3024000.0` -> `"35d"`)."""
    shown: dict[str, Any] = json.loads(json.dumps(data))
    for path in durations:
        parent: Any = shown
        for part in path[:-1]:
            parent = parent[part]
        value = parent[path[-1]]
        if isinstance(value, int | float) and not isinstance(value, bool):
            parent[path[-1]] = format_duration_exact(float(value))
    return shown


def to_toml(data: dict[str, Any]) -> str:
    """TOML for a config dump: scalars first, then tables and arrays of tables."""
    lines: list[str] = []
    _table(data, (), lines)
    return "\n".join(lines).strip() + "\n"


def _table(data: dict[str, Any], at: tuple[str, ...], lines: list[str]) -> None:
    nested = {k: v for k, v in data.items() if isinstance(v, dict) or _is_table_array(v)}
    for key, value in data.items():
        if key not in nested and value is not None:
            lines.append(_assignment(key, value))
    for key, value in nested.items():
        path = (*at, key)
        header = ".".join(_key(p) for p in path)
        if isinstance(value, dict):
            lines += ["", f"[{header}]"]
            _table(value, path, lines)
        else:
            for item in value:
                lines += ["", f"[[{header}]]"]
                _table(item, path, lines)


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _assignment(key: str, value: Any) -> str:
    """`key = value`; a redacted secret is a comment, so the output loads without it."""
    if value == MASK or (isinstance(value, list) and MASK in value):
        return f"# {_key(key)} = (secret, redacted: set in the config file or environment)"
    return f"{_key(key)} = {_value(value)}"


def _key(key: str | int) -> str:
    text = str(key)
    return text if _BARE_KEY.fullmatch(text) else json.dumps(text)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value if v is not None) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items() if v is not None)
        return "{ " + items + " }" if items else "{}"
    raise TypeError(f"no TOML form for {type(value).__name__}")
