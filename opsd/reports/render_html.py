"""The report as e-mail-friendly HTML: inline CSS, no scripts, the charts as images.

Charts are embedded as `data:` URIs by default (the page stands alone in a browser or a
mail client); a mailer that attaches the PNGs passes `chart_src` mapping each chart name to
its `cid:` reference instead. The template is autoescaped: check names, summaries and
silence reasons are shown, never interpreted.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path

from opsd.reports.model import Report
from opsd.reports.sections import build_sections, heading

STATUS_STYLE = {
    "CRITICAL": "color:#cf222e;font-weight:bold;",
    "UNKNOWN": "color:#8250df;font-weight:bold;",
    "WARNING": "color:#9a6700;font-weight:bold;",
    "OK": "color:#1a7f37;",
}
CHART_ALT = {"uptime": "Uptime per day", "p95": "p95 latency per day"}


def render_html(report: Report, charts: Mapping[str, Path] | None = None,
                chart_src: Mapping[str, str] | None = None) -> str:
    """`report` as HTML; `charts` maps chart names to PNG files to show."""
    import jinja2  # the daemon loads it only when it renders a report

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("opsd.reports", "templates"),
        autoescape=True, trim_blocks=True, lstrip_blocks=True,
    )
    title, subtitle = heading(report)
    shown = [{"src": (chart_src or {}).get(name) or _data_uri(path),
              "alt": CHART_ALT.get(name, name)}
             for name, path in sorted((charts or {}).items())]
    return env.get_template("report.html.j2").render(
        title=title, subtitle=subtitle, sections=build_sections(report), charts=shown,
        colours=STATUS_STYLE)


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
