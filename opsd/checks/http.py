"""Service endpoints: status, body, latency, and days until an https certificate expires."""

from __future__ import annotations

import dataclasses
import json
import ssl
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from opsd.checks.base import CheckSpec, NoParams, check
from opsd.exception_text import exception_text
from opsd.results import Result, Status, worst
from opsd.sources import client_for, display_url, each_target, json_path, request_headers
from opsd.thresholds import Thresholds

if TYPE_CHECKING:
    import httpx

    from opsd.config import EndpointConfig
    from opsd.context import Context

_SHOWN_VALUE_CHARS = 60

latency_clock: Callable[[], float] = time.perf_counter
"""What latencies are measured with (monotonic seconds); tests put a clock of theirs here."""


@dataclasses.dataclass(frozen=True)
class Response:
    """What one request to an endpoint returned."""

    status_code: int
    body: bytes
    latency: float
    tls: bool = False
    cert_expires_at: float | None = None


@check("http.endpoint", unit="seconds", warn=0.3, crit=1.0, direction="above",
       targets="endpoints",
       description="Status, body and latency of each [[endpoints]] URL; https certificate expiry")
async def endpoint(spec: CheckSpec[NoParams], ctx: Context) -> list[Result]:
    async def probe(target: EndpointConfig) -> Result:
        return await _probe(target, ctx)

    return await each_target(ctx.settings.endpoints, spec.target, "endpoints", probe)


async def _probe(target: EndpointConfig, ctx: Context) -> Result:
    import httpx

    details = {"url": display_url(target.url), "method": target.method}
    try:
        response = await fetch(target, ctx.http)
    except httpx.TimeoutException:
        return Result(Status.CRITICAL, f"down: no response within {target.timeout:g}s",
                      details=details)
    except httpx.HTTPError as exc:
        return Result(Status.CRITICAL, f"down: {exception_text(exc)}", details=details)
    return judge_response(target, response, ctx.now(), details)


async def fetch(target: EndpointConfig, shared: httpx.AsyncClient) -> Response:
    """Send the request and read the whole body; latency is until the last byte."""
    async with client_for(target, shared) as client:
        started = latency_clock()
        async with client.stream(
            target.method, target.url, headers=request_headers(target), timeout=target.timeout
        ) as response:
            body = await response.aread()
            latency = latency_clock() - started
            ssl_object = _ssl_object(response)
    return Response(
        response.status_code, body, latency,
        tls=ssl_object is not None, cert_expires_at=_not_after(ssl_object),
    )


def _ssl_object(response: httpx.Response) -> ssl.SSLObject | None:
    stream = response.extensions.get("network_stream")
    return stream.get_extra_info("ssl_object") if stream is not None else None


def _not_after(ssl_object: ssl.SSLObject | None) -> float | None:
    # The decoded certificate is only available once it was verified (verify = false: None).
    peer = ssl_object.getpeercert() if ssl_object is not None else None
    not_after = peer.get("notAfter") if peer else None
    return float(ssl.cert_time_to_seconds(not_after)) if isinstance(not_after, str) else None


def judge_response(
    target: EndpointConfig, response: Response, now: float, details: dict
) -> Result:
    """The endpoint's result (pure): wrong status or body is CRITICAL, a certificate close to
    expiry WARNING or CRITICAL; the value is the latency, judged by the entry's thresholds."""
    problems = response_problems(target, response.status_code, response.body)
    statuses = [Status.CRITICAL if problems else Status.OK]
    summary = "; ".join(problems) or f"HTTP {response.status_code}"
    details = {**details, "status_code": response.status_code, "problems": problems}
    if response.cert_expires_at is not None:
        days = (response.cert_expires_at - now) / 86400
        limits = Thresholds(target.cert_warn_days, target.cert_crit_days, "below")
        cert_status = limits.evaluate(days)
        statuses.append(cert_status)
        details["certificate_days_left"] = round(days, 2)
        # The timestamp itself feeds opsd_http_cert_expiry_timestamp_seconds (check_series).
        details["certificate_expires_at"] = response.cert_expires_at
        if cert_status is not Status.OK:
            summary += f"; certificate expires in {days:.1f} days"
    elif response.tls:
        details["certificate_days_left"] = None
        details["certificate_note"] = "not verified (verify = false): expiry unknown"
    return Result(worst(statuses), summary, value=response.latency, details=details)


def response_problems(target: EndpointConfig, status_code: int, body: bytes) -> list[str]:
    """What is wrong with a response: its status, a missing text, a JSON field (pure)."""
    problems = []
    if status_code != target.expected_status:
        problems.append(f"HTTP {status_code}, expected {target.expected_status}")
    text = body.decode("utf-8", errors="replace")
    if target.body_contains is not None and target.body_contains not in text:
        problems.append(f"body does not contain {target.body_contains!r}")
    if target.json_field is not None:
        problems.extend(_json_problems(target.json_field, target.json_value, text))
    return problems


def _json_problems(field: str, expected: object, text: str) -> list[str]:
    try:
        document = json.loads(text)
    except ValueError:
        return ["body is not JSON"]
    try:
        value = json_path(document, field)
    except LookupError:
        return [f"JSON field {field} is missing"]
    if expected is not None and value != expected:
        shown = repr(value)[:_SHOWN_VALUE_CHARS]
        return [f"JSON field {field} is {shown}, expected {expected!r}"]
    return []
