"""Timed escalation (`[[alerts.escalations]]`): which tags are due when (pure), how events are
routed, the config, and real Apprise to two local webhooks with different tags. Time is
injected, never slept on."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from pydantic import ValidationError
from test_alerts_support import running_webhook

from opsd.alerting.engine import Alert, EventType, Phase, Policy, evaluate
from opsd.alerting.escalation import due_escalations, escalate
from opsd.alerting.notify import Destination, retry_outbox
from opsd.alerting.observer import apply_results, sweep
from opsd.config import Settings
from opsd.config.sections import Escalation
from opsd.results import Result, Status
from opsd.store import Store
from opsd.store.acks import acknowledge
from opsd.store.alerts import load_alert

T0 = 1_737_702_000.0  # 2025-01-24 07:00 UTC
MINUTE = 60.0
TOKEN = "ntn_" + "Q" * 40 + "Ko9z"
LADDER = [Escalation(after="30m", tag="lead"), Escalation(after="2h", tag="cto")]


def result(status: Status) -> Result:
    return Result(status, f"latency is {status.value}", check="notion.latency",
                  kind="notion.latency", target="tasks")


def firing() -> Alert:
    alert, _ = evaluate(Alert("notion.latency", "tasks"), result(Status.CRITICAL), T0, Policy())
    assert alert.phase is Phase.FIRING and alert.notified_at == T0
    return alert


# --- which escalations are due ------------------------------------------------------------


def test_each_tag_is_due_once_it_has_fired_that_long_and_only_once():
    alert = firing()
    assert due_escalations(alert, T0 + 30 * MINUTE - 1, LADDER) == []
    alert, [event] = escalate(alert, T0 + 30 * MINUTE, LADDER)
    assert (event.type, event.escalated_to, event.at) == (EventType.ESCALATION, "lead",
                                                          T0 + 30 * MINUTE)
    assert alert.escalated_to == "lead"
    assert escalate(alert, T0 + 119 * MINUTE, LADDER) == (alert, [])
    alert, [event] = escalate(alert, T0 + 120 * MINUTE, LADDER)
    assert (event.escalated_to, alert.escalated_to) == ("cto", "lead,cto")
    assert escalate(alert, T0 + 24 * 60 * MINUTE, LADDER) == (alert, [])


def test_a_late_look_escalates_to_every_due_tag_in_one_event():
    _, [event] = escalate(firing(), T0 + 3 * 60 * MINUTE, LADDER)
    assert event.escalated_to == "lead,cto"


def test_no_escalation_when_acknowledged_held_silenced_flapping_or_not_firing():
    alert = firing()
    later = T0 + 3 * 60 * MINUTE
    assert due_escalations(alert, later, LADDER) == ["lead", "cto"]
    acked = dataclasses.replace(alert, acked_by="alice", acked_at=T0 + MINUTE)
    assert due_escalations(acked, later, LADDER) == []
    assert due_escalations(alert, later, LADDER, silenced_by="silence 1: deploy") == []
    never_told = dataclasses.replace(alert, notified_at=None, notified_severity=None)
    assert due_escalations(never_told, later, LADDER) == []
    assert due_escalations(dataclasses.replace(alert, flapping=True), later, LADDER) == []
    pending = Alert("notion.latency", "tasks", phase=Phase.PENDING, since=T0)
    assert due_escalations(pending, later, LADDER) == []


def test_resolving_forgets_the_escalations_but_later_messages_reach_the_tags_until_then():
    alert, _ = escalate(firing(), T0 + 30 * MINUTE, LADDER)
    alert, [escalated] = evaluate(alert, result(Status.CRITICAL), T0 + 4 * 60 * MINUTE,
                                  Policy())
    assert (escalated.type, escalated.escalated_to) == (EventType.REMINDER, "lead")
    alert, [resolved] = evaluate(alert, result(Status.OK), T0 + 5 * 60 * MINUTE, Policy())
    assert (resolved.type, resolved.escalated_to) == (EventType.RESOLVED, "lead")
    assert alert.escalated_to == ""


# --- routing and config -------------------------------------------------------------------


def test_an_escalation_goes_only_to_urls_with_its_tag_the_resolved_to_those_too():
    alert, [escalation] = escalate(firing(), T0 + 30 * MINUTE, LADDER)
    _, [resolved] = evaluate(alert, result(Status.OK), T0 + 60 * MINUTE, Policy())
    untagged = Destination("json://a", frozenset(), "a", "ka")
    oncall = Destination("json://b", frozenset({"critical"}), "b", "kb")
    everything = Destination("json://c", frozenset({"all"}), "c", "kc")
    lead = Destination("json://d", frozenset({"lead"}), "d", "kd")
    assert [d.receives_event(escalation) for d in (untagged, oncall, everything, lead)] == [
        False, False, False, True
    ]
    assert [d.receives_event(resolved) for d in (untagged, oncall, everything, lead)] == [
        True, True, True, True
    ]


def test_escalations_config_reads_durations_and_refuses_bad_entries():
    settings = Settings(alerts={"escalations": [{"after": "30m", "tag": "Lead"}]})
    [escalation] = settings.alerts.escalations
    assert (escalation.after, escalation.tag) == (1800.0, "lead")
    for bad in ({"after": "0s", "tag": "lead"}, {"after": "30m", "tag": "a=b"},
                {"after": "30m"}):
        with pytest.raises(ValidationError):
            Settings(alerts={"escalations": [bad]})


# --- through real Apprise -----------------------------------------------------------------


def run(settings: Settings, store: Store, now: float, *results: Result) -> None:
    if results:
        apply_results(settings, store, results, now=now)
    else:
        sweep(settings, store, now)  # the daemon's periodic pass, between check runs
    retry_outbox(settings, store, now)


def settings_for(tmp_path: Path, oncall: str, lead: str) -> Settings:
    return Settings(
        notion={"token": TOKEN},
        storage={"path": str(tmp_path / "opsd.db")},
        alerts={"urls": ["critical=" + oncall, "lead=" + lead], "repeat_interval": "0",
                "escalations": [{"after": "30m", "tag": "lead"}]},
    )


def test_an_unacknowledged_alert_reaches_the_lead_after_30m_once(tmp_path, webhook):
    with running_webhook() as lead:
        settings = settings_for(tmp_path, webhook.url, lead.url)
        store = Store.open(tmp_path / "opsd.db")
        try:
            run(settings, store, T0, result(Status.CRITICAL))
            run(settings, store, T0 + 29 * MINUTE)
            assert (len(webhook.received), lead.received) == (1, [])
            run(settings, store, T0 + 30 * MINUTE)
            for minutes in (31, 60, 120):
                run(settings, store, T0 + minutes * MINUTE, result(Status.CRITICAL))
            assert len(webhook.received) == 1
            [escalation] = lead.received
            run(settings, store, T0 + 180 * MINUTE, result(Status.OK))
        finally:
            store.close()
        assert escalation["title"].startswith("[CRITICAL] Unacknowledged: notion.latency/tasks")
        assert "Not acknowledged after 30m: escalated to lead." in escalation["message"]
        assert escalation["type"] == "failure"
        assert webhook.titles()[1].startswith("[RESOLVED] notion.latency/tasks")
        assert lead.titles()[1].startswith("[RESOLVED] notion.latency/tasks")


def test_an_acknowledged_alert_is_never_escalated(tmp_path, webhook):
    with running_webhook() as lead:
        settings = settings_for(tmp_path, webhook.url, lead.url)
        store = Store.open(tmp_path / "opsd.db")
        try:
            run(settings, store, T0, result(Status.CRITICAL))
            acknowledge(store, "notion.latency", "tasks", by="alice", comment="", now=T0 + 60)
            for minutes in (30, 60, 600):
                run(settings, store, T0 + minutes * MINUTE)
            assert load_alert(store, "notion.latency", "tasks").escalated_to == ""
        finally:
            store.close()
        assert len(webhook.received) == 1
        assert lead.received == []
