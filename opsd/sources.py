"""Counter sources: where a cache's hits/misses or an app's errors/requests are read.

A source URL names the reader; each selector says where one value is, in the reader's terms:

| source                              | selector                                           |
|-------------------------------------|----------------------------------------------------|
| `redis://host:port/db`, `rediss://` | an INFO field (`keyspace_hits`)                    |
| `prometheus+http(s)://host/metrics` | `name{label="value",other!="x"}` (summed samples)  |
| `json+http(s)://host/stats`         | a JSON path (`stats.cache.hits`, `caches[0].hits`) |
| `file:///path/stats.json`           | a JSON path                                        |
| `sqlite:///path/stats.db` + `query` | a column of the query's first row                  |

Redis and Prometheus sources also say which process counted (Redis `run_id`, Prometheus
`process_start_time_seconds`), so a restart is seen as a counter reset even when the new
counters already passed the old ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
import sqlite3
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

from opsd.config import SourceConfig, TransportConfig
from opsd.errors import CheckError
from opsd.exception_text import describe_exception
from opsd.results import Result, Status, skipped
from opsd.selectors import (
    json_path,
    parse_metric_selector,
)

if TYPE_CHECKING:
    import httpx

REDIS_DEFAULTS = {"hits": "keyspace_hits", "misses": "keyspace_misses"}

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_PROCESS_START = "process_start_time_seconds"


class SourceError(CheckError):
    """A source could not be read; the message names the source (without credentials)."""


@dataclasses.dataclass(frozen=True)
class Reading:
    """Values read from a source, by selector key, and the counting process if known."""

    values: dict[str, float]
    instance: str | None = None


def display_url(url: str) -> str:
    """`url` without user information, safe to show in results."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, ""))


def number(value: Any, where: str) -> float:
    """`value` as a float; raises SourceError naming `where` for anything else."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return float(value)
    raise SourceError(f"{where}: not a number: {value!r}")


# --- HTTP transport ------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def client_for(
    transport: TransportConfig, shared: httpx.AsyncClient
) -> AsyncIterator[httpx.AsyncClient]:
    """The shared client when default TLS verification fits `transport`; otherwise a client of
    its own (CA file, or verification off), closed on exit."""
    if transport.verify and transport.ca_file is None:
        yield shared
        return
    import httpx

    verify: ssl.SSLContext | bool = False
    if transport.verify:
        try:
            verify = ssl.create_default_context(cafile=str(transport.ca_file))
        except (OSError, ssl.SSLError) as exc:
            message = f"ca_file {transport.ca_file}: cannot load: {_describe(exc)}"
            raise SourceError(message) from None
    async with httpx.AsyncClient(
        verify=verify, headers=shared.headers, follow_redirects=False, timeout=transport.timeout
    ) as client:
        yield client


def request_headers(transport: TransportConfig) -> dict[str, str]:
    """The configured headers with their secret values, for the request only."""
    return {name: value.get_secret_value() for name, value in transport.headers.items()}


# --- reading -------------------------------------------------------------------------------


async def read(
    source: SourceConfig, selectors: Mapping[str, str], http: httpx.AsyncClient
) -> Reading:
    """Read every selector's value from `source`; raises SourceError on any failure."""
    import httpx
    import redis.exceptions

    reader = _READERS[source.family]
    try:
        return await reader(source, selectors, http)
    except SourceError as exc:
        raise SourceError(f"{display_url(source.source)}: {exc}") from None
    except (
        OSError, ValueError, sqlite3.Error, httpx.HTTPError, redis.exceptions.RedisError
    ) as exc:
        raise SourceError(f"cannot read {display_url(source.source)}: {_describe(exc)}") from None


def _describe(exc: BaseException) -> str:
    return describe_exception(exc)  # never a header value: headers carry secrets


async def _read_redis(
    source: SourceConfig, selectors: Mapping[str, str], http: httpx.AsyncClient
) -> Reading:
    import redis.asyncio

    options: dict[str, Any] = {
        "socket_timeout": source.timeout, "socket_connect_timeout": source.timeout,
    }
    if source.password is not None:
        options["password"] = source.password.get_secret_value()
    if urlsplit(source.source).scheme == "rediss":
        options["ssl_cert_reqs"] = "required" if source.verify else "none"
        if source.ca_file is not None:
            options["ssl_ca_certs"] = str(source.ca_file)
    client = redis.asyncio.from_url(source.source, **options)
    try:
        info = await client.info()
    finally:
        await client.aclose()
    values = {}
    for key, field in selectors.items():
        if field not in info:
            raise SourceError(f"INFO has no field {field!r}")
        values[key] = number(info[field], f"INFO {field}")
    return Reading(values, instance=info.get("run_id"))


async def _fetch_text(source: SourceConfig, http: httpx.AsyncClient) -> str:
    parts = urlsplit(source.source)
    url = urlunsplit((parts.scheme.split("+", 1)[1], *parts[1:]))
    async with client_for(source, http) as client:
        response = await client.get(url, headers=request_headers(source), timeout=source.timeout)
    if response.status_code != 200:
        raise SourceError(f"HTTP {response.status_code} {response.reason_phrase}")
    return response.text


async def _read_prometheus(
    source: SourceConfig, selectors: Mapping[str, str], http: httpx.AsyncClient
) -> Reading:
    text = await _fetch_text(source, http)
    wanted = {key: parse_metric_selector(selector) for key, selector in selectors.items()}
    names = {_PROCESS_START, *(n for s in wanted.values() for n in (s.name, f"{s.name}_total"))}
    # Off the event loop, so that a large exposition does not inflate the latency that
    # concurrent checks (http.endpoint) measure.
    samples = await asyncio.to_thread(_parse_exposition, text, names)
    values = {}
    for key, selector_text in selectors.items():
        found = [s.value for s in samples if wanted[key].matches(s.name, s.labels)]
        if not found:
            raise SourceError(f"no sample matches {selector_text}")
        values[key] = float(sum(found))
    start = next((s.value for s in samples if s.name == _PROCESS_START), None)
    return Reading(values, instance=None if start is None else f"{start:.3f}")


def _parse_exposition(text: str, names: set[str]) -> list[Any]:
    """The samples named `names`; other lines are dropped unparsed (an exposition can hold tens
    of thousands of series, and the parser is the slow part)."""
    from prometheus_client.parser import text_string_to_metric_families

    kept = "".join(
        line for line in text.splitlines(keepends=True)
        if (name := _METRIC_NAME.match(line)) and name.group(0) in names  # not comments
    )
    return [s for family in text_string_to_metric_families(kept) for s in family.samples]


def _values_at_paths(document: Any, selectors: Mapping[str, str]) -> Reading:
    values = {}
    for key, path in selectors.items():
        try:
            values[key] = number(json_path(document, path), path)
        except LookupError as exc:
            raise SourceError(str(exc)) from None
    return Reading(values)


async def _read_json(
    source: SourceConfig, selectors: Mapping[str, str], http: httpx.AsyncClient
) -> Reading:
    return _values_at_paths(json.loads(await _fetch_text(source, http)), selectors)


def _local_path(source: SourceConfig) -> Path:
    return Path(unquote(urlsplit(source.source).path))


async def _read_file(
    source: SourceConfig, selectors: Mapping[str, str], http: httpx.AsyncClient
) -> Reading:
    text = await asyncio.to_thread(_local_path(source).read_text, encoding="utf-8")
    return _values_at_paths(json.loads(text), selectors)


async def _read_sqlite(
    source: SourceConfig, selectors: Mapping[str, str], http: httpx.AsyncClient
) -> Reading:
    row = await asyncio.to_thread(_query_one_row, _local_path(source), source.query or "",
                                  source.timeout)
    values = {}
    for key, column in selectors.items():
        if column not in row:
            raise SourceError(f"the query returns no column {column!r} (has: {', '.join(row)})")
        values[key] = number(row[column], f"column {column}")
    return Reading(values)


def _query_one_row(path: Path, query: str, timeout: float) -> dict[str, Any]:
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    # Read-only: opsd must never lock or change the application's database.
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=timeout)
    try:
        cursor = conn.execute(query)
        row = cursor.fetchone()
        if row is None:
            raise SourceError("the query returned no row")
        return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}
    finally:
        conn.close()


class _Reader(Protocol):
    def __call__(
        self, source: SourceConfig, selectors: Mapping[str, str], http: httpx.AsyncClient
    ) -> Awaitable[Reading]: ...


_READERS: dict[str, _Reader] = {
    "redis": _read_redis,
    "prometheus": _read_prometheus,
    "json": _read_json,
    "file": _read_file,
    "sqlite": _read_sqlite,
}


# --- one result per configured target ------------------------------------------------------

Target = TypeVar("Target", bound=Any)


async def each_target(
    items: Sequence[Target],
    only: str | None,
    section: str,
    probe: Callable[[Target], Awaitable[Result]],
) -> list[Result]:
    """`probe` every configured `[[section]]` entry (or only the one named `only`) at once.

    No entries: one SKIPPED result. A CheckError ends only its own target's result.
    """
    if not items:
        return [skipped(f"no {section} configured ([[{section}]] in the config file)")]
    chosen = [item for item in items if only is None or item.name == only]
    if not chosen:
        raise CheckError(f"target {only!r}: no entry of that name in [[{section}]]")

    async def one(item: Target) -> Result:
        try:
            result = await probe(item)
        except CheckError as exc:
            result = Result(Status(exc.status), str(exc), details=exc.details)
        return result.replace(target=item.name)

    return list(await asyncio.gather(*(one(item) for item in chosen)))
