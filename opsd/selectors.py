"""Selectors: where one value is inside a source (a Prometheus sample with label matchers, a
JSON path, a column). Pure parsing, shared by the config's validation and the source readers.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

_METRIC = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?\s*$")
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')
_PATH_PART = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


@dataclasses.dataclass(frozen=True)
class MetricSelector:
    """A Prometheus sample name with label matchers: (label, "=" or "!=", value)."""

    name: str
    matchers: tuple[tuple[str, str, str], ...] = ()

    def matches(self, sample_name: str, labels: Mapping[str, str]) -> bool:
        if sample_name not in (self.name, f"{self.name}_total"):
            return False
        return all(
            (labels.get(label, "") == value) == (op == "=") for label, op, value in self.matchers
        )


def parse_metric_selector(text: str) -> MetricSelector:
    """`app_cache_hits_total{cache="notion"}` -> MetricSelector; raises ValueError."""
    match = _METRIC.match(text)
    if not match:
        raise ValueError(f"not a metric selector: {text!r} (e.g. name{{label=\"value\"}})")
    name, body = match.groups()
    matchers = []
    position = 0
    body = (body or "").strip()
    while position < len(body):
        part = _MATCHER.match(body, position)
        if not part:
            raise ValueError(f"bad label matcher in {text!r} at {body[position:]!r}")
        label, op, value = part.groups()
        matchers.append((label, op, value.replace('\\"', '"').replace("\\\\", "\\")))
        position = part.end()
    return MetricSelector(name, tuple(matchers))


def parse_json_path(path: str) -> list[str | int]:
    """`$.stats.caches[0].hits` -> ["stats", "caches", 0, "hits"]; raises ValueError."""
    text = path.strip().removeprefix("$").removeprefix(".")
    parts: list[str | int] = []
    position = 0
    while position < len(text):
        match = _PATH_PART.match(text, position)
        if not match or match.end() == position:
            raise ValueError(f"not a JSON path: {path!r} (e.g. stats.hits or items[0].hits)")
        key, index = match.groups()
        parts.append(int(index) if index is not None else key)
        position = match.end()
    if not parts:
        raise ValueError(f"empty JSON path: {path!r}")
    return parts


def json_path(document: Any, path: str) -> Any:
    """The value at `path` in `document`; raises LookupError naming the missing part."""
    value = document
    for part in parse_json_path(path):
        # `items[0]` and `items.0` both index a list; `stats.0` can also be a key "0".
        if isinstance(value, list) and str(part).isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and str(part) in value:
            value = value[str(part)]
        else:
            raise LookupError(f"no {str(part)!r} at {path!r}")
    return value


def check_selector(family: str, selector: str) -> None:
    """Raise ValueError when `selector` cannot address a value in a `family` source."""
    if family == "prometheus":
        parse_metric_selector(selector)
    elif family in ("json", "file"):
        parse_json_path(selector)
    elif not selector.strip():
        raise ValueError("must not be empty")
