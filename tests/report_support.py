"""A week of history for the report tests: 2026-W47 (Mon 16 – Sun 22 November 2026, Europe/
Berlin), every row at a fixed time, seeded through the store's own writers where they exist."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo

from opsd.results import Result, Status
from opsd.store import Store, incidents
from opsd.store.requests import record_batch, record_request
from opsd.store.runs import record_run

TZ = "Europe/Berlin"
WEEK_START = dt.datetime(2026, 11, 16, tzinfo=zoneinfo.ZoneInfo(TZ)).timestamp()
NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=zoneinfo.ZoneInfo(TZ)).timestamp()
"""Monday morning after the week: `previous` reports on W47."""
HOUR = 3600.0
DAY = 86400.0


def _result(check: str, kind: str, status: Status, value: float | None, at: float, *,
            target: str = "", unit: str = "", summary: str = "",
            details: dict | None = None) -> Result:
    return Result(status, summary or f"{check} {status.value}", value=value, unit=unit,
                  target=target, details=details or {}, check=check, kind=kind,
                  started_at=at, duration=0.1)


def seed_week(store: Store) -> None:
    """Results every 6 hours, with an outage on Wednesday; alerts, requests, schemas,
    findings, a silence and daily backups; plus rows outside the week that must not count."""
    for step in range(7 * 4):
        at = WEEK_START + step * 6 * HOUR + 60
        day = step // 4
        api_down = day == 2 and step % 4 in (1, 2)
        results = [
            _result("notion.auth", "notion.auth", Status.CRITICAL if api_down else Status.OK,
                    None, at),
            _result("api.health", "http.endpoint", Status.OK, 0.12 + 0.01 * (step % 4), at,
                    target="https://api.example.com/health", unit="seconds",
                    details={"certificate_days_left": 40.0 - day}),
            _result("notion.latency", "notion.latency",
                    Status.WARNING if day == 4 and step % 4 == 0 else Status.OK,
                    0.4 + 0.05 * (step % 4) + (0.3 if day == 4 else 0.0), at,
                    target="Tasks", unit="seconds"),
            _result("cache.hit_rate", "cache.hit_rate", Status.OK, 0.9 - 0.01 * day, at,
                    target="redis", unit="ratio"),
        ]
        record_run(store, "realtime", results, started_at=at, finished_at=at + 1)
    for day in range(7):
        at = WEEK_START + day * DAY + 2 * HOUR
        status = Status.CRITICAL if day == 5 else Status.OK
        record_run(store, "daily", [_result("maintenance.backup", "maintenance.backup", status,
                                            2_500_000.0 + day * 1000, at, unit="bytes")],
                   started_at=at, finished_at=at + 1)
    # Outside the week: must not appear.
    record_run(store, "realtime", [_result("notion.auth", "notion.auth", Status.CRITICAL,
                                           None, WEEK_START - HOUR)],
               started_at=WEEK_START - HOUR, finished_at=WEEK_START - HOUR + 1)
    _alerts(store)
    _requests(store)
    _integration_requests(store)
    _schemas_and_findings(store)


def _alerts(store: Store) -> None:
    wed = WEEK_START + 2 * DAY
    rows = [
        ("FIRING", "notion.auth", "", wed + 6 * HOUR, wed + 6 * HOUR),
        ("RESOLVED", "notion.auth", "", wed + 18 * HOUR, wed + 6 * HOUR),
        ("FIRING", "notion.latency", "Tasks", wed + 2 * DAY, wed + 2 * DAY),
        ("RESOLVED", "notion.latency", "Tasks", wed + 2 * DAY + 1800, wed + 2 * DAY),
        ("FIRING", "notion.auth", "", wed + 3 * DAY, wed + 3 * DAY),
        ("FIRING", "notion.auth", "", WEEK_START - DAY, WEEK_START - DAY),  # the week before
    ]
    with store.transaction() as conn:
        for kind, check, target, at, since in rows:
            conn.execute("INSERT INTO alert_events (type, check_name, target, severity, at,"
                         " since) VALUES (?, ?, ?, 'CRITICAL', ?, ?)",
                         (kind, check, target, at, since))
        conn.execute("INSERT INTO silences (pattern, target, reason, created_at, ends_at)"
                     " VALUES ('notion.*', NULL, 'Notion maintenance window', ?, ?)",
                     (wed + 5 * HOUR, wed + 7 * HOUR))
        conn.execute("INSERT INTO silences (pattern, target, reason, created_at, ends_at)"
                     " VALUES ('old.*', NULL, 'long over', ?, ?)",
                     (WEEK_START - 3 * DAY, WEEK_START - 2 * DAY))
    # The auth outage's incident, closed 13 h after it opened; one from the week before.
    outage = incidents.open_incident(store, now=wed + 6 * HOUR, user="ops", host="h",
                                     reason="notion.auth down", trigger="alert notion.auth")
    incidents.close(store, outage.id, now=wed + 19 * HOUR, by="ops", resolution="token rotated")
    earlier = incidents.open_incident(store, now=WEEK_START - 2 * DAY, user="ops", host="h",
                                      reason="drill", trigger="emergency run")
    incidents.close(store, earlier.id, now=WEEK_START - DAY, by="ops", resolution="")


def _requests(store: Store) -> None:
    base = WEEK_START + DAY + 10 * HOUR
    for i in range(40):
        endpoint = "POST /v1/data_sources/{id}/query" if i % 2 else "GET /v1/users/me"
        status, error, attempt, waited, retry_after = 200, "", 0, 0.0, None
        if i in (7, 8):
            status, error, attempt, waited, retry_after = 429, "rate_limited", 0, 0.0, 2.0
        if i in (9, 10):
            attempt, waited = 1, 2.0
        if i == 30:
            status, error = 503, "service_unavailable"
        # 25 requests within one minute, the rest an hour apart.
        at = base + i * 2 if i < 25 else base + (i - 24) * HOUR
        record_request(store, time=at, purpose="check", method=endpoint.split()[0],
                       endpoint=endpoint, status=status, error=error,
                       latency=0.2 + 0.01 * i, attempt=attempt, waited=waited,
                       retry_after=retry_after)


def _integration_requests(store: Store) -> None:
    """The integration's traffic through `opsd proxy` on Thursday: 12 requests, among them a
    429 and its retry, a 5xx and its retry, a request the proxy answered itself (queue full),
    a 409 conflict, a write over Notion's limits and a likely duplicate create; plus one row
    the week before that must not count."""
    thu = WEEK_START + 3 * DAY + 9 * HOUR
    query, page = "POST /v1/data_sources/{id}/query", "POST /v1/pages"
    # (endpoint, status, error, latency, attempt, waited, retry_after, client_wait, redo,
    #  exceeded, near, duplicate, purpose)
    plan = [
        (query, 200, "", 0.30, 0, 0.0, None, 0.0, 0.0, 0, 0, 0, "forward"),
        (query, 200, "", 0.40, 0, 0.5, None, 0.0, 0.0, 0, 0, 0, "forward"),
        (query, 429, "rate_limited", 0.10, 0, 0.0, 3.0, 0.0, 0.0, 0, 0, 0, "forward"),
        (query, 200, "", 0.35, 1, 0.0, None, 3.0, 0.0, 0, 0, 0, "forward"),
        (page, 502, "bad_gateway", 1.50, 0, 0.0, None, 0.0, 0.0, 0, 0, 0, "forward"),
        (page, 200, "", 0.60, 1, 0.0, None, 1.0, 1.5, 0, 1, 1, "forward"),
        (page, 400, "validation_error", 0.20, 0, 0.0, None, 0.0, 0.0, 2, 0, 0, "forward"),
        (page, 409, "conflict_error", 0.25, 0, 0.0, None, 0.0, 0.0, 0, 0, 0, "forward"),
        (query, 429, "rate_limited", 0.001, 0, 5.0, 1.0, 0.0, 0.0, 0, 0, 0, "queue_full"),
        ("GET /v1/blocks/{id}/children", 200, "", 0.20, 0, 0.0, None, 0.0, 0.0, 0, 0, 0,
         "forward"),
        ("GET /v1/blocks/{id}/children", 200, "", 0.22, 0, 0.0, None, 0.0, 0.0, 0, 0, 0,
         "forward"),
        ("PATCH /v1/blocks/{id}/children", 200, "", 0.45, 0, 0.0, None, 0.0, 0.0, 0, 2, 0,
         "forward"),
    ]
    rows = [(thu + i * 10, "integration", purpose, endpoint.split()[0], endpoint, status, error,
             latency, attempt, waited, retry_after, 512, 2048, client_wait, redo, exceeded,
             near, duplicate)
            for i, (endpoint, status, error, latency, attempt, waited, retry_after, client_wait,
                    redo, exceeded, near, duplicate, purpose) in enumerate(plan)]
    rows.append((WEEK_START - HOUR, "integration", "forward", "GET", "GET /v1/users/me", 500,
                 "internal_server_error", 9.0, 0, 0.0, None, 0, 0, 0.0, 0.0, 5, 5, 1))
    record_batch(store, rows)


def _schemas_and_findings(store: Store) -> None:
    props = json.dumps({"Name": {"type": "title"}})
    with store.transaction() as conn:
        conn.executemany(
            "INSERT INTO notion_schemas (database_id, source_id, source_name, properties,"
            " recorded_at, seen_at) VALUES (?, ?, ?, ?, ?, ?)",
            [("db1", "src1", "Tasks", props, WEEK_START - 10 * DAY, WEEK_START),
             ("db1", "src1", "Tasks", props, WEEK_START + 3 * DAY + 5, WEEK_START + 3 * DAY),
             ("db2", "src2", "Projects", props, WEEK_START + 4 * DAY, WEEK_START + 4 * DAY)])
        conn.executemany(
            "INSERT INTO secret_findings (fingerprint, path, rule, line, column, preview,"
            " verdict, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [("f1", "app/.env", "notion-token", 3, 1, "ntn_****", None,
              WEEK_START + 5 * DAY, WEEK_START + 6 * DAY),
             ("f0", "old/.env", "notion-token", 1, 1, "ntn_****", "accepted",
              WEEK_START - 5 * DAY, WEEK_START + 6 * DAY)])
