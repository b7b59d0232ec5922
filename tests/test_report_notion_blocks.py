"""A report's Markdown as Notion blocks (opsd.reports.notion_blocks): the shapes, and Notion's
limits held for any input (2,000 characters per rich text item, 100 items per array, 100
blocks and 1,000 elements per append)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from opsd.reports.notion_blocks import batches, inline, markdown_blocks, size


def texts(block: dict[str, Any]) -> str:
    return "".join(item["text"]["content"] for item in block[block["type"]]["rich_text"])


def items_of(blocks: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Every rich text array in `blocks`, table cells included."""
    arrays = []
    for block in blocks:
        content = block[block["type"]]
        if "rich_text" in content:
            arrays.append(content["rich_text"])
        arrays += content.get("cells", [])
        arrays += items_of(content.get("children", []))
    return arrays


REPORT = """# opsd weekly report 2026-W48

Status at a **glance**: 3 checks,
one `critical`.

## SLOs

- Notion API availability: 99.95 %
- query latency under 1 s: *98.1 %*

1. first
2. second

| Check | Uptime |
|---|---:|
| notion.api | 99.95 % |
| endpoint | 100 % |

> budget left: 40 %

---

```json
{"a": 1}
```

See [the dashboard](https://grafana.example/d/opsd) and [a file](file:///tmp/x).
![uptime per day](uptime.png)
"""


def test_a_report_becomes_headings_paragraphs_lists_a_table_and_code() -> None:
    blocks = markdown_blocks(REPORT)
    assert [b["type"] for b in blocks] == [
        "heading_1", "paragraph", "heading_2", "bulleted_list_item", "bulleted_list_item",
        "numbered_list_item", "numbered_list_item", "table", "quote", "divider", "code",
        "paragraph",
    ]
    assert texts(blocks[1]) == "Status at a glance: 3 checks, one critical."
    bold = [i for i in blocks[1]["paragraph"]["rich_text"] if i["annotations"]["bold"]]
    assert [i["text"]["content"] for i in bold] == ["glance"]
    assert blocks[4]["bulleted_list_item"]["rich_text"][1]["annotations"]["italic"]
    table = blocks[7]["table"]
    assert table["table_width"] == 2 and table["has_column_header"]
    rows = [[texts({"type": "x", "x": {"rich_text": c}}) for c in r["table_row"]["cells"]]
            for r in table["children"]]
    assert rows == [["Check", "Uptime"], ["notion.api", "99.95 %"], ["endpoint", "100 %"]]
    assert blocks[10]["code"]["language"] == "json" and texts(blocks[10]) == '{"a": 1}'
    links = [i["text"]["link"] for i in blocks[11]["paragraph"]["rich_text"]]
    # Only http(s) links become links (Notion refuses others); an image keeps its alt text.
    assert {"url": "https://grafana.example/d/opsd"} in links
    assert texts(blocks[11]).endswith("a file. uptime per day")
    assert [link for link in links if link] == [{"url": "https://grafana.example/d/opsd"}]


def test_a_5000_character_paragraph_is_cut_into_items_of_at_most_2000() -> None:
    (block,) = markdown_blocks("x" * 5000)
    assert [len(i["text"]["content"]) for i in block["paragraph"]["rich_text"]] == [
        2000, 2000, 1000]


def test_more_than_100_items_make_several_blocks_of_the_same_kind() -> None:
    blocks = markdown_blocks("- " + "y" * (2000 * 150))
    assert [b["type"] for b in blocks] == ["bulleted_list_item"] * 2
    assert [len(b["bulleted_list_item"]["rich_text"]) for b in blocks] == [100, 50]


def test_a_250_row_table_is_continued_under_its_header() -> None:
    lines = ["| n | square |", "|---|---|"] + [f"| {i} | {i * i} |" for i in range(250)]
    tables = markdown_blocks("\n".join(lines))
    assert [len(t["table"]["children"]) for t in tables] == [100, 100, 53]
    for table in tables:
        header = table["table"]["children"][0]["table_row"]["cells"]
        assert [c[0]["text"]["content"] for c in header] == ["n", "square"]


def test_batches_hold_at_most_100_blocks_and_1000_elements() -> None:
    paragraphs = markdown_blocks("\n\n".join(f"p{i}" for i in range(250)))
    assert [len(b) for b in batches(paragraphs)] == [100, 100, 50]
    big_table = markdown_blocks("\n".join(["| a |", "|---|"] + ["| x |"] * 99))
    assert size(big_table[0]) == 101
    groups = list(batches(big_table * 12))
    assert [len(g) for g in groups] == [9, 3]
    assert all(sum(size(b) for b in g) <= 1000 for g in groups)


def test_inline_keeps_unmatched_markers_as_text() -> None:
    assert [i["text"]["content"] for i in inline("2 * 3 = 6 and snake_case_name")] == [
        "2 * 3 = 6 and snake_case_name"]


def test_a_table_of_separator_lines_only_makes_no_block() -> None:
    assert markdown_blocks("|-") == []
    assert [b["type"] for b in markdown_blocks("text\n| --- | --- |\nmore")] == [
        "paragraph", "paragraph"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([*"ab *_`|#-[]()\n", "x" * 700]), max_size=400))
def test_any_markdown_stays_within_notions_limits(pieces: list[str]) -> None:
    blocks = markdown_blocks("".join(pieces))
    for array in items_of(blocks):
        assert len(array) <= 100
        assert all(len(i["text"]["content"]) <= 2000 for i in array)
    for block in blocks:
        if block["type"] == "table":
            assert len(block["table"]["children"]) <= 100
    for group in batches(blocks):
        assert len(group) <= 100 and sum(size(b) for b in group) <= 1000
