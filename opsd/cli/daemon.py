"""Handlers of `opsd run` (the daemon) and `opsd demo` (the daemon against the sandbox)."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from opsd.app import App
from opsd.cli import demo, output
from opsd.config import Settings, config_file_of, load_settings
from opsd.config.writable import require_writable_storage
from opsd.daemon.scheduler import catch_up_order
from opsd.daemon.service import Daemon
from opsd.results import RunReport, worst


def cmd_run(args: argparse.Namespace) -> int:
    """Run the daemon until SIGTERM/SIGINT."""
    settings = load_settings(args.config)
    require_writable_storage(settings.storage.path, config_file_of(settings))
    daemon = Daemon(settings)
    return asyncio.run(daemon.run())


def cmd_demo(args: argparse.Namespace) -> int:
    """Start the sandbox, then the daemon (or every playbook once) against it."""
    with tempfile.TemporaryDirectory(prefix="opsd-demo-") as tmp, demo.start_sandbox() as sandbox:
        config = demo.demo_config(Path(tmp), sandbox.url, demo.free_port())
        # No environment: the user's NOTION_API_TOKEN or OPSD_* must not leak into the demo.
        settings = load_settings(config, env={})
        if args.once:
            return _run_every_playbook_once(settings)
        metrics_url = f"http://{settings.metrics.host}:{settings.metrics.port}"
        print(demo.banner(sandbox.url, metrics_url, config), flush=True)
        return asyncio.run(Daemon(settings, env={}).run())


def _run_every_playbook_once(settings: Settings) -> int:
    app = App(settings)

    async def run_all() -> list[RunReport]:
        try:
            # History trends last, so they judge this demo's probes.
            return [
                await app.runner.run(p, trigger="manual") for p in catch_up_order(app.playbooks)
            ]
        finally:
            await app.aclose()

    reports = asyncio.run(run_all())
    for report in reports:
        took = report.finished_at - report.started_at
        print(f"\n== {report.playbook}: {report.status} ({took:.2f}s)")
        output.results_table(report.results)
    status = worst(r.status for r in reports)
    results = sum(len(r.results) for r in reports)
    print(f"\ndemo: {status} ({len(reports)} playbooks, {results} results)")
    app.close_store()
    return status.exit_code
