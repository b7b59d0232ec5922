"""The report's Notion traffic split by source: opsd's own probes and the integration's
requests that `opsd proxy` forwarded (`notion_requests.source`).

Per source: requests, status and Notion error-code counts, p50/p95 latency of the answered
requests, retries, 429 answers, the Retry-After time asked for, and the time lost. The time
lost means what each source can measure:

- opsd: its own sleeps before retries (backoff or Retry-After: `waited` on its rows);
- the integration: the retry tax's wasted seconds (`notion.retry_tax`: the time of requests
  answered 429, the SDK's sleeps before retries and the failed attempts they repeat). The
  proxy's queueing for the shared budget is pacing, not loss, and is shown on its own.

For the integration the retry tax and the request-limit counts come from the same pure
functions the checks use (`opsd.checks.notion_traffic`). A month of integration traffic can
be millions of rows, so the rows arrive in chunks and only the latencies are kept whole (as
packed floats, for the percentiles).
"""

from __future__ import annotations

import dataclasses
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from opsd.checks.notion_traffic import limits_summary, retry_tax_summary, select
from opsd.reports.rollups import nearest_rank

NO_INTEGRATION = "No integration traffic recorded (opsd proxy not in use)."


@dataclasses.dataclass(frozen=True)
class SourceTraffic:
    """One source's Notion requests over the period."""

    source: str
    requests: int
    by_status: dict[str, int]
    by_error: dict[str, int]
    p50: float | None
    p95: float | None
    retries: int
    answered_429: int
    retry_after: float
    seconds_lost: float


@dataclasses.dataclass(frozen=True)
class IntegrationCosts:
    """The integration's retry tax (`notion.retry_tax`) and request-limit counts
    (`notion.request_limits`) over the period."""

    retry_tax: float
    seconds_total: float
    seconds_wasted: float
    seconds_queued: float
    limits_exceeded: int
    limits_near: int
    likely_duplicates: int
    conflicts: int


@dataclasses.dataclass(frozen=True)
class NotionSplit:
    """Requests by source; `integration` and `costs` are None when the proxy recorded none."""

    opsd: SourceTraffic
    integration: SourceTraffic | None = None
    costs: IntegrationCosts | None = None


class _Tally:
    """One source's running figures, chunk by chunk."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.requests = self.retries = self.answered_429 = 0
        self.statuses: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.latencies = array("d")
        self.retry_after = self.seconds_lost = 0.0

    def add(self, rows: Sequence[dict[str, Any]]) -> None:
        self.requests += len(rows)
        self.statuses.update(str(r["status"]) if r["status"] is not None else "none"
                             for r in rows)
        self.errors.update(str(r["error"]) for r in rows if r["error"])
        self.latencies.extend(float(r["latency"]) for r in rows
                              if r["status"] is not None and r["purpose"] != "queue_full")
        self.retries += sum(1 for r in rows if int(r["attempt"] or 0) > 0)
        self.answered_429 += sum(1 for r in rows if r["status"] == 429)
        self.retry_after += sum(float(r["retry_after"] or 0) for r in rows)

    def result(self) -> SourceTraffic:
        return SourceTraffic(
            self.source, self.requests, dict(sorted(self.statuses.items())),
            dict(sorted(self.errors.items())), nearest_rank(self.latencies, 0.5),
            nearest_rank(self.latencies, 0.95), self.retries, self.answered_429,
            self.retry_after, self.seconds_lost)


class _Costs:
    """The integration's retry-tax parts and request-limit counts, summed chunk by chunk
    (every part of both summaries is a sum over rows, so chunks add up)."""

    SUMMED = ("seconds_total", "seconds_wasted", "seconds_queued", "limits_exceeded",
              "limits_near", "likely_duplicates", "conflicts")

    def __init__(self) -> None:
        self.sums: dict[str, float] = dict.fromkeys(self.SUMMED, 0.0)

    def add(self, rows: list[dict[str, Any]]) -> float:
        """Add `rows`; returns their wasted seconds."""
        parts = {**retry_tax_summary(rows), **limits_summary(rows)}
        for key in self.SUMMED:
            self.sums[key] += parts[key]
        return float(parts["seconds_wasted"])

    def result(self) -> IntegrationCosts:
        s = self.sums
        total, wasted = s["seconds_total"], s["seconds_wasted"]
        return IntegrationCosts(
            # The ratio `retry_tax_summary` defines, over the whole period's parts.
            wasted / total if total > 0 else 0.0, total, wasted, s["seconds_queued"],
            int(s["limits_exceeded"]), int(s["limits_near"]), int(s["likely_duplicates"]),
            int(s["conflicts"]))


def summarise_split(chunks: Iterable[list[dict[str, Any]]]) -> NotionSplit:
    """The split of the period's request-log rows (every source), given in chunks (pure).
    Rows need `source`, `purpose`, `endpoint`, `status`, `error`, `latency`, `attempt`,
    `waited`, `retry_after`, `client_wait`, `redo`, `limits_exceeded`, `limits_near` and
    `likely_duplicate`."""
    opsd, integration, costs = _Tally("opsd"), _Tally("integration"), _Costs()
    for chunk in chunks:
        mine, theirs = select(chunk, "opsd"), select(chunk, "integration")
        opsd.add(mine)
        opsd.seconds_lost += sum(float(r["waited"] or 0) for r in mine)
        if theirs:
            integration.add(theirs)
            integration.seconds_lost += costs.add(theirs)
    if not integration.requests:
        return NotionSplit(opsd.result())
    return NotionSplit(opsd.result(), integration.result(), costs.result())
