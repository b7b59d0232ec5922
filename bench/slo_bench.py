"""Benchmark of SLO evaluation (run on demand).

    python -m bench.slo_bench [--checks 60] [--days 14] [--slos 3]

Builds `--days` of raw history (every check once a minute, 1 % failures) in a SQLite file and
prints the time of `opsd.reports.slo.evaluate` for `--slos` 30-day SLOs: cold (every hour of
the window counted from raw into slo_hourly) and then warm (what the daemon's minutely
`slo.burn_rate` run costs), median of 20.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from opsd.config.slos import SloConfig
from opsd.reports.slo import evaluate
from opsd.results import Result, Status
from opsd.store import Store
from opsd.store.runs import record_run


def build(store: Store, checks: int, days: int, now: float) -> int:
    rng = random.Random(7)
    minutes = days * 1440
    for minute in range(minutes):
        at = now - (minutes - minute) * 60
        record_run(store, "realtime", [
            Result(Status.CRITICAL if rng.random() < 0.01 else Status.OK, "probe",
                   value=rng.lognormvariate(-1.5, 0.5), check=f"check.{n:02d}", kind="bench",
                   started_at=at) for n in range(checks)
        ], started_at=at, finished_at=at + 1)
    return minutes * checks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checks", type=int, default=60)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--slos", type=int, default=3)
    args = parser.parse_args()
    now = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "opsd.db")
        started = time.perf_counter()
        rows = build(store, args.checks, args.days, now)
        print(f"history: {rows} results ({args.checks} checks x {args.days} d) built in "
              f"{time.perf_counter() - started:.1f} s")
        slos = [SloConfig(name=f"slo{n}", checks=f"check.{n:02d}", objective=0.999,
                          threshold=0.5 if n % 2 else None) for n in range(args.slos)]
        started = time.perf_counter()
        evaluate(store, slos, now)
        print(f"evaluate {args.slos} SLOs, cold (hourly counts filled): "
              f"{(time.perf_counter() - started) * 1000:.1f} ms")
        times = []
        for _ in range(20):
            started = time.perf_counter()
            evaluate(store, slos, now)
            times.append(time.perf_counter() - started)
        print(f"evaluate {args.slos} SLOs, warm: median {statistics.median(times) * 1000:.2f} ms")
        store.close()


if __name__ == "__main__":
    main()
