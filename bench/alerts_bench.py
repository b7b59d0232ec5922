"""Benchmark of the alert engine (run on demand).

    python -m bench.alerts_bench [--checks 200] [--runs 50] [--messages 200]

Prints (1) the time the alert engine adds to one playbook run of N results against a SQLite
file, while every alert is firing (the busiest steady state), and (2) how many outbox rows
per second real Apprise delivers to a local webhook receiver, one row per message.
"""

from __future__ import annotations

import argparse
import http.server
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

from opsd.alerting.messages import Origin
from opsd.alerting.notify import enqueue, retry_outbox
from opsd.alerting.observer import apply_results
from opsd.config import Settings
from opsd.results import Result, Status
from opsd.store import Store

T0 = 1_737_702_000.0


class _Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


def engine_overhead(directory: Path, checks: int, runs: int) -> list[float]:
    """Seconds `apply_results` takes per run of `checks` CRITICAL results (no URLs)."""
    settings = Settings(storage={"path": str(directory / "engine.db")})
    store = Store.open(settings.storage.path)
    results = [
        Result(Status.CRITICAL, "down", check=f"check.{n}", kind="http.endpoint", target="t")
        for n in range(checks)
    ]
    timings = []
    for run in range(runs):
        started = time.perf_counter()
        apply_results(settings, store, results, now=T0 + 60 * run, playbook="realtime")
        timings.append(time.perf_counter() - started)
    return timings


def delivery_rate(directory: Path, messages: int) -> float:
    """Outbox rows delivered per second through Apprise to a local webhook."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings = Settings(
        storage={"path": str(directory / "outbox.db")},
        alerts={"urls": [f"json://127.0.0.1:{port}/hook"], "group": False},
    )
    store = Store.open(settings.storage.path)
    events = apply_results(
        settings, Store.memory(),
        [Result(Status.CRITICAL, "down", check=f"c{n}", kind="x") for n in range(messages)],
        now=T0,
    )
    enqueue(store, settings, events, Origin("bench"), T0)
    started = time.perf_counter()
    delivered = retry_outbox(settings, store, T0)
    elapsed = time.perf_counter() - started
    server.shutdown()
    assert delivered == messages, f"only {delivered} of {messages} delivered"
    return delivered / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=200)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        timings = engine_overhead(Path(tmp), args.checks, args.runs)
        steady = timings[1:]  # the first run also creates the rows
        print(f"alert engine, {args.checks} firing results per run, {args.runs} runs:")
        print(f"  first run {timings[0] * 1000:.1f} ms; steady median "
              f"{statistics.median(steady) * 1000:.1f} ms, max {max(steady) * 1000:.1f} ms "
              f"({statistics.median(steady) / args.checks * 1e6:.0f} us per result)")
        rate = delivery_rate(Path(tmp), args.messages)
        print(f"outbox delivery through Apprise to a local webhook: {rate:.0f} messages/s "
              f"({args.messages} messages)")


if __name__ == "__main__":
    main()
