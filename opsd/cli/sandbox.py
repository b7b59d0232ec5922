"""`opsd sandbox`: serve the local Notion API in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import TYPE_CHECKING, Any

from opsd.durations import parse_duration
from opsd.errors import UsageError
from opsd.redact import redact_secret

if TYPE_CHECKING:  # the sandbox is imported lazily, so `opsd --help` stays fast
    from opsd.sandbox import Sandbox

# Named faults: what stands in front of Notion, or Notion's own JSON where a status has two.
_NAMED_FAULTS: dict[str, dict[str, Any]] = {
    "unauthorized": {"status": 401},
    "cloudflare-403": {"status": 403, "html": True},
    "html-404": {"status": 404, "html": True},
    "json-502": {"status": 502, "html": False},
    "database-503": {"status": 503, "code": "database_connection_unavailable"},
}
FAULTS = ("401", "429", "500", "502", "503", "504", "529", *_NAMED_FAULTS, "hang")


def cmd_sandbox(args: argparse.Namespace) -> int:
    """Start the sandbox, print one line (URL, redacted token, database ids), wait for a signal."""
    from opsd.sandbox import DATABASES, SANDBOX_TOKEN, Sandbox, SandboxError

    latency = _latency(args.latency)
    try:
        sandbox = Sandbox(host=args.host, port=args.port,
                          rate=3.0 if args.rate is None else args.rate,
                          burst=10 if args.burst is None else args.burst)
        sandbox.set_latency(latency)
        _apply_fault(sandbox, args.fault)
    except (SandboxError, ValueError) as exc:
        raise UsageError(f"sandbox: {exc}") from None
    try:
        sandbox.start()
    except OSError as exc:
        raise UsageError(f"sandbox: cannot listen on {args.host}:{args.port}: "
                         f"{exc.strerror or exc}") from None
    databases = " ".join(f"{name.replace(' ', '_')}={db_id}" for name, db_id in DATABASES.items())
    print(f"opsd sandbox: {sandbox.url} token {redact_secret(SANDBOX_TOKEN)} "
          f"(opsd.sandbox.SANDBOX_TOKEN) databases {databases}", flush=True)
    _wait_for_signal()
    sandbox.stop()
    return 0


def _latency(value: str | None) -> float:
    if value is None:
        return 0.0
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise UsageError(f"--latency: {exc}") from None


def _apply_fault(sandbox: Sandbox, fault: str | None) -> None:
    if fault is None:
        return
    if fault not in FAULTS:
        raise UsageError(f"--fault: unknown fault {fault!r} (use one of {', '.join(FAULTS)})")
    if fault == "hang":
        sandbox.hang(True)
    else:
        sandbox.fail(**_NAMED_FAULTS[fault] if fault in _NAMED_FAULTS else {"status": int(fault)})


def _wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM (both end the sandbox cleanly, exit code 0)."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(timeout=1.0):
        continue
