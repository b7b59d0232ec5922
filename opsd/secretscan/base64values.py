"""Secrets inside base64 values: a `.env` value or a JSON string that is base64 text is
decoded once and the decoded bytes scanned; a finding inside reports the value's own place.

Bounded: a value decodes to at most `MAX_DECODED` bytes, only text is scanned (random bytes,
images and hashes decode to binary and are left alone), and what was decoded is not decoded
again. A value on a line over the scanner's line cap is skipped like any other secret there.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opsd.secretscan.scanner import Hit

NOTE = "in a base64 value"
MIN_LENGTH = 24
MAX_DECODED = 64 * 1024
_MAX_ENCODED = (MAX_DECODED + 2) // 3 * 4
# After `=` or `:` (optionally quoted) or opening a JSON string; the value ends where the
# alphabet does. One alphabet per value: standard (`+/`) or URL-safe (`-_`).
VALUE = re.compile(
    rb"(?:[=:][ \t]{0,4}[\"']?|\")"
    rb"(?P<value>[A-Za-z0-9+/]{%d,%d}={0,2}|[A-Za-z0-9_\-]{%d,%d}={0,2})(?![A-Za-z0-9+/=_\-])"
    % (MIN_LENGTH, _MAX_ENCODED, MIN_LENGTH, _MAX_ENCODED)
)
_TEXT = frozenset(range(0x20, 0x7F)) | {0x09, 0x0A, 0x0D}
_MIN_TEXT_SHARE = 0.95
_TEXT_BYTES = bytes(sorted(_TEXT))  # for `bytes.translate`: counting in C


def decoded_values(
    data: bytes, matches: Iterable[re.Match[bytes]] | None = None
) -> Iterator[tuple[int, bytes]]:
    """(offset of the value in `data`, its decoded bytes) for every base64 value that decodes
    to text. `matches`: `VALUE.finditer(data)` found by a faster engine (the scanner's)."""
    for match in VALUE.finditer(data) if matches is None else matches:
        decoded = _decode(match.group("value"))
        if decoded is not None and _is_text(decoded):
            yield match.start("value"), decoded


def _decode(value: bytes) -> bytes | None:
    body = value.rstrip(b"=")
    if len(body) % 4 == 1:
        return None  # not a whole number of bytes
    padded = body + b"=" * (-len(body) % 4)
    try:
        if b"-" in body or b"_" in body:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


def _is_text(decoded: bytes) -> bool:
    """Mostly printable ASCII (a UTF-8 letter or two allowed): `KEY=value` lines, JSON."""
    if not decoded:
        return False
    printable = len(decoded) - len(decoded.translate(None, _TEXT_BYTES))
    return printable >= _MIN_TEXT_SHARE * len(decoded)


def scan_values(
    data: bytes, scan: Callable[[bytes], list[Hit]], max_line_length: int, allow_marker: bytes,
    matches: Iterable[re.Match[bytes]] | None = None,
) -> list[Hit]:
    """The hits `scan` finds inside each base64 value of `data`, placed at the value itself
    (its line and 1-based character column) and noted as found in a base64 value."""
    found: list[Hit] = []
    line, counted_to = 1, 0  # values come in order: lines are counted once, not per value
    for offset, decoded in decoded_values(data, matches):
        line_start = data.rfind(b"\n", 0, offset) + 1
        line_end = data.find(b"\n", offset)
        line_end = len(data) if line_end < 0 else line_end
        if line_end - line_start > max_line_length or allow_marker in data[line_start:line_end]:
            continue
        line += data.count(b"\n", counted_to, offset)
        counted_to = offset
        column = len(data[line_start:offset].decode("utf-8", "replace")) + 1
        found.extend(
            dataclasses.replace(hit, line=line, column=column, note=NOTE) for hit in scan(decoded)
        )
    return found
