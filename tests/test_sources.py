"""Counter sources against real servers: redis-server, a local HTTP server (Prometheus
exposition, JSON), a JSON file and a SQLite database; selectors; config validation."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from pathlib import Path

import httpx
import pytest
from test_sources_support import Route

from opsd.config import AppConfig, CacheConfig, load_settings
from opsd.errors import ConfigError
from opsd.selectors import json_path, parse_json_path, parse_metric_selector
from opsd.sources import Reading, SourceError, display_url, read

EXPOSITION = """\
# HELP app_cache_hits_total Cache hits.
# TYPE app_cache_hits_total counter
app_cache_hits_total{cache="notion"} 120
app_cache_hits_total{cache="pages"} 7
# HELP app_cache_misses_total Cache misses.
# TYPE app_cache_misses_total counter
app_cache_misses_total{cache="notion"} 30
app_cache_misses_total{cache="pages"} 1
# HELP process_start_time_seconds Start time of the process.
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1700000000.5
"""


def read_now(source: CacheConfig | AppConfig, selectors: dict[str, str]) -> Reading:
    async def main() -> Reading:
        async with httpx.AsyncClient() as http:
            return await read(source, selectors, http)

    return asyncio.run(main())


# --- selectors (pure) ----------------------------------------------------------------------


def test_metric_selector_with_label_matchers() -> None:
    selector = parse_metric_selector('app_cache_hits_total{cache="notion", env!="dev"}')
    assert selector.name == "app_cache_hits_total"
    assert selector.matches("app_cache_hits_total", {"cache": "notion", "env": "prod"})
    assert not selector.matches("app_cache_hits_total", {"cache": "notion", "env": "dev"})
    assert not selector.matches("app_cache_hits_total", {"cache": "pages"})
    assert parse_metric_selector("app_cache_hits").matches("app_cache_hits_total", {})


@pytest.mark.parametrize("text", ["", "9lives", 'x{cache=notion}', 'x{cache="a"'])
def test_bad_metric_selectors_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        parse_metric_selector(text)


def test_json_paths() -> None:
    document = {"stats": {"caches": [{"hits": 5}, {"hits": 9}]}, "ok": True}
    assert parse_json_path("$.stats.caches[1].hits") == ["stats", "caches", 1, "hits"]
    assert json_path(document, "stats.caches[1].hits") == 9
    assert json_path(document, "stats.caches.0.hits") == 5
    with pytest.raises(LookupError, match="'misses'"):
        json_path(document, "stats.caches[0].misses")
    with pytest.raises(ValueError):
        parse_json_path("stats..hits")


def test_display_url_drops_user_information() -> None:
    assert display_url("redis://user@10.0.0.1:6379/0") == "redis://10.0.0.1:6379/0"
    assert display_url("json+https://h/stats?x=1") == "json+https://h/stats?x=1"


# --- redis ---------------------------------------------------------------------------------


def test_redis_counts_real_hits_and_misses(redis_server) -> None:
    redis_server.lookups(hits=12, misses=5)
    cache = CacheConfig(name="redis", source=redis_server.url)
    reading = read_now(cache, {"hits": "keyspace_hits", "misses": "keyspace_misses"})
    assert reading.values == {"hits": 12.0, "misses": 5.0}
    assert reading.instance and len(reading.instance) == 40  # run_id

    redis_server.restart()
    after = read_now(cache, {"hits": "keyspace_hits", "misses": "keyspace_misses"})
    assert after.values == {"hits": 0.0, "misses": 0.0}
    assert after.instance != reading.instance


def test_redis_unknown_info_field(redis_server) -> None:
    cache = CacheConfig(name="redis", source=redis_server.url)
    with pytest.raises(SourceError, match="INFO has no field 'keyspace_hitz'"):
        read_now(cache, {"hits": "keyspace_hitz"})


def test_redis_password_is_used_and_never_shown(make_redis) -> None:
    server = make_redis(password="s3cret-redis-pass")
    server.lookups(hits=3, misses=1)
    good = CacheConfig(name="r", source=server.url, password="s3cret-redis-pass")
    assert read_now(good, {"hits": "keyspace_hits"}).values == {"hits": 3.0}
    wrong = CacheConfig(name="r", source=server.url, password="wrong-pass-123")
    with pytest.raises(SourceError) as caught:
        read_now(wrong, {"hits": "keyspace_hits"})
    assert "wrong-pass-123" not in str(caught.value)
    assert str(caught.value).startswith(f"cannot read {server.url}:")


def test_redis_down_is_a_one_line_error(closed_port: int) -> None:
    url = f"redis://127.0.0.1:{closed_port}/0"  # nothing listens there
    cache = CacheConfig(name="redis", source=url, timeout=30)
    with pytest.raises(SourceError, match=rf"^cannot read {url}: ConnectionError"):
        read_now(cache, {"hits": "keyspace_hits"})


# --- prometheus and json over HTTP ---------------------------------------------------------


def test_prometheus_exposition_changes_between_reads(http_server) -> None:
    server = http_server()
    server.routes["/metrics"] = Route(EXPOSITION)
    cache = CacheConfig(
        name="app", source="prometheus+" + server.url("/metrics"),
        hits='app_cache_hits_total{cache="notion"}', misses="app_cache_misses_total",
    )
    selectors = {"hits": cache.hits or "", "misses": cache.misses or ""}
    first = read_now(cache, selectors)
    assert first.values == {"hits": 120.0, "misses": 31.0}  # misses summed over caches
    assert first.instance == "1700000000.500"
    server.routes["/metrics"] = Route(EXPOSITION.replace(" 120", " 180"))
    assert read_now(cache, selectors).values["hits"] == 180.0


def test_prometheus_reads_only_the_selected_series(http_server) -> None:
    noisy = EXPOSITION + 'app_cache_hits_total_bytes{cache="notion"} 999\nbroken_metric{oops 1\n'
    server = http_server()
    server.routes["/metrics"] = Route(noisy)
    cache = CacheConfig(name="app", source="prometheus+" + server.url("/metrics"),
                        hits='app_cache_hits{cache="notion"}', misses="app_cache_misses")
    reading = read_now(cache, {"hits": cache.hits or "", "misses": cache.misses or ""})
    assert reading.values == {"hits": 120.0, "misses": 31.0}


def test_prometheus_missing_metric_and_http_error(http_server) -> None:
    server = http_server()
    server.routes["/metrics"] = Route(EXPOSITION)
    cache = CacheConfig(name="app", source="prometheus+" + server.url("/metrics"),
                        hits='app_cache_hits_total{cache="users"}', misses="m")
    with pytest.raises(SourceError, match=r'no sample matches \w+\{cache="users"\}'):
        read_now(cache, {"hits": cache.hits or ""})
    server.routes["/metrics"] = Route("boom", status=500)
    with pytest.raises(SourceError, match="HTTP 500 Internal Server Error"):
        read_now(cache, {"hits": cache.hits or ""})


def test_json_source_with_secret_header(http_server) -> None:
    server = http_server()
    server.routes["/stats"] = Route(
        json.dumps({"cache": {"hits": 40, "misses": "10"}}),
        content_type="application/json", require_header=("Authorization", "Bearer tok-123"),
    )
    cache = CacheConfig(name="j", source="json+" + server.url("/stats"),
                        hits="cache.hits", misses="cache.misses",
                        headers={"Authorization": "Bearer tok-123"})
    assert read_now(cache, {"hits": "cache.hits", "misses": "cache.misses"}).values == {
        "hits": 40.0, "misses": 10.0,
    }
    assert "tok-123" not in repr(cache)
    unauthorised = cache.model_copy(update={"headers": {}})
    with pytest.raises(SourceError, match="HTTP 401"):
        read_now(unauthorised, {"hits": "cache.hits"})


def test_json_value_that_is_not_a_number(http_server) -> None:
    server = http_server()
    server.routes["/stats"] = Route(json.dumps({"hits": "many"}))
    cache = CacheConfig(name="j", source="json+" + server.url("/stats"), ratio="hits")
    with pytest.raises(SourceError, match="hits: not a number: 'many'"):
        read_now(cache, {"ratio": "hits"})


# --- files on disk -------------------------------------------------------------------------


def test_json_file_source(tmp_path: Path) -> None:
    stats = tmp_path / "stats.json"
    stats.write_text(json.dumps({"errors": 3, "requests": 300}))
    app = AppConfig(name="a", source=f"file://{stats}", errors="errors", requests="requests")
    assert read_now(app, {"errors": "errors", "requests": "requests"}).values == {
        "errors": 3.0, "requests": 300.0,
    }
    stats.unlink()
    with pytest.raises(SourceError, match="No such file"):
        read_now(app, {"errors": "errors"})


def test_sqlite_source_reads_one_row_read_only(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("CREATE TABLE cache_stats (hits INTEGER, misses INTEGER)")
        conn.execute("INSERT INTO cache_stats VALUES (90, 10)")
    cache = CacheConfig(name="s", source=f"sqlite://{db}", hits="hits", misses="misses",
                        query="SELECT hits, misses FROM cache_stats")
    assert read_now(cache, {"hits": "hits", "misses": "misses"}).values == {
        "hits": 90.0, "misses": 10.0,
    }
    with pytest.raises(SourceError, match=r"no column 'lookups' \(has: hits, misses\)"):
        read_now(cache, {"hits": "lookups"})
    writer = cache.model_copy(update={"query": "DELETE FROM cache_stats RETURNING hits, misses"})
    with pytest.raises(SourceError, match="readonly"):
        read_now(writer, {"hits": "hits"})


# --- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "problem"),
    [
        ('[[caches]]\nname = "c"\nsource = "memcached://h"\n',
         "opsd.toml: caches[0].source: unknown source scheme 'memcached://'"),
        ('[[caches]]\nname = "c"\nsource = "redis://:hunter2@h:6379/0"\n',
         "opsd.toml: caches[0].source: do not put a password in the URL"),
        ('[[caches]]\nname = "c"\nsource = "prometheus+http://h/metrics"\nhits = "a"\n',
         "opsd.toml: caches[0]: prometheus sources need either hits and misses, or ratio"),
        ('[[caches]]\nname = "c"\nsource = "prometheus+http://h"\nhits = "a{b=c}"\nmisses = "m"\n',
         "opsd.toml: caches[0]: hits: bad label matcher"),
        ('[[caches]]\nname = "c"\nsource = "sqlite:///x.db"\nratio = "r"\n',
         "opsd.toml: caches[0]: query: needed by sqlite:// sources and only by them"),
        ('[[caches]]\nname = "c"\nsource = "file://stats.json"\nratio = "r"\n',
         "opsd.toml: caches[0].source: file:// needs an absolute path"),
        ('[[apps]]\nname = "a"\nsource = "redis://h"\nerrors = "e"\nrequests = "r"\n',
         "opsd.toml: apps[0]: source: redis:// has no error counters"),
        ('[[endpoints]]\nname = "e"\nurl = "ftp://h"\n',
         "opsd.toml: endpoints[0].url: must start with http:// or https://"),
        ('[[endpoints]]\nname = "e"\nurl = "https://h"\ncert_warn_days = 3\n',
         "opsd.toml: endpoints[0]: cert_crit_days must not exceed cert_warn_days"),
    ],
)
def test_config_mistakes_are_one_line_naming_the_key(
    tmp_path: Path, toml: str, problem: str
) -> None:
    path = tmp_path / "opsd.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(problem), caught.value.problems[0]
    assert "hunter2" not in caught.value.problems[0]


def test_secrets_of_sources_are_redacted_everywhere(tmp_path: Path) -> None:
    path = tmp_path / "opsd.toml"
    path.write_text(
        '[[caches]]\nname = "c"\nsource = "redis://h:6379/0"\npassword = "redis-pass-0123456789"\n'
        '[[endpoints]]\nname = "e"\nurl = "https://h/health"\n'
        '[endpoints.headers]\nAuthorization = "Bearer abcdefghijklmnopqrstuvwxyz"\n'
    )
    settings = load_settings(path, env={})
    dumped = json.dumps(settings.model_dump(mode="json"))
    assert "redis-pass-0123456789" not in dumped and "abcdefghijklmnop" not in dumped
    assert settings.redact("got Bearer abcdefghijklmnopqrstuvwxyz back") == (
        "got …wxyz back"
    )
