"""Silences and maintenance windows: matching, windows across time zones and DST, storage,
and the `opsd silence` commands run as real subprocesses."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from opsd.alerting.silences import (
    Silence,
    active_silences,
    add_silence,
    matches_any,
    remove_silence,
    silencer,
    window_end,
)
from opsd.config import MaintenanceWindow, Settings, load_settings
from opsd.errors import ConfigError
from opsd.store import Store

NOW = 1_737_702_000.0  # 2025-01-24 07:00 UTC, a Friday


def at(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


@pytest.mark.parametrize(
    ("patterns", "check", "kind", "expected"),
    [
        (["notion.*"], "notion.auth", "notion.auth", True),
        (["notion.*"], "realtime-auth", "notion.auth", True),  # matched by kind
        (["notion.*"], "cache.hit_rate", "cache.hit_rate", False),
        (["*"], "anything", "x.y", True),
        (["cache.hit_rate", "http.*"], "mcp", "http.endpoint", True),
        (["Notion.*"], "notion.auth", "notion.auth", False),  # case matters, like check names
    ],
)
def test_patterns_match_check_names_or_kinds(patterns, check, kind, expected):
    assert matches_any(patterns, check, kind) is expected


def test_a_silence_with_a_target_matches_only_that_target():
    silence = Silence(1, "cache.*", "redis", "flush", NOW, NOW + 60)
    assert silence.matches("cache.hit_rate", "cache.hit_rate", "redis")
    assert not silence.matches("cache.hit_rate", "cache.hit_rate", "app")


def test_silences_are_stored_listed_and_removed():
    store = Store.memory()
    first = add_silence(store, pattern="notion.*", target=None, duration=7200,
                        reason="migration", now=NOW)
    add_silence(store, pattern="cache.*", target="redis", duration=60, reason="flush", now=NOW)
    assert [s.id for s in active_silences(store, NOW + 30)] == [1, 2]
    assert [s.id for s in active_silences(store, NOW + 60)] == [1]  # the short one ended
    assert remove_silence(store, first.id, NOW + 90) == first
    assert active_silences(store, NOW + 90) == []
    assert remove_silence(store, first.id, NOW + 91) is None


def test_maintenance_window_in_its_own_time_zone():
    window = MaintenanceWindow(name="nightly", schedule="0 2 * * sat,sun", duration="2h",
                               timezone="Europe/Berlin")
    assert window_end(window, "UTC", at("2025-01-25T00:59:00+00:00")) is None
    assert window_end(window, "UTC", at("2025-01-25T01:00:00+00:00")) == at(
        "2025-01-25T03:00:00+00:00"
    )
    assert window_end(window, "UTC", at("2025-01-25T02:59:59+00:00")) is not None
    assert window_end(window, "UTC", at("2025-01-25T03:00:00+00:00")) is None
    assert window_end(window, "UTC", at("2025-01-24T01:30:00+00:00")) is None  # a Friday


def test_maintenance_window_follows_summer_time():
    window = MaintenanceWindow(name="weekly", schedule="0 4 * * sun", duration="1h")
    # Default zone from [scheduler]: 04:00 Berlin is 03:00 UTC in winter, 02:00 UTC in summer.
    assert window_end(window, "Europe/Berlin", at("2025-03-23T03:30:00+00:00")) is not None
    assert window_end(window, "Europe/Berlin", at("2025-03-30T03:30:00+00:00")) is None
    assert window_end(window, "Europe/Berlin", at("2025-03-30T02:30:00+00:00")) is not None


def test_silencer_names_the_silence_or_the_window():
    store = Store.memory()
    add_silence(store, pattern="notion.auth", target=None, duration=600, reason="rotating token",
                now=NOW)
    settings = Settings(alerts={"maintenance": [
        {"name": "friday", "schedule": "0 7 * * fri", "duration": "1h", "checks": ["cache.*"]},
    ]})
    lookup = silencer(store, settings, NOW + 60)
    assert lookup("notion.auth", "notion.auth", "") == "silence 1: rotating token"
    assert lookup("cache.hit_rate", "cache.hit_rate", "redis") == "maintenance window friday"
    assert lookup("notion.latency", "notion.latency", "") is None
    assert silencer(store, settings, NOW + 3600)("cache.hit_rate", "cache.hit_rate", "") is None


@pytest.mark.parametrize(
    ("window", "problem"),
    [
        ({"schedule": "0 2 * * 0"}, "alerts.maintenance[0].schedule: use day names"),
        ({"schedule": "at night"}, "alerts.maintenance[0].schedule: cron needs 5 fields"),
        ({"timezone": "Mars/Olympus"}, "alerts.maintenance[0].timezone: unknown IANA time zone"),
        ({"duration": "soon"}, "alerts.maintenance[0].duration: not a duration"),
    ],
)
def test_a_bad_maintenance_window_names_its_key(tmp_path, window, problem):
    entry = {"name": "w", "schedule": "0 2 * * sun", "duration": "2h", **window}
    lines = "\n".join(f'{k} = "{v}"' for k, v in entry.items())
    path = tmp_path / "opsd.toml"
    path.write_text(f"[[alerts.maintenance]]\n{lines}\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(path, env={})
    assert any(p.startswith(f"opsd.toml: {problem}") for p in raised.value.problems)


def test_silence_commands(make_config, opsd_cli):
    config = str(make_config())
    added = opsd_cli("--config", config, "silence", "add", "--check", "notion.*",
                     "--for", "2h", "--reason", "planned migration")
    assert added.code == 0, added.err
    assert added.out.startswith("silence 1 added: notion.* until ")
    assert added.out.rstrip().endswith("(2h): planned migration")
    opsd_cli("--config", config, "silence", "add", "--check", "cache.*", "--target", "redis",
             "--for", "30m", "--reason", "flush")
    listed = opsd_cli("--config", config, "silence", "list")
    assert listed.code == 0
    header, first, second = listed.out.splitlines()
    assert header.split() == ["ID", "CHECK", "TARGET", "UNTIL", "REASON"]
    assert first.split()[:3] == ["1", "notion.*", "*"] and first.endswith("planned migration")
    assert second.split()[:3] == ["2", "cache.*", "redis"]
    removed = opsd_cli("--config", config, "silence", "remove", "1")
    assert (removed.code, removed.out) == (0, "silence 1 removed: notion.* (planned migration)\n")
    as_json = json.loads(opsd_cli("--config", config, "silence", "list", "--json").out)
    assert [s["pattern"] for s in as_json["silences"]] == ["cache.*"]
    assert as_json["silences"][0]["ends_at"] - as_json["silences"][0]["created_at"] == 1800


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["remove", "7"], "opsd: no active silence with id 7 (see `opsd silence list`)\n"),
        (["remove", "seven"], "opsd: silence id must be a number, not 'seven'\n"),
        (["add", "--check", "x", "--for", "soon", "--reason", "r"],
         "opsd: --for: not a duration: 'soon' (use e.g. 30s, 5m, 4h, 7d)\n"),
        (["add", "--check", "x", "--for", "0s", "--reason", "r"],
         "opsd: --for: must be longer than 0s\n"),
        (["add", "--check", "x", "--for", "1h", "--reason", " "],
         "opsd: --reason: must not be empty\n"),
    ],
)
def test_silence_mistakes_are_one_line_and_exit_3(make_config, opsd_cli, args, message):
    done = opsd_cli("--config", str(make_config()), "silence", *args)
    assert (done.code, done.out, done.err) == (3, "", message)
