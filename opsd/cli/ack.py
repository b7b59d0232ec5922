"""Handler of `opsd ack CHECK[/TARGET] [--comment TEXT] [--by NAME] [--remove] [--json]`."""

from __future__ import annotations

import argparse
import getpass
import time
from typing import Any

from opsd.alerting.engine import Alert, Phase
from opsd.cli import output
from opsd.cli.report import open_view, query
from opsd.cli.view import View
from opsd.errors import UsageError
from opsd.store import acks
from opsd.store import alerts as alert_store


def cmd_ack(args: argparse.Namespace) -> int:
    check, _, target = args.alert.partition("/")
    if not check:
        raise UsageError("CHECK: give the alert as CHECK or CHECK/TARGET (see `opsd alerts`)")
    view = open_view(args)
    if args.remove:
        removed = query(view, acks.unacknowledge, check, target)
        if removed is None:
            raise UsageError(f"{args.alert}: not acknowledged" + _firing_hint(view, check))
        if args.json:
            output.print_json({"removed": ack_dict(removed)})
        else:
            print(f"{removed.label}: acknowledgement by {removed.acked_by} removed")
        return 0
    by = (args.by or _user()).strip()
    if not by:
        raise UsageError("--by: must not be empty")
    alert = query(
        view, acks.acknowledge, check, target, by=by, comment=(args.comment or "").strip(),
        now=time.time(),
    )
    if alert is None:
        raise UsageError(f"{args.alert}: no firing alert" + _firing_hint(view, check))
    if args.json:
        output.print_json({"ack": ack_dict(alert)})
        return 0
    comment = f": {alert.ack_comment}" if alert.ack_comment else ""
    severity = alert.severity.value if alert.severity else "-"
    print(
        f"{alert.label} ({severity}) acknowledged by {alert.acked_by}{comment}; no reminders "
        "or escalations until it resolves or gets worse"
    )
    return 0


def ack_dict(alert: Alert) -> dict[str, Any]:
    """An alert's acknowledgement, as `--json` prints it."""
    return {
        "check": alert.check,
        "target": alert.target,
        "severity": alert.severity.value if alert.severity else None,
        "acked_by": alert.acked_by,
        "acked_at": alert.acked_at,
        "comment": alert.ack_comment,
    }


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (a bare container)
        raise UsageError("--by: cannot tell who you are; give --by NAME") from None


def _firing_hint(view: View, check: str) -> str:
    """` (firing: a/x, a/y)` when alerts of `check` fire under other targets."""
    labels = [
        a.label for a in query(view, alert_store.open_alerts)
        if a.check == check and a.phase is Phase.FIRING
    ]
    return f" (firing: {', '.join(labels)})" if labels else " (see `opsd alerts`)"
