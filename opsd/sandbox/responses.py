"""What the sandbox answers: JSON bodies, Notion error objects, a gateway's HTML 502."""

from __future__ import annotations

import email.utils
import json
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

ERROR_CODES: dict[int, tuple[str, str]] = {
    401: ("unauthorized", "API token is invalid."),
    403: ("restricted_resource", "API token does not have access to this resource."),
    429: ("rate_limited", "You have been rate limited. Please try again in a few minutes."),
    500: ("internal_server_error", "Unexpected error occurred."),
    503: ("service_unavailable",
          "Notion is unavailable, please try again later. This can occur when the time to "
          "respond to a request takes longer than 60 seconds, the maximum request timeout."),
    504: ("gateway_timeout",
          "Notion timed out while attempting to complete this request. Please try again later."),
    529: ("service_overload", "Notion is currently overloaded. Please try again later."),
}
"""Injectable error statuses with Notion's code and message; 502 is HTML (see `bad_gateway`)."""

INJECTABLE_STATUSES = (*sorted(ERROR_CODES), 502)

INTEGRATION_LIMIT = "integration_rate_limit"
WORKSPACE_LIMIT = "workspace_rate_limit"
"""`additional_data.rate_limit_reason` of a 429: the token's own budget, or the workspace's."""

_BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
    "</body>\r\n</html>\r\n"
)


@dataclass
class Response:
    """An HTTP response: status, headers and raw body."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    code: str | None = None  # Notion error code, for stats


def new_request_id() -> str:
    return str(uuid.uuid4())


def json_response(payload: dict[str, Any], status: int = 200,
                  headers: dict[str, str] | None = None, code: str | None = None) -> Response:
    """A JSON response carrying a `request_id`, as every Notion response does."""
    request_id = payload.setdefault("request_id", new_request_id())
    all_headers = {"Content-Type": "application/json; charset=utf-8",
                   "x-notion-request-id": request_id, **(headers or {})}
    return Response(status, json.dumps(payload).encode(), all_headers, code)


def notion_error(status: int, code: str, message: str,
                 headers: dict[str, str] | None = None,
                 additional_data: dict | None = None) -> Response:
    """A Notion error object: `{"object": "error", "status", "code", "message", "request_id"}`
    (and `additional_data` when given, e.g. a 429's `rate_limit_reason`)."""
    payload: dict[str, Any] = {"object": "error", "status": status, "code": code,
                               "message": message}
    if additional_data is not None:
        payload["additional_data"] = additional_data
    return json_response(payload, status, headers, code)


def rate_limited(retry_after: str, reason: str) -> Response:
    """Notion's 429: `Retry-After` (seconds or HTTP-date), `additional_data.rate_limit_reason`."""
    return notion_error(429, *ERROR_CODES[429], headers={"Retry-After": retry_after},
                        additional_data={"rate_limit_reason": reason})


def injected_error(status: int, retry_after: int | None = 1, http_date: bool = False,
                   now: float | None = None) -> Response:
    """The answer for an injected fault with `status` (one of `INJECTABLE_STATUSES`): a 429
    always has a `Retry-After` (default 1 s), any other JSON error when `retry_after` is set."""
    if status == 502:
        return bad_gateway()
    code, message = ERROR_CODES[status]
    if status == 429:
        seconds = 1 if retry_after is None else retry_after
        return rate_limited(retry_after_value(seconds, http_date, now), INTEGRATION_LIMIT)
    if retry_after is None:
        return notion_error(status, code, message)
    headers = {"Retry-After": retry_after_value(retry_after, http_date, now)}
    return notion_error(status, code, message, headers)


def bad_gateway() -> Response:
    """A gateway's 502: HTML, not JSON, as a CDN in front of the API sends it."""
    return Response(502, _BAD_GATEWAY_HTML.encode(), {"Content-Type": "text/html"}, "bad_gateway")


def retry_after_value(seconds: int, http_date: bool, now: float | None = None) -> str:
    """`Retry-After` as integer seconds or as an HTTP-date that many seconds from `now`."""
    if not http_date:
        return str(seconds)
    # An HTTP-date has whole seconds: round up so the date is never earlier than meant.
    moment = math.ceil(time.time() if now is None else now) + seconds
    return email.utils.formatdate(moment, usegmt=True)
