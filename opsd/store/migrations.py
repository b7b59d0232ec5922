"""The schema, as ordered migrations per component.

Each component's list only ever grows: to change a table, append a migration;
`schema_migrations` records which have run. All timestamps are UTC epoch seconds. A migration
is SQL text, or a function given a `sqlite_utils.Database` (for table transformations that
SQLite's ALTER TABLE cannot do).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite_utils

Migration = str | Callable[["sqlite_utils.Database"], Any]

MIGRATIONS: dict[str, list[Migration]] = {
    "slos": [
        # Each SLO's good and total results per complete UTC hour (`opsd.store.slo_hours`),
        # under the hash of the definition that counted them: a changed SLO counts anew (from
        # the raw results still kept) instead of mixing two definitions in one window.
        """
        CREATE TABLE slo_hourly (
            slo TEXT NOT NULL,
            definition TEXT NOT NULL,
            period_start REAL NOT NULL,
            good INTEGER NOT NULL,
            total INTEGER NOT NULL,
            PRIMARY KEY (slo, definition, period_start)
        );
        CREATE INDEX slo_hourly_period ON slo_hourly (period_start);
        """,
    ],
    "incidents": [
        # Incidents (`opsd incident`, emergency runs, alerts of `incident = true` entries) and
        # their notes. The timeline is not stored: it is computed from the alert events, runs
        # and silences between `opened_at` and `closed_at` (`opsd.store.incidents`).
        """
        CREATE TABLE incidents (
            id INTEGER PRIMARY KEY,
            opened_at REAL NOT NULL,
            opened_by_user TEXT NOT NULL DEFAULT '',
            opened_by_host TEXT NOT NULL DEFAULT '',
            reason TEXT NOT NULL DEFAULT '',
            trigger TEXT NOT NULL,
            closed_at REAL,
            closed_by TEXT,
            resolution TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX incidents_open ON incidents (closed_at, opened_at);
        CREATE TABLE incident_notes (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
            at REAL NOT NULL,
            author TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL
        );
        CREATE INDEX incident_notes_incident ON incident_notes (incident_id, at);
        """,
    ],
    "notion_circuit": [
        # The circuit breaker of opsd's Notion probing (`opsd.notion.circuit`), shared like the
        # request budget: one row per budget (base URL + token fingerprint, never the token).
        """
        CREATE TABLE notion_circuit (
            budget TEXT PRIMARY KEY,
            open INTEGER NOT NULL DEFAULT 0,
            failures INTEGER NOT NULL DEFAULT 0,
            successes INTEGER NOT NULL DEFAULT 0,
            opened_at REAL,
            backoff REAL NOT NULL DEFAULT 0,
            next_probe_at REAL,
            last_error TEXT NOT NULL DEFAULT '',
            updated_at REAL NOT NULL
        );
        """,
    ],
    "rollups": [
        # One row per (period, playbook, check, target): an hour's or a UTC day's results as
        # counts per status, the values' count/min/avg/max/p95 and the status changes
        # (`opsd.store.rollups`). Keyed by period first: rolling up and pruning work on
        # periods; the check index serves `opsd history` and per-check series.
        "".join(
            f"""
        CREATE TABLE rollups_{tier} (
            period_start REAL NOT NULL,
            playbook TEXT NOT NULL,
            check_name TEXT NOT NULL,
            kind TEXT NOT NULL DEFAULT '',
            target TEXT NOT NULL DEFAULT '',
            ok INTEGER NOT NULL DEFAULT 0,
            warning INTEGER NOT NULL DEFAULT 0,
            critical INTEGER NOT NULL DEFAULT 0,
            unknown INTEGER NOT NULL DEFAULT 0,
            skipped INTEGER NOT NULL DEFAULT 0,
            value_count INTEGER NOT NULL DEFAULT 0,
            value_min REAL,
            value_avg REAL,
            value_max REAL,
            value_p95 REAL,
            state_changes INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (period_start, playbook, check_name, target)
        ) WITHOUT ROWID;
        CREATE INDEX rollups_{tier}_check ON rollups_{tier} (check_name, period_start);
        """
            for tier in ("hourly", "daily")
        ),
    ],
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
        # When the alert engine saw the run (NULL: not yet; `opsd.alerting.replay` feeds such
        # runs to it at the next start). The history before this migration counts as seen:
        # replaying it would re-announce old alerts.
        """
        ALTER TABLE runs ADD COLUMN alerted_at REAL;
        UPDATE runs SET alerted_at = finished_at;
        CREATE INDEX runs_unalerted ON runs (id) WHERE alerted_at IS NULL;
        """,
        # Each series' results (playbook, check, target) by status: where a check stands —
        # since when in its status, its last OK — is a few index seeks however long the kept
        # history (`opsd.store.check_states`, read by `opsd status` and at the daemon's start).
        """
        CREATE INDEX results_series_status
            ON results (playbook, check_name, target, status, started_at);
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
        # `opsd proxy` records the integration's requests (source = 'integration'): sizes,
        # the retry tax (the client's wait before a retry, the failed attempt it repeats) and
        # Notion's request limits (counts and flags only: never a body).
        """
        ALTER TABLE notion_requests ADD COLUMN request_bytes INTEGER;
        ALTER TABLE notion_requests ADD COLUMN response_bytes INTEGER;
        ALTER TABLE notion_requests ADD COLUMN client_wait REAL NOT NULL DEFAULT 0;
        ALTER TABLE notion_requests ADD COLUMN redo REAL NOT NULL DEFAULT 0;
        ALTER TABLE notion_requests ADD COLUMN limits_exceeded INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE notion_requests ADD COLUMN limits_near INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE notion_requests ADD COLUMN likely_duplicate INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX notion_requests_source_time ON notion_requests (source, time);
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
        # Acknowledgements (`opsd ack`) and timed escalation (`[[alerts.escalations]]`):
        # `escalated_to` is the comma-separated tags an alert was escalated to.
        """
        ALTER TABLE alert_states ADD COLUMN acked_by TEXT;
        ALTER TABLE alert_states ADD COLUMN acked_at REAL;
        ALTER TABLE alert_states ADD COLUMN ack_comment TEXT NOT NULL DEFAULT '';
        ALTER TABLE alert_states ADD COLUMN escalated_to TEXT NOT NULL DEFAULT '';
        ALTER TABLE alert_events ADD COLUMN acked_by TEXT;
        ALTER TABLE alert_events ADD COLUMN acked_at REAL;
        ALTER TABLE alert_events ADD COLUMN escalated_to TEXT NOT NULL DEFAULT '';
        """,
        # The runbook of an alert's cause (its latest problem's `details.hint`).
        """
        ALTER TABLE alert_states ADD COLUMN hint TEXT NOT NULL DEFAULT '';
        ALTER TABLE alert_events ADD COLUMN hint TEXT NOT NULL DEFAULT '';
        """,
        # Dependencies: the firing parent holding an alert, and the children a parent's
        # event held (comma-separated labels).
        """
        ALTER TABLE alert_states ADD COLUMN suppressed_by TEXT;
        ALTER TABLE alert_events ADD COLUMN suppressed_by TEXT;
        ALTER TABLE alert_events ADD COLUMN holding TEXT NOT NULL DEFAULT '';
        """,
        # Outbox rows given up at alerts.outbox_max_age: `lost` 1 until the next message
        # delivered to that URL has said so, then 2. The index finds an alert's later
        # RESOLVED (a queued FIRING that went stale).
        """
        ALTER TABLE outbox ADD COLUMN lost INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX alert_events_alert ON alert_events (check_name, target, id);
        """,
        # Flapping: the latest results' states (one letter each: O, W, C) and whether the
        # alert is flapping (`alerting.flapping`).
        """
        ALTER TABLE alert_states ADD COLUMN flap_history TEXT NOT NULL DEFAULT '';
        ALTER TABLE alert_states ADD COLUMN flapping INTEGER NOT NULL DEFAULT 0;
        """,
        # Sends whose outcome is unknown: `sending_at` is committed before each attempt and
        # cleared with its outcome; `claimed_by` names the claiming process ("pid:start
        # time"), so a dead claimer's rows are taken over at once; `uncertain` is 1 once an
        # attempt's outcome was lost (since `uncertain_at`): the row then goes out marked as a
        # possible repeat.
        """
        ALTER TABLE outbox ADD COLUMN sending_at REAL;
        ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
        ALTER TABLE outbox ADD COLUMN uncertain INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE outbox ADD COLUMN uncertain_at REAL;
        """,
    ],
    "notion_limiter": [
        # The request budget shared by every opsd process on this database: one row per
        # budget (base URL + token fingerprint, never the token); times are UTC epoch seconds.
        """
        CREATE TABLE notion_limiter (
            budget TEXT PRIMARY KEY,
            tat REAL NOT NULL,
            paused_until REAL NOT NULL DEFAULT 0,
            retry_after REAL NOT NULL DEFAULT 0,
            reason TEXT NOT NULL DEFAULT '',
            slowed_rate REAL,
            recovery_start REAL NOT NULL DEFAULT 0,
            updated_at REAL NOT NULL
        );
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
    "notion_schemas": [
        # Each watched data source's schema (property ids, names, types, options): a row per
        # schema seen, appended only when it differs from the latest (`seen_at` moves on).
        """
        CREATE TABLE notion_schemas (
            id INTEGER PRIMARY KEY,
            database_id TEXT NOT NULL,
            source_id TEXT NOT NULL,
            source_name TEXT NOT NULL DEFAULT '',
            properties TEXT NOT NULL,
            recorded_at REAL NOT NULL,
            seen_at REAL NOT NULL
        );
        CREATE INDEX notion_schemas_source ON notion_schemas (database_id, source_id, recorded_at);
        """,
    ],
}
