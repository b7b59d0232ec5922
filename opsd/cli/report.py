"""Handlers of the read-only verbs: status, history, playbooks, kinds, config check and show.

They answer from the configuration's snapshot (`opsd.cli.view`) and the history database: no
pydantic, no check module, no event loop unless something changed since the last validation.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from opsd.cli import glance, output
from opsd.cli.suggest import did_you_mean
from opsd.cli.view import View, load_kinds, load_view
from opsd.config.paths import resolve_config_path
from opsd.config.writable import storage_path_problems
from opsd.durations import parse_duration
from opsd.errors import ConfigError, PlaybookError, UsageError
from opsd.results import worst
from opsd.store import CLI_BUSY_TIMEOUT, Store, runs
from opsd.store.owner import StoreThread

P = ParamSpec("P")
T = TypeVar("T")


def open_view(args: argparse.Namespace) -> View:
    return load_view(args.config)


def query(view: View, fn: Callable[Concatenate[Store, P], T], *args: P.args, **kw: P.kwargs
          ) -> T:
    """`fn(store, ...)` on the history database, opened for this one query (on its own thread,
    busy after 2 s of another process's write lock) and closed."""
    store = StoreThread.open(view.storage_path, busy_timeout=CLI_BUSY_TIMEOUT)
    try:
        return store.run(fn, *args, **kw)
    finally:
        store.close()


def cmd_status(args: argparse.Namespace) -> int:
    view = open_view(args)
    if not view.playbook_problems:
        glance.check_playbook(args.playbook, (p.name for p in view.playbooks))
    now = time.time()
    rows = query(view, glance.status_rows, view, now)
    if view.playbook_problems:
        print("opsd: the playbooks cannot be read (see `opsd config check`): showing every "
              "check the history holds", file=sys.stderr)
        glance.check_playbook(args.playbook, {row.playbook for row in rows})
    shown = [row for row in rows if args.playbook in (None, row.playbook)
             and (row.failing or not args.failing)]
    tz = zoneinfo.ZoneInfo(view.timezone)
    if args.json:
        output.print_json({
            "status": worst(row.result.status for row in shown).value,
            "stale": any(row.stale for row in shown),
            "results": [glance.row_json(row, now, tz) for row in shown],
        })
    elif shown:
        output.table([glance.status_table_row(row, now, tz) for row in shown],
                     glance.STATUS_HEADERS)
    elif args.failing and rows:
        print("no failing checks")
    else:
        where = f" for playbook {args.playbook}" if args.playbook else ""
        print(f"no results yet{where}: run `opsd run-playbook daily` or start `opsd run`")
    return glance.exit_code(shown)


def cmd_history(args: argparse.Namespace) -> int:
    view = open_view(args)
    try:
        window = parse_duration(args.since)
    except ValueError as exc:
        raise UsageError(f"--since: {exc}") from None
    now = time.time()
    since = now - window
    series, results = query(view, glance.history_of, view, args.check, since=since, now=now,
                            playbook=args.playbook, target=args.target)
    ever = series or results or query(view, runs.history, check=args.check, limit=1)
    if not ever and (view.playbook_problems or not view.has_check(args.check)):
        raise UsageError(f"unknown check {args.check!r}: no results and no playbook entry"
                         + did_you_mean(args.check, view.check_names()))
    if args.failing:
        series = [row for row in series if row.failing]
        results = [(name, r) for name, r in results if r.status not in glance.NOT_FAILING]
    tz = zoneinfo.ZoneInfo(view.timezone)
    if args.json:
        output.print_json({"check": args.check, "since": since,
                           "series": [glance.row_json(row, now, tz) for row in series],
                           "results": [{**r.to_dict(), "playbook": name} for name, r in results]})
        return 0
    if series:
        output.table([glance.series_table_row(row, now, tz) for row in series],
                     glance.SERIES_HEADERS)
    if not results:
        failing = "failing " if args.failing else ""
        print(f"no {failing}results for {args.check} in the last {args.since}")
        return 0
    if series:
        print()
    rows = [
        (output.format_time(r.started_at, tz), name, str(r.status), r.target or "-",
         output.format_value(r.value, r.unit), r.summary)
        for name, r in results
    ]
    output.table(rows, ("TIME", "PLAYBOOK", "STATUS", "TARGET", "VALUE", "SUMMARY"))
    return 0


def cmd_playbooks(args: argparse.Namespace) -> int:
    view = open_view(args)
    if view.playbook_problems:
        raise PlaybookError(list(view.playbook_problems))
    tz = zoneinfo.ZoneInfo(view.timezone)
    now = dt.datetime.now(tz)
    last_runs = query(view, runs.last_runs)
    items: list[dict[str, Any]] = []
    rows = []
    for playbook in view.playbooks:
        next_run = playbook.next_run(view.timezone, now)
        last = last_runs.get(playbook.name, {})
        items.append({
            "name": playbook.name,
            "description": playbook.description,
            "schedule": playbook.describe_schedule(),
            "next_run": next_run.isoformat() if next_run else None,
            "last_run": last.get("started_at"),
            "last_status": last.get("status"),
            "checks": list(playbook.checks),
        })
        rows.append((
            playbook.name, playbook.describe_schedule(),
            next_run.strftime("%Y-%m-%d %H:%M %Z") if next_run else "-",
            str(len(playbook.checks)), output.format_age(last.get("started_at"), time.time()),
            playbook.description,
        ))
    if args.json:
        output.print_json({"timezone": view.timezone, "playbooks": items})
        return 0
    output.table(rows, ("PLAYBOOK", "SCHEDULE", "NEXT RUN", "CHECKS", "LAST RUN", "DESCRIPTION"))
    return 0


def cmd_kinds(args: argparse.Namespace) -> int:
    items = load_kinds()
    if args.json:
        output.print_json({"kinds": items})
        return 0
    rows = [
        (i["kind"], i["unit"] or "-", _limits(i), ", ".join(i["params"]) or "-",
         i["description"])
        for i in items
    ]
    output.table(rows, ("KIND", "UNIT", "WARN/CRIT", "PARAMS", "DESCRIPTION"))
    return 0


def _limits(kind: dict[str, Any]) -> str:
    if not (kind["warn"] or kind["crit"]):
        return "-"
    return f"{kind['direction']} {_num(kind['warn'])}/{_num(kind['crit'])}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def cmd_config_check(args: argparse.Namespace) -> int:
    warnings: tuple[str, ...] = ()
    try:
        view = open_view(args)
        problems, warnings = list(view.playbook_problems), view.routing_warnings
        # Checked every time, not snapshotted: it depends on the file system, not the inputs.
        problems += storage_path_problems(
            Path(view.storage_path), resolve_config_path(args.config, os.environ), os.environ
        )
    except ConfigError as exc:
        problems = exc.problems
    if args.json:
        output.print_json({"ok": not problems, "problems": list(problems),
                           "warnings": list(warnings)})
        return 3 if problems else 0
    for problem in [*problems, *warnings]:
        print(problem)
    if not problems:
        print("ok")
    return 3 if problems else 0


def cmd_config_show(args: argparse.Namespace) -> int:
    view = open_view(args)
    if args.json:
        output.print_json(view.shown)  # durations in seconds, for scripts
        return 0
    from opsd.config.show import humanize, to_toml

    print(to_toml(humanize(view.shown, view.shown_durations)), end="")
    return 0
