"""Handlers of the verbs that run checks: run-playbook and check (the Nagios plugin)."""

from __future__ import annotations

import argparse
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from opsd.alerting.replay import replay_app
from opsd.app import App
from opsd.cli import output
from opsd.cli.view import load_view
from opsd.playbooks import load_entry

T = TypeVar("T")


def open_app(args: argparse.Namespace) -> App:
    return App.from_config(args.config)


def run_async(app: App, coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` on a fresh loop and close the app's clients afterwards."""
    import asyncio  # only the verbs that run checks need an event loop

    async def main() -> T:
        try:
            return await coroutine
        finally:
            await app.aclose()

    return asyncio.run(main())


def cmd_run_playbook(args: argparse.Namespace) -> int:
    app = open_app(args)
    playbook = app.playbooks.get(args.name)
    replay_app(app)  # runs a crash kept from the alert engine go first
    report = run_async(app, app.runner.run(playbook, trigger="manual"))
    if args.json:
        output.print_json(report.to_dict())
    else:
        output.results_table(report.results)
        print(
            f"\n{report.playbook}: {report.status} "
            f"({len(report.results)} results in {report.finished_at - report.started_at:.2f}s)"
        )
    return report.exit_code


def cmd_check(args: argparse.Namespace) -> int:
    # Which entry: from the configuration's snapshot when nothing changed since it was
    # validated, so only that entry's check module loads (see opsd.cli.view).
    info, entry = load_view(args.config).find_check(args.name, args.playbook)
    app = open_app(args)
    playbook = load_entry(Path(info.path), entry)
    replay_app(app)  # runs a crash kept from the alert engine go first
    report = run_async(app, app.runner.run(playbook, trigger="check", only=entry))
    if args.json:
        output.print_json(report.to_dict())
    else:
        print(output.nagios_line(report.results))
    return report.exit_code
