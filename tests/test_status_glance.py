"""`opsd status` and `opsd history` at a glance: one row per (playbook, check, target), worst
first, with since and last OK, `--failing` and `--playbook`; in-process on a seeded history,
the clock frozen."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from freezegun import freeze_time

from opsd.cli import main
from opsd.cli.glance import Row, worst_first
from opsd.durations import format_duration
from opsd.results import Result, Status
from opsd.store import Store, check_states, runs

NOW = dt.datetime(2027, 1, 15, 8, 0, tzinfo=dt.UTC).timestamp()
MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")

PLAYBOOKS = {
    "daily": ('schedule = "0 7 * * *"', ["notion.error_rate", "scan"]),
    "monthly": ('schedule = "0 9 1 * *"', ["notion.error_rate"]),
    "realtime": ('every = "1m"', ["latency"]),
    "hourly": ('every = "1h"', ["notion.auth"]),
    "weekly": ('schedule = "0 8 * * mon"', ["backup"]),
}

# (playbook, check, target) in the order `opsd status` must list them, and why.
ORDER = [
    ("monthly", "notion.error_rate", ""),  # CRITICAL
    ("realtime", "latency", "bottlenecks"),  # CRITICAL
    ("hourly", "notion.auth", ""),  # OK, but stale: stands as UNKNOWN
    ("realtime", "latency", "tasks"),  # WARNING
    ("daily", "notion.error_rate", ""),  # OK
    ("weekly", "backup", ""),  # OK
    ("daily", "scan", ""),  # SKIPPED
]


def result(status: Status, check: str, at: float, target: str = "") -> Result:
    return Result(status, f"{status} at {at:.0f}", value=1.0, unit="count", target=target,
                  check=check, kind="maintenance.retention", started_at=at, duration=0.5)


def seed(store: Store) -> None:
    """A history in which the daily and the monthly `notion.error_rate` disagree."""
    def run(playbook: str, at: float, *results: Result) -> None:
        runs.record_run(store, playbook, list(results), started_at=at, finished_at=at + 1,
                        trigger="schedule")

    for days in (3, 2, 1):
        at = NOW - days * DAY - HOUR
        run("daily", at, result(Status.OK, "notion.error_rate", at),
            result(Status.SKIPPED, "scan", at))
    run("monthly", NOW - 45 * DAY, result(Status.OK, "notion.error_rate", NOW - 45 * DAY))
    run("monthly", NOW - 14 * DAY, result(Status.CRITICAL, "notion.error_rate", NOW - 14 * DAY))
    for at, tasks in ((NOW - 3 * HOUR, Status.OK), (NOW - 130 * MINUTE, Status.WARNING),
                      (NOW - MINUTE, Status.WARNING)):
        run("realtime", at, result(tasks, "latency", at, "tasks"),
            result(Status.CRITICAL, "latency", at, "bottlenecks"))
    run("hourly", NOW - 5 * HOUR, result(Status.OK, "notion.auth", NOW - 5 * HOUR))
    run("weekly", NOW - 4 * DAY, result(Status.OK, "backup", NOW - 4 * DAY))


@dataclass
class Done:
    code: int
    out: str
    err: str

    def json(self) -> dict:
        return json.loads(self.out)


@pytest.fixture
def playbooks_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "playbooks"
    directory.mkdir()
    for name, (schedule, checks) in PLAYBOOKS.items():
        entries = "".join(f'[[checks]]\nname = "{c}"\nkind = "maintenance.retention"\n'
                          for c in checks)
        (directory / f"{name}.toml").write_text(f'name = "{name}"\n{schedule}\n\n{entries}')
    return directory


@pytest.fixture
def opsd(tmp_path: Path, make_config, playbooks_dir: Path, monkeypatch, capsys
         ) -> Callable[..., Done]:
    """`opsd ARGS` in this process at NOW, on the seeded history (time zone Europe/Berlin)."""
    for name in ("OPSD_CONFIG", "NOTION_API_TOKEN", "CREDENTIALS_DIRECTORY", "CACHE_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / ".cache"))
    # Raw results kept 90 days: `opsd history --since 60d` lists them (not rollups).
    config = make_config(scheduler={"playbooks_dir": str(playbooks_dir),
                                    "timezone": "Europe/Berlin"}, storage={"retention": "90d"})
    store = Store.open(tmp_path / "opsd.db")
    seed(store)
    store.close()

    def run(*args: str) -> Done:
        with freeze_time(dt.datetime.fromtimestamp(NOW, dt.UTC)):
            code = main(["--config", str(config), *args])
        captured = capsys.readouterr()
        return Done(code, captured.out, captured.err)

    return run


def series(rows: list[dict]) -> list[tuple[str, str, str]]:
    return [(r["playbook"], r["check"], r["target"]) for r in rows]


def table(text: str) -> list[dict[str, str]]:
    """An aligned table's rows as {header: cell}, cut at the headers' columns."""
    header, *lines = text.rstrip("\n").split("\n")
    names = [n for n in header.split("  ") if n.strip()]
    starts = [header.index(n.strip()) for n in names]
    ends = [*starts[1:], None]
    return [{n.strip(): line[s:e].strip() for n, s, e in zip(names, starts, ends, strict=True)}
            for line in lines]


# --- opsd status -------------------------------------------------------------------------------


def test_status_lists_each_playbooks_series_worst_first(opsd) -> None:
    done = opsd("status", "--json")
    assert done.code == 2, done.err
    data = done.json()
    assert series(data["results"]) == ORDER
    assert data["status"] == "CRITICAL" and data["stale"] is True
    by_series = {(r["playbook"], r["check"], r["target"]): r for r in data["results"]}
    # The monthly result is 14 days old: fresh for its own schedule, whatever the daily does.
    assert by_series["monthly", "notion.error_rate", ""]["stale"] is False
    assert by_series["hourly", "notion.auth", ""]["stale"] is True
    assert by_series["hourly", "notion.auth", ""]["stale_reason"] == (
        "stale: last result 5h ago, expected every 1h"
    )


def test_status_gives_since_and_last_ok_as_epoch_and_iso(opsd) -> None:
    rows = {(r["playbook"], r["check"], r["target"]): r
            for r in opsd("status", "--json").json()["results"]}
    expected = {
        ("monthly", "notion.error_rate", ""): (NOW - 14 * DAY, NOW - 45 * DAY),
        ("realtime", "latency", "bottlenecks"): (NOW - 3 * HOUR, None),
        ("realtime", "latency", "tasks"): (NOW - 130 * MINUTE, NOW - 3 * HOUR),
        ("daily", "notion.error_rate", ""): (NOW - 3 * DAY - HOUR, NOW - DAY - HOUR),
    }
    for key, (since, last_ok) in expected.items():
        row = rows[key]
        assert (row["since"], row["last_ok"]) == (since, last_ok), key
        assert row["since_iso"] == dt.datetime.fromtimestamp(since, BERLIN).isoformat()
        assert row["since_iso"].endswith("+01:00")
        assert row["last_ok_iso"] == (
            None if last_ok is None else dt.datetime.fromtimestamp(last_ok, BERLIN).isoformat()
        )


def test_status_json_keeps_every_earlier_field(opsd) -> None:
    data = opsd("status", "--json").json()
    assert {"status", "stale", "results"} <= set(data)
    earlier = {"check", "kind", "target", "status", "value", "unit", "summary", "details",
               "started_at", "duration_seconds", "age_seconds", "stale"}
    for row in data["results"]:
        assert earlier | {"playbook", "since", "since_iso", "last_ok", "last_ok_iso"} <= set(row)
    tasks = next(r for r in data["results"] if r["target"] == "tasks")
    assert (tasks["started_at"], tasks["age_seconds"]) == (NOW - MINUTE, MINUTE)


def test_status_table_shows_playbook_since_and_last_ok(opsd) -> None:
    done = opsd("status")
    assert done.code == 2 and done.err == ""
    rows = table(done.out)
    assert list(rows[0]) == ["STATUS", "PLAYBOOK", "CHECK", "TARGET", "VALUE", "SINCE",
                             "LAST OK", "AGE", "SUMMARY"]
    assert [(r["PLAYBOOK"], r["CHECK"], r["TARGET"]) for r in rows] == [
        (p, c, t or "-") for p, c, t in ORDER
    ]
    cells = {(r["PLAYBOOK"], r["TARGET"]): r for r in rows if r["CHECK"] != "scan"}
    tasks = cells["realtime", "tasks"]
    assert (tasks["STATUS"], tasks["SINCE"], tasks["LAST OK"]) == (
        "WARNING", format_duration(130 * MINUTE), "2027-01-15 06:00 CET"
    )
    assert cells["realtime", "bottlenecks"]["LAST OK"] == "never"
    assert cells["daily", "-"]["LAST OK"] == "-"  # OK now
    assert cells["monthly", "-"]["SINCE"] == format_duration(14 * DAY)
    stale = cells["hourly", "-"]
    assert stale["STATUS"] == "OK"
    assert stale["SUMMARY"].startswith("stale: last result 5h ago, expected every 1h — ")


def test_failing_leaves_out_ok_and_skipped_but_not_stale(opsd) -> None:
    done = opsd("status", "--failing", "--json")
    assert done.code == 2
    assert series(done.json()["results"]) == ORDER[:4]
    text = opsd("status", "--failing")
    assert [r["PLAYBOOK"] for r in table(text.out)] == ["monthly", "realtime", "hourly",
                                                        "realtime"]


def test_failing_with_nothing_failing_says_so_and_exits_0(opsd) -> None:
    done = opsd("status", "--failing", "--playbook", "daily")
    assert (done.code, done.out, done.err) == (0, "no failing checks\n", "")
    data = opsd("status", "--failing", "--playbook", "weekly", "--json")
    assert (data.code, data.json()["results"], data.json()["status"]) == (0, [], "OK")


@pytest.mark.parametrize(("playbook", "code", "shown"), [
    ("daily", 0, [ORDER[4], ORDER[6]]),
    ("hourly", 3, [ORDER[2]]),  # only a stale result: UNKNOWN
    ("realtime", 2, [ORDER[1], ORDER[3]]),
])
def test_playbook_shows_its_series_and_exits_with_their_worst(opsd, playbook, code, shown):
    done = opsd("status", "--playbook", playbook, "--json")
    assert done.code == code
    assert series(done.json()["results"]) == shown


def test_an_unknown_playbook_is_one_line_with_a_suggestion_exit_3(opsd) -> None:
    done = opsd("status", "--playbook", "dayly")
    assert (done.code, done.out) == (3, "")
    assert done.err == "opsd: --playbook: unknown playbook 'dayly'; did you mean 'daily'?\n"
    far = opsd("history", "notion.error_rate", "--playbook", "zzz")
    assert far.code == 3
    assert far.err == ("opsd: --playbook: unknown playbook 'zzz' "
                       "(known: daily, hourly, monthly, realtime, weekly)\n")


def test_unreadable_playbooks_show_every_series_the_history_holds(opsd, playbooks_dir) -> None:
    (playbooks_dir / "broken.toml").write_text('[[checks]]\nkind = "nope"\n')
    done = opsd("status", "--json")
    assert done.err.startswith("opsd: the playbooks cannot be read")
    assert len(done.err.splitlines()) == 1
    # No schedule to judge staleness by: the hourly result counts as the OK it is.
    assert set(series(done.json()["results"])) == set(ORDER)
    assert done.code == 2


# --- opsd history ------------------------------------------------------------------------------


def test_history_keeps_the_playbooks_apart_worst_series_first(opsd) -> None:
    done = opsd("history", "notion.error_rate", "--since", "60d", "--json")
    assert done.code == 0, done.err
    data = done.json()
    assert series(data["series"]) == [("monthly", "notion.error_rate", ""),
                                      ("daily", "notion.error_rate", "")]
    assert data["series"][0]["since"] == NOW - 14 * DAY
    assert data["series"][0]["last_ok"] == NOW - 45 * DAY
    assert [(r["playbook"], r["status"], r["started_at"]) for r in data["results"]] == [
        ("monthly", "OK", NOW - 45 * DAY),
        ("monthly", "CRITICAL", NOW - 14 * DAY),
        *[("daily", "OK", NOW - days * DAY - HOUR) for days in (3, 2, 1)],
    ]
    assert data["since"] == NOW - 60 * DAY  # the window's start, as before


def test_history_table_heads_the_results_with_their_series(opsd) -> None:
    done = opsd("history", "notion.error_rate", "--since", "20d")
    heading, results = done.out.split("\n\n")
    assert [(r["STATUS"], r["PLAYBOOK"], r["SINCE"], r["LAST OK"]) for r in table(heading)] == [
        ("CRITICAL", "monthly", format_duration(14 * DAY), "2026-12-01 09:00 CET"),
        ("OK", "daily", format_duration(3 * DAY + HOUR), "-"),
    ]
    assert [(r["PLAYBOOK"], r["STATUS"]) for r in table(results)] == [
        ("monthly", "CRITICAL"), ("daily", "OK"), ("daily", "OK"), ("daily", "OK"),
    ]
    assert table(results)[0]["TIME"] == "2027-01-01 09:00:00 CET"


def test_history_failing_and_playbook_filter(opsd) -> None:
    failing = opsd("history", "notion.error_rate", "--since", "60d", "--failing", "--json")
    assert series(failing.json()["series"]) == [("monthly", "notion.error_rate", "")]
    assert [r["status"] for r in failing.json()["results"]] == ["CRITICAL"]
    daily = opsd("history", "notion.error_rate", "--since", "60d", "--playbook", "daily",
                 "--json").json()
    assert series(daily["series"]) == [("daily", "notion.error_rate", "")]
    assert {r["playbook"] for r in daily["results"]} == {"daily"}
    assert len(daily["results"]) == 3
    target = opsd("history", "latency", "--target", "tasks", "--failing", "--json").json()
    assert series(target["series"]) == [("realtime", "latency", "tasks")]
    assert [r["started_at"] for r in target["results"]] == [NOW - 130 * MINUTE, NOW - MINUTE]
    none = opsd("history", "notion.error_rate", "--playbook", "daily", "--failing")
    assert none.out.endswith("no failing results for notion.error_rate in the last 7d\n")


# --- pure ordering -------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "stale", "standing"), [
    (Status.CRITICAL, True, Status.CRITICAL),
    (Status.WARNING, True, Status.UNKNOWN),
    (Status.OK, True, Status.UNKNOWN),
    (Status.SKIPPED, True, Status.UNKNOWN),
    (Status.SKIPPED, False, Status.SKIPPED),
])
def test_a_stale_row_stands_at_least_unknown(status, stale, standing) -> None:
    row = Row("p", Result(status, check="c"), 0.0, None, "stale: …" if stale else None)
    assert row.standing is standing
    assert row.failing is (standing not in (Status.OK, Status.SKIPPED))


def test_worst_first_is_the_exit_code_severity_then_names() -> None:
    def row(status: Status, playbook: str, target: str = "") -> Row:
        return Row(playbook, Result(status, check="c", target=target), 0.0, None)

    rows = [row(Status.OK, "a"), row(Status.SKIPPED, "a"), row(Status.WARNING, "a"),
            row(Status.UNKNOWN, "b"), row(Status.CRITICAL, "b", "y"),
            row(Status.CRITICAL, "b", "x"), row(Status.CRITICAL, "a")]
    assert [(r.result.status.value, r.playbook, r.result.target) for r in worst_first(rows)] == [
        ("CRITICAL", "a", ""), ("CRITICAL", "b", "x"), ("CRITICAL", "b", "y"),
        ("UNKNOWN", "b", ""), ("WARNING", "a", ""), ("OK", "a", ""), ("SKIPPED", "a", ""),
    ]


# --- the queries ---------------------------------------------------------------------------


def test_since_and_last_ok_are_index_seeks_not_scans(tmp_path: Path) -> None:
    """Every statement `opsd status` runs for a series searches an index, none scans the
    results table; "since" and "last OK" seek (playbook, check, target, status) in
    `results_series_status`, so they never walk a series' whole kept history."""
    store = Store.open(tmp_path / "opsd.db")
    seed(store)
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    found = check_states.latest_checks(store, [(p, c) for p, (_, checks) in PLAYBOOKS.items()
                                               for c in checks])
    store.conn.set_trace_callback(None)
    assert len(found) == len(ORDER)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert sum("status = " in s for s in selects) >= 2 * len(ORDER)
    for statement in selects:
        plan = " ".join(row[3] for row in store.conn.execute("EXPLAIN QUERY PLAN " + statement))
        assert "SCAN" not in plan, (statement, plan)
        assert "USING" in plan and "INDEX" in plan, (statement, plan)
        if "status = " in statement:
            assert "results_series_status" in plan and "status=?" in plan, (statement, plan)
    store.close()
