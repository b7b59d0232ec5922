"""Notion's request limits, counted per write before Notion refuses it (pure).

Notion rejects a request whose body holds a rich-text `content` over 2,000 characters, an array
over 100 elements, more than 1,000 blocks, or more than 500 KB in all (its "Request limits").
`count_limits` parses the body in memory only and returns counts: the body itself is never kept.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

TEXT_CHARS = 2000  # characters per rich-text `text.content` (and `equation.expression`)
ARRAY_ITEMS = 100  # elements per array (children, rich_text, multi_select, relation, ...)
BLOCKS = 1000  # blocks in one request, nested children included
BODY_BYTES = 500 * 1000  # bytes per request body
NEAR = 0.9  # "approaching": at least this share of a limit
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT"})


@dataclasses.dataclass(frozen=True)
class LimitCounts:
    """How many of a request's values exceed a limit, and how many approach one."""

    exceeded: int = 0
    near: int = 0

    def __add__(self, other: LimitCounts) -> LimitCounts:
        return LimitCounts(self.exceeded + other.exceeded, self.near + other.near)


NONE = LimitCounts()


def judge(value: int, limit: int) -> LimitCounts:
    """One measure against its limit: exceeded, near (>= NEAR of it) or neither."""
    if value > limit:
        return LimitCounts(exceeded=1)
    if value >= NEAR * limit:
        return LimitCounts(near=1)
    return NONE


def count_limits(method: str, body: bytes) -> LimitCounts:
    """The limit counts of one request (writes with a JSON body only; anything else: none)."""
    if method not in WRITE_METHODS or not body:
        return NONE
    counts = judge(len(body), BODY_BYTES)
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return counts
    walked = _Walk()
    walked.visit(data, in_children=False)
    return counts + walked.counts + judge(walked.blocks, BLOCKS)


class _Walk:
    """One pass over a parsed body: long texts, long arrays, blocks."""

    def __init__(self) -> None:
        self.counts = NONE
        self.blocks = 0

    def visit(self, value: Any, *, in_children: bool) -> None:
        # An explicit stack: a deeply nested body must not exhaust Python's recursion.
        stack: list[tuple[Any, bool]] = [(value, in_children)]
        while stack:
            item, block = stack.pop()
            if isinstance(item, dict):
                if block:
                    self.blocks += 1
                self._texts(item)
                for key, child in item.items():
                    stack.append((child, key == "children"))
            elif isinstance(item, list):
                self.counts += judge(len(item), ARRAY_ITEMS)
                stack.extend((child, block) for child in item)

    def _texts(self, item: dict[str, Any]) -> None:
        for holder, key in (("text", "content"), ("equation", "expression")):
            inner = item.get(holder)
            if isinstance(inner, dict) and isinstance(inner.get(key), str):
                self.counts += judge(len(inner[key]), TEXT_CHARS)
