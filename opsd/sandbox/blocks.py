"""What a page write may carry, checked as Notion checks it (pure logic): rich text, blocks
and property values within Notion's request limits, with Notion's validation messages.

The limits (developers.notion.com, "Request limits"): a rich text object's `text.content`
and `text.link.url` at most 2,000 characters, any array (rich text, children, multi-select,
people, relations) at most 100 elements, URLs 2,000 characters, e-mail addresses and phone
numbers 200, children nested at most two levels deep in one request, and at most 1,000
block elements in one request. A request over any of them is answered with 400
`validation_error` and a message naming the field, e.g. ``body failed validation:
body.children[0].paragraph.rich_text[0].text.content.length should be ≤ `2000`, instead was
`5000`.``
"""

from __future__ import annotations

from typing import Any

from opsd.sandbox.query import QueryError

MAX_TEXT = 2000
MAX_ARRAY = 100
MAX_URL = 2000
MAX_SHORT = 200  # e-mail addresses and phone numbers
MAX_DEPTH = 2
MAX_BLOCKS = 1000

TEXT_BLOCKS = frozenset({
    "paragraph", "heading_1", "heading_2", "heading_3", "bulleted_list_item",
    "numbered_list_item", "quote", "to_do", "toggle", "callout", "code",
})
"""Block types whose content is a `rich_text` array (and may hold children)."""
BLOCK_TYPES = TEXT_BLOCKS | {"divider", "table", "table_row"}

_ANNOTATIONS = {"bold": False, "italic": False, "strikethrough": False, "underline": False,
                "code": False, "color": "default"}


def invalid(message: str) -> QueryError:
    """Notion's 400 `validation_error` with `message` (the API answers a QueryError so)."""
    return QueryError(message)


def too_long(path: str, limit: int, actual: int) -> QueryError:
    return invalid(f"body failed validation: {path}.length should be ≤ `{limit}`, instead was "
                   f"`{actual}`.")


def check_array(value: Any, path: str) -> list[Any]:
    """`value` if it is an array of at most 100 elements."""
    if not isinstance(value, list):
        raise invalid(f"body failed validation: {path} should be an array, instead was "
                      f"`{_shown(value)}`.")
    if len(value) > MAX_ARRAY:
        raise too_long(path, MAX_ARRAY, len(value))
    return value


def rich_text(value: Any, path: str) -> list[dict[str, Any]]:
    """A request's rich text array as Notion returns it (annotations, `plain_text`, `href`)."""
    parts = []
    for index, item in enumerate(check_array(value, path)):
        where = f"{path}[{index}]"
        text = item.get("text") if isinstance(item, dict) else None
        if not isinstance(text, dict) or not isinstance(text.get("content"), str):
            raise invalid(f"body failed validation: {where}.text.content should be defined, "
                          f"instead was `undefined`.")
        content = text["content"]
        if len(content) > MAX_TEXT:
            raise too_long(f"{where}.text.content", MAX_TEXT, len(content))
        link = text.get("link")
        url = link.get("url") if isinstance(link, dict) else None
        if isinstance(url, str) and len(url) > MAX_URL:
            raise too_long(f"{where}.text.link.url", MAX_URL, len(url))
        annotations = {**_ANNOTATIONS, **(item.get("annotations") or {})}
        parts.append({"type": "text", "text": {"content": content, "link": link or None},
                      "annotations": annotations, "plain_text": content,
                      "href": url if isinstance(url, str) else None})
    return parts


def plain(parts: list[dict[str, Any]]) -> str:
    return "".join(part["plain_text"] for part in parts)


def check_children(children: Any, path: str) -> list[dict[str, Any]]:
    """A request's `children`: at most 100 per array, 1,000 in all, two levels deep, each a
    block of a type the sandbox keeps with valid content."""
    blocks = _children(children, path, depth=1)
    total = _count(blocks)
    if total > MAX_BLOCKS:
        raise invalid(f"body failed validation: {path} should contain at most `{MAX_BLOCKS}` "
                      f"block elements in one request, instead was `{total}`.")
    return blocks


def _children(children: Any, path: str, depth: int) -> list[dict[str, Any]]:
    if depth > MAX_DEPTH:
        raise invalid(f"body failed validation: {path} is nested more than {MAX_DEPTH} levels "
                      "deep; append deeper children in a later request.")
    return [_block(block, f"{path}[{index}]", depth)
            for index, block in enumerate(check_array(children, path))]


def _block(block: Any, path: str, depth: int) -> dict[str, Any]:
    """One requested block as {"type", "content", "children"} (content without children)."""
    if not isinstance(block, dict):
        raise invalid(f"body failed validation: {path} should be an object, instead was "
                      f"`{_shown(block)}`.")
    kind = block.get("type") or next((k for k in block if k in BLOCK_TYPES), None)
    if kind not in BLOCK_TYPES or not isinstance(block.get(kind), dict):
        raise invalid(f"body failed validation: {path} should be a block of one of the types "
                      f"{', '.join(sorted(BLOCK_TYPES))}, instead was `{_shown(kind)}`.")
    content = dict(block[kind])
    nested = content.pop("children", None)
    where = f"{path}.{kind}"
    if kind in TEXT_BLOCKS:
        content["rich_text"] = rich_text(content.get("rich_text", []), f"{where}.rich_text")
    if kind == "table_row":
        content["cells"] = [rich_text(cell, f"{where}.cells[{i}]")
                            for i, cell in enumerate(check_array(content.get("cells"),
                                                                 f"{where}.cells"))]
    children = [] if nested is None else _children(nested, f"{where}.children", depth + 1)
    if kind == "table":
        _check_table(content, children, where)
    return {"type": kind, "content": content, "children": children}


def _check_table(content: dict[str, Any], rows: list[dict[str, Any]], where: str) -> None:
    width = content.get("table_width")
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise invalid(f"body failed validation: {where}.table_width should be a number, "
                      f"instead was `{_shown(width)}`.")
    for index, row in enumerate(rows):
        if row["type"] != "table_row" or len(row["content"]["cells"]) != width:
            raise invalid(f"Number of cells in table row {index} does not match the table's "
                          f"width ({width}).")


def _count(blocks: list[dict[str, Any]]) -> int:
    return sum(1 + _count(block["children"]) for block in blocks)


def _shown(value: Any) -> str:
    return "undefined" if value is None else str(value)[:40]


# --- property values ---------------------------------------------------------------------------


def property_value(prop: dict[str, Any], value: Any, path: str) -> Any:
    """A requested property value (`{"title": [...]}`, `{"select": {"name": …}}`, …) as the
    workspace stores it (plain text, option name, ISO date, ids)."""
    kind = prop["type"]
    if not isinstance(value, dict) or kind not in value:
        raise invalid(f"body failed validation: {path}.{kind} should be defined, instead was "
                      "`undefined`.")
    raw = value[kind]
    where = f"{path}.{kind}"
    if kind in ("title", "rich_text"):
        return plain(rich_text(raw, where))
    if raw is None:
        return [] if kind in ("multi_select", "people", "relation") else None
    reader = _READERS.get(kind)
    if reader is None:
        raise invalid(f"{prop['name']} is a {kind} property: its value is not set through "
                      "the API.")
    return reader(prop, raw, where)


def _option(prop: dict[str, Any], raw: Any, where: str) -> str:
    name = raw.get("name") if isinstance(raw, dict) else None
    known = [o["name"] for o in prop[prop["type"]].get("options", [])]
    if name not in known:
        raise invalid(f"Invalid {prop['type']} option `{_shown(name)}` for property "
                      f"{prop['name']}: the sandbox knows {', '.join(known) or 'none'}.")
    return str(name)


def _options(prop: dict[str, Any], raw: Any, where: str) -> list[str]:
    return [_option(prop, item, where) for item in check_array(raw, where)]


def _ids(prop: dict[str, Any], raw: Any, where: str) -> list[str]:
    return [str(item.get("id")) for item in check_array(raw, where) if isinstance(item, dict)]


def _limited(limit: int) -> Any:
    def read(prop: dict[str, Any], raw: Any, where: str) -> str:
        if not isinstance(raw, str):
            raise invalid(f"body failed validation: {where} should be a string, instead was "
                          f"`{_shown(raw)}`.")
        if len(raw) > limit:
            raise too_long(where, limit, len(raw))
        return raw
    return read


def _number(prop: dict[str, Any], raw: Any, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise invalid(f"body failed validation: {where} should be a number, instead was "
                      f"`{_shown(raw)}`.")
    return raw


def _date(prop: dict[str, Any], raw: Any, where: str) -> str:
    start = raw.get("start") if isinstance(raw, dict) else None
    if not isinstance(start, str):
        raise invalid(f"body failed validation: {where}.start should be defined, instead was "
                      "`undefined`.")
    return start


_READERS = {
    "select": _option, "status": _option, "multi_select": _options,
    "people": _ids, "relation": _ids, "number": _number, "date": _date,
    "checkbox": lambda prop, raw, where: bool(raw),
    "url": _limited(MAX_URL), "email": _limited(MAX_SHORT), "phone_number": _limited(MAX_SHORT),
}
