"""`opsd alerts` tells the truth: its exit code is the worst firing severity, its columns (and
`--json`) show silences, suppression, acknowledgement, flapping and whether a message really
went out; `opsd silence add` warns about a pattern that matches nothing and refuses a
duration of zero or less. The real CLI in a subprocess, on a store the real engine wrote."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from opsd.alerting.notify import retry_outbox
from opsd.alerting.observer import apply_results
from opsd.config import Settings
from opsd.results import Result, Status
from opsd.store import Store

COLUMNS = ["STATE", "SEVERITY", "ALERT", "SINCE", "NOTIFIED", "SILENCED", "SUPPRESSED", "ACKED",
           "FLAPPING", "SUMMARY"]


def feed(path: Path, *results: Result, urls: tuple[str, ...] = (), at: float | None = None) -> None:
    """Results through the real alert engine into the store at `path`; messages delivered."""
    settings = Settings(storage={"path": str(path)}, alerts={"urls": list(urls)})
    now = time.time() if at is None else at
    store = Store.open(path)
    try:
        apply_results(settings, store, results, now=now, playbook="realtime")
        retry_outbox(settings, store, now)
    finally:
        store.close()


def result(status: Status, check: str, kind: str = "notion.latency") -> Result:
    return Result(status, f"{check} is {status.value}", check=check, kind=kind)


def rows(out: str) -> dict[str, list[str]]:
    """The table's rows by alert name (cells split on runs of 2+ spaces)."""
    header, *lines = out.splitlines()
    assert header.split() == COLUMNS
    return {cells[2]: cells for cells in (re.split(r"\s{2,}", line) for line in lines)}


def test_exit_code_is_the_worst_firing_severity_and_notified_is_dash_without_urls(
    tmp_path, make_config, opsd_cli
):
    config = str(make_config())
    db = tmp_path / "opsd.db"
    assert opsd_cli("--config", config, "alerts").code == 0

    feed(db, result(Status.WARNING, "slow.api"))  # a WARNING waits for a 2nd result: PENDING
    pending = opsd_cli("--config", config, "alerts")
    assert (pending.code, rows(pending.out)["slow.api"][0]) == (0, "PENDING")

    feed(db, result(Status.WARNING, "slow.api"))
    warning = opsd_cli("--config", config, "alerts")
    assert warning.code == 1, warning.err
    [state, severity, _, _, notified, silenced, suppressed, acked, flapping, _] = (
        rows(warning.out)["slow.api"]
    )
    assert (state, severity) == ("FIRING", "WARNING")
    # No URL is configured: nothing was sent, so nothing claims it was.
    assert (notified, silenced, suppressed, acked, flapping) == ("-", "-", "-", "-", "-")

    feed(db, result(Status.CRITICAL, "notion.auth", kind="notion.auth"))
    critical = opsd_cli("--config", config, "alerts", "--json")
    assert critical.code == 2, critical.err
    alerts = {a["check"]: a for a in json.loads(critical.out)["alerts"]}
    assert set(alerts) == {"slow.api", "notion.auth"}
    auth = alerts["notion.auth"]
    assert (auth["state"], auth["severity"], auth["notified_at"], auth["notification"]) == (
        "FIRING", "CRITICAL", None, None
    )
    for field in ("silenced_by", "suppressed_by", "acked_by", "acked_at"):
        assert auth[field] is None, field
    assert auth["flapping"] is False


def test_a_silence_added_after_the_message_shows_and_notified_says_when_it_went_out(
    tmp_path, make_config, opsd_cli, webhook
):
    config = str(make_config(alerts={"urls": [webhook.url]}))
    db = tmp_path / "opsd.db"
    feed(db, result(Status.CRITICAL, "notion.auth", kind="notion.auth"), urls=(webhook.url,),
         at=time.time() - 120)
    assert len(webhook.received) == 1

    added = opsd_cli("--config", config, "silence", "add", "--check", "notion.*", "--for", "1h",
                     "--reason", "token rotation")
    assert (added.code, added.err) == (0, "")  # `notion.*` matches the playbooks' kinds
    listed = opsd_cli("--config", config, "alerts")
    assert listed.code == 2
    row = rows(listed.out)["notion.auth"]
    assert row[4].endswith(" ago") and row[4].startswith("2m")
    assert row[5] == "silence 1: token rotation"
    [alert] = json.loads(opsd_cli("--config", config, "alerts", "--json").out)["alerts"]
    assert alert["notification"] == "delivered"
    assert alert["notified_at"] is not None
    assert alert["silenced_by"] == "silence 1: token rotation"


def test_silence_add_warns_about_a_pattern_matching_no_check(make_config, opsd_cli):
    config = str(make_config())
    done = opsd_cli("--config", config, "silence", "add", "--check", "nosuch.check", "--for",
                    "1h", "--reason", "typo")
    assert done.code == 0
    assert done.err.splitlines() == [
        "warning: --check 'nosuch.check' matches no check or kind in the playbooks "
        "(`opsd playbooks` lists them); adding the silence anyway"
    ]
    assert "nosuch.check" in opsd_cli("--config", config, "silence", "list").out
    known = opsd_cli("--config", config, "silence", "add", "--check", "notion.critical_*",
                     "--for", "1h", "--reason", "triage")
    assert (known.code, known.err) == (0, "")
    daemon = opsd_cli("--config", config, "silence", "add", "--check", "opsd.delivery",
                      "--for", "1h", "--reason", "receiver moving")
    assert (daemon.code, daemon.err) == (0, "")


def test_silence_add_refuses_a_zero_or_negative_duration(make_config, opsd_cli):
    config = str(make_config())
    for duration in ("0s", "-5m"):
        done = opsd_cli("--config", config, "silence", "add", "--check", "notion.auth",
                        f"--for={duration}", "--reason", "x")
        assert done.code == 3, (duration, done.err)
        assert len(done.err.strip().splitlines()) == 1 and "--for" in done.err, done.err
        assert "Traceback" not in done.err
    assert "no active silences" in opsd_cli("--config", config, "silence", "list").out


def test_suppressed_and_acknowledged_alerts_say_so(tmp_path, make_config, opsd_cli):
    config = str(make_config())
    db = tmp_path / "opsd.db"
    feed(db, result(Status.CRITICAL, "notion.auth", kind="notion.auth"))
    feed(db, result(Status.CRITICAL, "notion.latency"))  # held by its firing parent
    acked = opsd_cli("--config", config, "ack", "notion.auth", "--by", "alice", "--comment",
                     "rotating the token")
    assert acked.code == 0, acked.err
    listed = opsd_cli("--config", config, "alerts")
    assert listed.code == 2
    table = rows(listed.out)
    assert table["notion.latency"][6] == "notion.auth"
    assert table["notion.auth"][7].startswith("alice ") and table["notion.auth"][7].endswith(" ago")
    assert table["notion.latency"][7] == "-"
    shown = {a["check"]: a for a in json.loads(
        opsd_cli("--config", config, "alerts", "--json").out)["alerts"]}
    assert shown["notion.latency"]["suppressed_by"] == "notion.auth"
    assert (shown["notion.auth"]["acked_by"], shown["notion.auth"]["ack_comment"]) == (
        "alice", "rotating the token"
    )
    assert shown["notion.auth"]["acked_at"] is not None


def test_a_flapping_alert_says_so(tmp_path, make_config, opsd_cli):
    config = str(make_config())
    start = time.time() - 3600
    for run in range(21):  # down, up, down, … every minute, ending down
        status = Status.OK if run % 2 else Status.CRITICAL
        feed(tmp_path / "opsd.db", result(status, "api", kind="http.endpoint"), at=start + 60 * run)
    listed = opsd_cli("--config", config, "alerts")
    assert listed.code == 2
    assert rows(listed.out)["api"][8] == "yes"
    [alert] = json.loads(opsd_cli("--config", config, "alerts", "--json").out)["alerts"]
    assert alert["flapping"] is True
