"""`opsd run-playbook`, `opsd alerts`, `alerts history` and `alerts test` as real subprocesses
(each one a restart of opsd) against a real webhook receiver and SMTP server."""

from __future__ import annotations

import json

import pytest

from opsd.runbooks import threshold_hint


@pytest.fixture
def failing_playbook(tmp_path):
    """A playbook whose only entry is CRITICAL (0 runs removed, critical at >= 0)."""
    directory = tmp_path / "playbooks"
    directory.mkdir()
    (directory / "nightly.toml").write_text(
        'name = "nightly"\n[[checks]]\nname = "retention"\nkind = "maintenance.retention"\n'
        "crit = 0\n"
    )
    return directory


def test_run_playbook_sends_one_message_across_runs_and_alerts_lists_it(
    make_config, opsd_cli, webhook, failing_playbook
):
    config = str(make_config(
        scheduler={"playbooks_dir": str(failing_playbook)},
        alerts={"urls": [webhook.url.replace("json://", "json://opsd:hunter2pass@")]},
    ))
    for _ in range(2):  # each run a fresh process: a restart must not send it again
        run = opsd_cli("--config", config, "run-playbook", "nightly")
        assert run.code == 2, run.err
    assert len(webhook.received) == 1
    assert webhook.received[0]["title"].startswith(
        "[CRITICAL] retention: high: 0 ≥ 0 (critical) — removed 0 runs"
    )

    listed = opsd_cli("--config", config, "alerts")
    assert listed.code == 2  # the worst firing severity: CRITICAL
    header, row = listed.out.splitlines()
    assert header.split() == ["STATE", "SEVERITY", "ALERT", "SINCE", "NOTIFIED", "SILENCED",
                              "SUPPRESSED", "ACKED", "FLAPPING", "SUMMARY"]
    assert row.split()[:3] == ["FIRING", "CRITICAL", "retention"]
    [alert] = json.loads(opsd_cli("--config", config, "alerts", "--json").out)["alerts"]
    assert (alert["state"], alert["notified_severity"], alert["playbook"]) == (
        "FIRING", "CRITICAL", "nightly"
    )

    history = opsd_cli("--config", config, "alerts", "history")
    assert history.code == 0
    [event] = history.out.splitlines()[1:]
    assert "FIRING" in event and "1/1 delivered" in event
    assert "hunter2pass" not in history.out
    events = json.loads(opsd_cli("--config", config, "alerts", "history", "--json").out)["events"]
    [delivery] = events[0]["deliveries"]
    assert delivery["status"] == "delivered"
    assert events[0]["hint"] == threshold_hint("maintenance.retention", "retention", "high")
    assert delivery["url"] == f"json://opsd:****@127.0.0.1:{webhook.port}/hook"


def test_alerts_with_nothing_open(make_config, opsd_cli):
    done = opsd_cli("--config", str(make_config()), "alerts")
    assert (done.code, done.out) == (0, "no firing or pending alerts\n")


def test_alerts_test_reports_each_url_masked_and_exits_0_only_if_all_delivered(
    make_config, opsd_cli, webhook, make_mailbox
):
    mailbox = make_mailbox()
    down = make_mailbox(start=False)  # never started
    config = str(make_config(alerts={"urls": [
        webhook.url,
        "critical=" + mailbox.url,
        "critical=" + down.url.replace("mailto://", "mailto://alice:mailpw123@"),
    ]}))
    done = opsd_cli("--config", config, "alerts", "test")
    only_up = opsd_cli("--config", config, "alerts", "test", "--tag", "critical")
    assert done.code == 2
    lines = done.out.splitlines()
    assert lines[0] == f"delivered  json://127.0.0.1:{webhook.port}/hook"
    assert lines[1] == (
        f"delivered  mailto://127.0.0.1:{mailbox.port}/oncall%40example.com [critical]"
    )
    assert lines[2].startswith(f"FAILED     mailto://alice:****@127.0.0.1:{down.port}/")
    assert "Connection error" in lines[2]
    assert lines[3] == "2/3 delivered"
    assert "mailpw123" not in done.out + done.err
    assert only_up.out.splitlines()[-1] == "1/2 delivered"
    assert webhook.titles()[0].startswith("opsd test message")
    assert len(mailbox.messages) == 2


def test_alerts_test_all_delivered_exits_0(make_config, opsd_cli, webhook):
    done = opsd_cli("--config", str(make_config(alerts={"urls": [webhook.url]})),
                    "alerts", "test")
    assert (done.code, done.out.splitlines()[-1]) == (0, "1/1 delivered")


def test_alerts_test_without_urls_is_a_config_error(make_config, opsd_cli):
    config = str(make_config(alerts={"urls": ["json://127.0.0.1:9/x"]}))
    done = opsd_cli("--config", config, "alerts", "test", "--tag", "pager")
    assert (done.code, done.err) == (
        3, "opsd: alerts.urls: no alert URLs tagged 'pager' configured\n"
    )
