"""The weekly report rendered from a seeded store matches the checked-in golden files.

The store is a real SQLite file holding a fixed week (tests/report_support.py), the clock
is frozen and the time zone fixed, so the rendering is byte-for-byte stable. After a
deliberate change to the report, regenerate the files with
`UPDATE_GOLDEN=1 python3 -m pytest tests/test_report_golden.py` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from report_support import NOW, TZ, seed_week

from opsd.config import Settings
from opsd.reports.gather import gather
from opsd.reports.period import period_of
from opsd.reports.render_html import render_html
from opsd.reports.render_markdown import render_markdown
from opsd.store import Store

GOLDEN = Path(__file__).parent / "data" / "reports"


@pytest.fixture
def report_settings() -> Settings:
    return Settings(scheduler={"timezone": TZ}, notion={"rate_limit": 0.5},
                    slos=[{"name": "notion-api", "checks": "notion.auth", "objective": 0.99},
                          {"name": "query-latency", "checks": "notion.latency",
                           "objective": 0.9, "threshold": 0.6}])


@pytest.fixture
def seeded(tmp_path: Path) -> Store:
    store = Store.open(tmp_path / "opsd.db")
    seed_week(store)
    return store


def _compare(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} differs from the golden file; if the change is intended, rerun with "
        "UPDATE_GOLDEN=1 and review the diff")


def test_weekly_report_matches_golden_markdown_and_json(
        seeded: Store, report_settings: Settings) -> None:
    period = period_of("weekly", NOW, TZ, previous=True)
    assert period.key == "2026-W47"
    report = gather(seeded, report_settings, period, now=NOW)
    _compare("weekly.md", render_markdown(report))
    _compare("weekly.json", json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")


def test_weekly_report_sections_hold_the_seeded_week(
        seeded: Store, report_settings: Settings) -> None:
    report = gather(seeded, report_settings, period_of("weekly", NOW, TZ, previous=True),
                    now=NOW)
    auth = next(line for line in report.checks if line.check == "notion.auth")
    assert (auth.judged, auth.worst) == (28, "CRITICAL")  # the run before Monday left out
    assert auth.uptime == pytest.approx(26 / 28)
    assert report.checks[0].worst == "CRITICAL"  # worst first
    assert (report.alerts.fired, report.alerts.resolved) == (3, 2)
    assert report.alerts.max_time_to_resolve == 12 * 3600
    assert report.alerts.mean_time_to_resolve == (12 * 3600 + 1800) / 2
    assert report.alerts.noisiest[0] == ("notion.auth", 2)
    assert report.alerts.silences == ("notion.* (Notion maintenance window)",)
    assert report.notion.total == 40 and report.notion.by_status == {"200": 37, "429": 2,
                                                                     "503": 1}
    assert (report.notion.retries, report.notion.waited, report.notion.retry_after) == (
        2, 4.0, 4.0)
    assert report.notion.peak_per_minute == 25 and report.notion.budget_per_minute == 30
    assert [(c.source, c.first_seen) for c in report.schema_changes] == [
        ("Tasks", False), ("Projects", True)]
    assert [f.path for f in report.findings] == ["app/.env"]
    assert report.certificates[0].days_left == 34.0  # Sunday's result, the latest
    assert report.backups.runs == 7 and report.backups.ok == 6
    assert [s.name for s in report.slos] == ["notion-api", "query-latency"]
    assert report.slos[0].attainment == pytest.approx(26 / 28)
    assert len(report.charts["uptime"]) == 7


def test_html_report_is_escaped_self_contained_and_has_every_section(
        seeded: Store, report_settings: Settings, tmp_path: Path) -> None:
    report = gather(seeded, report_settings, period_of("weekly", NOW, TZ, previous=True),
                    now=NOW)
    chart = tmp_path / "uptime.png"
    chart.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    html = render_html(report, {"uptime": chart})
    for title in ("Status at a glance", "SLOs", "Incidents and alerts", "Notion requests",
                  "Schema and data-source changes", "Secret findings", "Certificates",
                  "Cache hit rates", "Backups", "Development"):
        assert f">{title}</h2>" in html
    assert "<script" not in html.lower()
    assert 'src="data:image/png;base64,' in html
    assert "https://api.example.com/health" in html
