"""Benchmark: reading /metrics' series from the history at daemon start.

Fills a SQLite history with DAYS of realtime runs (CHECKS checks, one run a minute; the
first check turns CRITICAL for the last hour, the others stay OK for the whole history: the
case a "since" query that walked a series back to its last change would pay most for; with the
`results_series_status` index it is a seek per status), plus a weekly playbook, then times
what the daemon reads before READY=1 (`opsd.daemon.series.read_history`; `opsd status` reads
the same figures).

    python bench/metrics_restore.py [--days 90] [--checks 10] [--repeat 5]

Prints the rows, the database size and the median and worst read time.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from opsd.daemon.series import read_history
from opsd.results import Result, Status
from opsd.store import Store

T0 = 1_737_702_000.0


def fill(store: Store, days: int, checks: int) -> int:
    """Realtime runs every minute for `days`, and a weekly run each week; returns result rows."""
    minutes = days * 24 * 60
    rows = []
    runs = []
    for minute in range(minutes):
        at = T0 + minute * 60
        runs.append((minute + 1, "realtime", "schedule", "OK", at, at + 1))
        for index in range(checks):
            failing = index == 0 and minute >= minutes - 60
            rows.append((minute + 1, "realtime", f"check.{index}", "notion.latency", "tasks",
                         "CRITICAL" if failing else "OK", 0.2, "seconds", "", "{}", at, 0.3))
    with store.transaction() as conn:
        conn.executemany(
            "INSERT INTO runs (id, playbook, trigger, status, started_at, finished_at)"
            " VALUES (?, ?, ?, ?, ?, ?)", runs,
        )
        conn.executemany(
            "INSERT INTO results (run_id, playbook, check_name, kind, target, status, value,"
            " unit, summary, details, started_at, duration)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows,
        )
    from opsd.store import runs as stored_runs

    for week in range(days // 7):
        at = T0 + week * 7 * 86400
        backup = Result(Status.OK, "written", value=1e6, unit="bytes", check="backup",
                        kind="maintenance.backup", started_at=at, duration=2)
        stored_runs.record_run(store, "weekly", [backup], started_at=at, finished_at=at + 2)
    return len(rows) + days // 7


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--checks", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "opsd.db"
        store = Store.open(path)
        rows = fill(store, args.days, args.checks)
        entries = [("realtime", f"check.{i}") for i in range(args.checks)]
        entries.append(("weekly", "backup"))
        timings = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            history = read_history(store, entries)
            timings.append(time.perf_counter() - started)
        store.close()
        size_mb = path.stat().st_size / 1e6
    print(f"history: {rows:,} results over {args.days} days ({size_mb:.0f} MB), "
          f"{len(history.checks)} series restored")
    print(f"read at start: median {statistics.median(timings) * 1000:.1f} ms, "
          f"worst {max(timings) * 1000:.1f} ms over {args.repeat} reads")


if __name__ == "__main__":
    main()
