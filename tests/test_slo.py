"""SLOs: the burn-rate arithmetic, then each workbook alert firing and resolving at its exact
minute over a real SQLite store fed minute by minute (injected clock), window scaling, a
changed definition counting anew, the check kind through the runner, and config errors."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import ValidationError

from opsd.config import Settings
from opsd.config.slos import SloConfig
from opsd.playbooks import parse_playbook
from opsd.reports.slo import (
    alerts_for,
    budget_remaining,
    burn_rate,
    evaluate,
    window_label,
)
from opsd.results import Result, Status
from opsd.runner import Runner
from opsd.store import Store
from opsd.store.runs import record_run
from opsd.store.slo_hours import definition_of

MINUTE = 60.0
DAY = 86400.0
T0 = 1_780_012_800.0  # a UTC midnight: minute 0 of every scenario
HISTORY = 3 * 1440  # minutes of OK results before the outage: a full 3-day window


def at(minute: int) -> float:
    """When minute `minute`'s probe started."""
    return T0 + minute * MINUTE


def probe(minute: int, status: Status, *, check: str = "api", value: float | None = 0.2,
          target: str = "") -> Result:
    return Result(status, "probe", value=value, check=check, kind="http.endpoint",
                  target=target, started_at=at(minute))


def seed(store: Store, minutes: range, status: Status = Status.OK, **fields: object) -> None:
    """One run per hour-sized batch (fast), one result per minute."""
    batch = [probe(m, status, **fields) for m in minutes]  # type: ignore[arg-type]
    for start in range(0, len(batch), 60):
        chunk = batch[start:start + 60]
        record_run(store, "realtime", chunk, started_at=chunk[0].started_at,
                   finished_at=chunk[-1].started_at)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "opsd.db")


# --- pure -------------------------------------------------------------------------------------


def test_burn_rate_and_budget() -> None:
    assert burn_rate(99, 100, 0.99) == pytest.approx(1.0)
    assert burn_rate(0, 0, 0.99) is None
    assert budget_remaining(0.995, 0.99) == pytest.approx(0.5)
    assert budget_remaining(0.98, 0.99) == pytest.approx(-1.0)  # overspent
    assert budget_remaining(None, 0.99) is None


def test_alert_windows_scale_with_the_slo_window() -> None:
    thirty = {a.name: (window_label(a.long), window_label(a.short), a.factor)
              for a in alerts_for(30 * DAY)}
    assert thirty == {"page-fast": ("1h", "5m", 14.4), "page-slow": ("6h", "30m", 6.0),
                      "ticket": ("3d", "6h", 1.0)}
    seven = {a.name: (a.long, a.short) for a in alerts_for(7 * DAY)}
    assert seven == {"page-fast": (840, 70), "page-slow": (5040, 420),
                     "ticket": (60480, 5040)}
    assert [window_label(s) for s in (70, 840, 5040, 60480)] == ["70s", "14m", "1h24m",
                                                                  "16h48m"]


# --- firing and resolving, minute by minute ---------------------------------------------------


def timeline(store: Store, slo: SloConfig, outage: range, until: int, *,
             failing: Status = Status.CRITICAL, leak_every: int | None = None,
             **fields: object) -> dict[str, list[int]]:
    """Feed one result a minute from the outage's start to `until` (failing during
    `outage`, or every `leak_every` minutes of it), evaluating 30 s after each; returns the
    minutes each alert fired and resolved at."""
    changes: dict[str, list[int]] = {}
    firing: set[str] = set()
    for minute in range(outage.start, until):
        failed = minute in outage if leak_every is None else (
            (minute - outage.start) % leak_every == 0)
        seed(store, range(minute, minute + 1), failing if failed else Status.OK, **fields)
        [status] = evaluate(store, [slo], at(minute) + 30)
        for name in set(status.firing) ^ firing:
            changes.setdefault(name, []).append(minute)
        firing = set(status.firing)
    return changes


def test_each_pair_fires_and_resolves_at_its_minute(store: Store) -> None:
    """Objective 99 %: 14.4x needs 9 failures in the hour, 6x 22 in 6 h, 1x 44 in 3 days;
    after the outage the 5 min window clears after 5 OK minutes, the 30 min window holds at
    most one failure after 29, the 6 h window at most three after 357."""
    slo = SloConfig(name="api", checks="api", objective=0.99)
    seed(store, range(0, HISTORY))
    start, end = HISTORY, HISTORY + 60
    changes = timeline(store, slo, range(start, end), end + 360)
    assert changes == {
        "page-fast": [start + 8, end + 4],
        "page-slow": [start + 21, end + 28],
        "ticket": [start + 43, end + 356],
    }


def test_a_slow_leak_only_tickets(store: Store) -> None:
    """2 % errors (one failure every 50 min) burn 2x: after a clean 3-day history the ticket
    fires once the 3-day window holds 44 failures of 4320 (the 6 h window has 7); no page
    does (the 30 min window never holds 2 failures, the hour never 9)."""
    slo = SloConfig(name="api", checks="api", objective=0.99)
    seed(store, range(0, HISTORY))
    changes = timeline(store, slo, range(HISTORY, HISTORY + 2160), HISTORY + 2160,
                       leak_every=50)
    assert changes == {"ticket": [HISTORY + 43 * 50]}


def test_a_seven_day_slo_pages_on_its_scaled_windows(store: Store) -> None:
    """A 7-day SLO's page-fast pair spans 14 min and 70 s: 3 failures in 14 results burn
    21x > 14.4x (2 burn 14.3x); it resolves with the first OK probe, the only one a 70 s
    window evaluated 30 s into a minute holds."""
    slo = SloConfig(name="api", checks="api", objective=0.99, window="7d")
    seed(store, range(0, 1440))
    changes = timeline(store, slo, range(1440, 1450), 1470)
    assert changes["page-fast"] == [1442, 1450]


# --- hourly counts ------------------------------------------------------------------------------


def test_a_changed_definition_recounts_from_the_raw_results_kept(store: Store) -> None:
    """Hourly counts serve a window once the raw results are gone, under the definition that
    counted them; a new threshold counts anew, from what raw results remain."""
    now = at(2 * 1440)  # on the hour: the window is whole hours
    seed(store, range(0, 1440), value=0.5)  # day 1: every probe OK at 0.5 s
    seed(store, range(1440, 2 * 1440), value=2.0)  # day 2: OK but slow
    plain = SloConfig(name="api", checks="api", objective=0.99, window="2d")
    [before] = evaluate(store, [plain], now)
    assert (before.good, before.total) == (2880, 2880)
    store.conn.execute("DELETE FROM results WHERE started_at < ?", [at(1440)])  # pruned
    [after] = evaluate(store, [plain], now)
    assert (after.good, after.total) == (2880, 2880)  # day 1 from slo_hourly
    fast = plain.model_copy(update={"threshold": 1.0})
    assert definition_of(fast) != definition_of(plain)
    [latency] = evaluate(store, [fast], now)
    assert (latency.good, latency.total) == (0, 1440)  # only day 2 is left to count
    assert latency.attainment == 0.0 and latency.budget_remaining == pytest.approx(-99.0)


def test_what_counts_as_good(store: Store) -> None:
    """Without a threshold only OK is good; with one, OK or WARNING under it; SKIPPED never
    counts; the target filter and the check glob select the series; the SLO check's own
    results never count."""
    results = [
        Result(Status.OK, value=0.3, check="notion.latency", kind="notion.latency",
               target="tasks", started_at=at(1)),
        Result(Status.WARNING, value=0.7, check="notion.latency", kind="notion.latency",
               target="tasks", started_at=at(2)),
        Result(Status.WARNING, value=1.5, check="notion.latency", kind="notion.latency",
               target="tasks", started_at=at(3)),
        Result(Status.UNKNOWN, check="notion.latency", kind="notion.latency", target="tasks",
               started_at=at(4)),
        Result(Status.SKIPPED, check="notion.latency", kind="notion.latency", target="tasks",
               started_at=at(5)),
        Result(Status.CRITICAL, value=0.1, check="notion.latency", kind="notion.latency",
               target="docs", started_at=at(6)),
        Result(Status.CRITICAL, check="slo.burn_rate", kind="slo.burn_rate", target="x",
               started_at=at(7)),
    ]
    record_run(store, "realtime", results, started_at=at(1), finished_at=at(8))
    now = at(10)

    def tally(**keys: object) -> tuple[int, int]:
        [found] = evaluate(store, [SloConfig(name="s", objective=0.9, **keys)], now)
        return found.good, found.total

    assert tally(checks="notion.*", target="tasks") == (1, 4)
    assert tally(checks="notion.*", target="tasks", threshold=1.0) == (2, 4)
    assert tally(checks="notion.latency") == (1, 5)
    assert tally(checks="*") == (1, 5)
    assert tally(checks="Notion.*") == (0, 0)


# --- the check kind and the configuration -------------------------------------------------------


def run_slo_check(store: Store, settings: Settings, now: float) -> list[Result]:
    playbook = parse_playbook({"name": "realtime", "checks": [{"kind": "slo.burn_rate"}]},
                              Path("t.toml"))
    return asyncio.run(Runner(settings, store, clock=lambda: now).run(playbook)).results


def test_the_check_kind_through_the_runner(store: Store) -> None:
    seed(store, range(0, HISTORY))
    seed(store, range(HISTORY, HISTORY + 30), Status.CRITICAL)
    seed(store, range(0, HISTORY + 30), check="web")
    settings = Settings(slos=[
        {"name": "api", "checks": "api", "objective": 0.99},
        {"name": "web", "checks": "web", "objective": 0.999},
    ])
    api, web = run_slo_check(store, settings, at(HISTORY + 29) + 30)
    assert (api.check, api.kind, api.target, api.status) == (
        "slo.burn_rate", "slo.burn_rate", "api", Status.CRITICAL)
    assert api.details["firing"] == ["page-fast", "page-slow"]
    assert api.value == pytest.approx(100.0)  # every result of the 5 min window failed
    assert api.summary.startswith("api: page-fast burn rate 50.0x over 1h and 100.0x over 5m")
    assert api.details["burn_rates"]["3d"] == pytest.approx(30 / 4320 / 0.01)
    assert api.details["hint"]
    assert (web.status, web.value, web.details["firing"]) == (Status.OK, 0.0, [])
    assert web.summary == "web: 100.0% of the error budget left"
    [none] = run_slo_check(store, Settings(), at(HISTORY + 30))
    assert (none.status, none.summary) == (Status.SKIPPED, "no [[slos]] configured")


@pytest.mark.parametrize(("slo", "message"), [
    ({"checks": "api", "objective": 0.99}, "name"),
    ({"name": "a", "checks": "api", "objective": 1.0}, "objective"),
    ({"name": "a", "checks": "api", "objective": 0}, "objective"),
    ({"name": "a", "checks": "api", "objective": 0.9, "threshold": -1}, "threshold"),
    ({"name": "a", "checks": "api", "objective": 0.9, "window": "10m"}, "window"),
    ({"name": "a", "checks": "api", "objective": 0.9, "windw": "7d"}, "windw"),
])
def test_bad_slos_name_the_key(slo: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(slos=[slo])


def test_slo_names_are_unique() -> None:
    with pytest.raises(ValidationError, match="duplicate name 'a'"):
        Settings(slos=[{"name": "a", "checks": "x", "objective": 0.9}] * 2)


# --- gauges -------------------------------------------------------------------------------------


def sample(name: str, **labels: str) -> float | None:
    from opsd.metrics import REGISTRY

    return REGISTRY.get_sample_value(name, labels)


def test_gauges_follow_the_check_and_drop_a_removed_slo(store: Store) -> None:
    from opsd.reports import slo_metrics
    from opsd.results import RunReport

    seed(store, range(0, 120))
    seed(store, range(120, 130), Status.CRITICAL)
    settings = Settings(slos=[{"name": "api", "checks": "api", "objective": 0.99},
                              {"name": "none", "checks": "nothing", "objective": 0.9}])
    now = at(129) + 30
    results = run_slo_check(store, settings, now)
    try:
        slo_metrics.observe_run(RunReport("realtime", "t", now, now, results))
        assert sample("opsd_slo_objective_ratio", slo="api") == 0.99
        assert sample("opsd_slo_attainment_ratio", slo="api") == pytest.approx(120 / 130)
        assert sample("opsd_slo_error_budget_remaining_ratio", slo="api") == pytest.approx(
            1 - (10 / 130) / 0.01)
        assert sample("opsd_slo_burn_rate", slo="api", window="5m") == pytest.approx(100.0)
        assert sample("opsd_slo_burn_rate", slo="api", window="3d") == pytest.approx(
            10 / 130 / 0.01)
        # An SLO without results: its objective, no attainment, no burn rates.
        assert sample("opsd_slo_objective_ratio", slo="none") == 0.9
        assert sample("opsd_slo_attainment_ratio", slo="none") is None
        assert sample("opsd_slo_burn_rate", slo="none", window="5m") is None
        # The next run after a reload that removed "api" no longer reports it.
        later = run_slo_check(store, Settings(slos=settings.slos[1:]), now + 60)
        slo_metrics.observe(later)
        assert sample("opsd_slo_objective_ratio", slo="api") is None
        assert sample("opsd_slo_burn_rate", slo="api", window="5m") is None
        assert sample("opsd_slo_objective_ratio", slo="none") == 0.9
        # No [[slos]] any more: the SKIPPED result removes every series.
        slo_metrics.observe(run_slo_check(store, Settings(), now + 120))
        assert sample("opsd_slo_objective_ratio", slo="none") is None
    finally:
        slo_metrics.keep_only(set())


def test_config_check_warns_when_no_playbook_runs_the_alerts() -> None:
    from opsd.config.slos import unalerted_warnings

    slos = Settings(slos=[{"name": "a", "checks": "x", "objective": 0.9}]).slos
    with_kind = parse_playbook({"name": "realtime", "checks": [{"kind": "slo.burn_rate"}]},
                               Path("t.toml"))
    without = parse_playbook({"name": "daily", "checks": [{"kind": "history.trend"}]},
                             Path("d.toml"))
    assert unalerted_warnings(slos, [with_kind, without], "opsd.toml") == []
    assert unalerted_warnings([], [without], "opsd.toml") == []
    assert unalerted_warnings(slos, [without], "opsd.toml") == [
        "opsd.toml: slos: 1 configured, but no playbook runs slo.burn_rate: their burn-rate "
        "alerts never fire (the built-in realtime playbook runs it)"]


def test_the_example_configs_slos_are_valid() -> None:
    """config.example.toml's commented [[slos]] block, uncommented, is a valid configuration
    naming checks of the built-in realtime playbook."""
    import tomllib

    text = (Path(__file__).resolve().parent.parent / "config.example.toml").read_text()
    block = text[text.index("# --- SLOs and burn-rate alerts"):]
    keys = {"[[slos]]", "name", "checks", "objective", "threshold", "window"}
    lines = [line.removeprefix("# ") for line in block.splitlines()]
    tables = "\n".join(line for line in lines if line.split("=")[0].strip() in keys)
    slos = Settings(slos=tomllib.loads(tables)["slos"]).slos
    assert [(s.name, s.checks, s.objective, s.threshold) for s in slos] == [
        ("notion-availability", "notion.auth", 0.999, None),
        ("notion-query-latency", "notion.latency", 0.99, 1.0),
        ("endpoint-uptime", "http.endpoint", 0.999, None),
    ]
