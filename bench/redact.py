"""Benchmark: the cost of redaction, which runs on every log line, result summary and alert.

`Settings.redact` replaces each configured secret in every form it may take (raw, JSON- and
repr-escaped, URL-encoded, base64, hex). The forms are built once per set of secrets; this
prints the time of one call on texts of typical sizes, with the number of forms searched, and
the time of building the forms for a fresh set of secrets.

    python bench/redact.py [--secrets 6] [--calls 20000]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from opsd.config import Settings
from opsd.redact import Redactor, encoded_forms


def settings_with(count: int) -> Settings:
    """A token, a webhook URL and `count - 2` Redis passwords."""
    caches = [{"name": f"c{i}", "source": "redis://127.0.0.1:6379/0",
               "password": f"redis-password-{i:04d}-xyz"} for i in range(max(0, count - 2))]
    return Settings(notion={"token": "ntn_12345678901abcdefghijklmnopqrstuvwxyzABCDEFGHI"},
                    alerts={"urls": ["json://opsd:hook-pass-5f2c9e@127.0.0.1:9/hook"]},
                    caches=caches)


def per_call(fn: Callable[[str], str], text: str, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        fn(text)
    return (time.perf_counter() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--secrets", type=int, default=6)
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()
    settings = settings_with(args.secrets)
    secrets = tuple(settings.secret_values())
    forms = sum(len(encoded_forms(s)) for s in secrets)
    started = time.perf_counter()
    for _ in range(100):
        Redactor(secrets)
    build = (time.perf_counter() - started) / 100
    print(f"{len(secrets)} secrets, {forms} forms; building them: {build * 1e3:.2f} ms "
          "(once per set of secrets)")
    samples = {
        "log line (120 B)": "run finished playbook=realtime status=OK duration=0.42 "
                            "checks=6 next=2026-11-30T16:00:00Z " + "x" * 40,
        "result details (2 KiB)": "{" + '"k": "value", ' * 140 + "}",
        "alert body (8 KiB)": "line of an alert message with a hint\n" * 220,
    }
    for label, text in samples.items():
        seconds = per_call(settings.redact, text, args.calls)
        print(f"  {label:<24} {seconds * 1e6:8.1f} µs per call")


if __name__ == "__main__":
    main()
