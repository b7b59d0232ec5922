"""`opsd report` run as a real command over a real store, and the chart child drawing PNGs."""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Completed

from opsd.reports.charts import draw_charts
from opsd.results import Result, Status
from opsd.store import Store
from opsd.store.runs import record_run

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _config_with_a_result(make_config: Callable[..., Path], tmp_path: Path) -> Path:
    config = make_config(scheduler={"timezone": "UTC"})
    store = Store.open(tmp_path / "opsd.db")
    at = time.time() - 60
    record_run(store, "realtime", [Result(Status.OK, "ok", value=0.2, unit="seconds",
                                          check="api.health", kind="http.endpoint",
                                          target="https://a.example/<b>", started_at=at)],
               started_at=at, finished_at=at + 1)
    store.close()
    return config


def test_weekly_html_has_every_section_and_a_chart(
        make_config: Callable[..., Path], opsd_cli: Callable[..., Completed],
        tmp_path: Path) -> None:
    config = _config_with_a_result(make_config, tmp_path)
    done = opsd_cli("--config", str(config), "report", "weekly", "--format", "html")
    assert done.code == 0, done.err
    html = done.out
    assert html.startswith("<!DOCTYPE html>")
    for title in ("Status at a glance", "SLOs", "Incidents and alerts", "Notion requests",
                  "Backups"):
        assert f">{title}</h2>" in html
    assert "https://a.example/&lt;b&gt;" in html  # autoescaped
    assert '<img src="data:image/png;base64,' in html
    assert "<script" not in html.lower()


def test_daily_json_is_the_report_as_data(
        make_config: Callable[..., Path], opsd_cli: Callable[..., Completed],
        tmp_path: Path) -> None:
    config = _config_with_a_result(make_config, tmp_path)
    done = opsd_cli("--config", str(config), "report", "daily", "--json")
    assert done.code == 0, done.err
    data = json.loads(done.out)
    assert data["period"]["kind"] == "daily" and not data["period"]["complete"]
    assert [c["check"] for c in data["checks"]] == ["api.health"]
    assert data["problems"] == []


def test_notion_without_a_database_and_bad_flags_exit_3_with_one_line(
        make_config: Callable[..., Path], opsd_cli: Callable[..., Completed]) -> None:
    config = str(make_config())
    done = opsd_cli("--config", config, "report", "weekly", "--notion")
    assert done.code == 3 and done.out == ""
    assert done.err.count("\n") == 1 and "reports.notion_database" in done.err
    for bad in (["report", "yearly"], ["report", "weekly", "--format", "pdf"]):
        done = opsd_cli("--config", config, *bad)
        assert done.code == 3, bad
        assert "Traceback" not in done.err


def test_notion_naming_no_database_exits_3_before_the_report(
        make_config: Callable[..., Path], opsd_cli: Callable[..., Completed]) -> None:
    config = str(make_config(reports={"notion_database": "Nope"}))
    done = opsd_cli("--config", config, "report", "weekly", "--notion")
    assert done.code == 3 and done.out == ""
    assert done.err.count("\n") == 1 and "entry is named 'Nope'" in done.err


def test_send_without_a_url_tagged_report_exits_3(
        make_config: Callable[..., Path], opsd_cli: Callable[..., Completed],
        webhook: object) -> None:
    config = make_config(alerts={"urls": [webhook.url]})  # type: ignore[attr-defined]
    done = opsd_cli("--config", str(config), "report", "daily", "--send")
    assert done.code == 3 and done.out == ""
    assert "alerts.urls" in done.err and done.err.count("\n") == 1


@pytest.mark.slow  # starts the drawing child
def test_chart_child_writes_valid_pngs(tmp_path: Path) -> None:
    day = 86400.0
    series = {"uptime": [(0.0, 1.0), (day, 0.97), (2 * day, None)],
              "p95": [(0.0, 0.21), (day, 0.35), (2 * day, 0.3)],
              "empty": [(0.0, None)]}
    charts = draw_charts(series, "UTC", tmp_path / "charts")
    assert sorted(charts) == ["p95", "uptime"]  # a chart without values is left out
    for path in charts.values():
        data = path.read_bytes()
        assert data[:8] == PNG_SIGNATURE
        width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
        assert (width, height) == (720, 240)
    assert draw_charts({"uptime": [(0.0, None)]}, "UTC", tmp_path / "none") == {}


@pytest.mark.slow  # starts the (failing) drawing child
def test_a_failing_chart_child_leaves_the_charts_out_not_the_report(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from report_support import NOW, TZ, seed_week

    from opsd.config import Settings
    from opsd.errors import OpsdError
    from opsd.reports import charts
    from opsd.reports.produce import produce

    monkeypatch.setattr(charts.sys, "executable", "/bin/false")
    with pytest.raises(OpsdError, match="the drawing process failed"):
        draw_charts({"uptime": [(0.0, 1.0)]}, "UTC", tmp_path / "c")
    store = Store.open(tmp_path / "opsd.db")
    seed_week(store)
    produced = asyncio.run(produce(Settings(scheduler={"timezone": TZ}), store, kind="weekly",
                                   now=NOW, previous=True, html=True))
    assert [p.split(":")[0] for p in produced.problems] == ["charts left out"]
    assert ">Status at a glance</h2>" in produced.html and "<img" not in produced.html
    store.close()
