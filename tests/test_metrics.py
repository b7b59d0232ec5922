"""Metrics: what the observers record, Prometheus naming (checked by promtool), and the
/metrics + /healthz listener over real HTTP."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import sqlite3
import subprocess

import httpx
import pytest
from prometheus_client import generate_latest

from opsd import metrics
from opsd.config import load_settings
from opsd.daemon.http import MetricsServer
from opsd.daemon.service import Daemon
from opsd.errors import ConfigError
from opsd.results import Result, RunReport, Status


def sample(name: str, **labels: str) -> float | None:
    return metrics.REGISTRY.get_sample_value(name, labels)


def report(playbook: str, *results: Result) -> RunReport:
    return RunReport(playbook, "schedule", 1000.0, 1002.5, list(results))


def populate() -> None:
    """Every metric family with at least one sample, as a busy daemon would have them."""
    metrics.observe_run(report(
        "metrics-test",
        Result(Status.WARNING, "slow", value=0.7, unit="seconds", target="tasks",
               check="notion.latency", kind="notion.latency", started_at=1000.5, duration=0.3),
        Result(Status.SKIPPED, "nothing", check="cache.hit_rate", kind="cache.hit_rate"),
    ))
    metrics.observe_notion_request("/v1/databases/{id}", 200, 0.12)
    metrics.observe_notion_request("/v1/users/me", 429, 0.05, waited=1.5, retried=True)
    metrics.observe_notification(True)
    metrics.observe_notification(False)
    metrics.set_outbox_depth(2)
    metrics.set_alerts_firing({"CRITICAL": 1})
    metrics.set_next_runs({"metrics-test": dt.datetime(2030, 1, 1, tzinfo=dt.UTC)})
    metrics.observe_reload(False)
    metrics.observe_heartbeat(True)
    metrics.set_alerts_pending({"WARNING": 1})
    metrics.set_last_backup(1001.0)
    metrics.set_config_hash("0123456789ab")
    metrics.observe_run(report(
        "metrics-test",
        Result(Status.OK, "HTTP 200", value=0.05, unit="seconds", target="api",
               check="http.endpoint", kind="http.endpoint", started_at=1000.5, duration=0.1,
               details={"certificate_expires_at": 1_900_000_000.0}),
    ))


def test_observe_run_sets_check_and_playbook_series():
    populate()
    labels = {"check": "notion.latency", "kind": "notion.latency", "target": "tasks",
              "playbook": "metrics-test"}
    assert sample("opsd_check_status", **labels) == 1
    assert sample("opsd_check_value", **labels, unit="seconds") == 0.7
    assert sample("opsd_check_last_run_timestamp_seconds", **labels) == 1000.5
    assert sample("opsd_check_status", check="cache.hit_rate", kind="cache.hit_rate",
                  target="", playbook="metrics-test") == -1
    assert sample("opsd_playbook_last_run_timestamp_seconds", playbook="metrics-test") == 1002.5
    assert sample("opsd_playbook_duration_seconds", playbook="metrics-test") == 2.5
    assert sample("opsd_playbook_runs_total", playbook="metrics-test", status="WARNING") == 1
    assert sample("opsd_playbook_next_run_timestamp_seconds", playbook="metrics-test") == (
        dt.datetime(2030, 1, 1, tzinfo=dt.UTC).timestamp()
    )


def test_a_warning_run_does_not_count_as_a_success():
    metrics.observe_run(report("metrics-warn", Result(Status.WARNING, "x", check="c", kind="k")))
    assert sample("opsd_playbook_last_success_timestamp_seconds", playbook="metrics-warn") is None
    metrics.observe_run(report("metrics-warn", Result(Status.OK, "x", check="c", kind="k")))
    assert sample("opsd_playbook_last_success_timestamp_seconds", playbook="metrics-warn") == 1002.5


def test_next_runs_forget_playbooks_no_longer_scheduled():
    when = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    metrics.set_next_runs({"gone": when})
    metrics.set_next_runs({"kept": when})
    assert sample("opsd_playbook_next_run_timestamp_seconds", playbook="gone") is None
    assert sample("opsd_playbook_next_run_timestamp_seconds", playbook="kept") is not None


def test_exposition_passes_promtool_check_metrics(promtool):
    populate()
    text = generate_latest(metrics.REGISTRY).decode()
    done = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                          text=True, timeout=120)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_names_follow_the_conventions_and_labels_are_bounded():
    populate()
    families = list(metrics.REGISTRY.collect())
    opsd = [f for f in families if f.name.startswith("opsd_")]
    assert len(opsd) >= 18
    assert all(f.name.startswith(("opsd_", "process_", "python_")) for f in families)
    for family in opsd:
        assert re.fullmatch(r"opsd_[a-z0-9_]+", family.name)
        for s in family.samples:
            assert not {"id", "page", "page_id", "user", "user_id", "url"} & set(s.labels)
        if family.type == "counter":
            assert not family.name.endswith("_total")  # the client appends it once


@pytest.fixture
def metrics_server():
    state = {"healthy": (True, "ok")}
    listener = MetricsServer("127.0.0.1", 0, lambda: state["healthy"])
    listener.start()
    yield listener, state
    listener.stop()


def test_metrics_and_healthz_over_http(metrics_server):
    listener, state = metrics_server
    populate()
    scraped = httpx.get(f"{listener.url}/metrics", timeout=60)
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert 'opsd_notion_requests_total{endpoint="/v1/users/me",status="429"}' in scraped.text
    openmetrics = httpx.get(f"{listener.url}/metrics", timeout=60,
                            headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert openmetrics.text.rstrip().endswith("# EOF")

    assert httpx.get(f"{listener.url}/healthz", timeout=60).text == "ok\n"
    state["healthy"] = (False, "database not writable: /var/lib/opsd/opsd.db")
    unhealthy = httpx.get(f"{listener.url}/healthz", timeout=60)
    assert (unhealthy.status_code, unhealthy.text) == (
        503, "database not writable: /var/lib/opsd/opsd.db\n"
    )
    assert httpx.get(f"{listener.url}/other", timeout=60).status_code == 404


def test_a_busy_port_is_a_config_error(metrics_server):
    listener, _ = metrics_server
    expected = rf"metrics.port: cannot listen on 127.0.0.1:{listener.port}"
    with pytest.raises(ConfigError, match=expected):
        MetricsServer("127.0.0.1", listener.port, lambda: (True, "ok")).start()


@pytest.fixture
def monotonic() -> dict[str, float]:
    return {"now": 100.0}


@pytest.fixture
def daemon(make_config, monotonic) -> Daemon:
    config = make_config(metrics={"port": 0})
    made = Daemon(load_settings(config, env={}), env={}, monotonic=lambda: monotonic["now"])
    made.app.store  # noqa: B018 (opened as the daemon opens it: on its owner thread)
    yield made
    made.app.close_store()


def test_healthz_fails_when_the_loop_stops_ticking(daemon, monotonic):
    assert daemon.health() == (True, "ok")
    monotonic["now"] += 11
    assert daemon.health() == (False, "scheduler loop unresponsive for 11s")


def test_healthz_reports_the_store_probe_and_never_waits_on_the_lock(daemon):
    locker = sqlite3.connect(daemon.settings.storage.path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        assert daemon.health() == (True, "ok")  # answered from state, without SQLite
        # Another process's write lock delays writes; it does not make the database unwritable
        # (runs wait in memory: tests/faults/test_fault_storage.py).
        assert asyncio.run(daemon.probe_store()) is True
        assert daemon.health() == (True, "ok")
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    # A database that cannot take a write transaction is reported.
    daemon.app.store.run(lambda s: s.conn.execute("PRAGMA query_only=ON"))
    assert asyncio.run(daemon.probe_store()) is False
    assert daemon.health() == (False, f"database not writable: {daemon.settings.storage.path}")
    daemon.app.store.run(lambda s: s.conn.execute("PRAGMA query_only=OFF"))
    assert asyncio.run(daemon.probe_store()) is True
    assert daemon.health() == (True, "ok")
