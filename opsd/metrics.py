"""Prometheus metrics, kept in memory and updated as things happen (never by scanning history
while running; once at start, `opsd.daemon.series` publishes what the history holds).

Every component reports through the small functions below; the daemon serves the registry
on /metrics. Names follow Prometheus conventions: `opsd_` prefix, base units, bounded labels.
"""

from __future__ import annotations

import datetime as dt
import platform
from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
)

from opsd import __version__
from opsd.check_series import CheckSeries

if TYPE_CHECKING:
    from opsd.playbooks import Playbook
    from opsd.results import RunReport

REGISTRY = CollectorRegistry(auto_describe=True)

BUILD_INFO = Info(
    "opsd_build", "opsd version, Python version and a short hash of the effective "
    "configuration and playbooks (secrets excluded)", registry=REGISTRY,
)
# process_resident_memory_bytes, process_start_time_seconds, ... (Linux /proc).
ProcessCollector(registry=REGISTRY)
# python_info, python_gc_objects_collected_total, python_gc_collections_total, ...
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

# opsd_check_status, _success, _value, _last_run_timestamp_seconds, _duration_seconds,
# _state_since_timestamp_seconds, _last_success_timestamp_seconds and
# opsd_http_cert_expiry_timestamp_seconds, by check, kind, target and playbook.
CHECKS = CheckSeries()
REGISTRY.register(CHECKS)

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
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
NOTION_RATE_LIMITED = Counter(
    "opsd_notion_rate_limited", "Notion API answers 429 rate_limited", registry=REGISTRY,
)
NOTION_RETRY_WAIT = Counter(
    "opsd_notion_retry_wait_seconds",
    "Seconds waited before retries: their backoff or Retry-After pause (first attempts' "
    "queueing is opsd_notion_limiter_wait_seconds_total)", registry=REGISTRY,
)
NOTION_LIMITER_WAIT = Counter(
    "opsd_notion_limiter_wait_seconds",
    "Seconds first attempts queued for a slot of the shared Notion request budget",
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
NOTION_CIRCUIT_OPEN = Gauge(
    "opsd_notion_circuit_open",
    "1 while opsd's Notion circuit is open (checks not sent, one probe per backoff step)",
    registry=REGISTRY,
)

ALERTS_FIRING = Gauge(
    "opsd_alerts_firing", "Alerts currently firing, by severity", ["severity"], registry=REGISTRY,
)
ALERTS_PENDING = Gauge(
    "opsd_alerts_pending", "Alerts pending (a problem seen, not yet failure_threshold times in a "
    "row), by severity", ["severity"], registry=REGISTRY,
)
LAST_BACKUP = Gauge(
    "opsd_last_backup_timestamp_seconds",
    "When maintenance.backup last wrote a backup that passed verification (0: never)",
    registry=REGISTRY,
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

SEVERITIES = ("warning", "critical")
"""Values of the `severity` label, lowercase as in the alerting rules."""
RUN_STATUSES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")
BACKUP_KIND = "maintenance.backup"
"""The kind whose OK results set opsd_last_backup_timestamp_seconds."""


def born_at_zero() -> None:
    """Every labelled counter with a known label set exists from the start at 0, so rate() and
    increase() see its first event (a counter born at 1 hides it)."""
    for counter, values in (
        (NOTIFICATIONS, ("sent", "failed")),
        (NOTIFICATIONS_ABANDONED, ("expired", "permanent")),
        (CONFIG_RELOADS, ("success", "failure")),
        (HEARTBEATS, ("sent", "failed")),
    ):
        for value in values:
            counter.labels(value)
    for severity in SEVERITIES:
        ALERTS_FIRING.labels(severity)
        ALERTS_PENDING.labels(severity)


born_at_zero()


def observe_run(report: RunReport, playbook: Playbook | None = None) -> None:
    """Update check and playbook gauges from a finished run (usable as a runner observer)."""
    CHECKS.observe(report.playbook, report.results)
    for r in report.results:
        if r.kind == BACKUP_KIND and r.status.value == "OK":
            LAST_BACKUP.set(r.started_at + r.duration)
    PLAYBOOK_LAST_RUN.labels(report.playbook).set(report.finished_at)
    PLAYBOOK_DURATION.labels(report.playbook).set(report.finished_at - report.started_at)
    PLAYBOOK_RUNS.labels(report.playbook, report.status.value).inc()
    if report.status.value == "OK":
        PLAYBOOK_LAST_SUCCESS.labels(report.playbook).set(report.finished_at)


def observe_notion_request(
    endpoint: str, status: int | str, seconds: float, *, waited: float = 0.0, retried: bool = False
) -> None:
    """One Notion API request: `endpoint` is a template (`/v1/databases/{id}`), never an ID.

    `waited`: the seconds before it was sent; a retry's count as retry waiting (its backoff,
    or the Retry-After pause the budget held it for), a first attempt's as limiter queueing."""
    NOTION_REQUESTS.labels(endpoint, str(status)).inc()
    NOTION_LATENCY.labels(endpoint).observe(seconds)
    if str(status) == "429":
        NOTION_RATE_LIMITED.inc()
    if waited > 0:
        (NOTION_RETRY_WAIT if retried else NOTION_LIMITER_WAIT).inc(waited)
    if retried:
        NOTION_RETRIES.inc()


def observe_notion_budget(paused_until: float | None, rate: float) -> None:
    """The shared Notion budget as this process last saw it."""
    NOTION_PAUSED_UNTIL.set(paused_until or 0.0)
    NOTION_RATE.set(rate)


def observe_notion_circuit(is_open: bool) -> None:
    """The Notion circuit as this process last saw it (`opsd.notion.circuit`)."""
    NOTION_CIRCUIT_OPEN.set(1 if is_open else 0)


def observe_notification(delivered: bool) -> None:
    NOTIFICATIONS.labels("sent" if delivered else "failed").inc()


def observe_abandoned(reason: str, count: int = 1) -> None:
    """`count` notifications given up for `reason` (expired, permanent)."""
    NOTIFICATIONS_ABANDONED.labels(reason).inc(count)


def set_outbox_depth(depth: int) -> None:
    OUTBOX_DEPTH.set(depth)


def set_alerts_firing(by_severity: dict[str, int]) -> None:
    """Firing alerts by severity (`WARNING`/`CRITICAL` as stored; labelled lowercase)."""
    _set_by_severity(ALERTS_FIRING, by_severity)


def set_alerts_pending(by_severity: dict[str, int]) -> None:
    """Pending alerts by severity (`WARNING`/`CRITICAL` as stored; labelled lowercase)."""
    _set_by_severity(ALERTS_PENDING, by_severity)


def _set_by_severity(gauge: Gauge, by_severity: dict[str, int]) -> None:
    counts = {severity.lower(): count for severity, count in by_severity.items()}
    for severity in SEVERITIES:
        gauge.labels(severity).set(counts.get(severity, 0))


def set_last_backup(finished_at: float | None) -> None:
    LAST_BACKUP.set(finished_at or 0.0)


def set_config_hash(config_hash: str) -> None:
    """The running configuration's hash, in opsd_build_info."""
    BUILD_INFO.info({"version": __version__, "python": platform.python_version(),
                     "config_hash": config_hash})


set_config_hash("")


def add_playbooks(names: Iterable[str]) -> None:
    """Playbooks now configured: their run counters exist at 0 for every final status."""
    for name in names:
        for status in RUN_STATUSES:
            PLAYBOOK_RUNS.labels(name, status)


def restore_playbook(
    name: str, *, finished_at: float, duration: float, last_success: float | None
) -> None:
    """A playbook's run gauges as the store has them (at start, or when a reload adds it)."""
    PLAYBOOK_LAST_RUN.labels(name).set(finished_at)
    PLAYBOOK_DURATION.labels(name).set(duration)
    if last_success is not None:
        PLAYBOOK_LAST_SUCCESS.labels(name).set(last_success)


def forget_playbooks(names: Iterable[str]) -> None:
    """Playbooks a reload dropped: every series labelled with them goes."""
    for name in names:
        for gauge in (PLAYBOOK_LAST_RUN, PLAYBOOK_LAST_SUCCESS, PLAYBOOK_DURATION):
            gauge.remove(name)
        for status in RUN_STATUSES:
            PLAYBOOK_RUNS.remove(name, status)


def set_next_runs(next_runs: dict[str, dt.datetime]) -> None:
    """The scheduler's next fire time of each playbook; playbooks no longer scheduled vanish."""
    SCHEDULER_NEXT_RUN.clear()
    for playbook, when in next_runs.items():
        SCHEDULER_NEXT_RUN.labels(playbook).set(when.timestamp())


def observe_reload(succeeded: bool) -> None:
    CONFIG_RELOADS.labels("success" if succeeded else "failure").inc()


def observe_heartbeat(delivered: bool) -> None:
    HEARTBEATS.labels("sent" if delivered else "failed").inc()


NOTIFICATIONS_UNCERTAIN = Counter(
    "opsd_notifications_uncertain", "Notification attempts whose outcome is unknown (the "
    "sender died mid-send): each is sent again, marked as a possible repeat",
    registry=REGISTRY,
)


def observe_uncertain() -> None:
    """An attempt to send a notification whose outcome is unknown."""
    NOTIFICATIONS_UNCERTAIN.inc()


STORAGE_HEALTHY = Gauge(
    "opsd_storage_healthy",
    "1 while runs are recorded into the database at storage.path, 0 when they cannot be "
    "(disk full, read-only, I/O error, the file deleted or replaced)", registry=REGISTRY,
)
STORAGE_HEALTHY.set(1)


def set_storage_healthy(healthy: bool) -> None:
    STORAGE_HEALTHY.set(1 if healthy else 0)
