"""Benchmark: the daemon's memory over 1,000 realtime runs, /metrics latency, `opsd --help` time.

Starts the sandbox and the real `opsd run` as a subprocess (the demo's config, realtime
back to back), then measures:

1. RSS after start (the first catch-up runs done) and after N realtime runs;
   goals: <= 80 MB, growth <= 5 MB (the seeds allow < 100 MB);
2. p50/p99 of GET /metrics over M scrapes while the daemon keeps running; goal p99 <= 50 ms;
3. `opsd --help` wall time (median of 5); goal <= 300 ms.

    python bench/daemon.py [--runs 1000] [--scrapes 1000]

Prints the figures and exits 1 if a goal is missed. Runs on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from opsd.cli.demo import demo_config, free_port
from opsd.sandbox import Sandbox

GOALS = {"rss_mb": 80.0, "growth_mb": 5.0, "metrics_p99_ms": 50.0, "help_ms": 300.0}
_RUNS = re.compile(r'^opsd_playbook_runs_total\{playbook="realtime",status="[A-Z]+"\} (\S+)$',
                   re.MULTILINE)


def rss_mb(pid: int) -> float:
    """Resident set size of `pid` in MB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def realtime_runs(base: str) -> int:
    body = httpx.get(f"{base}/metrics", timeout=10).text
    return int(sum(float(v) for v in _RUNS.findall(body)))


def wait_for_runs(base: str, count: int, proc: subprocess.Popen, timeout: float) -> float:
    """Seconds until the daemon has finished `count` realtime runs."""
    started = time.monotonic()
    while realtime_runs(base) < count:
        if proc.poll() is not None:
            raise RuntimeError(f"opsd exited with {proc.returncode}")
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"fewer than {count} runs after {timeout:.0f}s")
        time.sleep(0.2)
    return time.monotonic() - started


def scrape_latencies(base: str, scrapes: int) -> list[float]:
    latencies = []
    with httpx.Client(timeout=10) as client:
        for _ in range(scrapes):
            started = time.perf_counter()
            client.get(f"{base}/metrics").raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def help_ms() -> float:
    times = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "opsd", "--help"], check=True,
                       stdout=subprocess.DEVNULL)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--scrapes", type=int, default=1000)
    args = parser.parse_args()

    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="opsd-bench-") as tmp, \
            Sandbox(port=0, rate=10_000, burst=10_000).start() as sandbox:
        port = free_port(0)
        config = demo_config(Path(tmp), sandbox.url, port, realtime_every="10ms",
                             client_rate=5_000)
        base = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPSD_", "NOTION_"))}
        proc = subprocess.Popen([sys.executable, "-m", "opsd", "--config", str(config), "run"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            wait_until_serving(base, proc)
            wait_for_runs(base, 3, proc, timeout=60)
            figures["rss_mb"] = rss_after_start = rss_mb(proc.pid)
            done_in = wait_for_runs(base, args.runs, proc, timeout=1800)
            figures["rss_after_runs_mb"] = rss_mb(proc.pid)
            figures["growth_mb"] = figures["rss_after_runs_mb"] - rss_after_start
            figures["runs_per_second"] = args.runs / done_in
            latencies = sorted(scrape_latencies(base, args.scrapes))
            figures["metrics_p50_ms"] = statistics.median(latencies)
            figures["metrics_p99_ms"] = latencies[int(len(latencies) * 0.99) - 1]
        finally:
            proc.send_signal(signal.SIGTERM)
            figures["exit_code"] = proc.wait(timeout=60)
    figures["help_ms"] = help_ms()

    print(f"opsd daemon benchmark ({args.runs} realtime runs against the sandbox, "
          f"{args.scrapes} scrapes)")
    for name, value in figures.items():
        goal = GOALS.get(name)
        verdict = ""
        if goal is not None:
            verdict = " ok" if value <= goal else f" MISSED (goal <= {goal:g})"
        print(f"  {name:<20} {value:10.2f}{verdict}")
    missed = [name for name, goal in GOALS.items() if figures[name] > goal]
    return 1 if missed or figures["exit_code"] != 0 else 0


def wait_until_serving(base: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"opsd exited with {proc.returncode}")
        if _healthz_status(base) == 200:
            return
        time.sleep(0.1)
    raise RuntimeError("opsd did not serve /healthz within 30 s")


def _healthz_status(base: str) -> int | None:
    """The /healthz status code, None while nothing listens yet."""
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code
    except httpx.TransportError:
        return None


if __name__ == "__main__":
    sys.exit(main())
