"""The read-only commands' view of the configuration: a snapshot used only while every input
is unchanged, the same errors as a full validation otherwise, and never a secret on disk."""

from __future__ import annotations

import datetime as dt
import json
import os
import zoneinfo
from pathlib import Path

import pytest

from opsd.cli import view as view_module
from opsd.cli.view import load_kinds, load_view
from opsd.errors import ConfigError, PlaybookError, UsageError
from tests.conftest import PLAYBOOKS

TOKEN = "ntn_" + "7" * 11 + "Q" * 35
FAST = 'name = "fast"\nevery = "1m"\n\n[[checks]]\nkind = "history.trend"\n'
NIGHTLY = ('name = "nightly"\nschedule = "30 2 * * *"\n\n[[checks]]\nname = "trend"\n'
           'kind = "history.trend"\n')


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"XDG_CACHE_HOME": str(tmp_path / "cache")}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "fast.toml").write_text(FAST)
    path = tmp_path / "opsd.toml"
    path.write_text(
        f'[notion]\ntoken = "{TOKEN}"\n[storage]\npath = "opsd.db"\n'
        '[scheduler]\nplaybooks_dir = "playbooks"\ntimezone = "Europe/Berlin"\n'
    )
    return path


@pytest.fixture
def validations(monkeypatch) -> list[str]:
    """Counts full validations (each one a miss of the snapshot)."""
    calls: list[str] = []
    real = view_module._validate

    def counted(explicit, environ):
        calls.append(str(explicit))
        return real(explicit, environ)

    monkeypatch.setattr(view_module, "_validate", counted)
    return calls


def test_an_unchanged_configuration_is_validated_once(config, env, validations) -> None:
    first = load_view(config, env)
    second = load_view(config, env)
    assert validations == [str(config)]
    assert first == second
    assert first.storage_path == str(config.parent / "opsd.db")
    assert first.timezone == "Europe/Berlin"
    assert [p.name for p in first.playbooks] == ["fast"]


@pytest.mark.parametrize("change", ["file", "env", "playbook", "new playbook", "credentials"])
def test_any_changed_input_is_validated_again(config, env, validations, tmp_path, change) -> None:
    load_view(config, env)
    if change == "file":
        config.write_text(config.read_text().replace("Europe/Berlin", "UTC"))
    elif change == "env":
        env["OPSD_SCHEDULER__TIMEZONE"] = "UTC"
    elif change == "playbook":
        (tmp_path / "playbooks" / "fast.toml").write_text(FAST.replace("1m", "2m"))
    elif change == "new playbook":
        (tmp_path / "playbooks" / "nightly.toml").write_text(NIGHTLY)
    else:
        credentials = tmp_path / "credentials"
        credentials.mkdir()
        (credentials / "notion_token").write_text(TOKEN)
        env["CREDENTIALS_DIRECTORY"] = str(credentials)
    changed = load_view(config, env)
    assert len(validations) == 2
    if change in ("file", "env"):
        assert changed.timezone == "UTC"
    if change == "playbook":
        assert changed.playbooks[0].every == 120.0
    if change == "new playbook":
        assert [p.name for p in changed.playbooks] == ["fast", "nightly"]


def test_a_broken_file_after_a_good_one_is_the_usual_one_line_error(config, env) -> None:
    load_view(config, env)
    config.write_text(config.read_text() + "[metrics]\nport = \"many\"\n")
    with pytest.raises(ConfigError) as caught:
        load_view(config, env)
    assert caught.value.problems == ["opsd.toml: metrics.port: not a valid integer"]


def test_playbook_problems_are_kept_and_raised_where_playbooks_are_needed(config, env, tmp_path):
    (tmp_path / "playbooks" / "bad.toml").write_text('name = "bad"\n[[checks]]\nkind = "nope"\n')
    view = load_view(config, env)
    assert view.playbook_problems == (
        "bad.toml: checks[0].kind: unknown check kind 'nope' (see `opsd kinds`)",
    )
    with pytest.raises(PlaybookError):
        view.find_check("history.trend")
    assert load_view(config, env).playbook_problems == view.playbook_problems  # from the snapshot


def test_the_snapshot_holds_no_secret_and_is_private(config, env, tmp_path) -> None:
    load_view(config, env)
    cache = tmp_path / "cache" / "opsd"
    files = sorted(p.name for p in cache.iterdir())
    assert files[0] == "snapshot.key" and files[1].startswith("view-") and len(files) == 2
    assert oct(cache.stat().st_mode & 0o777) == "0o700"
    for path in cache.iterdir():
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        assert TOKEN.encode() not in path.read_bytes()
    record = json.loads((cache / files[1]).read_text())
    assert record["view"]["shown"]["notion"]["token"] == "**********"


def test_an_unwritable_cache_only_costs_time(config, tmp_path, validations) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache directory would be")
    env = {"XDG_CACHE_HOME": str(blocked)}
    assert load_view(config, env).timezone == "Europe/Berlin"
    assert load_view(config, env).timezone == "Europe/Berlin"
    assert len(validations) == 2


def test_find_check_follows_the_rules_of_opsd_check(config, env, tmp_path) -> None:
    (tmp_path / "playbooks" / "nightly.toml").write_text(NIGHTLY)
    view = load_view(config, env)
    assert [(p.name, entry) for p, entry in [view.find_check("trend")]] == [("nightly", "trend")]
    info, entry = view.find_check("history.trend")  # by name first, in file order
    assert (info.name, entry) == ("fast", "history.trend")
    assert view.find_check("trend", "nightly")[1] == "trend"
    with pytest.raises(UsageError, match="playbook 'fast' has no check 'trend'"):
        view.find_check("trend", "fast")
    with pytest.raises(PlaybookError, match=r"unknown playbook 'x' \(known: fast, nightly\)"):
        view.find_check("trend", "x")
    with pytest.raises(PlaybookError, match="unknown check 'nope'"):
        view.find_check("nope")


def test_next_runs_come_from_the_snapshot_and_match_the_cron_parser(config, env, tmp_path):
    from opsd.playbooks import load_playbook

    (tmp_path / "playbooks" / "nightly.toml").write_text(NIGHTLY)
    view = load_view(config, env)
    nightly = next(p for p in view.playbooks if p.name == "nightly")
    assert nightly.upcoming  # 35 days of fire times
    parsed = load_playbook(tmp_path / "playbooks" / "nightly.toml")
    zone = zoneinfo.ZoneInfo("Europe/Berlin")
    for hours in (0, 5, 30, 24 * 20):
        now = dt.datetime.now(zone) + dt.timedelta(hours=hours)
        assert nightly.next_run("Europe/Berlin", now) == parsed.next_run("Europe/Berlin", now)
    late = dt.datetime.now(zone) + dt.timedelta(days=60)  # past the snapshot: computed
    assert nightly.next_run("Europe/Berlin", late) == parsed.next_run("Europe/Berlin", late)


def test_kinds_are_listed_once_per_version_of_the_code(env, monkeypatch) -> None:
    first = load_kinds(env)
    assert {"notion.auth", "cache.hit_rate", "secrets.scan"} <= {k["kind"] for k in first}
    monkeypatch.setattr(view_module, "_describe_kinds", lambda: pytest.fail("not cached"))
    assert load_kinds(env) == first


def test_the_builtin_playbooks_load_through_the_view(tmp_path, env) -> None:
    path = tmp_path / "opsd.toml"
    path.write_text(f'[storage]\npath = "opsd.db"\n[scheduler]\nplaybooks_dir = "{PLAYBOOKS}"\n')
    names = [p.name for p in load_view(path, env).playbooks]
    assert names == sorted(p.stem for p in PLAYBOOKS.glob("*.toml"))
    assert os.environ.get("XDG_CACHE_HOME") != env["XDG_CACHE_HOME"]
