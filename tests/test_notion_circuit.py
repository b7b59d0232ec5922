"""The Notion circuit breaker: the pure state machine (open after N server-side failures,
probes with a doubling backoff, closed by two good probes), its store-backed front shared
between two services on one database, and the alert engine holding an alert's state while
checks are not sent. Time is an argument throughout."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from opsd.alerting.engine import Alert, EventType, Phase, Policy, evaluate
from opsd.config import Settings
from opsd.config.circuit import CircuitConfig
from opsd.notion.circuit import (
    CircuitBreaker,
    CircuitOpen,
    CircuitState,
    Gate,
    claim_probe,
    gate,
    observed_line,
    outcome_of,
    record,
    status_line,
)
from opsd.notion.errors import NotionError, classify_exception, classify_response
from opsd.notion.service import NotionService
from opsd.results import Result, Status
from opsd.sandbox.api import SANDBOX_TOKEN
from opsd.store import Store

T0 = 1_737_702_000.0  # 2025-01-24 07:00 UTC
POLICY = CircuitConfig()
OVERLOADED = classify_response(529, '{"object": "error", "code": "service_overload"}', {}, T0)


@pytest.fixture(autouse=True)
def nothing_observed():
    """Each test starts as a fresh process would: no circuit seen (what /healthz reads)."""
    from opsd.notion import circuit

    circuit._observed = None
    yield
    circuit._observed = None


def answer(status: int, code: str = "x") -> NotionError:
    return classify_response(status, f'{{"object": "error", "code": "{code}"}}', {}, T0)


def opened(at: float = T0, policy: CircuitConfig = POLICY) -> CircuitState:
    state = CircuitState()
    for _ in range(policy.failures_to_open):
        state = record(state, "failure", at, policy, error="Notion is overloaded (529)")
    return state


# --- what counts ------------------------------------------------------------------------------


@pytest.mark.parametrize("error", [
    answer(500), answer(502), answer(503), answer(504), OVERLOADED,
    classify_response(502, "<html><title>502 Bad Gateway</title></html>",
                      {"server": "nginx"}, T0),
    classify_exception(TimeoutError(), "https://api.notion.com", 30),
    classify_exception(httpx.ConnectError("refused"), "https://api.notion.com", 30),
])
def test_server_side_failures_count(error):
    assert outcome_of(error) == "failure"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409])
def test_notion_judging_the_request_means_it_is_up(status):
    assert outcome_of(answer(status)) == "success"


def test_rate_limits_and_unsent_requests_say_nothing():
    assert outcome_of(answer(429, "rate_limited")) == "neutral"
    assert outcome_of(NotionError("no_slot", "no request slot")) == "neutral"
    firewall = classify_response(403, "<html><title>Attention Required! | Cloudflare</title>",
                                 {"cf-ray": "8f1c2d3e4f5a6b7c-FRA"}, T0)
    assert outcome_of(firewall) == "neutral"
    assert outcome_of(None) == "success"


# --- the state machine ------------------------------------------------------------------------


def test_opens_after_n_consecutive_failures_and_not_before():
    state = CircuitState()
    for n in range(1, POLICY.failures_to_open):
        state = record(state, "failure", T0 + n, POLICY, error="Notion is overloaded (529)")
        assert not state.open and state.failures == n
        assert gate(state, T0 + n) is Gate.SEND
    state = record(state, "failure", T0 + 10, POLICY, error="Notion is overloaded (529)")
    assert state.open and state.opened_at == T0 + 10
    assert state.next_probe_at == T0 + 10 + 30
    assert gate(state, T0 + 39) is Gate.HOLD
    assert gate(state, T0 + 40) is Gate.PROBE


def test_an_answer_breaks_the_streak_and_a_401_does_not_count():
    state = CircuitState()
    for _ in range(POLICY.failures_to_open - 1):
        state = record(state, "failure", T0, POLICY)
    state = record(state, outcome_of(answer(401, "unauthorized")), T0, POLICY)
    assert state == CircuitState()
    for _ in range(POLICY.failures_to_open - 1):
        state = record(state, "failure", T0, POLICY)
    state = record(state, "neutral", T0, POLICY)  # a 429: the rate limiter's business
    assert not state.open and state.failures == POLICY.failures_to_open - 1


def test_failed_probes_back_off_30_60_120_240_300_300():
    state, now, steps = opened(), T0, []
    for _ in range(6):
        wait = state.next_probe_at - now
        steps.append(wait)
        now += wait
        assert gate(state, now) is Gate.PROBE
        state = claim_probe(state, now)
        assert gate(state, now) is Gate.HOLD  # a concurrent caller does not probe too
        state = record(state, "failure", now, POLICY, probe=True, error="still 529")
    assert steps == [30, 60, 120, 240, 300, 300]
    assert state.open and state.last_error == "still 529"


def test_two_good_probes_in_a_row_close_it():
    state = opened()
    state = record(state, "success", T0 + 30, POLICY, probe=True)
    assert state.open and state.successes == 1 and state.next_probe_at == T0 + 60
    state = record(state, "failure", T0 + 60, POLICY, probe=True)  # not in a row
    state = record(state, "success", T0 + 120, POLICY, probe=True)
    assert state.open
    state = record(state, "success", T0 + 150, POLICY, probe=True)
    assert state == CircuitState() and gate(state, T0 + 150) is Gate.SEND


def test_answers_to_requests_sent_before_it_opened_change_nothing():
    state = opened()
    assert record(state, "success", T0 + 1, POLICY) == state
    assert record(state, "failure", T0 + 1, POLICY) == state


def test_the_status_line_names_the_error_and_the_next_probe():
    state = opened(T0 + 7 * 60 + 12)
    assert status_line(state, "UTC") == (
        "Notion circuit OPEN since 07:07 (Notion failing: Notion is overloaded (529)), "
        "next probe 07:07")
    assert status_line(CircuitState(), "UTC") == "Notion circuit closed"
    refusal = CircuitOpen(state, "Europe/Berlin")
    assert str(refusal) == ("circuit open since 08:07 "
                            "(Notion failing: Notion is overloaded (529))")
    assert refusal.status is Status.UNKNOWN and refusal.details["circuit_open"] is True
    assert "[notion.circuit]" in refusal.details["hint"]


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="backoff_start"):
        CircuitConfig(backoff_start=600, backoff_max=300)
    assert Settings(notion={"circuit": {"backoff_max": "10m"}}).notion.circuit.backoff_max == 600


# --- shared through the store -----------------------------------------------------------------


def test_two_processes_share_one_circuit_and_one_probe(tmp_path):
    """Two breakers on one database (the daemon and a CLI command): the one that sees the
    failures opens it for both, and a due probe is taken by one of them only."""
    now = [T0]
    first, second = Store.open(tmp_path / "opsd.db"), Store.open(tmp_path / "opsd.db")
    daemon, cli = (CircuitBreaker(POLICY, clock=lambda: now[0], store=s, budget="b")
                   for s in (first, second))

    async def scenario() -> list[Gate]:
        for _ in range(POLICY.failures_to_open):
            await daemon.report(OVERLOADED)
        seen = [await cli.admit()]
        now[0] = T0 + 30
        seen += [await cli.admit(), await daemon.admit()]
        return seen

    assert asyncio.run(scenario()) == [Gate.HOLD, Gate.PROBE, Gate.HOLD]
    assert observed_line("UTC") is not None
    first.close()
    second.close()


def test_a_service_sends_no_check_while_open_and_probes_when_due(sandbox, tmp_path):
    """The NotionService with the sandbox answering 529: N failures, then CircuitOpen without
    a request; at the step the probe goes first and, once Notion is back, two of them close
    the circuit and the check's own request follows."""
    now = [T0]
    store = Store.open(tmp_path / "opsd.db")
    settings = Settings(notion={"token": SANDBOX_TOKEN, "base_url": sandbox.url,
                                "max_retries": 0})

    async def scenario() -> None:
        svc = NotionService(settings.notion, store=store, clock=lambda: now[0])
        try:
            sandbox.fail(529)
            for _ in range(POLICY.failures_to_open):
                with pytest.raises(NotionError):
                    await svc.me(deadline=svc.deadline(10))
            sent = sandbox.stats()["requests_total"]
            with pytest.raises(CircuitOpen):
                await svc.me(deadline=svc.deadline(10))
            assert sandbox.stats()["requests_total"] == sent
            sandbox.reset()
            now[0] = T0 + 30
            with pytest.raises(CircuitOpen):  # the probe succeeded: one of two
                await svc.me(deadline=svc.deadline(10))
            now[0] = T0 + 60
            reply = await svc.me(deadline=svc.deadline(10))  # probe, closed, then the check
            assert reply.body["object"] == "user"
            assert sandbox.stats()["requests_total"] == 3  # after the reset: 2 probes, 1 check
            assert not (await svc.circuit.current()).open
        finally:
            await svc.aclose()

    asyncio.run(scenario())
    store.close()


# --- the alert engine holds ------------------------------------------------------------------


def circuit_result(status: Status = Status.UNKNOWN) -> Result:
    return Result(status, "circuit open since 07:00 (Notion failing: 529)", check="notion.auth",
                  kind="notion.auth", details={"circuit_open": True})


def test_circuit_open_results_hold_a_firing_alert_as_it_is():
    policy = Policy(unknown_as="CRITICAL")
    firing = Alert("notion.auth", phase=Phase.FIRING, severity=Status.WARNING, failures=3,
                   since=T0, fired_at=T0, notified_severity=Status.WARNING, notified_at=T0)
    held, events = evaluate(firing, circuit_result(), T0 + 60, policy)
    assert events == [] and held == firing  # no escalation to CRITICAL, no RESOLVED
    plain = Result(Status.UNKNOWN, "check failed", check="notion.auth", kind="notion.auth")
    escalated, events = evaluate(firing, plain, T0 + 60, policy)
    assert escalated.severity is Status.CRITICAL  # an ordinary UNKNOWN still counts


def test_circuit_open_results_open_no_alert():
    policy = Policy(unknown_as="CRITICAL")
    alert, events = evaluate(Alert("notion.auth"), circuit_result(), T0, policy)
    assert events == [] and alert.phase is Phase.OK


def test_a_held_alert_still_resolves_once_checks_run():
    policy = Policy()
    firing = Alert("notion.auth", phase=Phase.FIRING, severity=Status.CRITICAL, failures=1,
                   since=T0, fired_at=T0, notified_severity=Status.CRITICAL, notified_at=T0)
    held, _ = evaluate(firing, circuit_result(), T0 + 60, policy)
    ok = Result(Status.OK, "authenticated", check="notion.auth", kind="notion.auth")
    _, [event] = evaluate(held, ok, T0 + 120, policy)
    assert event.type is EventType.RESOLVED


def test_the_daemon_start_shows_a_stored_open_circuit(tmp_path):
    """`publish_budget` (run at the daemon's start) reads the circuit from the store: the
    gauge and /healthz's line show an outage that began before the restart."""
    from opsd import metrics
    from opsd.notion.service import budget_key, publish_budget

    settings = Settings(notion={"token": SANDBOX_TOKEN, "base_url": "http://127.0.0.1:9"})
    store = Store.open(tmp_path / "opsd.db")
    budget = budget_key(settings.notion.base_url, SANDBOX_TOKEN)
    breaker = CircuitBreaker(POLICY, clock=lambda: T0, store=store, budget=budget)

    async def scenario() -> None:
        for _ in range(POLICY.failures_to_open):
            await breaker.report(OVERLOADED)
        metrics.observe_notion_circuit(False)  # a fresh process: nothing seen yet
        await publish_budget(settings.notion, store, clock=lambda: T0 + 5)

    asyncio.run(scenario())
    assert metrics.NOTION_CIRCUIT_OPEN._value.get() == 1.0
    assert observed_line("UTC") == (
        "Notion circuit OPEN since 07:00 (Notion failing: Notion is overloaded "
        "(529 service_overload)), next probe 07:00")
    store.close()
