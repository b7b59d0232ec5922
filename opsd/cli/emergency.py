"""`opsd run-playbook emergency [--reason TEXT]`: the run opens or joins an incident and
always sends its summary (`opsd.incidents.emergency`).

`--reason` belongs to the emergency playbook only: with another playbook it is a usage error
(exit 3), since no incident would record it — `opsd incident note ID TEXT` notes anything.
"""

from __future__ import annotations

import argparse
import asyncio

from opsd.alerting.replay import replay_app
from opsd.app import App
from opsd.cli import output
from opsd.errors import UsageError
from opsd.incidents.emergency import EMERGENCY, EmergencyRun, run_emergency


def check_reason(args: argparse.Namespace) -> None:
    """`--reason` with a playbook other than `emergency`: one line, exit 3."""
    if getattr(args, "reason", None) is not None and args.name != EMERGENCY:
        raise UsageError(
            f"--reason: only `opsd run-playbook {EMERGENCY}` opens an incident with a reason; "
            "add a note to an incident with `opsd incident note ID TEXT`"
        )


def cmd_emergency(args: argparse.Namespace) -> int:
    app = App.from_config(args.config)
    app.playbooks.get(EMERGENCY)  # an unknown playbook: one line before anything is recorded
    replay_app(app)  # runs a crash kept from the alert engine go first
    done = asyncio.run(_run(app, app.settings.redact((args.reason or "").strip())))
    if args.json:
        output.print_json({**done.report.to_dict(), **_json(done)})
        return done.report.exit_code
    output.results_table(done.report.results)
    report = done.report
    print(f"\n{report.playbook}: {report.status} ({len(report.results)} results in "
          f"{report.finished_at - report.started_at:.2f}s)")
    for line in _lines(done):
        print(line)
    return report.exit_code


async def _run(app: App, reason: str) -> EmergencyRun:
    try:
        return await run_emergency(app, reason)
    finally:
        await app.aclose()


def _json(done: EmergencyRun) -> dict[str, object]:
    return {
        "incident": {**done.run.incident.to_dict(), "joined": done.run.joined},
        "summary": {"recipients": list(done.recipients), "tagged": done.tagged,
                    "outbox_waiting": done.waiting},
    }


def _lines(done: EmergencyRun) -> list[str]:
    incident = done.run.incident
    lines = [
        f"joined open incident {incident.id} (a note records this run)" if done.run.joined
        else f"opened incident {incident.id}: `opsd incident show {incident.id}`",
    ]
    if not done.recipients:
        lines.append("no alert URLs configured (alerts.urls): no summary sent")
        return lines
    which = "tagged emergency" if done.tagged else "none tagged emergency: all URLs"
    sent = "queued for" if done.waiting else "sent to"
    lines.append(f"summary {sent} {len(done.recipients)} URL(s) ({which})")
    if done.waiting:
        lines.append(f"{done.waiting} message(s) still waiting in the outbox: retried by the "
                     "daemon or the next command (`opsd alerts history`)")
    return lines
