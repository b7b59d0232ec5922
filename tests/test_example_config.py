"""config.example.toml is valid, points at the real Notion API, and runs against the sandbox
with the overrides its header comment gives (environment only, the file unchanged)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from opsd.sandbox import SANDBOX_TOKEN

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "config.example.toml"


def example_config(tmp_path: Path) -> Path:
    """The example in tmp_path (its relative storage stays there), the repo's playbooks."""
    text = EXAMPLE.read_text()
    text = text.replace('playbooks_dir = "playbooks"', f'playbooks_dir = "{REPO / "playbooks"}"')
    path = tmp_path / "opsd.toml"
    path.write_text(text)
    return path


def sandbox_env(url: str) -> dict[str, str]:
    """The variables the example's header comment sets to run it against a sandbox at `url`."""
    return {
        "OPSD_NOTION__BASE_URL": url,
        "OPSD_NOTION__STATUS_PAGE_URL": f"{url}/api/v2/summary.json",
        "NOTION_API_TOKEN": SANDBOX_TOKEN,
    }


def test_example_config_is_valid(opsd_cli) -> None:
    result = opsd_cli("--config", str(EXAMPLE), "config", "check")
    assert (result.code, result.out.strip()) == (0, "ok"), result.out + result.err


def test_example_config_points_at_the_real_notion_api_without_a_token() -> None:
    notion = tomllib.loads(EXAMPLE.read_text())["notion"]
    assert notion["base_url"] == "https://api.notion.com"
    assert notion["status_page_url"] == "https://www.notion-status.com/api/v2/summary.json"
    assert "token" not in notion


def test_example_header_gives_the_sandbox_overrides() -> None:
    header = EXAMPLE.read_text().split("[notion]")[0]
    exported = dict(re.findall(r"export (\w+)=(\S+)", header))
    assert exported == sandbox_env("http://127.0.0.1:8765")


def test_example_runs_daily_against_sandbox(opsd_cli, sandbox, tmp_path: Path) -> None:
    config = example_config(tmp_path)
    # A faster client-side budget than the example's 2.5 req/s keeps the test quick.
    env = {**sandbox_env(sandbox.url), "OPSD_NOTION__RATE_LIMIT": "200", "OPSD_NOTION__BURST": "50"}
    result = opsd_cli("--config", str(config), "run-playbook", "daily", "--json", env=env)
    assert result.code == 0, result.out + result.err
    data = json.loads(result.out)
    statuses = {(r["check"], r["target"]): r["status"] for r in data["results"]}
    assert statuses[("notion.auth", "")] == "OK"
    assert statuses[("notion.schema", "bottlenecks")] == "OK"
    assert statuses[("maintenance.backup", "")] == "OK"
    assert (tmp_path / ".opsd" / "opsd.db").exists()  # relative to the config file
    assert "SandboxFakeToken" not in result.out + result.err  # the token's middle: never printed
