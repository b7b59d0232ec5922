"""`opsd check` as a Nagios plugin: exit codes and output over the plugin API, perfdata per the
Monitoring Plugins development guidelines, and a plugin run that changes nothing unless
`--record` is given.

The table runs in-process through the CLI's entry function (`opsd.cli.main`); the last tests
run the real `opsd` command against a real database and Redis.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from test_sources_support import RedisServer

from opsd.checks.base import CheckSpec, Params, check
from opsd.cli import main
from opsd.cli.nagios import decimal_text, perfdata_entry, plugin_output, plugin_status
from opsd.results import Result, Status
from opsd.store import Store, runs

# --- kinds only this module's playbooks use ----------------------------------------------


class PluginValueParams(Params):
    value: float = 0.0
    status: Status = Status.OK


@check("plugin.value", params=PluginValueParams, unit="seconds", warn=1.0, crit=2.0)
async def plugin_value(spec: CheckSpec[PluginValueParams], ctx: object) -> Result:
    return Result(spec.params.status, "measured", value=spec.params.value)


@check("plugin.ratio", params=PluginValueParams, unit="ratio", warn=0.8, crit=0.6,
       direction="below")
async def plugin_ratio(spec: CheckSpec[PluginValueParams], ctx: object) -> list[Result]:
    return [Result(Status.OK, "fine", value=0.95, target="a b"),
            Result(Status.OK, "low", value=spec.params.value, target="x=y"),
            Result(Status.SKIPPED, "nothing there", target="empty")]


@check("plugin.hangs")
async def plugin_hangs(spec: CheckSpec[Params], ctx: object) -> Result:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


# --- the regex of the guidelines' perfdata ---------------------------------------------------

# 'label'=value[UOM];[warn];[crit];[min];[max]: a quoted label without a lone quote (a quote is
# doubled) or a bare one without spaces, quotes or `=`; numbers of [-0-9.] only; UOM from the
# guidelines' set; warn and crit in range format ([@][start:][end], `~` for -infinity).
_NUMBER = r"-?[0-9]+(?:\.[0-9]+)?"
_RANGE = rf"@?(?:(?:~|{_NUMBER})?:)?(?:{_NUMBER})?"
_LABEL = r"(?:'(?:[^'=]|'')+'|[^'= ]+)"
PERFDATA = re.compile(
    rf"{_LABEL}={_NUMBER}(?:s|ms|us|%|B|KB|MB|TB|c)?"
    rf"(?:;{_RANGE}(?:;{_RANGE}(?:;(?:{_NUMBER})?(?:;(?:{_NUMBER})?)?)?)?)?"
)
FIRST_LINE = re.compile(r"^(OK|WARNING|CRITICAL|UNKNOWN) - ([^|\n]+?)(?: \| (.+))?$")


def parse(out: str) -> tuple[str, str, list[str], list[str]]:
    """(status, summary, perfdata entries, long-output lines) of a plugin's output, asserting
    the shape the guidelines give."""
    first, *rest = out.rstrip("\n").split("\n")
    match = FIRST_LINE.match(first)
    assert match, f"not a plugin line: {first!r}"
    perfdata = match[3] or ""
    # Entries are separated by spaces (a quoted label may hold one): the whole perfdata must
    # be entries and single spaces, nothing else.
    assert re.fullmatch(rf"(?:{PERFDATA.pattern})(?: (?:{PERFDATA.pattern}))*", perfdata) or (
        not perfdata
    ), f"perfdata {perfdata!r} breaks the guidelines"
    entries = [m[0] for m in PERFDATA.finditer(perfdata)]
    for line in rest:
        assert "|" not in line
    return match[1], match[2], entries, rest


# --- in-process runs through the CLI entry function ------------------------------------------


@dataclasses.dataclass
class Plugin:
    code: int
    out: str
    err: str


@pytest.fixture
def playbooks(tmp_path: Path) -> Path:
    directory = tmp_path / "playbooks"
    directory.mkdir()
    entries = {
        "ok": 'kind = "plugin.value"\nvalue = 0.25',
        "warning": 'kind = "plugin.value"\nvalue = 1.5',
        "critical": 'kind = "plugin.value"\nvalue = 2.5',
        "unknown": 'kind = "plugin.value"\nvalue = 0.1\nstatus = "UNKNOWN"',
        "targets": 'kind = "plugin.ratio"\nvalue = 0.7',
        "hangs": 'kind = "plugin.hangs"\ntimeout = 0.05',
        "caches": 'kind = "cache.hit_rate"',
        "apps": 'kind = "app.error_rate"',
        "relative_scan": 'kind = "secrets.scan"\npaths = ["logs"]',
        "missing_scan": f'kind = "secrets.scan"\npaths = ["{directory / "absent"}"]',
    }
    (directory / "plugin.toml").write_text("".join(
        f'[[checks]]\nname = "{name}"\n{body}\n' for name, body in entries.items()
    ))
    return directory


@pytest.fixture
def run_plugin(tmp_path: Path, make_config, playbooks: Path, monkeypatch, capsys
               ) -> Callable[..., Plugin]:
    for name in ("OPSD_CONFIG", "NOTION_API_TOKEN", "CREDENTIALS_DIRECTORY", "CACHE_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / ".cache"))
    config = make_config(scheduler={"playbooks_dir": str(playbooks)})

    def run(*args: str, config_path: Path = config) -> Plugin:
        code = main(["--config", str(config_path), "check", *args])
        captured = capsys.readouterr()
        return Plugin(code, captured.out, captured.err)

    return run


@pytest.mark.parametrize(
    ("entry", "code", "status", "summary"),
    [
        ("ok", 0, "OK", "measured"),
        ("warning", 1, "WARNING", "slow: 1.50 s ≥ 1 s (warning) — measured"),
        ("critical", 2, "CRITICAL", "slow: 2.50 s ≥ 2 s (critical) — measured"),
        ("unknown", 3, "UNKNOWN", "measured"),
        ("targets", 1, "WARNING", "x=y: low: 70.0% ≤ 80% (warning) — low (3 targets)"),
        # A timed-out check is CRITICAL (2), as check_http's socket timeout: the service did not
        # answer in time, which is what the plugin exists to notice.
        ("hangs", 2, "CRITICAL", "timed out after 0.05s"),
        # Nothing checked: UNKNOWN with the reason.
        ("caches", 3, "UNKNOWN", "no caches configured ([[caches]] in the config file)"),
        ("apps", 3, "UNKNOWN", "no apps configured ([[apps]] in the config file)"),
        ("relative_scan", 3, "UNKNOWN",
         "relative paths need secrets.root, the integration's directory"),
    ],
)
def test_exit_codes_follow_the_plugin_api(
    run_plugin, entry: str, code: int, status: str, summary: str
) -> None:
    done = run_plugin(entry)
    assert (done.code, done.err) == (code, "")
    shown, text, _, _ = parse(done.out)
    assert (shown, text) == (status, summary)


def test_a_missing_scan_path_is_unknown(run_plugin, playbooks: Path) -> None:
    done = run_plugin("missing_scan")
    assert done.code == 3
    assert parse(done.out)[:2] == (
        "UNKNOWN", f"nothing to scan: {playbooks / 'absent'} not found"
    )


def test_perfdata_and_long_output(run_plugin) -> None:
    ok = run_plugin("ok")
    assert parse(ok.out)[2] == ["'ok'=0.25s;1;2;0"]
    many = run_plugin("targets")
    _, _, perfdata, long_output = parse(many.out)
    # A ratio in percent (0..100) with thresholds as "alert below" ranges; a label with a
    # space stays quoted, `=` (not allowed in a label) is replaced; SKIPPED has no value.
    assert perfdata == ["'targets_a b'=95%;80:;60:;0;100", "'targets_x_y'=70%;80:;60:;0;100"]
    assert long_output == [
        "WARNING x=y: low: 70.0% ≤ 80% (warning) — low",
        "OK a b: fine",
        "SKIPPED empty: nothing there",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("unknwon",), "opsd: unknown check 'unknwon': no playbook entry has that name; "
                       "did you mean 'unknown'?"),
        (("ok", "--playbook", "nope"), "opsd: unknown playbook 'nope' (known: plugin)"),
    ],
)
def test_unknown_names_exit_3_with_one_line(run_plugin, args: tuple[str, ...], message: str):
    done = run_plugin(*args)
    assert (done.code, done.out, done.err.strip()) == (3, "", message)


def test_a_config_error_exits_3_naming_file_and_key(run_plugin, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[metrics]\nport = "abc"\n')
    done = run_plugin("ok", config_path=bad)
    assert (done.code, done.out) == (3, "")
    assert done.err.strip() == "opsd: bad.toml: metrics.port: not a valid integer"


def test_json_carries_the_plugin_status(run_plugin) -> None:
    done = run_plugin("caches", "--json")
    data = json.loads(done.out)
    assert done.code == 3
    assert (data["status"], data["recorded"]) == ("UNKNOWN", False)
    assert [r["status"] for r in data["results"]] == ["SKIPPED"]


def test_without_record_the_database_is_untouched(run_plugin, tmp_path: Path) -> None:
    """No run, result, alert state, event, outbox row or baseline after a look-only run; with
    --record the run and its alert state are there."""
    assert run_plugin("critical").code == 2
    tables = ("runs", "results", "alert_states", "alert_events", "outbox", "state")
    assert _counts(tmp_path / "opsd.db", tables) == dict.fromkeys(tables, 0)
    assert run_plugin("critical", "--record").code == 2
    after = _counts(tmp_path / "opsd.db", tables)
    assert (after["runs"], after["results"], after["alert_states"]) == (1, 1, 1)


def test_runs_left_unseen_are_replayed_only_with_record(run_plugin, tmp_path: Path) -> None:
    """A run a crash kept from the alert engine is the daemon's record: a look-only plugin run
    leaves it for the daemon (or a recording command) to replay; --record replays it first."""
    store = Store.open(tmp_path / "opsd.db")
    try:
        failed = Result(Status.CRITICAL, "down", check="critical", kind="plugin.value")
        runs.record_run(store, "plugin", [failed], started_at=1.0, finished_at=2.0,
                        alerted=False)
    finally:
        store.close()
    run_plugin("ok")
    assert _unseen(tmp_path / "opsd.db") == 1
    assert _alerted_checks(tmp_path / "opsd.db") == []
    run_plugin("ok", "--record")
    assert _unseen(tmp_path / "opsd.db") == 0
    assert _alerted_checks(tmp_path / "opsd.db") == ["critical"]


def _alerted_checks(database: Path) -> list[str]:
    with sqlite3.connect(database) as conn:
        return [row[0] for row in conn.execute("SELECT check_name FROM alert_states")]


def _unseen(database: Path) -> int:
    with sqlite3.connect(database) as conn:
        return int(conn.execute("SELECT count(*) FROM runs WHERE alerted_at IS NULL")
                   .fetchone()[0])


def _counts(database: Path, tables: tuple[str, ...]) -> dict[str, int]:
    with sqlite3.connect(database) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


# --- pure: status, labels, numbers ---------------------------------------------------------


def test_nothing_judged_is_unknown() -> None:
    assert plugin_status([]) is Status.UNKNOWN
    assert plugin_status([Result(Status.SKIPPED, "a"), Result(Status.SKIPPED, "b")]) is (
        Status.UNKNOWN
    )
    assert plugin_status([Result(Status.SKIPPED, "a"), Result(Status.OK, "b")]) is Status.OK
    assert plugin_status([Result(Status.UNKNOWN, "a"), Result(Status.CRITICAL, "b")]) is (
        Status.CRITICAL
    )
    shown = plugin_output([Result(Status.SKIPPED, "no x", target="a"),
                           Result(Status.SKIPPED, "no y", target="b")])
    assert (shown.exit_code, shown.text.split("\n")[0]) == (
        3, "UNKNOWN - nothing checked: all 2 targets skipped (no x)"
    )


@pytest.mark.parametrize(
    ("result", "entry"),
    [
        (Result(Status.OK, value=0.000025, unit="seconds", check="latency"),
         "'latency'=0.000025s;;;0"),
        (Result(Status.OK, value=1536.0, unit="bytes", check="backup"), "'backup'=1536B;;;0"),
        (Result(Status.OK, value=3.0, unit="count", check="findings",
                details={"thresholds": {"warn": 1, "crit": None, "direction": "above"}}),
         "'findings'=3;1;;0"),
        (Result(Status.OK, value=12.5, unit="days", check="it's"), "'it''s'=12.5"),
        (Result(Status.OK, value=-0.0, check="zero"), "'zero'=0"),
        (Result(Status.OK, value=1e21, check="big"), "'big'=1000000000000000000000"),
    ],
)
def test_perfdata_entries(result: Result, entry: str) -> None:
    assert perfdata_entry(result) == entry
    assert PERFDATA.fullmatch(entry)


def test_numbers_are_plain_decimals() -> None:
    assert [decimal_text(v) for v in (0.7 * 100, 2.5e-8, 70.0, -1.5)] == [
        "70", "0", "70", "-1.5"
    ]


def test_plugin_text_stays_on_its_lines() -> None:
    shown = plugin_output([Result(Status.WARNING, "a | b\nc", check="x")])
    assert shown.text == "WARNING - a / b c"


# --- the real command against a real database and Redis ------------------------------------


def test_the_real_command_keeps_counter_baselines(
    redis_server: RedisServer, make_config, opsd_cli, tmp_path: Path
) -> None:
    """Polling the plugin moves no counter baseline: the daemon's next interval still starts
    where it left it. With --record it is the daemon's run: the baseline moves, the run and
    its alert state are recorded."""
    config = str(make_config(caches=[{"name": "redis", "source": redis_server.url,
                                      "min_lookups": 10}]))
    redis_server.lookups(hits=30, misses=10)
    database = tmp_path / "opsd.db"
    tables = ("runs", "alert_states", "alert_events", "outbox", "state")
    for _ in range(2):
        done = opsd_cli("--config", config, "check", "cache.hit_rate")
        assert done.code == 1, done.err
        assert parse(done.out)[2] == ["'cache.hit_rate_redis'=75%;80:;60:;0;100"]
        assert _counts(database, tables) == dict.fromkeys(tables, 0)
    recorded = opsd_cli("--config", config, "check", "cache.hit_rate", "--record")
    assert recorded.code == 1, recorded.err
    after = _counts(database, tables)
    assert (after["runs"], after["alert_states"], after["state"]) == (1, 1, 1)
    quiet = opsd_cli("--config", config, "check", "cache.hit_rate")
    assert quiet.code == 0
    assert parse(quiet.out)[1].startswith("not enough traffic to judge: 0 lookups")
    assert _counts(database, tables) == after


def test_the_real_command_says_unknown_when_nothing_is_configured(make_config, opsd_cli):
    done = opsd_cli("--config", str(make_config()), "check", "cache.hit_rate")
    assert (done.code, done.err) == (3, "")
    assert done.out == "UNKNOWN - no caches configured ([[caches]] in the config file)\n"
