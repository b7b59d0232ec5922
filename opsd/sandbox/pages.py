"""The sandbox's page writes: create and update pages in a database, read a page, and list,
append and delete the blocks of its content, as api.notion.com does (`PageWrites`, the
endpoints, mixed into `NotionApi`; `PageContent`, the state).

- `POST /v1/pages`: a row in a database (`parent.database_id`; from 2025-09-03 also
  `parent.data_source_id`, and a database only when it has one data source) with its
  `properties` and optional `children` (at most 100). The page joins its data source, so
  queries (a filter on its title) find it.
- `PATCH /v1/pages/{id}`: `properties`, and `archived` / `in_trash` to move it to the trash
  (queries stop finding it) and back.
- `GET /v1/pages/{id}`; `GET /v1/blocks/{id}/children` (`page_size` up to 100,
  `start_cursor`); `PATCH /v1/blocks/{id}/children` (append `children`, at most 100);
  `DELETE /v1/blocks/{id}` (a block, or a page, to the trash).

Every write is a request like any other: it counts against the rate limit and can meet an
injected fault. What a write may carry is checked in `opsd.sandbox.blocks`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opsd.sandbox import blocks, render
from opsd.sandbox.query import paginate, parse_pagination
from opsd.sandbox.responses import Response, json_response, notion_error
from opsd.sandbox.routing import ApiError, not_found, valid_id
from opsd.sandbox.workspace import (
    BOT_ID,
    EMPTY_VALUES,
    Database,
    DataSource,
    Page,
    iso_time,
)

_ARCHIVED = ("Can't edit block that is archived. You must unarchive the block before "
             "editing.")


@dataclass
class Block:
    """One block of a page's content; `parent` is the page's or block's id."""

    id: str
    parent: str
    parent_type: str  # "page_id" or "block_id"
    type: str
    content: dict[str, Any]
    created_time: str
    in_trash: bool = False


@dataclass
class PageContent:
    """Blocks by id, children (block ids, in order) by parent id, and trashed pages."""

    blocks: dict[str, Block] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)
    trashed: dict[str, Page] = field(default_factory=dict)

    def live_children(self, parent: str) -> list[Block]:
        return [self.blocks[i] for i in self.children.get(parent, [])
                if not self.blocks[i].in_trash]


class PageWrites:
    """The page and block endpoints, for `NotionApi` (its state is `databases`, `content`)."""

    databases: dict[str, Database]
    content: PageContent
    _wall_clock: Callable[[], float]

    # -- endpoints ------------------------------------------------------------------------------

    def _create_page(self, version: str, _id: None, body: dict) -> Response:
        ds = self._parent_source(body.get("parent"), version)
        values = {name: EMPTY_VALUES.get(prop["type"]) for name, prop in ds.properties.items()}
        values.update(self._property_values(ds, body.get("properties")))
        children = blocks.check_children(body.get("children", []), "body.children")
        now = self._now()
        page = Page(str(uuid.uuid4()), ds.id, ds.database_id, now, now, BOT_ID, values)
        ds.pages.append(page)
        self._store_children(page.id, "page_id", children)
        return json_response(render.page_object(page, ds, version))

    def _get_page(self, version: str, raw_id: str, _body: dict) -> Response:
        page, ds = self._page(valid_id(raw_id, "page_id"))
        return json_response(self._page_object(page, ds, version))

    def _update_page(self, version: str, raw_id: str, body: dict) -> Response:
        page, ds = self._page(valid_id(raw_id, "page_id"))
        trash = body.get("in_trash", body.get("archived"))
        if page.id in self.content.trashed and trash is not False and body.get("properties"):
            raise ApiError(notion_error(400, "validation_error", _ARCHIVED))
        if trash is not None and not isinstance(trash, bool):
            raise blocks.invalid("body failed validation: body.in_trash should be a boolean, "
                                 f"instead was `{trash}`.")
        page.values.update(self._property_values(ds, body.get("properties", {})))
        page.last_edited_time = self._now()
        if trash is not None:
            self._set_trashed(page, ds, trash)
        return json_response(self._page_object(page, ds, version))

    def _list_children(self, version: str, raw_id: str, body: dict) -> Response:
        parent = self._container(valid_id(raw_id, "block_id"))
        listed = self.content.live_children(parent)
        window, cursor = paginate(listed, parse_pagination(body), key=lambda b: b.id)
        return json_response(self._block_list([self._block_object(b) for b in window], cursor))

    def _append_children(self, version: str, raw_id: str, body: dict) -> Response:
        parent = self._container(valid_id(raw_id, "block_id"))
        if parent in self.content.trashed or self._trashed_block(parent):
            raise ApiError(notion_error(400, "validation_error", _ARCHIVED))
        if "children" not in body:
            raise blocks.invalid("body failed validation: body.children should be defined, "
                                 "instead was `undefined`.")
        requested = blocks.check_children(body["children"], "body.children")
        kind = "block_id" if parent in self.content.blocks else "page_id"
        added = self._store_children(parent, kind, requested)
        return json_response(self._block_list([self._block_object(b) for b in added], None))

    def _delete_block(self, version: str, raw_id: str, _body: dict) -> Response:
        object_id = valid_id(raw_id, "block_id")
        block = self.content.blocks.get(object_id)
        if block is None:
            page, ds = self._page(object_id)
            if page.id in self.content.trashed:
                raise ApiError(notion_error(400, "validation_error", _ARCHIVED))
            self._set_trashed(page, ds, True)
            return json_response(self._page_block(page, ds, version))
        if block.in_trash:
            raise ApiError(notion_error(400, "validation_error", _ARCHIVED))
        block.in_trash = True
        return json_response(self._block_object(block))

    # -- state ----------------------------------------------------------------------------------

    def _now(self) -> str:
        return iso_time(dt.datetime.fromtimestamp(self._wall_clock(), dt.UTC))

    def _parent_source(self, parent: Any, version: str) -> DataSource:
        """The data source a new page goes to, named by `parent`."""
        if not isinstance(parent, dict):
            raise blocks.invalid("body failed validation: body.parent should be defined, "
                                 "instead was `undefined`.")
        if "data_source_id" in parent and render.has_data_sources(version):
            ds_id = valid_id(str(parent["data_source_id"]), "parent.data_source_id")
            for db in self._shared():
                for ds in db.data_sources:
                    if ds.id == ds_id and ds.shared and not db.linked:
                        return ds
            raise ApiError(not_found("data source", ds_id))
        if "database_id" not in parent:
            raise blocks.invalid("body failed validation: body.parent.database_id should be "
                                 "defined, instead was `undefined`. (The sandbox creates pages "
                                 "in databases only.)")
        db_id = valid_id(str(parent["database_id"]), "parent.database_id")
        database = self.databases.get(db_id)
        if database is None or not database.shared:
            raise ApiError(not_found("database", db_id))
        if len(database.data_sources) != 1:
            raise blocks.invalid(
                f"Database with ID {db_id} has {len(database.data_sources)} data sources: "
                "name one as the parent (`data_source_id`, Notion-Version 2025-09-03).")
        return database.data_sources[0]

    def _property_values(self, ds: DataSource, requested: Any) -> dict[str, Any]:
        if requested is None:
            return {}
        if not isinstance(requested, dict):
            raise blocks.invalid("body failed validation: body.properties should be an object.")
        values = {}
        for key, value in requested.items():
            prop = ds.properties.get(key) or next(
                (p for p in ds.properties.values() if p["id"] == key), None)
            if prop is None:
                raise blocks.invalid(f"{key} is not a property that exists.")
            values[prop["name"]] = blocks.property_value(
                prop, value, f"body.properties.{key}")
        return values

    def _shared(self) -> list[Database]:
        return [db for db in self.databases.values() if db.shared]

    def _page(self, page_id: str) -> tuple[Page, DataSource]:
        for db in self._shared():
            for ds in db.data_sources:
                if not ds.shared:
                    continue
                for page in ds.pages:
                    if page.id == page_id:
                        return page, ds
                trashed = self.content.trashed.get(page_id)
                if trashed is not None and trashed.data_source_id == ds.id:
                    return trashed, ds
        raise ApiError(not_found("page", page_id))

    def _container(self, object_id: str) -> str:
        """`object_id` if it is a block or a page that holds blocks."""
        if object_id in self.content.blocks:
            return object_id
        try:
            self._page(object_id)
        except ApiError:
            raise ApiError(not_found("block", object_id)) from None
        return object_id

    def _trashed_block(self, object_id: str) -> bool:
        block = self.content.blocks.get(object_id)
        return block is not None and block.in_trash

    def _set_trashed(self, page: Page, ds: DataSource, trashed: bool) -> None:
        if trashed and page.id not in self.content.trashed:
            ds.pages.remove(page)
            self.content.trashed[page.id] = page
        elif not trashed and page.id in self.content.trashed:
            ds.pages.append(self.content.trashed.pop(page.id))

    def _store_children(
        self, parent: str, parent_type: str, requested: list[dict[str, Any]]
    ) -> list[Block]:
        now = self._now()
        added = []
        for item in requested:
            block = Block(str(uuid.uuid4()), parent, parent_type, item["type"], item["content"],
                          now)
            self.content.blocks[block.id] = block
            self.content.children.setdefault(parent, []).append(block.id)
            self._store_children(block.id, "block_id", item["children"])
            added.append(block)
        return added

    # -- rendering ------------------------------------------------------------------------------

    def _page_object(self, page: Page, ds: DataSource, version: str) -> dict[str, Any]:
        body = render.page_object(page, ds, version)
        trashed = page.id in self.content.trashed
        body["in_trash"] = trashed
        if "archived" in body:
            body["archived"] = trashed
        return body

    def _page_block(self, page: Page, ds: DataSource, version: str) -> dict[str, Any]:
        """A page as `DELETE /v1/blocks/{id}` answers for it: a `child_page` block."""
        title = next((v for n, v in page.values.items()
                      if ds.properties.get(n, {}).get("type") == "title"), "")
        return render.trash_fields({
            "object": "block", "id": page.id, "type": "child_page",
            "child_page": {"title": title}, "created_time": page.created_time,
            "last_edited_time": page.last_edited_time, "has_children": bool(
                self.content.live_children(page.id)),
            "archived": True, "in_trash": True,
        }, version)

    def _block_object(self, block: Block) -> dict[str, Any]:
        user = render.partial_user(BOT_ID)
        return {
            "object": "block", "id": block.id,
            "parent": {"type": block.parent_type, block.parent_type: block.parent},
            "created_time": block.created_time, "last_edited_time": block.created_time,
            "created_by": user, "last_edited_by": user,
            "has_children": bool(self.content.live_children(block.id)),
            "archived": block.in_trash, "in_trash": block.in_trash,
            "type": block.type, block.type: block.content,
        }

    @staticmethod
    def _block_list(results: list[dict[str, Any]], cursor: str | None) -> dict[str, Any]:
        return {"object": "list", "results": results, "next_cursor": cursor,
                "has_more": cursor is not None, "type": "block", "block": {}}
