"""Benchmark: what `opsd proxy` adds to a request, and how many requests/s it sustains.

The sandbox on 127.0.0.1 is "Notion"; the proxy runs as its own process (`opsd proxy`, budget
lifted: rate_limit 1e6), recording every request to its database as in production.

1. overhead, sequential: N `GET /v1/users/me` one after another over one kept-alive
   connection, directly and through the proxy; p50 and p99 of each, and the difference;
2. overhead, concurrent: the same with C clients at once (default 4: more only measures the
   queueing of a saturated 2-core machine, where client, proxy and sandbox share the CPUs);
3. throughput: 1, 4 and 16 clients for S seconds as fast as they can, directly and through
   the proxy:
   requests/s answered (the sandbox itself is a threaded stdlib server: its own ceiling is the
   direct figure).

Goal: at most 2 ms added at p50 and 10 ms at p99 (sequential and concurrent).

    python bench/proxy.py [--requests 2000] [--clients 4] [--seconds 5]

Prints the figures; exits 1 if a goal is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from opsd.sandbox import SANDBOX_TOKEN, Sandbox

HEADERS = {"Authorization": f"Bearer {SANDBOX_TOKEN}", "Notion-Version": "2022-06-28"}
PATH = "/v1/users/me"
GOAL_P50, GOAL_P99 = 0.002, 0.010


def start_proxy(upstream: str, folder: Path) -> tuple[subprocess.Popen[str], str]:
    config = folder / "opsd.toml"
    config.write_text(f'[storage]\npath = "{folder / "opsd.db"}"\n\n'
                      f'[proxy]\nport = 0\nupstream = "{upstream}"\nrate_limit = 1000000.0\n'
                      'burst = 1000000\n')
    proc = subprocess.Popen([sys.executable, "-m", "opsd", "--config", str(config), "proxy"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    found = re.search(r"listening on (http://\S+),", proc.stdout.readline())
    if found is None:
        proc.terminate()
        raise SystemExit("the proxy did not start")
    threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep its pipe drained
    return proc, found.group(1)


def quantile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(share * len(ordered) + 0.5) - 1))]


def sequential(base: str, count: int) -> list[float]:
    timings = []
    with httpx.Client(base_url=base, headers=HEADERS) as client:
        for _ in range(50):  # warm up the connection (and the proxy's upstream pool)
            client.get(PATH)
        for _ in range(count):
            started = time.perf_counter()
            client.get(PATH).raise_for_status()
            timings.append(time.perf_counter() - started)
    return timings


async def concurrent(base: str, count: int, clients: int) -> list[float]:
    timings: list[float] = []

    async def one(client: httpx.AsyncClient, share: int) -> None:
        for _ in range(share):
            started = time.perf_counter()
            (await client.get(PATH)).raise_for_status()
            timings.append(time.perf_counter() - started)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers=HEADERS, limits=limits) as client:
        await asyncio.gather(*(one(client, 20) for _ in range(clients)))  # warm-up
        timings.clear()
        await asyncio.gather(*(one(client, count // clients) for _ in range(clients)))
    return timings


async def throughput(base: str, clients: int, seconds: float) -> float:
    done = 0
    end = time.perf_counter() + seconds

    async def one(client: httpx.AsyncClient) -> None:
        nonlocal done
        while time.perf_counter() < end:
            (await client.get(PATH)).raise_for_status()
            done += 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers=HEADERS, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(one(client) for _ in range(clients)))
        return done / (time.perf_counter() - started)


def compare(label: str, direct: list[float], proxied: list[float]) -> bool:
    added50 = quantile(proxied, 0.5) - quantile(direct, 0.5)
    added99 = quantile(proxied, 0.99) - quantile(direct, 0.99)
    ok = added50 <= GOAL_P50 and added99 <= GOAL_P99
    print(f"{label:<11} direct p50 {quantile(direct, 0.5) * 1e3:6.2f} ms p99 "
          f"{quantile(direct, 0.99) * 1e3:6.2f} ms | proxy p50 {quantile(proxied, 0.5) * 1e3:6.2f}"
          f" ms p99 {quantile(proxied, 0.99) * 1e3:6.2f} ms | added p50 {added50 * 1e3:5.2f} ms "
          f"p99 {added99 * 1e3:5.2f} ms  {'ok' if ok else 'MISSED'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    sandbox = Sandbox(port=0, rate=1e9, burst=1_000_000_000).start()
    with tempfile.TemporaryDirectory(prefix="opsd-bench-proxy-") as tmp:
        proc, proxy = start_proxy(sandbox.url, Path(tmp))
        try:
            ok = compare("sequential", sequential(sandbox.url, args.requests),
                         sequential(proxy, args.requests))
            ok &= compare(f"{args.clients} clients",
                          asyncio.run(concurrent(sandbox.url, args.requests, args.clients)),
                          asyncio.run(concurrent(proxy, args.requests, args.clients)))
            best = 0.0
            for clients in (1, 4, 16):
                direct_rate = asyncio.run(throughput(sandbox.url, clients, args.seconds))
                proxy_rate = asyncio.run(throughput(proxy, clients, args.seconds))
                best = max(best, proxy_rate)
                print(f"throughput  {clients:>2} clients: direct {direct_rate:6.0f} req/s | "
                      f"through the proxy {proxy_rate:6.0f} req/s")
            print(f"highest rate the proxy sustained: {best:.0f} req/s (budget lifted, every "
                  f"request recorded; {args.seconds:g} s per run)")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            sandbox.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
