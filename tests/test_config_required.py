"""No configuration file anywhere: a command that needs one names the places searched and exits
3, creating nothing (no database on the defaults); `kinds`, `scan`, `sandbox` and `demo` work
without one."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsd.cli import build_parser, main
from opsd.cli.config_required import needs_config, no_config_message, require_config_file
from opsd.config import paths
from opsd.errors import ConfigError

NEEDS_CONFIG = [
    ["run"],
    ["run-playbook", "daily"],
    ["check", "notion.auth"],
    ["status"],
    ["history", "notion.auth"],
    ["playbooks"],
    ["schema", "bottlenecks"],
    ["config", "check"],
    ["config", "show"],
    ["alerts"],
    ["alerts", "history"],
    ["alerts", "test"],
    ["silence", "add", "--check", "notion.*", "--for", "1h", "--reason", "maintenance"],
    ["silence", "list"],
    ["silence", "remove", "1"],
    ["ack", "notion.auth"],
]
WITHOUT_CONFIG = [
    ["kinds"],
    ["scan"],
    ["scan", "src"],
    ["sandbox"],
    ["demo", "--once"],
]
# `run` would start a daemon if the guard failed: it is run as a subprocess, below.
RUN_IN_PROCESS = [argv for argv in NEEDS_CONFIG if argv != ["run"]]


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch) -> Path:
    """No config anywhere (no --config, no $OPSD_CONFIG, the default path missing); the
    default database would land in the returned state directory."""
    monkeypatch.delenv("OPSD_CONFIG", raising=False)
    monkeypatch.setattr(paths, "DEFAULT_CONFIG_PATH", tmp_path / "etc" / "opsd.toml")
    for name in ("NOTION_API_TOKEN", "CREDENTIALS_DIRECTORY", "CACHE_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    state = tmp_path / "state"
    state.mkdir()
    monkeypatch.setenv("STATE_DIRECTORY", str(state))
    monkeypatch.chdir(tmp_path)
    return state


@pytest.mark.parametrize(
    ("argv", "needed"),
    [pytest.param(argv, True, id=" ".join(argv)) for argv in NEEDS_CONFIG]
    + [pytest.param(argv, False, id=" ".join(argv)) for argv in WITHOUT_CONFIG],
)
def test_which_commands_need_a_config_file(argv: list[str], needed: bool) -> None:
    assert needs_config(build_parser().parse_args(argv)) is needed


@pytest.mark.parametrize("argv", RUN_IN_PROCESS, ids=" ".join)
def test_no_config_file_is_one_line_and_exit_3(argv: list[str], nowhere: Path, capsys) -> None:
    assert main(argv) == 3
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"opsd: {no_config_message()}\n"
    assert f"{paths.DEFAULT_CONFIG_PATH} does not exist" in captured.err
    assert "--config" in captured.err and "$OPSD_CONFIG" in captured.err
    assert list(nowhere.iterdir()) == []  # no database made on the defaults


def test_kinds_needs_no_config(nowhere: Path, capsys) -> None:
    assert main(["kinds"]) == 0
    assert "notion.auth" in capsys.readouterr().out
    assert list(nowhere.iterdir()) == []


def test_scan_needs_no_config(nowhere: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("print('nothing to see')\n")
    assert main(["scan", "src"]) == 0
    assert "no configuration file" not in capsys.readouterr().err
    assert list(nowhere.iterdir()) == []


@pytest.mark.parametrize("where", ["explicit", "environment", "default"])
def test_a_config_file_found_anywhere_is_enough(where: str, tmp_path: Path, monkeypatch
                                                ) -> None:
    config = tmp_path / "opsd.toml"
    config.write_text("")
    monkeypatch.setattr(paths, "DEFAULT_CONFIG_PATH", tmp_path / "missing.toml")
    with pytest.raises(ConfigError):  # the control: found nowhere
        require_config_file(build_parser().parse_args(["status"]), {})
    if where == "default":
        monkeypatch.setattr(paths, "DEFAULT_CONFIG_PATH", config)
    argv = ["--config", str(config), "status"] if where == "explicit" else ["status"]
    env = {"OPSD_CONFIG": str(config)} if where == "environment" else {}
    require_config_file(build_parser().parse_args(argv), env)  # raises nothing


def test_the_daemon_and_status_refuse_to_start_on_defaults(opsd_cli, tmp_path: Path) -> None:
    """The real command, as an operator on a host without /etc/opsd/opsd.toml types it."""
    if paths.DEFAULT_CONFIG_PATH.exists():
        pytest.skip(f"{paths.DEFAULT_CONFIG_PATH} exists on this machine")
    state = tmp_path / "state"
    state.mkdir()
    for verb in ("run", "status"):
        done = opsd_cli(verb, env={"STATE_DIRECTORY": str(state)}, timeout=60)
        assert (done.code, done.out) == (3, ""), done.err
        assert done.err == f"opsd: {no_config_message()}\n"
    assert list(state.iterdir()) == []
