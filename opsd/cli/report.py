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

from opsd.cli import circuit_status, glance, history_tiers, output
from opsd.cli.incident_line import open_incident as incident_line_of
from opsd.cli.suggest import did_you_mean
from opsd.cli.view import View, load_kinds, load_view
from opsd.config.paths import resolve_config_path
from opsd.config.writable import storage_path_problems
from opsd.durations import parse_duration
from opsd.errors import ConfigError, PlaybookError, UsageError
from opsd.notion.circuit import state_json
from opsd.results import worst
from opsd.store import CLI_BUSY_TIMEOUT, Store, rollups, runs
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
    circuit = query(view, circuit_status.stored_circuit)
    incident_line, incident = query(view, incident_line_of, now, view.timezone)  # it leads
    if args.json:
        output.print_json({
            "status": worst(row.result.status for row in shown).value,
            "stale": any(row.stale for row in shown),
            "results": [glance.row_json(row, now, tz) for row in shown],
            "notion_circuit": state_json(circuit),
            "incident": incident,
        })
        return glance.exit_code(shown)
    if incident_line:
        print(incident_line)
    line = circuit_status.circuit_line(circuit, view.timezone)
    if line is not None:
        print(line)
    if shown:
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
    tier = history_tiers.tier_for(view, window)
    if tier != "raw":
        return _rollup_history(args, view, tier, since, now)
    series, results = query(view, glance.history_of, view, args.check, since=since, now=now,
                            playbook=args.playbook, target=args.target)
    ever = series or results or query(view, runs.history, check=args.check, limit=1)
    if not ever and (view.playbook_problems or not view.has_check(args.check)):
        raise _unknown_check(view, args.check)
    if args.failing:
        series = [row for row in series if row.failing]
        results = [(name, r) for name, r in results if r.status not in glance.NOT_FAILING]
    tz = zoneinfo.ZoneInfo(view.timezone)
    if args.json:
        output.print_json({"check": args.check, "since": since, "tier": tier,
                           "series": [glance.row_json(row, now, tz) for row in series],
                           "results": [{**r.to_dict(), "playbook": name} for name, r in results]})
        return 0
    if not _series_heading(args, series, bool(results), now, tz):
        return 0
    rows = [
        (output.format_time(r.started_at, tz), name, str(r.status), r.target or "-",
         output.format_value(r.value, r.unit), r.summary)
        for name, r in results
    ]
    output.table(rows, ("TIME", "PLAYBOOK", "STATUS", "TARGET", "VALUE", "SUMMARY"))
    return 0


def _rollup_history(args: argparse.Namespace, view: View, tier: str, since: float,
                    now: float) -> int:
    """`opsd history` over a window longer than raw results are kept: the check's hourly
    or daily rollups, under the series' current standing."""
    series, _ = query(view, glance.history_of, view, args.check, since=now, now=now,
                      playbook=args.playbook, target=args.target)
    rows = [row for row in query(view, rollups.tier_rows, tier, check=args.check,
                                 target=args.target, since=since, until=now)
            if args.playbook in (None, row[1][0])]
    if not series and not rows and not view.has_check(args.check):
        raise _unknown_check(view, args.check)
    # Every series' unit, the ones --failing leaves out too: their past periods may have failed.
    units = {(row.playbook, row.result.target): row.result.unit for row in series}
    if args.failing:
        series = [row for row in series if row.failing]
        rows = [row for row in rows if history_tiers.failing(row[2])]
    tz = zoneinfo.ZoneInfo(view.timezone)
    if args.json:
        output.print_json({"check": args.check, "since": since, "tier": tier,
                           "series": [glance.row_json(row, now, tz) for row in series],
                           "rollups": history_tiers.rollups_json(rows)})
        return 0
    if not _series_heading(args, series, bool(rows), now, tz):
        return 0
    history_tiers.print_rollups(rows, tier, view, units)
    return 0


def _unknown_check(view: View, check: str) -> UsageError:
    return UsageError(f"unknown check {check!r}: no results and no playbook entry"
                      + did_you_mean(check, view.check_names()))


def _series_heading(args: argparse.Namespace, series: list[glance.Row], found: bool,
                    now: float, tz: dt.tzinfo) -> bool:
    """Print the series heading `opsd history`'s rows, then a blank line before them; without
    rows (`found` false) say so instead and return False."""
    if series:
        output.table([glance.series_table_row(row, now, tz) for row in series],
                     glance.SERIES_HEADERS)
    if not found:
        failing = "failing " if args.failing else ""
        print(f"no {failing}results for {args.check} in the last {args.since}")
        return False
    if series:
        print()
    return True


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
