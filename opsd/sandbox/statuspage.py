"""Notion's public status page as the sandbox serves it: an Atlassian Statuspage
`GET /api/v2/summary.json` (page, overall status, components, unresolved incidents, scheduled
maintenances), with incidents opened and resolved and components degraded at run time.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opsd.sandbox.api import SandboxError
from opsd.sandbox.workspace import make_id

SUMMARY_PATH = "/api/v2/summary.json"
PAGE_ID = "kgl53swp0yg1"
COMPONENTS = ("API", "Web app", "Desktop app", "Mobile app", "Search", "Notion AI")
COMPONENT_STATUSES = ("operational", "degraded_performance", "partial_outage", "major_outage",
                      "under_maintenance")
IMPACTS = ("none", "minor", "major", "critical")
INCIDENT_STATUSES = ("investigating", "identified", "monitoring")
_INDICATOR_TEXT = {"none": "All Systems Operational", "minor": "Minor Service Outage",
                   "major": "Partial System Outage", "critical": "Major System Outage"}
_COMPONENT_IMPACT = {"operational": "none", "under_maintenance": "none",
                     "degraded_performance": "minor", "partial_outage": "major",
                     "major_outage": "critical"}


@dataclass
class _Incident:
    id: str
    name: str
    impact: str
    status: str
    created_at: float
    components: list[str] = field(default_factory=list)


class StatusPage:
    """The status page's state behind one lock; `summary()` renders it."""

    def __init__(self, wall_clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._wall_clock = wall_clock
        self.reset()

    def reset(self) -> None:
        """All systems operational, no incident."""
        with self._lock:
            self.components = dict.fromkeys(COMPONENTS, "operational")
            self.incidents: list[_Incident] = []

    def open_incident(self, name: str, impact: str = "major", status: str = "investigating",
                      components: list[str] | None = None) -> None:
        """Open an incident; `components` (default: API) become partial_outage."""
        if impact not in IMPACTS or status not in INCIDENT_STATUSES:
            raise SandboxError(f"impact must be one of {', '.join(IMPACTS)} and status one "
                                  f"of {', '.join(INCIDENT_STATUSES)}")
        affected = ["API"] if components is None else components
        with self._lock:
            self._known(affected)
            number = len(self.incidents) + 1
            self.incidents.append(_Incident(make_id("incident", name, str(number))[:12], name,
                                            impact, status, self._wall_clock(), affected))
            for component in affected:
                if self.components[component] == "operational":
                    self.components[component] = "partial_outage"

    def resolve_incident(self, name: str | None = None) -> None:
        """Resolve the named incident (default: all); its components become operational."""
        with self._lock:
            ended = [i for i in self.incidents if name is None or i.name == name]
            if name is not None and not ended:
                raise SandboxError(f"no open incident named {name!r}")
            self.incidents = [i for i in self.incidents if i not in ended]
            still = {c for i in self.incidents for c in i.components}
            for component in {c for i in ended for c in i.components} - still:
                self.components[component] = "operational"

    def set_component(self, name: str, status: str) -> None:
        """Set one component's status (operational, degraded_performance, …)."""
        if status not in COMPONENT_STATUSES:
            raise SandboxError(f"component status must be one of "
                                  f"{', '.join(COMPONENT_STATUSES)}")
        with self._lock:
            self._known([name])
            self.components[name] = status

    def _known(self, names: list[str]) -> None:
        unknown = [n for n in names if n not in self.components]
        if unknown:
            raise SandboxError(f"unknown component {unknown[0]!r} "
                                  f"(known: {', '.join(COMPONENTS)})")

    def summary(self, base_url: str) -> dict[str, Any]:
        """The body of `GET /api/v2/summary.json`."""
        now = _iso(self._wall_clock())
        with self._lock:
            impacts = [i.impact for i in self.incidents]
            impacts += [_COMPONENT_IMPACT[s] for s in self.components.values()]
            indicator = max(impacts, key=IMPACTS.index, default="none")
            components = [
                {"id": make_id("component", name)[:12], "name": name, "status": status,
                 "created_at": "2019-03-01T00:00:00.000Z", "updated_at": now,
                 "position": position, "description": None, "showcase": True,
                 "start_date": None, "group_id": None, "page_id": PAGE_ID, "group": False,
                 "only_show_if_degraded": False}
                for position, (name, status) in enumerate(self.components.items(), 1)
            ]
            incidents = [self._incident(i, base_url, now) for i in self.incidents]
        return {
            "page": {"id": PAGE_ID, "name": "Notion", "url": base_url,
                     "time_zone": "Etc/UTC", "updated_at": now},
            "components": components,
            "incidents": incidents,
            "scheduled_maintenances": [],
            "status": {"indicator": indicator, "description": _INDICATOR_TEXT[indicator]},
        }

    @staticmethod
    def _incident(incident: _Incident, base_url: str, now: str) -> dict[str, Any]:
        created = _iso(incident.created_at)
        return {
            "id": incident.id, "name": incident.name, "status": incident.status,
            "impact": incident.impact, "created_at": created, "updated_at": now,
            "monitoring_at": None, "resolved_at": None, "started_at": created,
            "page_id": PAGE_ID, "shortlink": f"{base_url}/incidents/{incident.id}",
            "incident_updates": [{
                "id": incident.id + "u", "status": incident.status,
                "body": f"We are {incident.status} {incident.name.lower()}.",
                "incident_id": incident.id, "created_at": created, "updated_at": created,
                "display_at": created, "affected_components": None,
            }],
            "components": [{"name": name} for name in incident.components],
        }


def _iso(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
