"""Flapping: the weighted share of state changes (pure), then through the observer with a real
SQLite store (what is recorded, what would be delivered), messages, and config. Time is
injected (`now`)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from opsd.alerting.engine import Alert, EventType, Phase
from opsd.alerting.flapping import HELD, FlapPolicy, share_of_changes, update
from opsd.alerting.messages import Origin, body, compose, title
from opsd.alerting.observer import apply_results
from opsd.config import Settings
from opsd.errors import PlaybookError
from opsd.playbooks import parse_entry
from opsd.results import Result, Status
from opsd.store import Store
from opsd.store.alerts import events_since, load_alert
from opsd.store.outbox import superseded

T0 = 1_737_702_000.0
MINUTE = 60.0
UP, DOWN = Status.OK, Status.CRITICAL


# --- the share, pure ------------------------------------------------------------------------


def test_share_weighs_recent_changes_more_and_a_constant_flipper_scores_one():
    assert share_of_changes("") == share_of_changes("O") == (0.0, 0)
    assert share_of_changes("OCOCOC") == (1.0, 5)
    assert share_of_changes("OOOOOO") == (0.0, 0)
    old, _ = share_of_changes("COOOO")  # the oldest transition weighs 0.8
    new, _ = share_of_changes("OOOOC")  # the newest 1.2
    assert old == pytest.approx(0.8 / 4) and new == pytest.approx(1.2 / 4)


def test_update_keeps_the_last_window_results_and_needs_more_than_one_outage():
    policy = FlapPolicy(window=4, high=0.3, low=0.2)
    flap = update("OCCO", Status.WARNING, False, policy)
    assert flap.history == "CCOW"
    # A single outage (down, up) is two changes: never flapping, however short.
    assert not update("OC", UP, False, FlapPolicy()).flapping
    assert update("OCO", DOWN, False, FlapPolicy()).flapping  # the third change in a row


def test_hysteresis_between_high_and_low():
    policy = FlapPolicy(window=10, high=0.5, low=0.2)
    history, flapping = "O", False
    for state in [DOWN, UP] * 3:
        flap = update(history, state, flapping, policy)
        history, flapping = flap.history, flap.flapping
    assert flapping
    shares = []
    while flapping:
        flap = update(history, UP, flapping, policy)
        history, flapping = flap.history, flap.flapping
        shares.append(flap.share)
    assert shares[-1] < 0.2 <= shares[-2]  # still flapping below high, until under low


def test_disabled_forgets_the_history():
    flap = update("OCOC", DOWN, True, FlapPolicy(enabled=False))
    assert (flap.history, flap.flapping) == ("", False)


def test_policy_from_config_and_a_per_entry_override():
    settings = Settings(alerts={"flapping": {"window": 10, "high": 0.6, "low": 0.4}})
    assert FlapPolicy.from_config(settings.alerts) == FlapPolicy(True, 10, 0.6, 0.4)
    spec = parse_entry({"kind": "history.trend", "flapping": {"high": 0.3}}, "daily")
    # `low` follows a lowered `high` so the two never cross.
    assert FlapPolicy.from_config(settings.alerts, spec) == FlapPolicy(True, 10, 0.3, 0.3)
    off = parse_entry({"kind": "history.trend", "flapping": {"enabled": False}}, "daily")
    assert FlapPolicy.from_config(settings.alerts, off).enabled is False


def test_bad_flapping_keys_name_the_key():
    with pytest.raises(ValidationError, match="low must not be above high"):
        Settings(alerts={"flapping": {"high": 0.2, "low": 0.5}})
    with pytest.raises(PlaybookError, match=r"\.flapping\.window"):
        parse_entry({"kind": "history.trend", "flapping": {"window": 1}}, "daily")
    with pytest.raises(PlaybookError, match=r"\.flapping\.often"):
        parse_entry({"kind": "history.trend", "flapping": {"often": 3}}, "daily")


# --- through the observer (real SQLite) -------------------------------------------------------


class Observed:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = Store.memory()

    def run(self, status: Status, now: float, summary: str = "") -> list:
        text = summary or ("connection refused" if status is DOWN else "200 in 40 ms")
        result = Result(status, text, check="http.endpoint", kind="http.endpoint", target="api")
        return apply_results(self.settings, self.store, [result], now=now, playbook="realtime")

    def alert(self) -> Alert:
        alert = load_alert(self.store, "http.endpoint", "api")
        assert alert is not None
        return alert


def delivered(events: list) -> list[tuple[EventType, Status]]:
    return [(e.type, e.severity) for e in events if e.deliver]


@pytest.fixture
def observed() -> Observed:
    return Observed(Settings())


def test_twenty_flips_send_three_messages_and_record_every_state(observed):
    sent = []
    for run in range(20):
        sent += delivered(observed.run(DOWN if run % 2 == 0 else UP, T0 + run * MINUTE))
    assert sent == [
        (EventType.FIRING, DOWN), (EventType.RESOLVED, DOWN), (EventType.FLAPPING, DOWN),
    ]
    alert = observed.alert()
    assert alert.flapping and alert.flap_history == "CO" * 10
    held = [e for e in events_since(observed.store, T0) if e.silenced_by == HELD]
    assert len(held) == 18  # the engine kept judging: each change recorded, none sent
    assert {e.type for e in held} == {EventType.FIRING, EventType.RESOLVED}


def test_settling_up_sends_one_resolving_message(observed):
    for run in range(6):
        observed.run(DOWN if run % 2 == 0 else UP, T0 + run * MINUTE)
    assert observed.alert().flapping
    sent = []
    for run in range(6, 40):
        sent += [e for e in observed.run(UP, T0 + run * MINUTE) if e.deliver]
    [settled] = sent
    assert (settled.type, settled.resolution, settled.severity) == (
        EventType.FLAPPING_ENDED, "200 in 40 ms", DOWN)
    alert = observed.alert()
    assert (alert.phase, alert.flapping) == (Phase.OK, False)
    origin = Origin("box")
    assert title(settled, origin) == (
        "[RESOLVED] Stopped flapping: http.endpoint/api: 200 in 40 ms (box)")
    assert "stopped flapping and settled OK (was CRITICAL): 200 in 40 ms" in body(settled, origin)
    assert compose([settled], origin, group=True)[0].notify_type == "success"


def test_settling_down_says_it_fires_and_reminds_from_then_on(observed):
    for run in range(6):
        observed.run(DOWN if run % 2 == 0 else UP, T0 + run * MINUTE)
    sent = []
    for run in range(6, 40):
        sent += [e for e in observed.run(DOWN, T0 + run * MINUTE) if e.deliver]
    [settled] = sent
    assert (settled.type, settled.severity, settled.resolution) == (
        EventType.FLAPPING_ENDED, DOWN, "")
    assert title(settled, Origin("box")).startswith("[CRITICAL] Stopped flapping: http.endpoint")
    assert "Stopped flapping: settled CRITICAL." in body(settled, Origin("box"))
    alert = observed.alert()
    assert (alert.phase, alert.notified_at) == (Phase.FIRING, settled.at)
    [reminder] = delivered(observed.run(DOWN, settled.at + 4 * 3600))
    assert reminder == (EventType.REMINDER, DOWN)


def test_reminders_are_held_while_flapping(observed):
    for run in range(6):
        observed.run(DOWN if run % 2 == 0 else UP, T0 + run * MINUTE)
    assert observed.alert().flapping and observed.alert().phase is Phase.OK
    observed.run(DOWN, T0 + 6 * MINUTE)  # firing again (held)
    sweep = apply_results(observed.settings, observed.store, [], now=T0 + 5 * 3600)
    assert [(e.type, e.silenced_by) for e in sweep] == [(EventType.REMINDER, HELD)]


def test_outages_apart_are_not_flapping(observed):
    sent = []
    for run, status in enumerate([DOWN, DOWN, DOWN, UP, *[UP] * 10, DOWN, UP]):
        sent += delivered(observed.run(status, T0 + run * MINUTE))
    assert [t for t, _ in sent] == [EventType.FIRING, EventType.RESOLVED] * 2
    assert not observed.alert().flapping


def test_flapping_disabled_sends_every_change():
    observed = Observed(Settings(alerts={"flapping": {"enabled": False}}))
    sent = []
    for run in range(10):
        sent += delivered(observed.run(DOWN if run % 2 == 0 else UP, T0 + run * MINUTE))
    assert [t for t, _ in sent] == [EventType.FIRING, EventType.RESOLVED] * 5
    assert observed.alert().flap_history == ""


def test_skipped_results_leave_the_history_alone(observed):
    observed.run(DOWN, T0)
    before = observed.alert().flap_history
    apply_results(observed.settings, observed.store, [
        Result(Status.SKIPPED, "no data", check="http.endpoint", kind="http.endpoint",
               target="api")], now=T0 + MINUTE)
    assert observed.alert().flap_history == before == "OC"


def test_a_resolved_held_by_flapping_does_not_make_earlier_messages_stale(observed):
    observed.run(DOWN, T0)
    observed.run(UP, T0 + MINUTE)
    [flapping] = [e for e in observed.run(DOWN, T0 + 2 * MINUTE) if e.deliver]
    [held] = observed.run(UP, T0 + 3 * MINUTE)
    assert (flapping.type, held.type, held.silenced_by) == (
        EventType.FLAPPING, EventType.RESOLVED, HELD)
    assert not superseded(observed.store, [flapping.id])
