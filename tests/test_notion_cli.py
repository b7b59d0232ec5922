"""The real `opsd` command against the sandbox with a canary token: the Notion playbook entries
work end to end, and the token appears in no output, log line or stored byte."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from opsd.redact import redact_secret
from opsd.sandbox import DATABASES, Sandbox
from tests.conftest import render_toml
from tests.test_notion_checks import ANY_LATENCY, run_entries, settings_for

CANARY = "ntn_" + "27182818284" + "CaNaRy7" * 4 + "Zq42xYw"  # the exact ntn_ shape
ENTRIES = [
    {"kind": "notion.token_format"},
    {"kind": "notion.auth", **ANY_LATENCY},
    {"kind": "notion.access"},
    {"kind": "notion.schema"},
    {"kind": "notion.latency", "samples": 2, **ANY_LATENCY},
    {"name": "critical", "kind": "notion.count", "database": "bottlenecks",
     "filter": '{"property": "Severity", "select": {"equals": "Critical"}}'},
    {"kind": "notion.error_rate", "window": "1h"},
    {"kind": "notion.rate_limit", "window": "1h"},
]


def write_config(tmp_path: Path, sandbox: Sandbox) -> Path:
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "notion.toml").write_text(render_toml({"name": "notion", "checks": ENTRIES}))
    config = tmp_path / "opsd.toml"
    config.write_text(render_toml({
        "notion": {"token": CANARY, "base_url": sandbox.url, "rate_limit": 1000, "burst": 100},
        "notion.databases": [
            {"name": "bottlenecks", "id": DATABASES["Bottlenecks Registry"],
             "required_properties": {"Bottleneck Name": "title", "Severity": "select"}},
            {"name": "tasks", "id": DATABASES["Task Management"]},
        ],
        "storage": {"path": str(tmp_path / "state" / "opsd.db")},
        "scheduler": {"playbooks_dir": str(playbooks)},
    }))
    return config


def stored_bytes(tmp_path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (tmp_path / "state").iterdir())


def test_notion_playbook_end_to_end_without_leaking_the_token(
    tmp_path: Path, sandbox: Sandbox, opsd_cli
) -> None:
    sandbox.add_token(CANARY)
    config = str(write_config(tmp_path, sandbox))

    healthy = opsd_cli("--config", config, "run-playbook", "notion", "--json")
    assert healthy.code == 0, healthy.out + healthy.err
    report = json.loads(healthy.out)
    statuses = {(r["check"], r["target"]): r["status"] for r in report["results"]}
    assert statuses[("notion.auth", "")] == "OK"
    assert statuses[("notion.schema", "tasks/Tasks")] == "OK"
    assert statuses[("critical", "bottlenecks")] == "OK"
    token_line = next(r for r in report["results"] if r["check"] == "notion.token_format")
    assert token_line["summary"] == f"token {redact_secret(CANARY)} has the ntn_ format"

    nagios = opsd_cli("--config", config, "check", "notion.latency")
    assert nagios.code == 0
    assert nagios.out.startswith("OK - ") and "'notion.latency_bottlenecks'=" in nagios.out

    sandbox.revoke_token(CANARY)
    revoked = opsd_cli("--config", config, "run-playbook", "notion")
    assert revoked.code == 2
    assert "token invalid or revoked (401 unauthorized)" in revoked.out

    sandbox.reset()
    sandbox.add_token(CANARY)
    sandbox.fail(502)
    gateway = opsd_cli("--config", config, "check", "notion.auth")
    assert gateway.code == 2
    assert gateway.out.startswith("CRITICAL - a gateway or firewall answered HTTP 502 with an "
                                  "HTML page")

    for run in (healthy, nagios, revoked, gateway):
        assert CANARY not in run.out + run.err
    assert CANARY.encode() not in stored_bytes(tmp_path)


def test_no_token_in_any_log_record(sandbox: Sandbox, caplog) -> None:
    sandbox.add_token(CANARY)
    settings = settings_for(sandbox, token=CANARY, max_retries=1)
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "opsd.notion"):  # whatever an earlier test left configured
        caplog.set_level(logging.DEBUG, logger=name)
    run_entries(settings, {"kind": "notion.auth"}, {"kind": "notion.schema"})
    sandbox.fail(503, count=1)
    sandbox.revoke_token(CANARY)
    run_entries(settings, {"kind": "notion.auth"})
    text = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    assert "GET /v1/users/me" in text or "users/me" in text  # the requests were logged...
    assert "opsd.notion" in text  # ...and so was our retry
    assert CANARY not in text  # ...but never the token
