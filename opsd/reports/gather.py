"""Gathering a report: the store's rows for each section, summarised into a `Report`.

Everything here reads the history database (`opsd.store.report_data`, the rollups, the SLOs);
nothing in it asks Notion. Status counts come from the coarsest tier that answers
(`opsd.store.rollups.status_counts`), so a monthly report reads daily rows, not a month of
results. The report's own results (`report` kind) are left out of the figures.
"""

from __future__ import annotations

from opsd.config import Settings
from opsd.reports import model
from opsd.reports.notion_split import summarise_split
from opsd.reports.period import Period, period_of
from opsd.reports.rollups import merge
from opsd.store import incidents, report_data, rollups
from opsd.store.database import Store

OWN_KINDS = ("report",)
LATENCY_KINDS = ("http.endpoint", "notion.latency")
"""The kinds whose value is a latency in seconds: the p95 chart's series."""


def gather(store: Store, settings: Settings, period: Period, *, now: float) -> model.Report:
    """The report for `period` from `store` (development figures are added by the caller)."""
    start, until = period.start, period.until
    counts = rollups.status_counts(store, since=start, until=until, exclude_kinds=OWN_KINDS)
    return model.Report(
        period=period,
        generated_at=now,
        checks=model.check_lines(
            counts, report_data.check_units(store, {check for _, check, _ in counts})),
        slos=_slos(store, settings, period),
        alerts=model.summarise_alerts(
            report_data.alert_events(store, start, until),
            report_data.silences_used(store, start, until),
            report_data.incidents_opened(store, start, until),
            incidents.resolved_between(store, start, until)),
        notion=model.summarise_requests(report_data.notion_requests(store, start, until),
                                        settings.notion.rate_limit),
        notion_by_source=summarise_split(report_data.notion_traffic(store, start, until)),
        schema_changes=tuple(model.SchemaChange(*row)
                             for row in report_data.schema_changes(store, start, until)),
        data_source_problems=tuple(
            f"{row['target'] or row['check_name']}: {row['summary']}"
            for row in report_data.latest_of_kind(store, "notion.data_sources", start, until)
            if row["status"] != "OK"),
        findings=tuple(model.Finding(r["rule"], r["path"], int(r["line"]),
                                     float(r["first_seen"]), r["verdict"])
                       for r in report_data.new_findings(store, start, until)),
        certificates=_certificates(store, start, until),
        cache=tuple(model.CacheLine(target or check, c.value_avg, c.value_count)
                    for (_, check, target), c in rollups.status_counts(
                        store, kinds=["cache.hit_rate"], since=start, until=until).items()),
        backups=_backups(store, start, until),
        charts=_charts(store, period),
    )


def _slos(store: Store, settings: Settings, period: Period) -> tuple[model.SloLine, ...]:
    if not settings.slos or period.length <= 0:
        return ()
    from opsd.reports import slo

    return tuple(model.SloLine(s.name, s.objective, s.attainment, s.budget_remaining,
                               tuple(s.firing))
                 for s in slo.evaluate(store, settings.slos, period.until, period.length))


def _certificates(store: Store, start: float, until: float) -> tuple[model.Certificate, ...]:
    found = []
    for row in report_data.latest_of_kind(store, "http.endpoint", start, until):
        days = row["details"].get("certificate_days_left")
        if isinstance(days, (int, float)):
            found.append(model.Certificate(row["target"] or row["check_name"], float(days),
                                           row["status"]))
    return tuple(sorted(found, key=lambda c: (c.days_left, c.target)))


def _backups(store: Store, start: float, until: float) -> model.Backups:
    rows = report_data.backup_results(store, start, until)
    good = [r for r in rows if r["status"] == "OK"]
    last = good[-1] if good else None
    return model.Backups(len(rows), len(good), last["started_at"] if last else None,
                         last["value"] if last else None)


def _charts(store: Store, period: Period) -> dict[str, list[tuple[float, float | None]]]:
    """Uptime (all checks) and p95 latency (the latency kinds) per local day of the period."""
    uptime: list[tuple[float, float | None]] = []
    latency: list[tuple[float, float | None]] = []
    for day_start, day_end in days_of(period):
        every = rollups.status_counts(store, since=day_start, until=day_end,
                                      exclude_kinds=OWN_KINDS)
        timed = rollups.status_counts(store, kinds=LATENCY_KINDS, since=day_start,
                                      until=day_end)
        uptime.append((day_start, merge(every.values()).ok_ratio if every else None))
        latency.append((day_start, merge(timed.values()).value_p95 if timed else None))
    return {"uptime": uptime, "p95": latency}


def days_of(period: Period) -> list[tuple[float, float]]:
    """The period's local days up to `until`, as [start, end) (the last one cut at until)."""
    days = []
    start = period.start
    while start < period.until:
        end = period_of("daily", start, period.timezone).end
        days.append((start, min(end, period.until)))
        start = end
    return days
