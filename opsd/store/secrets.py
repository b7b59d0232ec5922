"""The secret scanner's tables: the incremental cache (size, mtime, inode per file) and the
findings seen so far. Neither ever holds a secret: fingerprints and redacted previews only."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from opsd.store.database import Store

CachedFile = tuple[str, int, int, int, str, tuple[dict[str, Any], ...]]
"""(path, size, mtime_ns, inode, ruleset, findings as the cache keeps them: position and
identity, never the secret)."""


def cached_files(store: Store) -> list[CachedFile]:
    """Every cached file."""
    return [
        (row[0], row[1], row[2], row[3], row[4], tuple(json.loads(row[5])))
        for row in store.conn.execute(
            "SELECT path, size, mtime_ns, inode, ruleset, findings FROM secret_files"
        )
    ]


def save_scan(
    store: Store,
    fresh: Iterable[CachedFile],
    vanished: Sequence[str],
    findings: Iterable[tuple[Any, ...]],
    *,
    now: float,
) -> None:
    """Write fresh cache entries, forget vanished files, and record the findings seen
    (`findings`: fingerprint, path, rule, line, column, preview, verdict)."""
    with store.transaction() as conn:
        conn.executemany(
            "INSERT INTO secret_files (path, size, mtime_ns, inode, ruleset, findings, scanned_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET"
            " size = excluded.size, mtime_ns = excluded.mtime_ns, inode = excluded.inode,"
            " ruleset = excluded.ruleset, findings = excluded.findings,"
            " scanned_at = excluded.scanned_at",
            [(p, size, mtime, inode, rules, json.dumps(list(found)), now)
             for p, size, mtime, inode, rules, found in fresh],
        )
        conn.executemany("DELETE FROM secret_files WHERE path = ?", [(p,) for p in vanished])
        conn.executemany(
            "INSERT INTO secret_findings (fingerprint, path, rule, line, column, preview,"
            " verdict, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (fingerprint, path) DO UPDATE SET line = excluded.line,"
            " column = excluded.column, verdict = COALESCE(excluded.verdict, verdict),"
            " last_seen = excluded.last_seen",
            [(*finding, now, now) for finding in findings],
        )
