"""The alert engine end to end through real Apprise, over real sockets, to a local webhook
receiver (`json://127.0.0.1:PORT`) and a local SMTP server (aiosmtpd): what arrives, how
often, and when. Time is injected (`now`), never slept on."""

from __future__ import annotations

import asyncio
from pathlib import Path

from opsd import metrics
from opsd.alerting.engine import EventType, Phase
from opsd.alerting.notify import retry_outbox
from opsd.alerting.observer import (
    AlertObserver,
    apply_results,
    clear_config_alert,
    raise_config_alert,
)
from opsd.alerting.silences import add_silence
from opsd.config import Settings
from opsd.playbooks import parse_playbook
from opsd.redact import redact_secret
from opsd.results import Result, Status
from opsd.runner import Runner
from opsd.store import Store
from opsd.store.alerts import events_since, open_alerts
from opsd.store.outbox import outbox_depth, outbox_rows
from opsd.store.owner import StoreThread

T0 = 1_737_702_000.0  # 2025-01-24 07:00 UTC
HOUR = 3600.0
TOKEN = "ntn_" + "Q" * 40 + "Ko9z"


def result(status: Status, check: str = "notion.latency", target: str = "tasks", **kw) -> Result:
    kind = kw.pop("kind", check)
    return Result(status, kw.pop("summary", f"{check} is {status.value}"), check=check,
                  kind=kind, target=target, **kw)


class Engine:
    """A real SQLite file, reopened on `restart()`, fed results at given times."""

    def __init__(self, path: Path, settings: Settings) -> None:
        self.path = path
        self.settings = settings
        self.store = Store.open(path)

    def run(self, *results: Result, now: float, playbook: str = "realtime") -> list:
        events = apply_results(self.settings, self.store, results, now=now, playbook=playbook)
        retry_outbox(self.settings, self.store, now)
        return events

    def retry(self, now: float) -> int:
        return retry_outbox(self.settings, self.store, now)

    def restart(self) -> None:
        self.store.close()
        self.store = Store.open(self.path)


def engine_for(tmp_path: Path, *urls: str, **alerts: object) -> Engine:
    settings = Settings(
        notion={"token": TOKEN},
        storage={"path": str(tmp_path / "opsd.db")},
        alerts={"urls": list(urls), **alerts},
    )
    return Engine(tmp_path / "opsd.db", settings)


def test_nothing_before_the_threshold_then_exactly_one_message(tmp_path, webhook):
    engine = engine_for(tmp_path, webhook.url)
    engine.run(result(Status.WARNING, summary="p95 800 ms"), now=T0)
    assert webhook.received == []
    engine.run(result(Status.WARNING, summary="p95 800 ms"), now=T0 + 60)
    for minute in range(2, 30):
        engine.run(result(Status.WARNING, summary="p95 800 ms"), now=T0 + 60 * minute)
    assert webhook.titles() == [f"[WARNING] notion.latency/tasks: p95 800 ms ({_host()})"]
    message = webhook.received[0]
    assert message["type"] == "warning"
    assert "Since: 2025-01-24 07:00:00 UTC" in message["message"]
    assert "Runbook:" in message["message"] and "Playbook: realtime" in message["message"]


def test_title_names_the_workspace_and_the_body_shows_value_against_threshold(tmp_path, webhook):
    engine = engine_for(tmp_path, webhook.url)
    auth = result(Status.OK, check="notion.auth", target="", details={"workspace": "Acme Ops"})
    slow = result(Status.CRITICAL, summary="p95 2.40 s (>= 2 s)", value=2.4, unit="seconds",
                  details={"thresholds": {"warn": 0.5, "crit": 2.0, "direction": "above"}})
    engine.run(auth, slow, now=T0)
    [message] = webhook.received
    assert message["title"] == "[CRITICAL] notion.latency/tasks: p95 2.40 s (>= 2 s) (Acme Ops)"
    assert "Value: 2.40 s (threshold: warning >= 500 ms, critical >= 2.00 s)" in message["message"]
    assert message["type"] == "failure"


def test_reminder_after_repeat_interval_then_one_resolved_message(tmp_path, webhook):
    engine = engine_for(tmp_path, webhook.url, repeat_interval="1h")
    engine.run(result(Status.CRITICAL), now=T0)
    engine.run(result(Status.CRITICAL), now=T0 + HOUR - 1)
    assert len(webhook.received) == 1
    engine.run(result(Status.CRITICAL), now=T0 + HOUR)
    assert webhook.titles()[1].startswith("[CRITICAL] Reminder: notion.latency/tasks")
    assert "Still firing after 1h" in webhook.received[1]["message"]
    engine.run(result(Status.OK, summary="p95 120 ms"), now=T0 + HOUR + 60)
    engine.run(result(Status.OK), now=T0 + HOUR + 120)
    assert len(webhook.received) == 3
    resolved = webhook.received[2]
    assert resolved["title"].startswith("[RESOLVED] notion.latency/tasks")
    assert resolved["type"] == "success"
    assert "OK again after 1h1m (was CRITICAL): p95 120 ms" in resolved["message"]


def test_escalation_sends_again(tmp_path, webhook):
    engine = engine_for(tmp_path, webhook.url)
    engine.run(result(Status.WARNING), now=T0)
    engine.run(result(Status.WARNING), now=T0 + 60)
    engine.run(result(Status.CRITICAL), now=T0 + 120)
    engine.run(result(Status.CRITICAL), now=T0 + 180)
    assert [t.split(" notion")[0] for t in webhook.titles()] == [
        "[WARNING]", "[CRITICAL] Escalated:"
    ]
    assert "Escalated from WARNING." in webhook.received[1]["message"]


def test_several_alerts_in_one_run_make_one_grouped_message(tmp_path, webhook):
    engine = engine_for(tmp_path, webhook.url)
    # Independent checks: Notion's would be held by notion.auth (test_alert_dependencies).
    failing = [result(Status.CRITICAL, check=c, target="") for c in
               ("app.api", "app.web", "app.cache", "app.disk")]
    engine.run(*failing, now=T0)
    [message] = webhook.received
    assert message["title"] == (
        f"[CRITICAL] 4 alerts: app.api, app.web, app.cache, … ({_host()})"
    )
    for check in ("app.api", "app.web", "app.cache", "app.disk"):
        assert f"### [CRITICAL] {check}" in message["message"]


def test_grouping_can_be_turned_off(tmp_path, webhook):
    engine = engine_for(tmp_path, webhook.url, group=False)
    engine.run(*[result(Status.CRITICAL, check=c) for c in ("a.one", "a.two")], now=T0)
    assert sorted(t.split(":")[0] for t in webhook.titles()) == [
        "[CRITICAL] a.one/tasks", "[CRITICAL] a.two/tasks"
    ]


def test_tags_route_by_severity_to_mail_and_untagged_urls_get_everything(
    tmp_path, webhook, mailbox
):
    engine = engine_for(tmp_path, webhook.url, "critical=" + mailbox.url)
    engine.run(result(Status.WARNING, check="cache.hit_rate"), now=T0)
    engine.run(result(Status.WARNING, check="cache.hit_rate"), now=T0 + 60)
    assert len(webhook.received) == 1 and mailbox.messages == []
    engine.run(result(Status.WARNING, check="cache.hit_rate"),
               result(Status.CRITICAL, check="notion.auth", summary="token invalid or revoked"),
               now=T0 + 120)
    assert mailbox.subjects() == [
        f"[CRITICAL] notion.auth/tasks: token invalid or revoked ({_host()})"
    ]
    assert "token invalid or revoked" in mailbox.messages[0].get_body(("plain",)).get_content()
    engine.run(result(Status.OK, check="notion.auth"), now=T0 + 180)
    assert mailbox.subjects()[1].startswith("[RESOLVED] notion.auth/tasks")
    assert len(webhook.received) == 3


def test_a_receiver_down_for_a_while_gets_the_message_exactly_once(tmp_path, webhook):
    engine = engine_for(tmp_path, webhook.url)
    webhook.stop()
    engine.run(result(Status.CRITICAL), now=T0)
    [row] = outbox_rows(engine.store, 0)
    assert row["attempts"] == 1 and row["delivered_at"] is None
    assert "Connection error" in row["last_error"]
    assert engine.retry(T0 + 10) == 0  # backing off: no attempt yet
    assert outbox_rows(engine.store, 0)[0]["attempts"] == 1
    assert engine.retry(T0 + 30) == 0  # second failure
    assert outbox_depth(engine.store) == 1
    assert metrics.REGISTRY.get_sample_value("opsd_outbox_depth") == 1
    webhook.start()
    engine.run(result(Status.CRITICAL), now=T0 + 60)  # still backing off (until T0 + 90)
    assert webhook.received == []
    assert engine.retry(T0 + 90) == 1
    assert engine.retry(T0 + 10 * HOUR) == 0
    engine.run(result(Status.CRITICAL), now=T0 + 3 * HOUR)
    assert len(webhook.received) == 1
    assert outbox_depth(engine.store) == 0


def test_a_partial_delivery_resends_only_to_the_url_that_failed(tmp_path, webhook, make_mailbox):
    mailbox = make_mailbox(start=False)  # the mail server is down
    engine = engine_for(tmp_path, webhook.url, mailbox.url)
    engine.run(result(Status.CRITICAL), now=T0)
    assert len(webhook.received) == 1
    mailbox.start()
    assert engine.retry(T0 + 30) == 1
    assert engine.retry(T0 + HOUR) == 0
    assert len(mailbox.messages) == 1 and len(webhook.received) == 1


def test_undelivered_messages_are_given_up_after_the_maximum_age(tmp_path, webhook):
    engine = engine_for(tmp_path, webhook.url, outbox_max_age="1h")
    webhook.stop()
    engine.run(result(Status.CRITICAL), now=T0)
    engine.retry(T0 + 2 * HOUR)
    [row] = outbox_rows(engine.store, 0)
    assert row["abandoned_at"] == T0 + 2 * HOUR
    assert row["last_error"].startswith("gave up after 1h (alerts.outbox_max_age), attempts 1")
    webhook.start()
    assert engine.retry(T0 + 3 * HOUR) == 0
    assert webhook.received == []


def test_a_restart_while_firing_sends_nothing_new_and_still_resolves(tmp_path, webhook):
    engine = engine_for(tmp_path, webhook.url)
    engine.run(result(Status.CRITICAL), now=T0)
    engine.restart()
    engine.run(result(Status.CRITICAL), now=T0 + 600)
    assert len(webhook.received) == 1
    engine.restart()  # the check passed while opsd was down: resolved at the next run
    engine.run(result(Status.OK), now=T0 + 2 * HOUR)
    assert webhook.titles()[1].startswith("[RESOLVED]")


def test_a_silence_holds_the_message_until_it_ends(tmp_path, webhook):
    engine = engine_for(tmp_path, webhook.url)
    add_silence(engine.store, pattern="notion.*", target=None, duration=2 * HOUR,
                reason="planned migration", now=T0)
    for minute in range(0, 120, 10):
        engine.run(result(Status.CRITICAL), now=T0 + 60 * minute)
    assert webhook.received == []
    held = events_since(engine.store, 0)
    assert [(e.type, e.silenced_by) for e in held] == [
        (EventType.FIRING, "silence 1: planned migration")
    ]
    # The silence ended and the problem persists: the alert goes out, once, even at a run
    # of another playbook that does not include the check.
    engine.run(result(Status.OK, check="maintenance.backup", target=""), now=T0 + 2 * HOUR)
    engine.run(result(Status.CRITICAL), now=T0 + 2 * HOUR + 60)
    assert len(webhook.received) == 1
    assert webhook.received[0]["title"].startswith("[CRITICAL] notion.latency/tasks")


def test_secrets_never_appear_in_a_message(tmp_path, webhook):
    engine = engine_for(tmp_path, webhook.url)
    engine.run(result(Status.CRITICAL, summary=f"rejected token {TOKEN}"), now=T0)
    [message] = webhook.received
    assert TOKEN not in message["title"] + message["message"]
    assert f"rejected token {redact_secret(TOKEN)}" in message["title"]


def test_firing_alerts_are_counted_by_severity(tmp_path, webhook):
    engine = engine_for(tmp_path, webhook.url)
    engine.run(result(Status.CRITICAL, check="a.one"), result(Status.CRITICAL, check="a.two"),
               now=T0)
    assert metrics.REGISTRY.get_sample_value("opsd_alerts_firing", {"severity": "critical"}) == 2
    engine.run(result(Status.OK, check="a.one"), result(Status.OK, check="a.two"), now=T0 + 60)
    assert metrics.REGISTRY.get_sample_value("opsd_alerts_firing", {"severity": "critical"}) == 0


def test_config_alert_raised_and_cleared(tmp_path, webhook):
    engine = engine_for(tmp_path, webhook.url)
    raise_config_alert(engine.store, engine.settings,
                       "opsd.toml: alerts.repeat_interval: not a duration", T0)
    raise_config_alert(engine.store, engine.settings, "still broken", T0 + 60)
    clear_config_alert(engine.store, engine.settings, T0 + 120)
    assert webhook.titles() == [
        f"[CRITICAL] opsd.config: opsd.toml: alerts.repeat_interval: not a duration ({_host()})",
        f"[RESOLVED] opsd.config: still broken ({_host()})",
    ]
    assert "opsd config check" in webhook.received[0]["message"]


def test_the_runner_observer_applies_per_entry_thresholds(tmp_path, webhook):
    engine = engine_for(tmp_path, webhook.url)
    playbook = parse_playbook(
        {"name": "nightly", "checks": [
            {"name": "retention", "kind": "maintenance.retention", "crit": 0,
             "failure_threshold": 3},
        ]},
        tmp_path / "nightly.toml",
    )
    clock = iter(T0 + 60 * i for i in range(100))
    owned = StoreThread.open(engine.path)  # as in the daemon: queries on the store's thread
    runner = Runner(engine.settings, owned, clock=lambda: next(clock),
                    observers=[AlertObserver(engine.settings, owned)])
    for _ in range(2):
        asyncio.run(runner.run(playbook))
    assert webhook.received == []
    assert [a.phase for a in open_alerts(engine.store)] == [Phase.PENDING]
    asyncio.run(runner.run(playbook))
    owned.close()
    assert webhook.titles() == [
        "[CRITICAL] retention: high: 0 ≥ 0 (critical) — removed 0 runs older than 7d, 0 hourly"
        f" and 0 daily rollups ({_host()})"
    ]


def _host() -> str:
    import socket

    return socket.gethostname()
