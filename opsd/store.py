"""The metric history: one SQLite file (WAL) holding runs, results and every component's state.

The schema lives here, in one place, as ordered migrations per component. Each component's
list only ever grows: to change a table, append a migration; `schema_migrations` records
which have run. All timestamps are UTC epoch seconds.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlite_utils

from opsd.errors import ConfigError
from opsd.results import Result, Status, worst

Migration = str | Callable[[sqlite_utils.Database], None]

MIGRATIONS: dict[str, list[Migration]] = {
    "core": [
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            playbook TEXT NOT NULL,
            trigger TEXT NOT NULL,
            status TEXT NOT NULL,
            started_at REAL NOT NULL,
            finished_at REAL NOT NULL
        );
        CREATE INDEX runs_playbook_started ON runs (playbook, started_at);
        CREATE TABLE results (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            playbook TEXT NOT NULL,
            check_name TEXT NOT NULL,
            kind TEXT NOT NULL,
            target TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL,
            value REAL,
            unit TEXT NOT NULL DEFAULT '',
            summary TEXT NOT NULL DEFAULT '',
            details TEXT NOT NULL DEFAULT '{}',
            started_at REAL NOT NULL,
            duration REAL NOT NULL
        );
        CREATE INDEX results_check_started ON results (check_name, started_at);
        CREATE INDEX results_kind_started ON results (kind, started_at);
        CREATE INDEX results_started ON results (started_at);
        CREATE INDEX results_run ON results (run_id);
        CREATE TABLE state (
            namespace TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (namespace, key)
        );
        """,
    ],
    # Tables of the Notion client (request log), the alert engine, the secret scanner:
    # each component appends its own migrations to its own list.
    "notion": [
        # One row per HTTP request to Notion (every attempt, answered or not); never a token
        # or an ID: `endpoint` is a template like /v1/databases/{id}.
        """
        CREATE TABLE notion_requests (
            id INTEGER PRIMARY KEY,
            time REAL NOT NULL,
            source TEXT NOT NULL DEFAULT 'opsd',
            purpose TEXT NOT NULL DEFAULT 'check',
            method TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            status INTEGER,
            error TEXT NOT NULL DEFAULT '',
            latency REAL NOT NULL,
            attempt INTEGER NOT NULL DEFAULT 0,
            waited REAL NOT NULL DEFAULT 0,
            retry_after REAL
        );
        CREATE INDEX notion_requests_time ON notion_requests (time);
        """,
    ],
    "alerts": [
        """
        CREATE TABLE alert_states (
            check_name TEXT NOT NULL,
            target TEXT NOT NULL DEFAULT '',
            kind TEXT NOT NULL DEFAULT '',
            playbook TEXT NOT NULL DEFAULT '',
            phase TEXT NOT NULL,
            severity TEXT,
            failures INTEGER NOT NULL DEFAULT 0,
            successes INTEGER NOT NULL DEFAULT 0,
            since REAL,
            fired_at REAL,
            notified_severity TEXT,
            notified_at REAL,
            silenced_by TEXT,
            value REAL,
            unit TEXT NOT NULL DEFAULT '',
            summary TEXT NOT NULL DEFAULT '',
            thresholds TEXT NOT NULL DEFAULT '{}',
            repeat_interval REAL NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (check_name, target)
        );
        CREATE TABLE alert_events (
            id INTEGER PRIMARY KEY,
            type TEXT NOT NULL,
            check_name TEXT NOT NULL,
            target TEXT NOT NULL DEFAULT '',
            kind TEXT NOT NULL DEFAULT '',
            playbook TEXT NOT NULL DEFAULT '',
            severity TEXT NOT NULL,
            at REAL NOT NULL,
            since REAL NOT NULL,
            summary TEXT NOT NULL DEFAULT '',
            value REAL,
            unit TEXT NOT NULL DEFAULT '',
            thresholds TEXT NOT NULL DEFAULT '{}',
            previous_severity TEXT,
            resolution TEXT NOT NULL DEFAULT '',
            silenced_by TEXT
        );
        CREATE INDEX alert_events_at ON alert_events (at);
        CREATE TABLE silences (
            id INTEGER PRIMARY KEY,
            pattern TEXT NOT NULL,
            target TEXT,
            reason TEXT NOT NULL,
            created_at REAL NOT NULL,
            ends_at REAL NOT NULL,
            removed_at REAL
        );
        CREATE INDEX silences_ends ON silences (ends_at);
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            created_at REAL NOT NULL,
            url_key TEXT NOT NULL,
            url_label TEXT NOT NULL,
            notify_type TEXT NOT NULL,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            event_ids TEXT NOT NULL DEFAULT '[]',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            claimed_until REAL,
            last_error TEXT,
            delivered_at REAL,
            abandoned_at REAL
        );
        CREATE INDEX outbox_due ON outbox (delivered_at, abandoned_at, next_attempt_at);
        """,
    ],
    "secrets": [
        # The incremental cache of the secret scanner and the findings it has seen. Neither
        # ever holds a secret: findings are fingerprints (sha256) and redacted previews.
        """
        CREATE TABLE secret_files (
            path TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            inode INTEGER NOT NULL,
            ruleset TEXT NOT NULL,
            findings TEXT NOT NULL DEFAULT '[]',
            scanned_at REAL NOT NULL
        );
        CREATE TABLE secret_findings (
            fingerprint TEXT NOT NULL,
            path TEXT NOT NULL,
            rule TEXT NOT NULL,
            line INTEGER NOT NULL,
            column INTEGER NOT NULL,
            preview TEXT NOT NULL,
            verdict TEXT,
            first_seen REAL NOT NULL,
            last_seen REAL NOT NULL,
            PRIMARY KEY (fingerprint, path)
        );
        CREATE INDEX secret_findings_last_seen ON secret_findings (last_seen);
        """,
    ],
}


# A single `opsd check` records a run too, but it is not a run of the whole playbook: it
# must not make the scheduler skip a catch-up nor count as the playbook's last run.
_PLAYBOOK_RUN = "trigger != 'check'"


class Store:
    """A connection to the history database. Open with `Store.open(path)`."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None = None) -> None:
        self.conn = conn
        self.path = path
        self.db = sqlite_utils.Database(conn)
        self._lock = threading.RLock()

    @classmethod
    def open(cls, path: str | Path, *, migrate: bool = True) -> Store:
        """Open (creating if needed) the database at `path`, in WAL mode, migrated."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                path, timeout=30, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
        except (OSError, sqlite3.Error) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise ConfigError(f"storage.path: cannot open {path}: {reason}") from None
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
        store = cls(conn, path)
        if migrate:
            store.migrate()
        return store

    @classmethod
    def memory(cls) -> Store:
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        store = cls(conn)
        store.migrate()
        return store

    def close(self) -> None:
        self.conn.close()

    # --- transactions and migrations ---------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT (or ROLLBACK on error); nested calls join the outer one."""
        with self._lock:
            if self.conn.in_transaction:
                yield self.conn
                return
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def migrate(self) -> list[str]:
        """Apply pending migrations; returns their names (`core:1`, ...)."""
        applied = []
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " component TEXT NOT NULL, version INTEGER NOT NULL, applied_at REAL NOT NULL,"
            " PRIMARY KEY (component, version))"
        )
        done = set(self.conn.execute("SELECT component, version FROM schema_migrations"))
        for component, steps in MIGRATIONS.items():
            for version, step in enumerate(steps, start=1):
                if (component, version) in done:
                    continue
                with self.transaction():
                    if callable(step):
                        step(self.db)
                    else:
                        for statement in _split_sql(step):
                            self.conn.execute(statement)
                    self.conn.execute(
                        "INSERT INTO schema_migrations VALUES (?, ?, strftime('%s','now'))",
                        (component, version),
                    )
                applied.append(f"{component}:{version}")
        return applied

    def schema_versions(self) -> dict[str, int]:
        rows = self.conn.execute(
            "SELECT component, MAX(version) FROM schema_migrations GROUP BY component"
        )
        return dict(rows.fetchall())

    # --- runs and results --------------------------------------------------------------------

    def record_run(
        self,
        playbook: str,
        results: list[Result],
        *,
        started_at: float,
        finished_at: float,
        trigger: str = "manual",
    ) -> int:
        """Write one run and all its results in one transaction; returns the run id."""
        status = worst(r.status for r in results)
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO runs (playbook, trigger, status, started_at, finished_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (playbook, trigger, status.value, started_at, finished_at),
            )
            run_id = int(cursor.lastrowid or 0)
            conn.executemany(
                "INSERT INTO results (run_id, playbook, check_name, kind, target, status, value,"
                " unit, summary, details, started_at, duration)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id, playbook, r.check, r.kind, r.target, r.status.value, r.value,
                        r.unit, r.summary, json.dumps(r.details, default=str), r.started_at,
                        r.duration,
                    )
                    for r in results
                ],
            )
        return run_id

    def last_runs(self) -> dict[str, dict[str, Any]]:
        """The latest run of each playbook, and its latest OK-or-better run time."""
        rows = self.db.query(
            "SELECT playbook, MAX(started_at) AS started_at, MAX(finished_at) AS finished_at"
            f" FROM runs WHERE {_PLAYBOOK_RUN} GROUP BY playbook"
        )
        runs = {row["playbook"]: dict(row) for row in rows}
        for row in self.db.query(
            "SELECT playbook, MAX(finished_at) AS last_success FROM runs"
            f" WHERE status = 'OK' AND {_PLAYBOOK_RUN} GROUP BY playbook"
        ):
            runs[row["playbook"]]["last_success"] = row["last_success"]
        for row in self.db.query(
            "SELECT r.playbook, r.status, r.finished_at - r.started_at AS duration FROM runs r"
            f" JOIN (SELECT playbook, MAX(id) AS id FROM runs WHERE {_PLAYBOOK_RUN}"
            " GROUP BY playbook) l ON r.id = l.id"
        ):
            runs[row["playbook"]].update(status=row["status"], duration=row["duration"])
        return runs

    def last_run_started(self, playbook: str) -> float | None:
        row = self.conn.execute(
            f"SELECT MAX(started_at) FROM runs WHERE playbook = ? AND {_PLAYBOOK_RUN}",
            (playbook,),
        ).fetchone()
        return row[0]

    def latest_results(self) -> list[Result]:
        """The most recent result of every (check, target)."""
        rows = self.db.query(
            "SELECT r.* FROM results r JOIN ("
            " SELECT check_name, target, MAX(id) AS id FROM results GROUP BY check_name, target"
            ") l ON r.id = l.id ORDER BY r.check_name, r.target"
        )
        return [_result_from_row(row) for row in rows]

    def history(
        self,
        *,
        check: str | None = None,
        kind: str | None = None,
        target: str | None = None,
        since: float | None = None,
        limit: int | None = None,
    ) -> list[Result]:
        """Results, oldest first, filtered by check name or kind, target and start time."""
        where, args = [], []
        for column, value in (("check_name", check), ("kind", kind), ("target", target)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if since is not None:
            where.append("started_at >= ?")
            args.append(since)
        sql = "SELECT * FROM results"
        if where:
            sql += " WHERE " + " AND ".join(where)
        if limit is not None:
            sql = f"SELECT * FROM ({sql} ORDER BY id DESC LIMIT {int(limit)})"
        sql += " ORDER BY started_at, id"
        return [_result_from_row(row) for row in self.db.query(sql, args)]

    def prune(self, before: float) -> int:
        """Delete runs (and their results) that started before `before`; returns runs removed."""
        with self.transaction() as conn:
            conn.execute(
                "DELETE FROM results WHERE run_id IN (SELECT id FROM runs WHERE started_at < ?)",
                (before,),
            )
            return conn.execute("DELETE FROM runs WHERE started_at < ?", (before,)).rowcount

    def backup(self, destination: Path) -> None:
        """A consistent copy of the whole database (SQLite's online backup)."""
        destination.parent.mkdir(parents=True, exist_ok=True)
        target = sqlite3.connect(destination)
        try:
            with self._lock:
                self.conn.backup(target)
        finally:
            target.close()

    # --- small key/value state (previous counter samples, cursors) ---------------------------

    def get_state(self, namespace: str, key: str) -> Any | None:
        row = self.conn.execute(
            "SELECT value FROM state WHERE namespace = ? AND key = ?", (namespace, key)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def set_state(self, namespace: str, key: str, value: Any, *, now: float) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO state (namespace, key, value, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value,"
                " updated_at = excluded.updated_at",
                (namespace, key, json.dumps(value), now),
            )

    def writable(self) -> bool:
        """True if a write transaction can start now (for /healthz)."""
        try:
            with self.transaction() as conn:
                conn.execute("SELECT 1")
        except sqlite3.Error:
            return False
        return True


def _result_from_row(row: dict[str, Any]) -> Result:
    return Result(
        status=Status(row["status"]),
        summary=row["summary"],
        value=row["value"],
        unit=row["unit"],
        target=row["target"],
        details=json.loads(row["details"] or "{}"),
        check=row["check_name"],
        kind=row["kind"],
        started_at=row["started_at"],
        duration=row["duration"],
    )


def _split_sql(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
