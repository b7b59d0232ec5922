"""config.example.toml is valid, points at the real Notion API, needs no file beside it (the
shipped playbooks, the history under the state directory), and runs against the sandbox with
the overrides its header comment gives (environment only, the file unchanged)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from opsd.sandbox import SANDBOX_TOKEN

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "config.example.toml"


def example_config(tmp_path: Path) -> Path:
    """The example, unchanged, in tmp_path (storage the header's relative path makes stays
    there)."""
    path = tmp_path / "opsd.toml"
    path.write_text(EXAMPLE.read_text())
    return path


def sandbox_env(url: str) -> dict[str, str]:
    """The variables the example's header comment sets to run it against a sandbox at `url`."""
    return {
        "OPSD_NOTION__BASE_URL": url,
        "OPSD_NOTION__STATUS_PAGE_URL": f"{url}/api/v2/summary.json",
        "NOTION_API_TOKEN": SANDBOX_TOKEN,
        "OPSD_STORAGE__PATH": ".opsd/opsd.db",
    }


def test_example_config_is_valid(opsd_cli, tmp_path: Path) -> None:
    # The database goes where systemd's StateDirectory= says: no file beside the example needed.
    env = {"STATE_DIRECTORY": str(tmp_path / "state")}
    result = opsd_cli("--config", str(EXAMPLE), "config", "check", env=env)
    assert (result.code, result.out.strip()) == (0, "ok"), result.out + result.err


def test_example_config_leaves_playbooks_and_storage_to_the_defaults() -> None:
    """Copied to /etc/opsd it must not name files relative to /etc/opsd: the shipped
    playbooks and /var/lib/opsd (or $STATE_DIRECTORY) are the defaults."""
    config = tomllib.loads(EXAMPLE.read_text())
    assert "playbooks_dir" not in config["scheduler"]
    assert not {"path", "backup_dir"} & set(config["storage"])


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
    env = {**sandbox_env(sandbox.url), "OPSD_NOTION__RATE_LIMIT": "200", "OPSD_NOTION__BURST": "50",
           "OPSD_STORAGE__BACKUP_DIR": ".opsd/backups"}
    result = opsd_cli("--config", str(config), "run-playbook", "daily", "--json", env=env)
    assert result.code == 0, result.out + result.err
    data = json.loads(result.out)
    statuses = {(r["check"], r["target"]): r["status"] for r in data["results"]}
    assert statuses[("notion.auth", "")] == "OK"
    assert statuses[("notion.schema", "bottlenecks")] == "OK"
    assert statuses[("maintenance.backup", "")] == "OK"
    assert (tmp_path / ".opsd" / "opsd.db").exists()  # relative to the config file
    assert "SandboxFakeToken" not in result.out + result.err  # the token's middle: never printed
