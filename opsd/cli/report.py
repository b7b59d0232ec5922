"""Handlers of the read-only verbs: status, history, playbooks, kinds, config check and show.

They answer from the configuration's snapshot (`opsd.cli.view`) and the history database: no
pydantic, no check module, no event loop unless something changed since the last validation.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from opsd.cli import output
from opsd.cli.stale import staleness
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
    results = query(view, runs.latest_results)
    now = time.time()
    # A result older than its schedule allows: nothing runs or records it any more.
    stale = [staleness(view.playbooks, r.check, r.started_at, now) for r in results]
    if args.json:
        output.print_json({
            "status": worst(r.status for r in results).value,
            "stale": any(stale),
            "results": [
                {**r.to_dict(), "age_seconds": round(now - r.started_at, 3),
                 "stale": words is not None}
                for r, words in zip(results, stale, strict=True)
            ],
        })
    elif not results:
        print("no results yet: run `opsd run-playbook daily` or start `opsd run`")
    else:
        rows = [
            (str(r.status), r.check, r.target or "-", output.format_value(r.value, r.unit),
             output.format_age(r.started_at, now),
             f"{words} — {r.summary}" if words else r.summary)
            for r, words in zip(results, stale, strict=True)
        ]
        output.table(rows, ("STATUS", "CHECK", "TARGET", "VALUE", "AGE", "SUMMARY"))
    code = worst(r.status for r in results).exit_code
    return max(code, 3) if any(stale) else code


def cmd_history(args: argparse.Namespace) -> int:
    view = open_view(args)
    try:
        window = parse_duration(args.since)
    except ValueError as exc:
        raise UsageError(f"--since: {exc}") from None
    since = time.time() - window
    results = query(view, runs.history, check=args.check, target=args.target, since=since)
    ever = results or query(view, runs.history, check=args.check, limit=1)
    if not ever and (view.playbook_problems or not view.has_check(args.check)):
        raise UsageError(f"unknown check {args.check!r}: no results and no playbook entry")
    tz = zoneinfo.ZoneInfo(view.timezone)
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
    for problem in [*problems, *warnings]:
        print(problem)
    if not problems:
        print("ok")
    return 3 if problems else 0


def cmd_config_show(args: argparse.Namespace) -> int:
    output.print_json(open_view(args).shown)
    return 0
