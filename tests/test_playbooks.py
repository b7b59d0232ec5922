"""Playbook files: validation errors name file and key; schedules; shipped playbooks load."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path

import pytest

from opsd.config import Settings
from opsd.errors import PlaybookError
from opsd.playbooks import load_playbook, load_playbooks

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str, name: str = "daily.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(PlaybookError) as info:
        load_playbook(path)
    return info.value.problems


def test_shipped_playbooks_are_valid() -> None:
    settings = Settings()
    settings.scheduler.playbooks_dir = REPO / "playbooks"
    playbooks = load_playbooks(settings)
    assert {"realtime", "daily", "evening", "weekly", "monthly", "emergency"} <= set(
        playbooks.playbooks
    )
    assert not playbooks.get("emergency").scheduled
    assert playbooks.get("realtime").every == 60


def test_entry_parameters_and_threshold_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, """
name = "daily"
schedule = "0 7 * * mon-fri"
[[checks]]
kind = "history.trend"
window = "1d"
warn = 0.97
timeout = "5s"
""")
    playbook = load_playbook(path)
    spec = playbook.checks[0]
    assert spec.name == "history.trend"  # defaults to the kind
    assert spec.params.window == 86400
    assert spec.timeout == 5
    assert spec.thresholds.warn == 0.97
    assert spec.thresholds.crit == 0.95  # the kind's default
    assert spec.thresholds.direction == "below"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[[checks]]\nkind = "notion.auht"\n',
         "daily.toml: checks[0].kind: unknown check kind 'notion.auht' (did you mean "
         "notion.auth?) (see `opsd kinds`)"),
        ('[[checks]]\nname = "x"\n', "daily.toml: checks[0].kind: required key is missing"),
        ('[[checks]]\nkind = "history.trend"\nwindw = "1d"\n',
         "daily.toml: checks[0].windw: unknown key (did you mean window?)"),
        ('[[checks]]\nkind = "history.trend"\ntimeout = "soon"\n',
         "daily.toml: checks[0].timeout: not a duration: 'soon' (use e.g. 30s, 5m, 4h, 7d)"),
        ('schedule = "0 7 * * 1-5"\n',
         "daily.toml: schedule: use day names in day-of-week (mon-fri, sun), not numbers: "
         "cron and APScheduler number the days differently"),
        ('schedule = "0 7 * *"\n',
         "daily.toml: schedule: cron needs 5 fields: minute hour day month day-of-week"),
        ('schedul = "0 7 * * mon"\n',
         "daily.toml: schedul: unknown key (did you mean schedule?)"),
        ('schedule = "0 7 * * mon"\nevery = "1m"\n',
         "daily.toml: playbook: give either schedule or every, not both"),
    ],
)
def test_validation_errors_name_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    assert problems(write(tmp_path, text)) == [expected]


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    found = problems(write(tmp_path, """
[[checks]]
kind = "nope.one"
[[checks]]
kind = "nope.two"
"""))
    assert len(found) == 2


def test_duplicate_entry_names(tmp_path: Path) -> None:
    found = problems(write(tmp_path, '[[checks]]\nkind = "history.trend"\n' * 2))
    assert found == ["daily.toml: playbook: duplicate check names: history.trend"]


def test_unknown_playbook_lists_known(tmp_path: Path) -> None:
    write(tmp_path, 'name = "daily"\n')
    settings = Settings()
    settings.scheduler.playbooks_dir = tmp_path
    with pytest.raises(PlaybookError, match=r"unknown playbook 'nightly' \(known: daily\)"):
        load_playbooks(settings).get("nightly")


def test_cron_schedule_across_dst_change(tmp_path: Path) -> None:
    playbook = load_playbook(write(tmp_path, 'schedule = "30 2 * * sun"\n'))
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    # 2026-03-29 02:30 does not exist in Berlin (clocks jump 02:00 -> 03:00).
    before = dt.datetime(2026, 3, 28, 12, 0, tzinfo=berlin)
    fire = playbook.next_run("Europe/Berlin", before)
    assert fire is not None
    # It fires once, that Sunday, at a real instant just after the jump (03:30 CEST).
    local = fire.astimezone(dt.UTC).astimezone(berlin)
    assert (local.date(), local.hour, local.minute) == (dt.date(2026, 3, 29), 3, 30)
    after = playbook.next_run("Europe/Berlin", fire + dt.timedelta(minutes=1))
    assert after.date() == dt.date(2026, 4, 5)
    # Daily wall-clock time is kept across the change in autumn.
    daily = load_playbook(write(tmp_path, 'schedule = "0 7 * * *"\n', "d.toml"))
    first = daily.next_run("Europe/Berlin", dt.datetime(2026, 10, 23, 8, 0, tzinfo=berlin))
    second = daily.next_run("Europe/Berlin", first + dt.timedelta(seconds=1))
    assert (first.hour, second.hour) == (7, 7)
    assert second.astimezone(dt.UTC) - first.astimezone(dt.UTC) == dt.timedelta(hours=25)


def test_previous_run(tmp_path: Path) -> None:
    playbook = load_playbook(write(tmp_path, 'schedule = "0 7 * * mon-fri"\n'))
    utc = zoneinfo.ZoneInfo("UTC")
    saturday = dt.datetime(2026, 11, 21, 12, 0, tzinfo=utc)
    assert playbook.previous_run("UTC", saturday) == dt.datetime(2026, 11, 20, 7, 0, tzinfo=utc)
    monthly = load_playbook(write(tmp_path, 'schedule = "0 9 1 * *"\n', "m.toml"))
    assert monthly.previous_run("UTC", saturday) == dt.datetime(2026, 11, 1, 9, 0, tzinfo=utc)
