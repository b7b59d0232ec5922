"""notion.status_page reads Notion's status page (the sandbox serves an Atlassian Statuspage
summary.json); while its stored reading names an open incident, every failing Notion result
says "Notion reports an incident: <name>"; an unreachable status page is UNKNOWN for
notion.status_page alone."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from test_notion_checks import ANY_LATENCY, by_check, run_entries, settings_for

from opsd.notion.statuspage import (
    FRESH_FOR,
    Incident,
    StatusPageError,
    Summary,
    parse_summary,
    with_incident,
)
from opsd.results import Result, Status
from opsd.sandbox import SANDBOX_TOKEN, Sandbox
from opsd.store import Store

NOW = 1_796_040_000.0
NOTE = "Notion reports an incident: Elevated API error rates"


def status_settings(sandbox: Sandbox, url: str | None = None) -> Any:
    return settings_for(sandbox, status_page_url=url or f"{sandbox.url}/api/v2/summary.json")


def admin(sandbox: Sandbox, action: str, **body: Any) -> None:
    answer = httpx.post(f"{sandbox.url}/__sandbox/{action}", json=body)
    assert answer.status_code == 200, answer.text


def test_status_page_ok_then_an_incident_then_resolved(sandbox: Sandbox) -> None:
    settings = status_settings(sandbox)
    store = Store.memory()
    entry = {"kind": "notion.status_page"}
    [calm] = run_entries(settings, entry, store=store, clock=lambda: NOW)
    assert (calm.status, calm.summary, calm.value) == (
        Status.OK, "Notion reports: All Systems Operational", 0)

    admin(sandbox, "open_incident", name="Elevated API error rates", impact="major")
    admin(sandbox, "set_component", name="Search", status="degraded_performance")
    [incident] = run_entries(settings, entry, store=store, clock=lambda: NOW)
    assert incident.status is Status.WARNING and incident.value == 1
    assert incident.summary == ("Notion reports Elevated API error rates (major, investigating); "
                                "API partial outage; Search degraded performance")
    assert incident.details["incidents"][0]["url"].startswith(sandbox.url + "/incidents/")
    assert incident.details["indicator"] == "major"

    admin(sandbox, "open_incident", name="Notion is down", impact="critical")
    [outage] = run_entries(settings, entry, store=store, clock=lambda: NOW)
    assert outage.status is Status.CRITICAL and outage.value == 2

    admin(sandbox, "resolve_incident")
    admin(sandbox, "set_component", name="Search", status="operational")
    [again] = run_entries(settings, entry, store=store, clock=lambda: NOW)
    assert again.status is Status.OK


def test_failing_notion_results_name_the_open_incident(sandbox: Sandbox) -> None:
    settings = status_settings(sandbox)
    store = Store.memory()
    sandbox.open_incident("Elevated API error rates")
    sandbox.unshare("Bottlenecks Registry")
    entries = ({"kind": "notion.status_page"}, {"kind": "notion.access"},
               {"kind": "notion.auth", **ANY_LATENCY}, {"kind": "notion.token_format"})
    # The first run reads the status page; the next ones read the stored reading, not the page:
    # the incident has been resolved meanwhile and is still named until the reading is old.
    run_entries(settings, entries[0], store=store, clock=lambda: NOW)
    sandbox.resolve_incident()
    results = by_check(run_entries(settings, *entries[1:], store=store,
                                   clock=lambda: NOW + 60))
    access = results[("notion.access", "")]
    assert access.status is Status.CRITICAL  # 4/5 accessible, under the 0.999 threshold
    assert access.summary.endswith("; " + NOTE)
    assert access.details["notion_incident"] == [
        {"name": "Elevated API error rates", "impact": "major", "status": "investigating",
         "url": access.details["notion_incident"][0]["url"]}]
    for healthy in ("notion.auth", "notion.token_format"):
        assert NOTE not in results[(healthy, "")].summary
        assert "notion_incident" not in results[(healthy, "")].details

    sandbox.revoke_token(SANDBOX_TOKEN)
    [stale] = run_entries(settings, {"kind": "notion.auth"}, store=store,
                          clock=lambda: NOW + FRESH_FOR + 1)
    assert stale.status is Status.CRITICAL and NOTE not in stale.summary
    [fresh] = run_entries(settings, {"kind": "notion.auth"}, store=store,
                          clock=lambda: NOW + 120)
    assert fresh.summary.endswith("; " + NOTE)


@pytest.mark.parametrize("where", ["closed", "not_a_summary"])
def test_an_unreachable_status_page_is_unknown_for_that_check_only(
    sandbox: Sandbox, closed_port: int, where: str
) -> None:
    url = (f"http://127.0.0.1:{closed_port}/api/v2/summary.json" if where == "closed"
           else f"{sandbox.url}/v1/users/me")
    sandbox.unshare("Bottlenecks Registry")
    store = Store.memory()
    results = by_check(run_entries(
        status_settings(sandbox, url), {"kind": "notion.status_page"},
        {"kind": "notion.auth", **ANY_LATENCY}, {"kind": "notion.access"},
        store=store, clock=lambda: NOW,
    ))
    page = results[("notion.status_page", "")]
    assert page.status is Status.UNKNOWN
    expected = ("the status page is unreachable" if where == "closed"
                else "the status page answered HTTP 401")
    assert page.summary.startswith(f"could not read Notion's status page: {expected}")
    assert results[("notion.auth", "")].status is Status.OK
    access = results[("notion.access", "")]
    assert access.status is Status.CRITICAL and "Notion reports" not in access.summary


# --- pure -----------------------------------------------------------------------------------


def test_parse_summary_keeps_open_incidents_and_degraded_components() -> None:
    summary = parse_summary({
        "status": {"indicator": "minor", "description": "Minor Service Outage"},
        "components": [{"name": "API", "status": "degraded_performance"},
                       {"name": "Web app", "status": "operational"}],
        "incidents": [{"name": "Slow search", "impact": "minor", "status": "identified",
                       "shortlink": "https://stspg.io/x"},
                      {"name": "Old", "impact": "major", "status": "resolved"}],
    })
    assert summary == Summary("minor", "Minor Service Outage",
                              (Incident("Slow search", "minor", "identified",
                                        "https://stspg.io/x"),),
                              {"API": "degraded_performance"})
    assert Summary.from_state(summary.to_state(NOW)) == summary
    with pytest.raises(StatusPageError):
        parse_summary({"page": {}})


def test_with_incident_notes_only_failing_results_of_a_fresh_reading() -> None:
    reading = Summary("major", "Partial System Outage",
                      (Incident("A", "major", "investigating"),
                       Incident("B", "minor", "monitoring"))).to_state(NOW)
    results = [Result(Status.CRITICAL, "down"), Result(Status.OK, "fine"),
               Result(Status.SKIPPED, "n/a")]
    noted = with_incident(results, reading, NOW + 10)
    assert [r.summary for r in noted] == ["down; Notion reports an incident: A; B", "fine", "n/a"]
    assert with_incident(results, reading, NOW + FRESH_FOR + 1) == results
    assert with_incident(results, None, NOW) == results
    calm = Summary("none", "All Systems Operational").to_state(NOW)
    assert with_incident(results, calm, NOW) == results
