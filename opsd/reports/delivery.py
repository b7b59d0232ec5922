"""Sending a report (`opsd report … --send`): to every `alerts.urls` entry tagged `report`.

E-mail (`mailto://`, `mailtos://`) gets the HTML report as `multipart/alternative`, its
`text/plain` part being the report's own plain-text rendering, with the charts attached
(shown in place where the HTML names them `cid:<file name>`). Every other URL (chat,
webhooks) gets the Markdown summary and, where its service takes files, the charts.

Only URLs tagged `report` receive reports: an untagged URL, which gets every alert, does not
get a weekly digest it never asked for. The sending is the alerts' own: Apprise in a
short-lived child process (`opsd.alerting.notify.AppriseWorker`), the same URL parsing,
masked labels, timeouts and redaction. A report is not queued in the outbox: it is sent
now, each URL's outcome is returned (and logged), and a rerun sends it again.

URLs are secrets: outcomes name a URL by its masked label, and errors are redacted.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

from opsd.alerting.messages import Message
from opsd.alerting.notify import AppriseWorker, Destination, Send
from opsd.config import Settings
from opsd.errors import OpsdError
from opsd.logs import event

log = logging.getLogger(__name__)

REPORT_TAG = "report"
EMAIL_SCHEMES = frozenset({"mailto", "mailtos"})
NO_REPORT_URL = (
    "alerts.urls: no entry is tagged `report`: put `report=` before the URLs that receive "
    'reports, e.g. "report=mailtos://user:password@smtp.example.com?to=ops@example.com"'
)


@dataclasses.dataclass(frozen=True)
class SendOutcome:
    """One URL's outcome: its masked label, whether it took the report, and why not."""

    label: str
    delivered: bool
    error: str = ""


def is_email(destination: Destination) -> bool:
    """Does `destination` send e-mail (the HTML report), rather than chat (Markdown)?"""
    return destination.url.partition("://")[0].lower() in EMAIL_SCHEMES


def report_message(
    destination: Destination, *, subject: str, html: str, text: str, markdown: str,
    attachments: Sequence[Path] = (),
) -> Message:
    """What `destination` receives: HTML with its text alternative by e-mail, else Markdown."""
    files = tuple(str(path) for path in attachments)
    if is_email(destination):
        return Message(subject, html, "info", body_format="html", text=text, attachments=files)
    return Message(subject, markdown, "info", attachments=files)


def send_report(
    settings: Settings, *, subject: str, html: str, text: str, markdown: str,
    attachments: Sequence[Path] = (), send: Send | None = None,
) -> list[SendOutcome]:
    """Send a report to every URL tagged `report`, each with its outcome.

    `send` defaults to Apprise in one child process for all of them. Raises `OpsdError` when
    no URL is tagged `report` or an attachment is missing."""
    missing = [path.name for path in attachments if not path.is_file()]
    if missing:
        raise OpsdError(f"report attachment not found: {', '.join(missing)}")
    redact = settings.redact
    subject, html, text, markdown = map(redact, (subject, html, text, markdown))
    with AppriseWorker(settings.alerts.plugin_paths) as worker:
        chosen = [d for d in worker.destinations(settings) if REPORT_TAG in d.tags]
        if not chosen:
            raise OpsdError(NO_REPORT_URL)
        sender = send or worker.send
        return [
            _send_one(settings, sender, destination, report_message(
                destination, subject=subject, html=html, text=text, markdown=markdown,
                attachments=attachments))
            for destination in chosen
        ]


def _send_one(
    settings: Settings, send: Send, destination: Destination, message: Message
) -> SendOutcome:
    from opsd import metrics

    error = send(destination, message, settings.alerts.timeout)
    metrics.observe_notification(error is None)
    if error is None:
        event(log, "report sent", url=destination.label, title=message.title)
        return SendOutcome(destination.label, True)
    reason = " ".join(settings.redact(str(error)).split())
    event(log, "report not delivered", level=logging.ERROR, url=destination.label,
          title=message.title, error=reason)
    return SendOutcome(destination.label, False, reason)
