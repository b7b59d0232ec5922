"""The report as Markdown: chat messages, the Notion page, the e-mail's plain-text part."""

from __future__ import annotations

from opsd.reports.model import Report
from opsd.reports.sections import Section, build_sections, heading


def render_markdown(report: Report) -> str:
    title, subtitle = heading(report)
    parts = [f"# {title}", "", subtitle, ""]
    for section in build_sections(report):
        parts.extend(_section(section))
    return "\n".join(parts).rstrip("\n") + "\n"


def _section(section: Section) -> list[str]:
    out = [f"## {section.title}", ""]
    if section.lines:
        out.extend([*section.lines, ""])
    if section.headers:
        out.append(_row(section.headers))
        out.append(_row(tuple("---" for _ in section.headers)))
        out.extend(_row(row) for row in section.rows)
        out.append("")
    return out


def _row(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"
