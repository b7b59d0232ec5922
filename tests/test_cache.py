"""cache.hit_rate and cache.ttl_review through the real runner and CLI: a real redis-server
with real GETs, a changing Prometheus exposition, counter resets, a month of stored samples."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_sources_support import Clock, RedisServer, Route, run_entry

from opsd.errors import PlaybookError
from opsd.results import Result, Status
from opsd.store import Store
from opsd.store.runs import record_run

START = 1_800_000_000.0
DAY = 86400.0


def hit_rates(config: Path, clock: Clock) -> dict[str, Result]:
    report = run_entry(config, "realtime", "cache.hit_rate", clock)
    return {r.target: r for r in report.results}


def test_redis_first_sample_then_interval_then_restart(redis_server: RedisServer, make_config):
    config = make_config(caches=[{"name": "redis", "source": redis_server.url, "min_lookups": 10}])
    clock = Clock(START)

    redis_server.lookups(hits=30, misses=10)
    first = hit_rates(config, clock)["redis"]
    assert first.value == pytest.approx(0.75, abs=0.01)
    assert first.status is Status.WARNING  # 60 % < 75 % <= 80 %
    assert first.details["first_sample"] is True
    assert "since the counters started (30 hits, 10 misses)" in first.summary

    clock.advance(60)
    redis_server.lookups(hits=10, misses=30)
    second = hit_rates(config, clock)["redis"]
    assert second.value == pytest.approx(0.25, abs=0.01)  # the interval, not the lifetime 50 %
    assert second.status is Status.CRITICAL
    assert second.details["interval_seconds"] == 60 and second.details["lookups"] == 40

    clock.advance(60)
    redis_server.restart()  # counters back to zero, new run_id
    redis_server.lookups(hits=18, misses=2)
    third = hit_rates(config, clock)["redis"]
    assert third.details["counter_reset"] is True
    assert third.value is not None and 0.0 <= third.value <= 1.0
    assert third.value == pytest.approx(0.9, abs=0.01)
    assert third.status is Status.OK


def test_quiet_periods_add_up_until_judged(redis_server: RedisServer, make_config) -> None:
    config = make_config(caches=[{"name": "redis", "source": redis_server.url, "min_lookups": 50}])
    clock = Clock(START)
    redis_server.lookups(hits=20, misses=0)
    quiet = hit_rates(config, clock)["redis"]
    assert quiet.status is Status.OK and quiet.value is None
    assert quiet.summary == (
        "not enough traffic to judge: 20 lookups since the counters started (minimum 50)"
    )
    clock.advance(60)
    redis_server.lookups(hits=10, misses=30)
    busy = hit_rates(config, clock)["redis"]
    assert busy.value == pytest.approx(30 / 60, abs=0.01)
    assert busy.status is Status.CRITICAL


EXPOSITION = """\
# TYPE app_cache_hits_total counter
app_cache_hits_total{{cache="notion"}} {hits}
# TYPE app_cache_misses_total counter
app_cache_misses_total{{cache="notion"}} {misses}
"""


def test_prometheus_cache_with_changing_exposition_and_reset(make_config, http_server) -> None:
    server = http_server()
    config = make_config(caches=[{
        "name": "app", "source": "prometheus+" + server.url("/metrics"), "min_lookups": 10,
        "hits": 'app_cache_hits_total{cache="notion"}',
        "misses": 'app_cache_misses_total{cache="notion"}',
    }])
    clock = Clock(START)
    values = []
    for hits, misses in [(800, 200), (900, 300), (5, 45), (95, 55)]:
        server.routes["/metrics"] = Route(EXPOSITION.format(hits=hits, misses=misses))
        values.append(hit_rates(config, clock)["app"])
        clock.advance(60)
    assert [round(r.value or -1, 3) for r in values] == [0.8, 0.5, 0.1, 0.9]
    assert [r.details["counter_reset"] for r in values] == [False, False, True, False]
    assert [r.status for r in values] == [
        Status.WARNING, Status.CRITICAL, Status.CRITICAL, Status.OK,
    ]


def test_ready_made_ratio_and_an_unreadable_cache_beside_a_good_one(
    make_config, http_server
) -> None:
    server = http_server()
    server.routes["/stats"] = Route('{"cache": {"hit_ratio": 0.92}}')
    server.routes["/percent"] = Route('{"cache": {"hit_ratio": 92}}')
    config = make_config(caches=[
        {"name": "good", "source": "json+" + server.url("/stats"), "ratio": "cache.hit_ratio"},
        {"name": "percent", "source": "json+" + server.url("/percent"),
         "ratio": "cache.hit_ratio"},
        {"name": "gone", "source": "json+" + server.url("/missing"), "ratio": "x"},
    ])
    results = hit_rates(config, Clock(START))
    assert results["good"].value == pytest.approx(0.92) and results["good"].status is Status.OK
    assert results["percent"].status is Status.UNKNOWN
    assert "cache.hit_ratio is 92, not a ratio 0..1 (a percentage?)" in results["percent"].summary
    assert results["gone"].status is Status.UNKNOWN
    assert results["gone"].summary.endswith("/missing: HTTP 404 Not Found")


def test_no_caches_is_skipped_and_an_unknown_target_is_a_load_error(make_config, tmp_path: Path):
    report = run_entry(make_config(), "realtime", "cache.hit_rate", Clock(START))
    assert [(r.status, r.summary) for r in report.results] == [
        (Status.SKIPPED, "no caches configured ([[caches]] in the config file)"),
    ]
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "one.toml").write_text(
        'name = "one"\n[[checks]]\nname = "hr"\nkind = "cache.hit_rate"\ntarget = "nope"\n'
    )
    config = make_config(scheduler={"playbooks_dir": str(playbooks)},
                         caches=[{"name": "redis", "source": "redis://127.0.0.1:1/0"}])
    with pytest.raises(PlaybookError) as raised:
        run_entry(config, "one", "hr", Clock(START))
    assert raised.value.problems == [
        "one.toml: checks[0].target: no caches entry named 'nope' (configured: redis)"
    ]


def test_cli_check_prints_a_nagios_line(redis_server: RedisServer, make_config, opsd_cli) -> None:
    config = make_config(caches=[{"name": "redis", "source": redis_server.url, "min_lookups": 10}])
    redis_server.lookups(hits=30, misses=10)
    # --record: the daemon's run, which moves the baseline (a plain plugin poll does not).
    done = opsd_cli("--config", str(config), "check", "cache.hit_rate", "--record")
    assert done.code == 1, done.err
    assert done.out.strip() == (
        "WARNING - low: 75.0% ≤ 80% (warning) — 75.0% hit rate since the counters started "
        "(30 hits, 10 misses)"
        " | 'cache.hit_rate_redis'=75%;80:;60:;0;100"
    )
    again = opsd_cli("--config", str(config), "check", "cache.hit_rate")
    assert again.code == 0 and again.out.startswith("OK - not enough traffic to judge: 0 lookups")


# --- the monthly TTL review over a month of stored samples ---------------------------------


def store_month(store: Store, end: float, rates: dict[str, float]) -> None:
    """Four hit-rate results a day for 30 days (and stale ones 40 days back) per cache."""
    for step in range(-40 * 4, 0):
        at = end + step * DAY / 4
        stale = step < -30 * 4
        results = [
            Result(Status.OK, "sample", value=0.99 if stale else rate, unit="ratio", target=name,
                   details={"hits": (0.99 if stale else rate) * 1000, "lookups": 1000},
                   check="cache.hit_rate", kind="cache.hit_rate", started_at=at)
            for name, rate in rates.items()
        ]
        record_run(store, "realtime", results, started_at=at, finished_at=at + 1)


def test_ttl_review_over_a_month_of_samples(make_config, tmp_path: Path) -> None:
    config = make_config(caches=[
        {"name": "notion", "source": "redis://127.0.0.1:1/0", "ttl_seconds": 300},
        {"name": "pages", "source": "redis://127.0.0.1:1/1", "ttl_seconds": 300},
        {"name": "users", "source": "redis://127.0.0.1:1/2", "ttl_seconds": 2400},
        {"name": "capped", "source": "redis://127.0.0.1:1/3", "ttl_seconds": 3600},
        {"name": "unsized", "source": "redis://127.0.0.1:1/4"},
        {"name": "idle", "source": "redis://127.0.0.1:1/5", "ttl_seconds": 60},
    ])
    end = START + 31 * DAY
    store = Store.open(tmp_path / "opsd.db")
    store_month(store, end, {"notion": 0.7, "pages": 0.93, "users": 0.5, "capped": 0.65,
                             "unsized": 0.4})
    store.close()

    report = run_entry(config, "monthly", "cache.ttl_review", Clock(end))
    review = {r.target: r for r in report.results}

    assert review["notion"].status is Status.WARNING
    assert review["notion"].value == pytest.approx(0.7)  # the stale 99 % samples are outside
    assert review["notion"].details["samples"] == 120
    assert review["notion"].summary.startswith(
        "low: 70.0% ≤ 80% (warning) — 70.0% hit rate over 30d (120 samples): raise the TTL "
        "from 300s to 600s"
    )
    assert review["notion"].details["recommended_ttl_seconds"] == 600
    assert review["pages"].status is Status.OK and review["pages"].summary.endswith("TTL fine")
    assert review["pages"].details["recommended_ttl_seconds"] is None
    assert review["users"].status is Status.CRITICAL
    assert review["users"].details["recommended_ttl_seconds"] == 3600
    assert "TTL already at the 3600s cap" in review["capped"].summary
    assert "set ttl_seconds in [[caches]]" in review["unsized"].summary
    assert review["idle"].status is Status.SKIPPED
