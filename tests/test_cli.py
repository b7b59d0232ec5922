"""The real `opsd` command in a subprocess: output shapes and every exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opsd.cli.nagios import plugin_output
from opsd.cli.output import format_value
from opsd.results import Result, Status


@pytest.fixture
def playbooks_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "playbooks"
    directory.mkdir()
    (directory / "good.toml").write_text(
        'description = "all fine"\nevery = "1m"\n'
        '[[checks]]\nkind = "maintenance.retention"\n'
    )
    (directory / "warn.toml").write_text(
        '[[checks]]\nname = "retention"\nkind = "maintenance.retention"\nwarn = 0\n'
    )
    (directory / "crit.toml").write_text(
        '[[checks]]\nname = "retention"\nkind = "maintenance.retention"\nwarn = 0\ncrit = 0\n'
    )
    (directory / "unknown.toml").write_text(
        # The disk of a path under a regular file cannot be measured: the check raises ->
        # UNKNOWN. (A failing backup is WARNING or CRITICAL: tests/test_backups.py.)
        f'[[checks]]\nkind = "maintenance.disk"\npath = "{directory / "good.toml"}/x"\n'
    )
    return directory


@pytest.fixture
def config(make_config, playbooks_dir: Path) -> Path:
    return make_config(scheduler={"playbooks_dir": str(playbooks_dir)})


@pytest.mark.parametrize(
    ("playbook", "code", "status"),
    [("good", 0, "OK"), ("warn", 1, "WARNING"), ("crit", 2, "CRITICAL"), ("unknown", 3, "UNKNOWN")],
)
def test_run_playbook_exit_codes(opsd_cli, config: Path, playbook: str, code: int, status: str):
    result = opsd_cli("--config", str(config), "run-playbook", playbook)
    assert result.code == code, result.err
    assert result.out.splitlines()[0].split() == ["STATUS", "CHECK", "TARGET", "VALUE", "SUMMARY"]
    assert result.out.splitlines()[1].startswith(status)
    assert result.err == ""


def test_run_playbook_json_is_one_object(opsd_cli, config: Path) -> None:
    result = opsd_cli("--config", str(config), "run-playbook", "warn", "--json")
    data = json.loads(result.out)
    assert data["playbook"] == "warn" and data["status"] == "WARNING"
    (entry,) = data["results"]
    assert entry["check"] == "retention" and entry["kind"] == "maintenance.retention"
    assert entry["value"] == 0.0 and entry["unit"] == "count"
    assert isinstance(entry["duration_seconds"], float)


def test_check_prints_nagios_line(opsd_cli, config: Path) -> None:
    result = opsd_cli("--config", str(config), "check", "retention", "--playbook", "crit")
    assert result.code == 2
    assert result.out.strip() == (
        "CRITICAL - high: 0 ≥ 0 (critical) — removed 0 runs older than 7d, 0 hourly and 0 daily"
        " rollups | 'retention'=0;0;0;0"
    )


def test_status_and_history_after_runs(opsd_cli, config: Path) -> None:
    assert opsd_cli("--config", str(config), "status").out.startswith("no results yet")
    opsd_cli("--config", str(config), "run-playbook", "good")
    opsd_cli("--config", str(config), "run-playbook", "warn")
    status = opsd_cli("--config", str(config), "status", "--json")
    assert status.code == 1
    checks = {r["check"]: r for r in json.loads(status.out)["results"]}
    assert set(checks) == {"maintenance.retention", "retention"}
    assert checks["retention"]["age_seconds"] >= 0
    assert checks["retention"]["playbook"] == "warn"
    history = opsd_cli("--config", str(config), "history", "retention", "--since", "1h")
    assert history.code == 0
    # The series (header, one row), a blank line, the results (header, one row).
    series, results = history.out.split("\n\n")
    assert series.splitlines()[1].split()[:2] == ["WARNING", "warn"]
    assert len(results.splitlines()) == 2 and "WARNING" in results


def test_playbooks_lists_schedules(opsd_cli, config: Path) -> None:
    result = opsd_cli("--config", str(config), "playbooks", "--json")
    data = {p["name"]: p for p in json.loads(result.out)["playbooks"]}
    assert data["good"]["schedule"] == "every 1m" and data["good"]["next_run"]
    assert data["warn"]["schedule"] == "on demand" and data["warn"]["next_run"] is None


@pytest.mark.parametrize(
    "args",
    [
        ("run-playbook", "nope"),
        ("check", "nope"),
        ("history", "nope"),
        ("history", "retention", "--since", "forever"),
        ("frobnicate",),
        ("run-playbook",),
    ],
)
def test_user_errors_exit_3_with_one_line(opsd_cli, config: Path, args: tuple[str, ...]) -> None:
    result = opsd_cli("--config", str(config), *args)
    assert result.code == 3
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert "Traceback" not in result.err


def test_bad_config_exits_3_naming_the_key(opsd_cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[metrics]\nport = \"abc\"\n")
    result = opsd_cli("--config", str(bad), "run-playbook", "daily")
    assert result.code == 3
    assert result.err.strip() == "opsd: bad.toml: metrics.port: not a valid integer"
    check = opsd_cli("--config", str(bad), "config", "check")
    assert (check.code, check.out.strip()) == (3, "bad.toml: metrics.port: not a valid integer")


def test_config_check_reports_playbook_problems(opsd_cli, config: Path, playbooks_dir: Path):
    assert opsd_cli("--config", str(config), "config", "check").out.strip() == "ok"
    (playbooks_dir / "broken.toml").write_text('[[checks]]\nkind = "nope"\n')
    result = opsd_cli("--config", str(config), "config", "check")
    assert result.code == 3
    assert result.out.strip() == (
        "broken.toml: checks[0].kind: unknown check kind 'nope' (see `opsd kinds`)"
    )


def test_config_show_hides_secrets(opsd_cli, make_config) -> None:
    config = make_config(notion={"token": "ntn_showcanary0123456789abcdefghijklmn"})
    result = opsd_cli("--config", str(config), "config", "show")
    assert result.code == 0
    assert "showcanary" not in result.out
    assert "# token = (secret, redacted" in result.out  # TOML: a comment, not a value
    as_json = opsd_cli("--config", str(config), "config", "show", "--json")
    assert "showcanary" not in as_json.out
    assert json.loads(as_json.out)["notion"]["token"] == "**********"


def test_missing_config_file(opsd_cli, tmp_path: Path) -> None:
    result = opsd_cli("--config", str(tmp_path / "none.toml"), "status")
    assert result.code == 3 and result.err.strip().endswith("none.toml: no such file")


def test_help_lists_verbs(opsd_cli) -> None:
    done = opsd_cli("--help")
    assert done.code == 0, done.err
    out = done.out
    for verb in ("run", "run-playbook", "check", "status", "history", "playbooks", "config",
                 "scan", "alerts", "silence", "sandbox", "demo"):
        assert f"    {verb} " in out or f"    {verb}\n" in out


def test_format_value_units() -> None:
    assert format_value(0.1234, "seconds") == "123 ms"
    assert format_value(2.5, "seconds") == "2.50 s"
    assert format_value(0.875, "ratio") == "87.5%"
    assert format_value(3.0, "count") == "3"
    assert format_value(14.4, "times") == "14.4x"  # an SLO's burn rate, not a share
    assert format_value(None, "seconds") == "-"


def test_nagios_line_with_targets() -> None:
    results = [
        Result(Status.OK, "fine", value=0.9, unit="ratio", check="cache", target="redis",
               details={"thresholds": {"warn": 0.8, "crit": 0.6}}),
        Result(Status.WARNING, "low", value=0.7, unit="ratio", check="cache", target="app",
               details={"thresholds": {"warn": 0.8, "crit": 0.6}}),
    ]
    assert plugin_output(results).text == (
        "WARNING - app: low (2 targets) | 'cache_redis'=90%;80;60;0;100 'cache_app'=70%;80;60;0;100"
        "\nWARNING app: low\nOK redis: fine"
    )
