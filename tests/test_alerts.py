"""The pure alert state machine: thresholds, reminders, resolve, escalation, silences, clock
jumps. Time is frozen with freezegun and moved explicitly; `now` is read from the frozen clock."""

from __future__ import annotations

import time

import pytest
from freezegun import freeze_time

from opsd.alerting.engine import Alert, EventType, Phase, Policy, evaluate, tick
from opsd.config import AlertsConfig
from opsd.playbooks import CheckSpec
from opsd.results import Result, Status

HOUR = 3600.0
START = "2025-01-24 07:00:00"


def result(status: Status, summary: str = "", value: float | None = None) -> Result:
    return Result(
        status, summary or status.value.lower(), value=value, unit="seconds",
        check="notion.latency", kind="notion.latency", target="tasks",
        details={"thresholds": {"warn": 0.5, "crit": 2.0, "direction": "above"}},
    )


class Machine:
    """Feeds results at the frozen clock's time and collects every event."""

    def __init__(self, clock, policy: Policy | None = None) -> None:
        self.clock = clock
        self.policy = policy or Policy()
        self.alert = Alert("notion.latency", "tasks")
        self.events = []

    def feed(self, status: Status, *, silenced_by: str | None = None, **kw) -> list:
        self.alert, new = evaluate(
            self.alert, result(status, **kw), time.time(), self.policy, silenced_by
        )
        self.events += new
        return new

    def tick(self, silenced_by: str | None = None) -> list:
        self.alert, new = tick(self.alert, time.time(), silenced_by)
        self.events += new
        return new

    def types(self) -> list[EventType]:
        return [e.type for e in self.events]


@pytest.fixture
def machine():
    with freeze_time(START) as clock:
        yield Machine(clock)


def test_critical_fires_on_the_first_result_by_default(machine):
    [event] = machine.feed(Status.CRITICAL, summary="p95 2.4 s", value=2.4)
    assert machine.alert.phase is Phase.FIRING
    assert (event.type, event.severity, event.summary, event.value) == (
        EventType.FIRING, Status.CRITICAL, "p95 2.4 s", 2.4
    )
    assert event.since == event.at == time.time()
    assert event.thresholds == {"warn": 0.5, "crit": 2.0, "direction": "above"}


def test_warning_is_pending_until_the_second_result(machine):
    assert machine.feed(Status.WARNING) == []
    assert machine.alert.phase is Phase.PENDING
    machine.clock.tick(60)
    [event] = machine.feed(Status.WARNING)
    assert event.type is EventType.FIRING
    assert event.since == time.time() - 60  # since the first non-OK result


def test_an_ok_result_while_pending_clears_without_any_event(machine):
    machine.feed(Status.WARNING)
    assert machine.feed(Status.OK) == []
    assert machine.alert.phase is Phase.OK and machine.alert.failures == 0
    assert machine.feed(Status.WARNING) == []  # the streak starts again


def test_a_warning_then_critical_streak_fires_at_the_critical_threshold(machine):
    machine.feed(Status.WARNING)
    [event] = machine.feed(Status.CRITICAL)
    assert event.severity is Status.CRITICAL


def test_firing_notifies_once_however_many_runs_follow(machine):
    machine.feed(Status.CRITICAL)
    for _ in range(50):
        machine.clock.tick(60)
        machine.feed(Status.CRITICAL)
    assert machine.types() == [EventType.FIRING]


def test_reminder_every_repeat_interval(machine):
    machine.feed(Status.CRITICAL)
    machine.clock.tick(4 * HOUR - 1)
    assert machine.feed(Status.CRITICAL) == []
    machine.clock.tick(1)
    [reminder] = machine.feed(Status.CRITICAL)
    assert reminder.type is EventType.REMINDER
    machine.clock.tick(4 * HOUR)
    assert [e.type for e in machine.tick()] == [EventType.REMINDER]  # also without a result


def test_repeat_interval_zero_never_reminds(machine):
    machine.policy = Policy(repeat_interval=0)
    machine.feed(Status.CRITICAL)
    machine.clock.tick(30 * 86400)
    assert machine.feed(Status.CRITICAL) == []


def test_a_forward_clock_jump_sends_one_reminder_not_many(machine):
    machine.feed(Status.CRITICAL)
    machine.clock.tick(10 * 86400)
    assert [e.type for e in machine.feed(Status.CRITICAL)] == [EventType.REMINDER]
    assert machine.feed(Status.CRITICAL) == []


def test_a_backward_clock_jump_sends_nothing_and_keeps_since(machine):
    machine.feed(Status.CRITICAL)
    since = machine.alert.since
    machine.clock.move_to("2025-01-23 07:00:00")
    assert machine.feed(Status.CRITICAL) == []
    assert machine.alert.since == since
    machine.clock.move_to("2025-01-24 11:00:00")  # the original clock + 4 h
    assert [e.type for e in machine.feed(Status.CRITICAL)] == [EventType.REMINDER]


def test_resolves_after_success_threshold_oks(machine):
    machine.policy = Policy(success_threshold=2)
    machine.feed(Status.CRITICAL, summary="p95 2.4 s")
    machine.clock.tick(HOUR)
    assert machine.feed(Status.OK) == []
    assert machine.alert.phase is Phase.FIRING
    machine.feed(Status.CRITICAL, summary="p95 2.4 s")  # a relapse restarts the OK count
    assert machine.feed(Status.OK) == []
    [resolved] = machine.feed(Status.OK, summary="p95 120 ms")
    assert (resolved.type, resolved.severity) == (EventType.RESOLVED, Status.CRITICAL)
    assert (resolved.summary, resolved.resolution) == ("p95 2.4 s", "p95 120 ms")
    assert resolved.at - resolved.since == HOUR
    assert machine.alert.phase is Phase.OK and machine.alert.since is None
    assert machine.feed(Status.OK) == []


def test_escalation_notifies_and_deescalation_is_noted_in_the_next_message(machine):
    machine.policy = Policy(failure_threshold=1)
    machine.feed(Status.WARNING)
    [escalated] = machine.feed(Status.CRITICAL)
    assert (escalated.type, escalated.previous_severity) == (EventType.ESCALATED, Status.WARNING)
    assert machine.feed(Status.WARNING) == []  # de-escalation alone sends nothing
    machine.clock.tick(4 * HOUR)
    [reminder] = machine.feed(Status.WARNING)
    assert (reminder.type, reminder.severity) == (EventType.REMINDER, Status.WARNING)
    assert reminder.previous_severity is Status.CRITICAL
    [again] = machine.feed(Status.CRITICAL)
    assert again.type is EventType.ESCALATED


def test_a_deescalation_reversed_before_the_next_message_is_not_noted(machine):
    machine.feed(Status.CRITICAL)
    machine.feed(Status.WARNING)
    assert machine.feed(Status.CRITICAL) == []  # back where receivers last heard it
    machine.clock.tick(4 * HOUR)
    [reminder] = machine.feed(Status.CRITICAL)
    assert reminder.previous_severity is None


@pytest.mark.parametrize(
    ("unknown_as", "expected"),
    [("WARNING", Status.WARNING), ("CRITICAL", Status.CRITICAL), ("ignore", None)],
)
def test_unknown_alerts_as_configured(machine, unknown_as, expected):
    machine.policy = Policy(unknown_as=unknown_as)
    machine.feed(Status.UNKNOWN)
    machine.feed(Status.UNKNOWN)
    if expected is None:
        assert machine.events == [] and machine.alert.phase is Phase.OK
    else:
        assert [(e.type, e.severity) for e in machine.events] == [(EventType.FIRING, expected)]


def test_skipped_results_change_nothing(machine):
    machine.feed(Status.WARNING)
    machine.feed(Status.SKIPPED)
    assert machine.alert.phase is Phase.PENDING and machine.alert.failures == 1


def test_a_silence_records_the_event_once_and_releases_it_when_it_ends(machine):
    [held] = machine.feed(Status.CRITICAL, silenced_by="silence 1: migration")
    assert (held.type, held.silenced_by, held.deliver) == (
        EventType.FIRING, "silence 1: migration", False
    )
    for _ in range(5):
        machine.clock.tick(600)
        assert machine.feed(Status.CRITICAL, silenced_by="silence 1: migration") == []
    assert machine.alert.notified_severity is None
    machine.clock.tick(600)
    [released] = machine.tick()  # the silence ended; the problem persists
    assert (released.type, released.deliver) == (EventType.FIRING, True)
    assert released.since == held.since
    assert machine.tick() == []


def test_an_alert_resolved_under_a_silence_it_was_never_announced_sends_nothing(machine):
    machine.feed(Status.CRITICAL, silenced_by="maintenance window nightly")
    [resolved] = machine.feed(Status.OK, silenced_by="maintenance window nightly")
    assert resolved.type is EventType.RESOLVED and not resolved.deliver


def test_an_announced_alert_resolved_under_a_silence_still_sends_its_resolve(machine):
    machine.feed(Status.CRITICAL)
    [resolved] = machine.feed(Status.OK, silenced_by="silence 2: deploy")
    assert resolved.type is EventType.RESOLVED and resolved.deliver


def test_escalation_under_a_silence_is_held_then_sent(machine):
    machine.policy = Policy(failure_threshold=1)
    machine.feed(Status.WARNING)
    [held] = machine.feed(Status.CRITICAL, silenced_by="silence 3: x")
    assert held.type is EventType.ESCALATED and not held.deliver
    [sent] = machine.feed(Status.CRITICAL)
    assert sent.type is EventType.ESCALATED and sent.deliver


def test_policy_from_config_prefers_the_playbook_entry():
    alerts = AlertsConfig(failure_threshold=3, success_threshold=2, repeat_interval="1h")
    assert Policy.from_config(alerts) == Policy(3, 2, 3600.0, "WARNING")
    spec = CheckSpec(name="x", kind="history.trend", failure_threshold=5, repeat_interval=0)
    assert Policy.from_config(alerts, spec) == Policy(5, 2, 0.0, "WARNING")
    default = Policy.from_config(AlertsConfig())
    assert (default.threshold(Status.CRITICAL), default.threshold(Status.WARNING)) == (1, 2)
