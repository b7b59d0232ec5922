"""The runner: thresholds, failures become results, timeouts, concurrency, one recorded run."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsd.checks.base import Params, check
from opsd.config import Settings
from opsd.errors import CheckError
from opsd.playbooks import parse_playbook
from opsd.results import Result, Status
from opsd.runner import Runner
from opsd.store import Store
from opsd.store.runs import history, last_runs


class ValueParams(Params):
    value: float = 0.0
    delay: float = 0.0


@check("test.value", params=ValueParams, unit="seconds", warn=1.0, crit=2.0)
async def value_check(spec, ctx) -> Result:
    await asyncio.sleep(spec.params.delay)
    return Result(Status.OK, "measured", value=spec.params.value)


@check("test.raises")
async def raises(spec, ctx) -> Result:
    raise RuntimeError("database exploded")


@check("test.check_error")
async def check_error(spec, ctx) -> Result:
    raise CheckError("token invalid or revoked", status="CRITICAL", details={"hint": "rotate"})


@check("test.hangs")
async def hangs(spec, ctx) -> Result:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


@check("test.leaks")
async def leaks(spec, ctx) -> Result:
    token = ctx.settings.notion.token.get_secret_value()
    return Result(Status.OK, f"used {token}", details={"header": f"Bearer {token}"})


@check("test.targets")
async def targets(spec, ctx) -> list[Result]:
    return [Result(Status.OK, "a", target="a", value=0.5),
            Result(Status.OK, "b", target="b", value=3.0)]


def playbook(*entries: dict, name: str = "p"):
    return parse_playbook({"name": name, "checks": list(entries)}, Path(f"{name}.toml"))


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[Runner]:
    settings = Settings(notion={"token": "ntn_canary0123456789abcdefghijklmnopqrstuv"})
    with contextlib.closing(Store.open(tmp_path / "opsd.db")) as store:
        yield Runner(settings, store, clock=lambda: 1_000_000.0)


def run(runner: Runner, *entries: dict):
    return asyncio.run(runner.run(playbook(*entries)))


@pytest.mark.parametrize(
    ("value", "expected", "summary"),
    [(0.5, Status.OK, "measured"), (1.5, Status.WARNING, "slow: 1.50 s ≥ 1 s (warning) — measured"),
     (2.0, Status.CRITICAL, "slow: 2.00 s ≥ 2 s (critical) — measured")],
)
def test_default_thresholds(runner: Runner, value: float, expected: Status, summary: str) -> None:
    report = run(runner, {"kind": "test.value", "value": value})
    (result,) = report.results
    assert (result.status, result.summary) == (expected, summary)
    assert result.details["thresholds"] == {"warn": 1.0, "crit": 2.0, "direction": "above"}
    assert report.exit_code == expected.exit_code


def test_entry_thresholds_override(runner: Runner) -> None:
    report = run(runner, {"kind": "test.value", "value": 0.5, "warn": 0.4, "crit": 10})
    assert report.results[0].status is Status.WARNING
    below = run(runner, {"kind": "test.value", "value": 0.5, "warn": 0.8, "crit": 0.6,
                         "direction": "below"})
    assert below.results[0].status is Status.CRITICAL


def test_raising_check_becomes_unknown(runner: Runner) -> None:
    (result,) = run(runner, {"kind": "test.raises"}).results
    assert result.status is Status.UNKNOWN
    assert result.summary == "check failed: RuntimeError: database exploded"


def test_check_error_keeps_status_and_details(runner: Runner) -> None:
    (result,) = run(runner, {"kind": "test.check_error"}).results
    assert (result.status, result.summary) == (Status.CRITICAL, "token invalid or revoked")
    assert result.details == {"hint": "rotate"}


def test_hanging_check_is_critical_at_its_timeout(runner: Runner) -> None:
    # The check never returns: only its timeout can end it, however long the machine takes.
    report = run(runner, {"kind": "test.hangs", "timeout": 0.05},
                 {"kind": "test.value", "value": 0.1})
    hung, other = report.results
    assert (hung.status, hung.summary) == (Status.CRITICAL, "timed out after 0.05s")
    assert hung.duration > 0  # the time it hung is recorded
    assert other.status is Status.OK  # the other check still ran and was recorded
    assert len(history(runner.store, check="test.value")) == 1


def test_checks_run_concurrently_but_bounded(runner: Runner) -> None:
    runner.settings.scheduler.max_concurrency = 2
    active = peak = 0

    @check("test.concurrency")
    async def concurrency(spec, ctx) -> Result:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0)  # let every other entry start that can
        active -= 1
        return Result(Status.OK, "done")

    entries = [{"kind": "test.concurrency", "name": f"c{i}"} for i in range(6)]
    report = run(runner, *entries)
    assert [r.check for r in report.results] == [f"c{i}" for i in range(6)]  # entry order kept
    assert peak == 2


def test_secrets_are_redacted_from_results(runner: Runner) -> None:
    (result,) = run(runner, {"kind": "test.leaks"}).results
    assert "canary" not in result.summary and "canary" not in str(result.details)
    assert result.summary.startswith("used ntn_…")
    row = runner.store.conn.execute("SELECT summary || details FROM results").fetchone()[0]
    assert "canary" not in row


def test_multiple_targets_each_judged(runner: Runner) -> None:
    report = run(runner, {"kind": "test.targets", "warn": 1, "crit": 5})
    assert [(r.target, r.status) for r in report.results] == [
        ("a", Status.OK), ("b", Status.WARNING)]
    assert report.status is Status.WARNING


def test_run_recorded_and_observers_called(runner: Runner) -> None:
    seen = []
    runner.observers.append(lambda report, pb: seen.append((report.run_id, pb.name)))

    async def async_observer(report, pb) -> None:
        seen.append(("async", report.status))

    runner.observers.append(async_observer)
    report = run(runner, {"kind": "test.value", "value": 3})
    assert seen == [(report.run_id, "p"), ("async", Status.CRITICAL)]
    assert last_runs(runner.store)["p"]["status"] == "CRITICAL"


def test_report_json_shape(runner: Runner) -> None:
    data = run(runner, {"kind": "test.value", "value": 0.2}).to_dict()
    assert {"playbook", "status", "started_at", "results"} <= set(data)
    assert set(data["results"][0]) >= {
        "check", "kind", "target", "status", "value", "unit", "summary", "details",
        "duration_seconds",
    }


def test_disk_check_judges_the_history_disk(runner: Runner, monkeypatch) -> None:
    import shutil
    from collections import namedtuple

    Usage = namedtuple("Usage", "total used free")
    mib = 2**20
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(100 * mib, 95 * mib, 5 * mib))
    (result,) = run(runner, {"kind": "maintenance.disk"}).results
    assert (result.status, result.value) == (Status.CRITICAL, 0.95)
    assert result.summary.startswith("high: 95.0% ≥ 90% (critical) — 95% of the disk holding ")
    assert "(5 MiB free)" in result.summary
