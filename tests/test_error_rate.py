"""app.error_rate through the real runner: a changing Prometheus exposition (with a restart),
a JSON endpoint, a SQLite file the app writes; thresholds from the seeds (1 % / 5 %)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pytest
from test_sources_support import Clock, Route, run_entry

from opsd.checks.app import judge_error_rate
from opsd.config import load_settings
from opsd.counters import Interval
from opsd.errors import ConfigError
from opsd.results import Result, Status

START = 1_800_000_000.0

EXPOSITION = """\
# TYPE http_requests_total counter
http_requests_total{{code="200"}} {ok}
http_requests_total{{code="500"}} {failed}
# TYPE process_start_time_seconds gauge
process_start_time_seconds {started}
"""


def error_rates(config: Path, clock: Clock) -> dict[str, Result]:
    return {r.target: r for r in run_entry(config, "daily", "app.error_rate", clock).results}


def test_prometheus_error_rate_over_intervals_and_a_restart(make_config, http_server) -> None:
    server = http_server()
    config = make_config(apps=[{
        "name": "integration", "source": "prometheus+" + server.url("/metrics"),
        "errors": 'http_requests_total{code="500"}', "requests": "http_requests_total",
    }])
    clock = Clock(START)
    seen = []
    # (ok, failed, process start): lifetime 0.5 %, then 4 % over the day, then 10 %, then a
    # restart whose new counters are already above the old ones.
    for ok, failed, started in [(995, 5, 1), (1955, 45, 1), (2135, 65, 1), (4000, 9000, 2)]:
        server.routes["/metrics"] = Route(EXPOSITION.format(ok=ok, failed=failed,
                                                            started=started))
        seen.append(error_rates(config, clock)["integration"])
        clock.advance(86400)
    assert [round(r.value or -1, 4) for r in seen] == [0.005, 0.04, 0.1, round(9000 / 13000, 4)]
    assert [r.status for r in seen] == [
        Status.OK, Status.WARNING, Status.CRITICAL, Status.CRITICAL,
    ]
    # A threshold made it WARNING: the crossing leads, the check's own words follow.
    assert seen[1].summary.startswith(
        "high: 4.0% ≥ 1% (warning) — 4.00% errors over the last 1d (40 of 1000 requests)")
    assert [r.details["counter_reset"] for r in seen] == [False, False, False, True]


def test_json_endpoint_and_sqlite_file(make_config, tmp_path: Path, http_server) -> None:
    db = tmp_path / "app.db"
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("CREATE TABLE stats (errors INTEGER, requests INTEGER)")
        conn.execute("INSERT INTO stats VALUES (2, 400)")
    server = http_server()
    server.routes["/stats"] = Route(json.dumps({"http": {"errors": 30, "total": 600}}))
    config = make_config(apps=[
        {"name": "api", "source": "json+" + server.url("/stats"), "errors": "http.errors",
         "requests": "http.total"},
        {"name": "worker", "source": f"sqlite://{db}", "query": "SELECT * FROM stats",
         "errors": "errors", "requests": "requests"},
        {"name": "quiet", "source": "json+" + server.url("/stats"), "errors": "http.errors",
         "requests": "http.total", "min_requests": 1000},
    ])
    results = error_rates(config, Clock(START))
    assert (results["api"].value, results["api"].status) == (0.05, Status.CRITICAL)
    assert (results["worker"].value, results["worker"].status) == (0.005, Status.OK)
    assert results["quiet"].status is Status.OK and results["quiet"].value is None
    assert results["quiet"].summary.startswith("not enough traffic to judge: 600 requests")


def test_no_apps_is_skipped(make_config) -> None:
    [result] = run_entry(make_config(), "daily", "app.error_rate", Clock(START)).results
    assert (result.status, result.summary) == (
        Status.SKIPPED, "no apps configured ([[apps]] in the config file)",
    )


def test_more_errors_than_requests_never_exceeds_one() -> None:
    result = judge_error_rate(Interval({"errors": 12, "requests": 10}, 60.0), 1, {})
    assert result.value == 1.0


def test_config_check_names_the_bad_key(make_config, opsd_cli) -> None:
    config = make_config(apps=[{"name": "a", "source": "json+http://127.0.0.1:1/s",
                                "errors": "e", "requests": "r..x"}])
    done = opsd_cli("--config", str(config), "config", "check")
    assert done.code == 3
    assert done.out.strip() == (
        "opsd.toml: apps[0]: requests: not a JSON path: 'r..x' (e.g. stats.hits or items[0].hits)"
    )
    assert "Traceback" not in done.err


@pytest.mark.parametrize("missing", ["errors", "requests"])
def test_both_counters_are_required(tmp_path: Path, missing: str) -> None:
    keys = {"errors": '"e"', "requests": '"r"'}
    del keys[missing]
    path = tmp_path / "opsd.toml"
    path.write_text('[[apps]]\nname = "a"\nsource = "json+http://127.0.0.1:1/s"\n'
                    + "".join(f"{k} = {v}\n" for k, v in keys.items()))
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert caught.value.problems == [f"opsd.toml: apps[0].{missing}: required key is missing"]
