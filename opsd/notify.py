"""Delivery: alert events -> Markdown messages -> one outbox row per (message, URL) -> Apprise.

Every message is written to the `outbox` table before anything is sent, one row per
destination URL, so a partial delivery (chat down, mail up) re-sends only to the URLs that
failed. A row is retried with exponential backoff until `alerts.outbox_max_age`, by the
daemon's timer (`retry_outbox`) and by every CLI command that records a run.

Delivery is at-least-once: a row is marked delivered in its own transaction right after
Apprise reports SUCCESS, so the only duplicate possible is a crash between those two steps
(the row's claim then expires and it is sent again). Claims also keep two processes (the
daemon and a CLI command) from sending the same row at once.

URLs carry passwords and tokens: rows store a hash of the configured entry and Apprise's
privacy-masked form, never the URL; the URL itself is looked up in the config at send time.

Apprise itself runs in a short-lived child process (`opsd.deliver`), one per batch: it would
add 26 MB to the daemon for good.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import select
import socket
import sqlite3
import subprocess
import sys
import zoneinfo
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from opsd import metrics
from opsd.alerts import AlertEvent, EventType
from opsd.config import Settings
from opsd.deliver import UNKNOWN_URL
from opsd.durations import format_duration
from opsd.errors import OpsdError
from opsd.output import format_time, format_value
from opsd.results import Status
from opsd.runbooks import hint
from opsd.store import Store

BACKOFF_BASE = 30.0
BACKOFF_CAP = 3600.0
# Tags on a URL that receive every message, as in Apprise.
_MATCH_EVERYTHING = frozenset({"all", "always"})
# Seconds the delivery child may take to start and parse the URLs; a send gets its timeout
# plus the margin.
PARSE_TIMEOUT = 60.0
ANSWER_MARGIN = 30.0
_NOTIFY_TYPES = {Status.CRITICAL: "failure", Status.WARNING: "warning"}


@dataclasses.dataclass(frozen=True)
class Destination:
    """One entry of `alerts.urls`. `url` is secret: show `label`, store `key`."""

    url: str = dataclasses.field(repr=False)
    tags: frozenset[str]
    label: str
    key: str
    valid: bool = True

    def receives(self, tags: set[str]) -> bool:
        """Untagged URLs get everything; tagged ones what carries one of their tags."""
        return not self.tags or bool(self.tags & (tags | _MATCH_EVERYTHING))


@dataclasses.dataclass(frozen=True)
class Message:
    title: str
    body: str
    notify_type: str
    event_ids: tuple[int, ...] = ()


@dataclasses.dataclass(frozen=True)
class Origin:
    """Where messages come from: this host, the Notion workspace, the display time zone."""

    host: str
    workspace: str | None = None
    timezone: str = "UTC"

    @classmethod
    def here(cls, settings: Settings, workspace: str | None = None) -> Origin:
        return cls(socket.gethostname(), workspace, settings.scheduler.timezone)

    @property
    def name(self) -> str:
        return self.workspace or self.host


Send = Callable[[Destination, Message, float], str | None]
"""(destination, message, timeout) -> None when delivered, else the reason it was not."""


# --- destinations and sending: Apprise in a child process -----------------------------------


# (alerts.urls entries, child command with the plugin paths) -> their destinations.
_last_parse: dict[tuple[tuple[str, ...], tuple[str, ...]], list[Destination]] = {}


class WorkerError(OpsdError):
    """The delivery child process failed or did not answer."""


class AppriseWorker:
    """One child process (`python -m opsd.deliver`) for a batch of Apprise work, started on
    first use and ended on `close()`: this process never imports Apprise."""

    def __init__(self, plugin_paths: Sequence[Path] = ()) -> None:
        self._command = [sys.executable, "-m", "opsd.deliver", *map(str, plugin_paths)]
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> AppriseWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def destinations(self, settings: Settings) -> list[Destination]:
        """The configured alert URLs with their tags and masked labels (parsed once per
        config: the last parse is kept)."""
        entries = tuple(entry.get_secret_value() for entry in settings.alerts.urls)
        if not entries:
            return []
        key = (entries, tuple(self._command))
        parsed = _last_parse.get(key)
        if parsed is None:
            reply = self._ask({"parse": entries}, PARSE_TIMEOUT)
            parsed = [
                Destination(**{**fields, "tags": frozenset(fields["tags"])})
                for fields in reply["destinations"]
            ]
            _last_parse.clear()
            _last_parse[key] = parsed
        return list(parsed)

    def send(self, destination: Destination, message: Message, timeout: float) -> str | None:
        """A `Send`: None on SUCCESS, else what went wrong."""
        if not destination.valid:
            return UNKNOWN_URL
        request = {"send": destination.url, "title": message.title, "body": message.body,
                   "notify_type": message.notify_type, "timeout": timeout}
        try:
            return self._ask(request, timeout + ANSWER_MARGIN)["error"]
        except WorkerError as exc:
            return str(exc)

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        assert proc.stdin is not None and proc.stdout is not None
        with contextlib.suppress(BrokenPipeError):  # it exited already
            proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()

    def _ask(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        if self._proc is None:
            self._proc = subprocess.Popen(self._command, stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE)
        proc = self._proc
        assert proc.stdin is not None and proc.stdout is not None
        with contextlib.suppress(BrokenPipeError):  # it exited: the read below says how
            proc.stdin.write(json.dumps(request).encode() + b"\n")
            proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        if not ready:
            proc.kill()
            self.close()
            raise WorkerError(f"delivery process did not answer within {timeout:.0f}s")
        line = proc.stdout.readline()
        if not line:
            self.close()
            raise WorkerError(f"delivery process exited with code {proc.returncode}")
        return dict(json.loads(line))


def destinations(settings: Settings) -> list[Destination]:
    """The configured alert URLs with their tags and masked labels."""
    with AppriseWorker(settings.alerts.plugin_paths) as worker:
        return worker.destinations(settings)


def apprise_send(destination: Destination, message: Message, timeout: float) -> str | None:
    """Send one message to one built-in Apprise URL in a child process of its own; None on
    SUCCESS, else what went wrong. Batches share one child: `AppriseWorker.send`."""
    with AppriseWorker() as worker:
        return worker.send(destination, message, timeout)


# --- messages (pure) ------------------------------------------------------------------------


def routing_tags(event: AlertEvent) -> set[str]:
    """The Apprise tags a message about `event` goes to (`critical`, `warning`)."""
    return {event.severity.value.lower()}


def compose(events: Sequence[AlertEvent], origin: Origin, *, group: bool) -> list[Message]:
    """The messages for `events`: one each, or one for all of them when `group` is on."""
    if not events:
        return []
    if group and len(events) > 1:
        return [_grouped(events, origin)]
    return [
        Message(title(e, origin), body(e, origin), _notify_type([e]), _ids([e])) for e in events
    ]


def title(event: AlertEvent, origin: Origin) -> str:
    """`[CRITICAL] notion.auth: token invalid or revoked (Acme Ops)`."""
    return f"{_tag(event)} {event.label}: {event.summary or event.type.value} ({origin.name})"


def body(event: AlertEvent, origin: Origin) -> str:
    """Markdown: what, value vs threshold, since when, playbook, host, runbook hint."""
    tz = zoneinfo.ZoneInfo(origin.timezone)
    lasted = format_duration(max(0.0, event.at - event.since))
    if event.type is EventType.RESOLVED:
        lines = [
            f"**{event.label}** is OK again after {lasted} (was {event.severity.value}): "
            f"{event.resolution or 'check passed'}",
            f"- Problem was: {event.summary}",
        ]
    else:
        lines = [f"**{event.label}** is {event.severity.value}: {event.summary}"]
        if event.value is not None:
            lines.append(f"- Value: {_value_vs_threshold(event)}")
        lines.append(f"- Since: {format_time(event.since, tz)} (for {lasted})")
        note = _change_note(event)
        if note:
            lines.append(f"- {note}")
    lines += [
        f"- Playbook: {event.playbook or '-'}",
        f"- Host: {origin.host}" + (f" (workspace {origin.workspace})" if origin.workspace else ""),
    ]
    if event.type is not EventType.RESOLVED:
        lines.append(f"- Runbook: {hint(event.kind, event.check)}")
    return "\n".join(lines)


def _grouped(events: Sequence[AlertEvent], origin: Origin) -> Message:
    open_events = [e for e in events if e.type is not EventType.RESOLVED]
    head = (
        f"[{max((e.severity for e in open_events), key=lambda s: s.rank).value}]"
        if open_events else "[RESOLVED]"
    )
    labels = ", ".join(e.label for e in events[:3]) + (", …" if len(events) > 3 else "")
    sections = [f"### {_tag(e)} {e.label}\n{body(e, origin)}" for e in events]
    return Message(
        f"{head} {len(events)} alerts: {labels} ({origin.name})",
        "\n\n".join(sections),
        _notify_type(events),
        _ids(events),
    )


def _tag(event: AlertEvent) -> str:
    severity = event.severity.value
    return {
        EventType.FIRING: f"[{severity}]",
        EventType.REMINDER: f"[{severity}] Reminder:",
        EventType.ESCALATED: f"[{severity}] Escalated:",
        EventType.RESOLVED: "[RESOLVED]",
    }[event.type]


def _change_note(event: AlertEvent) -> str:
    previous = event.previous_severity.value if event.previous_severity else None
    if event.type is EventType.ESCALATED:
        return f"Escalated from {previous}."
    if event.type is EventType.REMINDER:
        still = f"Still firing after {format_duration(max(0.0, event.at - event.since))}."
        if previous:
            return f"De-escalated from {previous} since the last message. {still}"
        return still
    return ""


def _value_vs_threshold(event: AlertEvent) -> str:
    text = format_value(event.value, event.unit)
    limits = event.thresholds or {}
    sign = ">=" if limits.get("direction", "above") == "above" else "<="
    parts = [
        f"{name} {sign} {format_value(limits[key], event.unit)}"
        for key, name in (("warn", "warning"), ("crit", "critical"))
        if limits.get(key) is not None
    ]
    return text + (f" (threshold: {', '.join(parts)})" if parts else "")


def _notify_type(events: Sequence[AlertEvent]) -> str:
    open_events = [e for e in events if e.type is not EventType.RESOLVED]
    if not open_events:
        return "success"
    worst = max((e.severity for e in open_events), key=lambda s: s.rank)
    return _NOTIFY_TYPES.get(worst, "warning")


def _ids(events: Sequence[AlertEvent]) -> tuple[int, ...]:
    return tuple(e.id for e in events if e.id is not None)


def backoff(attempts: int) -> float:
    """Seconds before the next try after `attempts` failures: 30 s, 1 m, 2 m ... capped at 1 h."""
    return min(BACKOFF_BASE * 2 ** max(0, attempts - 1), BACKOFF_CAP)


# --- the outbox -----------------------------------------------------------------------------


def enqueue(
    conn: sqlite3.Connection,
    settings: Settings,
    events: Sequence[AlertEvent],
    origin: Origin,
    now: float,
) -> int:
    """Write the messages for deliverable `events` to the outbox (inside the caller's
    transaction); returns the number of rows."""
    deliverable = [e for e in events if e.deliver]
    if not deliverable or not settings.alerts.urls:
        return 0
    rows = []
    for destination in destinations(settings):
        routed = [e for e in deliverable if destination.receives(routing_tags(e))]
        for message in compose(routed, origin, group=settings.alerts.group):
            rows.append((
                now, destination.key, destination.label, message.notify_type,
                settings.redact(message.title), settings.redact(message.body),
                json.dumps(list(message.event_ids)), now,
            ))
    conn.executemany(
        "INSERT INTO outbox (created_at, url_key, url_label, notify_type, title, body,"
        " event_ids, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    return len(rows)


def retry_outbox(
    settings: Settings, store: Store, now: float, send: Send | None = None
) -> int:
    """Send every due outbox row once; returns how many were delivered.

    `send` defaults to Apprise in one child process for the whole pass (none if nothing is
    due). The daemon calls this on a timer (it blocks while sending: run it in a thread);
    every CLI command that records a run calls it too.
    """
    with AppriseWorker(settings.alerts.plugin_paths) as worker:
        return _send_due(settings, store, now, worker, send or worker.send)


def _send_due(
    settings: Settings, store: Store, now: float, worker: AppriseWorker, send: Send
) -> int:
    by_key: dict[str, Destination] | None = None  # parsed on first use
    timeout = settings.alerts.timeout
    failed_keys: set[str] = set()
    delivered = 0
    while (row := _claim_next(store, now, timeout + 60.0, failed_keys)) is not None:
        if by_key is None:
            by_key = {d.key: d for d in worker.destinations(settings)}
        destination = by_key.get(row["url_key"])
        if destination is None:
            _give_up(store, row["id"], now, "URL no longer in alerts.urls")
            continue
        message = Message(row["title"], row["body"], row["notify_type"])
        error = send(destination, message, timeout)
        metrics.observe_notification(error is None)
        if error is None:
            _mark_delivered(store, row["id"], now)
            delivered += 1
            continue
        # One failure per URL per pass: the rest of its rows wait for the next pass.
        failed_keys.add(row["url_key"])
        _mark_failed(store, row, now, settings.redact(error), settings.alerts.outbox_max_age)
    metrics.set_outbox_depth(outbox_depth(store))
    return delivered


def _claim_next(
    store: Store, now: float, lease: float, skip_keys: set[str]
) -> dict[str, Any] | None:
    skip = ",".join("?" * len(skip_keys))
    with store.transaction():
        row = next(iter(store.db.query(
            "SELECT * FROM outbox WHERE delivered_at IS NULL AND abandoned_at IS NULL"
            " AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?)"
            f" AND url_key NOT IN ({skip}) ORDER BY id LIMIT 1",
            [now, now, *sorted(skip_keys)],
        )), None)
        if row is not None:
            store.conn.execute(
                "UPDATE outbox SET claimed_until = ? WHERE id = ?", (now + lease, row["id"])
            )
    return row


def _mark_delivered(store: Store, row_id: int, now: float) -> None:
    with store.transaction() as conn:
        conn.execute(
            "UPDATE outbox SET delivered_at = ?, attempts = attempts + 1, claimed_until = NULL,"
            " last_error = NULL WHERE id = ?",
            (now, row_id),
        )


def _mark_failed(
    store: Store, row: dict[str, Any], now: float, error: str, max_age: float
) -> None:
    attempts = row["attempts"] + 1
    if now - row["created_at"] >= max_age:
        error = f"gave up after {attempts} attempts over {format_duration(max_age)}: {error}"
        _give_up(store, row["id"], now, error, attempts)
        return
    with store.transaction() as conn:
        conn.execute(
            "UPDATE outbox SET attempts = ?, last_error = ?, next_attempt_at = ?,"
            " claimed_until = NULL WHERE id = ?",
            (attempts, error, now + backoff(attempts), row["id"]),
        )


def _give_up(
    store: Store, row_id: int, now: float, error: str, attempts: int | None = None
) -> None:
    with store.transaction() as conn:
        conn.execute(
            "UPDATE outbox SET abandoned_at = ?, last_error = ?, claimed_until = NULL,"
            " attempts = COALESCE(?, attempts) WHERE id = ?",
            (now, error, attempts, row_id),
        )


def outbox_depth(store: Store) -> int:
    """Messages still waiting for delivery."""
    row = store.conn.execute(
        "SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL AND abandoned_at IS NULL"
    ).fetchone()
    return int(row[0])


def outbox_rows(store: Store, since: float) -> list[dict[str, Any]]:
    """Outbox rows created since `since`, oldest first (no URL in them, only labels)."""
    return list(store.db.query(
        "SELECT id, created_at, url_label, title, event_ids, attempts, last_error,"
        " delivered_at, abandoned_at FROM outbox WHERE created_at >= ? ORDER BY id",
        [since],
    ))


def send_test(
    settings: Settings, tag: str | None = None, send: Send | None = None
) -> list[tuple[Destination, str | None]]:
    """Send a test message to every URL (or those tagged `tag`): each with its outcome.

    `send` defaults to Apprise in one child process for all of them."""
    with AppriseWorker(settings.alerts.plugin_paths) as worker:
        return _send_test(settings, tag, worker, send or worker.send)


def _send_test(
    settings: Settings, tag: str | None, worker: AppriseWorker, send: Send
) -> list[tuple[Destination, str | None]]:
    origin = Origin.here(settings)
    message = Message(
        f"opsd test message ({origin.name})",
        f"This is a test from opsd on **{origin.host}**: if you read it, alerts reach you.",
        "info",
    )
    chosen = [d for d in worker.destinations(settings) if tag is None or tag.lower() in d.tags]
    outcomes = []
    for destination in chosen:
        error = send(destination, message, settings.alerts.timeout)
        metrics.observe_notification(error is None)
        outcomes.append((destination, None if error is None else settings.redact(error)))
    return outcomes
