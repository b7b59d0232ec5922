"""The outbox drains fast and in order, through real Apprise to a local webhook: backoff capped
by `alerts.retry_max_interval`, a URL's rows in queue order, stale FIRINGs dropped for their
RESOLVED, permanent failures given up at once (raising `opsd.delivery`), rows keyed by the URL
without its credentials, an outbox id in every message, lost messages counted and told.
Time is injected (`now`), never slept on."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from opsd import metrics
from opsd.alerting.engine import EventType
from opsd.alerting.notify import drain
from opsd.alerting.observer import DELIVERY_CHECK, apply_results, deliver
from opsd.config import Settings
from opsd.results import Result, Status
from opsd.store import Store
from opsd.store.alerts import events_since
from opsd.store.outbox import outbox_rows

T0 = 1_737_702_000.0  # 2025-01-24 07:00 UTC
HOUR = 3600.0
_ID = re.compile(r"\n\nopsd message id (\d+)$")


def result(status: Status, target: str) -> Result:
    return Result(status, f"endpoint {target} is {status.value}", check="http.endpoint",
                  kind="http.endpoint", target=target)


def settings_for(tmp_path: Path, *urls: str, **alerts: object) -> Settings:
    return Settings(storage={"path": str(tmp_path / "opsd.db")},
                    alerts={"urls": list(urls), **alerts})


def run(settings: Settings, store: Store, *results: Result, now: float) -> int:
    apply_results(settings, store, results, now=now, playbook="realtime")
    return deliver(settings, store, now)


def abandoned(reason: str) -> float:
    value = metrics.REGISTRY.get_sample_value(
        "opsd_notifications_abandoned_total", {"reason": reason}
    )
    return value or 0.0


def test_a_receiver_down_for_six_hours_gets_everything_in_order_without_stale_firings(
    tmp_path, webhook, caplog
):
    settings = settings_for(tmp_path, webhook.url)
    store = Store.open(settings.storage.path)
    caplog.set_level(logging.INFO, logger="opsd.alerting.notify")
    webhook.stop()
    run(settings, store, result(Status.CRITICAL, "api"), now=T0)
    run(settings, store, result(Status.CRITICAL, "mcp"), now=T0 + HOUR)
    run(settings, store, result(Status.OK, "api"), now=T0 + 2 * HOUR)
    run(settings, store, result(Status.WARNING, "web"), now=T0 + 3 * HOUR)
    run(settings, store, result(Status.WARNING, "web"), now=T0 + 3 * HOUR + 60)
    # The daemon's timer during the outage: the head row never waits longer than 5 min.
    now = T0 + 3 * HOUR + 60
    while now < T0 + 6 * HOUR:
        now += 1800
        deliver(settings, store, now)
        head = next(r for r in outbox_rows(store, 0) if not r["abandoned_at"])
        assert "Connection error" in head["last_error"]
        assert now < head["next_attempt_at"] <= now + 300
    assert webhook.received == []
    back = now + 1
    webhook.start()
    at = back
    while len(webhook.received) < 3 and at <= back + 300:
        deliver(settings, store, at)
        at += 30
    assert [m["title"].split(" (")[0] for m in webhook.received] == [
        "[CRITICAL] http.endpoint/mcp: endpoint mcp is CRITICAL",
        "[RESOLVED] http.endpoint/api: endpoint api is CRITICAL",
        "[WARNING] http.endpoint/web: endpoint web is WARNING",
    ]
    ids = [int(_ID.search(m["message"])[1]) for m in webhook.received]
    assert ids == sorted(ids)
    rows = outbox_rows(store, 0)
    assert [r["id"] for r in rows if r["delivered_at"]] == ids
    assert all(r["delivered_at"] <= back + 300 for r in rows if r["delivered_at"])
    [stale] = [r for r in rows if r["abandoned_at"]]
    assert stale["title"].startswith("[CRITICAL] http.endpoint/api")
    assert stale["last_error"] == "dropped: its alert has resolved since"
    assert [r.message for r in caplog.records if "dropped" in r.message] == [
        "notification dropped: its alert has resolved since"
    ]
    assert deliver(settings, store, back + HOUR) == 0


def test_backoff_is_capped_by_retry_max_interval(tmp_path, webhook):
    settings = settings_for(tmp_path, webhook.url, retry_max_interval="2m")
    store = Store.open(settings.storage.path)
    webhook.stop()
    run(settings, store, result(Status.CRITICAL, "api"), now=T0)
    waits = []
    now = T0
    for _ in range(5):
        [row] = outbox_rows(store, 0)
        waits.append(row["next_attempt_at"] - now)
        assert drain(settings, store, row["next_attempt_at"] - 1).delivered == 0
        assert [r["attempts"] for r in outbox_rows(store, 0)] == [row["attempts"]]  # not due
        now = row["next_attempt_at"]
        deliver(settings, store, now)
    assert waits == [30, 60, 120, 120, 120]
    assert [r["attempts"] for r in outbox_rows(store, 0)] == [6]


def test_a_bad_url_raises_opsd_delivery_at_the_first_attempt(tmp_path, webhook):
    missing = webhook.url.replace("/hook", "/gone")  # the webhook answers 404
    settings = settings_for(tmp_path, webhook.url, missing, "nosuchscheme://user:pw@host")
    store = Store.open(settings.storage.path)
    before = abandoned("permanent")
    run(settings, store, result(Status.CRITICAL, "api"), now=T0)
    titles = webhook.titles()
    assert titles[0].startswith("[CRITICAL] http.endpoint/api:")
    # Both bad URLs named (masked: whole entries are secrets), with what went wrong.
    assert titles[1].startswith(
        f"[CRITICAL] {DELIVERY_CHECK}: alert URL failed permanently, not retried: …gone: "
        "FAILURE: Failed to send JSON POST notification: Page not found., error=404.; …host: "
        "Apprise does not understand this URL"
    )
    assert "user:pw" not in titles[1]
    assert len(titles) == 2
    failed = [r for r in outbox_rows(store, 0) if r["abandoned_at"]]
    assert [(r["attempts"], r["last_error"].split(":")[0]) for r in failed] == [
        (1, "permanent failure")] * 4  # two messages for each bad URL, tried once each
    assert abandoned("permanent") - before == 4
    assert deliver(settings, store, T0 + 2 * HOUR) == 0  # nothing is retried
    fixed = settings_for(tmp_path, webhook.url)
    run(fixed, store, result(Status.OK, "api"), now=T0 + 3 * HOUR)
    assert [t.split(":")[0] for t in webhook.titles()[2:]] == [
        "[RESOLVED] http.endpoint/api", f"[RESOLVED] {DELIVERY_CHECK}",
    ]
    types = [(e.check, e.type) for e in events_since(store, 0) if e.check == DELIVERY_CHECK]
    assert types == [(DELIVERY_CHECK, EventType.FIRING), (DELIVERY_CHECK, EventType.RESOLVED)]


def test_a_rotated_password_keeps_the_queue(tmp_path, webhook):
    old = webhook.url.replace("json://", "json://bot:oldsecret1@")
    settings = settings_for(tmp_path, old)
    store = Store.open(settings.storage.path)
    webhook.stop()
    run(settings, store, result(Status.CRITICAL, "api"), now=T0)
    webhook.start()
    rotated = settings_for(tmp_path, webhook.url.replace("json://", "json://bot:newsecret2@"))
    assert drain(rotated, store, T0 + 60).delivered == 1
    assert webhook.titles()[0].startswith("[CRITICAL] http.endpoint/api:")
    [row] = outbox_rows(store, 0)
    assert row["last_error"] is None and "secret" not in row["url_label"]


def test_lost_messages_are_logged_counted_and_told_to_the_next_message(
    tmp_path, webhook, caplog
):
    settings = settings_for(tmp_path, webhook.url, outbox_max_age="1h")
    store = Store.open(settings.storage.path)
    before = abandoned("expired")
    webhook.stop()
    run(settings, store, result(Status.CRITICAL, "api"), now=T0)
    run(settings, store, result(Status.CRITICAL, "mcp"), now=T0 + 60)
    caplog.set_level(logging.INFO, logger="opsd.alerting.notify")
    deliver(settings, store, T0 + 2 * HOUR)
    [lost] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert lost.message == "notifications lost: undelivered at alerts.outbox_max_age"
    assert lost.fields == {"url": f"json://127.0.0.1:{webhook.port}/hook", "count": 2,
                           "max_age": "1h"}
    assert abandoned("expired") - before == 2
    webhook.start()
    run(settings, store, result(Status.CRITICAL, "web"), now=T0 + 3 * HOUR)
    run(settings, store, result(Status.OK, "web"), now=T0 + 3 * HOUR + 60)
    first, second = (m["message"] for m in webhook.received)
    assert "\n\n_2 earlier messages to this receiver were lost: undelivered after 1h._\n\n" in (
        first
    )
    assert "lost" not in second


def test_a_grouped_message_with_a_resolved_alert_is_never_dropped(tmp_path, webhook):
    settings = settings_for(tmp_path, webhook.url)
    store = Store.open(settings.storage.path)
    run(settings, store, result(Status.CRITICAL, "api"), now=T0)
    webhook.stop()
    run(settings, store, result(Status.OK, "api"), result(Status.CRITICAL, "mcp"), now=T0 + 60)
    run(settings, store, result(Status.OK, "mcp"), now=T0 + 120)
    webhook.start()
    deliver(settings, store, T0 + 400)
    assert [t.split(" (")[0] for t in webhook.titles()] == [
        "[CRITICAL] http.endpoint/api: endpoint api is CRITICAL",
        "[CRITICAL] 2 alerts: http.endpoint/api, http.endpoint/mcp",
        "[RESOLVED] http.endpoint/mcp: endpoint mcp is CRITICAL",
    ]


def test_destination_keys_leave_out_credentials():
    from opsd.alerting.deliver import url_key

    assert url_key("json://a:one@127.0.0.1:8080/hook") == url_key("json://b:two@127.0.0.1:8080/hook")
    assert url_key("json://127.0.0.1:8080/hook?token=x") == url_key("json://127.0.0.1:8080/hook")
    assert url_key("json://127.0.0.1:8080/hook") != url_key("json://127.0.0.1:8080/other")
    assert url_key("mailto://h?to=a@example.com") != url_key("mailto://h?to=b@example.com")
    assert url_key("not a url") is None


def test_rows_queued_before_urls_keyed_them_are_delivered_in_order_and_rekeyed(
    tmp_path, webhook
):
    from opsd.alerting.deliver import entry_key, url_key
    from opsd.store.outbox import OutboxRow, enqueue

    entry = f"critical = {webhook.url}"
    settings = settings_for(tmp_path, entry)
    store = Store.open(settings.storage.path)
    # What an older opsd queued: rows keyed by a hash of the whole entry (tags and all).
    old = [OutboxRow(entry_key(entry), "json://127.0.0.1/hook", "failure", f"[CRITICAL] old {n}",
                     "queued before the upgrade") for n in (1, 2)]
    enqueue(store, old, T0)
    webhook.stop()
    run(settings, store, result(Status.CRITICAL, "api"), now=T0 + 60)
    webhook.start()
    assert drain(settings, store, T0 + 120).delivered == 3
    assert [t.split(" (")[0] for t in webhook.titles()] == [
        "[CRITICAL] old 1", "[CRITICAL] old 2",
        "[CRITICAL] http.endpoint/api: endpoint api is CRITICAL",
    ]
    rows = outbox_rows(store, 0)
    assert [r["abandoned_at"] for r in rows] == [None, None, None]
    keys = {r["url_key"] for r in store.query("SELECT url_key FROM outbox")}
    assert keys == {url_key(webhook.url)}
