"""The sandbox's request plumbing: the routes of the Notion endpoints it serves, the request
value, and Notion's answers to a malformed request (bad id, bad JSON, missing object)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from opsd.sandbox.query import QueryError
from opsd.sandbox.responses import Response, notion_error
from opsd.sandbox.workspace import normalize_id


@dataclass(frozen=True)
class Request:
    """One API request: method, path, lower-cased headers, raw body, query string."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""
    query: str = ""


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    template: str
    handler: str


def route(method: str, template: str, handler: str) -> Route:
    """A route whose `{id}` segment matches any path segment."""
    pattern = re.compile("^" + template.replace("{id}", "(?P<id>[^/]+)") + "/?$")
    return Route(method, pattern, f"{method} {template}", handler)


ROUTES = (
    route("GET", "/v1/users/me", "users_me"),
    route("GET", "/v1/databases/{id}", "get_database"),
    route("POST", "/v1/databases/{id}/query", "query_database"),
    route("GET", "/v1/data_sources/{id}", "get_data_source"),
    route("POST", "/v1/data_sources/{id}/query", "query_data_source"),
    route("POST", "/v1/search", "search"),
    # Page writes (opsd.sandbox.pages).
    route("POST", "/v1/pages", "create_page"),
    route("GET", "/v1/pages/{id}", "get_page"),
    route("PATCH", "/v1/pages/{id}", "update_page"),
    route("GET", "/v1/blocks/{id}/children", "list_children"),
    route("PATCH", "/v1/blocks/{id}/children", "append_children"),
    route("DELETE", "/v1/blocks/{id}", "delete_block"),
)


def match_route(method: str, path: str) -> tuple[Route | None, str | None]:
    """The route for this request and its `{id}`, or (None, None)."""
    for route in ROUTES:
        found = route.pattern.match(path)
        if found and route.method == method:
            return route, found.groupdict().get("id")
    return None, None


def template_of(method: str, path: str) -> str:
    """The stats key for a request: `GET /v1/databases/{id}`, never a raw id."""
    route, _ = match_route(method, path)
    return route.template if route else f"{method} (unknown path)"


class ApiError(Exception):
    """Ends a request early with a ready-made error response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def bearer(header: str) -> str | None:
    """The token of an `Authorization: Bearer …` header, or None."""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def json_body(request: Request) -> dict[str, Any]:
    """A POST's or PATCH's JSON object ({} without a body), a GET's query parameters (whole
    numbers as numbers: `page_size`); Notion's error for anything else."""
    if request.method == "GET":
        return {k: int(v) if v.isdigit() else v for k, v in parse_qsl(request.query)}
    if request.method not in ("POST", "PATCH") or not request.body.strip():
        return {}
    try:
        body = json.loads(request.body)
    except ValueError:
        raise ApiError(notion_error(400, "invalid_json", "Error parsing JSON body.")) from None
    if not isinstance(body, dict):
        raise QueryError("body failed validation: body should be an object.")
    return body


def valid_id(raw_id: str, field: str) -> str:
    """`raw_id` as a dashed UUID, or Notion's validation error naming `field`."""
    object_id = normalize_id(raw_id)
    if object_id is None:
        raise ApiError(notion_error(
            400, "validation_error",
            f"path failed validation: path.{field} should be a valid uuid, instead was "
            f"`\"{raw_id}\"`."))
    return object_id


def not_found(kind: str, object_id: str) -> Response:
    """Notion's 404 for an object missing or not shared with the integration."""
    return notion_error(404, "object_not_found",
                        f"Could not find {kind} with ID: {object_id}. Make sure the relevant "
                        "pages and databases are shared with your integration.")
