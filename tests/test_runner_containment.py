"""Failures stay contained: an observer that raises does not stop the others, a check that
raises is UNKNOWN with its traceback logged once at debug level, a check returning something
that is not a Result is UNKNOWN, and a store that cannot record still lets metrics and alerts
see the run."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from opsd.checks.base import check
from opsd.config import Settings
from opsd.playbooks import parse_playbook
from opsd.results import Result, RunReport, Status
from opsd.runner import Runner
from opsd.store import Store


@check("containment.raises")
async def raises(spec, ctx) -> Result:
    raise ValueError("exploded inside the check")


@check("containment.garbage")
async def garbage(spec, ctx) -> Result:
    return "not a result"  # type: ignore[return-value]


@check("containment.ok")
async def fine(spec, ctx) -> Result:
    return Result(Status.OK, "fine")


def playbook(*kinds: str):
    entries = [{"name": kind, "kind": kind} for kind in kinds]
    return parse_playbook({"name": "p", "checks": entries}, Path("p.toml"))


def runner(tmp_path: Path, observers) -> Runner:
    settings = Settings(storage={"path": str(tmp_path / "opsd.db")})
    return Runner(settings, Store.open(settings.storage.path), observers=observers)


def test_a_raising_observer_does_not_stop_the_next_one(tmp_path, caplog) -> None:
    seen: list[str] = []

    def alerting(report: RunReport, _playbook) -> None:
        raise RuntimeError("alert engine down")

    async def metrics(report: RunReport, _playbook) -> None:
        seen.append(report.status.value)

    with caplog.at_level(logging.ERROR, logger="opsd.runner"):
        report = asyncio.run(runner(tmp_path, [alerting, metrics]).run(playbook("containment.ok")))
    assert report.status is Status.OK
    assert seen == ["OK"]
    [record] = [r for r in caplog.records if r.name == "opsd.runner"]
    assert "alerting" in record.getMessage() and record.exc_info is not None


def test_a_raising_check_is_unknown_and_logged_once_at_debug(tmp_path, caplog) -> None:
    with caplog.at_level(logging.DEBUG, logger="opsd.runner"):
        report = asyncio.run(runner(tmp_path, []).run(
            playbook("containment.raises", "containment.garbage", "containment.ok")
        ))
    by_check = {r.check: r for r in report.results}
    assert by_check["containment.raises"].status is Status.UNKNOWN
    assert by_check["containment.raises"].summary == (
        "check failed: ValueError: exploded inside the check"
    )
    assert by_check["containment.garbage"].status is Status.UNKNOWN
    assert by_check["containment.ok"].status is Status.OK
    tracebacks = [
        r for r in caplog.records if r.exc_info and "containment.raises" in r.getMessage()
    ]
    assert len(tracebacks) == 1 and tracebacks[0].levelno == logging.DEBUG


def test_a_store_that_cannot_record_still_feeds_the_observers(tmp_path, caplog) -> None:
    seen: list[int | None] = []
    run = runner(tmp_path, [lambda report, _: seen.append(report.run_id)])
    run.store.close()  # every write now fails
    with caplog.at_level(logging.ERROR, logger="opsd.runner"):
        report = asyncio.run(run.run(playbook("containment.ok")))
    assert report.status is Status.OK and seen == [None]
    assert any("recording the p run failed" in r.getMessage() for r in caplog.records)
