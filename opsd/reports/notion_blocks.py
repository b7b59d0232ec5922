"""A report's Markdown as Notion blocks, within Notion's request limits (pure).

What the reports use, and nothing more: `#`/`##`/`###` headings (deeper ones as
`heading_3`), paragraphs (consecutive lines joined), `-`/`*` and `1.` list items, `>` quotes,
`---` dividers, fenced code blocks, and pipe tables (as Notion tables, the first row a header
row); inline `**bold**`, `*italic*`/`_italic_`, `` `code` `` and `[text](https://…)` links.
Images (a local chart file means nothing to Notion) keep their alt text.

Limits: every rich text item holds at most 2,000 characters (longer text is cut into several
items), a block at most 100 of them (a longer paragraph becomes several paragraphs), and a
table at most 100 rows (a longer one is continued in another table under the same header).
Appends of at most 100 blocks are `batches`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

MAX_TEXT = 2000
MAX_ITEMS = 100
MAX_BLOCKS_PER_REQUEST = 1000
CODE_LANGUAGES = frozenset({
    "bash", "c", "css", "diff", "go", "html", "java", "javascript", "json", "markdown",
    "python", "rust", "shell", "sql", "toml", "typescript", "yaml",
})
"""Fence languages passed on (Notion knows these names); any other is "plain text"."""

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+(.*)$")
_DIVIDER = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)\s*([\w+-]*)\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
_INLINE = re.compile(
    r"\*\*(?P<bold>.+?)\*\*"
    r"|`(?P<code>[^`]+)`"
    r"|!\[(?P<alt>[^\]]*)\]\([^)]*\)"
    r"|\[(?P<label>[^\]]+)\]\((?P<url>[^)\s]+)\)"
    r"|(?<![\w*])\*(?P<star>[^*\s][^*]*?)\*(?![\w*])"
    r"|(?<!\w)_(?P<under>[^_\s][^_]*?)_(?!\w)"
)


# --- rich text --------------------------------------------------------------------------------


def text_items(
    content: str, *, bold: bool = False, italic: bool = False, code: bool = False,
    url: str | None = None,
) -> list[dict[str, Any]]:
    """`content` as rich text items of at most 2,000 characters each."""
    link = {"url": url} if url else None
    annotations = {"bold": bold, "italic": italic, "code": code}
    return [
        {"type": "text", "text": {"content": content[i:i + MAX_TEXT], "link": link},
         "annotations": dict(annotations)}
        for i in range(0, len(content), MAX_TEXT)
    ]


def inline(text: str) -> list[dict[str, Any]]:
    """Markdown inline formatting as rich text items."""
    items: list[dict[str, Any]] = []
    position = 0
    for found in _INLINE.finditer(text):
        items += text_items(text[position:found.start()])
        items += _formatted(found)
        position = found.end()
    items += text_items(text[position:])
    return items


def _formatted(found: re.Match[str]) -> list[dict[str, Any]]:
    if found["bold"] is not None:
        return text_items(found["bold"], bold=True)
    if found["code"] is not None:
        return text_items(found["code"], code=True)
    if found["alt"] is not None:
        return text_items(found["alt"])
    if found["label"] is not None:
        url = found["url"]
        # Notion takes http(s) links of at most 2,000 characters: anything else stays text.
        usable = url.startswith(("http://", "https://")) and len(url) <= MAX_TEXT
        return text_items(found["label"], url=url if usable else None)
    return text_items(found["star"] if found["star"] is not None else found["under"],
                      italic=True)


def _text_blocks(kind: str, items: list[dict[str, Any]], **extra: Any) -> list[dict[str, Any]]:
    """One block of `kind` per 100 rich text items (an empty block for none)."""
    chunks = [items[i:i + MAX_ITEMS] for i in range(0, len(items), MAX_ITEMS)] or [[]]
    return [{"object": "block", "type": kind, kind: {"rich_text": chunk, **extra}}
            for chunk in chunks]


# --- blocks ---------------------------------------------------------------------------------------


def markdown_blocks(markdown: str) -> list[dict[str, Any]]:
    """The blocks of a Markdown document, in order."""
    lines = markdown.splitlines()
    found: list[dict[str, Any]] = []
    paragraph: list[str] = []
    index = 0

    def flush() -> None:
        if paragraph:
            found.extend(_text_blocks("paragraph", inline(" ".join(paragraph))))
            paragraph.clear()

    while index < len(lines):
        line = lines[index]
        fence = _FENCE.match(line)
        if fence:
            flush()
            end = next((j for j in range(index + 1, len(lines))
                        if lines[j].strip().startswith(fence[1])), len(lines))
            found += _code("\n".join(lines[index + 1:end]), fence[2].lower())
            index = end + 1
            continue
        if _is_table_row(line):
            flush()
            end = index
            while end < len(lines) and _is_table_row(lines[end]):
                end += 1
            found += _tables(lines[index:end])
            index = end
            continue
        blocks = _line_block(line)
        if blocks is None:
            paragraph.append(line.strip())
        else:
            flush()
            found += blocks
        index += 1
    flush()
    return found


def _line_block(line: str) -> list[dict[str, Any]] | None:
    """The block(s) one line makes on its own; [] for a blank line, None for paragraph text."""
    if not line.strip():
        return []
    if _DIVIDER.match(line):
        return [{"object": "block", "type": "divider", "divider": {}}]
    heading = _HEADING.match(line)
    if heading:
        level = min(len(heading[1]), 3)
        return _text_blocks(f"heading_{level}", inline(heading[2]))
    for pattern, kind in ((_BULLET, "bulleted_list_item"), (_NUMBERED, "numbered_list_item")):
        item = pattern.match(line)
        if item:
            return _text_blocks(kind, inline(item[1]))
    if line.lstrip().startswith(">"):
        return _text_blocks("quote", inline(line.lstrip()[1:].strip()))
    return None


def _code(source: str, language: str) -> list[dict[str, Any]]:
    return _text_blocks("code", text_items(source),
                        language=language if language in CODE_LANGUAGES else "plain text")


def _is_table_row(line: str) -> bool:
    return line.strip().startswith("|")


def _cells(line: str) -> list[str]:
    row = line.strip().removeprefix("|").removesuffix("|")
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", row)]


def _tables(lines: Sequence[str]) -> list[dict[str, Any]]:
    """Pipe-table lines as Notion tables of at most 100 rows, each repeating the header."""
    has_header = len(lines) > 1 and bool(_TABLE_RULE.match(lines[1]))
    rows = [_cells(line) for line in lines if not _TABLE_RULE.match(line)]
    if not rows:  # separator lines only ("|---|"): no cell to show
        return []
    width = max(len(row) for row in rows)
    rows = [row + [""] * (width - len(row)) for row in rows]
    header, body = (rows[:1], rows[1:]) if has_header else ([], rows)
    per_table = MAX_ITEMS - len(header)
    chunks = [body[i:i + per_table] for i in range(0, len(body), per_table)] or [[]]
    return [_table(header + chunk, width, has_header) for chunk in chunks]


def _table(rows: list[list[str]], width: int, has_header: bool) -> dict[str, Any]:
    children = [{"object": "block", "type": "table_row",
                 "table_row": {"cells": [inline(cell)[:MAX_ITEMS] for cell in row]}}
                for row in rows]
    return {"object": "block", "type": "table",
            "table": {"table_width": width, "has_column_header": has_header,
                      "has_row_header": False, "children": children}}


# --- requests ---------------------------------------------------------------------------------


def size(block: dict[str, Any]) -> int:
    """How many block elements `block` counts for in a request (itself and its children)."""
    content = block.get(block["type"], {})
    return 1 + sum(size(child) for child in content.get("children", ()))


def batches(blocks: Sequence[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """`blocks` in appends of at most 100 blocks and 1,000 block elements each."""
    batch: list[dict[str, Any]] = []
    elements = 0
    for block in blocks:
        weight = size(block)
        if batch and (len(batch) == MAX_ITEMS or elements + weight > MAX_BLOCKS_PER_REQUEST):
            yield batch
            batch, elements = [], 0
        batch.append(block)
        elements += weight
    if batch:
        yield batch
