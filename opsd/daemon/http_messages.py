"""HTTP/1.x messages for the metrics listener: a request head read with limits and parsed,
a response head written.

The listener serves three GET paths to scrapers and probes, so this is deliberately the
small, strict part of HTTP/1.1 they use: no request bodies, no obsolete line folding, a
bounded head. Anything else is a `BadRequest` the listener answers with 400 and a close.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Sequence
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

MAX_HEAD_LINES = 100
"""Request line plus header lines; a longer head is refused (each line is bounded by the
stream's limit)."""

MAX_LINE_BYTES = 8192
"""The longest request or header line read (the StreamReader limit the listener sets)."""

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_REQUEST_LINE = re.compile(rf"^(?P<method>{_TOKEN}) (?P<target>\S+) (?P<version>HTTP/1\.[01])$")
_HEADER = re.compile(rf"^(?P<name>{_TOKEN}):[ \t]*(?P<value>.*?)[ \t]*$")


class BadRequest(Exception):
    """A request head that is not the HTTP/1.x this listener reads (the reason is logged)."""


@dataclasses.dataclass(frozen=True)
class Request:
    """One parsed request head; header names are lower-case, repeated ones joined by ", "."""

    method: str
    path: str
    query: dict[str, list[str]]
    version: str
    headers: dict[str, str]

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    @property
    def keep_alive(self) -> bool:
        """True if the client expects the connection to stay open after the response."""
        options = {token.strip().lower() for token in self.header("connection").split(",")}
        if self.version == "HTTP/1.1":
            return "close" not in options
        return "keep-alive" in options

    @property
    def has_body(self) -> bool:
        """True if a body follows the head (never read: the connection closes after it)."""
        length = self.header("content-length").strip()
        return bool(self.header("transfer-encoding")) or (length not in ("", "0"))


async def read_head(reader: asyncio.StreamReader) -> list[bytes] | None:
    """The lines of one request head, up to the blank line; None if the peer closed the
    connection before a whole head arrived (a clean end between requests, or a half-sent one).

    Raises BadRequest for a head over MAX_HEAD_LINES or a line over the reader's limit."""
    lines: list[bytes] = []
    for _ in range(MAX_HEAD_LINES + 1):
        try:
            line = await reader.readline()
        except ValueError as exc:  # the reader's limit: one line too long
            raise BadRequest("request line or header too long") from exc
        if not line.endswith(b"\n"):  # end of stream, whole or mid-line
            return None
        if line in (b"\r\n", b"\n"):
            if lines:
                return lines
            # RFC 9112 2.2: a server ignores empty lines before the request line.
        else:
            lines.append(line)
    raise BadRequest(f"request head over {MAX_HEAD_LINES} lines")


def parse_head(lines: Sequence[bytes]) -> Request:
    """Parse a request head (as `read_head` returns it) or raise BadRequest."""
    text = [line.decode("latin-1").rstrip("\r\n") for line in lines]
    request_line = _REQUEST_LINE.match(text[0])
    if request_line is None:
        raise BadRequest("malformed request line")  # its text is not echoed: may hold secrets
    headers: dict[str, str] = {}
    for line in text[1:]:
        header = _HEADER.match(line)
        if header is None:
            raise BadRequest("malformed header line")
        name, value = header["name"].lower(), header["value"]
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    target = urlsplit(request_line["target"])
    return Request(
        method=request_line["method"],
        path=target.path or "/",
        query=parse_qs(target.query),
        version=request_line["version"],
        headers=headers,
    )


def response_head(status: int, headers: Sequence[tuple[str, str]]) -> bytes:
    """The status line and headers of a response, ending with the blank line."""
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
