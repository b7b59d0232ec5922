"""Page writes through the shared `NotionService`: create, update and trash a page, list,
append and delete its blocks. Every request goes through the service's limiter and retry
policy and into the request log under the caller's `purpose` (e.g. "report").

Creating a page and appending blocks are not idempotent: they are retried only after a 429
(see `NotionService.request`), so a timeout never leaves two copies behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opsd.notion.service import NotionService

MAX_CHILDREN = 100
"""Notion's limit on an array in a request: blocks per append, rich text items per block."""


async def create_page(
    notion: NotionService, parent: dict[str, str], properties: dict[str, Any],
    children: Sequence[dict[str, Any]] = (), *, deadline: float, purpose: str,
) -> dict[str, Any]:
    """POST /v1/pages: a new row under `parent` with at most 100 first blocks."""
    body: dict[str, Any] = {"parent": parent, "properties": properties}
    if children:
        body["children"] = list(children)
    reply = await notion.request("POST", "pages", body=body, deadline=deadline,
                                 purpose=purpose, idempotent=False)
    return reply.body


async def trash_page(
    notion: NotionService, page_id: str, *, deadline: float, purpose: str
) -> None:
    """PATCH /v1/pages/{id} `in_trash`: the page leaves the database (restorable in Notion)."""
    await notion.request("PATCH", f"pages/{page_id}", body={"in_trash": True},
                         deadline=deadline, purpose=purpose)


async def child_blocks(
    notion: NotionService, block_id: str, *, deadline: float, purpose: str
) -> list[dict[str, Any]]:
    """Every first-level block of a page or block (GET /v1/blocks/{id}/children, 100 a page)."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query: dict[str, Any] = {"page_size": MAX_CHILDREN}
        if cursor:
            query["start_cursor"] = cursor
        body = (await notion.request("GET", f"blocks/{block_id}/children", query=query,
                                     deadline=deadline, purpose=purpose)).body
        found += body.get("results") or []
        cursor = body.get("next_cursor")
        if not body.get("has_more") or not cursor:
            return found


async def append_blocks(
    notion: NotionService, block_id: str, children: Sequence[dict[str, Any]], *,
    deadline: float, purpose: str,
) -> None:
    """PATCH /v1/blocks/{id}/children with at most 100 blocks."""
    if len(children) > MAX_CHILDREN:
        raise ValueError(f"at most {MAX_CHILDREN} blocks per append, not {len(children)}")
    await notion.request("PATCH", f"blocks/{block_id}/children",
                         body={"children": list(children)}, deadline=deadline,
                         purpose=purpose, idempotent=False)


async def delete_block(
    notion: NotionService, block_id: str, *, deadline: float, purpose: str
) -> None:
    """DELETE /v1/blocks/{id}: the block and its children go to the trash."""
    await notion.request("DELETE", f"blocks/{block_id}", deadline=deadline, purpose=purpose)
