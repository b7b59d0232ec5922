"""Sends whose outcome is unknown, and how a receiver tells a possible repeat.

An outbox row is *uncertain* when an attempt to send it started and its outcome was lost: the
daemon (or the CLI command) sending it was killed, or the delivery child died or hung after
it took the message. The receiver may have it or not, so the row goes out again, once more,
with the same message id and marked as a possible repeat:

- the body ends with `opsd message id N` (every message), or on such a resend with
  `opsd message id N (resent: the first attempt's outcome is unknown; drop it if you already
  have message N)`;
- where the URL's scheme takes custom headers (`json://`, `form://`, `xml://` and their `s`
  variants), the request carries `X-Opsd-Message-Id: N` always, and `X-Opsd-Resent:
  uncertain` on such a resend.

A receiver that keeps the message ids it has seen drops the repeat; one that does not gets
it at most once more, saying so.
"""

from __future__ import annotations

import logging
from typing import Any

from opsd.logs import event

log = logging.getLogger("opsd.alerting.notify")

MESSAGE_ID_HEADER = "X-Opsd-Message-Id"
RESENT_HEADER = "X-Opsd-Resent"
RESENT_VALUE = "uncertain"


class UnknownOutcome(str):
    """Why a send's outcome is unknown (a `Send` result): the delivery child died or did not
    answer after it took the message, which may have gone out. The row is retried, marked
    as a possible repeat."""


def footer(message_id: int, resent: bool) -> str:
    """The last line of message `message_id`'s body."""
    if not resent:
        return f"opsd message id {message_id}"
    return (f"opsd message id {message_id} (resent: the first attempt's outcome is unknown; "
            f"drop it if you already have message {message_id})")


def headers(message_id: int, resent: bool) -> tuple[tuple[str, str], ...]:
    """The HTTP headers of message `message_id` (where its URL takes custom headers)."""
    found = ((MESSAGE_ID_HEADER, str(message_id)),)
    return (*found, (RESENT_HEADER, RESENT_VALUE)) if resent else found


def report(row: dict[str, Any], why: str, **fields: Any) -> None:
    """One log line and one count for an attempt of `row` whose outcome is unknown."""
    from opsd import metrics  # prometheus_client: loaded where there is something to send

    event(log, f"notification outcome unknown: {why}; sending it again marked as a "
          "possible repeat", level=logging.WARNING, id=row["id"], url=row["url_label"],
          **fields)
    metrics.observe_uncertain()
