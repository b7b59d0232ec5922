"""The proxy's Prometheus metrics (served on its own port at /__opsd/metrics). Names are new
(`opsd_proxy_…`); the daemon's `opsd_notion_…` metrics keep measuring opsd's own requests.
The `source` label says whose traffic it was: always `integration` for what the proxy forwards,
so a dashboard can sum both processes' series and still split them."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from opsd.metrics import REGISTRY

SOURCE = "integration"

PROXY_REQUESTS = Counter(
    "opsd_proxy_requests", "Requests forwarded by opsd proxy, by endpoint template and status",
    ["source", "endpoint", "status"], registry=REGISTRY,
)
PROXY_LATENCY = Histogram(
    "opsd_proxy_upstream_duration_seconds",
    "Time from forwarding a request to the end of Notion's answer", ["source"],
    registry=REGISTRY, buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
PROXY_QUEUE_WAIT = Counter(
    "opsd_proxy_queue_wait_seconds", "Seconds requests queued for the shared request budget",
    ["source"], registry=REGISTRY,
)
PROXY_REJECTED = Counter(
    "opsd_proxy_rejected", "Requests answered 429 by the proxy itself (no slot within "
    "proxy.max_queue_wait)", ["source"], registry=REGISTRY,
)
PROXY_RETRIES = Counter(
    "opsd_proxy_retries", "Requests the integration sent again after a 429, 5xx or no answer",
    ["source"], registry=REGISTRY,
)
PROXY_LIMITS = Counter(
    "opsd_proxy_request_limits", "Values of the integration's writes over (exceeded) or near "
    "(near) Notion's request limits", ["source", "state"], registry=REGISTRY,
)
PROXY_DUPLICATES = Counter(
    "opsd_proxy_likely_duplicate_creates", "Page creates repeated within 60 s after one got no "
    "answer", ["source"], registry=REGISTRY,
)
PROXY_RECORD_BACKLOG = Gauge(
    "opsd_proxy_request_log_backlog", "Request-log rows waiting for their batch write",
    registry=REGISTRY,
)


def observe(*, endpoint: str, status: int | str, latency: float, waited: float, attempt: int,
            exceeded: int, near: int, duplicate: bool) -> None:
    """One forwarded request."""
    PROXY_REQUESTS.labels(SOURCE, endpoint, str(status)).inc()
    PROXY_LATENCY.labels(SOURCE).observe(latency)
    if waited > 0:
        PROXY_QUEUE_WAIT.labels(SOURCE).inc(waited)
    if attempt > 0:
        PROXY_RETRIES.labels(SOURCE).inc()
    if exceeded:
        PROXY_LIMITS.labels(SOURCE, "exceeded").inc(exceeded)
    if near:
        PROXY_LIMITS.labels(SOURCE, "near").inc(near)
    if duplicate:
        PROXY_DUPLICATES.labels(SOURCE).inc()
