"""/metrics that tell the truth: per-check series (state start, success, last success, no
stale value, a target gone), what the history restores at start, what a reload removes, the
counters born at zero, the split of Notion waits, the buckets, the build info."""

from __future__ import annotations

import asyncio
import platform
from pathlib import Path

import pytest

from opsd import __version__, metrics
from opsd.alerting.engine import Alert, Phase
from opsd.alerting.observer import publish_metrics
from opsd.app import App
from opsd.check_series import CERT_EXPIRY_DETAIL, CheckKey, CheckState
from opsd.checks.http import Response, judge_response
from opsd.config import EndpointConfig, Settings, load_settings
from opsd.config.fingerprint import config_hash
from opsd.daemon import series
from opsd.playbooks import load_playbook
from opsd.results import Result, RunReport, Status
from opsd.store import Store, alerts, check_states, runs

LATENCY = {"check": "notion.latency", "kind": "notion.latency", "target": "tasks",
           "playbook": "truth"}


def sample(name: str, **labels: str) -> float | None:
    return metrics.REGISTRY.get_sample_value(name, labels)


def latency(status: Status, at: float, value: float | None = 0.2, target: str = "tasks",
            **fields: object) -> Result:
    return Result(status, "x", value=value, unit="seconds", target=target,
                  check="notion.latency", kind="notion.latency", started_at=at, duration=0.5,
                  **fields)  # type: ignore[arg-type]


def observe(at: float, *results: Result, playbook: str = "truth") -> None:
    metrics.observe_run(RunReport(playbook, "schedule", at, at + 1, list(results)))


# --- the check series ----------------------------------------------------------------------


def test_state_since_moves_only_when_the_status_changes():
    observe(100, latency(Status.OK, 100))
    observe(200, latency(Status.OK, 200))
    assert sample("opsd_check_state_since_timestamp_seconds", **LATENCY) == 100
    assert sample("opsd_check_success", **LATENCY) == 1
    observe(300, latency(Status.CRITICAL, 300))
    observe(400, latency(Status.CRITICAL, 400))
    assert sample("opsd_check_state_since_timestamp_seconds", **LATENCY) == 300
    assert sample("opsd_check_success", **LATENCY) == 0
    assert sample("opsd_check_last_success_timestamp_seconds", **LATENCY) == 200
    assert sample("opsd_check_last_run_timestamp_seconds", **LATENCY) == 400
    assert sample("opsd_check_status", **LATENCY) == 2


def test_a_result_without_a_value_removes_the_value_series():
    observe(100, latency(Status.OK, 100, value=0.25))
    assert sample("opsd_check_value", **LATENCY, unit="seconds") == 0.25
    observe(200, latency(Status.CRITICAL, 200, value=None))
    assert sample("opsd_check_value", **LATENCY, unit="seconds") is None
    assert sample("opsd_check_status", **LATENCY) == 2


def test_a_skipped_check_has_no_success_sample():
    observe(100, latency(Status.SKIPPED, 100, value=None))
    assert sample("opsd_check_status", **LATENCY) == -1
    assert sample("opsd_check_success", **LATENCY) is None


def test_a_target_the_check_no_longer_reports_loses_its_series():
    observe(100, latency(Status.OK, 100), latency(Status.OK, 100, target="bottlenecks"))
    observe(200, latency(Status.OK, 200))
    assert sample("opsd_check_status", **LATENCY) == 0
    gone = {**LATENCY, "target": "bottlenecks"}
    assert sample("opsd_check_status", **gone) is None
    assert sample("opsd_check_value", **gone, unit="seconds") is None
    # Another playbook's series of the same check stay.
    observe(300, latency(Status.OK, 300, target="bottlenecks"), playbook="other")
    observe(400, latency(Status.OK, 400), playbook="truth")
    assert sample("opsd_check_status", **{**gone, "playbook": "other"}) == 0


def test_a_certificate_expiry_is_published_and_goes_with_an_outage():
    endpoint = EndpointConfig(name="api", url="https://api.example/health")
    response = Response(200, b"ok", 0.1, tls=True, cert_expires_at=2_000_000_000.0)
    judged = judge_response(endpoint, response, 1_900_000_000.0, {})
    assert judged.details[CERT_EXPIRY_DETAIL] == 2_000_000_000.0
    labels = {"check": "http.endpoint", "kind": "http.endpoint", "target": "api",
              "playbook": "truth"}
    observe(100, judged.replace(check="http.endpoint", kind="http.endpoint", target="api"))
    assert sample("opsd_http_cert_expiry_timestamp_seconds", **labels) == 2_000_000_000.0
    down = Result(Status.CRITICAL, "down: refused", check="http.endpoint",
                  kind="http.endpoint", target="api", started_at=200)
    observe(200, down)
    assert sample("opsd_http_cert_expiry_timestamp_seconds", **labels) is None


def test_a_backup_sets_the_last_backup_timestamp():
    backup = Result(Status.OK, "written", value=10.0, check="maintenance.backup",
                    kind="maintenance.backup", started_at=500, duration=2)
    observe(500, backup)
    assert sample("opsd_last_backup_timestamp_seconds") == 502
    observe(600, backup.replace(status=Status.CRITICAL, started_at=600))
    assert sample("opsd_last_backup_timestamp_seconds") == 502


def test_restored_states_never_replace_what_a_run_set():
    observe(900, latency(Status.CRITICAL, 900))
    key = CheckKey("notion.latency", "notion.latency", "tasks", "truth")
    older = CheckState.of(latency(Status.OK, 100), 100, 100)
    metrics.CHECKS.restore({key: older})
    assert sample("opsd_check_status", **LATENCY) == 2


# --- the history ---------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path):
    opened = Store.open(tmp_path / "opsd.db")
    yield opened
    opened.close()


def record(store: Store, playbook: str, at: float, *results: Result) -> None:
    runs.record_run(store, playbook, list(results), started_at=at, finished_at=at + 1,
                    trigger="schedule")


def test_the_history_gives_latest_results_state_start_and_last_success(store):
    record(store, "weekly", 100, latency(Status.OK, 100))
    record(store, "weekly", 200, latency(Status.WARNING, 200))
    record(store, "weekly", 300, latency(Status.CRITICAL, 300),
           latency(Status.OK, 300, target="bottlenecks"))
    record(store, "weekly", 400, latency(Status.CRITICAL, 400, value=None),
           latency(Status.OK, 400, target="bottlenecks"))
    # The same check in another playbook is another series.
    record(store, "daily", 500, latency(Status.OK, 500))

    found = {(h.playbook, h.result.target): h
             for h in check_states.latest_checks(store, [("weekly", "notion.latency")])}
    assert set(found) == {("weekly", "tasks"), ("weekly", "bottlenecks")}
    tasks = found["weekly", "tasks"]
    assert (tasks.result.status, tasks.result.value, tasks.since, tasks.last_success) == (
        Status.CRITICAL, None, 300, 100
    )
    bottlenecks = found["weekly", "bottlenecks"]
    assert (bottlenecks.since, bottlenecks.last_success) == (300, 400)
    assert check_states.latest_checks(store, [("weekly", "notion.auth")]) == []


def test_a_target_missing_from_the_latest_run_is_not_restored(store):
    record(store, "weekly", 100, latency(Status.OK, 100), latency(Status.OK, 100, target="old"))
    record(store, "weekly", 200, latency(Status.OK, 200))
    found = check_states.latest_checks(store, [("weekly", "notion.latency")])
    assert [h.result.target for h in found] == ["tasks"]


def test_the_last_backup_is_the_latest_ok_backup(store):
    assert check_states.last_success_of_kind(store, "maintenance.backup") is None
    backup = Result(Status.OK, "ok", check="maintenance.backup", kind="maintenance.backup",
                    started_at=100, duration=3)
    record(store, "weekly", 100, backup)
    record(store, "weekly", 200, backup.replace(status=Status.CRITICAL, started_at=200))
    assert check_states.last_success_of_kind(store, "maintenance.backup") == 103


def test_alert_counts_by_phase_and_severity_reach_the_gauges(store):
    with store.transaction():
        alerts.save_alert(store, Alert("a", phase=Phase.PENDING, severity=Status.CRITICAL))
        alerts.save_alert(store, Alert("b", phase=Phase.PENDING, severity=Status.WARNING))
        alerts.save_alert(store, Alert("c", phase=Phase.FIRING, severity=Status.CRITICAL))
        alerts.save_alert(store, Alert("d", phase=Phase.OK))
    publish_metrics(store)
    assert sample("opsd_alerts_pending", severity="critical") == 1
    assert sample("opsd_alerts_pending", severity="warning") == 1
    assert sample("opsd_alerts_firing", severity="critical") == 1
    assert sample("opsd_alerts_firing", severity="warning") == 0


WEEKLY = """name = "weekly"
schedule = "0 6 * * mon"

[[checks]]
kind = "history.trend"

[[checks]]
kind = "maintenance.retention"
"""


def test_start_publishes_the_history_of_configured_checks_only(tmp_path, make_config):
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "weekly.toml").write_text(WEEKLY)
    settings = load_settings(make_config(scheduler={"playbooks_dir": str(playbooks)}), env={})
    store = Store.open(settings.storage.path)
    trend = Result(Status.WARNING, "down", value=0.97, unit="ratio", check="history.trend",
                   kind="history.trend", started_at=100, duration=1)
    gone = trend.replace(check="removed.check", kind="removed.check")
    record(store, "weekly", 100, trend, gone)
    record(store, "dropped", 100, trend)
    store.close()

    app = App(settings, daemon=True)
    try:
        asyncio.run(series.publish_at_start(app))
    finally:
        app.close_store()
    labels = {"check": "history.trend", "kind": "history.trend", "target": "",
              "playbook": "weekly"}
    assert sample("opsd_check_status", **labels) == 1
    assert sample("opsd_check_value", **labels, unit="ratio") == 0.97
    assert sample("opsd_check_state_since_timestamp_seconds", **labels) == 100
    assert sample("opsd_playbook_last_run_timestamp_seconds", playbook="weekly") == 101
    assert sample("opsd_check_status", **{**labels, "check": "removed.check",
                                          "kind": "removed.check"}) is None
    assert sample("opsd_check_status", **{**labels, "playbook": "dropped"}) is None
    assert sample("opsd_playbook_runs_total", playbook="weekly", status="CRITICAL") == 0
    assert sample("opsd_alerts_pending", severity="critical") == 0


def test_a_reload_keeps_only_configured_entries_and_targets(tmp_path):
    path = tmp_path / "weekly.toml"
    path.write_text(WEEKLY)
    keep = series.keeper([load_playbook(path)], frozenset({"gone-db"}))
    assert keep(CheckKey("history.trend", "history.trend", "", "weekly"))
    assert not keep(CheckKey("history.trend", "history.trend", "gone-db", "weekly"))
    assert not keep(CheckKey("history.trend", "notion.latency", "", "weekly"))  # kind changed
    assert not keep(CheckKey("notion.latency", "notion.latency", "", "weekly"))  # entry gone
    assert not keep(CheckKey("history.trend", "history.trend", "", "daily"))  # playbook gone


def test_a_run_of_a_replaced_configuration_adds_nothing_the_reload_dropped(tmp_path):
    path = tmp_path / "weekly.toml"
    path.write_text(WEEKLY)
    trend = Result(Status.OK, "flat", value=1.0, unit="ratio", check="history.trend",
                   kind="history.trend", started_at=100)
    observe(100, trend, latency(Status.CRITICAL, 100), playbook="weekly")
    removed = metrics.CHECKS.limit_to(series.keeper([load_playbook(path)]))
    assert removed == [CheckKey("notion.latency", "notion.latency", "tasks", "weekly")]
    # A run that started before the reload finishes after it.
    observe(200, trend.replace(started_at=200), latency(Status.CRITICAL, 200),
            playbook="weekly")
    assert sample("opsd_check_status", **{**LATENCY, "playbook": "weekly"}) is None
    assert sample("opsd_check_last_run_timestamp_seconds", check="history.trend",
                  kind="history.trend", target="", playbook="weekly") == 200


def test_dropped_targets_are_entries_the_new_settings_lack():
    old = Settings(endpoints=[EndpointConfig(name="api", url="http://127.0.0.1:1/"),
                              EndpointConfig(name="web", url="http://127.0.0.1:2/")])
    new = Settings(endpoints=[EndpointConfig(name="web", url="http://127.0.0.1:2/")])
    assert series.dropped_targets(old, new) == {"api"}
    assert series.dropped_targets(new, old) == frozenset()


def test_forgetting_a_playbook_removes_its_series():
    observe(100, latency(Status.OK, 100), playbook="gone")
    metrics.add_playbooks(["gone"])
    metrics.forget_playbooks(["gone"])
    assert sample("opsd_playbook_last_run_timestamp_seconds", playbook="gone") is None
    assert sample("opsd_playbook_runs_total", playbook="gone", status="OK") is None


# --- counters, waits, buckets, build info --------------------------------------------------


@pytest.mark.parametrize(("name", "labels"), [
    ("opsd_config_reloads_total", {"outcome": "success"}),
    ("opsd_config_reloads_total", {"outcome": "failure"}),
    ("opsd_notifications_total", {"outcome": "sent"}),
    ("opsd_notifications_total", {"outcome": "failed"}),
    ("opsd_notifications_abandoned_total", {"reason": "expired"}),
    ("opsd_notifications_abandoned_total", {"reason": "permanent"}),
    ("opsd_heartbeats_total", {"outcome": "sent"}),
    ("opsd_heartbeats_total", {"outcome": "failed"}),
    ("opsd_alerts_firing", {"severity": "critical"}),
    ("opsd_alerts_pending", {"severity": "warning"}),
])
def test_labelled_series_exist_at_zero_from_the_start(name, labels):
    assert sample(name, **labels) == 0


def test_severity_labels_are_lowercase():
    metrics.set_alerts_firing({"CRITICAL": 2})
    metrics.set_alerts_pending({"WARNING": 1})
    assert sample("opsd_alerts_firing", severity="critical") == 2
    assert sample("opsd_alerts_firing", severity="CRITICAL") is None
    assert sample("opsd_alerts_pending", severity="warning") == 1


def test_limiter_queueing_is_not_retry_waiting():
    metrics.observe_notion_request("/v1/users/me", 200, 0.1, waited=72.0)
    assert sample("opsd_notion_limiter_wait_seconds_total") == 72
    assert sample("opsd_notion_retry_wait_seconds_total") == 0
    metrics.observe_notion_request("/v1/users/me", 200, 0.1, waited=1.5, retried=True)
    assert sample("opsd_notion_retry_wait_seconds_total") == 1.5
    assert sample("opsd_notion_limiter_wait_seconds_total") == 72


def test_latency_buckets_resolve_10ms_to_10s():
    metrics.observe_notion_request("/v1/users/me", 200, 3.0)
    bounds = [s.labels["le"] for family in metrics.REGISTRY.collect()
              if family.name == "opsd_notion_request_duration_seconds"
              for s in family.samples if s.name.endswith("_bucket")]
    assert bounds[0] == "0.01" and "10.0" in bounds
    assert {"0.025", "0.25", "2.5", "5.0"} <= set(bounds)


def test_build_info_names_version_python_and_config_hash():
    metrics.set_config_hash("abc123def456")
    assert sample("opsd_build_info", version=__version__, python=platform.python_version(),
                  config_hash="abc123def456") == 1
    families = {family.name for family in metrics.REGISTRY.collect()}
    assert {"python_gc_objects_collected", "python_info", "process_resident_memory_bytes"} <= (
        families
    )


def test_config_hash_ignores_secrets_and_follows_everything_else():
    token_a = Settings(notion={"token": "ntn_" + "a" * 46})  # type: ignore[arg-type]
    token_b = Settings(notion={"token": "ntn_" + "b" * 46})  # type: ignore[arg-type]
    slower = Settings(notion={"token": "ntn_" + "a" * 46, "rate_limit": 1})  # type: ignore[arg-type]
    assert config_hash(token_a) == config_hash(token_b)
    assert config_hash(token_a) != config_hash(slower)
    assert len(config_hash(token_a)) == 12
