"""notify: URL parsing and masking, routing, message composition, backoff, and the outbox's
claims (never two senders for one row) with an injected `send`."""

from __future__ import annotations

import dataclasses

import pytest

from opsd.alerting.engine import AlertEvent, EventType
from opsd.alerting.messages import Message, Origin, body, compose, title
from opsd.alerting.notify import (
    Destination,
    apprise_send,
    backoff,
    destinations,
    enqueue,
    retry_outbox,
)
from opsd.config import Settings
from opsd.results import Status
from opsd.store import Store
from opsd.store.outbox import outbox_rows

NOW = 1_737_702_000.0
# Parsing alert URLs (and sending) starts the Apprise child process, even with a fake `send`.
APPRISE_CHILD = pytest.mark.slow
ORIGIN = Origin("ops-1", "Acme Ops", "Europe/Berlin")


def event(event_type=EventType.FIRING, severity=Status.CRITICAL, check="notion.auth", **kw):
    fields = {"target": "", "kind": check, "playbook": "daily", "at": NOW, "since": NOW - 7200,
              "summary": "token invalid or revoked", "id": 1}
    fields.update(kw)
    return AlertEvent(event_type, check, severity=severity, **fields)


def settings_for(tmp_path, *urls, **alerts) -> Settings:
    return Settings(storage={"path": str(tmp_path / "opsd.db")},
                    alerts={"urls": list(urls), **alerts})


@APPRISE_CHILD
def test_destinations_parse_apprise_tags_and_mask_secrets():
    settings = Settings(alerts={"urls": [
        "json://bot:hunter2pass@127.0.0.1:8080/hook",
        "critical, 2:pager=mailto://alice:mailpw123@127.0.0.1:2525?to=oncall@example.com"
        "&from=opsd@example.com",
        "nosuchservice://whatever:secretvalue@host",
    ]})
    hook, mail, broken = destinations(settings)
    assert (hook.tags, hook.label) == (frozenset(), "json://bot:****@127.0.0.1:8080/hook")
    assert mail.tags == {"critical", "pager"}
    assert mail.label == "mailto://alice:****@127.0.0.1:2525/oncall%40example.com"
    assert not broken.valid and "secretvalue" not in broken.label
    assert "hunter2pass" not in repr(hook) and len(hook.key) == 64
    assert destinations(settings)[0].key == hook.key  # stable: rows find their URL again
    assert apprise_send(broken, Message("t", "b", "info"), 1) == (
        "Apprise does not understand this URL"
    )


@pytest.mark.parametrize(
    ("tags", "severity_tags", "expected"),
    [
        (set(), {"warning"}, True),
        ({"critical"}, {"warning"}, False),
        ({"critical"}, {"critical"}, True),
        ({"warning", "critical"}, {"warning"}, True),
        ({"always"}, {"warning"}, True),
    ],
)
def test_untagged_urls_get_everything_tagged_ones_their_severity(tags, severity_tags, expected):
    destination = Destination("json://x", frozenset(tags), "json://x", "k")
    assert destination.receives(severity_tags) is expected


def test_title_and_body_of_a_firing_event():
    firing = event(value=2.4, unit="seconds", check="notion.latency", target="tasks",
                   summary="p95 2.40 s (>= 2 s)",
                   thresholds={"warn": 0.5, "crit": 2.0, "direction": "above"})
    assert title(firing, ORIGIN) == (
        "[CRITICAL] notion.latency/tasks: p95 2.40 s (>= 2 s) (Acme Ops)"
    )
    assert body(firing, ORIGIN).splitlines() == [
        "**notion.latency/tasks** is CRITICAL: p95 2.40 s (>= 2 s)",
        "- Value: 2.40 s (threshold: warning >= 500 ms, critical >= 2.00 s)",
        "- Since: 2025-01-24 06:00:00 CET (for 2h)",
        "- Playbook: daily",
        "- Host: ops-1 (workspace Acme Ops)",
        "- Runbook: Check cache hit rates and TTLs, filter and paginate queries to cut data "
        "transfer, watch API response times (`opsd history notion.latency`) and reuse connections.",
    ]


def test_reminder_notes_a_deescalation_and_resolve_says_how_long():
    reminder = event(EventType.REMINDER, Status.WARNING, previous_severity=Status.CRITICAL)
    assert title(reminder, ORIGIN).startswith("[WARNING] Reminder: notion.auth:")
    assert "- De-escalated from CRITICAL since the last message. Still firing after 2h." in (
        body(reminder, ORIGIN)
    )
    resolved = event(EventType.RESOLVED, resolution="authenticated as Ops bot")
    assert title(resolved, ORIGIN) == "[RESOLVED] notion.auth: token invalid or revoked (Acme Ops)"
    assert body(resolved, ORIGIN).splitlines()[:2] == [
        "**notion.auth** is OK again after 2h (was CRITICAL): authenticated as Ops bot",
        "- Problem was: token invalid or revoked",
    ]


def test_compose_groups_several_events_into_one_message():
    events = [event(check="notion.auth", id=1),
              event(severity=Status.WARNING, check="cache.hit_rate", target="redis", id=2),
              event(EventType.RESOLVED, check="http.endpoint", target="mcp", id=3)]
    [grouped] = compose(events, ORIGIN, group=True)
    assert grouped.title == (
        "[CRITICAL] 3 alerts: notion.auth, cache.hit_rate/redis, http.endpoint/mcp (Acme Ops)"
    )
    assert (grouped.notify_type, grouped.event_ids) == ("failure", (1, 2, 3))
    assert grouped.body.count("### ") == 3
    singles = compose(events, ORIGIN, group=False)
    assert [m.notify_type for m in singles] == ["failure", "warning", "success"]
    [resolved] = compose([events[2], dataclasses.replace(events[2], id=4)][:1], ORIGIN,
                         group=True)
    assert resolved.title.startswith("[RESOLVED] http.endpoint/mcp")


def test_backoff_doubles_up_to_the_retry_max_interval():
    assert [backoff(n, 300) for n in (1, 2, 3, 4, 8, 20)] == [30, 60, 120, 240, 300, 300]


@APPRISE_CHILD
def test_enqueue_skips_silenced_events_and_routes_per_url(tmp_path):
    settings = settings_for(tmp_path, "json://127.0.0.1:1/all", "critical=json://127.0.0.1:2/c")
    store = Store.open(settings.storage.path)
    events = [event(id=1), event(severity=Status.WARNING, check="cache.hit_rate", id=2),
              event(check="notion.schema", silenced_by="silence 1: x", id=3)]
    assert enqueue(store, settings, events, ORIGIN, NOW) == 2
    rows = outbox_rows(store, 0)
    assert [(r["url_label"], r["event_ids"]) for r in rows] == [
        ("json://127.0.0.1:1/all", "[1, 2]"), ("json://127.0.0.1:2/c", "[1]"),
    ]


class Recorder:
    """An injected `send`: records deliveries, fails while `down`, can act mid-send."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.down = False
        self.during_send = None

    def __call__(self, destination: Destination, message: Message, timeout: float):
        if self.during_send:
            self.during_send()
        if self.down:
            return "FAILURE: connection refused"
        self.sent.append(message.title)
        return None


def queued_store(settings: Settings) -> Store:
    store = Store.open(settings.storage.path)
    enqueue(store, settings, [event()], ORIGIN, NOW)
    return store


@APPRISE_CHILD
def test_a_row_being_sent_is_not_sent_by_a_second_process(tmp_path):
    settings = settings_for(tmp_path, "json://127.0.0.1:1/hook")
    store = queued_store(settings)
    other_process = Store.open(settings.storage.path)
    send = Recorder()
    nested: list[int] = []
    send.during_send = lambda: nested.append(retry_outbox(settings, other_process, NOW, send))
    assert retry_outbox(settings, store, NOW, send) == 1
    assert nested == [0] and len(send.sent) == 1
    assert retry_outbox(settings, other_process, NOW + 3600, send) == 0


@APPRISE_CHILD
def test_a_crash_between_send_and_mark_resends_marked_after_the_claim_expires(tmp_path):
    # At-least-once is the honest limit: the receiver may see this message twice, the second
    # time marked as a possible repeat with the same id.
    settings = settings_for(tmp_path, "json://127.0.0.1:1/hook", timeout="10s")
    store = queued_store(settings)
    send = Recorder()
    bodies: list[Message] = []

    def crash() -> None:
        send.during_send = None
        raise KeyboardInterrupt

    send.during_send = crash
    with pytest.raises(KeyboardInterrupt):
        retry_outbox(settings, store, NOW, send)
    # This process claimed it, and it is alive: the claim lasts its timeout + 60 s.
    assert retry_outbox(settings, store, NOW + 69, send) == 0
    assert retry_outbox(settings, store, NOW + 70,
                        lambda d, m, t: bodies.append(m) or send(d, m, t)) == 1
    [resent] = bodies
    [row] = outbox_rows(store, 0)
    assert resent.body.endswith(
        f"opsd message id {row['id']} (resent: the first attempt's outcome is unknown; "
        f"drop it if you already have message {row['id']})")
    assert resent.headers == (("X-Opsd-Message-Id", str(row["id"])),
                              ("X-Opsd-Resent", "uncertain"))
    assert row["uncertain"] == 1


@APPRISE_CHILD
def test_a_row_whose_url_left_the_config_is_given_up(tmp_path):
    settings = settings_for(tmp_path, "json://127.0.0.1:1/old")
    store = queued_store(settings)
    changed = settings_for(tmp_path, "json://127.0.0.1:1/new")
    send = Recorder()
    assert retry_outbox(changed, store, NOW, send) == 0
    [row] = outbox_rows(store, 0)
    assert (row["abandoned_at"], row["last_error"]) == (NOW, "URL no longer in alerts.urls")
    assert send.sent == []


@APPRISE_CHILD
def test_failures_back_off_and_a_failing_head_holds_back_its_url_s_rows(tmp_path):
    settings = settings_for(tmp_path, "json://127.0.0.1:1/hook")
    store = Store.open(settings.storage.path)
    targets = destinations(settings)  # parsed before the transaction: enqueue refuses inside
    with store.transaction():
        for n in range(3):
            enqueue(store, settings, [event(id=n)], ORIGIN, NOW, targets)
    send = Recorder()
    send.down = True
    assert retry_outbox(settings, store, NOW, send) == 0
    assert [r["attempts"] for r in outbox_rows(store, 0)] == [1, 0, 0]
    send.down = False
    assert retry_outbox(settings, store, NOW + 1, send) == 0  # the first waits out its backoff
    assert retry_outbox(settings, store, NOW + 30, send) == 3  # then all go, in order
    assert [r["delivered_at"] for r in outbox_rows(store, 0)] == [NOW + 30] * 3
    assert retry_outbox(settings, store, NOW + 3600, send) == 0
