"""Benchmark: how much of a Notion rate budget opsd uses, and what 429 bursts cost it.

Against the sandbox limited to R requests/s, runs notion.schema and notion.latency over N
generated databases through the real runner, twice:

1. no faults: wall time against the ideal (requests / R); goal >= 95 % of the budget used
   and zero 429s caused by opsd;
2. the sandbox answers bursts of 429 (Retry-After 1-2 s) during the run; goal: the extra
   wall time is at most the sum of the Retry-After values sent, plus 10 %.

    python bench/notion_rate.py [--rate 25] [--databases 100] [--samples 3]

Prints the figures and exits 1 if a goal is missed. Runs on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import threading
import time
from pathlib import Path

from opsd.config import Settings
from opsd.playbooks import parse_playbook
from opsd.runner import Runner
from opsd.sandbox import SANDBOX_TOKEN, Sandbox
from opsd.store import Store


def build_settings(sandbox: Sandbox, args: argparse.Namespace, state: Path) -> Settings:
    generated = {name: info["id"] for name, info in sandbox.stats()["databases"].items()
                 if name.startswith("Generated Database")}
    databases = [
        {"name": f"db{i:03d}", "id": db_id,
         "required_properties": {"Name": "title", "Status": "select", "Score": "number"}}
        for i, db_id in enumerate(sorted(generated.values())[:args.databases])
    ]
    return Settings(
        notion={"token": SANDBOX_TOKEN, "base_url": sandbox.url, "rate_limit": args.rate,
                "burst": max(1, args.burst // 2), "databases": databases},
        storage={"path": state / "opsd.db"},
    )


def run_once(settings: Settings, samples: int) -> tuple[float, Store]:
    """Schema + latency over every database; returns the wall time and the store."""
    playbook = parse_playbook({"name": "bench", "checks": [
        {"kind": "notion.schema", "timeout": "30m"},
        {"kind": "notion.latency", "samples": samples, "timeout": "30m"},
    ]}, Path("bench.toml"))
    store = Store.memory()
    runner = Runner(settings, store)

    async def go() -> float:
        started = time.monotonic()
        try:
            report = await runner.run(playbook)
        finally:
            await runner.resources.aclose()
        bad = [r for r in report.results if r.status.value != "OK"]
        if bad:
            raise SystemExit(f"benchmark run not clean: {bad[0].target}: {bad[0].summary}")
        return time.monotonic() - started

    return asyncio.run(go()), store


def inject_bursts(sandbox: Sandbox, every: int, bursts: int, stop: threading.Event) -> None:
    """Each time `every` more requests have arrived, the next 3 get 429 (Retry-After 1 or 2 s)."""
    for index in range(bursts):
        target = (index + 1) * every
        while sandbox.stats()["requests_total"] < target:
            if stop.wait(0.02):
                return
        sandbox.rate_limit_burst(count=3, retry_after=1 + index % 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=25.0, help="sandbox limit R, requests/s")
    parser.add_argument("--burst", type=int, default=10, help="sandbox burst")
    parser.add_argument("--databases", type=int, default=100)
    parser.add_argument("--samples", type=int, default=3, help="latency samples per database")
    parser.add_argument("--bursts", type=int, default=4, help="429 bursts in phase 2")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, Sandbox(
        port=0, rate=args.rate, burst=args.burst, extra_databases=args.databases
    ).start() as sandbox:
        settings = build_settings(sandbox, args, Path(tmp))
        print(f"sandbox limit R = {args.rate:g} req/s (burst {args.burst}); client limiter "
              f"{settings.notion.rate_limit:g} req/s (burst {settings.notion.burst}); "
              f"{len(settings.notion.databases)} databases; notion.schema + notion.latency "
              f"({args.samples} samples)")

        wall, _ = run_once(settings, args.samples)
        stats = sandbox.stats()
        requests, limited = stats["requests_total"], stats["rate_limited_total"]
        ideal = requests / args.rate
        used = ideal / wall
        first_ok = used >= 0.95 and limited == 0
        print(f"phase 1, no faults: {requests} requests in {wall:.2f} s; ideal {ideal:.2f} s "
              f"(requests / R); budget used {used:.1%}; 429s caused: {limited} "
              f"[goal >= 95 % and 0: {'met' if first_ok else 'MISSED'}]")

        sandbox.reset()
        stop = threading.Event()
        injector = threading.Thread(
            target=inject_bursts,
            args=(sandbox, requests // (args.bursts + 1), args.bursts, stop), daemon=True,
        )
        injector.start()
        burst_wall, store = run_once(settings, args.samples)
        stop.set()
        injector.join()
        rows = list(store.query("SELECT retry_after FROM notion_requests WHERE status = 429"))
        told = sum(r["retry_after"] or 0.0 for r in rows)
        extra = burst_wall - wall
        second_ok = extra <= told * 1.10
        print(f"phase 2, 429 bursts: {sandbox.stats()['requests_total']} requests in "
              f"{burst_wall:.2f} s; {len(rows)} answered 429, Retry-After {told:g} s in all; "
              f"extra time {extra:.2f} s [goal <= {told * 1.10:.2f} s: "
              f"{'met' if second_ok else 'MISSED'}]")
    return 0 if first_ok and second_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
