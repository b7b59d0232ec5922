"""Handlers of `opsd incident list|show ID|note ID TEXT|close ID` and of the emergency run
(`opsd run-playbook emergency [--reason TEXT]`).

Times are shown in `scheduler.timezone`. An unknown incident id is one line and exit 3;
closing an incident that is closed already says so and changes nothing (exit 0: what was
asked — the incident closed — is true).
"""

from __future__ import annotations

import argparse
import time
import zoneinfo

from opsd.cli import output
from opsd.cli.report import open_view, query
from opsd.durations import format_duration
from opsd.errors import UsageError
from opsd.incidents import timeline
from opsd.incidents.opening import whoami
from opsd.store import Store, incidents
from opsd.store.incidents import Incident

LIST_HEADERS = ("ID", "OPENED", "BY", "STATE", "RESOLVED IN", "REASON")


# --- list ----------------------------------------------------------------------------------


def cmd_incident_list(args: argparse.Namespace) -> int:
    view = open_view(args)
    now = time.time()
    listed = query(view, _listing, now)
    if args.json:
        output.print_json({"incidents": [
            {**incident.to_dict(), "alerts_firing": firing} for incident, firing in listed
        ]})
        return 0
    if not listed:
        print("no incidents")
        return 0
    tz = zoneinfo.ZoneInfo(view.timezone)
    output.table([_list_row(incident, firing, tz) for incident, firing in listed], LIST_HEADERS)
    return 0


def _listing(store: Store, now: float) -> list[tuple[Incident, int | None]]:
    """Every incident, newest first; for open ones, how many of their alerts still fire."""
    return [
        (i, incidents.alerts_still_firing(store, i.opened_at, now) if i.is_open else None)
        for i in incidents.list_incidents(store)
    ]


def _list_row(incident: Incident, firing: int | None, tz: zoneinfo.ZoneInfo) -> list[str]:
    if incident.is_open:
        note = timeline.firing_note(firing)
        state = f"open ({note})" if note else "open"
    else:
        state = f"closed by {incident.closed_by}"
    took = incident.time_to_resolve
    return [str(incident.id), output.format_time(incident.opened_at, tz), incident.opened_by,
            state, "-" if took is None else format_duration(took), incident.reason or "-"]


# --- show ----------------------------------------------------------------------------------


def cmd_incident_show(args: argparse.Namespace) -> int:
    view = open_view(args)
    incident_id = _incident_id(args.id)
    now = time.time()
    found = query(view, _shown, incident_id, now)
    if found is None:
        raise _unknown(args.id)
    incident, entries = found
    if args.json:
        output.print_json({"incident": incident.to_dict(),
                           "timeline": timeline.as_rows(entries)})
        return 0
    tz = zoneinfo.ZoneInfo(view.timezone)
    print(_header(incident, tz, now))
    print()
    output.table([[output.format_time(e.at, tz), e.source.upper(), e.text] for e in entries],
                 ("TIME", "WHAT", "DETAIL"))
    return 0


def _shown(store: Store, incident_id: int, now: float
           ) -> tuple[Incident, list[timeline.Entry]] | None:
    """The incident and its timeline: one query per source, merged in `timeline.merge`."""
    incident = incidents.get(store, incident_id)
    if incident is None:
        return None
    start, end = incident.opened_at, incident.end(now)
    return incident, timeline.merge(
        incident, now,
        events=incidents.alert_events_between(store, start, end),
        runs=incidents.runs_between(store, start, end),
        silences=incidents.silences_between(store, start, end),
        notes=incidents.notes(store, incident_id),
    )


def _header(incident: Incident, tz: zoneinfo.ZoneInfo, now: float) -> str:
    lines = [
        f"incident {incident.id}: {incident.reason or '(no reason given)'}",
        f"opened   {output.format_time(incident.opened_at, tz)} by {incident.opened_by} "
        f"({incident.trigger})",
    ]
    if incident.closed_at is None:
        lines.append(f"state    open for {format_duration(now - incident.opened_at)}")
    else:
        resolution = f": {incident.resolution}" if incident.resolution else ""
        lines.append(f"closed   {output.format_time(incident.closed_at, tz)} by "
                     f"{incident.closed_by}{resolution}")
        lines.append(f"resolved in {format_duration(incident.time_to_resolve or 0.0)}")
    return "\n".join(lines)


# --- note and close ------------------------------------------------------------------------


def cmd_incident_note(args: argparse.Namespace) -> int:
    text = " ".join(args.text).strip()
    if not text:
        raise UsageError("TEXT: the note must not be empty")
    view = open_view(args)
    text = _redacted(args, text)
    incident_id = _incident_id(args.id)
    note = query(view, _noted, incident_id, whoami(), text, time.time())
    if note is None:
        raise _unknown(args.id)
    if args.json:
        output.print_json({"note": note.to_dict()})
    else:
        print(f"note added to incident {incident_id} by {note.author}")
    return 0


def _noted(store: Store, incident_id: int, author: str, text: str, now: float
           ) -> incidents.Note | None:
    with store.transaction():
        if incidents.get(store, incident_id) is None:
            return None
        return incidents.add_note(store, incident_id, now=now, author=author, text=text)


def cmd_incident_close(args: argparse.Namespace) -> int:
    view = open_view(args)
    incident_id = _incident_id(args.id)
    resolution = _redacted(args, (args.resolution or "").strip())
    closed, before = query(view, _closed, incident_id, whoami(), resolution, time.time())
    if before is None:
        raise _unknown(args.id)
    incident = closed or before
    if args.json:
        output.print_json({"incident": incident.to_dict(), "already_closed": closed is None})
        return 0
    tz = zoneinfo.ZoneInfo(view.timezone)
    took = format_duration(incident.time_to_resolve or 0.0)
    if closed is None:
        print(f"incident {incident.id} was closed already, at "
              f"{output.format_time(incident.closed_at, tz)} by {incident.closed_by} "
              f"(resolved in {took}); nothing changed")
    else:
        print(f"incident {incident.id} closed by {incident.closed_by}: resolved in {took}")
    return 0


def _closed(store: Store, incident_id: int, by: str, resolution: str, now: float
            ) -> tuple[Incident | None, Incident | None]:
    """(the incident closed now, else None; the incident as it was, None if unknown)."""
    with store.transaction():
        before = incidents.get(store, incident_id)
        if before is None or not before.is_open:
            return None, before
        return incidents.close(store, incident_id, now=now, by=by, resolution=resolution), before


# --- helpers ---------------------------------------------------------------------------------


def _redacted(args: argparse.Namespace, text: str) -> str:
    """`text` without any configured secret: a note pasted from a log stores none."""
    if not text:
        return text
    from opsd.config import load_settings  # pydantic: only for the verbs that store text

    return load_settings(args.config).redact(text)


def _incident_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise _unknown(text) from None
    if value < 1:
        raise _unknown(text)
    return value


def _unknown(text: str) -> UsageError:
    return UsageError(f"incident {text}: no such incident (see `opsd incident list`)")
