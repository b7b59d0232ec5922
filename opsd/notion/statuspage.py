"""Notion's public status page, an Atlassian Statuspage: `GET /api/v2/summary.json` read into
what opsd needs (pure, apart from `fetch_summary`).

The summary carries the overall `status.indicator` (none, minor, major, critical), every
component's status and the unresolved incidents, each with a name, impact and shortlink.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from opsd.exception_text import exception_text
from opsd.results import Result, Status
from opsd.store import state

if TYPE_CHECKING:
    import httpx

    from opsd.store import StoreAccess

log = logging.getLogger("opsd.notion")

DEGRADED = ("degraded_performance", "partial_outage", "major_outage")
STATE_NAMESPACE = "notion.status_page"
STATE_KEY = "summary"
FRESH_FOR = 15 * 60.0
"""How long a stored reading may annotate other results (the realtime playbook reads it every
minute; an older reading may name an incident that has ended)."""


class StatusPageError(ValueError):
    """The status page could not be read or is not a Statuspage summary (plain words)."""


@dataclasses.dataclass(frozen=True)
class Incident:
    """An unresolved incident on the status page."""

    name: str
    impact: str
    status: str
    url: str | None = None


@dataclasses.dataclass(frozen=True)
class Summary:
    """What the status page says now."""

    indicator: str
    description: str
    incidents: tuple[Incident, ...] = ()
    degraded: dict[str, str] = dataclasses.field(default_factory=dict)

    def to_state(self, fetched_at: float) -> dict[str, Any]:
        """A JSON-ready form for the store, stamped with when it was read."""
        return {"fetched_at": fetched_at, "indicator": self.indicator,
                "description": self.description, "degraded": self.degraded,
                "incidents": [dataclasses.asdict(i) for i in self.incidents]}

    @classmethod
    def from_state(cls, value: dict[str, Any]) -> Summary:
        """The inverse of `to_state` (the timestamp is the caller's business)."""
        return cls(value["indicator"], value["description"],
                   tuple(Incident(**i) for i in value.get("incidents", [])),
                   dict(value.get("degraded", {})))


def parse_summary(body: Any) -> Summary:
    """A Statuspage `summary.json` body -> `Summary`; StatusPageError if it is not one."""
    if not isinstance(body, dict) or not isinstance(body.get("status"), dict):
        raise StatusPageError("the status page answered something that is not a Statuspage "
                              "summary (no status object)")
    status = body["status"]
    incidents = tuple(
        Incident(str(i.get("name") or "unnamed incident"), str(i.get("impact") or "none"),
                 str(i.get("status") or ""), i.get("shortlink"))
        for i in body.get("incidents") or [] if isinstance(i, dict)
        and i.get("status") not in ("resolved", "postmortem")
    )
    degraded = {str(c.get("name")): str(c.get("status")) for c in body.get("components") or []
                if isinstance(c, dict) and c.get("status") in DEGRADED}
    return Summary(str(status.get("indicator") or "none"), str(status.get("description") or ""),
                   incidents, degraded)


def incident_note(summary: Summary) -> str | None:
    """"Notion reports an incident: <name>" (names joined by "; "), or None if none is open."""
    if not summary.incidents:
        return None
    return "Notion reports an incident: " + "; ".join(i.name for i in summary.incidents)


async def fetch_summary(client: httpx.AsyncClient, url: str, timeout: float) -> Summary:
    """GET `url` and parse it; StatusPageError in plain words for any failure."""
    import httpx

    try:
        response = await client.get(url, timeout=timeout, headers={"Accept": "application/json"})
    except httpx.TimeoutException:
        raise StatusPageError(f"the status page did not answer within {timeout:g}s") from None
    except httpx.HTTPError as exc:
        reason = exception_text(exc)
        raise StatusPageError(f"the status page is unreachable: {reason}") from None
    if response.status_code != 200:
        raise StatusPageError(f"the status page answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise StatusPageError("the status page answered something that is not JSON") from None
    return parse_summary(body)


_NOT_NOTION_ANSWERS = frozenset({"notion.token_format", "notion.api_version",
                                 "notion.status_page"})
"""Notion kinds whose results never come from Notion's API (no incident note on them)."""
_FAILING = (Status.WARNING, Status.CRITICAL, Status.UNKNOWN)


def with_incident(results: list[Result], stored: Any, now: float) -> list[Result]:
    """`results` with Notion's open incident noted on each failing one (pure).

    `stored` is the last `notion.status_page` reading from the store; an old one is ignored.
    """
    if not isinstance(stored, dict) or now - float(stored.get("fetched_at", 0)) > FRESH_FOR:
        return results
    summary = Summary.from_state(stored)
    note = incident_note(summary)
    if note is None:
        return results
    incidents = [dataclasses.asdict(i) for i in summary.incidents]
    return [
        r.replace(summary=f"{r.summary}; {note}" if r.summary else note,
                  details={**r.details, "notion_incident": incidents})
        if r.status in _FAILING else r
        for r in results
    ]


def needs_incident(kind: str, results: list[Result]) -> bool:
    """Is any of these results a failing answer from Notion (worth the stored reading)?"""
    return (kind.startswith("notion.") and kind not in _NOT_NOTION_ANSWERS
            and any(r.status in _FAILING for r in results))


async def annotate(results: list[Result], kind: str, store: StoreAccess,
                   now: float) -> list[Result]:
    """`with_incident` over the stored reading; a store failure leaves results unchanged."""
    if not needs_incident(kind, results):
        return results
    try:
        stored = await store.call(state.get_state, STATE_NAMESPACE, STATE_KEY)
        return with_incident(results, stored, now)
    except Exception:  # the note is a courtesy: it must never cost a result
        log.debug("noting the status page's incident failed", exc_info=True)
        return results
