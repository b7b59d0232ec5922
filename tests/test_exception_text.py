"""An HTTP library's error about a request header never puts the header's value into text."""

from __future__ import annotations

import logging

import h11
import httpx
import pytest

from opsd.exception_text import (
    ENCODING_WITHHELD,
    HEADER_WITHHELD,
    describe_exception,
    exception_text,
    safe_traceback,
)
from opsd.logs import RedactingFilter
from opsd.notion.errors import classify_exception

SECRET = "ntn_12345678901abcdefghijklmnopqrstuvwxyzABCDEFGHI"  # opsd:allow (fake)


def h11_header_error() -> h11.LocalProtocolError:
    """The error h11 itself raises for a header value with a newline (what httpx wraps)."""
    try:
        h11.Request(method="GET", target="/",
                    headers=[("Host", "x"), ("Authorization", f"Bearer {SECRET}\n")])
    except h11.LocalProtocolError as exc:
        return exc
    raise AssertionError("h11 accepted an illegal header value")


def httpx_header_error() -> httpx.LocalProtocolError:
    """httpx's error, raised from h11's as httpx does."""
    try:
        try:
            raise h11_header_error()
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc)) from exc
    except httpx.LocalProtocolError as outer:
        return outer


def unicode_header_error() -> UnicodeEncodeError:
    try:
        httpx.Headers({"Authorization": f"Bearer {SECRET}é"}).raw  # noqa: B018
    except UnicodeEncodeError as exc:
        return exc
    raise AssertionError("httpx encoded a non-ASCII header value")


def wrapped(inner: BaseException) -> RuntimeError:
    """A plain error raised while handling `inner` (its text is harmless, its context not)."""
    try:
        try:
            raise inner
        except BaseException:
            raise RuntimeError("request failed") from None
    except RuntimeError as exc:
        exc.__context__ = inner
        return exc


@pytest.mark.parametrize(
    ("make", "text"),
    [
        (h11_header_error, HEADER_WITHHELD),
        (httpx_header_error, HEADER_WITHHELD),
        (unicode_header_error, ENCODING_WITHHELD),
        (lambda: ValueError(f"Invalid header value 'Bearer {SECRET}'"), HEADER_WITHHELD),
        (lambda: wrapped(httpx_header_error()), HEADER_WITHHELD),
        (lambda: httpx.ConnectError("[Errno 111] Connection refused"),
         "[Errno 111] Connection refused"),
        (lambda: TimeoutError(), "TimeoutError"),
    ],
)
def test_exception_text(make, text: str) -> None:
    exc = make()
    assert exception_text(exc) == text
    assert SECRET not in describe_exception(exc)
    assert SECRET not in safe_traceback(exc)


def test_the_real_error_does_quote_the_value() -> None:
    # What the helper guards against: the libraries' own text holds the whole header.
    assert SECRET in str(h11_header_error())
    assert SECRET in str(httpx_header_error())


def test_describe_names_the_class() -> None:
    assert describe_exception(httpx_header_error()) == f"LocalProtocolError: {HEADER_WITHHELD}"
    assert describe_exception(OSError("disk full")) == "OSError: disk full"


def test_a_notion_transport_error_withholds_the_header() -> None:
    error = classify_exception(httpx_header_error(), "http://127.0.0.1:8765", 30.0)
    assert str(error) == f"cannot reach Notion at http://127.0.0.1:8765: {HEADER_WITHHELD}"


def test_a_logged_traceback_withholds_the_header() -> None:
    exc = httpx_header_error()
    record = logging.LogRecord("opsd", logging.ERROR, __file__, 1, "send failed", None,
                               (type(exc), exc, exc.__traceback__))
    assert RedactingFilter(lambda text: text).filter(record)
    assert record.__dict__["fields"]["error"] == f"LocalProtocolError: {HEADER_WITHHELD}"
    assert "Traceback" in (record.exc_text or "")
    assert SECRET not in (record.exc_text or "")
