"""The scanner's tables in the store: the incremental cache and the findings seen so far."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from opsd.secretscan.engine import CacheEntry, ScanResult
from opsd.secretscan.findings import Finding
from opsd.secretscan.walk import is_inside
from opsd.store import Store


def load_cache(store: Store, roots: Iterable[Path]) -> dict[str, CacheEntry]:
    """The cached files under `roots` (by absolute path)."""
    prefixes = [os.path.abspath(root) for root in roots]
    cache = {}
    for row in store.conn.execute(
        "SELECT path, size, mtime_ns, inode, ruleset, findings FROM secret_files"
    ):
        path = row[0]
        if is_inside(path, prefixes):
            cache[path] = CacheEntry(row[1], row[2], row[3], row[4], tuple(json.loads(row[5])))
    return cache


def save_scan(
    store: Store, result: ScanResult, cached: dict[str, CacheEntry], *, now: float
) -> None:
    """Write fresh cache entries, forget vanished files, and record the findings seen."""
    vanished = [p for p in cached if p not in result.visited and not os.path.lexists(p)]
    with store.transaction() as conn:
        conn.executemany(
            "INSERT INTO secret_files (path, size, mtime_ns, inode, ruleset, findings, scanned_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET"
            " size = excluded.size, mtime_ns = excluded.mtime_ns, inode = excluded.inode,"
            " ruleset = excluded.ruleset, findings = excluded.findings,"
            " scanned_at = excluded.scanned_at",
            [
                (path, e.size, e.mtime_ns, e.inode, e.ruleset, json.dumps(list(e.findings)), now)
                for path, e in result.fresh.items()
            ],
        )
        conn.executemany("DELETE FROM secret_files WHERE path = ?", [(p,) for p in vanished])
        conn.executemany(
            "INSERT INTO secret_findings (fingerprint, path, rule, line, column, preview,"
            " verdict, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (fingerprint, path) DO UPDATE SET line = excluded.line,"
            " column = excluded.column, verdict = COALESCE(excluded.verdict, verdict),"
            " last_seen = excluded.last_seen",
            [_finding_row(f, now) for f in _first_per_file(result.report.findings)],
        )


def _first_per_file(findings: Iterable[Finding]) -> list[Finding]:
    """One row per (secret, file): its first occurrence."""
    seen: dict[tuple[str, str], Finding] = {}
    for finding in findings:
        seen.setdefault((finding.fingerprint, os.path.abspath(finding.path)), finding)
    return list(seen.values())


def _finding_row(finding: Finding, now: float) -> tuple:
    return (
        finding.fingerprint, os.path.abspath(finding.path), finding.rule, finding.line,
        finding.column, finding.preview, finding.verdict, now, now,
    )

