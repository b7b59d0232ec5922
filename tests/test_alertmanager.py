"""The Alertmanager sink: `[alerts.alertmanager]` validation, the v2 payload (labels alike
from every instance, annotations, times), one outbox row per peer, held alerts kept out,
delivery to a real HTTP peer next to a dead one, the resend's choice of alerts, and the
`workspace` label on every exposed series. Time is injected (`now`)."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, generate_latest
from pydantic import ValidationError

from opsd.alerting import alertmanager
from opsd.alerting.engine import AlertEvent, EventType
from opsd.alerting.observer import apply_results, deliver
from opsd.config import Settings
from opsd.config.workspace import workspace_of
from opsd.daemon.workspace_label import WorkspaceRegistry
from opsd.results import Result, Status
from opsd.store import Store, alert_refresh
from opsd.store.outbox import outbox_rows

T0 = 1_737_702_000.0  # 2025-01-24 07:00 UTC
PEERS = ["http://127.0.0.1:9", "http://127.0.0.1:10"]


def settings_for(tmp_path: Path, urls: list[str] = PEERS, **alertmanager: object) -> Settings:
    return Settings(storage={"path": str(tmp_path / "opsd.db")},
                    metrics={"workspace": "production"},
                    alerts={"alertmanager": {"urls": urls, **alertmanager}})


def event(type_: EventType = EventType.FIRING, **fields: object) -> AlertEvent:
    base: dict = {"check": "api", "target": "eu", "kind": "http.endpoint", "playbook": "rt",
                  "severity": Status.CRITICAL, "at": T0 + 60, "since": T0,
                  "summary": "answered 503", "id": 7}
    return AlertEvent(type_, **{**base, **fields})


# --- config ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("section", "message"), [
    ({"urls": ["am1:9093"]}, "not an Alertmanager URL"),
    ({"urls": ["http://u:p@am1:9093"]}, "credentials in an Alertmanager URL"),
    ({"urls": ["http://am1:9093", "http://am1:9093/"]}, "the same peer is listed twice"),
    ({"urls": PEERS, "username": "u"}, "username and password go together"),
    ({"urls": PEERS, "username": "u", "password": "p", "bearer_token": "t"}, "choose one"),
    ({"urls": PEERS, "labels": {"severity": "x"}}, "set by opsd itself"),
    ({"urls": PEERS, "labels": {"bad-name": "x"}}, "not a label name"),
    ({"enabled": True}, "enabled = true needs urls"),
])
def test_bad_sections_are_refused_without_repeating_secrets(section, message):
    with pytest.raises(ValidationError) as raised:
        Settings(alerts={"alertmanager": section})
    assert message in str(raised.value)
    assert all("u:p@" not in error["msg"] for error in raised.value.errors())


def test_a_peer_url_with_a_password_is_one_line_naming_file_and_key(tmp_path):
    from opsd.config import load_settings
    from opsd.errors import ConfigError

    config = tmp_path / "opsd.toml"
    config.write_text('[alerts.alertmanager]\nurls = ["http://ops:s3cret-pw@am1:9093"]\n')
    with pytest.raises(ConfigError) as raised:
        load_settings(config, {})
    text = str(raised.value)
    assert "opsd.toml" in text and "alerts.alertmanager.urls" in text
    assert "s3cret-pw" not in text and len(text.splitlines()) == 1


def test_the_sink_is_on_with_urls_off_without_and_its_secrets_are_redacted(tmp_path):
    assert not alertmanager.active(Settings())
    settings = settings_for(tmp_path, username="ops", password="pa55-word-x1",
                            resend_interval="30s")
    assert alertmanager.active(settings)
    assert not alertmanager.active(settings_for(tmp_path, enabled=False))
    assert settings.alerts.alertmanager.resend_interval == 30.0
    assert "pa55-word-x1" not in settings.redact("password pa55-word-x1")
    options = alertmanager.client_options(settings)
    assert options["auth"] == ("ops", "pa55-word-x1")
    bearer = settings_for(tmp_path, bearer_token="tok-123")
    assert alertmanager.client_options(bearer)["headers"]["Authorization"] == "Bearer tok-123"
    assert "tok-123" in bearer.secret_values()


def test_a_relative_ca_file_is_the_config_files_and_an_unreadable_one_fails_the_send(tmp_path):
    from opsd.config import load_settings

    config = tmp_path / "opsd.toml"
    config.write_text('[alerts.alertmanager]\nurls = ["https://127.0.0.1:9"]\n'
                      'tls_ca_file = "am-ca.pem"\n')
    settings = load_settings(config, {})
    assert settings.alerts.alertmanager.tls_ca_file == tmp_path / "am-ca.pem"
    error = alertmanager.post(settings, "https://127.0.0.1:9", [], 1.0)  # no such file
    assert error == (f"tls_ca_file {tmp_path / 'am-ca.pem'}: cannot load: "
                     "FileNotFoundError: [Errno 2] No such file or directory")


def test_the_workspace_defaults_to_the_config_files_stem(tmp_path):
    config = tmp_path / "staging.toml"
    config.write_text("")
    from opsd.config import load_settings

    assert workspace_of(load_settings(config, {})) == "staging"
    assert workspace_of(Settings()) == "opsd"
    assert workspace_of(Settings(metrics={"workspace": "prod-eu"})) == "prod-eu"
    with pytest.raises(ValidationError):
        Settings(metrics={"workspace": "two words"})


# --- payload --------------------------------------------------------------------------------


def test_labels_are_the_identity_and_nothing_host_or_time_specific(tmp_path):
    settings = settings_for(tmp_path, labels={"team": "ops"})
    [entry] = alertmanager.entries(settings, event())
    assert entry["labels"] == {
        "team": "ops", "alertname": "OpsdCheckFailing", "check": "api", "kind": "http.endpoint",
        "target": "eu", "workspace": "production", "severity": "critical",
    }
    # Another instance, later, with another value: the same labels (one alert in Alertmanager).
    later = alertmanager.entries(settings, event(at=T0 + 999, value=2.5, summary="slow"))
    assert later[0]["labels"] == entry["labels"]
    no_target = alertmanager.entries(settings, event(target=""))[0]["labels"]
    assert "target" not in no_target  # an empty label is no label


def test_annotations_carry_summary_value_against_threshold_runbook_and_since(tmp_path):
    settings = settings_for(tmp_path)
    [entry] = alertmanager.entries(settings, event(
        value=2.5, unit="seconds", thresholds={"warn": 1.0, "crit": 2.0}, hint="Look at eu."))
    notes = entry["annotations"]
    assert notes["summary"] == "api/eu: answered 503"
    assert notes["value"].startswith("2.5") and "critical >= 2" in notes["value"]
    assert notes["runbook"] == "Look at eu."
    assert notes["since"].startswith("2025-01-24")
    assert entry["generatorURL"] == "http://127.0.0.1:9464/metrics"


def test_firing_ends_four_resends_ahead_and_a_resolve_ends_when_it_resolved(tmp_path):
    settings = settings_for(tmp_path, resend_interval="1m")
    firing = alertmanager.entries(settings, event())
    [posted] = alertmanager.posted(firing, T0 + 120, 60.0)
    assert posted["startsAt"] == "2025-01-24T07:00:00.000Z"
    assert posted["endsAt"] == "2025-01-24T07:06:00.000Z"  # 07:02 + 4 × 1m
    resolved = alertmanager.entries(settings, event(EventType.RESOLVED, at=T0 + 300))
    [posted] = alertmanager.posted(resolved, T0 + 900, 60.0)  # sent late: still ends at 07:05
    assert posted["endsAt"] == "2025-01-24T07:05:00.000Z"


def test_a_severity_change_ends_the_old_severitys_alert(tmp_path):
    settings = settings_for(tmp_path)
    found = alertmanager.entries(settings, event(
        EventType.ESCALATED, previous_severity=Status.WARNING))
    assert [(e["labels"]["severity"], e["endsAt"]) for e in found] == [
        ("warning", T0 + 60), ("critical", None)]


def test_flapping_that_settles_ok_resolves_and_flapping_says_so(tmp_path):
    settings = settings_for(tmp_path)
    [flapping] = alertmanager.entries(settings, event(EventType.FLAPPING))
    assert flapping["endsAt"] is None and "flapping" in flapping["annotations"]
    [settled] = alertmanager.entries(settings, event(EventType.FLAPPING_ENDED, resolution="OK"))
    assert settled["endsAt"] == T0 + 60


# --- the outbox -----------------------------------------------------------------------------


def test_one_row_per_peer_per_event_and_held_events_none(tmp_path):
    settings = settings_for(tmp_path)
    rows = alertmanager.outbox_rows(settings, [
        event(), event(EventType.RESOLVED, id=8),
        event(id=9, silenced_by="maintenance"), event(id=10, suppressed_by="parent"),
        event(EventType.ESCALATION, id=11),
    ])
    assert [(r.url_label, r.title, r.event_ids) for r in rows] == [
        ("alertmanager http://127.0.0.1:9", "FIRING api/eu", (7,)),
        ("alertmanager http://127.0.0.1:10", "FIRING api/eu", (7,)),
        ("alertmanager http://127.0.0.1:9", "RESOLVED api/eu", (8,)),
        ("alertmanager http://127.0.0.1:10", "RESOLVED api/eu", (8,)),
    ]
    assert len({r.url_key for r in rows}) == 2
    assert all(alertmanager.is_peer_key(r.url_key) for r in rows)
    # A peer's key is its URL's, not its place in the list.
    swapped = settings_for(tmp_path, urls=PEERS[::-1])
    assert {r.url_key for r in alertmanager.outbox_rows(swapped, [event()])} == {
        r.url_key for r in rows}


def test_only_alertmanager_queues_rows_without_apprise_urls(tmp_path):
    settings = settings_for(tmp_path)
    store = Store.open(settings.storage.path)
    apply_results(settings, store, [Result(Status.CRITICAL, "down", check="api",
                                           kind="http.endpoint", target="eu")],
                  now=T0, playbook="rt")
    rows = outbox_rows(store, 0)
    assert [r["url_label"] for r in rows] == [f"alertmanager {p}" for p in PEERS]
    body = json.loads(store.query("SELECT body FROM outbox LIMIT 1")[0]["body"])
    assert body[0]["labels"]["check"] == "api" and body[0]["endsAt"] is None


def test_the_resend_takes_announced_and_flapping_alerts_only(tmp_path):
    settings = settings_for(tmp_path)
    store = Store.open(settings.storage.path)
    down = [Result(Status.CRITICAL, "down", check=c, kind="http.endpoint") for c in ("a", "b")]
    apply_results(settings, store, down, now=T0, playbook="rt")
    from opsd.store import alerts

    held = dataclasses.replace(alerts.load_alert(store, "b", ""), notified_severity=None)
    alerts.save_alert(store, held)  # as if its FIRING had been held by a silence
    assert [a.check for a in alert_refresh.announced_alerts(store)] == ["a"]
    assert alert_refresh.waiting_keys(store, [alertmanager.peer_key(PEERS[0])]) == {
        alertmanager.peer_key(PEERS[0])}
    [entry] = alertmanager.refresh_entries(settings, alert_refresh.announced_alerts(store), T0)
    assert entry["labels"]["check"] == "a" and entry["endsAt"] is None


class _Peer:
    """A stand-in Alertmanager on 127.0.0.1 recording what is posted to /api/v2/alerts."""

    def __init__(self) -> None:
        posted = self.posted = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                posted.append((self.path, self.headers.get("Authorization"), json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def peer() -> Iterator[_Peer]:
    started = _Peer()
    yield started
    started.server.shutdown()
    started.server.server_close()


@pytest.mark.slow
def test_a_live_peer_gets_its_rows_while_a_dead_one_waits_for_a_retry(
    tmp_path, peer, closed_port
):
    dead = f"http://127.0.0.1:{closed_port}"
    settings = settings_for(tmp_path, urls=[dead, peer.url], bearer_token="tok-9")
    store = Store.open(settings.storage.path)
    down = Result(Status.CRITICAL, "down", check="api", kind="http.endpoint", target="eu")
    apply_results(settings, store, [down], now=T0, playbook="rt")
    assert deliver(settings, store, T0) == 1
    [(path, auth, alerts)] = peer.posted
    assert (path, auth) == ("/api/v2/alerts", "Bearer tok-9")
    assert alerts[0]["labels"]["check"] == "api"
    assert alerts[0]["endsAt"] == "2025-01-24T07:04:00.000Z"  # sent at T0, 4 × 1m
    by_label = {r["url_label"]: r for r in outbox_rows(store, 0)}
    assert by_label[f"alertmanager {peer.url}"]["delivered_at"] == T0
    failed = by_label[f"alertmanager {dead}"]
    assert failed["delivered_at"] is None and failed["attempts"] == 1
    assert "tok-9" not in failed["last_error"]


# --- the workspace label ----------------------------------------------------------------------


def test_every_sample_gets_the_workspace_and_a_rename_takes_effect():
    registry = CollectorRegistry()
    Counter("opsd_things", "things", ["check"], registry=registry).labels("a").inc()
    labelled = WorkspaceRegistry(registry, "production")
    text = generate_latest(labelled).decode()  # type: ignore[arg-type]
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    assert 'opsd_things_total{check="a",workspace="production"} 1.0' in samples
    assert all('workspace="production"' in line for line in samples)
    labelled.workspace = "staging"
    restricted = labelled.restricted_registry(["opsd_things_total"])
    assert 'workspace="staging"' in generate_latest(restricted).decode()  # type: ignore[arg-type]


@pytest.mark.slow
def test_an_alert_resolved_while_a_resend_posts_is_posted_again_as_ended(tmp_path, peer):
    import asyncio
    import types

    from opsd.daemon.alertmanager_resend import Resender

    settings = settings_for(tmp_path, urls=[peer.url])
    store = Store.open(settings.storage.path)
    down = Result(Status.CRITICAL, "down", check="api", kind="http.endpoint", target="eu")
    apply_results(settings, store, [down], now=T0, playbook="rt")
    assert deliver(settings, store, T0) == 1  # the FIRING row: nothing waits for the peer
    peer.posted.clear()

    class ResolvesAfterTheRead:
        """The store, where the alert resolves right after the resend found no row waiting
        for the peer (its RESOLVED row is queued too late to hold the refresh back)."""

        async def call(self, fn, *args):
            result = fn(store, *args)
            if fn is alert_refresh.waiting_keys:
                ok = Result(Status.OK, "up", check="api", kind="http.endpoint", target="eu")
                apply_results(settings, store, [ok], now=T0 + 90, playbook="rt")
            return result

    daemon = types.SimpleNamespace(clock=lambda: T0 + 100, monotonic=lambda: 0.0)
    resender = Resender(daemon, set())  # type: ignore[arg-type]
    assert asyncio.run(resender.resend(settings, ResolvesAfterTheRead(), T0 + 95)) == 1
    [(_, _, refresh), (_, _, ended)] = peer.posted
    assert refresh[0]["endsAt"] == "2025-01-24T07:05:35.000Z"  # firing: 4 × 1m ahead
    assert ended[0]["labels"] == refresh[0]["labels"]
    assert ended[0]["endsAt"] == "2025-01-24T07:01:40.000Z"  # ended: at the second read
