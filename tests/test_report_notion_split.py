"""The report's Notion traffic split by source (opsd / integration through `opsd proxy`):
the pure summary on hand-built rows, the chunked read of the request log, and the one line a
report says when the proxy recorded nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from report_support import NOW, TZ, WEEK_START, seed_week

from opsd.checks.notion_traffic import retry_tax_summary
from opsd.config import Settings
from opsd.reports.gather import gather
from opsd.reports.notion_split import NO_INTEGRATION, summarise_split
from opsd.reports.period import period_of
from opsd.reports.render_markdown import render_markdown
from opsd.store import Store, report_data
from opsd.store.requests import record_request


def _row(source: str, *, status: int | None = 200, error: str = "", latency: float = 0.1,
         attempt: int = 0, waited: float = 0.0, retry_after: float | None = None,
         client_wait: float = 0.0, redo: float = 0.0, exceeded: int = 0, near: int = 0,
         duplicate: int = 0, purpose: str = "forward", endpoint: str = "POST /v1/pages"
         ) -> dict[str, Any]:
    return {"source": source, "purpose": purpose, "endpoint": endpoint, "status": status,
            "error": error, "latency": latency, "attempt": attempt, "waited": waited,
            "retry_after": retry_after, "client_wait": client_wait, "redo": redo,
            "limits_exceeded": exceeded, "limits_near": near, "likely_duplicate": duplicate}


OPSD = [_row("opsd", purpose="check", latency=0.2),
        _row("opsd", purpose="check", status=429, error="rate_limited", retry_after=2.0),
        _row("opsd", purpose="check", attempt=1, waited=2.0, latency=0.3)]
INTEGRATION = [
    _row("integration", latency=0.4, waited=0.5),
    _row("integration", status=429, error="rate_limited", latency=0.1, retry_after=3.0),
    _row("integration", attempt=1, latency=0.2, client_wait=3.0),
    _row("integration", status=None, error="timeout", latency=2.0),
    _row("integration", attempt=1, latency=0.5, client_wait=1.0, redo=2.0, duplicate=1),
    _row("integration", status=409, error="conflict_error", exceeded=2, near=1),
    _row("integration", status=429, error="rate_limited", purpose="queue_full", latency=0.0,
         waited=5.0, retry_after=1.0),
]


@pytest.mark.parametrize("size", [1, 2, 100])
def test_split_by_source_in_any_chunking(size: int) -> None:
    rows = [OPSD[0], INTEGRATION[0], OPSD[1], *INTEGRATION[1:], OPSD[2]]
    split = summarise_split(rows[i:i + size] for i in range(0, len(rows), size))

    opsd = split.opsd
    assert (opsd.requests, opsd.retries, opsd.answered_429) == (3, 1, 1)
    assert opsd.by_status == {"200": 2, "429": 1}
    assert opsd.by_error == {"rate_limited": 1}
    assert (opsd.retry_after, opsd.seconds_lost) == (2.0, 2.0)
    assert (opsd.p50, opsd.p95) == (0.2, 0.3)

    theirs = split.integration
    assert theirs is not None and split.costs is not None
    assert (theirs.requests, theirs.retries, theirs.answered_429) == (7, 2, 2)
    assert theirs.by_status == {"200": 3, "409": 1, "429": 2, "none": 1}
    assert theirs.by_error == {"conflict_error": 1, "rate_limited": 2, "timeout": 1}
    # Answered requests only: not the timeout, not the proxy's own 429 (queue full).
    assert (theirs.p50, theirs.p95) == (0.2, 0.5)
    assert theirs.retry_after == 4.0
    # wasted = 429s (0.1 + 5.0) + sleeps before retries (3 + 1) + the redone attempt (2)
    assert theirs.seconds_lost == pytest.approx(11.1)
    costs = split.costs
    assert costs.seconds_wasted == pytest.approx(11.1)
    # total = queueing + latency of every request (5.5 + 3.3) + sleeps before retries (4)
    assert costs.seconds_total == pytest.approx(12.8)
    assert costs.retry_tax == pytest.approx(retry_tax_summary(INTEGRATION)["retry_tax"])
    assert costs.retry_tax == pytest.approx(11.1 / 12.8)
    assert costs.seconds_queued == pytest.approx(5.5)
    assert (costs.limits_exceeded, costs.limits_near, costs.likely_duplicates,
            costs.conflicts) == (2, 1, 1, 1)


def test_no_integration_rows_no_integration_figures() -> None:
    split = summarise_split([OPSD])
    assert split.opsd.requests == 3
    assert split.integration is None and split.costs is None
    assert summarise_split([]).opsd.requests == 0


def test_the_request_log_is_read_in_chunks_within_the_period(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "opsd.db")
    seed_week(store)
    end = WEEK_START + 7 * 86400
    chunks = list(report_data.notion_traffic(store, WEEK_START, end, chunk=5))
    assert all(1 <= len(chunk) <= 5 for chunk in chunks)
    rows = [row for chunk in chunks for row in chunk]
    # 40 of opsd's, 12 of the integration's; the integration's row of the week before is out.
    assert sum(r["source"] == "opsd" for r in rows) == 40
    assert sum(r["source"] == "integration" for r in rows) == 12
    whole = summarise_split(report_data.notion_traffic(store, WEEK_START, end))
    assert summarise_split(chunks) == whole
    store.close()


def test_a_report_without_proxy_traffic_says_so_in_one_line(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "opsd.db")
    for i in range(3):
        record_request(store, time=WEEK_START + 3600 * (i + 1), purpose="check", method="GET",
                       endpoint="GET /v1/users/me", status=200, error="", latency=0.25,
                       attempt=0, waited=0.0, retry_after=None)
    report = gather(store, Settings(scheduler={"timezone": TZ}),
                    period_of("weekly", NOW, TZ, previous=True), now=NOW)
    store.close()
    text = render_markdown(report)
    section = text.split("## Notion requests", 1)[1].split("\n## ", 1)[0]
    assert section.count(NO_INTEGRATION) == 1
    assert "no integration traffic recorded (opsd proxy not in use)" in NO_INTEGRATION.lower()
    assert "integration (through opsd proxy)" not in section and "Retry tax" not in section
    assert "opsd: 3 requests; by status 200: 3; errors none; p50 250 ms, p95 250 ms." in section
    assert report.to_dict()["notion_by_source"]["integration"] is None
