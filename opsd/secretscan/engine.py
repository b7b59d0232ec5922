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

from opsd.secretscan.custom_rules import CustomRules
from opsd.secretscan.findings import Finding, Problem, ScanReport
from opsd.secretscan.parallel import Cancelled, Reader, ReadOptions
from opsd.secretscan.reading import FileScan
from opsd.secretscan.rules import RULES_BY_ID, ruleset_version
from opsd.secretscan.walk import FileEntry, Selection, SkippedDirectory, Unreadable, walk

CONFIG_SUFFIXES = frozenset({
    ".toml", ".ini", ".cfg", ".conf", ".yaml", ".yml", ".properties", ".env", ".netrc",
})


@dataclass(frozen=True)
class ScanOptions:
    """What to read and how: file selection, the line cap, permission audit."""

    selection: Selection = field(default_factory=Selection)
    max_line_length: int = 16384
    audit_permissions: bool = True
    custom: CustomRules | None = None  # `[secrets] rules_file`

    @property
    def ruleset(self) -> str:
        """Cached results are valid only under the same rules and line cap."""
        custom = self.custom.digest if self.custom is not None else "-"
        return f"{ruleset_version()}:{custom}:{self.max_line_length}"


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
    reader = Reader(ReadOptions(options.selection.max_file_size, options.max_line_length,
                                options.custom), cancel)
    walked: list[Problem | SkippedDirectory | tuple[FileEntry, list[Finding] | int]] = []
    for item in walk(roots, options.selection):
        if cancel is not None and cancel.is_set():
            raise ScanCancelled
        if isinstance(item, Unreadable):
            walked.append(Problem(item.path, item.message))
            continue
        if isinstance(item, SkippedDirectory):
            walked.append(item)
            continue
        result.visited.add(item.key)
        entry = cache.get(item.key)
        if entry is not None and entry.matches(item.st, ruleset) and not (
            reread_verifiable and _has_verifiable(entry)
        ):
            walked.append((item, [Finding.from_cache(f, item.path) for f in entry.findings]))
        else:
            walked.append((item, reader.add(item.path, item.st.st_size)))
    try:
        scanned = dict(reader.results())
    except Cancelled:
        raise ScanCancelled from None
    for entry_or_problem in walked:
        _report(entry_or_problem, scanned, options, ruleset, result)
    report.seconds = time.monotonic() - started
    return result


def _report(
    walked: Problem | SkippedDirectory | tuple[FileEntry, list[Finding] | int],
    scanned: dict[int, FileScan], options: ScanOptions, ruleset: str, result: ScanResult,
) -> None:
    """One walked item into the report, in walk order: an error, a skipped directory, or a
    file's findings (from the cache, or read now: then also into the cache)."""
    report = result.report
    if isinstance(walked, Problem):
        report.errors.append(walked)
        return
    if isinstance(walked, SkippedDirectory):
        report.skipped.append(walked)
        return
    item, cached_or_index = walked
    report.files_scanned += 1
    if isinstance(cached_or_index, list):
        findings = cached_or_index
    else:
        read = scanned[cached_or_index]
        if read.error is not None:
            report.errors.append(Problem(item.path, read.error))
            return
        report.files_read += 1
        report.bytes_scanned += read.size
        findings = [
            Finding.of(hit.rule, hit.secret, item.path, hit.line, hit.column, hit.note)
            for hit in read.hits
        ]
        result.fresh[item.key] = CacheEntry(
            item.st.st_size, item.st.st_mtime_ns, item.st.st_ino, ruleset,
            tuple(f.cached() for f in findings),
        )
    report.findings.extend(findings)
    if findings and options.audit_permissions:
        report.permissions.extend(_permission_problems(item))


def _has_verifiable(entry: CacheEntry) -> bool:
    return any(RULES_BY_ID[f["rule"]].verify for f in entry.findings if f["rule"] in RULES_BY_ID)


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
