"""Benchmark: how much of a Notion rate budget opsd uses, and what 429s and pauses cost it.

Against the sandbox limited to R requests/s, runs notion.schema and notion.latency over N
generated databases through the real runner, twice:

1. no faults: wall time against the ideal (requests / R); goal >= 95 % of the budget used
   and zero 429s caused by opsd;
2. the sandbox answers bursts of 429 (Retry-After 1-2 s) during the run; goal: the extra
   wall time is at most the sum of the Retry-After values sent plus the adaptive rate's
   designed slowdown after each run of 429s (`recovery_loss`), plus 10 %.

Then the budget's behaviour against servers that limit like Notion, in real time:

a. a 60-second-window server whose window is spent 15 s in (Retry-After 45): opsd keeps asking
   and sends nothing during the pause; goal 0 requests sent during it;
b. a 0.7 requests/s server (opsd's own limit 2.5): the adaptive rate keeps 429s <= 10 % of the
   requests and uses >= 90 % of the budget (answered / (0.7 x seconds + burst));
c. a long-running runner (the daemon's StoreThread) and `opsd check` subprocesses on one
   store file against a 3 requests/s server, both with notion.rate_limit 2.5: goal 0 answered
   429 (each with its own bucket they would send 5/s).

    python bench/notion_rate.py [--rate 25] [--databases 100] [--samples 3] [--quick]

Prints the figures and exits 1 if a goal is missed. Runs on 127.0.0.1 only; a..c take about
six minutes (`--quick`: about three, with a 20-second window). `--only-budget`: a..c only.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from opsd.config import NotionConfig, Settings
from opsd.notion.errors import NotionError
from opsd.notion.limiter import RATE_DECREASE, RATE_GROWTH
from opsd.notion.service import NotionService, budget_key
from opsd.playbooks import parse_playbook
from opsd.runner import Runner
from opsd.sandbox import DATABASES, SANDBOX_TOKEN, Sandbox
from opsd.store import Store
from opsd.store.limiter import budget_row
from opsd.store.owner import StoreThread
from opsd.store.requests import request_rows


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


def runs_of_429(rows: list[dict]) -> list[int]:
    """Lengths of the runs of 429s answered one after another (no success between)."""
    runs, current = [], 0
    for row in rows:
        if row["status"] == 429:
            current += 1
        elif current:
            runs.append(current)
            current = 0
    return [*runs, current] if current else runs


def recovery_loss(rate: float, in_a_row: int) -> float:
    """Seconds at `rate` the adaptive limiter gives up, by design, after `in_a_row` 429s in a
    row: the rate drops to RATE_DECREASE^n of it and grows back as 1/r(t) = 1/r0 - g t."""
    start = rate * RATE_DECREASE ** in_a_row
    back = (1 / start - 1 / rate) / RATE_GROWTH  # seconds until the full rate again
    sent = math.log(rate / start) / RATE_GROWTH  # requests sent meanwhile
    return back - sent / rate


def inject_bursts(sandbox: Sandbox, every: int, bursts: int, stop: threading.Event) -> None:
    """Each time `every` more requests have arrived, the next 3 get 429 (Retry-After 1 or 2 s)."""
    for index in range(bursts):
        target = (index + 1) * every
        while sandbox.stats()["requests_total"] < target:
            if stop.wait(0.02):
                return
        sandbox.rate_limit_burst(count=3, retry_after=1 + index % 2)


# --- a..c: the shared, adaptive budget against Notion-like limits (real time) -------------------


def notion_config(sandbox: Sandbox, **notion: object) -> NotionConfig:
    return NotionConfig(**{"token": SANDBOX_TOKEN, "base_url": sandbox.url, "rate_limit": 2.5,
                           "burst": 3, **notion})


async def keep_asking(svc: NotionService, until: float, workers: int = 3) -> None:
    """`workers` callers ask for users/me until `until` (monotonic); refusals are expected."""

    async def worker() -> None:
        while time.monotonic() < until:
            try:
                await svc.me(deadline=svc.deadline(10.0))
            except NotionError as exc:
                if exc.kind not in ("rate_limited", "no_slot"):
                    raise
                await asyncio.sleep(0.2)  # a check that gave up; the next one comes soon

    try:
        await asyncio.gather(*(worker() for _ in range(workers)))
    finally:
        await svc.aclose()


def phase_window(state: Path, quick: bool) -> bool:
    """a: the window's budget is spent 15 s in (5 s with --quick); opsd must wait it out."""
    window, spent_at = (20.0, 5.0) if quick else (60.0, 15.0)
    with Sandbox(port=0, rate=1000, burst=1000).start() as sandbox:
        sandbox.rate_window(limit=5, window=window)
        with httpx.Client(base_url=sandbox.url, headers={
            "Authorization": f"Bearer {SANDBOX_TOKEN}", "Notion-Version": "2025-09-03",
        }) as other:  # the integration itself spends the window's budget
            for _ in range(5):
                other.get("/v1/users/me").raise_for_status()
        time.sleep(spent_at)
        store = Store.open(state / "window.db")
        svc = NotionService(notion_config(sandbox), store=store)
        asyncio.run(keep_asking(svc, time.monotonic() + window - spent_at + 10))
        rows = request_rows(store, 0.0)
        budget = budget_row(store, budget_key(sandbox.url, SANDBOX_TOKEN)) or {}
    limited = [r for r in rows if r["status"] == 429]
    if not limited:
        print("phase a, 60-second window: no 429 was answered [MISSED]")
        return False
    # The pause starts when the first 429 arrives: requests already in flight are not "during".
    start = limited[0]["time"] + limited[0]["latency"]
    told = limited[0]["retry_after"]
    during = [r for r in rows if start < r["time"] < start + told - 0.01]
    after = [r for r in rows if r["time"] >= start + told - 0.01 and r["status"] == 200]
    ok = not during and bool(after)
    print(f"phase a, {window:g}-second window spent {spent_at:g} s in: 429 with Retry-After "
          f"{told:g} s (reason {budget.get('reason') or '?'}); requests sent during the pause: "
          f"{len(during)}; answered after it: {len(after)} [goal 0 and > 0: "
          f"{'met' if ok else 'MISSED'}]")
    return ok


def phase_slow_server(state: Path, quick: bool) -> bool:
    """b: a 0.7 req/s server; the adaptive rate must find it."""
    seconds, rate, burst = (120.0 if quick else 240.0), 0.7, 3
    with Sandbox(port=0, rate=rate, burst=burst).start() as sandbox:
        svc = NotionService(notion_config(sandbox), store=Store.open(state / "slow.db"))
        started = time.monotonic()
        asyncio.run(keep_asking(svc, started + seconds))
        elapsed = time.monotonic() - started
        stats = sandbox.stats()
    total, limited = stats["requests_total"], stats["rate_limited_total"]
    share = limited / total if total else 1.0
    used = (total - limited) / (rate * elapsed + burst)
    ok = share <= 0.10 and used >= 0.90
    print(f"phase b, {rate:g} req/s server, {elapsed:.0f} s: {total} requests, {limited} answered "
          f"429 ({share:.1%}); budget used {used:.1%} [goal <= 10 % and >= 90 %: "
          f"{'met' if ok else 'MISSED'}]")
    return ok


def phase_shared(state: Path, quick: bool) -> bool:
    """c: the daemon's runner and `opsd check` commands on one store file, one budget."""
    seconds = 30.0 if quick else 60.0
    with Sandbox(port=0, rate=3.0, burst=3).start() as sandbox:
        databases = [{"name": f"db{i}", "id": db_id}
                     for i, db_id in enumerate(list(DATABASES.values())[:4])]
        config = state / "shared.toml"
        config.write_text(
            f'[notion]\ntoken = "{SANDBOX_TOKEN}"\nbase_url = "{sandbox.url}"\n'
            "rate_limit = 2.5\nburst = 3\n"
            + "".join(f'[[notion.databases]]\nname = "{d["name"]}"\nid = "{d["id"]}"\n'
                      for d in databases)
            + f'[storage]\npath = "{state / "shared.db"}"\n'
        )
        settings = Settings(notion={"token": SANDBOX_TOKEN, "base_url": sandbox.url,
                                    "rate_limit": 2.5, "burst": 3, "databases": databases},
                            storage={"path": state / "shared.db"})
        stop = threading.Event()
        daemon = threading.Thread(target=run_daemon, args=(settings, stop), daemon=True)
        daemon.start()
        started = time.monotonic()
        until = started + seconds
        commands = 0
        while time.monotonic() < until:
            subprocess.run([sys.executable, "-m", "opsd", "--config", str(config), "check",
                            "notion.access"], capture_output=True, check=False,
                           stdin=subprocess.DEVNULL, timeout=120)
            commands += 1
        stop.set()
        daemon.join()
        elapsed = time.monotonic() - started
        stats = sandbox.stats()
    total, limited = stats["requests_total"], stats["rate_limited_total"]
    ok = limited == 0 and commands > 0
    print(f"phase c, runner + {commands} `opsd check` commands on one budget (2.5 req/s), "
          f"{elapsed:.0f} s, 3 req/s server: {total} requests ({total / elapsed:.2f}/s), "
          f"{limited} answered 429 [goal 0: {'met' if ok else 'MISSED'}]")
    return ok


def run_daemon(settings: Settings, stop: threading.Event) -> None:
    """notion.access over and over, as the daemon would, on a StoreThread."""
    playbook = parse_playbook({"name": "bench", "checks": [{"kind": "notion.access"}]},
                              Path("bench.toml"))
    store = StoreThread.open(settings.storage.path)
    runner = Runner(settings, store)

    async def go() -> None:
        try:
            while not stop.is_set():
                await runner.run(playbook)
        finally:
            await runner.resources.aclose()

    asyncio.run(go())
    store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=25.0, help="sandbox limit R, requests/s")
    parser.add_argument("--burst", type=int, default=10, help="sandbox burst")
    parser.add_argument("--databases", type=int, default=100)
    parser.add_argument("--samples", type=int, default=3, help="latency samples per database")
    parser.add_argument("--bursts", type=int, default=4, help="429 bursts in phase 2")
    parser.add_argument("--quick", action="store_true",
                        help="shorter phases a..c (20-second window, 120 s, 30 s)")
    parser.add_argument("--only-budget", action="store_true", help="run phases a..c only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        results = [] if args.only_budget else [budget_use(args, state)]
        results += [phase_window(state, args.quick), phase_slow_server(state, args.quick),
                    phase_shared(state, args.quick)]
    return 0 if all(results) else 1


def budget_use(args: argparse.Namespace, state: Path) -> bool:
    """Phases 1 and 2: budget used without faults, and the cost of 429 bursts."""

    with Sandbox(
        port=0, rate=args.rate, burst=args.burst, extra_databases=args.databases
    ).start() as sandbox:
        settings = build_settings(sandbox, args, state)
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
        rows = request_rows(store, 0.0)
        limited = [r for r in rows if r["status"] == 429]
        told = sum(r["retry_after"] or 0.0 for r in limited)
        slowed = sum(recovery_loss(args.rate, run) for run in runs_of_429(rows))
        extra = burst_wall - wall
        allowed = (told + slowed) * 1.10
        second_ok = extra <= allowed
        print(f"phase 2, 429 bursts: {sandbox.stats()['requests_total']} requests in "
              f"{burst_wall:.2f} s; {len(limited)} answered 429, Retry-After {told:g} s in all; "
              f"the adaptive rate's designed slowdown {slowed:.2f} s; extra time {extra:.2f} s "
              f"[goal <= {allowed:.2f} s: {'met' if second_ok else 'MISSED'}]")
    return first_ok and second_ok


if __name__ == "__main__":
    raise SystemExit(main())
