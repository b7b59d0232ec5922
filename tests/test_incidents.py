"""Incidents, one function at a time: the timeline merge, which alerts open an incident, the
repository (open or join, close, time to resolve) and the emergency summary. The real runs
(the emergency playbook against the sandbox, an outage's timeline, the CLI) are in
tests/test_incident_cli.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsd.alerting.engine import AlertEvent, EventType
from opsd.alerting.messages import Origin
from opsd.alerting.notify import Destination
from opsd.checks.base import CheckSpec
from opsd.config import Settings
from opsd.incidents import emergency, opening, timeline
from opsd.incidents.summary import RunContext, compose
from opsd.playbooks import parse_playbook
from opsd.results import Result, Status
from opsd.runbooks import HINTS
from opsd.store import Store, incidents
from opsd.store.incidents import Incident, Note

T0 = 1_767_000_000.0


def _incident(closed_at: float | None = None) -> Incident:
    return Incident(7, T0, "alice", "vm", "API down", "emergency run", closed_at,
                    "bob" if closed_at else None, "Notion recovered" if closed_at else "")


def _event(kind: str, severity: Status, event_type: EventType = EventType.FIRING,
           **fields: object) -> AlertEvent:
    return AlertEvent(event_type, kind, "", kind, "realtime", severity, T0, T0, "HTTP 401",
                      **fields)  # type: ignore[arg-type]


# --- the timeline (pure) -----------------------------------------------------------------------


def test_the_timeline_merges_every_source_by_time_a_run_before_its_events():
    incident = _incident(closed_at=T0 + 600)
    events = [
        {"id": 2, "type": "RESOLVED", "check_name": "notion.auth", "target": "",
         "severity": "CRITICAL", "at": T0 + 300, "summary": "HTTP 401",
         "resolution": "authenticated", "silenced_by": None, "suppressed_by": None},
        {"id": 1, "type": "FIRING", "check_name": "notion.auth", "target": "",
         "severity": "CRITICAL", "at": T0 + 60, "summary": "HTTP 401", "resolution": "",
         "silenced_by": None, "suppressed_by": None},
    ]
    runs = [{"id": 5, "playbook": "realtime", "trigger": "scheduled", "status": "CRITICAL",
             "started_at": T0 + 58, "finished_at": T0 + 60},
            {"id": 6, "playbook": "realtime", "trigger": "scheduled", "status": "OK",
             "started_at": T0 + 299, "finished_at": T0 + 300}]
    silences = [{"id": 3, "pattern": "notion.*", "target": None, "reason": "maintenance",
                 "created_at": T0 + 100, "ends_at": T0 + 200, "removed_at": None},
                # added before the incident, removed during it
                {"id": 4, "pattern": "cache.*", "target": "redis", "reason": "x",
                 "created_at": T0 - 50, "ends_at": T0 + 250, "removed_at": T0 + 250}]
    notes = [Note(1, 7, T0 + 120, "alice", "token rotated")]
    entries = timeline.merge(incident, T0 + 9999, events=events, runs=runs,
                             silences=silences, notes=notes)
    assert [(e.at - T0, e.source) for e in entries] == [
        (0, "opened"), (60, "run"), (60, "alert"), (100, "silence"), (120, "note"),
        (200, "silence"), (250, "silence"), (300, "run"), (300, "alert"), (600, "closed"),
    ]
    texts = [e.text for e in entries]
    assert texts[0] == "incident 7 opened by alice@vm: API down (emergency run)"
    assert texts[2] == "FIRING CRITICAL notion.auth: HTTP 401"
    assert texts[3] == "silence 3 added: notion.* for 1m 40s: maintenance"
    assert texts[5] == "silence 3 ended: notion.*"
    assert texts[6] == "silence 4 removed: cache.* on redis"
    assert texts[8] == "RESOLVED notion.auth: authenticated"
    assert texts[9] == "closed by bob after 10m: Notion recovered"


def test_an_open_incidents_timeline_ends_now_not_at_a_silences_future_end():
    silence = {"id": 1, "pattern": "x", "target": None, "reason": "r",
               "created_at": T0 + 10, "ends_at": T0 + 3600, "removed_at": None}
    entries = timeline.merge(_incident(), T0 + 60, silences=[silence])
    assert [e.source for e in entries] == ["opened", "silence"]
    assert "added" in entries[1].text


def test_a_held_event_says_it_was_not_sent():
    row = {"type": "FIRING", "check_name": "a", "target": "t", "severity": "WARNING",
           "summary": "slow", "resolution": "", "silenced_by": "silence 2: deploy",
           "suppressed_by": None}
    assert timeline.event_text(row) == "FIRING WARNING a/t: slow (not sent: silence 2: deploy)"


@pytest.mark.parametrize(("firing", "note"), [
    (None, ""), (0, "all alerts resolved"), (1, "1 alert firing"), (3, "3 alerts firing"),
])
def test_the_list_says_when_all_alerts_have_resolved(firing, note):
    assert timeline.firing_note(firing) == note


# --- which alerts open an incident -------------------------------------------------------------


def _spec(kind: str, incident: bool | None = None) -> CheckSpec:
    return CheckSpec(name=kind, kind=kind, incident=incident)


@pytest.mark.parametrize(("kind", "severity", "incident", "opens"), [
    ("notion.auth", Status.CRITICAL, None, True),   # the kind's default, at CRITICAL
    ("notion.auth", Status.WARNING, None, False),   # a slow token is not an incident
    ("notion.availability", Status.WARNING, None, True),
    ("notion.latency", Status.CRITICAL, None, False),  # other kinds: only when asked
    ("notion.latency", Status.WARNING, True, True),
    ("notion.auth", Status.CRITICAL, False, False),  # an entry can say no
])
def test_an_alert_opens_an_incident_by_its_entry_else_its_kind(kind, severity, incident, opens):
    assert opening.opens_incident(_event(kind, severity), _spec(kind, incident)) is opens


def test_only_a_sent_firing_or_escalation_opens_one():
    auth = _spec("notion.auth")
    assert opening.opens_incident(
        _event("notion.auth", Status.CRITICAL, EventType.ESCALATED), auth)
    for event_type in (EventType.REMINDER, EventType.RESOLVED, EventType.FLAPPING):
        assert not opening.opens_incident(_event("notion.auth", Status.CRITICAL, event_type),
                                          auth)
    silenced = _event("notion.auth", Status.CRITICAL, silenced_by="silence 1: deploy")
    assert not opening.opens_incident(silenced, auth)
    assert opening.opens_incident(_event("notion.auth", Status.CRITICAL), None)  # no entry


def test_a_playbook_entry_takes_incident():
    playbook = parse_playbook({"name": "p", "checks": [
        {"name": "retention", "kind": "maintenance.retention", "incident": True},
    ]}, Path("p.toml"))
    assert playbook.checks[0].incident is True


def test_the_first_event_opens_and_later_ones_join():
    store = Store.memory()
    auth = _event("notion.auth", Status.CRITICAL)
    opened = opening.open_for_events(store, [auth], {}, T0)
    assert opened is not None
    assert (opened.reason, opened.trigger, opened.opened_by_user) == (
        "HTTP 401", "alert notion.auth", "opsd")
    again = _event("notion.availability", Status.CRITICAL)
    assert opening.open_for_events(store, [again], {}, T0 + 60) is None
    assert [i.id for i in incidents.list_incidents(store)] == [opened.id]


def test_whoami_is_the_sudo_user_first(monkeypatch):
    monkeypatch.setenv("SUDO_USER", "alice")
    assert opening.whoami() == "alice"
    monkeypatch.delenv("SUDO_USER")
    monkeypatch.setenv("LOGNAME", "bob")
    assert opening.whoami() == "bob"


# --- the repository ----------------------------------------------------------------------------


def test_open_or_join_opens_once_then_notes_and_close_records_time_to_resolve():
    store = Store.memory()
    first, joined = incidents.open_or_join(store, now=T0, user="alice", host="vm",
                                           reason="API down", trigger="emergency run",
                                           note="n1")
    second, joined_again = incidents.open_or_join(store, now=T0 + 60, user="bob", host="vm",
                                                  reason="still", trigger="emergency run",
                                                  note="emergency run by bob@vm")
    assert (joined, joined_again, second.id) == (False, True, first.id)
    assert [(n.author, n.text) for n in incidents.notes(store, first.id)] == [
        ("bob", "emergency run by bob@vm")]
    closed = incidents.close(store, first.id, now=T0 + 900, by="bob", resolution="fixed")
    assert closed is not None and closed.time_to_resolve == 900
    assert incidents.close(store, first.id, now=T0 + 999, by="x", resolution="") is None
    assert incidents.current(store) is None
    assert incidents.resolved_between(store, T0, T0 + 901) == [(first.id, T0, T0 + 900)]
    assert incidents.resolved_between(store, T0 + 901, T0 + 2000) == []


# --- the emergency summary (pure) --------------------------------------------------------------


def _run(joined: bool = False) -> RunContext:
    return RunContext(_incident(), joined, "alice", "users see 502s")


def test_the_summary_says_all_clear_when_everything_is_ok():
    results = [Result(Status.OK, "authenticated", check="notion.auth", kind="notion.auth"),
               Result(Status.SKIPPED, "no caches", check="cache.hit_rate", kind="cache.hit_rate"),
               Result(Status.OK, "Notion reports: All Systems Operational",
                      check="notion.status_page", kind="notion.status_page")]
    message = compose(results, _run(), Origin("vm"))
    assert message.title == "[EMERGENCY] all clear — incident 7 (vm)"
    assert message.notify_type == "success"
    assert "**All clear**: every check is OK." in message.body
    assert "**Fine (1)**: notion.auth" in message.body
    assert "**Skipped (1)**: cache.hit_rate" in message.body
    assert ("**Notion status page**: no incident reported — Notion reports: All Systems "
            "Operational") in message.body
    assert "reason: users see 502s; opened incident 7" in message.body


def test_the_summary_lists_what_is_broken_with_runbooks_and_notions_incident():
    results = [
        Result(Status.WARNING, "slow", check="notion.latency", kind="notion.latency",
               target="tasks"),
        Result(Status.CRITICAL, "HTTP 503", check="notion.auth", kind="notion.auth",
               details={"hint": "Notion is down: wait"}),
        Result(Status.OK, "HTTP 200", check="api", kind="http.endpoint"),
        Result(Status.WARNING, "Notion reports API errors (major, investigating)",
               check="notion.status_page", kind="notion.status_page"),
    ]
    message = compose(results, _run(joined=True), Origin("vm", "Acme"))
    body = message.body.splitlines()
    assert message.title == "[EMERGENCY] 2 broken — incident 7 (Acme)"
    assert message.notify_type == "failure"
    start = body.index("**Broken (2)**")
    assert body[start + 1:start + 5] == [
        "- CRITICAL notion.auth: HTTP 503", "  - Runbook: Notion is down: wait",
        "- WARNING notion.latency/tasks: slow", f"  - Runbook: {HINTS['notion.latency']}",
    ]
    assert "**Notion status page**: **Notion reports an incident** — Notion reports API " \
        "errors (major, investigating)" in body
    assert "joined open incident 7" in message.body


def test_a_run_without_the_status_page_says_it_was_not_checked():
    message = compose([], _run(), Origin("vm"))
    assert "not checked (the playbook has no notion.status_page entry)" in message.body


def test_the_summary_goes_to_emergency_urls_or_all_and_is_redacted():
    def dest(label: str, *tags: str) -> Destination:
        return Destination(f"json://{label}", frozenset(tags), label, f"k-{label}")

    pager, chat, mail = dest("pager", "emergency", "critical"), dest("chat"), dest("mail", "x")
    assert emergency.summary_targets([chat, pager, mail]) == ([pager], True)
    assert emergency.summary_targets([chat, mail]) == ([chat, mail], False)
    secret = "ntn_" + "s" * 46
    settings = Settings(notion={"token": secret})
    message = compose([Result(Status.CRITICAL, f"token {secret} revoked", check="notion.auth",
                              kind="notion.auth")], _run(), Origin("vm"))
    [row] = emergency.summary_rows(settings, message, [pager])
    assert (row.url_key, row.event_ids) == ("k-pager", ())
    assert secret not in row.body and "token" in row.body


def test_an_emergency_run_is_strict():
    playbook = parse_playbook({"name": "emergency", "checks": [
        {"name": "a", "kind": "notion.auth", "failure_threshold": 3},
        {"name": "b", "kind": "notion.latency"},
    ]}, Path("p.toml"))
    assert [c.failure_threshold for c in emergency.strict(playbook).checks] == [1, 1]
    assert [c.failure_threshold for c in playbook.checks] == [3, None]
