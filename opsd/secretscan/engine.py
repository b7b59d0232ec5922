"""One scan: walk the roots, reuse the cache for unchanged files, match the rest.

The cache maps a file's absolute path to the (size, mtime, inode) it had when last read and
the findings it held then (never the secrets): a file whose stat is unchanged is not read
again. Loading and saving the cache is the caller's business (`opsd.secretscan.cache`), so
this module only touches the files it scans.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opsd.secretscan.findings import Finding, Problem, ScanReport
from opsd.secretscan.rules import RULES_BY_ID, ruleset_version
from opsd.secretscan.scanner import scan_bytes
from opsd.secretscan.walk import FileEntry, Selection, SkippedDirectory, Unreadable, walk

CONFIG_SUFFIXES = frozenset({
    ".toml", ".ini", ".cfg", ".conf", ".yaml", ".yml", ".properties", ".env", ".netrc",
})
_BINARY_SNIFF = 8192


@dataclass(frozen=True)
class ScanOptions:
    """What to read and how: file selection, the line cap, permission audit."""

    selection: Selection = field(default_factory=Selection)
    max_line_length: int = 16384
    audit_permissions: bool = True

    @property
    def ruleset(self) -> str:
        """Cached results are valid only under the same rules and line cap."""
        return f"{ruleset_version()}:{self.max_line_length}"


@dataclass(frozen=True)
class CacheEntry:
    """A file as it was when last read, and the findings it held."""

    size: int
    mtime_ns: int
    inode: int
    ruleset: str
    findings: tuple[dict[str, Any], ...]

    def matches(self, st: os.stat_result, ruleset: str) -> bool:
        """Is the file unchanged (size, mtime, inode) and were the same rules used?"""
        return (self.size, self.mtime_ns, self.inode, self.ruleset) == (
            st.st_size, st.st_mtime_ns, st.st_ino, ruleset
        )


@dataclass
class ScanResult:
    """The report, plus the cache entries to save and the cached paths that vanished."""

    report: ScanReport
    fresh: dict[str, CacheEntry] = field(default_factory=dict)
    visited: set[str] = field(default_factory=set)


class ScanCancelled(Exception):
    """The caller gave up (a check's timeout) while files were still being read."""


def is_config_file(path: str) -> bool:
    """A configuration or environment file: where a credential is expected to live."""
    name = os.path.basename(path).lower()
    suffix = os.path.splitext(name)[1]
    return (
        name.startswith(".env") or suffix in CONFIG_SUFFIXES
        or "credential" in name or name == "notion_token"
    )


def scan_paths(
    roots: list[Path],
    options: ScanOptions,
    cache: dict[str, CacheEntry] | None = None,
    *,
    reread_verifiable: bool = False,
    cancel: threading.Event | None = None,
) -> ScanResult:
    """Scan every selected file under `roots`.

    With `reread_verifiable`, a cached file whose findings include a verifiable rule (a
    Notion token) is read again, so the token can be verified afresh.
    """
    started = time.monotonic()
    cache = cache or {}
    result = ScanResult(ScanReport())
    report = result.report
    ruleset = options.ruleset
    for item in walk(roots, options.selection):
        if cancel is not None and cancel.is_set():
            raise ScanCancelled
        if isinstance(item, Unreadable):
            report.errors.append(Problem(item.path, item.message))
            continue
        if isinstance(item, SkippedDirectory):
            report.skipped.append(item)
            continue
        result.visited.add(item.key)
        report.files_scanned += 1
        entry = cache.get(item.key)
        if entry is not None and entry.matches(item.st, ruleset) and not (
            reread_verifiable and _has_verifiable(entry)
        ):
            findings = [Finding.from_cache(f, item.path) for f in entry.findings]
        else:
            scanned = _read_and_scan(item, options, report)
            if scanned is None:
                continue
            findings = scanned
            result.fresh[item.key] = CacheEntry(
                item.st.st_size, item.st.st_mtime_ns, item.st.st_ino, ruleset,
                tuple(f.cached() for f in findings),
            )
        report.findings.extend(findings)
        if findings and options.audit_permissions:
            report.permissions.extend(_permission_problems(item))
    report.seconds = time.monotonic() - started
    return result


def _has_verifiable(entry: CacheEntry) -> bool:
    return any(RULES_BY_ID[f["rule"]].verify for f in entry.findings if f["rule"] in RULES_BY_ID)


def _read_and_scan(
    item: FileEntry, options: ScanOptions, report: ScanReport
) -> list[Finding] | None:
    try:
        with open(item.path, "rb") as fh:
            data = fh.read(options.selection.max_file_size + 1)
    except OSError as exc:
        report.errors.append(Problem(item.path, exc.strerror or str(exc)))
        return None
    report.files_read += 1
    report.bytes_scanned += len(data)
    if b"\0" in data[:_BINARY_SNIFF]:
        return []
    return [
        Finding.of(hit.rule, hit.secret, item.path, hit.line, hit.column)
        for hit in scan_bytes(data, max_line_length=options.max_line_length)
    ]


def _permission_problems(item: FileEntry) -> list[Problem]:
    """A config or .env file holding a secret must be readable by its owner only."""
    if not is_config_file(item.path):
        return []
    mode = stat.S_IMODE(item.st.st_mode)
    if not mode & (stat.S_IRGRP | stat.S_IROTH):
        return []
    readers = " and ".join(
        who for who, bit in (("group", stat.S_IRGRP), ("others", stat.S_IROTH)) if mode & bit
    )
    return [Problem(item.path, f"holds a secret and is readable by {readers} "
                               f"(mode {mode:04o}): chmod 600 it")]
