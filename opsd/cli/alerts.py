"""Handlers of `opsd alerts [history|test]` and `opsd silence add|list|remove`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import zoneinfo
from collections import defaultdict
from typing import Any

from opsd.alerting.engine import Alert, AlertEvent, Phase
from opsd.alerting.escalation import escalated_tags
from opsd.alerting.silences import silencing, window_end
from opsd.cli import output
from opsd.cli.report import open_view, query
from opsd.cli.view import View
from opsd.durations import format_duration, parse_duration
from opsd.errors import ConfigError, UsageError
from opsd.results import worst
from opsd.store import Store, outbox, silences
from opsd.store import alerts as alert_store

EXIT_UNDELIVERED = 2
# Alerts the daemon raises itself (`observer.CONFIG_CHECK`, `DELIVERY_CHECK`; not imported:
# the observer loads the delivery stack).
DAEMON_CHECKS = ("opsd.config", "opsd.delivery")


def cmd_alerts(args: argparse.Namespace) -> int:
    """Open alerts with what is true now; exit code = the worst firing severity (0/1/2)."""
    view = open_view(args)
    now = time.time()
    shown = query(view, _open_alerts_now, view, now)
    code = worst(
        s.alert.severity for s in shown
        if s.alert.phase is Phase.FIRING and s.alert.severity is not None
    ).exit_code
    if args.json:
        output.print_json({"alerts": [_alert_dict(s) for s in shown]})
        return code
    if not shown:
        print("no firing or pending alerts")
        return code
    rows = [
        (s.alert.phase.value, s.alert.severity.value if s.alert.severity else "-", s.alert.label,
         output.format_age(s.alert.since, now), _notified_text(s, now), s.silenced_by or "-",
         s.alert.suppressed_by or "-", _acked_text(s.alert, now),
         "yes" if s.alert.flapping else "-", s.alert.summary)
        for s in shown
    ]
    output.table(rows, ("STATE", "SEVERITY", "ALERT", "SINCE", "NOTIFIED", "SILENCED",
                        "SUPPRESSED", "ACKED", "FLAPPING", "SUMMARY"))
    return code


@dataclasses.dataclass(frozen=True)
class _Shown:
    """An open alert as `opsd alerts` shows it: its state, and what is true of it now."""

    alert: Alert
    silenced_by: str | None  # what silences it now (a silence, a maintenance window)
    notified_at: float | None  # when the latest message about it was delivered
    # delivered, uncertain (sent, outcome unknown: going out again), queued, abandoned; None:
    # no message for it
    notification: str | None


def _open_alerts_now(store: Store, view: View, now: float) -> list[_Shown]:
    """The open alerts, with their silences in force and their messages' outbox rows."""
    open_alerts = alert_store.open_alerts(store)
    if not open_alerts:
        return []
    since = min(a.since if a.since is not None else now for a in open_alerts)
    silenced = silencing(silences.active_silences(store, now), view.maintenance, view.timezone,
                         now)
    deliveries = _deliveries(outbox.outbox_rows(store, since))
    sent: dict[tuple[str, str], list[tuple[float, dict[str, Any]]]] = defaultdict(list)
    for event in alert_store.events_since(store, since):
        for delivery in deliveries.get(event.id or 0, []):
            sent[(event.check, event.target)].append((event.at, delivery))
    shown = []
    for alert in open_alerts:
        mine = [d for at, d in sent[(alert.check, alert.target)] if at >= (alert.since or now)]
        delivered = [d["delivered_at"] for d in mine if d["status"] == "delivered"]
        statuses = {d["status"] for d in mine}
        notification = next(
            (s for s in ("delivered", "uncertain", "queued", "abandoned") if s in statuses),
            None,
        )
        shown.append(_Shown(
            alert, alert.silenced_by or silenced(alert.check, alert.kind, alert.target),
            max(delivered, default=None), notification,
        ))
    return shown


def _notified_text(shown: _Shown, now: float) -> str:
    if shown.notification == "delivered":
        return output.format_age(shown.notified_at, now)
    return {"queued": "queued", "uncertain": "uncertain", "abandoned": "failed"}.get(
        shown.notification or "", "-"
    )


def _acked_text(alert: Alert, now: float) -> str:
    if not alert.acked_by:
        return "-"
    return f"{alert.acked_by} {output.format_age(alert.acked_at, now)}"


def cmd_alerts_history(args: argparse.Namespace) -> int:
    view = open_view(args)
    since = time.time() - _duration("--since", args.since)
    events = query(view, alert_store.events_since, since)
    deliveries = _deliveries(query(view, outbox.outbox_rows, since))
    if args.json:
        output.print_json({
            "since": since,
            "events": [
                {**_event_dict(e), "deliveries": deliveries.get(e.id or 0, [])} for e in events
            ],
        })
        return 0
    if not events:
        print(f"no alert events in the last {args.since}")
        return 0
    tz = _zone(view)
    rows = [
        (output.format_time(e.at, tz), e.type.value, e.severity.value, e.label,
         _delivery_text(e, deliveries.get(e.id or 0, [])), e.resolution or e.summary)
        for e in events
    ]
    output.table(rows, ("TIME", "EVENT", "SEVERITY", "ALERT", "DELIVERY", "SUMMARY"))
    return 0


def cmd_alerts_test(args: argparse.Namespace) -> int:
    from opsd.alerting.notify import send_test  # starts the delivery child process
    from opsd.config import load_settings

    outcomes = send_test(load_settings(args.config), args.tag)
    if not outcomes:
        tagged = f" tagged {args.tag!r}" if args.tag else ""
        raise ConfigError(f"alerts.urls: no alert URLs{tagged} configured")
    delivered = sum(error is None for _, error in outcomes)
    if args.json:
        output.print_json({
            "delivered": delivered,
            "total": len(outcomes),
            "destinations": [
                {"label": d.label, "tags": sorted(d.tags), "delivered": error is None,
                 "error": error}
                for d, error in outcomes
            ],
        })
        return 0 if delivered == len(outcomes) else EXIT_UNDELIVERED
    for destination, error in outcomes:
        tags = f" [{','.join(sorted(destination.tags))}]" if destination.tags else ""
        if error is None:
            print(f"delivered  {destination.label}{tags}")
        else:
            print(f"FAILED     {destination.label}{tags}: {error}")
    print(f"{delivered}/{len(outcomes)} delivered")
    return 0 if delivered == len(outcomes) else EXIT_UNDELIVERED


def cmd_silence_add(args: argparse.Namespace) -> int:
    duration = _duration("--for", args.duration)
    if duration <= 0:
        raise UsageError("--for: must be longer than 0s")
    if not args.reason.strip():
        raise UsageError("--reason: must not be empty")
    view = open_view(args)
    if not _matches_known(view, args.check):
        print(
            f"warning: --check {args.check!r} matches no check or kind in the playbooks "
            "(`opsd playbooks` lists them); adding the silence anyway",
            file=sys.stderr,
        )
    silence = query(
        view, silences.add_silence, pattern=args.check, target=args.target, duration=duration,
        reason=args.reason.strip(), now=time.time(),
    )
    if args.json:
        output.print_json({"added": silence.to_dict()})
        return 0
    target = f" (target {silence.target})" if silence.target else ""
    print(
        f"silence {silence.id} added: {silence.pattern}{target} until "
        f"{output.format_time(silence.ends_at, _zone(view))} "
        f"({format_duration(duration)}): {silence.reason}"
    )
    return 0


def _matches_known(view: View, pattern: str) -> bool:
    """True if `pattern` matches a playbook entry's name or kind, or an alert of the daemon's."""
    entries = [(c, k) for p in view.playbooks for c, k in zip(p.checks, p.kinds, strict=True)]
    entries += [(check, check) for check in DAEMON_CHECKS]
    return any(silences.matches_any([pattern], check, kind) for check, kind in entries)


def cmd_silence_list(args: argparse.Namespace) -> int:
    view = open_view(args)
    now = time.time()
    active = query(view, silences.active_silences, now)
    windows = [
        (w, end) for w in view.maintenance
        if (end := window_end(w, view.timezone, now)) is not None
    ]
    if args.json:
        output.print_json({
            "silences": [s.to_dict() for s in active],
            "maintenance": [
                {"name": w.name, "checks": list(w.checks), "ends_at": end} for w, end in windows
            ],
        })
        return 0
    if not active and not windows:
        print("no active silences or maintenance windows")
        return 0
    tz = _zone(view)
    rows = [
        (str(s.id), s.pattern, s.target or "*", output.format_time(s.ends_at, tz), s.reason)
        for s in active
    ] + [
        ("-", ",".join(w.checks), "*", output.format_time(end, tz), f"maintenance window {w.name}")
        for w, end in windows
    ]
    output.table(rows, ("ID", "CHECK", "TARGET", "UNTIL", "REASON"))
    return 0


def cmd_silence_remove(args: argparse.Namespace) -> int:
    try:
        silence_id = int(args.id)
    except ValueError:
        raise UsageError(f"silence id must be a number, not {args.id!r}") from None
    removed = query(open_view(args), silences.remove_silence, silence_id, time.time())
    if removed is None:
        raise UsageError(f"no active silence with id {silence_id} (see `opsd silence list`)")
    if args.json:
        output.print_json({"removed": removed.to_dict()})
        return 0
    print(f"silence {removed.id} removed: {removed.pattern} ({removed.reason})")
    return 0


def _duration(option: str, text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def _zone(view: View) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(view.timezone)


def _alert_dict(shown: _Shown) -> dict[str, Any]:
    alert = shown.alert
    return {
        "check": alert.check,
        "target": alert.target,
        "kind": alert.kind,
        "playbook": alert.playbook,
        "state": alert.phase.value,
        "severity": alert.severity.value if alert.severity else None,
        "since": alert.since,
        "fired_at": alert.fired_at,
        "notified_severity": alert.notified_severity.value if alert.notified_severity else None,
        "notified_at": shown.notified_at,
        "notification": shown.notification,
        "silenced_by": shown.silenced_by,
        "suppressed_by": alert.suppressed_by,
        "acked_by": alert.acked_by,
        "acked_at": alert.acked_at,
        "ack_comment": alert.ack_comment,
        "escalated_to": escalated_tags(alert.escalated_to),
        "flapping": alert.flapping,
        "value": alert.value,
        "unit": alert.unit,
        "summary": alert.summary,
    }


def _event_dict(event: AlertEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": event.type.value,
        "check": event.check,
        "target": event.target,
        "kind": event.kind,
        "playbook": event.playbook,
        "severity": event.severity.value,
        "at": event.at,
        "since": event.since,
        "summary": event.summary,
        "resolution": event.resolution,
        "hint": event.hint,
        "value": event.value,
        "previous_severity": event.previous_severity.value if event.previous_severity else None,
        "silenced_by": event.silenced_by,
        "suppressed_by": event.suppressed_by,
        "holding": event.holding,
        "acked_by": event.acked_by,
        "escalated_to": escalated_tags(event.escalated_to),
    }


def _deliveries(rows: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """Outbox rows by the event ids they carry. `uncertain`: an attempt's outcome is unknown
    (its sender died mid-send), so the receiver may get the message twice, the second time
    marked as a possible repeat; status `uncertain` while that resend is still to go."""
    by_event: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        status = (
            "delivered" if row["delivered_at"] else "abandoned" if row["abandoned_at"]
            else "uncertain" if row["uncertain"] else "queued"
        )
        delivery = {
            "url": row["url_label"], "status": status, "attempts": row["attempts"],
            "last_error": row["last_error"], "delivered_at": row["delivered_at"],
            "uncertain": bool(row["uncertain"]),
        }
        for event_id in json.loads(row["event_ids"]):
            by_event[event_id].append(delivery)
    return by_event


def _delivery_text(event: AlertEvent, deliveries: list[dict[str, Any]]) -> str:
    if event.silenced_by:
        return f"held ({event.silenced_by})"
    if event.suppressed_by:
        return f"held by {event.suppressed_by}"
    if not deliveries:
        return "no URL"
    delivered = sum(d["status"] == "delivered" for d in deliveries)
    text = f"{delivered}/{len(deliveries)} delivered"
    if unknown := sum(d["uncertain"] for d in deliveries):
        text += f", {unknown} uncertain"
    errors = [d["last_error"] for d in deliveries if d["status"] != "delivered"]
    return text + (f" ({errors[-1]})" if errors and errors[-1] else "")
