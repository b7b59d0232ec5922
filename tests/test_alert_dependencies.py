"""Dependencies: the built-in Notion tree and `depends_on`, pure; then through the observer with
a real SQLite store (no receivers: what is recorded, what would be delivered). Time is
injected (`now`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opsd.alerting.dependencies import Holds, is_parent, parents_first
from opsd.alerting.engine import Alert, EventType, Phase
from opsd.alerting.messages import Origin, body
from opsd.alerting.observer import apply_results
from opsd.alerting.silences import add_silence
from opsd.config import Settings
from opsd.errors import PlaybookError
from opsd.playbooks import parse_playbook
from opsd.results import Result, Status
from opsd.store import Store
from opsd.store.alerts import events_since, load_alert

T0 = 1_737_702_000.0
HOUR = 3600.0
AUTH_CHILDREN = (
    "notion.access", "notion.schema", "notion.latency", "notion.count", "notion.data_sources",
    "notion.error_rate", "notion.rate_limit", "notion.availability",
)


def firing(check: str, target: str = "", kind: str = "") -> Alert:
    return Alert(check, target, kind=kind or check, phase=Phase.FIRING, severity=Status.CRITICAL)


def result(status: Status, check: str, target: str = "", kind: str = "") -> Result:
    return Result(status, f"{check} is {status.value}", check=check, kind=kind or check,
                  target=target)


# --- the tree, pure ---------------------------------------------------------------------------


@pytest.mark.parametrize("child", AUTH_CHILDREN)
def test_auth_holds_every_other_notion_kind(child):
    assert is_parent(firing("notion.auth"), child, "tasks")
    assert not is_parent(firing("notion.auth"), "notion.status_page", "")
    assert not is_parent(firing("notion.auth"), "http.endpoint", "api")


def test_token_format_holds_auth_and_access_holds_its_own_database():
    assert is_parent(firing("notion.token_format"), "notion.auth", "")
    assert not is_parent(firing("notion.token_format"), "notion.status_page", "")
    access = firing("notion.access", "tasks")
    for kind in ("notion.schema", "notion.count", "notion.latency"):
        assert is_parent(access, kind, "tasks")
        assert is_parent(access, kind, "tasks/Tasks")  # a data source of that database
        assert not is_parent(access, kind, "fixes")
        assert not is_parent(access, kind, "tasks-archive")
    assert not is_parent(access, "notion.data_sources", "tasks")


def test_depends_on_names_a_check_a_kind_or_a_label():
    api = firing("api", "prod", kind="http.endpoint")
    for names in (["api"], ["http.endpoint"], ["api/prod"]):
        assert is_parent(api, "cache.hit_rate", "redis", names)
    assert not is_parent(api, "cache.hit_rate", "redis", ["api/staging", "web"])


def test_parents_are_judged_first_within_a_run():
    playbook = parse_playbook({"name": "t", "checks": [
        {"name": "web", "kind": "http.endpoint", "target": "web", "depends_on": ["api"]},
        {"name": "api", "kind": "http.endpoint", "target": "api"},
    ]}, Path("t.toml"))
    specs = {spec.name: spec for spec in playbook.checks}
    results = [
        result(Status.CRITICAL, "notion.schema", "tasks"),
        result(Status.CRITICAL, "web", kind="http.endpoint"),
        result(Status.CRITICAL, "notion.access", "tasks"),
        result(Status.CRITICAL, "notion.auth"),
        result(Status.CRITICAL, "api", kind="http.endpoint"),
        result(Status.CRITICAL, "notion.token_format"),
    ]
    order = [r.check for r in parents_first(results, specs)]
    assert order.index("notion.token_format") < order.index("notion.auth")
    assert order.index("notion.auth") < order.index("notion.access") < order.index("notion.schema")
    assert order.index("api") < order.index("web")


def test_a_cycle_of_depends_on_never_holds_both():
    holds = Holds([
        Alert("a", kind="x", phase=Phase.FIRING, severity=Status.CRITICAL, suppressed_by="b"),
        Alert("b", kind="x", phase=Phase.FIRING, severity=Status.CRITICAL),
    ])
    assert holds.parent_of("a", "x", "", ["b"]) == "b"
    assert holds.parent_of("b", "x", "", ["a"]) is None  # a is held by b: b is the root


def test_playbook_entry_depends_on_must_be_a_list_of_names(tmp_path):
    spec = parse_playbook({"name": "t", "checks": [
        {"kind": "notion.count", "database": "tasks", "depends_on": ["notion.auth", "api/prod"]},
    ]}, tmp_path / "t.toml").checks[0]
    assert spec.depends_on == ["notion.auth", "api/prod"]
    with pytest.raises(PlaybookError, match="depends_on"):
        parse_playbook({"name": "t", "checks": [
            {"kind": "notion.count", "database": "tasks", "depends_on": 3},
        ]}, tmp_path / "t.toml")


# --- through the observer, with a real store ---------------------------------------------------


class Observed:
    """`apply_results` on a real SQLite file; every event recorded so far."""

    def __init__(self, path: Path) -> None:
        self.settings = Settings(storage={"path": str(path)})
        self.store = Store.open(path)

    def run(self, *results: Result, now: float, playbook: str = "notion") -> list:
        return apply_results(self.settings, self.store, results, now=now, playbook=playbook)

    def delivered(self, events) -> list[tuple[EventType, str]]:
        return [(e.type, e.label) for e in events if e.deliver]


@pytest.fixture
def observed(tmp_path):
    engine = Observed(tmp_path / "opsd.db")
    yield engine
    engine.store.close()


def revoked(status: Status = Status.CRITICAL) -> list[Result]:
    """A revoked token as one run sees it: the children come before auth in the playbook."""
    return [
        result(status, "notion.access", "tasks"),
        result(status, "notion.schema", "tasks"),
        result(status, "notion.latency", "tasks/Tasks"),
        result(Status.OK, "notion.status_page"),
        result(status, "notion.auth"),
    ]


def test_a_revoked_token_announces_auth_alone_naming_the_children_it_holds(observed):
    events = observed.run(*revoked(), now=T0)
    assert observed.delivered(events) == [(EventType.FIRING, "notion.auth")]
    [auth] = [e for e in events if e.check == "notion.auth"]
    assert auth.holding == "notion.access/tasks, notion.latency/tasks/Tasks, notion.schema/tasks"
    assert "- Holding: notion.access/tasks, notion.latency/tasks/Tasks, notion.schema/tasks" in (
        body(auth, Origin("host"))
    )
    held = {e.label: e.suppressed_by for e in events if not e.deliver}
    # access holds schema and latency of its database, and is itself held by auth.
    assert held == {
        "notion.access/tasks": "notion.auth",
        "notion.schema/tasks": "notion.access/tasks",
        "notion.latency/tasks/Tasks": "notion.access/tasks",
    }
    stored = load_alert(observed.store, "notion.schema", "tasks")
    assert stored is not None
    assert (stored.phase, stored.suppressed_by, stored.silenced_by) == (
        Phase.FIRING, "notion.access/tasks", None
    )
    # Recorded as such: the event log keeps who held whom and whom the parent named.
    logged = {e.label: (e.suppressed_by, e.holding) for e in events_since(observed.store, T0)}
    assert logged["notion.schema/tasks"] == ("notion.access/tasks", "")
    assert logged["notion.auth"][1] == auth.holding

    # The checks keep running: nothing more while the token stays revoked, even past reminders.
    for step in range(1, 6):
        later = observed.run(*revoked(), now=T0 + step * HOUR)
        assert [e for e in later if e.check != "notion.auth"] == []
    # Restored: one RESOLVED for auth; the children's, never announced, are not sent.
    events = observed.run(*revoked(Status.OK), now=T0 + 6 * HOUR)
    assert observed.delivered(events) == [(EventType.RESOLVED, "notion.auth")]
    assert sorted(e.label for e in events if e.type is EventType.RESOLVED) == [
        "notion.access/tasks", "notion.auth", "notion.latency/tasks/Tasks", "notion.schema/tasks"
    ]


def test_the_parent_names_children_pending_in_its_run(observed):
    events = observed.run(result(Status.WARNING, "notion.count", "tasks"),
                          result(Status.CRITICAL, "notion.auth"), now=T0)
    [auth] = events
    assert (auth.type, auth.holding) == (EventType.FIRING, "notion.count/tasks")
    events = observed.run(result(Status.WARNING, "notion.count", "tasks"),
                          result(Status.CRITICAL, "notion.auth"), now=T0 + 60)
    [count] = events  # fires at its second WARNING, held
    assert (count.type, count.suppressed_by, count.deliver) == (
        EventType.FIRING, "notion.auth", False
    )


def test_a_parent_reminder_names_the_children_still_held(observed):
    observed.run(*revoked(), now=T0)
    events = observed.run(*revoked(), now=T0 + 4 * HOUR)
    [reminder] = [e for e in events if e.deliver]
    assert (reminder.type, reminder.label) == (EventType.REMINDER, "notion.auth")
    assert "notion.schema/tasks" in reminder.holding


def test_children_still_failing_when_the_parent_resolves_fire_in_that_run(observed):
    observed.run(result(Status.CRITICAL, "notion.access", "tasks"),
                 result(Status.CRITICAL, "notion.auth"), now=T0)
    events = observed.run(result(Status.CRITICAL, "notion.access", "tasks"),
                          result(Status.OK, "notion.auth"), now=T0 + 60)
    assert observed.delivered(events) == [
        (EventType.RESOLVED, "notion.auth"), (EventType.FIRING, "notion.access/tasks"),
    ]
    stored = load_alert(observed.store, "notion.access", "tasks")
    assert stored is not None and stored.suppressed_by is None


def test_a_held_child_in_another_playbook_waits_for_its_own_next_result(observed):
    observed.run(result(Status.CRITICAL, "notion.auth"), now=T0, playbook="probe")
    observed.run(result(Status.CRITICAL, "notion.count", "tasks"), now=T0 + 10, playbook="daily")
    # auth recovers: the count alert (not in this run) is not announced from a stale result...
    events = observed.run(result(Status.OK, "notion.auth"), now=T0 + 60, playbook="probe")
    assert observed.delivered(events) == [(EventType.RESOLVED, "notion.auth")]
    events = observed.run(result(Status.OK, "notion.auth"), now=T0 + 5 * HOUR, playbook="probe")
    assert [e for e in events if e.check == "notion.count"] == []
    # ...but by its own next result: OK resolves it unheard, a failure announces it.
    events = observed.run(result(Status.CRITICAL, "notion.count", "tasks"),
                          now=T0 + 6 * HOUR, playbook="daily")
    assert observed.delivered(events) == [(EventType.FIRING, "notion.count/tasks")]


def test_a_childs_resolved_is_never_held(observed):
    observed.run(result(Status.CRITICAL, "notion.latency", "tasks"), now=T0)  # announced
    observed.run(result(Status.CRITICAL, "notion.auth"), now=T0 + 60)
    events = observed.run(result(Status.CRITICAL, "notion.auth"),
                          result(Status.OK, "notion.latency", "tasks"), now=T0 + 120)
    assert observed.delivered(events) == [(EventType.RESOLVED, "notion.latency/tasks")]


def test_an_announced_childs_reminders_are_held_while_the_parent_fires(observed):
    observed.run(result(Status.CRITICAL, "notion.latency", "tasks"), now=T0)
    observed.run(result(Status.CRITICAL, "notion.auth"), now=T0 + 60)
    events = observed.run(result(Status.CRITICAL, "notion.auth"),
                          result(Status.CRITICAL, "notion.latency", "tasks"), now=T0 + 5 * HOUR)
    assert observed.delivered(events) == [(EventType.REMINDER, "notion.auth")]
    [held] = [e for e in events if not e.deliver]
    assert (held.type, held.suppressed_by) == (EventType.REMINDER, "notion.auth")


def test_reminders_of_a_child_in_another_playbook_are_held_too(observed):
    observed.run(result(Status.CRITICAL, "notion.latency", "tasks"), now=T0, playbook="daily")
    observed.run(result(Status.CRITICAL, "notion.auth"), now=T0 + 60, playbook="probe")
    events = observed.run(result(Status.CRITICAL, "notion.auth"), now=T0 + 5 * HOUR,
                          playbook="probe")
    assert observed.delivered(events) == [(EventType.REMINDER, "notion.auth")]
    [held] = [e for e in events if not e.deliver]
    assert (held.type, held.label, held.suppressed_by) == (
        EventType.REMINDER, "notion.latency/tasks", "notion.auth"
    )


def test_a_silence_comes_before_a_parent(observed):
    add_silence(observed.store, pattern="notion.access", target=None, duration=HOUR,
                reason="moving databases", now=T0)
    events = observed.run(result(Status.CRITICAL, "notion.access", "tasks"),
                          result(Status.CRITICAL, "notion.auth"), now=T0 + 60)
    [access] = [e for e in events if e.check == "notion.access"]
    assert access.suppressed_by is None
    assert access.silenced_by is not None and "moving databases" in access.silenced_by
    [auth] = [e for e in events if e.deliver]
    assert auth.holding == ""  # a silenced child is not the parent's to name


# --- end to end: the sandbox, the real runner, real Apprise to a local webhook ------------------


def notion_outage(sandbox, webhook, tmp_path: Path, break_it, mend_it) -> list[dict]:
    """Run a Notion playbook against the sandbox: twice healthy, five times broken, three
    times mended (a minute apart, on an injected clock); the messages the webhook received."""
    from test_alerts_support import run_with_alerts

    from opsd.sandbox import DATABASES, SANDBOX_TOKEN

    settings = Settings(
        # No circuit breaker: its probes' backoff would keep the checks off for minutes after
        # the outage (that is test_fault_notion_circuit's story; this one is about holds).
        notion={"token": SANDBOX_TOKEN, "base_url": sandbox.url, "rate_limit": 1000,
                "burst": 1000, "circuit": {"enabled": False}, "databases": [
                    {"name": "bottlenecks", "id": DATABASES["Bottlenecks Registry"],
                     "required_properties": {"Severity": "select"}},
                    {"name": "fixes", "id": DATABASES["Optimization Fixes"]},
                ]},
        storage={"path": str(tmp_path / "opsd.db")},
        alerts={"urls": [webhook.url]},
    )
    # Thresholds far above any answer time: this test is about failures, not a slow machine.
    playbook = parse_playbook({"name": "notion", "checks": [
        {"kind": "notion.latency", "samples": 1, "warn": 600, "crit": 600},
        {"kind": "notion.schema"},
        {"kind": "notion.access"},
        {"kind": "notion.auth", "crit": 600},
    ]}, Path("notion.toml"))
    def step(number: int) -> None:
        if number == 2:
            break_it()
        if number == 7:
            mend_it()

    run_with_alerts(settings, playbook, [T0 + 60 * n for n in range(10)], before=step)
    return webhook.received


def test_a_revoked_token_sends_one_firing_naming_the_children_and_one_resolved(
    sandbox, webhook, tmp_path
):
    from opsd.sandbox import SANDBOX_TOKEN

    received = notion_outage(sandbox, webhook, tmp_path,
                             lambda: sandbox.revoke_token(SANDBOX_TOKEN),
                             lambda: sandbox.add_token(SANDBOX_TOKEN))
    assert [m["title"].split(":")[0] for m in received] == [
        "[CRITICAL] notion.auth", "[RESOLVED] notion.auth"
    ]
    holding = next(line for line in received[0]["message"].splitlines() if "Holding:" in line)
    # A revoked token fails access as a whole (no database to name).
    for child in ("notion.access,", "notion.schema/bottlenecks", "notion.latency/fixes"):
        assert child in holding


def test_a_notion_503_outage_sends_one_message_and_its_resolved(sandbox, webhook, tmp_path):
    received = notion_outage(sandbox, webhook, tmp_path,
                             lambda: sandbox.fail(503),
                             sandbox.reset)
    assert [m["title"].split(":")[0] for m in received] == [
        "[CRITICAL] notion.auth", "[RESOLVED] notion.auth"
    ]
    assert "- Holding: notion.access, notion.latency/bottlenecks, notion.latency/fixes, " \
        "notion.schema/bottlenecks, notion.schema/fixes (held until this alert resolves)" in (
            received[0]["message"]
        )


def test_cli_shows_who_holds_whom(make_config, opsd_cli, webhook, tmp_path):
    directory = tmp_path / "playbooks"
    directory.mkdir()
    # Both always CRITICAL: retention at >= 0 runs removed, the disk at >= 0 % used.
    (directory / "nightly.toml").write_text(
        'name = "nightly"\n'
        '[[checks]]\nname = "disk"\nkind = "maintenance.disk"\ncrit = 0\n'
        'depends_on = ["retention"]\n'
        '[[checks]]\nname = "retention"\nkind = "maintenance.retention"\ncrit = 0\n'
    )
    config = str(make_config(scheduler={"playbooks_dir": str(directory)},
                             alerts={"urls": [webhook.url]}))
    assert opsd_cli("--config", config, "run-playbook", "nightly").code == 2
    [message] = webhook.received
    assert message["title"].startswith("[CRITICAL] retention: ")
    assert "- Holding: disk (held until this alert resolves)" in message["message"]

    listed = opsd_cli("--config", config, "alerts", "--json")
    suppressed = {a["check"]: a["suppressed_by"] for a in json.loads(listed.out)["alerts"]}
    assert suppressed == {"disk": "retention", "retention": None}
    history = opsd_cli("--config", config, "alerts", "history").out.splitlines()
    [disk] = [line for line in history if " disk " in f" {line} "]
    assert "held by retention" in disk
    events = json.loads(opsd_cli("--config", config, "alerts", "history", "--json").out)["events"]
    by_check = {e["check"]: (e["suppressed_by"], e["holding"]) for e in events}
    assert by_check == {"disk": ("retention", ""), "retention": (None, "disk")}
