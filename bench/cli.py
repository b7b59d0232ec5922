"""Benchmark: whole-process wall time of the commands an operator or Nagios types.

Every command that runs no check must answer in <= 150 ms (issue goal); `opsd check KIND`
may add <= 200 ms to the check's own work. Each command runs `--runs` times (default 10) as a
fresh `python -m opsd` process against a config and a history database made here (a day of
realtime runs, some alerts and a silence); the median is printed next to `python3 -c pass`,
the interpreter's own start-up on this machine.

    python bench/cli.py [--runs 10] [--json]

Byte-code is compiled first, as `pip install` does, so the figures are an installed opsd's
(a checkout run with PYTHONDONTWRITEBYTECODE would compile every module on every start).
Exits 1 if a goal is missed.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import opsd
from opsd.alerting.observer import apply_results
from opsd.config import load_settings
from opsd.results import Result, Status
from opsd.store import Store, silences
from opsd.store.runs import record_run

GOAL_MS = 150.0
CHECK_GOAL_MS = 200.0
DAY = 86400.0

COMMANDS: dict[str, list[str]] = {
    "--help": ["--help"],
    "--version": ["--version"],
    "status": ["status"],
    "history": ["history", "notion.latency", "--since", "1d"],
    "kinds": ["kinds"],
    "playbooks": ["playbooks"],
    "config check": ["config", "check"],
    "config show": ["config", "show"],
    "alerts": ["alerts"],
    "alerts history": ["alerts", "history"],
    "silence list": ["silence", "list"],
}
# A check whose own work is nothing (no request): all of its time is opsd's overhead.
CHECK = ["check", "notion.token_format"]


def make_fixture(directory: Path) -> Path:
    """A config and a history database with a day of realtime runs, alerts and a silence."""
    config = directory / "opsd.toml"
    config.write_text(
        "[storage]\n"
        f'path = "{directory / "opsd.db"}"\n'
        "[notion]\n"
        'token = "ntn_' + "1" * 11 + "a" * 35 + '"\n'
        'base_url = "http://127.0.0.1:9"\n'
        "[[notion.databases]]\n"
        'name = "tasks"\n'
        'id = "' + "a" * 32 + '"\n'
    )
    settings = load_settings(config, env={})
    store = Store.open(settings.storage.path)
    now = time.time()
    for minute in range(0, 24 * 60, 5):
        at = now - DAY + minute * 60
        results = [
            Result(Status.OK, "authenticated", value=0.21, unit="seconds", check="notion.auth",
                   kind="notion.auth", started_at=at, duration=0.2),
            Result(Status.WARNING if minute % 60 == 0 else Status.OK, "p95", value=0.6,
                   unit="seconds", target="tasks", check="notion.latency",
                   kind="notion.latency", started_at=at, duration=0.5),
        ]
        record_run(store, "realtime", results, started_at=at, finished_at=at + 1)
        apply_results(settings, store, results, now=at + 1, playbook="realtime")
    silences.add_silence(store, pattern="cache.*", target=None, duration=3600.0,
                         reason="bench", now=now)
    store.close()
    return config


def median_ms(argv: list[str], runs: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(runs + 1):  # the first run warms the page cache and is not counted
        started = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       stdin=subprocess.DEVNULL, check=False)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times[1:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    compileall.compile_dir(str(Path(opsd.__file__).parent), quiet=1)
    env = {k: v for k, v in os.environ.items()
           if k != "PYTHONDONTWRITEBYTECODE" and not k.startswith("OPSD_")}
    with tempfile.TemporaryDirectory(prefix="opsd-bench-cli-") as tmp:
        config = make_fixture(Path(tmp))
        env["OPSD_CONFIG"] = str(config)
        figures = {"python3 -c pass": median_ms([sys.executable, "-c", "pass"], args.runs, env)}
        opsd_cmd = [sys.executable, "-m", "opsd"]
        for label, argv in COMMANDS.items():
            figures[f"opsd {label}"] = median_ms([*opsd_cmd, *argv], args.runs, env)
        figures["opsd " + " ".join(CHECK)] = median_ms([*opsd_cmd, *CHECK], args.runs, env)

    missed = [
        label for label, ms in figures.items()
        if label.startswith("opsd ")
        and ms > (CHECK_GOAL_MS if label.endswith(CHECK[-1]) else GOAL_MS)
    ]
    if args.json:
        print(json.dumps({"median_ms": figures, "runs": args.runs, "missed": missed}, indent=2))
    else:
        print(f"whole-process wall time, median of {args.runs} runs (goal <= {GOAL_MS:.0f} ms; "
              f"`opsd check` <= {CHECK_GOAL_MS:.0f} ms)")
        for label, ms in figures.items():
            print(f"  {label:<36} {ms:7.1f} ms")
        print("goals: " + ("all met" if not missed else "missed by " + ", ".join(missed)))
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
