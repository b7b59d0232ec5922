"""config.example.toml is valid and runs as-is against the sandbox (only the URL changes)."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "config.example.toml"


def example_config(tmp_path: Path, base_url: str) -> Path:
    text = EXAMPLE.read_text()
    assert 'base_url = "http://127.0.0.1:8765"' in text
    text = text.replace('base_url = "http://127.0.0.1:8765"', f'base_url = "{base_url}"')
    text = text.replace('"http://127.0.0.1:8765/api/v2/', f'"{base_url}/api/v2/')
    text = text.replace('playbooks_dir = "playbooks"', f'playbooks_dir = "{REPO / "playbooks"}"')
    path = tmp_path / "opsd.toml"
    path.write_text(text)
    return path


def test_example_config_is_valid(opsd_cli) -> None:
    result = opsd_cli("--config", str(EXAMPLE), "config", "check")
    assert (result.code, result.out.strip()) == (0, "ok"), result.out + result.err


def test_example_runs_daily_against_sandbox(opsd_cli, sandbox, tmp_path: Path) -> None:
    config = example_config(tmp_path, sandbox.url)
    # A faster client-side budget than the example's 2.5 req/s keeps the test quick; the
    # environment override is part of what is tested.
    env = {"OPSD_NOTION__RATE_LIMIT": "200", "OPSD_NOTION__BURST": "50"}
    result = opsd_cli("--config", str(config), "run-playbook", "daily", "--json", env=env)
    assert result.code == 0, result.out + result.err
    data = json.loads(result.out)
    statuses = {(r["check"], r["target"]): r["status"] for r in data["results"]}
    assert statuses[("notion.auth", "")] == "OK"
    assert statuses[("notion.schema", "bottlenecks")] == "OK"
    assert statuses[("maintenance.backup", "")] == "OK"
    assert (tmp_path / ".opsd" / "opsd.db").exists()  # relative to the config file
    assert "SandboxFakeToken" not in result.out  # the token's middle: never printed
