"""Handlers of the everyday verbs: run-playbook, check, status, history, playbooks, config."""

from __future__ import annotations

import argparse
import datetime as dt
import time
import zoneinfo
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from opsd.app import App
from opsd.cli import output
from opsd.config import load_settings
from opsd.durations import parse_duration
from opsd.errors import ConfigError, OpsdError, UsageError
from opsd.results import Status, worst
from opsd.store import runs

if TYPE_CHECKING:
    from opsd.thresholds import Thresholds

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
    app = open_app(args)
    playbooks = app.playbooks
    if args.playbook:
        playbook = playbooks.get(args.playbook)
        spec = next((s for s in playbook.checks if s.name == args.name), None)
        if spec is None:
            raise UsageError(f"playbook {playbook.name!r} has no check {args.name!r}")
    else:
        playbook, spec = playbooks.find_check(args.name)
    report = run_async(app, app.runner.run(playbook, trigger="check", only=spec.name))
    if args.json:
        output.print_json(report.to_dict())
    else:
        print(output.nagios_line(report.results))
    return report.exit_code


def cmd_status(args: argparse.Namespace) -> int:
    app = open_app(args)
    results = app.store.run(runs.latest_results)
    now = time.time()
    if args.json:
        output.print_json({
            "status": worst(r.status for r in results).value,
            "results": [
                {**r.to_dict(), "age_seconds": round(now - r.started_at, 3)} for r in results
            ],
        })
    elif not results:
        print("no results yet: run `opsd run-playbook daily` or start `opsd run`")
    else:
        rows = [
            (str(r.status), r.check, r.target or "-", output.format_value(r.value, r.unit),
             output.format_age(r.started_at, now), r.summary)
            for r in results
        ]
        output.table(rows, ("STATUS", "CHECK", "TARGET", "VALUE", "AGE", "SUMMARY"))
    return worst(r.status for r in results).exit_code


def cmd_history(args: argparse.Namespace) -> int:
    app = open_app(args)
    try:
        window = parse_duration(args.since)
    except ValueError as exc:
        raise UsageError(f"--since: {exc}") from None
    since = time.time() - window
    results = app.store.run(runs.history, check=args.check, target=args.target, since=since)
    if not results and not app.store.run(runs.history, check=args.check, limit=1):
        try:
            app.playbooks.find_check(args.check)
        except OpsdError:
            raise UsageError(
                f"unknown check {args.check!r}: no results and no playbook entry"
            ) from None
    tz = zoneinfo.ZoneInfo(app.settings.scheduler.timezone)
    if args.json:
        output.print_json({"check": args.check, "since": since,
                           "results": [r.to_dict() for r in results]})
        return 0
    if not results:
        print(f"no results for {args.check} in the last {args.since}")
        return 0
    rows = [
        (output.format_time(r.started_at, tz), str(r.status), r.target or "-",
         output.format_value(r.value, r.unit), r.summary)
        for r in results
    ]
    output.table(rows, ("TIME", "STATUS", "TARGET", "VALUE", "SUMMARY"))
    return 0


def cmd_playbooks(args: argparse.Namespace) -> int:
    app = open_app(args)
    tz_name = app.settings.scheduler.timezone
    tz = zoneinfo.ZoneInfo(tz_name)
    now = dt.datetime.now(tz)
    last_runs = app.store.run(runs.last_runs)
    items = []
    for playbook in app.playbooks:
        next_run = playbook.next_run(tz_name, now)
        last = last_runs.get(playbook.name, {})
        items.append({
            "name": playbook.name,
            "description": playbook.description,
            "schedule": playbook.describe_schedule(),
            "next_run": next_run.isoformat() if next_run else None,
            "last_run": last.get("started_at"),
            "last_status": last.get("status"),
            "checks": [s.name for s in playbook.checks],
        })
    if args.json:
        output.print_json({"timezone": tz_name, "playbooks": items})
        return 0
    rows = []
    for playbook in app.playbooks:
        next_run = playbook.next_run(tz_name, now)
        rows.append((
            playbook.name, playbook.describe_schedule(),
            next_run.strftime("%Y-%m-%d %H:%M %Z") if next_run else "-",
            str(len(playbook.checks)),
            output.format_age(last_runs.get(playbook.name, {}).get("started_at"), time.time()),
            playbook.description,
        ))
    output.table(rows, ("PLAYBOOK", "SCHEDULE", "NEXT RUN", "CHECKS", "LAST RUN", "DESCRIPTION"))
    return 0


def cmd_kinds(args: argparse.Namespace) -> int:
    from opsd.checks import all_kinds

    kinds = all_kinds()
    items = [
        {
            "kind": k.name,
            "description": k.description,
            "unit": k.unit,
            "warn": k.thresholds.warn,
            "crit": k.thresholds.crit,
            "direction": k.thresholds.direction,
            "params": sorted(k.params.model_fields),
        }
        for k in kinds.values()
    ]
    if args.json:
        output.print_json({"kinds": items})
        return 0
    rows = [
        (k.name, k.unit or "-", _limits(k.thresholds), ", ".join(sorted(k.params.model_fields))
         or "-", k.description)
        for k in kinds.values()
    ]
    output.table(rows, ("KIND", "UNIT", "WARN/CRIT", "PARAMS", "DESCRIPTION"))
    return 0


def _limits(thresholds: Thresholds) -> str:
    if not (thresholds.warn or thresholds.crit):
        return "-"
    return f"{thresholds.direction} {_num(thresholds.warn)}/{_num(thresholds.crit)}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def cmd_config_check(args: argparse.Namespace) -> int:
    problems: list[str] = []
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        problems.extend(exc.problems)
        settings = None
    if settings is not None:
        from opsd.playbooks import load_playbooks

        try:
            load_playbooks(settings)
        except ConfigError as exc:
            problems.extend(exc.problems)
    for problem in problems:
        print(problem)
    if not problems:
        print("ok")
    return 3 if problems else 0


def cmd_config_show(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    data = settings.model_dump(mode="json")
    output.print_json(data)
    return int(Status.OK.exit_code)
