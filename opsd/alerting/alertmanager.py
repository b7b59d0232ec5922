"""The Alertmanager sink: alert events -> Alertmanager v2 alerts -> one outbox row per peer.

`[alerts.alertmanager] urls` lists every peer of an Alertmanager cluster; each event that
Apprise receivers would hear about (the same decision: `AlertEvent.deliver`, so held, silenced
and flapping alerts follow the same rules) becomes one outbox row per peer, posted to
`<peer>/api/v2/alerts` by the outbox's drain, in order, with its backoff and claims.

Labels are the alert's identity in Alertmanager, and the same from every opsd instance
watching the same thing, so an HA pair's two copies of an alert are one alert there:

    alertname="OpsdCheckFailing", check, kind, target, workspace, severity (lowercase),
    plus `[alerts.alertmanager] labels`

Nothing host-specific or time-varying is a label: the host, the value, the summary and the
runbook are annotations, the metrics URL is `generatorURL`. One `alertname` for every opsd
alert lets a route match them all (`alertname="OpsdCheckFailing"`); the check is its label.

Times: a firing alert is posted with `endsAt` = now + 4 × `resend_interval`, computed when the
row is sent (a row retried late still says "firing for a while yet"), and posted again every
`resend_interval` (`opsd.daemon.alertmanager_resend`) so Alertmanager keeps it open; an opsd
that dies stops refreshing, and its alerts end at their `endsAt` unless a peer opsd keeps
them. A resolve is posted with `endsAt` = when it resolved. A severity change replaces the
alert (severity is a label): the old severity's alert is resolved in the same post.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from opsd.alerting.destinations import Destination, PermanentFailure, Send
from opsd.alerting.engine import Alert, AlertEvent, EventType
from opsd.alerting.messages import Message
from opsd.alerting.messages import _value_vs_threshold as value_vs_threshold
from opsd.config.workspace import workspace_of
from opsd.exception_text import describe_exception
from opsd.results import Status
from opsd.runbooks import hint
from opsd.store.outbox import OutboxRow
from opsd.units import format_time

if TYPE_CHECKING:
    from opsd.config import Settings

ALERTNAME = "OpsdCheckFailing"
KEY_PREFIX = "alertmanager:"
API_PATH = "/api/v2/alerts"
ENDS_AFTER_RESENDS = 4
"""A firing alert's `endsAt` is this many `resend_interval`s ahead."""
_CLOSING = (EventType.RESOLVED,)


def active(settings: Settings) -> bool:
    """Whether alerts go to Alertmanager peers."""
    return settings.alerts.alertmanager.active


def peer_key(peer: str) -> str:
    """The outbox `url_key` of a peer (a hash: reordering `urls` keeps every peer's queue)."""
    return KEY_PREFIX + hashlib.sha256(peer.encode()).hexdigest()[:16]


def is_peer_key(url_key: str) -> bool:
    return url_key.startswith(KEY_PREFIX)


def destinations(settings: Settings) -> list[Destination]:
    """One destination per peer (no credentials in a peer URL: the config refuses them)."""
    if not active(settings):
        return []
    return [Destination(peer, frozenset(), f"alertmanager {peer}", peer_key(peer))
            for peer in settings.alerts.alertmanager.urls]


# --- payloads (pure) ------------------------------------------------------------------------


def labels(settings: Settings, check: str, kind: str, target: str,
           severity: Status) -> dict[str, str]:
    """An alert's identity: the same from every opsd instance watching the same thing. An
    empty label is no label (Prometheus' rule, which Alertmanager applies): a check without a
    target has no `target`."""
    found = {
        **settings.alerts.alertmanager.labels,
        "alertname": ALERTNAME, "check": check, "kind": kind or check, "target": target,
        "workspace": workspace_of(settings), "severity": severity.value.lower(),
    }
    return {name: value for name, value in found.items() if value}


def annotations_of(event: AlertEvent) -> dict[str, str]:
    """What a receiver reads: summary, value against threshold, runbook, since."""
    notes = {
        "summary": f"{event.label}: {event.summary or event.type.value}",
        "since": format_time(event.since, dt.UTC),
        "runbook": event.hint or hint(event.kind, event.check),
        "playbook": event.playbook or "-",
    }
    if event.value is not None:
        notes["value"] = value_vs_threshold(event)
    if event.type is EventType.FLAPPING:
        notes["flapping"] = "changing state too often: no more messages until it settles"
    return notes


def generator_url(settings: Settings) -> str:
    """The instance's /metrics (not a label: it may differ between instances), or ""."""
    metrics = settings.metrics
    if not metrics.enabled:
        return ""
    host = metrics.host
    if host in ("0.0.0.0", "::", ""):
        host = _fqdn()
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{metrics.port}/metrics"


@functools.cache
def _fqdn() -> str:
    """This host's name, looked up once (a DNS query: not per alert, not on the loop each
    resend)."""
    return socket.getfqdn()


def closes(event: AlertEvent) -> bool:
    """A RESOLVED, or flapping that ended in OK: the alert ends in Alertmanager."""
    return event.type in _CLOSING or (
        event.type is EventType.FLAPPING_ENDED and bool(event.resolution)
    )


def entries(settings: Settings, event: AlertEvent) -> list[dict[str, Any]]:
    """The Alertmanager alerts an event posts, as queued: `endsAt` null means firing (set
    at send time), else the epoch it ended. A severity change also ends the old severity's."""
    generator, notes = generator_url(settings), annotations_of(event)

    def entry(severity: Status, ends_at: float | None) -> dict[str, Any]:
        return {"labels": labels(settings, event.check, event.kind, event.target, severity),
                "annotations": notes, "generatorURL": generator,
                "startsAt": event.since, "endsAt": ends_at}

    if closes(event):
        return [entry(event.severity, event.at)]
    found = [entry(event.severity, None)]
    previous = event.previous_severity
    if previous is not None and previous is not event.severity:
        found.insert(0, entry(previous, event.at))
    return found


def outbox_rows(settings: Settings, events: Sequence[AlertEvent]) -> list[OutboxRow]:
    """One row per (deliverable event, peer); ESCALATION events (pages to tagged URLs) are
    not Alertmanager's: it routes by itself."""
    chosen = [e for e in events if e.deliver and e.type is not EventType.ESCALATION]
    peers = destinations(settings)
    rows = []
    for event in chosen:
        body = settings.redact(json.dumps(entries(settings, event)))
        title = f"{event.type.value} {event.label}"
        notify_type = "success" if closes(event) else "failure"
        for destination in peers:
            rows.append(OutboxRow(destination.key, destination.label, notify_type, title, body,
                                  () if event.id is None else (event.id,)))
    return rows


def refresh_entries(
    settings: Settings, alerts: Sequence[Alert], now: float
) -> list[dict[str, Any]]:
    """The firing alerts to post again (a resend), as queued entries."""
    found = []
    for alert in alerts:
        severity = alert.notified_severity or alert.severity or Status.WARNING
        event = AlertEvent(
            EventType.FLAPPING if alert.flapping else EventType.REMINDER, alert.check,
            alert.target, alert.kind, alert.playbook, severity, now,
            alert.since if alert.since is not None else now, alert.summary, alert.value,
            alert.unit, alert.thresholds, hint=alert.hint,
        )
        found += entries(settings, event)
    return found


def posted(
    queued: Sequence[dict[str, Any]], now: float, resend_interval: float
) -> list[dict[str, Any]]:
    """Queued entries as Alertmanager's v2 API takes them, their times RFC 3339."""
    alerts = []
    for entry in queued:
        ends_at = entry["endsAt"]
        if ends_at is None:
            ends_at = now + ENDS_AFTER_RESENDS * resend_interval
        alert = {"labels": entry["labels"], "annotations": entry["annotations"],
                 "startsAt": _rfc3339(min(entry["startsAt"], ends_at)),
                 "endsAt": _rfc3339(ends_at)}
        if entry.get("generatorURL"):
            alert["generatorURL"] = entry["generatorURL"]
        alerts.append(alert)
    return alerts


def _rfc3339(epoch: float) -> str:
    moment = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- sending --------------------------------------------------------------------------------


def post(
    settings: Settings, peer: str, alerts: list[dict[str, Any]], timeout: float
) -> str | None:
    """POST `alerts` to one peer: None when it took them, else why not (a `PermanentFailure`
    for 400/401/403/404: a bad payload, bad credentials or not an Alertmanager)."""
    import httpx

    try:
        options = client_options(settings)
    except OSError as exc:  # ssl.SSLError too: a missing or unreadable CA bundle
        ca_file = settings.alerts.alertmanager.tls_ca_file
        return f"tls_ca_file {ca_file}: cannot load: {describe_exception(exc)}"
    try:
        with httpx.Client(**options, timeout=timeout) as client:
            answer = client.post(peer + API_PATH, json=alerts)
    except httpx.HTTPError as exc:
        return settings.redact(f"{type(exc).__name__}: {exc}")
    if answer.is_success:
        return None
    reason = settings.redact(f"HTTP {answer.status_code}: {answer.text[:200].strip()}")
    if answer.status_code in (400, 401, 403, 404):
        return PermanentFailure(reason)
    return reason


def client_options(settings: Settings) -> dict[str, Any]:
    """httpx client arguments: auth, headers and TLS verification for the peers."""
    config = settings.alerts.alertmanager
    options: dict[str, Any] = {"headers": {"User-Agent": "opsd"}}
    if config.username is not None and config.password is not None:
        options["auth"] = (config.username, config.password.get_secret_value())
    if config.bearer_token is not None:
        options["headers"]["Authorization"] = f"Bearer {config.bearer_token.get_secret_value()}"
    if config.tls_insecure_skip_verify:
        options["verify"] = False
    elif config.tls_ca_file is not None:
        import ssl

        options["verify"] = ssl.create_default_context(cafile=str(config.tls_ca_file))
    return options


def routed(settings: Settings, now: float, other: Send) -> Send:
    """A `Send` for the outbox: rows to a peer go to Alertmanager, the rest to `other`."""

    def send(destination: Destination, message: Message, timeout: float) -> str | None:
        if not is_peer_key(destination.key):
            return other(destination, message, timeout)
        config = settings.alerts.alertmanager
        alerts = posted(json.loads(message.body), now, config.resend_interval)
        return post(settings, destination.url, alerts, config.timeout)

    return send


def as_sent(row: dict[str, Any]) -> Message:
    """A peer's row as it goes out: its queued entries, unchanged (no footer)."""
    return Message(row["title"], row["body"], row["notify_type"])
