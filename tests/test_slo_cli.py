"""`opsd slo` over a seeded store, `opsd config check`'s warning, and the SLO gauges of a
running daemon: restored at its start from the stored results, dropped by a reload."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import httpx
import pytest

from opsd.results import Result, Status
from opsd.store import Store
from opsd.store.runs import record_run
from tests.test_daemon import HANG, runs, setup, wait_until  # noqa: F401 (setup is a fixture)

pytestmark = pytest.mark.slow

SLOS = [{"name": "api", "checks": "api", "objective": 0.99},
        {"name": "web", "checks": "web*", "objective": 0.999, "window": "7d"}]


def seed_recent(db: Path, *, failing_minutes: int) -> None:
    """Three days of one probe a minute for `api` and `web` up to half a minute ago (real
    time: the command reads the clock), the last `failing_minutes` of `api` CRITICAL."""
    now = time.time()
    store = Store.open(db)
    for check in ("api", "web"):
        results = [
            Result(Status.CRITICAL if check == "api" and k < failing_minutes else Status.OK,
                   "probe", check=check, kind="http.endpoint", started_at=now - 30 - 60 * k)
            for k in range(3 * 1440)
        ]
        record_run(store, "realtime", results, started_at=now - 3 * 86400, finished_at=now)
    store.close()


def test_slo_json_and_table_on_a_seeded_store(opsd_cli, make_config, tmp_path: Path) -> None:
    config = make_config(slos=SLOS)
    seed_recent(tmp_path / "opsd.db", failing_minutes=30)
    done = opsd_cli("--config", str(config), "slo", "--json")
    assert done.code == 2, done.err  # a page alert fires
    api, web = json.loads(done.out)["slos"]
    assert (api["name"], api["objective"], api["window"]) == ("api", 0.99, 30 * 86400.0)
    assert (api["good"], api["total"]) == (4290, 4320)
    assert api["attainment"] == pytest.approx(4290 / 4320)
    assert api["firing"] == ["page-fast", "page-slow"] and api["severity"] == "page"
    assert api["burn_rates"]["5m"] == pytest.approx(100.0)
    assert api["burn_rates"]["1h"] == pytest.approx(50.0)
    assert set(api["burn_rates"]) == {"5m", "30m", "1h", "6h", "3d"}
    assert (web["firing"], web["attainment"], web["budget_remaining"]) == ([], 1.0, 1.0)
    assert set(web["burn_rates"]) == {"70s", "7m", "14m", "1h24m", "16h48m"}  # 7d: scaled

    table = opsd_cli("--config", str(config), "slo")
    assert table.code == 2, table.err
    header, first, second = table.out.splitlines()
    assert header.split()[:4] == ["SLO", "OBJECTIVE", "WINDOW", "ATTAINMENT"]
    assert first.split()[:6] == ["api", "99%", "30d", "99.306%", "30.556%",
                                 "page-fast,page-slow"]
    assert second.split()[:6] == ["web", "99.9%", "7d", "100%", "100%", "-"]


def test_slo_exit_codes_ticket_and_none(opsd_cli, make_config, tmp_path: Path) -> None:
    config = make_config(slos=SLOS[:1])
    # 60 failures 7 hours ago... would still page on 6 h; a failure every 50 minutes over the
    # 3 days burns 2x: the ticket alone.
    now = time.time()
    store = Store.open(tmp_path / "opsd.db")
    record_run(store, "realtime", [
        Result(Status.CRITICAL if k % 50 == 0 else Status.OK, "probe", check="api",
               kind="http.endpoint", started_at=now - 30 - 60 * k) for k in range(3 * 1440)
    ], started_at=now - 3 * 86400, finished_at=now)
    store.close()
    done = opsd_cli("--config", str(config), "slo", "--json")
    assert (done.code, json.loads(done.out)["slos"][0]["firing"]) == (1, ["ticket"]), done.err
    bare = make_config()
    none = opsd_cli("--config", str(bare), "slo")
    assert none.code == 3
    assert none.err.strip().splitlines() == [
        "opsd: opsd.toml: slos: none configured (add [[slos]] entries; see "
        "config.example.toml)"]


def test_config_check_warns_without_the_burn_rate_entry(opsd_cli, make_config,
                                                         tmp_path: Path) -> None:
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "daily.toml").write_text(
        'name = "daily"\nschedule = "0 9 * * *"\n\n[[checks]]\nkind = "history.trend"\n')
    config = make_config(slos=SLOS, scheduler={"playbooks_dir": str(playbooks)})
    done = opsd_cli("--config", str(config), "config", "check")
    assert done.code == 0, done.err
    assert "slos: 2 configured, but no playbook runs slo.burn_rate" in done.out
    assert done.out.splitlines()[-1] == "ok"


def test_daemon_gauges_restored_at_start_and_dropped_on_reload(
        setup, make_config, opsd_cli, tmp_path: Path) -> None:  # noqa: F811
    playbooks = tmp_path / "playbooks"
    (playbooks / "fast.toml").write_text(
        'name = "fast"\nschedule = "0 3 1 1 *"\n\n[[checks]]\nkind = "slo.burn_rate"\n')
    db = tmp_path / "opsd.db"
    seed_recent(db, failing_minutes=30)
    # One stored run of the SLO check; the daemon, whose playbook runs once a year, publishes
    # its results at the start without running it.
    config = make_config(slos=SLOS, scheduler={"playbooks_dir": str(playbooks)})
    ran = opsd_cli("--config", str(config), "run-playbook", "fast")
    assert ran.code == 2, ran.out + ran.err
    assert len(runs(db)) == 1

    daemon, notify = setup(slos=SLOS)
    notify.wait_for("READY=1")
    url = daemon.metrics_url()
    api_5m = 'opsd_slo_burn_rate{slo="api",window="5m",workspace="opsd"} 100.0'
    body = httpx.get(f"{url}/metrics", timeout=HANG).text
    assert api_5m in body, [line for line in body.splitlines() if "opsd_slo" in line]
    assert 'opsd_slo_objective_ratio{slo="web",workspace="opsd"} 0.999' in body
    assert len(runs(db)) == 1  # restored, not run

    config.write_text(config.read_text().replace('name = "web"', 'name = "www"'))
    daemon.signal(signal.SIGHUP)

    def reloaded() -> str | None:
        text = httpx.get(f"{url}/metrics", timeout=HANG).text
        return text if 'slo="web"' not in text else None

    body = str(wait_until(reloaded, what="the web SLO's series gone after the reload"))
    assert api_5m in body
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0
