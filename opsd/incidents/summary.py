"""The summary an emergency run sends (pure): what is broken, with the runbook of each
failure, what is fine, and whether Notion's status page reports an incident — or "all clear".

It is one Markdown message per run, whatever the alert engine decided about the run's
results: those alerts follow their own rules (a firing alert is not announced twice), while
the people handling an emergency want the whole picture every time they ask for it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from opsd.alerting.messages import Message, Origin
from opsd.results import Result, Status, worst
from opsd.runbooks import hint
from opsd.store.incidents import Incident

STATUS_PAGE_KIND = "notion.status_page"
_NOTIFY_TYPES = {Status.CRITICAL: "failure", Status.WARNING: "warning",
                 Status.UNKNOWN: "warning"}


@dataclasses.dataclass(frozen=True)
class RunContext:
    """Who ran the emergency playbook, why, and the incident the run belongs to."""

    incident: Incident
    joined: bool
    user: str
    reason: str


def broken(results: Sequence[Result]) -> list[Result]:
    """The failures (WARNING, CRITICAL, UNKNOWN), worst first; the status page aside."""
    failing = [r for r in results if r.kind != STATUS_PAGE_KIND
               and r.status not in (Status.OK, Status.SKIPPED)]
    return sorted(failing, key=lambda r: -r.status.rank)


def fine(results: Sequence[Result]) -> list[Result]:
    return [r for r in results if r.kind != STATUS_PAGE_KIND and r.status is Status.OK]


def status_page_line(results: Sequence[Result]) -> str:
    """Whether Notion's status page reports an incident, from the run's `notion.status_page`."""
    found = next((r for r in results if r.kind == STATUS_PAGE_KIND), None)
    if found is None:
        return "not checked (the playbook has no notion.status_page entry)"
    if found.status is Status.OK:
        return f"no incident reported — {found.summary}"
    if found.status in (Status.WARNING, Status.CRITICAL):
        return f"**Notion reports an incident** — {found.summary}"
    return f"unknown — {found.summary}"


def compose(results: Sequence[Result], run: RunContext, origin: Origin) -> Message:
    """The summary message of one emergency run."""
    failures = broken(results)
    status = worst(r.status for r in failures) if failures else Status.OK
    verdict = "all clear" if not failures else f"{len(failures)} broken"
    title = f"[EMERGENCY] {verdict} — incident {run.incident.id} ({origin.name})"
    return Message(title, "\n".join(_body(results, failures, run, origin)),
                   _NOTIFY_TYPES.get(status, "success"))


def _body(
    results: Sequence[Result], failures: Sequence[Result], run: RunContext, origin: Origin
) -> list[str]:
    incident = run.incident
    how = "joined open incident" if run.joined else "opened incident"
    reason = f" — reason: {run.reason}" if run.reason else ""
    lines = [f"Emergency run by **{run.user}** on **{origin.host}**{reason}; {how} "
             f"{incident.id} (`opsd incident show {incident.id}`).", ""]
    if not failures:
        lines.append("**All clear**: every check is OK.")
    else:
        lines.append(f"**Broken ({len(failures)})**")
        for result in failures:
            lines.append(f"- {result.status.value} {_label(result)}: {result.summary}")
            runbook = result.details.get("hint") or hint(result.kind, result.check)
            lines.append(f"  - Runbook: {runbook}")
    ok = fine(results)
    if ok:
        lines += ["", f"**Fine ({len(ok)})**: " + ", ".join(_label(r) for r in ok)]
    skipped = [r for r in results if r.status is Status.SKIPPED]
    if skipped:
        lines.append(f"**Skipped ({len(skipped)})**: " + ", ".join(_label(r) for r in skipped))
    lines += ["", f"**Notion status page**: {status_page_line(results)}"]
    return lines


def _label(result: Result) -> str:
    return f"{result.check}/{result.target}" if result.target else result.check
