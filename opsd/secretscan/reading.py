"""One file read and matched: shared by the scan in this process and by its worker processes.

Light on imports on purpose (the scanner and nothing of the audit, pydantic or asyncio): a
worker process starts by importing this module.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opsd.secretscan.scanner import Hit, scan_bytes

if TYPE_CHECKING:
    from opsd.secretscan.custom_rules import CustomRules

BINARY_SNIFF = 8192  # a NUL byte in the first 8 KiB: a binary file, not read further


@dataclass(frozen=True)
class FileScan:
    """What one file held: its hits and size read, or why it could not be read."""

    hits: tuple[Hit, ...] = ()
    size: int = 0
    error: str | None = None


def read_file(path: str, size: int, limit: int) -> bytes:
    """Up to `limit + 1` bytes of `path`, asking for `size + 1` first (the size the walk saw;
    one exact read instead of a buffer of `limit` bytes per file)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        data = os.read(fd, min(size, limit) + 1)
        while len(data) <= limit:  # grown since, or a short read: read on to the limit
            more = os.read(fd, limit + 1 - len(data))
            if not more:
                break
            data += more
        return data
    finally:
        os.close(fd)


def scan_file(
    path: str, size: int, *, max_file_size: int, max_line_length: int,
    custom: CustomRules | None = None,
) -> FileScan:
    """Read `path` and match the rules (and a rules file's, `custom`) over it."""
    try:
        data = read_file(path, size, max_file_size)
    except OSError as exc:
        return FileScan(error=exc.strerror or str(exc))
    if b"\0" in data[:BINARY_SNIFF]:
        return FileScan(size=len(data))
    hits = scan_bytes(data, max_line_length=max_line_length)
    if custom is not None:
        hits = custom.apply(data, path, hits, max_line_length)
    return FileScan(tuple(hits), len(data))
