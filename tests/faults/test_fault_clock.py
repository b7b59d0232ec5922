"""Wall-clock steps on an in-process daemon, the wall clock frozen (freezegun, ticking: the
daemon, APScheduler and the store all read it) and moved, the monotonic clock real: the
machine's clock is never touched. A step of more than a minute either way is logged in one
line and every playbook's next run is recomputed from the new wall time; /healthz stays ok."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import time
from collections.abc import Callable

import pytest
from freezegun import freeze_time

from opsd.config import load_settings
from opsd.daemon.service import Daemon

pytestmark = pytest.mark.slow  # the daemon listens on a port

HANG = 60.0
REAL_MONOTONIC = time.monotonic  # taken before any freezing: the clock steps do not move it
MINUTELY = 'name = "minutely"\nevery = "1m"\n\n[[checks]]\nkind = "history.trend"\n'


async def until(predicate: Callable[[], object], what: str) -> None:
    deadline = REAL_MONOTONIC() + HANG
    while not predicate():
        if REAL_MONOTONIC() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def test_a_clock_step_is_logged_and_the_schedule_follows_the_new_time(make_config, tmp_path):
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "minutely.toml").write_text(MINUTELY)
    config = make_config(scheduler={"playbooks_dir": str(playbooks)}, metrics={"port": 0})
    log = io.StringIO()
    daemon = Daemon(load_settings(config, env={}), env={}, clock=lambda: time.time(),
                    monotonic=REAL_MONOTONIC, log_stream=log)

    def next_run() -> float:
        assert daemon.scheduler is not None
        return daemon.scheduler.next_runs()["minutely"].timestamp()

    async def scenario(wall) -> None:  # type: ignore[no-untyped-def]
        running = asyncio.create_task(daemon.run())
        try:
            await until(lambda: "msg=started" in log.getvalue(), "the daemon to start")
            await until(lambda: "msg=\"playbook finished\"" in log.getvalue(), "the catch-up")
            before = next_run()

            wall.move_to(dt.datetime.fromtimestamp(time.time() - 1800, dt.UTC))
            await until(lambda: "clock stepped backwards by 30m; schedule recomputed"
                        in log.getvalue(), "the backwards step")
            after = next_run()
            # A minute from the new wall time, not 30 minutes of nothing.
            assert after < before - 1700
            assert after <= daemon.clock() + 60
            assert daemon.health() == (True, "ok")

            wall.move_to(dt.datetime.fromtimestamp(time.time() + 3600, dt.UTC))
            await until(lambda: "clock stepped forwards by 1h; schedule recomputed"
                        in log.getvalue(), "the forwards step")
            assert next_run() > after + 3000
            assert daemon.health() == (True, "ok")
            assert log.getvalue().count("clock stepped") == 2  # one line each
        finally:
            daemon.request_stop()
            await running

    with freeze_time("2026-03-01 12:00:00", tick=True, real_asyncio=True) as wall:
        asyncio.run(scenario(wall))
