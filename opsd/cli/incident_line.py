"""The line `opsd status` leads with while an incident is open (and its `--json` form)."""

from __future__ import annotations

import zoneinfo
from typing import Any

from opsd.durations import format_duration
from opsd.store import Store, incidents
from opsd.units import format_time


def open_incident(store: Store, now: float, timezone: str) -> tuple[str, dict[str, Any] | None]:
    """One line about the open incident ('' when none) and its JSON form (None when none)."""
    incident = incidents.current(store)
    if incident is None:
        return "", None
    opened = format_time(incident.opened_at, zoneinfo.ZoneInfo(timezone))
    line = (f"INCIDENT {incident.id} open since {opened} "
            f"({format_duration(now - incident.opened_at)}) by {incident.opened_by}: "
            f"{incident.reason or '(no reason given)'} — `opsd incident show {incident.id}`")
    return line, incident.to_dict()
