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
from opsd.runbooks import NOTION_FAILURE_HINTS

FailureKind = Literal[
    "no_token", "revoked", "forbidden", "not_found", "bad_request", "rate_limited",
    "server_error", "unavailable", "overloaded", "bad_gateway", "gateway_timeout", "network",
    "timeout", "no_slot",
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
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.code = code
        self.retry_after = retry_after
        self.attempts = 1

    @property
    def hint(self) -> str:
        """The runbook's resolution steps for this kind of failure."""
        return NOTION_FAILURE_HINTS[self.kind]

    @property
    def retryable(self) -> bool:
        """Worth another attempt (rate limits, 5xx, 529, gateways, timeouts, network)."""
        return self.kind in RETRYABLE

    def noted(self, note: str) -> NotionError:
        """This error with `note` appended to its message."""
        self.args = (f"{self}; {note}",)
        return self

    def details(self) -> dict[str, Any]:
        """What a check puts in `Result.details` about this failure."""
        return {
            "problem": self.kind, "http_status": self.status, "notion_code": self.code,
            "attempts": self.attempts, "hint": self.hint,
        }


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
    kind: FailureKind
    if not code and status >= 500:
        kind, words = "bad_gateway", "a gateway answered with a non-JSON page instead of Notion"
    elif status in _BY_STATUS:
        kind, words = _BY_STATUS[status]
    elif status >= 500:
        kind, words = "server_error", "Notion server error"
    else:
        kind, words = "bad_request", f"Notion rejected the request: {_notion_message(body)}"
    if kind == "rate_limited" and retry_after is not None:
        words += f", Retry-After {retry_after:g}s"
    where = f"{status} {code}" if code else str(status)
    return NotionError(kind, f"{words} ({where})", status=status, code=code,
                       retry_after=retry_after)


_BY_STATUS: dict[int, tuple[FailureKind, str]] = {
    401: ("revoked", "token invalid or revoked"),
    403: ("forbidden", "the integration lacks permission"),
    404: ("not_found", "not found or not shared with the integration"),
    429: ("rate_limited", "rate limited by Notion"),
    502: ("bad_gateway", "bad gateway between opsd and Notion"),
    503: ("unavailable", "Notion is unavailable"),
    504: ("gateway_timeout", "gateway timeout: Notion did not answer the gateway"),
    529: ("overloaded", "Notion is overloaded"),
}


def classify_exception(exc: BaseException, base_url: str, timeout: float) -> NotionError:
    """A transport failure (no response) as a `NotionError` in plain words (pure)."""
    import httpx  # loaded already by whoever sent the request
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return NotionError("timeout", f"Notion did not answer within {timeout:.3g}s (timeout)")
    if isinstance(exc, ValueError):
        return NotionError("bad_gateway", "the answer was not Notion's JSON (a proxy page?)")
    reason = type(exc).__name__ if not str(exc) else str(exc)
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
