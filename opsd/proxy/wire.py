"""The HTTP/1.1 message parts the proxy needs: a request head kept as sent (names' case and
order, the raw target), its body (Content-Length or chunked), hop-by-hop headers, a response
head, Notion-shaped error bodies. The head's limits are the metrics listener's
(`opsd.daemon.http_messages`)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections.abc import Iterable, Sequence

from opsd.daemon.http_messages import BadRequest, read_head

__all__ = ["BadRequest", "ProxyRequest", "parse_request", "read_body", "read_head"]

MAX_BODY_BYTES = 16 * 1024 * 1024  # Notion refuses anything over 500 KB long before this
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "proxy-connection",
})
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_REQUEST_LINE = re.compile(rf"^(?P<method>{_TOKEN}) (?P<target>/\S*) (?P<version>HTTP/1\.[01])$")
_HEADER = re.compile(rf"^(?P<name>{_TOKEN}):[ \t]*(?P<value>.*?)[ \t]*$")


class TooLarge(BadRequest):
    """A request body over MAX_BODY_BYTES (answered 413)."""


@dataclasses.dataclass(frozen=True)
class ProxyRequest:
    """A request head as the client sent it: the raw target, headers in order and case."""

    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]

    def header(self, name: str) -> str:
        """The header's values joined by ', ' ('' if absent); `name` in lower case."""
        return ", ".join(v for k, v in self.headers if k.lower() == name)

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def keep_alive(self) -> bool:
        options = {t.strip().lower() for t in self.header("connection").split(",")}
        return "close" not in options if self.version == "HTTP/1.1" else "keep-alive" in options

    def forwarded_headers(self) -> list[tuple[str, str]]:
        """The headers to send upstream: without hop-by-hop ones (and those `Connection`
        names), Host (the upstream's own) and the framing (Content-Length, set anew)."""
        dropped = HOP_BY_HOP | {"host", "content-length", "expect"} | {
            t.strip().lower() for t in self.header("connection").split(",") if t.strip()}
        return [(k, v) for k, v in self.headers if k.lower() not in dropped]


def parse_request(lines: Sequence[bytes]) -> ProxyRequest:
    """Parse a head (`read_head`) or raise BadRequest; nothing of it is echoed (it may hold a
    token)."""
    text = [line.decode("latin-1").rstrip("\r\n") for line in lines]
    found = _REQUEST_LINE.match(text[0])
    if found is None:
        raise BadRequest("malformed request line")
    headers = []
    for line in text[1:]:
        header = _HEADER.match(line)
        if header is None:
            raise BadRequest("malformed header line")
        headers.append((header["name"], header["value"]))
    return ProxyRequest(found["method"], found["target"], found["version"], headers)


async def read_body(reader: asyncio.StreamReader, request: ProxyRequest) -> bytes:
    """The request's body: chunked or Content-Length (none: empty)."""
    if "chunked" in request.header("transfer-encoding").lower():
        return await _read_chunked(reader)
    length = request.header("content-length").strip()
    if not length:
        return b""
    if not length.isdigit():
        raise BadRequest("bad Content-Length")
    if int(length) > MAX_BODY_BYTES:
        raise TooLarge("body too large")
    return await reader.readexactly(int(length))


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        size_line = (await reader.readline()).split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise BadRequest("bad chunk size") from None
        if size == 0:
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass  # trailers: dropped (hop-by-hop framing)
            return b"".join(parts)
        total += size
        if total > MAX_BODY_BYTES:
            raise TooLarge("body too large")
        parts.append(await reader.readexactly(size))
        await reader.readline()


def response_head(status: int, reason: str, headers: Iterable[tuple[str, str]]) -> bytes:
    """Status line and headers, ending with the blank line."""
    lines = [f"HTTP/1.1 {status} {reason}".rstrip()]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def notion_error(status: int, code: str, message: str) -> bytes:
    """A body shaped like Notion's error objects, so SDKs read it as theirs."""
    return json.dumps({"object": "error", "status": status, "code": code,
                       "message": message}).encode()
