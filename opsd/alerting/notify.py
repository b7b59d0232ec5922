"""Delivery: alert events -> Markdown messages -> one outbox row per (message, URL) -> Apprise.

Every message is written to the `outbox` table before anything is sent, one row per
destination URL, so a partial delivery (chat down, mail up) re-sends only to the URLs that
failed. A URL's oldest waiting row is retried with exponential backoff (capped by
`alerts.retry_max_interval`) until `alerts.outbox_max_age`, by the daemon's timer and by every
CLI command that records a run (`drain`); the rows behind it follow as soon as it goes
through, so each receiver reads its messages in order. A row whose alerts have all resolved
since is dropped for their RESOLVED; a permanent failure (`PermanentFailure`) is given up at
once. Every message ends with its outbox id ("opsd message id N"), by which a receiver can drop
a duplicate.

Delivery is at-least-once, and a possible repeat says so. Each attempt is committed before
the send starts (`sending_at`) and its outcome right after (delivered, failed), so a
duplicate is possible only when the sender dies mid-send: the daemon or the delivery child
killed between the POST and the mark. Such a row is *uncertain* (the receiver may or may not
have it): it is counted (`opsd_notifications_uncertain_total`), logged in one line, and sent
once more with the same message id, marked as a possible repeat (a footer, and the
`X-Opsd-Message-Id` / `X-Opsd-Resent: uncertain` headers where the URL's scheme takes custom
headers: see `opsd.alerting.uncertain`), so the receiver can drop it by id. A send Apprise
reports as failed is retried as before, unmarked: a receiver that took a message but answered
after Apprise stopped waiting (its read timeout) gets it again without the mark.

Claims keep two processes (the daemon and a CLI command) from sending the same row at once:
a claim names its process (pid and start time, `opsd.processes`) and lasts the send's timeout
plus a minute; a live claimer's rows are left alone, a dead one's are taken over at once. The
delivery child dies with its parent (`opsd.alerting.parent_death`), so nothing sends for a
process that is gone.

URLs carry passwords and tokens: rows store a hash of the URL without its credentials (a
rotated password keeps the queue) and Apprise's privacy-masked form, never the URL; the URL
itself is looked up in the config at send time.

Apprise itself runs in a short-lived child process (`opsd.alerting.deliver`), one per batch:
it would add 26 MB to the daemon for good. Messages are composed in `opsd.alerting.messages`.

Alertmanager peers (`[alerts.alertmanager] urls`) get rows of their own in the same outbox,
one per event and peer, holding the alerts to post as JSON; the drain posts them with httpx
(`opsd.alerting.alertmanager`), not through Apprise.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import select
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsd import processes
from opsd.alerting import alertmanager, uncertain
from opsd.alerting.deliver import UNKNOWN_URL, entry_key
from opsd.alerting.destinations import Destination, PermanentFailure, Send
from opsd.alerting.engine import AlertEvent
from opsd.alerting.messages import Message, Origin, compose
from opsd.config import Settings
from opsd.durations import format_duration
from opsd.errors import OpsdError
from opsd.logs import event
from opsd.store import Store, outbox
from opsd.store.outbox import OutboxRow

if TYPE_CHECKING:
    from opsd.store import StoreAccess

log = logging.getLogger(__name__)

BACKOFF_BASE = 30.0
# Seconds the delivery child may take to start and parse the URLs; a send gets its timeout
# plus the margin.
PARSE_TIMEOUT = 60.0
ANSWER_MARGIN = 30.0


@dataclasses.dataclass
class Drained:
    """What one outbox pass did: rows delivered, and the permanent failures by URL label."""

    delivered: int = 0
    permanent: dict[str, str] = dataclasses.field(default_factory=dict)


# --- destinations and sending: Apprise in a child process -----------------------------------


# (alerts.urls entries, child command with the plugin paths) -> their destinations.
_last_parse: dict[tuple[tuple[str, ...], tuple[str, ...]], list[Destination]] = {}


class WorkerError(OpsdError):
    """The delivery child process failed or did not answer."""


class AppriseWorker:
    """One child process (`python -m opsd.alerting.deliver`) for a batch of Apprise work, started on
    first use and ended on `close()`: this process never imports Apprise.

    The child dies with the thread that started it (Linux's parent-death signal): start and
    use a worker within one call in one thread (`drain`, `send_test`, `destinations`), never
    hand it to another thread, so it cannot die while in use."""

    def __init__(self, plugin_paths: Sequence[Path] = ()) -> None:
        self._command = [sys.executable, "-m", "opsd.alerting.deliver",
                         "--parent", str(os.getpid()), *map(str, plugin_paths)]
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
        """A `Send`: None on SUCCESS, else what went wrong (`UnknownOutcome` when the child
        died or hung after it took the message: it may have gone out)."""
        if not destination.valid:
            return PermanentFailure(UNKNOWN_URL)
        request = {"send": destination.url, "title": message.title, "body": message.body,
                   "notify_type": message.notify_type, "timeout": timeout,
                   "headers": dict(message.headers), "body_format": message.body_format,
                   "text": message.text, "attachments": list(message.attachments)}
        try:
            reply = self._ask(request, timeout + ANSWER_MARGIN)
        except WorkerError as exc:
            return uncertain.UnknownOutcome(exc)
        error: str | None = reply["error"]
        return PermanentFailure(error) if error and reply.get("permanent") else error

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
    """The configured alert URLs with their tags and masked labels.

    A child that dies while it parses (killed, out of memory) is replaced once."""
    try:
        with AppriseWorker(settings.alerts.plugin_paths) as worker:
            return worker.destinations(settings)
    except WorkerError as exc:
        event(log, "delivery process failed while parsing alerts.urls; starting another",
              level=logging.WARNING, error=str(exc))
    with AppriseWorker(settings.alerts.plugin_paths) as worker:
        return worker.destinations(settings)


def apprise_send(destination: Destination, message: Message, timeout: float) -> str | None:
    """Send one message to one built-in Apprise URL in a child process of its own; None on
    SUCCESS, else what went wrong. Batches share one child: `AppriseWorker.send`."""
    with AppriseWorker() as worker:
        return worker.send(destination, message, timeout)


def backoff(attempts: int, cap: float) -> float:
    """Seconds before the next try after `attempts` failures: 30 s, 1 m, 2 m ... capped at
    `cap` (`alerts.retry_max_interval`)."""
    return min(BACKOFF_BASE * 2 ** max(0, attempts - 1), cap)




# --- the outbox -----------------------------------------------------------------------------


def outbox_rows_for(
    settings: Settings,
    events: Sequence[AlertEvent],
    origin: Origin,
    destinations: Sequence[Destination],
) -> list[OutboxRow]:
    """The outbox rows for deliverable `events`: their messages per destination (pure)."""
    deliverable = [e for e in events if e.deliver]
    rows = []
    for destination in destinations:
        routed = [e for e in deliverable if destination.receives_event(e)]
        for message in compose(routed, origin, group=settings.alerts.group):
            rows.append(OutboxRow(
                destination.key, destination.label, message.notify_type,
                settings.redact(message.title), settings.redact(message.body),
                message.event_ids,
            ))
    return rows + alertmanager.outbox_rows(settings, deliverable)  # one row per peer


def enqueue(
    store: Store,
    settings: Settings,
    events: Sequence[AlertEvent],
    origin: Origin,
    now: float,
    targets: Sequence[Destination] | None = None,
) -> int:
    """Write the messages for deliverable `events` to the outbox (inside the caller's
    transaction, on the store's thread); returns the number of rows. `targets` are the parsed
    `alerts.urls`, parsed here when not given, which starts the delivery child: never inside
    a transaction (it would hold the write lock for as long as the child takes, and a kill
    then would leave it running), so a caller in one must parse them beforehand."""
    if not any(e.deliver for e in events) or not (
        settings.alerts.urls or alertmanager.active(settings)
    ):
        return 0
    if targets is None:
        if store.conn.in_transaction:
            raise RuntimeError(
                "enqueue() inside a transaction needs its targets parsed beforehand"
            )
        targets = destinations(settings)
    return outbox.enqueue(store, outbox_rows_for(settings, events, origin, targets), now)


def retry_outbox(
    settings: Settings, store: StoreAccess, now: float, send: Send | None = None
) -> int:
    """Send every due outbox row once; returns how many were delivered (see `drain`)."""
    return drain(settings, store, now, send).delivered


def drain(
    settings: Settings, store: StoreAccess, now: float, send: Send | None = None
) -> Drained:
    """Give up rows older than `alerts.outbox_max_age`, then send every due row once.

    Blocks while it sends: the daemon runs it in a worker thread, whose database work goes to
    the store's owner thread. `send` defaults to Apprise in one child process for the whole
    pass (none if nothing is due); every CLI command that records a run calls it too.
    """
    max_age = format_duration(settings.alerts.outbox_max_age)
    expired = store.run(outbox.expire, now, settings.alerts.outbox_max_age,
                        f"gave up after {max_age} (alerts.outbox_max_age)")
    for label, count in expired.items():
        event(log, "notifications lost: undelivered at alerts.outbox_max_age",
              level=logging.ERROR, url=label, count=count, max_age=max_age)
    if expired:
        from opsd import metrics

        metrics.observe_abandoned("expired", sum(expired.values()))
    with AppriseWorker(settings.alerts.plugin_paths) as worker:
        routed = alertmanager.routed(settings, now, send or worker.send)  # peers: httpx
        return _send_due(settings, store, now, worker, routed)


def _send_due(
    settings: Settings, store: StoreAccess, now: float, worker: AppriseWorker, send: Send
) -> Drained:
    by_key: dict[str, Destination] | None = None  # parsed on first use
    legacy: dict[str, Destination] = {}
    timeout = settings.alerts.timeout
    failed_keys: set[str] = set()
    drained = Drained()
    me = processes.identity()
    while (row := store.run(outbox.claim_next, now, timeout + 60.0, failed_keys, me,
                            processes.is_alive)) is not None:
        if row["taken_over"]:
            uncertain.report(row, "its sender died mid-send", sender=row["taken_from"])
        if by_key is None:
            # prometheus_client too loads only when there is something to send.
            from opsd import metrics

            try:
                targets = worker.destinations(settings)
            except WorkerError as exc:  # the child was killed or hung: try again next pass
                event(log, "notifications not sent: alert URLs not parsed", level=logging.ERROR,
                      error=str(exc))
                store.run(outbox.release, row["id"])
                return drained
            by_key = {d.key: d for d in [*targets, *alertmanager.destinations(settings)]}
            legacy = _legacy_keys(settings, targets)
        destination = by_key.get(row["url_key"])
        if destination is None and row["url_key"] in legacy:
            # Queued by an opsd before rows were keyed by URL: join that URL's queue in order.
            store.run(outbox.rekey, row["url_key"], legacy[row["url_key"]].key, row["id"])
            continue
        if destination is None:
            store.run(outbox.give_up, row["id"], now, "URL no longer in alerts.urls")
            continue
        if store.run(outbox.superseded, json.loads(row["event_ids"])):
            event(log, "notification dropped: its alert has resolved since", id=row["id"],
                  url=row["url_label"], title=row["title"])
            store.run(outbox.give_up, row["id"], now, "dropped: its alert has resolved since")
            continue
        lost = store.run(outbox.unreported_losses, row["url_key"])
        store.run(outbox.begin_send, row["id"], now)  # committed before anything goes out
        error = send(destination, _as_sent(row, len(lost), settings), timeout)
        metrics.observe_notification(error is None)
        if error is None:
            store.run(outbox.mark_delivered, row["id"], now)
            if lost:
                store.run(outbox.mark_reported, lost)
            drained.delivered += 1
            continue
        if isinstance(error, PermanentFailure):
            error = settings.redact(error)
            event(log, "notification failed permanently", level=logging.ERROR,
                  id=row["id"], url=row["url_label"], error=error)
            store.run(outbox.give_up, row["id"], now, f"permanent failure: {error}",
                      row["attempts"] + 1)
            metrics.observe_abandoned("permanent")
            drained.permanent[row["url_label"]] = error
            continue
        unknown = isinstance(error, uncertain.UnknownOutcome)
        if unknown:
            uncertain.report(row, "the delivery process died mid-send",
                             error=settings.redact(error))
        # One failure per URL per pass: the rest of its rows wait behind it.
        failed_keys.add(row["url_key"])
        attempts = row["attempts"] + 1
        store.run(outbox.mark_failed, row["id"], attempts=attempts,
                  error=settings.redact(error), uncertain_at=now if unknown else None,
                  next_attempt_at=now + backoff(attempts, settings.alerts.retry_max_interval))
    if by_key is not None:
        metrics.set_outbox_depth(store.run(outbox.outbox_depth))
    return drained


def _legacy_keys(settings: Settings, targets: Sequence[Destination]) -> dict[str, Destination]:
    """The destinations by the key older opsd versions gave their rows (a hash of the whole
    `alerts.urls` entry), where it differs from today's."""
    entries = (entry.get_secret_value() for entry in settings.alerts.urls)
    return {
        old: target for entry, target in zip(entries, targets, strict=True)
        if (old := entry_key(entry)) != target.key
    }


def _as_sent(row: dict[str, Any], lost: int, settings: Settings) -> Message:
    """A row's message as its receiver gets it: a note on messages lost before it, and its
    outbox id, by which a receiver can drop a duplicate (in a footer and a header; marked as
    a possible repeat when an earlier attempt's outcome is unknown)."""
    if alertmanager.is_peer_key(row["url_key"]):
        return alertmanager.as_sent(row)  # JSON for the peer's API: sent as queued
    notes = []
    if lost:
        notes.append(f"_{lost} earlier message{'s' if lost > 1 else ''} to this receiver "
                     f"{'were' if lost > 1 else 'was'} lost: undelivered after "
                     f"{format_duration(settings.alerts.outbox_max_age)}._")
    resent = bool(row["uncertain"])
    notes.append(uncertain.footer(row["id"], resent))
    return Message(row["title"], row["body"] + "\n\n" + "\n\n".join(notes),
                   row["notify_type"], headers=uncertain.headers(row["id"], resent))


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
    from opsd import metrics

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
