"""A report's content, typed: every section of the daily, weekly and monthly reports.

`opsd.reports.gather` fills it from the store (and, for the development figures, Notion);
the summarising here is pure, so each section is tested on rows built by hand. The renderers
(`render_markdown`, `render_html`) and `--format json` (`Report.to_dict`) read only this.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from opsd.reports.notion_split import NotionSplit
from opsd.reports.period import Period
from opsd.reports.rollups import Counts, nearest_rank
from opsd.results import Status

NOISIEST = 5
"""How many of the noisiest checks a report names."""
ACCURATE_WITHIN = 0.2
"""An estimate is accurate when the actual hours are within ±20 % of it."""


@dataclasses.dataclass(frozen=True)
class CheckLine:
    """One check (and target) at a glance over the period."""

    playbook: str
    check: str
    target: str
    judged: int
    uptime: float | None
    worst: str
    p95: float | None
    unit: str = ""
    """The unit of the check's values (`seconds`, `ratio`, ...; empty: unknown)."""


@dataclasses.dataclass(frozen=True)
class SloLine:
    name: str
    objective: float
    attainment: float | None
    budget_remaining: float | None
    firing: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Alerts:
    """Incidents and alerts: how many fired, how long they took to resolve, who was loudest."""

    fired: int
    resolved: int
    mean_time_to_resolve: float | None
    max_time_to_resolve: float | None
    noisiest: tuple[tuple[str, int], ...]
    silences: tuple[str, ...]
    incidents: int
    incidents_closed: int = 0
    incident_time_to_resolve: float | None = None
    """The mean time from opening to closing of the incidents closed in the period."""


@dataclasses.dataclass(frozen=True)
class EndpointLatency:
    endpoint: str
    requests: int
    p50: float | None
    p95: float | None


@dataclasses.dataclass(frozen=True)
class NotionRequests:
    """opsd's Notion requests: outcomes, latency per endpoint, time lost, budget headroom."""

    total: int
    by_status: dict[str, int]
    by_error: dict[str, int]
    endpoints: tuple[EndpointLatency, ...]
    retries: int
    waited: float
    retry_after: float
    peak_per_minute: int
    budget_per_minute: float

    @property
    def headroom(self) -> float | None:
        """The share of the per-minute budget the busiest minute left unused."""
        if not self.budget_per_minute:
            return None
        return 1 - self.peak_per_minute / self.budget_per_minute


@dataclasses.dataclass(frozen=True)
class SchemaChange:
    source: str
    at: float
    first_seen: bool


@dataclasses.dataclass(frozen=True)
class Finding:
    rule: str
    path: str
    line: int
    first_seen: float
    verdict: str


@dataclasses.dataclass(frozen=True)
class Certificate:
    target: str
    days_left: float
    status: str


@dataclasses.dataclass(frozen=True)
class CacheLine:
    target: str
    hit_rate: float | None
    samples: int


@dataclasses.dataclass(frozen=True)
class Backups:
    runs: int
    ok: int
    last_ok_at: float | None
    last_size: float | None


@dataclasses.dataclass(frozen=True)
class Development:
    """The task database's figures: velocity, completion time, estimation accuracy."""

    database: str
    completed: int
    mean_completion_days: float | None
    estimation_ratio: float | None
    """Sum of actual hours over sum of estimated hours (tasks with both)."""
    within_20_percent: float | None
    """Share of tasks with both whose actual hours are within ±20 % of the estimate."""
    unavailable: str = ""
    """Why the figures could not be read (Notion failed, a property is missing), or ''."""


@dataclasses.dataclass(frozen=True)
class Report:
    period: Period
    generated_at: float
    checks: tuple[CheckLine, ...]
    slos: tuple[SloLine, ...]
    alerts: Alerts
    notion: NotionRequests
    notion_by_source: NotionSplit
    """opsd's and the integration's (through `opsd proxy`) requests apart."""
    schema_changes: tuple[SchemaChange, ...]
    data_source_problems: tuple[str, ...]
    findings: tuple[Finding, ...]
    certificates: tuple[Certificate, ...]
    cache: tuple[CacheLine, ...]
    backups: Backups
    development: Development | None = None
    charts: dict[str, list[tuple[float, float | None]]] = dataclasses.field(default_factory=dict)
    """Series for the charts: "uptime" and "p95" -> (UTC day start, value) per day."""

    @property
    def worst(self) -> str:
        return worst_status(line.worst for line in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (`--format json`)."""
        data = dataclasses.asdict(self)
        data["period"] = self.period.to_dict()
        data["worst"] = self.worst
        data["notion"]["headroom"] = _rounded(self.notion.headroom)
        data["charts"] = {name: [list(point) for point in series]
                          for name, series in self.charts.items()}
        return _clean(data)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _clean(value: Any) -> Any:
    """Tuples as lists, floats rounded to 6 places (stable JSON across platforms)."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    return value


# --- summarising (pure) -------------------------------------------------------------------

def _rank(status: str) -> int:
    """CRITICAL > UNKNOWN > WARNING > OK > SKIPPED (`Status.rank`)."""
    return Status(status).rank


def worst_status(statuses: Iterable[str]) -> str:
    """The worst of `statuses` (CRITICAL > UNKNOWN > WARNING > OK > SKIPPED); "OK" for none."""
    return max(statuses, key=_rank, default="OK")


def worst_of(counts: Counts) -> str:
    """The worst status a series had in the period."""
    for status, n in (("CRITICAL", counts.critical), ("UNKNOWN", counts.unknown),
                      ("WARNING", counts.warning), ("OK", counts.ok)):
        if n:
            return status
    return "SKIPPED"


def check_lines(counts: dict[tuple[str, str, str], Counts],
                units: dict[str, str] | None = None) -> tuple[CheckLine, ...]:
    """Status at a glance, worst first, then by playbook, check and target; `units` maps a
    check name to the unit of its values."""
    units = units or {}
    lines = [CheckLine(playbook, check, target, c.judged, c.ok_ratio, worst_of(c), c.value_p95,
                       units.get(check, ""))
             for (playbook, check, target), c in counts.items()]
    return tuple(sorted(lines, key=lambda ln: (-_rank(ln.worst), ln.playbook,
                                               ln.check, ln.target)))


def summarise_alerts(events: Sequence[dict[str, Any]], silences: Sequence[str],
                     incidents: int, closed: Sequence[tuple[int, float, float]] = ()) -> Alerts:
    """Alert events of the period, oldest first (`type`, `check_name`, `target`, `at`,
    `since`): time to resolve is from the firing (`since` of the RESOLVED event, when the
    alert began) to the resolution. `closed`: the incidents closed in the period, as
    (id, opened_at, closed_at)."""
    fired = [e for e in events if e["type"] == "FIRING"]
    resolved = [e for e in events if e["type"] == "RESOLVED"]
    durations = [float(e["at"]) - float(e["since"]) for e in resolved]
    loud = Counter(_label(e) for e in fired)
    noisiest = tuple(sorted(loud.items(), key=lambda kv: (-kv[1], kv[0]))[:NOISIEST])
    return Alerts(len(fired), len(resolved), _mean(durations),
                  max(durations, default=None), noisiest, tuple(silences), incidents,
                  len(closed), _mean([end - start for _, start, end in closed]))


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _label(event: dict[str, Any]) -> str:
    target = event.get("target") or ""
    return f"{event['check_name']} {target}".strip()


def summarise_requests(rows: Sequence[dict[str, Any]], rate_limit: float) -> NotionRequests:
    """Notion requests of the period, oldest first (`time`, `endpoint`, `status`, `error`,
    `latency`, `attempt`, `waited`, `retry_after`); `rate_limit` in requests per second."""
    by_status = Counter(str(r["status"]) if r["status"] is not None else "none" for r in rows)
    by_error = Counter(str(r["error"]) for r in rows if r["error"])
    latencies: dict[str, list[float]] = {}
    for r in rows:
        latencies.setdefault(str(r["endpoint"]), []).append(float(r["latency"]))
    endpoints = tuple(EndpointLatency(name, len(values), nearest_rank(values, 0.5),
                                      nearest_rank(values, 0.95))
                      for name, values in sorted(latencies.items()))
    return NotionRequests(
        total=len(rows), by_status=dict(sorted(by_status.items())),
        by_error=dict(sorted(by_error.items())), endpoints=endpoints,
        retries=sum(1 for r in rows if int(r["attempt"] or 0) > 0),
        waited=sum(float(r["waited"] or 0) for r in rows),
        retry_after=sum(float(r["retry_after"] or 0) for r in rows),
        peak_per_minute=peak_window([float(r["time"]) for r in rows], 60.0),
        budget_per_minute=rate_limit * 60.0,
    )


def peak_window(times: Sequence[float], width: float) -> int:
    """The most events in any `width`-second window (sliding, [t, t + width))."""
    ordered = sorted(times)
    best = first = 0
    for last, t in enumerate(ordered):
        while t - ordered[first] >= width:
            first += 1
        best = max(best, last - first + 1)
    return best


def summarise_development(database: str, tasks: Sequence[tuple[float | None, float | None,
                                                               float | None]]) -> Development:
    """Tasks completed in the period as (days from creation to completion, estimated hours,
    actual hours), any of them None when the page lacks it."""
    days = [d for d, _, _ in tasks if d is not None]
    pairs = [(e, a) for _, e, a in tasks if e is not None and a is not None and e > 0]
    estimated = sum(e for e, _ in pairs)
    within = [abs(a - e) <= ACCURATE_WITHIN * e for e, a in pairs]
    return Development(
        database, len(tasks), sum(days) / len(days) if days else None,
        sum(a for _, a in pairs) / estimated if estimated else None,
        sum(within) / len(within) if within else None,
    )
