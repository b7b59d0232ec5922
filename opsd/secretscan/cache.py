"""The scanner's memory between runs: which files are unchanged since the last scan (and what
they held), and the findings seen so far, kept in the store (`opsd.store.secrets`)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from opsd.secretscan.engine import CacheEntry, ScanResult
from opsd.secretscan.findings import Finding
from opsd.secretscan.walk import is_inside
from opsd.store import secrets

if TYPE_CHECKING:
    from opsd.store import StoreAccess


async def load_cache(store: StoreAccess, roots: Iterable[Path]) -> dict[str, CacheEntry]:
    """The cached files under `roots` (by absolute path)."""
    prefixes = [os.path.abspath(root) for root in roots]
    return {
        path: CacheEntry(size, mtime, inode, ruleset, found)
        for path, size, mtime, inode, ruleset, found in await store.call(secrets.cached_files)
        if is_inside(path, prefixes)
    }


async def save_scan(
    store: StoreAccess, result: ScanResult, cached: dict[str, CacheEntry], *, now: float
) -> None:
    """Write fresh cache entries, forget vanished files, and record the findings seen."""
    vanished = [p for p in cached if p not in result.visited and not os.path.lexists(p)]
    fresh = [
        (path, e.size, e.mtime_ns, e.inode, e.ruleset, tuple(e.findings))
        for path, e in result.fresh.items()
    ]
    findings = [_finding_row(f) for f in _first_per_file(result.report.findings)]
    await store.call(secrets.save_scan, fresh, vanished, findings, now=now)


def _first_per_file(findings: Iterable[Finding]) -> list[Finding]:
    """One row per (secret, file): its first occurrence."""
    seen: dict[tuple[str, str], Finding] = {}
    for finding in findings:
        seen.setdefault((finding.fingerprint, os.path.abspath(finding.path)), finding)
    return list(seen.values())


def _finding_row(finding: Finding) -> tuple[object, ...]:
    return (
        finding.fingerprint, os.path.abspath(finding.path), finding.rule, finding.line,
        finding.column, finding.preview, finding.verdict,
    )
