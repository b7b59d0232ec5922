"""An incident's timeline, merged from its sources by time (pure).

Each source comes from one query (`opsd.store.incidents`): the alert events, the playbook runs
(with their worst status), the silences added, removed or ended, and the incident's notes.
Nothing is copied when an incident opens: an event recorded while it is open is on its
timeline because of its time. Entries at the same instant keep a fixed order — the opening,
then runs, alert events, silences, notes, and the closing last — so a run comes before the
events it caused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opsd.durations import format_duration, format_duration_exact
from opsd.store.incidents import Incident, Note

_ORDER = {"opened": 0, "run": 1, "alert": 2, "silence": 3, "note": 4, "closed": 5}


@dataclasses.dataclass(frozen=True)
class Entry:
    """One line of a timeline: when, what kind of thing (`opened`, `run`, `alert`,
    `silence`, `note`, `closed`), and what happened."""

    at: float
    source: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def merge(
    incident: Incident,
    now: float,
    *,
    events: Iterable[Mapping[str, Any]] = (),
    runs: Iterable[Mapping[str, Any]] = (),
    silences: Iterable[Mapping[str, Any]] = (),
    notes: Iterable[Note] = (),
) -> list[Entry]:
    """The timeline: every source's entries within the incident's time (to its closing,
    else `now`), by time."""
    entries = [Entry(incident.opened_at, "opened", opened_text(incident))]
    entries += (Entry(float(e["at"]), "alert", event_text(e)) for e in events)
    entries += (Entry(float(r["finished_at"]), "run", run_text(r)) for r in runs)
    for silence in silences:
        entries += silence_entries(silence, incident.opened_at, incident.end(now))
    entries += (Entry(n.at, "note", f"note by {n.author or 'someone'}: {n.text}") for n in notes)
    if incident.closed_at is not None:
        entries.append(Entry(incident.closed_at, "closed", closed_text(incident)))
    indexed = sorted(enumerate(entries), key=lambda p: (p[1].at, _ORDER[p[1].source], p[0]))
    return [entry for _, entry in indexed]


def opened_text(incident: Incident) -> str:
    reason = f": {incident.reason}" if incident.reason else ""
    return f"incident {incident.id} opened by {incident.opened_by}{reason} ({incident.trigger})"


def closed_text(incident: Incident) -> str:
    took = format_duration(incident.time_to_resolve or 0.0)
    resolution = f": {incident.resolution}" if incident.resolution else ""
    return f"closed by {incident.closed_by or 'someone'} after {took}{resolution}"


def event_text(event: Mapping[str, Any]) -> str:
    """`FIRING CRITICAL notion.auth: HTTP 401 …`, `RESOLVED notion.auth: authenticated …`."""
    label = event["check_name"] + (f"/{event['target']}" if event["target"] else "")
    what = event["resolution"] if event["type"] == "RESOLVED" else event["summary"]
    severity = "" if event["type"] == "RESOLVED" else f" {event['severity']}"
    held = event.get("silenced_by") or event.get("suppressed_by")
    note = f" (not sent: {held})" if held else ""
    return f"{event['type']}{severity} {label}: {what}{note}"


def run_text(run: Mapping[str, Any]) -> str:
    return f"run {run['playbook']} ({run['trigger']}): {run['status']}"


def silence_entries(silence: Mapping[str, Any], start: float, end: float) -> list[Entry]:
    """A silence's addition and its end (removed, or run out), where within [start, end]."""
    scope = silence["pattern"] + (f" on {silence['target']}" if silence["target"] else "")
    found = []
    if _within(silence["created_at"], start, end):
        length = format_duration_exact(silence["ends_at"] - silence["created_at"])
        found.append(Entry(silence["created_at"], "silence",
                           f"silence {silence['id']} added: {scope} for {length}: "
                           f"{silence['reason']}"))
    ended = silence["removed_at"] if silence["removed_at"] is not None else silence["ends_at"]
    if _within(ended, start, end):
        how = "removed" if silence["removed_at"] is not None else "ended"
        found.append(Entry(ended, "silence", f"silence {silence['id']} {how}: {scope}"))
    return found


def _within(at: float, start: float, end: float) -> bool:
    return start <= at <= end


def firing_note(still_firing: int | None) -> str:
    """What `opsd incident list` says about an open incident's alerts."""
    if still_firing is None:
        return ""
    if still_firing == 0:
        return "all alerts resolved"
    return f"{still_firing} alert{'s' if still_firing > 1 else ''} firing"


def as_rows(entries: Sequence[Entry]) -> list[dict[str, Any]]:
    return [entry.to_dict() for entry in entries]
