"""Acknowledgements: the pure rules (no reminders while acknowledged; the ack ends when the
alert resolves or gets worse), the store, real Apprise to a local webhook, and the real
`opsd ack` command against a store the test prepares. Time is injected, never slept on."""

from __future__ import annotations

import dataclasses
import getpass
import json
from pathlib import Path

from opsd.alerting.engine import Alert, EventType, Phase, Policy, evaluate, tick
from opsd.alerting.notify import retry_outbox
from opsd.alerting.observer import apply_results, sweep
from opsd.config import Settings
from opsd.results import Result, Status
from opsd.store import Store
from opsd.store.acks import acknowledge, unacknowledge
from opsd.store.alerts import load_alert

T0 = 1_737_702_000.0  # 2025-01-24 07:00 UTC
HOUR = 3600.0
TOKEN = "ntn_" + "Q" * 40 + "Ko9z"


def result(status: Status, summary: str = "") -> Result:
    return Result(status, summary or f"latency is {status.value}", check="notion.latency",
                  kind="notion.latency", target="tasks")


def acked(alert: Alert, by: str = "alice", at: float = T0) -> Alert:
    return dataclasses.replace(alert, acked_by=by, acked_at=at, ack_comment="on it")


def feed(alert: Alert, status: Status, now: float) -> tuple[Alert, list]:
    return evaluate(alert, result(status), now, Policy(failure_threshold=1, repeat_interval=HOUR))


# --- the pure rules -----------------------------------------------------------------------


def test_an_acknowledged_alert_sends_no_reminders_while_results_or_time_go_by():
    alert, [fired] = feed(Alert("notion.latency", "tasks"), Status.CRITICAL, T0)
    assert fired.type is EventType.FIRING
    alert = acked(alert, at=T0 + 60)
    for hours in range(1, 6):
        alert, events = feed(alert, Status.CRITICAL, T0 + hours * HOUR)
        assert events == []
        alert, events = tick(alert, T0 + hours * HOUR + 1800)
        assert events == []
    assert alert.acked_by == "alice"


def test_without_the_ack_the_same_alert_reminds():
    alert, _ = feed(Alert("notion.latency", "tasks"), Status.CRITICAL, T0)
    _, events = tick(alert, T0 + HOUR)
    assert [e.type for e in events] == [EventType.REMINDER]


def test_the_ack_ends_when_the_alert_gets_worse_with_an_escalated_message_naming_it():
    alert, _ = feed(Alert("notion.latency", "tasks"), Status.WARNING, T0)
    alert = acked(alert, at=T0 + 60)
    alert, [escalated] = feed(alert, Status.CRITICAL, T0 + 120)
    assert escalated.type is EventType.ESCALATED
    assert (escalated.acked_by, escalated.acked_at) == ("alice", T0 + 60)
    assert (alert.acked_by, alert.acked_at, alert.ack_comment) == (None, None, "")
    _, events = tick(alert, T0 + 120 + HOUR)
    assert [e.type for e in events] == [EventType.REMINDER]


def test_the_ack_holds_when_the_alert_stays_as_bad_or_gets_better():
    alert, _ = feed(Alert("notion.latency", "tasks"), Status.CRITICAL, T0)
    alert = acked(alert)
    alert, _ = feed(alert, Status.CRITICAL, T0 + 60)
    alert, events = feed(alert, Status.WARNING, T0 + 120)
    assert events == [] and alert.acked_by == "alice"


def test_the_ack_ends_when_the_alert_resolves_and_the_resolved_says_who():
    alert, _ = feed(Alert("notion.latency", "tasks"), Status.CRITICAL, T0)
    alert, [resolved] = feed(acked(alert, at=T0 + 60), Status.OK, T0 + HOUR)
    assert resolved.type is EventType.RESOLVED
    assert (resolved.acked_by, resolved.acked_at) == ("alice", T0 + 60)
    assert (alert.phase, alert.acked_by) == (Phase.OK, None)
    alert, [fired] = feed(alert, Status.CRITICAL, T0 + 2 * HOUR)
    assert fired.type is EventType.FIRING and fired.acked_by is None
    _, events = tick(alert, T0 + 3 * HOUR)
    assert [e.type for e in events] == [EventType.REMINDER]


# --- the store ----------------------------------------------------------------------------


def settings_for(tmp_path: Path, *urls: str) -> Settings:
    return Settings(
        notion={"token": TOKEN},
        storage={"path": str(tmp_path / "opsd.db")},
        alerts={"urls": list(urls), "repeat_interval": "1h"},
    )


def test_only_a_firing_alert_can_be_acknowledged_and_removing_ends_it(tmp_path):
    settings = settings_for(tmp_path)
    store = Store.open(tmp_path / "opsd.db")
    try:
        assert acknowledge(store, "notion.latency", "tasks", by="bob", comment="", now=T0) is None
        apply_results(settings, store, [result(Status.WARNING)], now=T0)  # PENDING
        assert acknowledge(store, "notion.latency", "tasks", by="bob", comment="", now=T0) is None
        apply_results(settings, store, [result(Status.WARNING)], now=T0 + 60)  # FIRING
        alert = acknowledge(store, "notion.latency", "tasks", by="bob", comment="db", now=T0)
        assert alert is not None
        assert (alert.acked_by, alert.acked_at, alert.ack_comment) == ("bob", T0, "db")
        assert acknowledge(store, "notion.latency", "", by="bob", comment="", now=T0) is None
        removed = unacknowledge(store, "notion.latency", "tasks")
        assert removed is not None and removed.acked_by == "bob"
        assert load_alert(store, "notion.latency", "tasks").acked_by is None
        assert unacknowledge(store, "notion.latency", "tasks") is None
    finally:
        store.close()


def test_an_ack_stops_reminders_through_apprise_and_the_resolved_names_who(tmp_path, webhook):
    settings = settings_for(tmp_path, webhook.url)
    store = Store.open(tmp_path / "opsd.db")
    try:
        apply_results(settings, store, [result(Status.CRITICAL)], now=T0)
        retry_outbox(settings, store, T0)
        assert len(webhook.received) == 1
        acknowledge(store, "notion.latency", "tasks", by="alice", comment="", now=T0 + 300)
        for hours in range(1, 9):  # the daemon's sweeps and new failing results
            sweep(settings, store, T0 + hours * HOUR)
            apply_results(settings, store, [result(Status.CRITICAL)], now=T0 + hours * HOUR + 1)
            retry_outbox(settings, store, T0 + hours * HOUR + 1)
        assert len(webhook.received) == 1
        apply_results(settings, store, [result(Status.OK)], now=T0 + 9 * HOUR)
        retry_outbox(settings, store, T0 + 9 * HOUR)
    finally:
        store.close()
    assert webhook.titles()[1].startswith("[RESOLVED] notion.latency/tasks")
    assert "Acknowledged by alice at 2025-01-24 07:05:00 UTC" in webhook.received[1]["message"]


# --- `opsd ack` ---------------------------------------------------------------------------


def one_critical_alert(tmp_path: Path) -> None:
    """A history database in `tmp_path` with notion.latency/tasks firing CRITICAL."""
    store = Store.open(tmp_path / "opsd.db")
    try:
        apply_results(settings_for(tmp_path), store, [result(Status.CRITICAL)], now=T0)
    finally:
        store.close()


def test_opsd_ack_acknowledges_shows_in_alerts_and_removes(tmp_path, make_config, opsd_cli):
    config = str(make_config())
    one_critical_alert(tmp_path)

    done = opsd_cli("--config", config, "ack", "notion.latency/tasks", "--comment", "on it",
                    "--by", "alice")
    assert done.code == 0, done.err
    assert done.out == (
        "notion.latency/tasks (CRITICAL) acknowledged by alice: on it; no reminders or "
        "escalations until it resolves or gets worse\n"
    )
    [alert] = json.loads(opsd_cli("--config", config, "alerts", "--json").out)["alerts"]
    assert (alert["acked_by"], alert["ack_comment"]) == ("alice", "on it")
    assert alert["acked_at"] > T0

    removed = opsd_cli("--config", config, "ack", "--remove", "notion.latency/tasks")
    assert (removed.code, removed.out) == (
        0, "notion.latency/tasks: acknowledgement by alice removed\n"
    )
    again = opsd_cli("--config", config, "ack", "--remove", "notion.latency/tasks")
    assert again.code == 3
    assert again.err == (
        "opsd: notion.latency/tasks: not acknowledged (firing: notion.latency/tasks)\n"
    )

    mine = opsd_cli("--config", config, "ack", "notion.latency/tasks", "--json")
    assert mine.code == 0, mine.err
    ack = json.loads(mine.out)["ack"]
    assert (ack["check"], ack["target"], ack["severity"]) == ("notion.latency", "tasks",
                                                              "CRITICAL")
    assert (ack["acked_by"], ack["comment"]) == (getpass.getuser(), "")


def test_opsd_ack_without_a_firing_alert_says_so_in_one_line(tmp_path, make_config, opsd_cli):
    config = str(make_config())
    one_critical_alert(tmp_path)
    for name, expected in (
        ("nosuch.check", "nosuch.check: no firing alert (see `opsd alerts`)"),
        ("notion.latency", "notion.latency: no firing alert (firing: notion.latency/tasks)"),
    ):
        done = opsd_cli("--config", config, "ack", name)
        assert done.code == 3
        assert done.out == ""
        assert done.err == f"opsd: {expected}\n"
