"""Benchmark: 1,000 concurrent scrapes of the real daemon's /metrics, alone and beside 100 idle
connections held open.

Starts the sandbox and the real `opsd run` as a subprocess (the demo's config: every built-in
playbook, realtime runs against the sandbox), waits for its first runs, then fires the
scrapes all at once (asyncio, raw sockets, one connection per scrape, `Connection: close`)
and measures each from connect to the last byte of a complete response: plain text; with
the headers Prometheus sends (OpenMetrics, gzip); plain text beside the idle connections.
A burst of 100 first, not reported, lets the start's catch-up runs finish. Prints, per
scenario: scrapes answered 200 with a complete body, p50/p99/max latency, the most threads
the daemon had while it served them and the CPU time it spent (from /proc), and the
machine's load average (latency on a busy machine is the machine's, CPU time is ours).
Goal: all answered, p99 <= 1 s.

    python bench/listener.py [--scrapes 1000] [--idle 100]

Exits 1 if a goal is missed. Runs on 127.0.0.1 only; the client shares the machine with the
daemon, so the figures include its own CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from opsd.cli.demo import demo_config, free_port
from opsd.sandbox import Sandbox

P99_GOAL_SECONDS = 1.0
PLAIN = b"GET /metrics HTTP/1.1\r\nHost: opsd\r\nConnection: close\r\n\r\n"
# What Prometheus 2.x/3.x sends: OpenMetrics preferred, gzip accepted.
PROMETHEUS = (b"GET /metrics HTTP/1.1\r\nHost: opsd\r\nConnection: close\r\n"
              b"Accept: application/openmetrics-text;version=1.0.0;q=0.5,"
              b"text/plain;version=0.0.4;q=0.4,*/*;q=0.1\r\n"
              b"Accept-Encoding: gzip\r\n\r\n")
_RUNS = re.compile(rb'^opsd_playbook_runs_total\{playbook="realtime",status="[A-Z]+"\} (\S+)$',
                   re.MULTILINE)


def threads_of(pid: int) -> int:
    """The process's thread count, from /proc."""
    found = re.search(r"^Threads:\s+(\d+)$", Path(f"/proc/{pid}/status").read_text(), re.M)
    if found is None:
        raise RuntimeError(f"no thread count for pid {pid}")
    return int(found.group(1))


class _Scrape(asyncio.Protocol):
    """One scrape as a bare protocol (streams cost the client more CPU than the server)."""

    def __init__(self, done: asyncio.Future[bytes], request: bytes) -> None:
        self.done = done
        self.request = request
        self.chunks: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(b"".join(self.chunks))


async def scrape(port: int, request: bytes = PLAIN) -> tuple[bool, float, bytes]:
    """One scrape on its own connection: (answered 200 in full, seconds, body)."""
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    done: asyncio.Future[bytes] = loop.create_future()
    try:
        await loop.create_connection(lambda: _Scrape(done, request), "127.0.0.1", port)
        response = await done  # to the end: the server closes after the response
    except OSError:
        return False, time.perf_counter() - started, b""
    elapsed = time.perf_counter() - started
    head, _, body = response.partition(b"\r\n\r\n")
    length = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
    complete = head.startswith(b"HTTP/1.1 200 ") and length is not None and (
        int(length.group(1)) == len(body))
    return complete, elapsed, body


@dataclasses.dataclass
class Burst:
    """One burst's outcome: per scrape (answered in full, seconds), and the daemon's side."""

    results: list[tuple[bool, float]]
    peak_threads: int
    daemon_cpu_seconds: float


def cpu_seconds_of(pid: int) -> float:
    """User + system CPU time the process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def burst(port: int, pid: int, scrapes: int, request: bytes = PLAIN) -> Burst:
    """`scrapes` concurrent scrapes, the daemon's peak thread count and CPU time meanwhile."""
    peak = threads_of(pid)
    cpu_before = cpu_seconds_of(pid)
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, threads_of(pid))
            await asyncio.sleep(0.01)

    sampler = asyncio.create_task(sample())
    results = await asyncio.gather(*(scrape(port, request) for _ in range(scrapes)))
    done.set()
    await sampler
    return Burst([(ok, seconds) for ok, seconds, _ in results], peak,
                 cpu_seconds_of(pid) - cpu_before)


def hold_idle(port: int, count: int) -> list[socket.socket]:
    return [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]


def report(name: str, outcome: Burst) -> bool:
    latencies = sorted(seconds for _, seconds in outcome.results)
    answered = sum(ok for ok, _ in outcome.results)
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
    met = answered == len(outcome.results) and p99 <= P99_GOAL_SECONDS
    print(f"  {name:<32} answered {answered}/{len(latencies)}  "
          f"p50 {statistics.median(latencies) * 1000:6.0f} ms  p99 {p99 * 1000:6.0f} ms  "
          f"max {latencies[-1] * 1000:6.0f} ms  daemon: threads {outcome.peak_threads}, "
          f"CPU {outcome.daemon_cpu_seconds:.2f} s  (load {os.getloadavg()[0]:.1f})"
          + ("" if met else "  MISSED"))
    return met


def wait_for_runs(port: int, proc: subprocess.Popen, count: int, timeout: float) -> int:
    """The /metrics body size once the daemon has recorded `count` realtime runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"opsd exited with {proc.returncode}")
        try:
            ok, _, body = asyncio.run(scrape(port))
        except OSError:
            ok, body = False, b""
        if ok and sum(float(v) for v in _RUNS.findall(body)) >= count:
            return len(body)
        time.sleep(0.2)
    raise RuntimeError(f"fewer than {count} realtime runs after {timeout:.0f}s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scrapes", type=int, default=1000)
    parser.add_argument("--idle", type=int, default=100)
    args = parser.parse_args()

    met = []
    with tempfile.TemporaryDirectory(prefix="opsd-bench-") as tmp, \
            Sandbox(port=0, rate=10_000, burst=10_000).start() as sandbox:
        port = free_port(0)
        config = demo_config(Path(tmp), sandbox.url, port)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPSD_", "NOTION_"))}
        proc = subprocess.Popen([sys.executable, "-m", "opsd", "--config", str(config), "run"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            size = wait_for_runs(port, proc, 3, timeout=120)
            print(f"opsd listener benchmark ({args.scrapes} concurrent scrapes of a "
                  f"{size / 1024:.0f} KiB /metrics; threads at rest {threads_of(proc.pid)})")
            asyncio.run(burst(port, proc.pid, 100))
            outcome = asyncio.run(burst(port, proc.pid, args.scrapes))
            met.append(report(f"{args.scrapes} scrapes", outcome))
            outcome = asyncio.run(burst(port, proc.pid, args.scrapes, PROMETHEUS))
            met.append(report("... as Prometheus asks (gzip)", outcome))
            idle = hold_idle(port, args.idle)
            try:
                outcome = asyncio.run(burst(port, proc.pid, args.scrapes))
                met.append(report(f"... beside {args.idle} idle connections", outcome))
            finally:
                for sock in idle:
                    sock.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            exit_code = proc.wait(timeout=60)
    print(f"  exit code {exit_code}")
    return 0 if all(met) and exit_code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
