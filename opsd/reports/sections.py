"""A report as titled sections of text: the one layout the Markdown and HTML renderings
share. Each section is a table (headers and rows of strings) and/or lines of prose; an empty
section says so in words ("No alerts fired.") rather than disappearing, so a reader knows it
was looked at. Times are shown in the report's time zone."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo

from opsd.durations import format_duration
from opsd.reports.model import Report
from opsd.reports.notion_split import NO_INTEGRATION, NotionSplit, SourceTraffic
from opsd.units import format_value

GLANCE_ROWS = 40
"""The at-a-glance table lists the worst checks first, at most this many."""


@dataclasses.dataclass(frozen=True)
class Section:
    title: str
    lines: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()


def percent(value: float | None, places: int = 2) -> str:
    return "–" if value is None else f"{value * 100:.{places}f} %"


def seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def number(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.3g}"


def value_text(value: float | None, unit: str) -> str:
    """A value in its unit (`8 ms`, `97.5%`), or as a bare number when the unit is unknown."""
    return format_value(value, unit) if unit else number(value)


def duration(value: float | None) -> str:
    return "–" if value is None else format_duration(value)


def local_time(at: float | None, timezone: str) -> str:
    if at is None:
        return "–"
    return dt.datetime.fromtimestamp(at, zoneinfo.ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def build_sections(report: Report) -> list[Section]:
    """Every section of `report`, in reading order."""
    tz = report.period.timezone
    return [_glance(report), _slos(report), _alerts(report), _notion(report),
            _schemas(report, tz), _findings(report, tz), _certificates(report),
            _cache(report), _backups(report, tz), _development(report)]


def heading(report: Report) -> tuple[str, str]:
    """The report's title and the line under it (period, time zone, overall state)."""
    p = report.period
    span = f"{local_time(p.start, p.timezone)} – {local_time(p.until, p.timezone)}"
    state = "complete" if p.complete else "so far"
    return p.title, f"{span} ({p.timezone}, {state}); worst status: {report.worst}"


def _glance(report: Report) -> Section:
    if not report.checks:
        return Section("Status at a glance", ("No results in this period.",))
    rows = tuple((line.check, line.target or "–", line.playbook, percent(line.uptime),
                  line.worst, value_text(line.p95, line.unit), str(line.judged))
                 for line in report.checks[:GLANCE_ROWS])
    more = len(report.checks) - GLANCE_ROWS
    lines = (f"{more} more checks not shown.",) if more > 0 else ()
    return Section("Status at a glance", lines,
                   ("Check", "Target", "Playbook", "Uptime", "Worst", "p95 value", "Results"),
                   rows)


def _slos(report: Report) -> Section:
    if not report.slos:
        return Section("SLOs", ("No SLOs configured ([[slos]]).",))
    rows = tuple((s.name, percent(s.objective, 3), percent(s.attainment, 3),
                  percent(s.budget_remaining, 1), ", ".join(s.firing) or "–")
                 for s in report.slos)
    return Section("SLOs", ("Attainment and error budget over the report's period.",),
                   ("SLO", "Objective", "Attainment", "Budget left", "Firing"), rows)


def _alerts(report: Report) -> Section:
    a = report.alerts
    lines = [f"{a.fired} alerts fired, {a.resolved} resolved; time to resolve: mean "
             f"{duration(a.mean_time_to_resolve)}, longest {duration(a.max_time_to_resolve)}.",
             f"Incidents opened: {a.incidents}; closed: {a.incidents_closed}"
             + (f" (time to resolve: mean {duration(a.incident_time_to_resolve)})."
                if a.incidents_closed else ".")]
    if a.silences:
        lines.append("Silences used: " + "; ".join(a.silences) + ".")
    else:
        lines.append("No silences were in force.")
    rows = tuple((label, str(n)) for label, n in a.noisiest)
    return Section("Incidents and alerts", tuple(lines),
                   ("Noisiest check", "Fired") if rows else (), rows)


def _notion(report: Report) -> Section:
    n, split = report.notion, report.notion_by_source
    theirs = _integration(split)
    if not n.total:
        return Section("Notion requests", ("No Notion requests from opsd in this period.",
                                           *theirs))
    lines = (f"opsd: {_traffic(split.opsd)}",
             f"opsd retries: {n.retries}; time lost waiting: {duration(n.waited)} "
             f"(Retry-After asked for {duration(n.retry_after)}).",
             *theirs,
             f"Busiest minute (opsd): {n.peak_per_minute} requests of a budget of "
             f"{number(n.budget_per_minute)} per minute (headroom {percent(n.headroom, 0)}).")
    rows = tuple((e.endpoint, str(e.requests), seconds(e.p50), seconds(e.p95))
                 for e in n.endpoints)
    return Section("Notion requests", lines, ("opsd endpoint", "Requests", "p50", "p95"), rows)


def _traffic(t: SourceTraffic) -> str:
    """One source's requests, outcomes and latency, as a sentence."""
    statuses = ", ".join(f"{k}: {v}" for k, v in t.by_status.items())
    errors = ", ".join(f"{k}: {v}" for k, v in t.by_error.items()) or "none"
    return (f"{t.requests} requests; by status {statuses}; errors {errors}; "
            f"p50 {seconds(t.p50)}, p95 {seconds(t.p95)}.")


def _integration(split: NotionSplit) -> tuple[str, ...]:
    """The integration's traffic through `opsd proxy`: one line when there is none."""
    t, c = split.integration, split.costs
    if t is None or c is None:
        return (NO_INTEGRATION,)
    return (f"integration (through opsd proxy): {_traffic(t)}",
            f"integration retries: {t.retries}; answered 429: {t.answered_429}; time lost to "
            f"429s and retries: {duration(t.seconds_lost)} (Retry-After asked for "
            f"{duration(t.retry_after)}); queued for the shared budget: "
            f"{duration(c.seconds_queued)} (pacing, not lost).",
            f"Retry tax: {percent(c.retry_tax, 1)} of the integration's Notion time; request "
            f"limits: values exceeded {c.limits_exceeded}, near {c.limits_near}; likely "
            f"duplicate pages: {c.likely_duplicates}; 409 conflicts: {c.conflicts}.")


def _schemas(report: Report, tz: str) -> Section:
    lines = tuple(f"Data source problem: {p}" for p in report.data_source_problems)
    if not report.schema_changes:
        return Section("Schema and data-source changes",
                       ("No schema changes recorded.", *lines))
    rows = tuple((c.source, local_time(c.at, tz), "first recorded" if c.first_seen
                  else "changed") for c in report.schema_changes)
    return Section("Schema and data-source changes", lines, ("Data source", "When", "What"),
                   rows)


def _findings(report: Report, tz: str) -> Section:
    if not report.findings:
        return Section("Secret findings", ("No new secret findings.",))
    rows = tuple((f.rule, f"{f.path}:{f.line}", local_time(f.first_seen, tz),
                  f.verdict or "–") for f in report.findings)
    noun = "finding" if len(rows) == 1 else "findings"
    return Section("Secret findings", (f"{len(rows)} new {noun} (redacted; see `opsd scan`).",),
                   ("Rule", "Where", "First seen", "Verdict"), rows)


def _certificates(report: Report) -> Section:
    if not report.certificates:
        return Section("Certificates", ("No https certificates checked.",))
    rows = tuple((c.target, f"{c.days_left:.1f}", c.status) for c in report.certificates)
    return Section("Certificates", (), ("Endpoint", "Days left", "Status"), rows)


def _cache(report: Report) -> Section:
    if not report.cache:
        return Section("Cache hit rates", ("No cache checked.",))
    rows = tuple((c.target, percent(c.hit_rate, 1), str(c.samples)) for c in report.cache)
    return Section("Cache hit rates", (), ("Cache", "Hit rate", "Samples"), rows)


def _backups(report: Report, tz: str) -> Section:
    b = report.backups
    if not b.runs:
        return Section("Backups", ("No backups ran in this period.",))
    size = "–" if b.last_size is None else f"{b.last_size / 1e6:.1f} MB"
    return Section("Backups", (f"{b.ok} of {b.runs} backups verified; the last good one at "
                               f"{local_time(b.last_ok_at, tz)} ({size}).",))


def _development(report: Report) -> Section:
    d = report.development
    if d is None:
        return Section("Development", ("No task database configured "
                                       "([reports] tasks_database).",))
    if d.unavailable:
        return Section("Development", (f"Task figures of {d.database} unavailable: "
                                       f"{d.unavailable}",))
    ratio = "–" if d.estimation_ratio is None else f"{d.estimation_ratio:.2f}"
    days = "–" if d.mean_completion_days is None else f"{d.mean_completion_days:.1f} days"
    return Section("Development", (
        f"Tasks completed in {d.database}: {d.completed}; average completion time {days}.",
        f"Estimation accuracy: actual/estimated hours {ratio}; within ±20 %: "
        f"{percent(d.within_20_percent, 0)}."))
