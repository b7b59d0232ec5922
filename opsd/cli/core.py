"""Handlers of the verbs that run checks: run-playbook and check (the Nagios plugin)."""

from __future__ import annotations

import argparse
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from opsd.alerting.replay import replay_app
from opsd.app import App
from opsd.cli import output
from opsd.cli.nagios import plugin_output
from opsd.cli.view import load_view
from opsd.playbooks import load_entry
from opsd.runner import Runner

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
    from opsd.cli import emergency  # the emergency run opens an incident (opsd.incidents)

    emergency.check_reason(args)
    if args.name == emergency.EMERGENCY:
        return emergency.cmd_emergency(args)
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
    """The Nagios plugin: run one entry, print the plugin output, exit 0-3.

    By default it only looks: no run recorded, no alert transition, no baseline moved, so a
    monitoring system polling it every minute changes nothing the daemon sees. `--record`
    records the run and feeds the alert engine, as `run-playbook` does; only then do runs a
    crash kept from the alert engine go first (replaying them writes alert state, and a
    look-only run has no run of its own whose order they must precede).
    """
    # Which entry: from the configuration's snapshot when nothing changed since it was
    # validated, so only that entry's check module loads (see opsd.cli.view).
    info, entry = load_view(args.config).find_check(args.name, args.playbook)
    app = open_app(args)
    playbook = load_entry(Path(info.path), entry)
    if args.record:
        replay_app(app)
        runner = app.runner
    else:
        runner = Runner(app.settings, app.store, app.resources, clock=app.clock, read_only=True)
    report = run_async(app, runner.run(playbook, trigger="check", only=entry))
    plugin = plugin_output(report.results)
    if args.json:
        output.print_json({**report.to_dict(), "status": plugin.status.value,
                           "recorded": args.record})
    else:
        print(plugin.text)
    return plugin.exit_code
