"""Prometheus metrics, kept in memory and updated as things happen (never by scanning history).

Every component reports through the small functions below; the daemon serves the registry
on /metrics. Names follow Prometheus conventions: `opsd_` prefix, base units, bounded labels.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, ProcessCollector

from opsd import __version__

if TYPE_CHECKING:
    from opsd.playbooks import Playbook
    from opsd.results import RunReport

REGISTRY = CollectorRegistry(auto_describe=True)

BUILD_INFO = Info("opsd_build", "opsd version", registry=REGISTRY)
BUILD_INFO.info({"version": __version__})
# process_resident_memory_bytes, process_start_time_seconds, ... (Linux /proc).
ProcessCollector(registry=REGISTRY)

CHECK_STATUS = Gauge(
    "opsd_check_status",
    "Latest status of a check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, -1 SKIPPED",
    ["check", "kind", "target", "playbook"], registry=REGISTRY,
)
CHECK_VALUE = Gauge(
    "opsd_check_value", "Latest value of a check in its base unit (see the unit label)",
    ["check", "kind", "target", "playbook", "unit"], registry=REGISTRY,
)
CHECK_LAST_RUN = Gauge(
    "opsd_check_last_run_timestamp_seconds", "When the check last ran",
    ["check", "kind", "target", "playbook"], registry=REGISTRY,
)
CHECK_DURATION = Gauge(
    "opsd_check_duration_seconds", "How long the check's last run took",
    ["check", "kind", "target", "playbook"], registry=REGISTRY,
)
PLAYBOOK_LAST_RUN = Gauge(
    "opsd_playbook_last_run_timestamp_seconds", "When the playbook last finished",
    ["playbook"], registry=REGISTRY,
)
PLAYBOOK_LAST_SUCCESS = Gauge(
    "opsd_playbook_last_success_timestamp_seconds", "When the playbook last finished all OK",
    ["playbook"], registry=REGISTRY,
)
PLAYBOOK_DURATION = Gauge(
    "opsd_playbook_duration_seconds", "How long the playbook's last run took",
    ["playbook"], registry=REGISTRY,
)
PLAYBOOK_RUNS = Counter(
    "opsd_playbook_runs", "Playbook runs by final status", ["playbook", "status"],
    registry=REGISTRY,
)

NOTION_REQUESTS = Counter(
    "opsd_notion_requests", "Notion API requests by endpoint template and HTTP status",
    ["endpoint", "status"], registry=REGISTRY,
)
NOTION_LATENCY = Histogram(
    "opsd_notion_request_duration_seconds", "Notion API request latency",
    ["endpoint"], registry=REGISTRY,
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
)
NOTION_RATE_LIMITED = Counter(
    "opsd_notion_rate_limited", "Notion API answers 429 rate_limited", registry=REGISTRY,
)
NOTION_RETRY_WAIT = Counter(
    "opsd_notion_retry_wait_seconds", "Seconds spent waiting before retries (Retry-After, backoff)",
    registry=REGISTRY,
)
NOTION_RETRIES = Counter(
    "opsd_notion_retries", "Notion API requests retried", registry=REGISTRY,
)
NOTION_PAUSED_UNTIL = Gauge(
    "opsd_notion_rate_limit_paused_until_timestamp_seconds",
    "Until when a 429/529 Retry-After pauses opsd's shared Notion budget (0: not paused)",
    registry=REGISTRY,
)
NOTION_RATE = Gauge(
    "opsd_notion_request_rate_limit",
    "opsd's current adaptive Notion request budget, requests/s (notion.rate_limit at most)",
    registry=REGISTRY,
)

ALERTS_FIRING = Gauge(
    "opsd_alerts_firing", "Alerts currently firing, by severity", ["severity"], registry=REGISTRY,
)
NOTIFICATIONS = Counter(
    "opsd_notifications", "Notification delivery attempts by outcome (sent, failed)",
    ["outcome"], registry=REGISTRY,
)
OUTBOX_DEPTH = Gauge(
    "opsd_outbox_depth", "Notifications waiting in the outbox for delivery", registry=REGISTRY,
)
NOTIFICATIONS_ABANDONED = Counter(
    "opsd_notifications_abandoned", "Notifications given up, by reason (expired: undelivered "
    "at alerts.outbox_max_age; permanent: a failure no retry can fix)",
    ["reason"], registry=REGISTRY,
)
for _reason in ("expired", "permanent"):
    NOTIFICATIONS_ABANDONED.labels(_reason)

SCHEDULER_NEXT_RUN = Gauge(
    "opsd_playbook_next_run_timestamp_seconds", "When the scheduler will next run the playbook",
    ["playbook"], registry=REGISTRY,
)
CONFIG_RELOADS = Counter(
    "opsd_config_reloads", "Configuration reloads (SIGHUP) by outcome (success, failure)",
    ["outcome"], registry=REGISTRY,
)
HEARTBEATS = Counter(
    "opsd_heartbeats", "Heartbeat pings after a successful run, by outcome (sent, failed)",
    ["outcome"], registry=REGISTRY,
)


def observe_run(report: RunReport, playbook: Playbook | None = None) -> None:
    """Update check and playbook gauges from a finished run (usable as a runner observer)."""
    for r in report.results:
        labels = (r.check, r.kind, r.target, report.playbook)
        CHECK_STATUS.labels(*labels).set(r.status.gauge)
        CHECK_LAST_RUN.labels(*labels).set(r.started_at)
        CHECK_DURATION.labels(*labels).set(r.duration)
        if r.value is not None:
            CHECK_VALUE.labels(*labels, r.unit or "").set(r.value)
    PLAYBOOK_LAST_RUN.labels(report.playbook).set(report.finished_at)
    PLAYBOOK_DURATION.labels(report.playbook).set(report.finished_at - report.started_at)
    PLAYBOOK_RUNS.labels(report.playbook, report.status.value).inc()
    if report.status.value == "OK":
        PLAYBOOK_LAST_SUCCESS.labels(report.playbook).set(report.finished_at)


def observe_notion_request(
    endpoint: str, status: int | str, seconds: float, *, waited: float = 0.0, retried: bool = False
) -> None:
    """One Notion API request: `endpoint` is a template (`/v1/databases/{id}`), never an ID."""
    NOTION_REQUESTS.labels(endpoint, str(status)).inc()
    NOTION_LATENCY.labels(endpoint).observe(seconds)
    if str(status) == "429":
        NOTION_RATE_LIMITED.inc()
    if waited > 0:
        NOTION_RETRY_WAIT.inc(waited)
    if retried:
        NOTION_RETRIES.inc()


def observe_notion_budget(paused_until: float | None, rate: float) -> None:
    """The shared Notion budget as this process last saw it."""
    NOTION_PAUSED_UNTIL.set(paused_until or 0.0)
    NOTION_RATE.set(rate)


def observe_notification(delivered: bool) -> None:
    NOTIFICATIONS.labels("sent" if delivered else "failed").inc()


def observe_abandoned(reason: str, count: int = 1) -> None:
    """`count` notifications given up for `reason` (expired, permanent)."""
    NOTIFICATIONS_ABANDONED.labels(reason).inc(count)


def set_outbox_depth(depth: int) -> None:
    OUTBOX_DEPTH.set(depth)


def set_alerts_firing(by_severity: dict[str, int]) -> None:
    for severity in ("WARNING", "CRITICAL"):
        ALERTS_FIRING.labels(severity).set(by_severity.get(severity, 0))


def set_next_runs(next_runs: dict[str, dt.datetime]) -> None:
    """The scheduler's next fire time of each playbook; playbooks no longer scheduled vanish."""
    SCHEDULER_NEXT_RUN.clear()
    for playbook, when in next_runs.items():
        SCHEDULER_NEXT_RUN.labels(playbook).set(when.timestamp())


def observe_reload(succeeded: bool) -> None:
    CONFIG_RELOADS.labels("success" if succeeded else "failure").inc()


def observe_heartbeat(delivered: bool) -> None:
    HEARTBEATS.labels("sent" if delivered else "failed").inc()
