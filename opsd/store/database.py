"""The history database: one SQLite file (WAL) holding runs, results and every component's state.

`Store` is one connection, used by one thread only. A CLI command uses it directly; the daemon
hands it to a `StoreThread` (`opsd.store.owner`), whose single thread runs every query while
the event loop awaits. Queries live in the repository modules beside this one (`runs`,
`alerts`, `outbox`, `requests`, `silences`, `state`, `secrets`): functions that take the
`Store` first, so the same call works inline and on the owner thread::

    rows = store.run(runs.latest_results)                 # CLI: inline
    rows = await owner.call(runs.latest_results)          # daemon: on the owner thread
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from opsd.errors import ConfigError, OpsdError
from opsd.private_files import create_private_file, make_private_dirs
from opsd.store.migrations import MIGRATIONS, Migration

P = ParamSpec("P")
T = TypeVar("T")

DAEMON_BUSY_TIMEOUT = 30.0
"""Seconds the owner thread waits for another process's write lock (the loop never waits)."""
CLI_BUSY_TIMEOUT = 2.0
"""Seconds a CLI command waits for the write lock before saying the database is busy."""


class StoreError(OpsdError):
    """The history database cannot do what was asked (busy, read-only, full, missing)."""


class StoreBusyError(StoreError):
    """Another process held the write lock for longer than our busy timeout."""


class Store:
    """A connection to the history database. Open with `Store.open(path)`."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None = None) -> None:
        self.conn = conn
        self.path = path

    @classmethod
    def open(
        cls, path: str | Path, *, migrate: bool = True, busy_timeout: float = CLI_BUSY_TIMEOUT
    ) -> Store:
        """Open (creating if needed) the database at `path`, in WAL mode, migrated."""
        path = Path(path)
        try:
            # 0600 in a 0700 folder when opsd creates them; SQLite gives -wal/-shm the same mode.
            make_private_dirs(path.parent)
            create_private_file(path)
            conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            conn.execute("PRAGMA journal_mode=WAL")
        except (OSError, sqlite3.Error) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise ConfigError(f"storage.path: cannot open {path}: {reason}") from None
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
        store = cls(conn, path)
        if migrate:
            store.migrate()
        return store

    @classmethod
    def memory(cls) -> Store:
        """A migrated in-memory database (unit tests)."""
        store = cls(sqlite3.connect(":memory:", isolation_level=None))
        store.migrate()
        return store

    def close(self) -> None:
        self.conn.close()

    @contextlib.contextmanager
    def busy_wait(self, seconds: float) -> Iterator[None]:
        """Wait at most `seconds` for another process's write lock inside the block."""
        before = self.conn.execute("PRAGMA busy_timeout").fetchone()[0]
        self.conn.execute(f"PRAGMA busy_timeout={int(seconds * 1000)}")
        try:
            yield
        finally:
            self.conn.execute(f"PRAGMA busy_timeout={int(before)}")

    # --- the access protocol shared with StoreThread ----------------------------------------

    def run(self, fn: Callable[Concatenate[Store, P], T], *args: P.args, **kw: P.kwargs) -> T:
        """`fn(self, ...)`, here and now."""
        return fn(self, *args, **kw)

    async def call(
        self, fn: Callable[Concatenate[Store, P], T], *args: P.args, **kw: P.kwargs
    ) -> T:
        """`fn(self, ...)` inline (a CLI command's own loop); the daemon's StoreThread runs it on
        its owner thread instead."""
        return fn(self, *args, **kw)

    async def call_brief(
        self, fn: Callable[Concatenate[Store, P], T], *args: P.args, **kw: P.kwargs
    ) -> T:
        """`call` (a CLI command's busy timeout is short already)."""
        return fn(self, *args, **kw)

    def defer(self, fn: Callable[Concatenate[Store, P], Any], *args: P.args, **kw: P.kwargs
              ) -> None:
        """`post` (a CLI command keeps nothing for later)."""
        self.post(fn, *args, **kw)

    def post(self, fn: Callable[Concatenate[Store, P], Any], *args: P.args, **kw: P.kwargs
             ) -> Future[Any]:
        """Run `fn(self, ...)` without waiting for it (inline here)."""
        future: Future[Any] = Future()
        try:
            future.set_result(fn(self, *args, **kw))
        except Exception as exc:
            future.set_exception(exc)
        return future

    # --- transactions, queries and migrations -------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT (or ROLLBACK on error); nested calls join the outer one."""
        if self.conn.in_transaction:
            yield self.conn
            return
        with self.translated():
            self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        with self.translated():
            self.conn.execute("COMMIT")

    @contextlib.contextmanager
    def translated(self) -> Iterator[None]:
        """SQLite's busy and I/O errors as a `StoreError` naming the file, in one line."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if "locked" in text or "busy" in text:
                raise StoreBusyError(
                    f"the database is busy: another process holds its write lock ({self.path})"
                ) from None
            raise StoreError(f"storage.path: {self.path}: {text}") from None

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of a SELECT as dicts."""
        cursor = self.conn.cursor()
        cursor.row_factory = sqlite3.Row
        return [dict(row) for row in cursor.execute(sql, params)]

    def migrate(self) -> list[str]:
        """Apply pending migrations; returns their names (`core:1`, ...)."""
        applied = []
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " component TEXT NOT NULL, version INTEGER NOT NULL, applied_at REAL NOT NULL,"
            " PRIMARY KEY (component, version))"
        )
        done = {tuple(row) for row in self.conn.execute(
            "SELECT component, version FROM schema_migrations"
        )}
        for component, steps in MIGRATIONS.items():
            for version, step in enumerate(steps, start=1):
                if (component, version) in done:
                    continue
                with self.transaction():
                    apply_migration(self.conn, step)
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
        return {row[0]: row[1] for row in rows}

    def backup(self, destination: Path) -> None:
        """A consistent copy of the whole database (SQLite's online backup)."""
        make_private_dirs(destination.parent)
        create_private_file(destination)
        target = sqlite3.connect(destination)
        try:
            self.conn.backup(target)
        finally:
            target.close()

    def writable(self) -> bool:
        """True if a write transaction can start now."""
        try:
            with self.transaction() as conn:
                conn.execute("SELECT 1")
        except (sqlite3.Error, StoreError):
            return False
        return True


def apply_migration(conn: sqlite3.Connection, step: Migration) -> None:
    """Run one migration step (a SQL script, or a callable given a `sqlite_utils.Database`)
    on `conn`, in whatever transaction the caller holds."""
    if callable(step):
        import sqlite_utils  # only when a migration needs table transforms

        step(sqlite_utils.Database(conn))
    else:
        for statement in _split_sql(step):
            conn.execute(statement)


def _split_sql(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
