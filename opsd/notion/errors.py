"""Notion's failures in plain words: every error response or transport failure becomes a
`NotionError` whose message says what happened and whose `hint` (from `opsd.runbooks`) says
what to do. Pure: no I/O, no httpx at import time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from opsd.errors import OpsdError
from opsd.exception_text import exception_text
from opsd.notion.gateway import foreign_answer
from opsd.runbooks import NOTION_FAILURE_HINTS

FailureKind = Literal[
    "no_token", "revoked", "forbidden", "not_found", "bad_request", "rate_limited",
    "server_error", "unavailable", "overloaded", "bad_gateway", "gateway_timeout", "network",
    "timeout", "no_slot", "multiple_sources", "linked_database", "no_accessible_source",
    "gateway",
]

RETRYABLE: frozenset[str] = frozenset({
    "rate_limited", "server_error", "unavailable", "overloaded", "bad_gateway",
    "gateway_timeout", "network", "timeout",
})


class NotionError(OpsdError):
    """A Notion request failed; the message says why in plain words, `hint` what to do."""

    def __init__(
        self,
        kind: FailureKind,
        message: str,
        *,
        status: int | None = None,
        code: str = "",
        retry_after: float | None = None,
        rate_limit_reason: str = "",
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.code = code
        self.retry_after = retry_after
        self.rate_limit_reason = rate_limit_reason  # Notion's additional_data on a 429
        self.paused_until: float | None = None  # when opsd's shared budget sends again
        self.attempts = 1

    @property
    def hint(self) -> str:
        """The runbook's resolution steps for this kind of failure."""
        return NOTION_FAILURE_HINTS[self.kind]

    @property
    def retryable(self) -> bool:
        """Worth another attempt (rate limits, 5xx, 529, gateways, timeouts, network)."""
        if self.kind == "gateway":  # a gateway's 5xx or 429 passes; a firewall's 403 stays
            return self.status is None or self.status >= 500 or self.status == 429
        return self.kind in RETRYABLE

    def noted(self, note: str) -> NotionError:
        """This error with `note` appended to its message."""
        self.args = (f"{self}; {note}",)
        return self

    def details(self) -> dict[str, Any]:
        """What a check puts in `Result.details` about this failure."""
        details: dict[str, Any] = {
            "problem": self.kind, "http_status": self.status, "notion_code": self.code,
            "attempts": self.attempts, "hint": self.hint,
        }
        if self.paused_until is not None:
            details.update(paused_until=self.paused_until, retry_after=self.retry_after)
        if self.rate_limit_reason:
            details["rate_limit_reason"] = self.rate_limit_reason
        return details


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), None if absent."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    from email.utils import parsedate_to_datetime  # rare: most Retry-Afters are seconds

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now)


def rate_limit_reason(body: str) -> str:
    """`additional_data.rate_limit_reason` of a 429 body, '' if absent."""
    try:
        extra = json.loads(body).get("additional_data")
    except (ValueError, AttributeError):
        return ""
    return str(extra.get("rate_limit_reason") or "") if isinstance(extra, dict) else ""


def error_code(body: str) -> str:
    """Notion's `code` from an error body, '' when the body is not Notion's JSON."""
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    return str(data.get("code", "")) if isinstance(data, dict) else ""


def classify_response(
    status: int, body: str, headers: Mapping[str, str], now: float
) -> NotionError:
    """An error response (status >= 400) as a `NotionError` in plain words (pure)."""
    code = error_code(body)
    retry_after = parse_retry_after(header(headers, "retry-after"), now)
    foreign = foreign_answer(status, body, headers)
    if foreign is not None:  # never given Notion's meaning: Notion did not say it
        return NotionError("gateway", foreign, status=status, retry_after=retry_after)
    kind: FailureKind
    if code in _BY_CODE:
        kind, words = _BY_CODE[code]
    elif status in _BY_STATUS:
        kind, words = _BY_STATUS[status]
    elif status >= 500:
        kind, words = "server_error", "Notion server error"
    else:
        kind, words = _data_source_failure(body) or (
            "bad_request", f"Notion rejected the request: {_notion_message(body)}")
    if kind == "rate_limited" and retry_after is not None:
        words += f", Retry-After {retry_after:g}s"
    where = f"{status} {code}" if code else str(status)
    return NotionError(kind, f"{words} ({where})", status=status, code=code,
                       retry_after=retry_after, rate_limit_reason=rate_limit_reason(body))


_BY_CODE: dict[str, tuple[FailureKind, str]] = {
    "database_connection_unavailable": ("unavailable", "Notion's database is unavailable"),
}
_BY_STATUS: dict[int, tuple[FailureKind, str]] = {
    401: ("revoked", "token invalid or revoked"),
    403: ("forbidden", "the integration lacks permission"),
    404: ("not_found", "not found or not shared with the integration"),
    429: ("rate_limited", "rate limited by Notion"),
    502: ("bad_gateway", "Notion answered bad gateway: it could not reach its own servers"),
    503: ("unavailable", "Notion is unavailable"),
    504: ("gateway_timeout", "gateway timeout: Notion did not answer the gateway"),
    529: ("overloaded", "Notion is overloaded"),
}


# Notion's 400 validation_error texts (Notion-Version 2022-06-28) for databases that version
# cannot read: a second data source, a linked database, no data source shared with the bot.
_DATA_SOURCE_FAILURES: tuple[tuple[str, FailureKind, str], ...] = (
    ("multiple data sources are not supported", "multiple_sources",
     "the database has several data sources, which Notion-Version 2022-06-28 cannot read"),
    ("is a linked database", "linked_database",
     "the database is a linked database (a view of another one), which the API cannot read"),
    ("does not contain any data sources accessible", "no_accessible_source",
     "the database has no data source the integration can read"),
)


def _data_source_failure(body: str) -> tuple[FailureKind, str] | None:
    """The kind and words for a data-source validation error, None for any other message."""
    message = _notion_message(body).lower()
    return next(((kind, words) for text, kind, words in _DATA_SOURCE_FAILURES
                 if text in message), None)


def classify_exception(exc: BaseException, base_url: str, timeout: float) -> NotionError:
    """A transport failure (no response) as a `NotionError` in plain words (pure)."""
    import httpx  # loaded already by whoever sent the request
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return NotionError("timeout", f"Notion did not answer within {timeout:.3g}s (timeout)")
    if isinstance(exc, ValueError):
        return NotionError("gateway", "the answer was not Notion's JSON: a gateway or proxy "
                                      "answered instead of Notion")
    reason = exception_text(exc)  # never a header value (it may hold the token)
    return NotionError("network", f"cannot reach Notion at {base_url}: {reason}")


def _notion_message(body: str) -> str:
    try:
        message = json.loads(body).get("message", "")
    except (ValueError, AttributeError):
        message = ""
    return str(message)[:200] or "no message"


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, whatever the case of its name."""
    name = name.lower()
    return next((value for key, value in headers.items() if key.lower() == name), None)
