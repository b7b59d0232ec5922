"""Benchmark: a year of realtime history (60 checks every minute) as the daemon leaves it, and
what reading it costs.

Builds a temporary history database straight through `executemany`: the raw results of the
last `storage.retention` (one run a minute, 60 results with summaries and details like the
real checks'), hourly rollups back to `storage.retention_hourly` and daily rollups back to
the start (`--days`), each tier cut at its default retention as the daemon's rollup timer
leaves it. The raw days are then rolled up for real (`opsd.store.rollups.roll_up`), which
gives the rollup time per day. Prints:

- the database size (goal <= 300 MB) and each table's share;
- a 30-day uptime query (`status_counts` over every series; goal <= 50 ms, median of
  `--repeat`) and a 1-year daily history of one check (`daily_series`);
- /metrics latency of a real `opsd run` on that database (p50/p99 of `--scrapes` scrapes)
  while this process runs the 30-day query beside it in a loop.

    python bench/history.py [--days 365] [--repeat 20] [--scrapes 200]

Figures only: nothing asserts on time. A fresh file is compact; in a running daemon the
pages pruned each day are reused by the next day's results, so the file stays at its peak.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from opsd.cli.demo import free_port
from opsd.config import Settings
from opsd.reports.rollups import DAY, HOUR, ceil_to, floor_to
from opsd.store import Store
from opsd.store import rollups as store_rollups

SIZE_GOAL_MB = 300.0
UPTIME_GOAL_MS = 50.0
SERIES = (
    [("http.endpoint", "http.endpoint", f"api-{n:02d}", "seconds") for n in range(20)]
    + [("cache.hit_rate", "cache.hit_rate", f"cache-{n:02d}", "ratio") for n in range(20)]
    + [("notion.latency", "notion.latency", f"database-{n}", "seconds") for n in range(10)]
    + [("notion.auth", "notion.auth", "", "seconds")]
    + [(f"app.check_{n}", "app.error_rate", "", "ratio") for n in range(9)]
)
PLAYBOOK = "realtime"


def result_row(rng: random.Random, series: tuple[str, str, str, str], run_id: int, at: float
               ) -> tuple:
    """One result as the check would record it: status, value, summary and details."""
    check, kind, target, unit = series
    status = "OK" if rng.random() < 0.995 else rng.choice(["WARNING", "CRITICAL"])
    if kind == "http.endpoint":
        value = rng.lognormvariate(-2.3, 0.4)
        summary = "HTTP 200"
        details = {"url": f"https://{target}.example.com/health", "method": "GET",
                   "status_code": 200, "problems": [], "certificate_days_left": 63.2,
                   "certificate_expires_at": 1_790_000_000.0}
    elif kind == "cache.hit_rate":
        value = rng.uniform(0.8, 0.99)
        summary = f"{value:.1%} hit rate over the last 60s (1234 hits, 56 misses)"
        details = {"hits": 1234, "misses": 56, "lookups": 1290, "interval_seconds": 60.0}
    elif kind == "notion.latency":
        value = rng.lognormvariate(-1.2, 0.3)
        summary = f"p95 {value * 1000:.0f} ms over 2 queries of {target}"
        details = {"samples": [round(value, 4), round(value * 0.9, 4)], "database": target}
    elif kind == "notion.auth":
        value = rng.lognormvariate(-1.5, 0.3)
        summary = "authenticated as 'opsd' in workspace 'Acme'"
        details = {"authenticated": True, "bot": "opsd", "workspace": "Acme",
                   "workspace_id": "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
                   "notion_version": "2025-09-03", "attempts": 1}
    else:
        value = rng.uniform(0, 0.002)
        summary = f"{value:.2%} of 5000 requests failed in the last 5m"
        details = {"requests": 5000, "failed": round(value * 5000), "window_seconds": 300.0}
    return (run_id, PLAYBOOK, check, kind, target, status, value, unit, summary,
            json.dumps(details), at + rng.random() * 2, rng.random() * 0.3)


def rollup_row(rng: random.Random, series: tuple[str, str, str, str], start: float,
               minutes: int) -> tuple:
    """A plausible rollup of `minutes` results (what rolling up the raw rows would give)."""
    check, kind, target, _ = series
    bad = sum(rng.random() < 0.005 for _ in range(min(minutes, 60))) * (minutes // 60 or 1)
    low, mean = rng.uniform(0.05, 0.1), rng.uniform(0.1, 0.3)
    return (start, PLAYBOOK, check, kind, target, minutes - bad, bad // 2, bad - bad // 2, 0, 0,
            minutes, low, mean, mean * 3, mean * 1.8, min(bad * 2, minutes))


def build(path: Path, now: float, days: int, settings: Settings, rng: random.Random) -> None:
    """Every tier as the daemon leaves it at `now` after `days` of history."""
    storage = settings.storage
    store = Store.open(path)
    raw_start = ceil_to(now - storage.retention, HOUR)
    hourly_start = max(floor_to(now - storage.retention_hourly, HOUR), floor_to(
        now - days * DAY, HOUR))
    daily_start = floor_to(now - min(days * DAY, storage.retention_daily), DAY)
    conn = store.conn
    conn.execute("BEGIN")
    day = daily_start
    while day < floor_to(raw_start, DAY):
        conn.executemany(_insert("rollups_daily"),
                         [rollup_row(rng, s, day, 1440) for s in SERIES])
        day += DAY
    hour = hourly_start
    while hour < raw_start:
        conn.executemany(_insert("rollups_hourly"),
                         [rollup_row(rng, s, hour, 60) for s in SERIES])
        hour += HOUR
    minute, run_id = raw_start, 0
    while minute < now:
        run_id += 1
        conn.execute("INSERT INTO runs (id, playbook, trigger, status, started_at, finished_at,"
                     " alerted_at) VALUES (?, ?, 'schedule', 'OK', ?, ?, ?)",
                     (run_id, PLAYBOOK, minute, minute + 2.5, minute + 2.5))
        conn.executemany(
            "INSERT INTO results (run_id, playbook, check_name, kind, target, status, value,"
            " unit, summary, details, started_at, duration)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [result_row(rng, s, run_id, minute) for s in SERIES])
        minute += 60.0
    for key, value in (("hourly_through", raw_start), ("daily_through", floor_to(raw_start, DAY)),
                       ("raw_from", raw_start), ("hourly_from", hourly_start)):
        conn.execute("INSERT INTO state VALUES (?, ?, ?, ?)",
                     (store_rollups.NAMESPACE, key, json.dumps(value), now))
    conn.execute("COMMIT")
    store.close()


def _insert(table: str) -> str:
    columns = ("period_start, playbook, check_name, kind, target, ok, warning, critical,"
               " unknown, skipped, value_count, value_min, value_avg, value_max, value_p95,"
               " state_changes")
    return f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * 16)})"


def timed(fn: Callable[[], object], repeat: int) -> str:
    """Median and max wall time of `repeat` calls, and the median CPU time (the figure a
    busy machine inflates least)."""
    walls, cpus = [], []
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return (f"median {statistics.median(walls) * 1000:.1f} ms, max {max(walls) * 1000:.1f} ms"
            f" (CPU median {statistics.median(cpus) * 1000:.1f} ms)")


def size_report(path: Path) -> float:
    """Print the file size and each table's share (with its indexes); returns MB."""
    store = Store.open(path)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    sizes: dict[str, int] = {}
    for _name, table, size in store.conn.execute(
        "SELECT s.name, m.tbl_name, SUM(s.pgsize) FROM dbstat s JOIN sqlite_master m"
        " ON m.name = s.name GROUP BY s.name"
    ):
        sizes[table] = sizes.get(table, 0) + size
    rows = {t: store.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("results", "rollups_hourly", "rollups_daily")}
    store.close()
    total = sum(p.stat().st_size for p in path.parent.iterdir() if p.name.startswith(path.name))
    mb = total / 1e6
    print(f"database size: {mb:.1f} MB (goal <= {SIZE_GOAL_MB:.0f} MB); load average"
          f" {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for table in ("results", "runs", "rollups_hourly", "rollups_daily"):
        count = f", {rows[table]:,} rows" if table in rows else ""
        print(f"  {table:<15} {sizes.get(table, 0) / 1e6:7.1f} MB (with indexes){count}")
    return mb


def scrape_beside_queries(path: Path, now: float, scrapes: int, work: Path) -> None:
    """A real daemon on the database: /metrics p50/p99 while the 30-day query runs here."""
    port = free_port(0)
    playbooks = work / "playbooks"
    playbooks.mkdir()
    (playbooks / "trend.toml").write_text(
        'name = "trend"\nevery = "60s"\n\n[[checks]]\nkind = "history.trend"\nwindow = "30d"\n')
    config = work / "opsd.toml"
    config.write_text(f'[storage]\npath = "{path}"\n[metrics]\nport = {port}\n'
                      f'[scheduler]\nplaybooks_dir = "{playbooks}"\n')
    log_path = work / "daemon.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPSD_", "NOTIFY_"))}
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "opsd", "--config", str(config), "run"],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
    stop = threading.Event()
    try:
        deadline = time.monotonic() + 120
        while "msg=started" not in log_path.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the daemon did not start:\n{log_path.read_text()}")
            time.sleep(0.1)

        def query_loop() -> None:
            reader = Store.open(path)
            while not stop.is_set():
                store_rollups.status_counts(reader, since=now - 30 * DAY, until=time.time())
            reader.close()

        beside = threading.Thread(target=query_loop, daemon=True)
        beside.start()
        latencies = []
        with httpx.Client(timeout=30) as client:
            for _ in range(scrapes):
                started = time.perf_counter()
                response = client.get(f"http://127.0.0.1:{port}/metrics")
                latencies.append(time.perf_counter() - started)
                response.raise_for_status()
        stop.set()
        beside.join()
        latencies.sort()
        p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
        rolled = re.findall(r"msg=\"?rolled up\"? hours=(\d+)", log_path.read_text())
        print(f"/metrics beside the 30-day query: p50 {statistics.median(latencies) * 1000:.1f}"
              f" ms, p99 {p99 * 1000:.1f} ms over {scrapes} scrapes (daemon rolled up"
              f" {sum(int(h) for h in rolled)} hours at start)")
    finally:
        stop.set()
        proc.terminate()
        proc.wait(timeout=60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365, help="history length (default 365)")
    parser.add_argument("--repeat", type=int, default=20, help="runs of each query")
    parser.add_argument("--scrapes", type=int, default=200, help="/metrics scrapes")
    args = parser.parse_args()
    settings = Settings()
    rng = random.Random(16)
    with tempfile.TemporaryDirectory(prefix="opsd-history-") as tmp:
        work = Path(tmp)
        path = work / "opsd.db"
        now = time.time()
        started = time.perf_counter()
        build(path, now, args.days, settings, rng)
        print(f"built {args.days} days of history for {len(SERIES)} checks a minute in"
              f" {time.perf_counter() - started:.1f} s (raw {settings.storage.retention / DAY:g} d,"
              f" hourly {settings.storage.retention_hourly / DAY:g} d, daily"
              f" {settings.storage.retention_daily / DAY:g} d)")
        store = Store.open(path)
        started = time.perf_counter()
        done = store_rollups.RollupProgress()
        while True:
            step = store_rollups.roll_up(store, now)
            done += step
            if not step.due:
                break
        spent = time.perf_counter() - started
        print(f"rollup: {done.hours} hours and {done.days} days in {spent:.1f} s:"
              f" {spent / max(done.hours / 24, 1e-9):.2f} s per day of history"
              f" ({spent / max(done.hours, 1) * 1000:.1f} ms per hour of {len(SERIES) * 60}"
              " results)")
        store.close()
        size_report(path)
        store = Store.open(path)
        uptime = timed(lambda: store_rollups.status_counts(
            store, since=now - 30 * DAY, until=now), args.repeat)
        found = store_rollups.status_counts(store, since=now - 30 * DAY, until=now)
        judged = sum(c.judged for c in found.values())
        ok = sum(c.ok for c in found.values())
        print(f"30-day uptime ({len(found)} series, {judged:,} results, {ok / judged:.3%} OK):"
              f" {uptime} (goal <= {UPTIME_GOAL_MS:.0f} ms)")
        yearly = timed(lambda: store_rollups.daily_series(
            store, check="http.endpoint", since=now - 365 * DAY, until=now), args.repeat)
        days = store_rollups.daily_series(store, check="http.endpoint", since=now - 365 * DAY,
                                          until=now)
        print(f"1-year daily history of http.endpoint ({len(days)} days, 20 targets merged):"
              f" {yearly}")
        store.close()
        scrape_beside_queries(path, now, args.scrapes, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
