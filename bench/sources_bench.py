"""Benchmark of counter sources: how long one cache.hit_rate read takes (run on demand).

    python bench/sources_bench.py [--series 20000] [--rounds 20]

Prints, for a Prometheus exposition of N series served by a local HTTP server (the two cache
counters with 50 label sets each, the rest spread over other metrics of 20 series), the time
to fetch, parse and select the two counters, and the peak Python memory of one read; and, when
`redis-server` is installed, the time of one Redis INFO read against a local server.
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import tracemalloc

import httpx

from opsd.config import CacheConfig
from opsd.sources import read

CACHE_SERIES = 50
SERIES_PER_METRIC = 20


def exposition(series: int) -> bytes:
    lines = ["# TYPE app_cache_hits_total counter", "# TYPE app_cache_misses_total counter"]
    for index in range(CACHE_SERIES):
        lines.append(f'app_cache_hits_total{{cache="c{index}"}} {index * 3}')
        lines.append(f'app_cache_misses_total{{cache="c{index}"}} {index}')
    for index in range(max(0, series - 2 * CACHE_SERIES)):
        metric = f"app_other_{index // SERIES_PER_METRIC}_total"
        if index % SERIES_PER_METRIC == 0:
            lines.append(f"# TYPE {metric} counter")
        lines.append(f'{metric}{{route="r{index % SERIES_PER_METRIC}"}} {index}')
    return ("\n".join(lines) + "\n").encode()


def serve(body: bytes) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


async def timed_reads(cache: CacheConfig, selectors: dict[str, str], rounds: int) -> list[float]:
    timings = []
    async with httpx.AsyncClient() as http:
        for _ in range(rounds):
            started = time.perf_counter()
            await read(cache, selectors, http)
            timings.append(time.perf_counter() - started)
    return timings


def report(label: str, timings: list[float]) -> None:
    print(f"{label}: median {statistics.median(timings) * 1000:.1f} ms, "
          f"max {max(timings) * 1000:.1f} ms over {len(timings)} reads")


def bench_prometheus(series: int, rounds: int) -> None:
    body = exposition(series)
    server = serve(body)
    cache = CacheConfig(
        name="bench", source=f"prometheus+http://127.0.0.1:{server.server_address[1]}/metrics",
        hits='app_cache_hits_total{cache="c7"}', misses='app_cache_misses_total{cache="c7"}',
    )
    selectors = {"hits": cache.hits or "", "misses": cache.misses or ""}
    try:
        report(f"prometheus {series} series ({len(body) / 1024:.0f} KiB)",
               asyncio.run(timed_reads(cache, selectors, rounds)))
        tracemalloc.start()
        asyncio.run(timed_reads(cache, selectors, 1))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"prometheus {series} series: peak Python memory of one read {peak / 2**20:.1f} MiB")
    finally:
        server.shutdown()


def bench_redis(rounds: int) -> None:
    binary = shutil.which("redis-server")
    if binary is None:
        print("redis: skipped (redis-server not installed)")
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as workdir:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", workdir],
            stdout=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)
            cache = CacheConfig(name="bench", source=f"redis://127.0.0.1:{port}/0")
            selectors = {"hits": "keyspace_hits", "misses": "keyspace_misses"}
            report("redis INFO (connect, read, close)",
                   asyncio.run(timed_reads(cache, selectors, rounds)))
        finally:
            process.terminate()
            process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    bench_prometheus(args.series, args.rounds)
    bench_redis(args.rounds)


if __name__ == "__main__":
    main()
