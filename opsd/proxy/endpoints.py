"""Endpoint templates of the integration's requests: the request log's (`/v1/pages/{id}`), with
every segment that is not a word of Notion's API turned into `{id}` too, since the integration
may call paths opsd never does (short block ids, property ids, anything): never an id in a row
or a label."""

from __future__ import annotations

from opsd.notion.requestlog import endpoint_template

API_WORDS = frozenset({
    "v1", "users", "me", "databases", "data_sources", "query", "pages", "properties", "blocks",
    "children", "search", "comments", "file_uploads", "send", "complete", "oauth", "token",
    "introspect", "revoke", "templates", "move", "views", "markdown", "{id}",
})


def integration_endpoint(path: str) -> str:
    """`/v1/pages/59833787-2cf9-4fdf-8782-e53db20768a5/properties/title` ->
    `/v1/pages/{id}/properties/{id}` (pure)."""
    parts = endpoint_template(path).split("/")
    return "/".join(p if (not p or p in API_WORDS) else "{id}" for p in parts)
