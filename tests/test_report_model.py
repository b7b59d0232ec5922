"""Each report section's summarising, on rows built by hand (pure functions)."""

from __future__ import annotations

import pytest

from opsd.reports.model import (
    check_lines,
    peak_window,
    summarise_alerts,
    summarise_development,
    summarise_requests,
    worst_of,
)
from opsd.reports.rollups import Counts


def test_status_at_a_glance_worst_first_with_uptime_and_p95() -> None:
    lines = check_lines({
        ("realtime", "b", ""): Counts(ok=9, warning=1, value_count=2, value_p95=0.5),
        ("realtime", "a", "x"): Counts(ok=10),
        ("realtime", "c", ""): Counts(ok=1, critical=1),
        ("realtime", "d", ""): Counts(skipped=3),
    })
    assert [(ln.check, ln.worst) for ln in lines] == [
        ("c", "CRITICAL"), ("b", "WARNING"), ("a", "OK"), ("d", "SKIPPED")]
    assert lines[1].uptime == pytest.approx(0.9) and lines[1].p95 == 0.5
    assert lines[3].uptime is None
    assert worst_of(Counts(ok=5, unknown=1, warning=2)) == "UNKNOWN"


def test_alerts_time_to_resolve_noisiest_and_silences() -> None:
    events = [
        {"type": "FIRING", "check_name": "a", "target": "", "at": 100.0, "since": 100.0},
        {"type": "FIRING", "check_name": "b", "target": "t", "at": 150.0, "since": 150.0},
        {"type": "RESOLVED", "check_name": "a", "target": "", "at": 400.0, "since": 100.0},
        {"type": "FIRING", "check_name": "a", "target": "", "at": 500.0, "since": 500.0},
        {"type": "RESOLVED", "check_name": "a", "target": "", "at": 600.0, "since": 500.0},
    ]
    alerts = summarise_alerts(events, ["x (y)"], incidents=1)
    assert (alerts.fired, alerts.resolved) == (3, 2)
    assert alerts.mean_time_to_resolve == 200.0 and alerts.max_time_to_resolve == 300.0
    assert alerts.noisiest == (("a", 2), ("b t", 1))
    assert alerts.silences == ("x (y)",) and alerts.incidents == 1
    quiet = summarise_alerts([], [], 0)
    assert quiet.mean_time_to_resolve is None and quiet.noisiest == ()


def _request(t: float, endpoint: str = "GET /v1/users/me", status: int | None = 200,
             error: str = "", latency: float = 0.1, attempt: int = 0, waited: float = 0.0,
             retry_after: float | None = None) -> dict[str, object]:
    return {"time": t, "endpoint": endpoint, "status": status, "error": error,
            "latency": latency, "attempt": attempt, "waited": waited,
            "retry_after": retry_after}


def test_requests_by_status_latency_time_lost_and_headroom() -> None:
    rows = [_request(float(i), latency=0.1 * (i + 1)) for i in range(10)]
    rows += [_request(20.0, status=429, error="rate_limited", retry_after=1.5),
             _request(22.0, attempt=1, waited=1.5),
             _request(30.0, status=None, error="timeout", endpoint="POST /v1/pages")]
    summary = summarise_requests(rows, rate_limit=1.0)
    assert summary.by_status == {"200": 11, "429": 1, "none": 1}
    assert summary.by_error == {"rate_limited": 1, "timeout": 1}
    me = summary.endpoints[0]
    assert (me.endpoint, me.requests, me.p50, me.p95) == (
        "GET /v1/users/me", 12, pytest.approx(0.4), pytest.approx(1.0))
    assert (summary.retries, summary.waited, summary.retry_after) == (1, 1.5, 1.5)
    assert summary.peak_per_minute == 13 and summary.budget_per_minute == 60
    assert summary.headroom == pytest.approx(1 - 13 / 60)


def test_peak_window_slides() -> None:
    assert peak_window([], 60) == 0
    assert peak_window([0, 59.9, 60, 119, 119.5], 60) == 4  # 60, 119, 119.5 + (59.9)
    assert peak_window([0, 100, 200], 60) == 1


def test_development_figures() -> None:
    tasks = [(2.0, 10.0, 11.0), (4.0, 5.0, 8.0), (None, None, 3.0), (6.0, 4.0, 4.0)]
    figures = summarise_development("Tasks", tasks)
    assert figures.completed == 4
    assert figures.mean_completion_days == 4.0
    assert figures.estimation_ratio == pytest.approx(23 / 19)
    assert figures.within_20_percent == pytest.approx(2 / 3)
    empty = summarise_development("Tasks", [])
    assert (empty.completed, empty.estimation_ratio, empty.within_20_percent) == (0, None, None)
