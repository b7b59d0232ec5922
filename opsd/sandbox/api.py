"""The Notion API itself: auth, Notion-Version, rate limit, faults, stats, and the endpoints
(routes and malformed-request answers are in `routing`).

`NotionApi.handle(request)` turns one request into one `Response` without touching a socket;
the HTTP server (`server.py`) adds the waiting (latency, hangs) around it. All state sits
behind one lock, so the admin API can change it while requests are in flight.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from opsd.sandbox import drift, render
from opsd.sandbox.faults import ErrorMode, Faults
from opsd.sandbox.gateways import injected_answer
from opsd.sandbox.limiter import TokenBuckets, WindowBudgets, retry_after_seconds
from opsd.sandbox.pages import PageContent, PageWrites
from opsd.sandbox.query import (
    QUERY_RESULT_LIMIT,
    QueryError,
    paginate,
    parse_pagination,
    run_query,
)
from opsd.sandbox.responses import (
    ERROR_CODES,
    INTEGRATION_LIMIT,
    WORKSPACE_LIMIT,
    Response,
    injected_error,
    json_response,
    notion_error,
    rate_limited,
    retry_after_value,
)
from opsd.sandbox.routing import (
    ApiError,
    Request,
    bearer,
    json_body,
    match_route,
    not_found,
    template_of,
    valid_id,
)
from opsd.sandbox.workspace import (
    DATABASES,
    EMPTY_VALUES,
    Database,
    DataSource,
    added_source,
    build_workspace,
    normalize_id,
    retyped,
)

SANDBOX_TOKEN = "ntn_" + "00000000000" + "SandboxFakeTokenForLocalTestsOnly00"
"""The token the sandbox accepts out of the box: exactly the shape of a real one (11 digits and
35 letters or digits after `ntn_`, see `opsd.notion.tokens`), obviously not real."""

_INVALID_URL = ("invalid_request_url", "Invalid request URL.")

class SandboxError(ValueError):
    """A fault or admin request the sandbox cannot apply (unknown database, bad status...)."""


class NotionApi(PageWrites):
    """The sandbox's state and request handling, independent of HTTP plumbing (the page and
    block writes are in `PageWrites`)."""

    def __init__(self, rate: float = 3.0, burst: int = 10, extra_databases: int = 0,
                 today: dt.date | None = None, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.RLock()
        self._clock = clock
        self._wall_clock = wall_clock
        self.today = today or dt.datetime.now(dt.UTC).date()
        self.extra_databases = extra_databases
        self._initial_rate = (rate, burst)
        self.reset()

    # -- state --------------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the start: full workspace, only SANDBOX_TOKEN, no faults, zeroed stats."""
        with self._lock:
            self.databases: dict[str, Database] = build_workspace(self.today, self.extra_databases)
            self.content = PageContent()
            self.tokens: set[str] = {SANDBOX_TOKEN}
            self.faults = Faults()
            self.limiter: TokenBuckets | WindowBudgets = TokenBuckets(
                *self._initial_rate, clock=self._clock)
            self.retry_after_http_date = False
            self.workspace_limited_until = float("-inf")
            self.requests: Counter[tuple[str, int]] = Counter()
            self.rate_limited = 0
            self.result_limit = QUERY_RESULT_LIMIT

    def set_rate(self, rate: float, burst: int, http_date: bool = False) -> None:
        """New limiter settings (buckets start full); `http_date` picks Retry-After's form."""
        with self._lock:
            try:
                self.limiter = TokenBuckets(rate, burst, clock=self._clock)
            except ValueError as exc:
                raise SandboxError(str(exc)) from None
            self.retry_after_http_date = http_date

    def set_rate_window(self, limit: int, window: float = 60.0, http_date: bool = False) -> None:
        """Budget per token: `limit` requests per `window` seconds; then 429 until it ends."""
        with self._lock:
            try:
                self.limiter = WindowBudgets(limit, window, clock=self._clock)
            except ValueError as exc:
                raise SandboxError(str(exc)) from None
            self.retry_after_http_date = http_date

    def limit_workspace(self, seconds: float) -> None:
        """The workspace's limit is hit: every token gets 429 for `seconds` (may exceed 60)."""
        with self._lock:
            self.workspace_limited_until = self._clock() + seconds

    def add_token(self, token: str) -> None:
        with self._lock:
            self.tokens.add(token)

    def revoke_token(self, token: str) -> None:
        with self._lock:
            self.tokens.discard(token)

    def add_error(self, mode: ErrorMode) -> None:
        with self._lock:
            try:
                self.faults.add_error(mode)
            except ValueError as exc:
                raise SandboxError(str(exc)) from None

    def set_latency(self, seconds: float, path: str | None = None) -> None:
        if seconds < 0:
            raise SandboxError("latency must not be negative")
        with self._lock:
            if path is None:
                self.faults.latency = seconds
            else:
                self.faults.path_latency[path] = seconds

    def find_database(self, name_or_id: str) -> Database:
        """A database by name or id (with or without dashes); SandboxError if unknown."""
        with self._lock:
            wanted = normalize_id(name_or_id) or DATABASES.get(name_or_id)
            for db in self.databases.values():
                if db.id == wanted or db.name == name_or_id:
                    return db
        raise SandboxError(f"no database {name_or_id!r} in the sandbox "
                           f"(known: {', '.join(DATABASES)})")

    def data_sources_of(self, name_or_id: str) -> list[DataSource]:
        """Data sources named by a database or data source (name or id)."""
        with self._lock:
            wanted = normalize_id(name_or_id)
            for db in self.databases.values():
                for ds in db.data_sources:
                    if ds.id == wanted or (ds.name == name_or_id and db.name != name_or_id):
                        return [ds]
            return list(self.find_database(name_or_id).data_sources)

    def set_shared(self, name_or_id: str, shared: bool) -> None:
        with self._lock:
            self.find_database(name_or_id).shared = shared

    def set_linked(self, name_or_id: str, linked: bool) -> None:
        with self._lock:
            self.find_database(name_or_id).linked = linked

    def set_source_shared(self, name_or_id: str, shared: bool) -> None:
        """Share or unshare one data source (by name or id), or every one of a database."""
        with self._lock:
            for ds in self.data_sources_of(name_or_id):
                ds.shared = shared

    def add_data_source(self, name_or_id: str, name: str) -> None:
        """Create a data source named `name` under the database, as a Notion user can."""
        with self._lock:
            db = self.find_database(name_or_id)
            if not name.strip() or any(ds.name == name for ds in db.data_sources):
                raise SandboxError(f"{db.name!r} already has a data source named {name!r}")
            db.data_sources.append(added_source(self.today, db, name))

    def drop_property(self, name_or_id: str, prop: str) -> None:
        """Remove a column from the schema and from every page (schema drift)."""
        with self._lock:
            for ds in self._sources_with(name_or_id, prop):
                del ds.properties[prop]
                for page in ds.pages:
                    page.values.pop(prop, None)

    def retype_property(self, name_or_id: str, prop: str, new_type: str) -> None:
        """Change a column's type; pages keep an empty value of the new type.

        Select and status convert into each other keeping options and values (`retyped`).
        """
        if new_type not in render.SUPPORTED_TYPES or new_type == "title":
            allowed = ", ".join(sorted(render.SUPPORTED_TYPES - {"title"}))
            raise SandboxError(f"cannot retype to {new_type!r} (use one of {allowed})")
        with self._lock:
            for ds in self._sources_with(name_or_id, prop):
                ds.properties[prop], keep_values = retyped(ds.properties[prop], new_type)
                for page in ds.pages if not keep_values else ():
                    page.values[prop] = EMPTY_VALUES.get(new_type)

    def rename_property(self, name_or_id: str, prop: str, new_name: str) -> None:
        """Rename a column in Notion: its property id, type and page values stay."""
        self._edit_schema(drift.rename_property, name_or_id, prop, new_name)

    def remove_option(self, name_or_id: str, prop: str, option: str) -> None:
        """Delete a select/status option; pages that held it lose the value."""
        self._edit_schema(drift.remove_option, name_or_id, prop, option)

    def rename_option(self, name_or_id: str, prop: str, option: str, new_name: str) -> None:
        """Rename a select/status option in Notion: its option id stays; pages follow."""
        self._edit_schema(drift.rename_option, name_or_id, prop, option, new_name)

    def _edit_schema(self, edit: Callable[..., None], name_or_id: str,
                     prop: str, *arguments: str) -> None:
        with self._lock:
            for ds in self._sources_with(name_or_id, prop):
                try:
                    edit(ds, prop, *arguments)
                except ValueError as exc:
                    raise SandboxError(str(exc)) from None

    def _sources_with(self, name_or_id: str, prop: str) -> list[DataSource]:
        sources = [ds for ds in self.data_sources_of(name_or_id) if prop in ds.properties]
        if not sources:
            raise SandboxError(f"{name_or_id!r} has no property {prop!r}")
        return sources

    def stats(self) -> dict[str, Any]:
        """Requests by template and status, 429s sent, rate settings, active faults."""
        with self._lock:
            by_template: dict[str, dict[str, int]] = {}
            for (template, status), count in sorted(self.requests.items()):
                by_template.setdefault(template, {})[str(status)] = count
            return {
                "requests": by_template,
                "requests_total": sum(self.requests.values()),
                "rate_limited_total": self.rate_limited,
                "rate": {**self.limiter.describe(),
                         "retry_after": "http-date" if self.retry_after_http_date else "seconds"},
                "faults": self.faults.describe(),
                "tokens_accepted": len(self.tokens),
                "databases": {db.name: {"id": db.id, "shared": db.shared, "linked": db.linked,
                                        "data_sources": {ds.name: {"id": ds.id, "shared": ds.shared}
                                                         for ds in db.data_sources}}
                              for db in self.databases.values()},
            }

    # -- requests -----------------------------------------------------------------------------

    def delay_for(self, path: str) -> float:
        with self._lock:
            return self.faults.delay_for(path)

    def handle(self, request: Request) -> Response:
        """Answer one request as api.notion.com would, and count it."""
        with self._lock:
            response = self._answer(request)
            self.requests[(template_of(request.method, request.path), response.status)] += 1
            if response.status == 429:
                self.rate_limited += 1
            return response

    def _answer(self, request: Request) -> Response:
        mode = self.faults.error_for(request.path)
        if mode is not None:
            page = injected_answer(mode.status, mode.html, mode.code)
            if page is not None:
                return page
            return injected_error(mode.status, mode.retry_after, mode.http_date,
                                  self._wall_clock())
        token = bearer(request.headers.get("authorization", ""))
        if token not in self.tokens:
            return notion_error(401, *ERROR_CODES[401])
        version = request.headers.get("notion-version")
        if version is None:
            return notion_error(400, "missing_version",
                                "Notion-Version header failed validation: Notion-Version header "
                                "should be defined, instead was `undefined`.")
        if version not in render.VERSIONS:
            return notion_error(400, "validation_error",
                                "Notion-Version header failed validation: Notion-Version header "
                                f"should be one of {', '.join(render.VERSIONS)}, "
                                f"instead was `{version}`.")
        wait, reason = self.workspace_limited_until - self._clock(), WORKSPACE_LIMIT
        if wait <= 0:
            wait, reason = self.limiter.take(token), INTEGRATION_LIMIT
        if wait > 0:
            seconds = retry_after_seconds(wait)
            return rate_limited(
                retry_after_value(seconds, self.retry_after_http_date, self._wall_clock()), reason)
        route, object_id = match_route(request.method, request.path)
        if route is None:
            return notion_error(400, *_INVALID_URL)
        try:
            body = json_body(request)
            return getattr(self, "_" + route.handler)(version, object_id, body)
        except QueryError as exc:
            return notion_error(400, "validation_error", str(exc))
        except ApiError as exc:
            return exc.response

    def _users_me(self, version: str, _id: None, _body: dict) -> Response:
        return json_response(render.bot_user())

    def _get_database(self, version: str, raw_id: str, _body: dict) -> Response:
        db = self._database(raw_id, version)
        return json_response(render.database_object(db, version))

    def _query_database(self, version: str, raw_id: str, body: dict) -> Response:
        if render.has_data_sources(version):
            raise ApiError(notion_error(400, *_INVALID_URL))
        db = self._database(raw_id, version)
        return self._query(db.data_sources[0], body, version)

    def _get_data_source(self, version: str, raw_id: str, _body: dict) -> Response:
        ds, db = self._data_source(raw_id, version)
        return json_response(render.data_source_object(ds, db, version))

    def _query_data_source(self, version: str, raw_id: str, body: dict) -> Response:
        ds, _ = self._data_source(raw_id, version)
        return self._query(ds, body, version)

    def _search(self, version: str, _id: None, body: dict) -> Response:
        objects = self._searchable(version, body)
        text = body.get("query", "")
        if not isinstance(text, str):
            raise QueryError("body failed validation: body.query should be a string.")
        found = [obj for obj in objects if text.lower() in _title_of(obj).lower()]
        descending = (body.get("sort") or {}).get("direction", "descending") == "descending"
        found.sort(key=lambda obj: obj["last_edited_time"], reverse=descending)
        window, cursor = paginate(found, parse_pagination(body), key=lambda obj: obj["id"])
        return json_response(render.list_object(window, cursor, version))

    def _searchable(self, version: str, body: dict) -> list[dict[str, Any]]:
        container = "data_source" if render.has_data_sources(version) else "database"
        wanted = (body.get("filter") or {}).get("value")
        if wanted not in (None, "page", container):
            raise QueryError(f"body failed validation: body.filter.value should be `page` or "
                             f"`{container}`, instead was `{wanted}`.")
        objects: list[dict[str, Any]] = []
        for db in self.databases.values():
            if not db.shared:
                continue
            if wanted in (None, container):
                objects += self._containers(db, version)
            if wanted in (None, "page"):
                objects += [render.page_object(page, ds, version)
                            for ds in db.data_sources for page in ds.pages]
        return objects

    def _containers(self, db: Database, version: str) -> list[dict[str, Any]]:
        if render.has_data_sources(version):
            return [render.data_source_object(ds, db, version) for ds in db.data_sources]
        # An old-version client cannot see a database holding several data sources.
        return [render.database_object(db, version)] if len(db.data_sources) == 1 else []

    def _query(self, ds: DataSource, body: dict, version: str) -> Response:
        pagination = parse_pagination(body, opaque=render.has_data_sources(version))
        matching = run_query(ds, body)  # Notion stops at result_limit, saying so on every page
        pages, cursor = paginate(matching[:self.result_limit], pagination, key=lambda p: p.id)
        results = [render.page_object(page, ds, version) for page in pages]
        return json_response(render.list_object(results, cursor, version,
                                                incomplete=len(matching) > self.result_limit))

    def _database(self, raw_id: str, version: str) -> Database:
        db_id = valid_id(raw_id, "database_id")
        db = self.databases.get(db_id)
        if db is None or not db.shared:
            raise ApiError(not_found("database", db_id))
        unreadable = render.legacy_unreadable(db) if version == render.LEGACY_VERSION else None
        if unreadable:
            raise ApiError(notion_error(400, "validation_error", unreadable))
        return db

    def _data_source(self, raw_id: str, version: str) -> tuple[DataSource, Database]:
        if version == render.LEGACY_VERSION:
            raise ApiError(notion_error(400, *_INVALID_URL))
        ds_id = valid_id(raw_id, "data_source_id")
        for db in self.databases.values():
            for ds in db.data_sources:
                if ds.id == ds_id and db.shared and ds.shared and not db.linked:
                    return ds, db
        raise ApiError(not_found("data source", ds_id))


def _title_of(obj: dict[str, Any]) -> str:
    if obj["object"] != "page":
        return "".join(part["plain_text"] for part in obj["title"])
    title = next(v for v in obj["properties"].values() if v["type"] == "title")
    return "".join(part["plain_text"] for part in title["title"])
